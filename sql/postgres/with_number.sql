-- Documents with the number $1 (trimmed; mchar pads with spaces).
btrim(d._number::text) = $1
