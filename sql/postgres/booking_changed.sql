-- Bookings changed since the snapshot $2, dated on or after $1.
d._date_time >= $1 AND {{changed_since(d, $2)}}
