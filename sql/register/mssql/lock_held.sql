-- The mode of the run lock this session holds: `Exclusive` when granted, `NoLock` when another
-- session has it.
SELECT APPLOCK_MODE('public', N'alfa-calltouch {schema}', 'Session')
