-- Forgets the checkpoint; the next cycle reads from `since` (or the start date).
INSERT INTO checkpoints (source, checkpoint, since, updated_at) VALUES ($1, NULL, $2, $3)
     ON CONFLICT (source) DO UPDATE SET checkpoint = NULL, since = excluded.since,
         updated_at = excluded.updated_at
