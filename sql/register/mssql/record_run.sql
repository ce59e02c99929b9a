-- How a run ended.
INSERT INTO [{schema}].[runs] ([started_at], [finished_at], [outcome], [summary])
VALUES (@P1, @P2, @P3, @P4)
