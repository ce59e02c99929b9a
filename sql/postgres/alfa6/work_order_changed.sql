-- Work orders changed since the snapshot $2, dated on or after $1: the row itself, a new
-- state-journal record for it, or a change of its СводныйРемонтныйЗаказ (customer, car,
-- phone, booking link live there).
d._date_time >= $1
AND (
    {{changed_since(d, $2)}}
    OR EXISTS (
        SELECT 1 FROM {{РегистрСведений.ЖурналСостояний}} j
        WHERE {{is_ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд, d._idrref)}}
          AND {{changed_since(j, $2)}}
    )
    OR EXISTS (
        SELECT 1 FROM {{Документ.СводныйРемонтныйЗаказ}} s
        WHERE {{is_ref(d, Документ.ЗаказНаряд.СводныйРемонтныйЗаказ, Документ.СводныйРемонтныйЗаказ, s._idrref)}}
          AND {{changed_since(s, $2)}}
    )
)
