-- Documents per kind, sync state and whether an error is recorded (`/metrics`).
SELECT kind, state,
         CASE WHEN last_error IS NULL THEN 0 ELSE 1 END, COUNT(*)
     FROM documents GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
