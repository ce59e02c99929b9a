-- Work orders changed since the snapshot $2, dated on or after $1: the row itself or a new
-- state-journal record for it.
d._date_time >= $1
AND (
    {{changed_since(d, $2)}}
    OR EXISTS (
        SELECT 1 FROM {{РегистрСведений.ЖурналСостояний}} j
        WHERE {{is_ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд, d._idrref)}}
          AND {{changed_since(j, $2)}}
    )
)
