-- The stored checkpoint of one source.
SELECT [checkpoint], [since] FROM [{schema}].[checkpoints] WHERE [source] = @P1
