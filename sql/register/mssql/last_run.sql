-- The last run, finished or still running.
SELECT TOP (1) [started_at], [finished_at], [outcome], [summary] FROM [{schema}].[runs]
ORDER BY [id] DESC
