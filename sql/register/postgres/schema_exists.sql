-- Whether the register's schema exists: a row when it does.
SELECT 1 FROM pg_namespace WHERE nspname = $1
