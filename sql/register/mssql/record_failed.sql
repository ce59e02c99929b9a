-- A failed document; known or not, its attempts count up.
MERGE [{schema}].[documents] AS t
USING (SELECT @P1 AS [reference]) AS s ON t.[reference] = s.[reference]
WHEN MATCHED THEN UPDATE SET [state] = 'failed', [attempts] = t.[attempts] + 1, [last_error] = @P6,
    [order_number] = COALESCE(@P5, t.[order_number]), [updated_at] = @P7
WHEN NOT MATCHED THEN INSERT ([reference], [kind], [number], [doc_date], [order_number], [state],
    [attempts], [last_error], [first_seen_at], [updated_at])
    VALUES (@P1, @P2, @P3, @P4, @P5, 'failed', 1, @P6, @P7, @P7);
