-- Version 3: the Calltouch account of each deal (dealer groups); NULL = `[calltouch]`'s.
ALTER TABLE deals ADD COLUMN account TEXT;
