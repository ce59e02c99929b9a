-- The table that records which migrations the schema has had.
CREATE TABLE [{schema}].[schema_version] (
    [version]     int NOT NULL PRIMARY KEY,
    [applied_at]  datetime2(0) NOT NULL DEFAULT SYSDATETIME()
)
