-- Альфа-Авто 5.x, Документ.ЗаказНаряд on MS SQL: one row per work order with every snapshot
-- field. The work order carries its own Заказчик and Автомобиль (plain references in 5.1, unlike
-- the booking's) and links to the booking through ДокументОснование; it has no phone or e-mail
-- of its own. References are read with ref(), which follows each attribute's shape.
SELECT
    d._IDRRef AS reference,
    RTRIM(d._Number) AS number,
    d._Date_Time AS [date],
    d._Marked AS deletion_mark,
    CAST(NULL AS int) AS state_order,
    RTRIM([state]._Description) AS state_name,
    CASE WHEN last_state.[state] = own.[state] THEN last_state.period END AS state_journal_at,
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
            ON kind._IDRRef = {{ref(ci, РегистрСведений.КонтактнаяИнформация.Тип, Перечисление.ТипыКонтактнойИнформации)}}
        WHERE {{is_ref(ci, РегистрСведений.КонтактнаяИнформация.Объект, Справочник.Контрагенты, own.customer)}}
        ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}
        FOR JSON PATH
    ) AS contacts,
    RTRIM(COALESCE(make._Description, model_make._Description)) AS car_make,
    RTRIM(COALESCE(model._Description, {{string(d, Документ.ЗаказНаряд.Автомобиль)}})) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    booking._IDRRef AS booking_reference,
    RTRIM(booking._Number) AS booking_number,
    booking._Date_Time AS booking_date,
    RTRIM(department._Description) AS department_name,
    RTRIM(CAST(department._Code AS nvarchar(50))) AS department_code,
    RTRIM(organisation._Description) AS organisation_name,
    RTRIM(CAST(organisation._Code AS nvarchar(50))) AS organisation_code
FROM {{Документ.ЗаказНаряд}} d
CROSS APPLY (
    SELECT
        {{ref(d, Документ.ЗаказНаряд.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} AS [state],
        {{ref(d, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты)}} AS customer
) own
LEFT JOIN {{Справочник.ВидыСостоянийЗаказНарядов}} [state]
    ON [state]._IDRRef = own.[state]
-- The latest state-journal record of a work-order state (records of other types are not the
-- work order's); it dates the current state only if it holds that state.
OUTER APPLY (
    SELECT TOP (1) j._Period AS period, {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} AS [state]
    FROM {{РегистрСведений.ЖурналСостояний}} j
    WHERE {{is_ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд, d._IDRRef)}}
      AND {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} IS NOT NULL
    ORDER BY j._Period DESC,
        CASE WHEN {{ref(j, РегистрСведений.ЖурналСостояний.Состояние, Справочник.ВидыСостоянийЗаказНарядов)}} = own.[state] THEN 1 ELSE 0 END DESC
) last_state
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._IDRRef = {{ref(d, Документ.ЗаказНаряд.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._IDRRef = {{ref(d, Документ.ЗаказНаряд.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
LEFT JOIN {{Документ.ЗаявкаНаРемонт}} booking
    ON booking._IDRRef = {{ref(d, Документ.ЗаказНаряд.ДокументОснование, Документ.ЗаявкаНаРемонт)}}
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._IDRRef = {{ref(d, Документ.ЗаказНаряд.Автомобиль, Справочник.Автомобили)}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._IDRRef = COALESCE({{ref(car, Справочник.Автомобили.Модель, Справочник.Модели)}}, {{ref(d, Документ.ЗаказНаряд.Автомобиль, Справочник.Модели)}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._IDRRef = {{ref(car, Справочник.Автомобили.Марка, Справочник.Марки)}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._IDRRef = {{ref(model, Справочник.Модели.Марка, Справочник.Марки)}}
-- The department and organisation choose the Calltouch account (dealer groups).
LEFT JOIN {{Справочник.ПодразделенияКомпании}} department
    ON department._IDRRef = {{ref(d, Документ.ЗаказНаряд.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._IDRRef = {{ref(d, Документ.ЗаказНаряд.Организация, Справочник.Организации)}}
