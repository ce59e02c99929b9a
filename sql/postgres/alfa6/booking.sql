-- Альфа-Авто 6.x, Документ.ЗаявкаНаРемонт: one row per booking with every snapshot field.
-- The caller appends `WHERE <filter on alias d>` and the order. Columns are the same in every
-- document query so that one decoder reads them all. References are read with ref(): the SQL
-- follows each attribute's shape in this base's name map (plain or composite).
SELECT
    d._idrref AS reference,
    d._number::text AS number,
    d._date_time AS date,
    d._marked AS deletion_mark,
    state._enumorder::integer AS state_order,
    NULL::text AS state_name,
    NULL::timestamp AS state_journal_at,
    NULL::timestamp AS closed_at,
    d.{{ОбщийРеквизит.СуммаДокумента}}::text AS sum,
    manager._description::text AS manager,
    programme._description::text AS marketing_programme,
    d.{{Документ.ЗаявкаНаРемонт.ОписаниеПричиныОбращения}}::text AS contact_reason,
    d.{{Документ.ЗаявкаНаРемонт.ПредставлениеТелефона}}::text AS own_phone,
    d.{{Документ.ЗаявкаНаРемонт.АдресЭлектроннойПочты}}::text AS own_email,
    contacts.kinds AS contact_kinds,
    contacts.texts AS contact_texts,
    COALESCE(make._description, model_make._description)::text AS car_make,
    COALESCE(model._description::text, ({{string(d, Документ.ЗаявкаНаРемонт.Автомобиль)}})::text) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    NULL::bytea AS booking_reference,
    NULL::text AS booking_number,
    NULL::timestamp AS booking_date,
    department._description::text AS department_name,
    department._code::text AS department_code,
    organisation._description::text AS organisation_name,
    organisation._code::text AS organisation_code
FROM {{Документ.ЗаявкаНаРемонт}} d
LEFT JOIN {{Перечисление.СостояниеЗаявкиНаРемонт}} state
    ON state._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.Состояние, Перечисление.СостояниеЗаявкиНаРемонт)}}
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._idrref = {{ref(d, ОбщийРеквизит.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
-- The customer's contact information (BSP tabular part), in line order.
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}) AS kinds,
        array_agg(ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}) AS texts
    FROM {{Справочник.Контрагенты.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = {{ref(ci, Справочник.Контрагенты.КонтактнаяИнформация.Тип, Перечисление.ТипыКонтактнойИнформации)}}
    WHERE ci.{{Справочник.Контрагенты}}_idrref = {{ref(d, Документ.ЗаявкаНаРемонт.Заказчик, Справочник.Контрагенты)}}
) contacts ON true
-- Автомобиль is a car, or where a base allows it a model or a string (above).
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.Автомобиль, Справочник.Автомобили)}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._idrref = COALESCE({{ref(car, Справочник.Автомобили.Модель, Справочник.Модели)}}, {{ref(d, Документ.ЗаявкаНаРемонт.Автомобиль, Справочник.Модели)}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._idrref = {{ref(car, Справочник.Автомобили.Марка, Справочник.Марки)}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._idrref = {{ref(model, Справочник.Модели.Марка, Справочник.Марки)}}
-- The department and organisation choose the Calltouch account (dealer groups).
LEFT JOIN {{Справочник.ПодразделенияКомпании}} department
    ON department._idrref = {{ref(d, ОбщийРеквизит.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._idrref = {{ref(d, ОбщийРеквизит.Организация, Справочник.Организации)}}
