-- A document that needs nothing sent, or is deliberately skipped.
UPDATE documents SET state = $2, attempts = 0, last_error = $3,
         updated_at = $4
     WHERE reference = $1
