-- How a run ended.
INSERT INTO runs (started_at, finished_at, outcome, summary) VALUES ($1, $2, $3, $4)
