-- A deal keeps the account it was created in: `account` is written only by the insert.
INSERT INTO deals (order_number, root_ref, driver_ref,
         driver_kind, status, revenue, manager, calltouch_id, created_at, updated_at, account)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
     ON CONFLICT (order_number) DO UPDATE SET driver_ref = excluded.driver_ref,
         driver_kind = excluded.driver_kind, status = excluded.status,
         revenue = excluded.revenue, manager = excluded.manager,
         calltouch_id = COALESCE(excluded.calltouch_id, deals.calltouch_id),
         updated_at = excluded.updated_at
