-- The document as read now; a new one starts pending. Its sync state is set by the statement
-- that follows in the same transaction.
MERGE [{schema}].[documents] AS t
USING (SELECT @P1 AS [reference]) AS s ON t.[reference] = s.[reference]
WHEN MATCHED THEN UPDATE SET [number] = @P3, [doc_date] = @P4,
    [order_number] = COALESCE(@P5, t.[order_number]), [onec_state] = @P6, [state_seen_at] = @P7
WHEN NOT MATCHED THEN INSERT ([reference], [kind], [number], [doc_date], [order_number], [state],
    [onec_state], [state_seen_at], [first_seen_at], [updated_at])
    VALUES (@P1, @P2, @P3, @P4, @P5, 'pending', @P6, @P7, @P8, @P8);
