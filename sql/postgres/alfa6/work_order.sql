-- Альфа-Авто 6.x, Документ.ЗаказНаряд: one row per work order with every snapshot field.
-- A 6.x work order has no header customer or car: they, the phone, the e-mail and the link to
-- the booking live on its Документ.СводныйРемонтныйЗаказ.
SELECT
    d._idrref AS reference,
    d._number::text AS number,
    d._date_time AS date,
    d._marked AS deletion_mark,
    NULL::integer AS state_order,
    state._description::text AS state_name,
    CASE WHEN last_state.state = d.{{Документ.ЗаказНаряд.Состояние}} THEN last_state.period END AS state_journal_at,
    d.{{Документ.ЗаказНаряд.ДатаЗакрытия}} AS closed_at,
    d.{{ОбщийРеквизит.СуммаДокумента}}::text AS sum,
    manager._description::text AS manager,
    programme._description::text AS marketing_programme,
    d.{{Документ.ЗаказНаряд.ОписаниеПричиныОбращения}}::text AS contact_reason,
    summary.{{Документ.СводныйРемонтныйЗаказ.ПредставлениеТелефона}}::text AS own_phone,
    summary.{{Документ.СводныйРемонтныйЗаказ.АдресЭлектроннойПочты}}::text AS own_email,
    contacts.kinds AS contact_kinds,
    contacts.texts AS contact_texts,
    COALESCE(make._description, model_make._description)::text AS car_make,
    model._description::text AS car_model,
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
    ON manager._idrref = d.{{ОбщийРеквизит.Менеджер}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = d.{{Документ.ЗаказНаряд.МаркетинговаяПрограмма}}
LEFT JOIN {{Документ.СводныйРемонтныйЗаказ}} summary
    ON summary._idrref = d.{{Документ.ЗаказНаряд.СводныйРемонтныйЗаказ}}
-- ДокументОснование is composite; joining the booking table by reference keeps only bookings
-- (1C references are unique across tables).
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._idrref = summary.{{Документ.СводныйРемонтныйЗаказ.ДокументОснование:rrref}}
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}) AS kinds,
        array_agg(ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}) AS texts
    FROM {{Справочник.Контрагенты.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Тип}}
    WHERE ci.{{Справочник.Контрагенты}}_idrref = summary.{{Документ.СводныйРемонтныйЗаказ.Заказчик}}
) contacts ON true
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._idrref = summary.{{Документ.СводныйРемонтныйЗаказ.Автомобиль}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._idrref = car.{{Справочник.Автомобили.Модель}}
LEFT JOIN {{Справочник.Марки}} make
    ON make._idrref = car.{{Справочник.Автомобили.Марка}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._idrref = model.{{Справочник.Модели.Марка}}
