-- Puts the failed or waiting documents with this number back in line (`register retry`).
UPDATE [{schema}].[documents] SET [state] = 'pending', [attempts] = 0,
    [last_error] = 're-queued by register retry', [updated_at] = @P2
WHERE [number] = @P1 AND [state] IN ('failed', 'pending')
