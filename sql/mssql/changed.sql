-- Documents dated on or after @P1 whose row got a row version in (@P2, @P3): after the
-- previous checkpoint and below this cycle's MIN_ACTIVE_ROWVERSION(). Bookings of both
-- editions and 5.x work orders (their customer and car are on the document itself).
d._Date_Time >= @P1 AND d._Version > @P2 AND d._Version < @P3
