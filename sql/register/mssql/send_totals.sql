-- The send log per endpoint and outcome (`/metrics`).
SELECT [endpoint], [outcome], COUNT_BIG(*) FROM [{schema}].[send_log]
GROUP BY [endpoint], [outcome] ORDER BY 1, 2
