-- One request sent and Calltouch's answer.
INSERT INTO [{schema}].[send_log] ([at], [endpoint], [order_number], [reference], [request],
    [outcome], [detail])
VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7)
