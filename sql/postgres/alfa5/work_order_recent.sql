-- Work orders changed since the snapshot $2, dated on or after $1, among candidates found through
-- indexes 1C keeps: work orders dated from the window start $3 (_ByDocDate) whose row changed,
-- and work orders with a state-journal record from $3 on (the register's _ByPeriod). The
-- candidates are collected once and looked up by reference.
d._date_time >= $1
AND d._idrref = ANY (ARRAY(
    SELECT w._idrref FROM {{Документ.ЗаказНаряд}} w
    WHERE w._date_time >= $3 AND {{changed_since(w, $2)}}
    UNION
    SELECT {{ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд)}} FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE j._period >= $3 AND {{changed_since(j, $2)}}
))
