-- Every document dated on or after $1 (the first read).
d._date_time >= $1
