-- Creates the register schema; alone in its batch.
CREATE SCHEMA [{schema}]
