-- Альфа-Авто 5.x, Документ.ЗаказНаряд: one row per work order with every snapshot field.
-- The work order carries its own Заказчик and Автомобиль (composite, as on the booking) and
-- links to the booking through ДокументОснование; it has no phone or e-mail of its own.
SELECT
    d._idrref AS reference,
    d._number::text AS number,
    d._date_time AS date,
    d._marked AS deletion_mark,
    NULL::integer AS state_order,
    state._description::text AS state_name,
    CASE WHEN last_state.state = d.{{Документ.ЗаказНаряд.Состояние}} THEN last_state.period END AS state_journal_at,
    d.{{Документ.ЗаказНаряд.ДатаЗакрытия}} AS closed_at,
    d.{{Документ.ЗаказНаряд.СуммаДокумента}}::text AS sum,
    manager._description::text AS manager,
    programme._description::text AS marketing_programme,
    d.{{Документ.ЗаказНаряд.ПричинаОбращения}}::text AS contact_reason,
    NULL::text AS own_phone,
    NULL::text AS own_email,
    contacts.kinds AS contact_kinds,
    contacts.texts AS contact_texts,
    COALESCE(make._description, model_make._description)::text AS car_make,
    COALESCE(
        model._description::text,
        CASE WHEN d.{{Документ.ЗаказНаряд.Автомобиль:type}} = '\x05'::bytea
            THEN d.{{Документ.ЗаказНаряд.Автомобиль:string}}::text END
    ) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    booking._idrref AS booking_reference,
    booking._number::text AS booking_number,
    booking._date_time AS booking_date
FROM {{Документ.ЗаказНаряд}} d
LEFT JOIN {{Справочник.ВидыСостоянийЗаказНарядов}} state
    ON state._idrref = d.{{Документ.ЗаказНаряд.Состояние}}
-- The latest state-journal record; it dates the current state only if it holds that state.
LEFT JOIN LATERAL (
    SELECT j._period AS period, j.{{РегистрСведений.ЖурналСостояний.Состояние}} AS state
    FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE j.{{РегистрСведений.ЖурналСостояний.Объект:rrref}} = d._idrref
    ORDER BY j._period DESC, (j.{{РегистрСведений.ЖурналСостояний.Состояние}} = d.{{Документ.ЗаказНаряд.Состояние}}) DESC
    LIMIT 1
) last_state ON true
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._idrref = d.{{Документ.ЗаказНаряд.Менеджер}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = d.{{Документ.ЗаказНаряд.МаркетинговаяПрограмма}}
-- ДокументОснование is composite; joining the booking table by reference keeps only bookings.
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._idrref = d.{{Документ.ЗаказНаряд.ДокументОснование:rrref}}
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS kinds,
        array_agg(ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS texts
    FROM {{РегистрСведений.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = ci.{{РегистрСведений.КонтактнаяИнформация.Тип}}
    WHERE ci.{{РегистрСведений.КонтактнаяИнформация.Объект:rrref}} = d.{{Документ.ЗаказНаряд.Заказчик:rrref}}
) contacts ON true
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._idrref = d.{{Документ.ЗаказНаряд.Автомобиль:rrref}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._idrref = COALESCE(car.{{Справочник.Автомобили.Модель}}, d.{{Документ.ЗаказНаряд.Автомобиль:rrref}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._idrref = car.{{Справочник.Автомобили.Марка}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._idrref = model.{{Справочник.Модели.Марка}}
