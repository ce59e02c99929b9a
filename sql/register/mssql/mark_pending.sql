-- A document about to be sent, or waiting for a later attempt.
UPDATE [{schema}].[documents] SET [state] = 'pending', [last_error] = @P2,
    [attempts] = [attempts] + @P3, [updated_at] = @P4
WHERE [reference] = @P1
