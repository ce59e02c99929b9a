-- The columns `StoredDocument` reads, in its order.
SELECT kind, reference, number, doc_date, order_number,
    state, onec_state, last_status, last_revenue, last_manager, attempts, last_error, updated_at
    FROM documents
