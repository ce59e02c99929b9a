-- The stored checkpoint of one source.
SELECT checkpoint, since FROM checkpoints WHERE source = $1
