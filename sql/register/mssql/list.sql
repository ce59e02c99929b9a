-- The `register` listing; a NULL filter matches every row.
SELECT [kind], [reference], [number], [doc_date], [order_number], [state], [onec_state], [last_status],
    [last_revenue], [last_manager], [attempts], [last_error], [updated_at]
FROM [{schema}].[documents]
WHERE (@P1 IS NULL OR [state] = @P1) AND (@P2 IS NULL OR [kind] = @P2)
  AND (@P3 IS NULL OR [number] = @P3) AND (@P4 IS NULL OR [doc_date] >= @P4)
  AND (@P5 IS NULL OR [doc_date] < @P5)
  AND (@P6 = 0 OR ([last_error] IS NOT NULL AND [state] IN ('failed', 'pending')))
ORDER BY [updated_at] DESC, [number]
