-- The send log from a time on, per day, endpoint and outcome (the status chart).
SELECT CAST([at] AS date), [endpoint], [outcome], COUNT_BIG(*)
FROM [{schema}].[send_log] WHERE [at] >= @P1
GROUP BY CAST([at] AS date), [endpoint], [outcome] ORDER BY 1, 2, 3
