-- Takes the run lock: a session advisory lock on hashtext(schema), released by the server
-- when the connection ends.
SELECT pg_try_advisory_lock(hashtext($1))
