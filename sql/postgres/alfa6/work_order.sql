-- Альфа-Авто 6.x, Документ.ЗаказНаряд: one row per work order with every snapshot field.
-- Customer, car, phone, e-mail and the link to the booking live on the work order's
-- Документ.СводныйРемонтныйЗаказ; a work order without one still has its own Контрагент, whose
-- contact information then gives the phones and e-mails. References are read with ref(), which
-- follows each attribute's shape in this base's name map.
SELECT
    d._idrref AS reference,
    d._number::text AS number,
    d._date_time AS date,
    d._marked AS deletion_mark,
    NULL::integer AS state_order,
    state._description::text AS state_name,
    CASE WHEN last_state.state = own.state THEN last_state.period END AS state_journal_at,
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
    booking._date_time AS booking_date,
    department._description::text AS department_name,
    department._code::text AS department_code,
    organisation._description::text AS organisation_name,
    organisation._code::text AS organisation_code
FROM {{Документ.ЗаказНаряд}} d
LEFT JOIN {{Документ.СводныйРемонтныйЗаказ}} summary
    ON summary._idrref = {{ref(d, Документ.ЗаказНаряд.СводныйРемонтныйЗаказ, Документ.СводныйРемонтныйЗаказ)}}
-- The references the rest reads: the customer of the СводныйРемонтныйЗаказ when there is one,
-- else the work order's own Контрагент.
CROSS JOIN LATERAL (
    SELECT
        {{ref(d, Документ.ЗаказНаряд.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} AS state,
        COALESCE(
            {{ref(summary, Документ.СводныйРемонтныйЗаказ.Заказчик, Справочник.Контрагенты)}},
            {{ref(d, Документ.ЗаказНаряд.Контрагент, Справочник.Контрагенты)}}
        ) AS customer,
        {{ref(summary, Документ.СводныйРемонтныйЗаказ.Автомобиль, Справочник.Автомобили)}} AS car,
        {{ref(summary, Документ.СводныйРемонтныйЗаказ.ДокументОснование, Документ.ЗаявкаНаРемонт)}} AS booking
) own
LEFT JOIN {{Справочник.ВидыСостоянийЗаказНарядов}} state
    ON state._idrref = own.state
-- The latest state-journal record of a work-order state (records of a mailing's state or a work
-- sheet's status are not the work order's); it dates the current state only if it holds it.
LEFT JOIN LATERAL (
    SELECT j._period AS period, {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} AS state
    FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE {{is_ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд, d._idrref)}}
      AND {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} IS NOT NULL
    ORDER BY j._period DESC, ({{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} = own.state) DESC
    LIMIT 1
) last_state ON true
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._idrref = {{ref(d, ОбщийРеквизит.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = {{ref(d, Документ.ЗаказНаряд.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._idrref = own.booking
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}) AS kinds,
        array_agg(ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}) AS texts
    FROM {{Справочник.Контрагенты.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = {{ref(ci, Справочник.Контрагенты.КонтактнаяИнформация.Тип, Перечисление.ТипыКонтактнойИнформации)}}
    WHERE ci.{{Справочник.Контрагенты}}_idrref = own.customer
) contacts ON true
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._idrref = own.car
LEFT JOIN {{Справочник.Модели}} model
    ON model._idrref = {{ref(car, Справочник.Автомобили.Модель, Справочник.Модели)}}
LEFT JOIN {{Справочник.Марки}} make
    ON make._idrref = {{ref(car, Справочник.Автомобили.Марка, Справочник.Марки)}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._idrref = {{ref(model, Справочник.Модели.Марка, Справочник.Марки)}}
-- The department and organisation choose the Calltouch account (dealer groups).
LEFT JOIN {{Справочник.ПодразделенияКомпании}} department
    ON department._idrref = {{ref(d, ОбщийРеквизит.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._idrref = {{ref(d, ОбщийРеквизит.Организация, Справочник.Организации)}}
