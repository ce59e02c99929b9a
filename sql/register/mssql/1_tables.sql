-- Version 1: the tables, as on PostgreSQL. Each statement is its own batch, separated by a
-- line `GO` as in SQL Server's tools; `{schema}` is the register's schema.
CREATE TABLE [{schema}].[documents] (
    [reference]      nvarchar(36) NOT NULL PRIMARY KEY,
    [kind]           nvarchar(16) NOT NULL,
    [number]         nvarchar(64) NOT NULL,
    [doc_date]       datetime2(0) NOT NULL,
    [order_number]   nvarchar(128) NULL,
    [state]          nvarchar(16) NOT NULL,
    [onec_state]     nvarchar(256) NULL,
    [state_seen_at]  datetime2(0) NULL,
    [last_status]    nvarchar(256) NULL,
    [last_revenue]   nvarchar(64) NULL,
    [last_manager]   nvarchar(256) NULL,
    [attempts]       int NOT NULL DEFAULT 0,
    [last_error]     nvarchar(max) NULL,
    [first_seen_at]  datetime2(0) NOT NULL,
    [updated_at]     datetime2(0) NOT NULL
)
GO
CREATE INDEX [documents_by_number] ON [{schema}].[documents] ([number])
GO
CREATE INDEX [documents_by_state] ON [{schema}].[documents] ([state])
GO
CREATE TABLE [{schema}].[deals] (
    [order_number]   nvarchar(128) NOT NULL PRIMARY KEY,
    [root_ref]       nvarchar(36) NOT NULL,
    [driver_ref]     nvarchar(36) NOT NULL,
    [driver_kind]    nvarchar(16) NOT NULL,
    [status]         nvarchar(256) NULL,
    [revenue]        nvarchar(64) NULL,
    [manager]        nvarchar(256) NULL,
    [calltouch_id]   bigint NULL,
    [created_at]     datetime2(0) NOT NULL,
    [updated_at]     datetime2(0) NOT NULL
)
GO
CREATE TABLE [{schema}].[checkpoints] (
    [source]         nvarchar(256) NOT NULL PRIMARY KEY,
    [checkpoint]     nvarchar(max) NULL,
    [since]          date NULL,
    [updated_at]     datetime2(0) NOT NULL
)
GO
CREATE TABLE [{schema}].[send_log] (
    [id]             bigint IDENTITY(1, 1) NOT NULL PRIMARY KEY,
    [at]             datetime2(0) NOT NULL,
    [endpoint]       nvarchar(16) NOT NULL,
    [order_number]   nvarchar(128) NOT NULL,
    [reference]      nvarchar(36) NOT NULL,
    [request]        nvarchar(max) NOT NULL,
    [outcome]        nvarchar(16) NOT NULL,
    [detail]         nvarchar(max) NULL
)
GO
CREATE TABLE [{schema}].[runs] (
    [id]             bigint IDENTITY(1, 1) NOT NULL PRIMARY KEY,
    [started_at]     datetime2(0) NOT NULL,
    [finished_at]    datetime2(0) NOT NULL,
    [outcome]        nvarchar(16) NOT NULL,
    [summary]        nvarchar(max) NOT NULL
)
GO
CREATE VIEW [{schema}].[register_view] AS
    SELECT CASE d.[kind] WHEN 'booking' THEN N'Заявка на ремонт'
                       WHEN 'work_order' THEN N'Заказ-наряд' ELSE d.[kind] END AS [document],
           d.[number] AS [number],
           d.[doc_date] AS [document_date],
           d.[order_number] AS [deal],
           d.[state] AS [state],
           d.[last_status] AS [last_status],
           d.[last_error] AS [last_error],
           d.[attempts] AS [attempts],
           d.[updated_at] AS [updated],
           d.[reference] AS [reference]
    FROM [{schema}].[documents] d
