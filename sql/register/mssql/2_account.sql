-- Version 2: the Calltouch account of each deal (dealer groups); NULL = `[calltouch]`'s.
ALTER TABLE [{schema}].[deals] ADD [account] nvarchar(128) NULL
