-- Work orders dated on or after @P1 whose row, or whose СводныйРемонтныйЗаказ (customer, car,
-- phone, booking link live there), got a row version in (@P2, @P3): after the previous
-- checkpoint and below this cycle's MIN_ACTIVE_ROWVERSION().
d._Date_Time >= @P1
AND (
    (d._Version > @P2 AND d._Version < @P3)
    OR EXISTS (
        SELECT 1 FROM {{Документ.СводныйРемонтныйЗаказ}} s
        WHERE {{is_ref(d, Документ.ЗаказНаряд.СводныйРемонтныйЗаказ, Документ.СводныйРемонтныйЗаказ, s._IDRRef)}}
          AND s._Version > @P2 AND s._Version < @P3
    )
)
