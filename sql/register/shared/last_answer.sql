-- The last answer the send log holds for one document's request.
SELECT at, endpoint, outcome, detail FROM send_log
     WHERE reference = $1 ORDER BY id DESC LIMIT 1
