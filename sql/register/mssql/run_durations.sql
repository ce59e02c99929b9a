-- Finished runs per outcome and whole-second duration (`/metrics`).
SELECT [outcome], CAST(DATEDIFF(ss, [started_at], [finished_at]) AS bigint),
    COUNT_BIG(*)
FROM [{schema}].[runs]
WHERE [outcome] <> 'running'
GROUP BY [outcome], DATEDIFF(ss, [started_at], [finished_at])
ORDER BY 1, 2
