-- The document as read now; a new one starts pending. Its sync state is set by the statement
-- that follows in the same transaction.
INSERT INTO documents (reference, kind, number, doc_date,
         order_number, state, onec_state, state_seen_at, first_seen_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8)
     ON CONFLICT (reference) DO UPDATE SET number = excluded.number,
         doc_date = excluded.doc_date,
         order_number = COALESCE(excluded.order_number, documents.order_number),
         onec_state = excluded.onec_state, state_seen_at = excluded.state_seen_at
