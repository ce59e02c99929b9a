-- Every document dated on or after @P1 (the first read).
d._Date_Time >= @P1
