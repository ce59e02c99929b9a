-- Finished runs per outcome and whole-second duration (`/metrics`).
SELECT outcome, CAST(ROUND(EXTRACT(EPOCH FROM finished_at - started_at)) AS bigint), COUNT(*)
    FROM runs
     WHERE outcome <> 'running' GROUP BY 1, 2 ORDER BY 1, 2
