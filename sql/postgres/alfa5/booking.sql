-- Альфа-Авто 5.x, Документ.ЗаявкаНаРемонт: one row per booking with every snapshot field.
-- 5.x differs from 6.x: plain (not common) СуммаДокумента and Менеджер, the reason is
-- ПричинаОбращения, the e-mail attribute is spelled АдресЭлектронойПочты, Заказчик is
-- Контрагенты | Строка, Автомобиль is Модели | Строка | Автомобили, and contacts are kept in
-- РегистрСведений.КонтактнаяИнформация.
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
    COALESCE(
        model._description::text,
        CASE WHEN d.{{Документ.ЗаявкаНаРемонт.Автомобиль:type}} = '\x05'::bytea
            THEN d.{{Документ.ЗаявкаНаРемонт.Автомобиль:string}}::text END
    ) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    NULL::bytea AS booking_reference,
    NULL::text AS booking_number,
    NULL::timestamp AS booking_date
FROM {{Документ.ЗаявкаНаРемонт}} d
LEFT JOIN {{Перечисление.СостоянияЗаявкиНаРемонт}} state
    ON state._idrref = d.{{Документ.ЗаявкаНаРемонт.Состояние}}
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._idrref = d.{{Документ.ЗаявкаНаРемонт.Менеджер}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._idrref = d.{{Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма}}
-- The customer's contact information; a customer typed as a string has none.
LEFT JOIN LATERAL (
    SELECT
        array_agg(kind._enumorder::integer ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS kinds,
        array_agg(ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}::text) AS texts
    FROM {{РегистрСведений.КонтактнаяИнформация}} ci
    JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
        ON kind._idrref = ci.{{РегистрСведений.КонтактнаяИнформация.Тип}}
    WHERE ci.{{РегистрСведений.КонтактнаяИнформация.Объект:rrref}} = d.{{Документ.ЗаявкаНаРемонт.Заказчик:rrref}}
) contacts ON true
-- Автомобиль is a car or a model (or a string, above); references are unique across tables,
-- so each join matches only its own kind.
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._idrref = d.{{Документ.ЗаявкаНаРемонт.Автомобиль:rrref}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._idrref = COALESCE(car.{{Справочник.Автомобили.Модель}}, d.{{Документ.ЗаявкаНаРемонт.Автомобиль:rrref}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._idrref = car.{{Справочник.Автомобили.Марка}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._idrref = model.{{Справочник.Модели.Марка}}
