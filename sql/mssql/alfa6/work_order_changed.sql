-- Work orders dated on or after @P1 whose row, or whose СводныйРемонтныйЗаказ (customer, car,
-- phone, booking link live there), got a row version in (@P2, @P3): after the previous
-- checkpoint and below this cycle's MIN_ACTIVE_ROWVERSION(). The changed summary orders are
-- collected by one uncorrelated sub-select (each table read once, joined by hash or merge),
-- not probed per work order.
d._Date_Time >= @P1
AND (
    (d._Version > @P2 AND d._Version < @P3)
    OR {{ref(d, Документ.ЗаказНаряд.СводныйРемонтныйЗаказ, Документ.СводныйРемонтныйЗаказ)}} IN (
        SELECT s._IDRRef FROM {{Документ.СводныйРемонтныйЗаказ}} s
        WHERE s._Version > @P2 AND s._Version < @P3
    )
)
