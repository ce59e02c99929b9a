-- The view administrators read (for example in 1C through an external data source): one row
-- per document with readable column names.
CREATE VIEW register_view AS
    SELECT CASE d.kind WHEN 'booking' THEN 'Заявка на ремонт'
                       WHEN 'work_order' THEN 'Заказ-наряд' ELSE d.kind END AS document,
           d.number AS number,
           d.doc_date AS document_date,
           d.order_number AS deal,
           d.state AS state,
           d.last_status AS last_status,
           d.last_error AS last_error,
           d.attempts AS attempts,
           d.updated_at AS updated,
           d.reference AS reference
    FROM documents d
