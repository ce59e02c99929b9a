-- Альфа-Авто 5.x, Документ.ЗаказНаряд: one row per work order with every snapshot field.
-- The work order carries its own Заказчик and Автомобиль (plain references in 5.1, unlike the
-- booking's) and links to the booking through ДокументОснование; it has no phone or e-mail of
-- its own. References are read with ref(), which follows each attribute's shape in this base's
-- name map, so a base where they are composite reads the same.
SELECT
    d._idrref AS reference,
    d._number::text AS number,
    d._date_time AS date,
    d._marked AS deletion_mark,
    NULL::integer AS state_order,
    state._description::text AS state_name,
    CASE WHEN last_state.state = own.state THEN last_state.period END AS state_journal_at,
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
    COALESCE(model._description::text, ({{string(d, Документ.ЗаказНаряд.Автомобиль)}})::text) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    booking._idrref AS booking_reference,
    booking._number::text AS booking_number,
    booking._date_time AS booking_date,
    department._description::text AS department_name,
    department._code::text AS department_code,
    organisation._description::text AS organisation_name,
    organisation._code::text AS organisation_code
FROM {{Документ.ЗаказНаряд}} d
CROSS JOIN LATERAL (
    SELECT
        {{ref(d, Документ.ЗаказНаряд.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} AS state,
        {{ref(d, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты)}} AS customer
) own
LEFT JOIN {{Справочник.ВидыСостоянийЗаказНарядов}} state
    ON state._idrref = own.state
-- The latest state-journal record of a work-order state (records of a work sheet's status or
-- an event's state are not the work order's); it dates the current state only if it holds it.
LEFT JOIN LATERAL (
    SELECT j._period AS period, {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} AS state
    FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE {{is_ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд, d._idrref)}}
      AND {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} IS NOT NULL
    ORDER BY j._period DESC, ({{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} = own.state) DESC
    LIMIT 1
) last_state ON true
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._idrref = {{ref(d, Документ.ЗаказНаряд.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = {{ref(d, Документ.ЗаказНаряд.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._idrref = {{ref(d, Документ.ЗаказНаряд.ДокументОснование, Документ.ЗаявкаНаРемонт)}}
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS kinds,
        array_agg(ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS texts
    FROM {{РегистрСведений.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = {{ref(ci, РегистрСведений.КонтактнаяИнформация.Тип, Перечисление.ТипыКонтактнойИнформации)}}
    WHERE {{is_ref(ci, РегистрСведений.КонтактнаяИнформация.Объект, Справочник.Контрагенты, own.customer)}}
) contacts ON true
-- Автомобиль: a car, or where a base allows it a model or a string (above).
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._idrref = {{ref(d, Документ.ЗаказНаряд.Автомобиль, Справочник.Автомобили)}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._idrref = COALESCE({{ref(car, Справочник.Автомобили.Модель, Справочник.Модели)}}, {{ref(d, Документ.ЗаказНаряд.Автомобиль, Справочник.Модели)}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._idrref = {{ref(car, Справочник.Автомобили.Марка, Справочник.Марки)}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._idrref = {{ref(model, Справочник.Модели.Марка, Справочник.Марки)}}
-- The department and organisation choose the Calltouch account (dealer groups).
LEFT JOIN {{Справочник.ПодразделенияКомпании}} department
    ON department._idrref = {{ref(d, Документ.ЗаказНаряд.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._idrref = {{ref(d, Документ.ЗаказНаряд.Организация, Справочник.Организации)}}
