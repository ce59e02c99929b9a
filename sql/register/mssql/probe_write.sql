-- A write that changes nothing, rolled back (`check`).
BEGIN TRANSACTION;
UPDATE [{schema}].[checkpoints] SET [source] = [source] WHERE 1 = 0;
ROLLBACK TRANSACTION
