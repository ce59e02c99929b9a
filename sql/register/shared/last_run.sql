-- The last run, finished or still running.
SELECT started_at, finished_at, outcome, summary FROM runs ORDER BY id DESC LIMIT 1
