-- A document whose request Calltouch accepted, with the values it accepted.
UPDATE [{schema}].[documents] SET [state] = 'sent', [attempts] = 0, [last_error] = NULL,
    [last_status] = @P2, [last_revenue] = @P3, [last_manager] = @P4, [updated_at] = @P5
WHERE [reference] = @P1
