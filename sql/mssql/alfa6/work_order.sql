-- Альфа-Авто 6.x, Документ.ЗаказНаряд on MS SQL: one row per work order with every snapshot
-- field. A 6.x work order has no header customer or car: they, the phone, the e-mail and the
-- link to the booking live on its Документ.СводныйРемонтныйЗаказ.
SELECT
    d._IDRRef AS reference,
    RTRIM(d._Number) AS number,
    d._Date_Time AS [date],
    d._Marked AS deletion_mark,
    CAST(NULL AS int) AS state_order,
    RTRIM([state]._Description) AS state_name,
    CASE WHEN last_state.[state] = d.{{Документ.ЗаказНаряд.Состояние}} THEN last_state.period END AS state_journal_at,
    d.{{Документ.ЗаказНаряд.ДатаЗакрытия}} AS closed_at,
    d.{{ОбщийРеквизит.СуммаДокумента}} AS [sum],
    RTRIM(manager._Description) AS manager,
    RTRIM(programme._Description) AS marketing_programme,
    RTRIM(d.{{Документ.ЗаказНаряд.ОписаниеПричиныОбращения}}) AS contact_reason,
    RTRIM(summary.{{Документ.СводныйРемонтныйЗаказ.ПредставлениеТелефона}}) AS own_phone,
    RTRIM(summary.{{Документ.СводныйРемонтныйЗаказ.АдресЭлектроннойПочты}}) AS own_email,
    (
        SELECT CAST(kind._EnumOrder AS int) AS kind,
            RTRIM(ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Представление}}) AS text
        FROM {{Справочник.Контрагенты.КонтактнаяИнформация}} ci
        JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
            ON kind._IDRRef = ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Тип}}
        WHERE ci.{{Справочник.Контрагенты}}_IDRRef = summary.{{Документ.СводныйРемонтныйЗаказ.Заказчик}}
        ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}
        FOR JSON PATH
    ) AS contacts,
    RTRIM(COALESCE(make._Description, model_make._Description)) AS car_make,
    RTRIM(model._Description) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    booking._IDRRef AS booking_reference,
    RTRIM(booking._Number) AS booking_number,
    booking._Date_Time AS booking_date
FROM {{Документ.ЗаказНаряд}} d
LEFT JOIN {{Справочник.ВидыСостоянийЗаказНарядов}} [state]
    ON [state]._IDRRef = d.{{Документ.ЗаказНаряд.Состояние}}
-- The latest state-journal record; it dates the current state only if it holds that state.
OUTER APPLY (
    SELECT TOP (1) j._Period AS period, j.{{РегистрСведений.ЖурналСостояний.Состояние}} AS [state]
    FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE j.{{РегистрСведений.ЖурналСостояний.Объект:rrref}} = d._IDRRef
    ORDER BY j._Period DESC,
        CASE WHEN j.{{РегистрСведений.ЖурналСостояний.Состояние}} = d.{{Документ.ЗаказНаряд.Состояние}} THEN 1 ELSE 0 END DESC
) last_state
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._IDRRef = d.{{ОбщийРеквизит.Менеджер}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._IDRRef = d.{{Документ.ЗаказНаряд.МаркетинговаяПрограмма}}
LEFT JOIN {{Документ.СводныйРемонтныйЗаказ}} summary
    ON summary._IDRRef = d.{{Документ.ЗаказНаряд.СводныйРемонтныйЗаказ}}
-- ДокументОснование is composite; joining the booking table by reference keeps only bookings
-- (1C references are unique across tables).
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._IDRRef = summary.{{Документ.СводныйРемонтныйЗаказ.ДокументОснование:rrref}}
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._IDRRef = summary.{{Документ.СводныйРемонтныйЗаказ.Автомобиль}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._IDRRef = car.{{Справочник.Автомобили.Модель}}
LEFT JOIN {{Справочник.Марки}} make
    ON make._IDRRef = car.{{Справочник.Автомобили.Марка}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._IDRRef = model.{{Справочник.Модели.Марка}}
