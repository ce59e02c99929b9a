-- Records a migration, in the transaction that applied it.
INSERT INTO schema_version (version) VALUES ($1)
