-- A deal keeps the account it was created in: `account` is written only by the insert.
MERGE [{schema}].[deals] AS t
USING (SELECT @P1 AS [order_number]) AS s ON t.[order_number] = s.[order_number]
WHEN MATCHED THEN UPDATE SET [driver_ref] = @P3, [driver_kind] = @P4, [status] = @P5,
    [revenue] = @P6, [manager] = @P7, [calltouch_id] = COALESCE(@P8, t.[calltouch_id]),
    [updated_at] = @P9
WHEN NOT MATCHED THEN INSERT ([order_number], [root_ref], [driver_ref], [driver_kind], [status],
    [revenue], [manager], [calltouch_id], [created_at], [updated_at], [account])
    VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9, @P9, @P10);
