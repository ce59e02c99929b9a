-- The read's position, taken once per cycle before the document queries: every row version
-- below MIN_ACTIVE_ROWVERSION() belongs to a committed transaction (unlike @@DBTS, which can
-- be ahead of rows still being written), and the server's local time.
SELECT MIN_ACTIVE_ROWVERSION() AS upper_bound, SYSDATETIME() AS read_at
