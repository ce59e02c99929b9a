-- The session holding the run's advisory lock on hashtext($1), for the message a second run
-- prints.
SELECT a.application_name, COALESCE(host(a.client_addr), 'local'),
        to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS')
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.objid = (hashtext($1)::bigint & 4294967295)::oid
