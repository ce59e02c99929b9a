-- Work orders changed since the snapshot $2, dated on or after $1: the row itself, a new
-- state-journal record for it, or a change of its СводныйРемонтныйЗаказ (customer, car,
-- phone, booking link live there). Each table is read once: the journal's and the summary
-- orders' changed rows are collected by the two sub-selects (hashed, probed once per work
-- order), and the snapshot test on every row runs behind the cheap raw-xmin prefilter of
-- changed_since().
d._date_time >= $1
AND (
    {{changed_since(d, $2)}}
    OR d._idrref IN (
        SELECT {{ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд)}}
        FROM {{РегистрСведений.ЖурналСостояний}} j
        WHERE {{changed_since(j, $2)}}
    )
    OR {{ref(d, Документ.ЗаказНаряд.СводныйРемонтныйЗаказ, Документ.СводныйРемонтныйЗаказ)}} IN (
        SELECT s._idrref FROM {{Документ.СводныйРемонтныйЗаказ}} s
        WHERE {{changed_since(s, $2)}}
    )
)
