-- A write that changes nothing, to prove the file may be written (`check`): takes the write
-- lock and rolls back.
BEGIN IMMEDIATE; UPDATE checkpoints SET source = source WHERE 1 = 0; ROLLBACK;
