-- A document whose request Calltouch accepted, with the values it accepted.
UPDATE documents SET state = 'sent', attempts = 0,
         last_error = NULL, last_status = $2, last_revenue = $3, last_manager = $4,
         updated_at = $5
     WHERE reference = $1
