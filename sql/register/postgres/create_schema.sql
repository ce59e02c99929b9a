-- Creates the register's schema; run only when it is missing. {schema} is its name.
CREATE SCHEMA IF NOT EXISTS "{schema}"
