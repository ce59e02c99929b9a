-- The schema's version: the highest migration it has had.
SELECT COALESCE(MAX(version), 0) FROM schema_version
