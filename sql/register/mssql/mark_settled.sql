-- A document that needs nothing sent, or is deliberately skipped.
UPDATE [{schema}].[documents] SET [state] = @P2, [attempts] = 0, [last_error] = @P3,
    [updated_at] = @P4
WHERE [reference] = @P1
