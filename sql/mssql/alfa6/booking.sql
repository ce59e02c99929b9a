-- Альфа-Авто 6.x, Документ.ЗаявкаНаРемонт on MS SQL: one row per booking with every snapshot
-- field; the same columns as the PostgreSQL query, so one decoder reads both. The caller
-- appends `WHERE <filter on alias d>` and the order. Fixed-length strings are RTRIM'ed,
-- references are binary(16), booleans binary(1), dates datetime2 or datetime with the year
-- offset; the customer's contact information comes as a JSON array (FOR JSON, SQL Server 2016+).
SELECT
    d._IDRRef AS reference,
    RTRIM(d._Number) AS number,
    d._Date_Time AS [date],
    d._Marked AS deletion_mark,
    CAST([state]._EnumOrder AS int) AS state_order,
    CAST(NULL AS nvarchar(150)) AS state_name,
    CAST(NULL AS datetime2(0)) AS state_journal_at,
    CAST(NULL AS datetime2(0)) AS closed_at,
    d.{{ОбщийРеквизит.СуммаДокумента}} AS [sum],
    RTRIM(manager._Description) AS manager,
    RTRIM(programme._Description) AS marketing_programme,
    RTRIM(d.{{Документ.ЗаявкаНаРемонт.ОписаниеПричиныОбращения}}) AS contact_reason,
    RTRIM(d.{{Документ.ЗаявкаНаРемонт.ПредставлениеТелефона}}) AS own_phone,
    RTRIM(d.{{Документ.ЗаявкаНаРемонт.АдресЭлектроннойПочты}}) AS own_email,
    (
        SELECT CAST(kind._EnumOrder AS int) AS kind,
            RTRIM(ci.{{Справочник.Контрагенты.КонтактнаяИнформация.Представление}}) AS text
        FROM {{Справочник.Контрагенты.КонтактнаяИнформация}} ci
        JOIN {{Перечисление.ТипыКонтактнойИнформации}} kind
            ON kind._IDRRef = {{ref(ci, Справочник.Контрагенты.КонтактнаяИнформация.Тип, Перечисление.ТипыКонтактнойИнформации)}}
        WHERE ci.{{Справочник.Контрагенты}}_IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.Заказчик, Справочник.Контрагенты)}}
        ORDER BY ci.{{Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки}}
        FOR JSON PATH
    ) AS contacts,
    RTRIM(COALESCE(make._Description, model_make._Description)) AS car_make,
    RTRIM(COALESCE(model._Description, {{string(d, Документ.ЗаявкаНаРемонт.Автомобиль)}})) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    CAST(NULL AS binary(16)) AS booking_reference,
    CAST(NULL AS nvarchar(11)) AS booking_number,
    CAST(NULL AS datetime2(0)) AS booking_date,
    RTRIM(department._Description) AS department_name,
    RTRIM(CAST(department._Code AS nvarchar(50))) AS department_code,
    RTRIM(organisation._Description) AS organisation_name,
    RTRIM(CAST(organisation._Code AS nvarchar(50))) AS organisation_code
FROM {{Документ.ЗаявкаНаРемонт}} d
LEFT JOIN {{Перечисление.СостояниеЗаявкиНаРемонт}} [state]
    ON [state]._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.Состояние, Перечисление.СостояниеЗаявкиНаРемонт)}}
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._IDRRef = {{ref(d, ОбщийРеквизит.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.Автомобиль, Справочник.Автомобили)}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._IDRRef = COALESCE({{ref(car, Справочник.Автомобили.Модель, Справочник.Модели)}}, {{ref(d, Документ.ЗаявкаНаРемонт.Автомобиль, Справочник.Модели)}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._IDRRef = {{ref(car, Справочник.Автомобили.Марка, Справочник.Марки)}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._IDRRef = {{ref(model, Справочник.Модели.Марка, Справочник.Марки)}}
-- The department and organisation choose the Calltouch account (dealer groups).
LEFT JOIN {{Справочник.ПодразделенияКомпании}} department
    ON department._IDRRef = {{ref(d, ОбщийРеквизит.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._IDRRef = {{ref(d, ОбщийРеквизит.Организация, Справочник.Организации)}}
