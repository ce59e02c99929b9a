-- Keeps two processes opening a new register from both migrating it; held until the
-- migration's transaction ends.
SELECT pg_advisory_xact_lock(hashtext($1 || ' migration'))
