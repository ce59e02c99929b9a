-- A document about to be sent, or waiting for a later attempt.
UPDATE documents SET state = 'pending', last_error = $2,
         attempts = attempts + $3, updated_at = $4
     WHERE reference = $1
