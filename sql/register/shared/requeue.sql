-- Puts the failed or waiting documents with this number back in line (`register retry`).
UPDATE documents SET state = 'pending', attempts = 0,
         last_error = 're-queued by register retry', updated_at = $2
     WHERE number = $1 AND state IN ('failed', 'pending')
