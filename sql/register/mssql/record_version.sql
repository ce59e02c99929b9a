-- Records a migration, in the transaction that applied it.
INSERT INTO [{schema}].[schema_version] ([version]) VALUES (@P1)
