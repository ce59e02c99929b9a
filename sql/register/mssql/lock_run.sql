-- Takes the run lock: a session application lock, released by the server when the session ends.
EXEC sp_getapplock @Resource = N'alfa-calltouch {schema}', @LockMode = 'Exclusive',
    @LockOwner = 'Session', @LockTimeout = 0
