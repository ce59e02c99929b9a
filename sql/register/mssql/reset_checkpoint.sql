-- Forgets the checkpoint; the next cycle reads from `since` (or the start date).
MERGE [{schema}].[checkpoints] AS t
USING (SELECT @P1 AS [source]) AS s ON t.[source] = s.[source]
WHEN MATCHED THEN UPDATE SET [checkpoint] = NULL, [since] = @P2, [updated_at] = @P3
WHEN NOT MATCHED THEN INSERT ([source], [checkpoint], [since], [updated_at])
    VALUES (@P1, NULL, @P2, @P3);
