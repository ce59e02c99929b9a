-- Альфа-Авто 5.x, Документ.ЗаказНаряд on MS SQL: one row per work order with every snapshot
-- field. The work order carries its own Заказчик and Автомобиль (composite, as on the booking)
-- and links to the booking through ДокументОснование; it has no phone or e-mail of its own.
SELECT
    d._IDRRef AS reference,
    RTRIM(d._Number) AS number,
    d._Date_Time AS [date],
    d._Marked AS deletion_mark,
    CAST(NULL AS int) AS state_order,
    RTRIM([state]._Description) AS state_name,
    CASE WHEN last_state.[state] = d.{{Документ.ЗаказНаряд.Состояние}} THEN last_state.period END AS state_journal_at,
    d.{{Документ.ЗаказНаряд.ДатаЗакрытия}} AS closed_at,
    d.{{Документ.ЗаказНаряд.СуммаДокумента}} AS [sum],
    RTRIM(manager._Description) AS manager,
    RTRIM(programme._Description) AS marketing_programme,
    RTRIM(d.{{Документ.ЗаказНаряд.ПричинаОбращения}}) AS contact_reason,
    CAST(NULL AS nvarchar(1)) AS own_phone,
    CAST(NULL AS nvarchar(1)) AS own_email,
    (
        SELECT CAST(kind._EnumOrder AS int) AS kind,
            RTRIM(ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}) AS text
        FROM {{РегистрСведений.КонтактнаяИнформация}} ci
        JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
            ON kind._IDRRef = ci.{{РегистрСведений.КонтактнаяИнформация.Тип}}
        WHERE ci.{{РегистрСведений.КонтактнаяИнформация.Объект:rrref}} = d.{{Документ.ЗаказНаряд.Заказчик:rrref}}
        ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}
        FOR JSON PATH
    ) AS contacts,
    RTRIM(COALESCE(make._Description, model_make._Description)) AS car_make,
    RTRIM(COALESCE(
        model._Description,
        CASE WHEN d.{{Документ.ЗаказНаряд.Автомобиль:type}} = 0x05
            THEN d.{{Документ.ЗаказНаряд.Автомобиль:string}} END
    )) AS car_model,
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
    ON manager._IDRRef = d.{{Документ.ЗаказНаряд.Менеджер}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._IDRRef = d.{{Документ.ЗаказНаряд.МаркетинговаяПрограмма}}
-- ДокументОснование is composite; joining the booking table by reference keeps only bookings.
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._IDRRef = d.{{Документ.ЗаказНаряд.ДокументОснование:rrref}}
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._IDRRef = d.{{Документ.ЗаказНаряд.Автомобиль:rrref}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._IDRRef = COALESCE(car.{{Справочник.Автомобили.Модель}}, d.{{Документ.ЗаказНаряд.Автомобиль:rrref}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._IDRRef = car.{{Справочник.Автомобили.Марка}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._IDRRef = model.{{Справочник.Модели.Марка}}
