-- The schema's version.
SELECT COALESCE(MAX([version]), 0) FROM [{schema}].[schema_version]
