-- The 1C state a document was last seen in, and since when.
SELECT [onec_state], [state_seen_at] FROM [{schema}].[documents] WHERE [reference] = @P1
