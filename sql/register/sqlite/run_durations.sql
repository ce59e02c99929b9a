-- Finished runs per outcome and whole-second duration (`/metrics`). Times are text here:
-- julianday() reads them, in days.
SELECT outcome,
    CAST(ROUND((julianday(finished_at) - julianday(started_at)) * 86400) AS INTEGER), COUNT(*)
    FROM runs
     WHERE outcome <> 'running' GROUP BY 1, 2 ORDER BY 1, 2
