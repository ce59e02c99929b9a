-- A read-only login for alfa-calltouch on the 1C database (run as a server administrator).
-- Replace the names in angle brackets. The tool runs nothing but SELECT.
CREATE LOGIN [alfa_calltouch] WITH PASSWORD = N'<strong password>', CHECK_POLICY = ON;
USE [<1C database>];
CREATE USER [alfa_calltouch] FOR LOGIN [alfa_calltouch];
-- Every table of the 1C database, present and future (1C adds tables on restructuring).
GRANT SELECT ON SCHEMA::dbo TO [alfa_calltouch];
-- sys.databases (the read-committed-snapshot check) is readable by every login for its own
-- database; MIN_ACTIVE_ROWVERSION() needs no grant.
