-- Bookings changed since the snapshot $2, dated on or after the cut-off $1 and the window start
-- $3: a range of the document-date index (_ByDocDate), then the exact snapshot test on it.
d._date_time >= $1 AND d._date_time >= $3 AND {{changed_since(d, $2)}}
