-- Work orders dated on or after @P1 whose row, or whose СводныйРемонтныйЗаказ (customer, car,
-- phone, booking link live there), got a row version in (@P2, @P3), among candidates found
-- through indexes 1C keeps: work orders dated from the window start @P4 (_ByDocDate) and work
-- orders with a state-journal record from @P4 on (the register's _ByPeriod). The journal has
-- no _Version: 1C writes its records in the transaction that rewrites the work order, so the
-- work order's own version stands for them.
d._Date_Time >= @P1
AND d._IDRRef IN (
    SELECT w._IDRRef FROM {{Документ.ЗаказНаряд}} w
    WHERE w._Date_Time >= @P4
    UNION
    SELECT {{ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд)}} FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE j._Period >= @P4
)
AND (
    (d._Version > @P2 AND d._Version < @P3)
    OR {{ref(d, Документ.ЗаказНаряд.СводныйРемонтныйЗаказ, Документ.СводныйРемонтныйЗаказ)}} IN (
        SELECT s._IDRRef FROM {{Документ.СводныйРемонтныйЗаказ}} s
        WHERE s._Version > @P2 AND s._Version < @P3
    )
)
