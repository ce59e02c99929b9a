-- The whole send log, oldest first.
SELECT endpoint, order_number, request, outcome FROM send_log ORDER BY id
