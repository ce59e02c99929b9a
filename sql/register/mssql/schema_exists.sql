-- Whether the register schema exists: NULL when it does not.
SELECT SCHEMA_ID(N'{schema}')
