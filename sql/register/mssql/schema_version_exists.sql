-- Whether the version table exists: NULL when it does not.
SELECT OBJECT_ID(N'[{schema}].schema_version', N'U')
