-- Documents with the number @P1 (trimmed; nchar pads with spaces).
RTRIM(d._Number) = @P1
