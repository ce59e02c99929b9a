-- The last finished runs, newest first (the status page); columns are read by position.
SELECT TOP (@P1) [started_at], [finished_at], [outcome], [summary]
FROM [{schema}].[runs] WHERE [outcome] <> 'running' ORDER BY [id] DESC
