-- The send log from $1 on, per day, endpoint and outcome (the status page's chart).
SELECT CAST(at AS date), endpoint, outcome, COUNT(*) FROM send_log
     WHERE at >= $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
