-- When the last run that did not end in an error finished.
SELECT MAX([finished_at]) FROM [{schema}].[runs] WHERE [outcome] NOT IN ('error', 'running')
