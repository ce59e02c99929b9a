-- The last answer the send log holds for one document's request.
SELECT TOP (1) [at], [endpoint], [outcome], [detail] FROM [{schema}].[send_log]
WHERE [reference] = @P1 ORDER BY [id] DESC
