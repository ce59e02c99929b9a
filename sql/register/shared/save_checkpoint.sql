-- Stores the checkpoint a fully processed read returned.
INSERT INTO checkpoints (source, checkpoint, since, updated_at) VALUES ($1, $2, NULL, $3)
     ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,
         updated_at = excluded.updated_at
