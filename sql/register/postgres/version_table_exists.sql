-- Whether the version table exists yet.
SELECT to_regclass('schema_version') IS NOT NULL
