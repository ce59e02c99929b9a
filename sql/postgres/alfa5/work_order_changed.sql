-- Work orders changed since the snapshot $2, dated on or after $1: the row itself or a new
-- state-journal record for it. Each table is read once: the journal's changed records are
-- collected by the sub-select (hashed, probed once per work order), and the snapshot test on
-- every row runs behind the cheap raw-xmin prefilter of changed_since().
d._date_time >= $1
AND (
    {{changed_since(d, $2)}}
    OR d._idrref IN (
        SELECT {{ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд)}}
        FROM {{РегистрСведений.ЖурналСостояний}} j
        WHERE {{changed_since(j, $2)}}
    )
)
