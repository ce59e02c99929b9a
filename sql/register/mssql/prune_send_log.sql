-- Deletes the send log's rows written before a time (`[register] send_log_days`).
DELETE FROM [{schema}].[send_log] WHERE [at] < @P1
