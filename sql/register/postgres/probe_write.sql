-- A write that changes nothing, run in a transaction that is rolled back (`check`).
UPDATE checkpoints SET source = source WHERE false
