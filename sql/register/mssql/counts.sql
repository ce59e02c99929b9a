-- Documents per sync state.
SELECT [state], COUNT_BIG(*) FROM [{schema}].[documents] GROUP BY [state] ORDER BY [state]
