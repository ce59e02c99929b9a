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
            ON kind._IDRRef = ci.{{РегистрСведений.КонтактнаяИнформация.Тип}}
        WHERE ci.{{РегистрСведений.КонтактнаяИнформация.Объект:rrref}} = d.{{Документ.ЗаявкаНаРемонт.Заказчик:rrref}}
        ORDER BY ci.{{РегистрСведений.КонтактнаяИнформация.Представление}}
        FOR JSON PATH
    ) AS contacts,
    RTRIM(COALESCE(make._Description, model_make._Description)) AS car_make,
    RTRIM(COALESCE(
        model._Description,
        CASE WHEN d.{{Документ.ЗаявкаНаРемонт.Автомобиль:type}} = 0x05
            THEN d.{{Документ.ЗаявкаНаРемонт.Автомобиль:string}} END
    )) AS car_model,
    car.{{Справочник.Автомобили.ГодВыпуска}} AS car_year,
    CAST(NULL AS binary(16)) AS booking_reference,
    CAST(NULL AS nvarchar(11)) AS booking_number,
    CAST(NULL AS datetime2(0)) AS booking_date
FROM {{Документ.ЗаявкаНаРемонт}} d
LEFT JOIN {{Перечисление.СостоянияЗаявкиНаРемонт}} [state]
    ON [state]._IDRRef = d.{{Документ.ЗаявкаНаРемонт.Состояние}}
LEFT JOIN {{Справочник.Сотрудники}} manager
    ON manager._IDRRef = d.{{Документ.ЗаявкаНаРемонт.Менеджер}}
LEFT JOIN {{Справочник.МаркетинговыеПрограммы}} programme
    ON programme._IDRRef = d.{{Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма}}
-- Автомобиль is a car or a model (or a string, above); references are unique across tables,
-- so each join matches only its own kind.
LEFT JOIN {{Справочник.Автомобили}} car
    ON car._IDRRef = d.{{Документ.ЗаявкаНаРемонт.Автомобиль:rrref}}
LEFT JOIN {{Справочник.Модели}} model
    ON model._IDRRef = COALESCE(car.{{Справочник.Автомобили.Модель}}, d.{{Документ.ЗаявкаНаРемонт.Автомобиль:rrref}})
LEFT JOIN {{Справочник.Марки}} make
    ON make._IDRRef = car.{{Справочник.Автомобили.Марка}}
LEFT JOIN {{Справочник.Марки}} model_make
    ON model_make._IDRRef = model.{{Справочник.Модели.Марка}}
