-- A deal as Calltouch last accepted it, with its driver document's date.
SELECT d.order_number, d.root_ref, d.driver_ref, d.driver_kind, d.status,
         d.revenue, d.manager, driver.doc_date, d.account
     FROM deals d LEFT JOIN documents driver ON driver.reference = d.driver_ref
     WHERE d.order_number = $1
