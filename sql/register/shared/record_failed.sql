-- A failed document; known or not, its attempts count up.
INSERT INTO documents (reference, kind, number, doc_date,
         order_number, state, attempts, last_error, first_seen_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'failed', 1, $6, $7, $7)
     ON CONFLICT (reference) DO UPDATE SET state = 'failed',
         attempts = documents.attempts + 1, last_error = excluded.last_error,
         order_number = COALESCE(excluded.order_number, documents.order_number),
         updated_at = excluded.updated_at
