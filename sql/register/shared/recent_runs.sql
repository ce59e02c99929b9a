-- Finished runs only: a run records a `running` row when it starts (for `schedule --show`).
SELECT started_at, finished_at, outcome, summary FROM runs
     WHERE outcome <> 'running' ORDER BY id DESC LIMIT $1
