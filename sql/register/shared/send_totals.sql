-- The send log per endpoint and outcome (`/metrics`).
SELECT endpoint, outcome, COUNT(*) FROM send_log
     GROUP BY endpoint, outcome ORDER BY endpoint, outcome
