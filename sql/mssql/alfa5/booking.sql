-- Альфа-Авто 5.x, Документ.ЗаявкаНаРемонт on MS SQL: one row per booking with every snapshot
-- field (the columns of the PostgreSQL query; see alfa6/booking.sql for the value rules).
-- 5.x differs from 6.x: plain (not common) СуммаДокумента and Менеджер, the reason is
-- ПричинаОбращения, the e-mail attribute is spelled АдресЭлектронойПочты, Заказчик is
-- Контрагенты | Строка, Автомобиль is Модели | Строка | Автомобили, and contacts are kept in
-- РегистрСведений.КонтактнаяИнформация.
SELECT
    d._IDRRef AS reference,
    RTRIM(d._Number) AS number,
    d._Date_Time AS [date],
    d._Marked AS deletion_mark,
    CAST([state]._EnumOrder AS int) AS state_order,
    CAST(NULL AS nvarchar(150)) AS state_name,
    CAST(NULL AS datetime2(0)) AS state_journal_at,
    CAST(NULL AS datetime2(0)) AS closed_at,
    d.{{Документ.ЗаявкаНаРемонт.СуммаДокумента}} AS [sum],
    RTRIM(manager._Description) AS manager,
    RTRIM(programme._Description) AS marketing_programme,
    RTRIM(d.{{Документ.ЗаявкаНаРемонт.ПричинаОбращения}}) AS contact_reason,
    RTRIM(d.{{Документ.ЗаявкаНаРемонт.ПредставлениеТелефона}}) AS own_phone,
    RTRIM(d.{{Документ.ЗаявкаНаРемонт.АдресЭлектронойПочты}}) AS own_email,
    -- The customer's contact information; a customer typed as a string has none.
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
CROSS APPLY (
    SELECT {{ref(d, Документ.ЗаявкаНаРемонт.Заказчик, Справочник.Контрагенты)}} AS customer
) own
-- The empty reference (a new booking) joins no enum row: the decoder's empty state.
LEFT JOIN {{Перечисление.СостоянияЗаявкиНаРемонт}} [state]
    ON [state]._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.Состояние, Перечисление.СостоянияЗаявкиНаРемонт)}}
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.Менеджер, Справочник.Сотрудники)}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма, Справочник.МаркетинговыеПрограммы)}}
-- Автомобиль is a car or a model (or a string, above); references are unique across tables,
-- so each join matches only its own kind.
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
    ON department._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.ПодразделениеКомпании, Справочник.ПодразделенияКомпании)}}
LEFT JOIN {{Справочник.Организации}} organisation
    ON organisation._IDRRef = {{ref(d, Документ.ЗаявкаНаРемонт.Организация, Справочник.Организации)}}
