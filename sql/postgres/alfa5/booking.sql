-- Альфа-Авто 5.x, Документ.ЗаявкаНаРемонт: one row per booking with every snapshot field.
-- 5.x differs from 6.x: plain (not common) СуммаДокумента and Менеджер, the reason is
-- ПричинаОбращения, the e-mail attribute is spelled АдресЭлектронойПочты, Заказчик is
-- Контрагенты | Строка, Автомобиль is Модели | Строка | Автомобили, and contacts are kept in
-- РегистрСведений.КонтактнаяИнформация. References are read with ref(), which follows each
-- attribute's shape in this base's name map (5.1: Заказчик has no _rtref column).
SELECT
    d._idrref AS reference,
    d._number::text AS number,
    d._date_time AS date,
    d._marked AS deletion_mark,
    state._enumorder::integer AS state_order,
    NULL::text AS state_name,
    NULL::timestamp AS state_journal_at,
    NULL::timestamp AS closed_at,
    d.{{Документ.ЗаявкаНаРемонт.СуммаДокумента}}::text AS sum,
    manager._description::text AS manager,
    programme._description::text AS marketing_programme,
    d.{{Документ.ЗаявкаНаРемонт.ПричинаОбращения}}::text AS contact_reason,
    d.{{Документ.ЗаявкаНаРемонт.ПредставлениеТелефона}}::text AS own_phone,
    d.{{Документ.ЗаявкаНаРемонт.АдресЭлектронойПочты}}::text AS own_email,
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
-- The empty reference (a new booking) joins no enum row: the decoder's empty state.
LEFT JOIN {{Перечисление.СостоянияЗаявкиНаРемонт}} state
    ON state._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.Состояние, Перечисление.СостоянияЗаявкиНаРемонт)}}
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
CROSS JOIN LATERAL (
    SELECT {{ref(d, Документ.ЗаявкаНаРемонт.Заказчик, Справочник.Контрагенты)}} AS customer
) own
-- The customer's contact information; a customer typed as a string has none.
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS kinds,
        array_agg(ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS texts
    FROM {{РегистрСведений.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = {{ref(ci, РегистрСведений.КонтактнаяИнформация.Тип, Перечисление.ТипыКонтактнойИнформации)}}
    WHERE {{is_ref(ci, РегистрСведений.КонтактнаяИнформация.Объект, Справочник.Контрагенты, own.customer)}}
) contacts ON true
-- Автомобиль is a car or a model (or a string, above); ref() keeps each join to its own kind.
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
    ON department._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._idrref = {{ref(d, Документ.ЗаявкаНаРемонт.Организация, Справочник.Организации)}}
