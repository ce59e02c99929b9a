-- Bookings dated on or after @P1 and on or after the window start @P4 (a range of the
-- document-date index _ByDocDate) whose row got a row version in (@P2, @P3): after the
-- previous checkpoint and below this cycle's MIN_ACTIVE_ROWVERSION().
d._Date_Time >= @P1 AND d._Date_Time >= @P4 AND d._Version > @P2 AND d._Version < @P3
