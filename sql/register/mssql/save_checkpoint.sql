-- Stores the checkpoint a fully processed read returned.
MERGE [{schema}].[checkpoints] AS t
USING (SELECT @P1 AS [source]) AS s ON t.[source] = s.[source]
WHEN MATCHED THEN UPDATE SET [checkpoint] = @P2, [updated_at] = @P3
WHEN NOT MATCHED THEN INSERT ([source], [checkpoint], [since], [updated_at])
    VALUES (@P1, @P2, NULL, @P3);
