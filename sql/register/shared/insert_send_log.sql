-- One request sent and Calltouch's answer.
INSERT INTO send_log (at, endpoint, order_number, reference,
         request, outcome, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
