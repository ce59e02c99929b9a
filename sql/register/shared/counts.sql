-- Documents per sync state.
SELECT state, COUNT(*) FROM documents GROUP BY state ORDER BY state
