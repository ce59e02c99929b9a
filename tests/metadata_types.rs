//! The generator's layout against the public metadata of real bases: every attribute the presets
//! read is laid out with exactly the type of «Альфа-Авто» 6.1.13.09 / 5.1.48.03, as quoted below
//! from `shared/reference/alfa6-metadata.md` and `alfa5-metadata.md` with the line each quote
//! comes from. When those files are beside the project (`../shared/reference`, or the directory
//! in `ALFA_REFERENCE_DIR`), the quotes are compared with them too, so neither side can drift.

use std::collections::BTreeMap;
use std::path::PathBuf;

use alfa_calltouch::source::settings::Preset;
use testkit::fixture::attribute_types;

const SIX: &str = "alfa6-metadata.md";
const FIVE: &str = "alfa5-metadata.md";

/// One attribute: its full 1C name, the type the generator must give it, and where the type
/// comes from (file, 1-based line, the line's text). `None`: no reference line (a line number
/// is a standard column, not an attribute).
struct Row {
    name: &'static str,
    ty: &'static str,
    source: Option<(&'static str, usize, &'static str)>,
}

const fn row(
    name: &'static str,
    ty: &'static str,
    source: Option<(&'static str, usize, &'static str)>,
) -> Row {
    Row { name, ty, source }
}

/// The catalogs both editions read; 5.1's file has no catalog tables, so 6.1's types stand for
/// both (the catalogs are the same in the two editions).
fn catalogs() -> Vec<Row> {
    vec![
        row(
            "Справочник.Модели.Марка",
            "reference",
            Some((SIX, 137, "| `Марка` | reference Справочник.Марки |")),
        ),
        row(
            "Справочник.Автомобили.ГодВыпуска",
            "date",
            Some((SIX, 145, "| `ГодВыпуска` | date |")),
        ),
        row(
            "Справочник.Автомобили.Марка",
            "reference",
            Some((SIX, 146, "| `Марка` | reference Справочник.Марки |")),
        ),
        row(
            "Справочник.Автомобили.Модель",
            "reference",
            Some((SIX, 147, "| `Модель` | reference Справочник.Модели |")),
        ),
    ]
}

fn alfa6() -> Vec<Row> {
    let mut rows = catalogs();
    rows.extend([
        // ЗаявкаНаРемонт
        row("Документ.ЗаявкаНаРемонт.Автомобиль", "reference", Some((SIX, 28, "| `Автомобиль` | reference Справочник.Автомобили |"))),
        row("Документ.ЗаявкаНаРемонт.АдресЭлектроннойПочты", "string", Some((SIX, 29, "| `АдресЭлектроннойПочты` | string(200) |"))),
        row("Документ.ЗаявкаНаРемонт.Заказчик", "reference", Some((SIX, 42, "| `Заказчик` | reference Справочник.Контрагенты |"))),
        row("Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма", "reference", Some((SIX, 48, "| `МаркетинговаяПрограмма` | reference Справочник.МаркетинговыеПрограммы |"))),
        row("Документ.ЗаявкаНаРемонт.ОписаниеПричиныОбращения", "string", Some((SIX, 52, "| `ОписаниеПричиныОбращения` | string(unlimited) |"))),
        row("Документ.ЗаявкаНаРемонт.ПредставлениеТелефона", "string", Some((SIX, 54, "| `ПредставлениеТелефона` | string(50) |"))),
        row("Документ.ЗаявкаНаРемонт.Состояние", "reference", Some((SIX, 59, "| `Состояние` | reference Перечисление.СостояниеЗаявкиНаРемонт |"))),
        // ЗаказНаряд
        row("Документ.ЗаказНаряд.ДатаЗакрытия", "date", Some((SIX, 74, "| `ДатаЗакрытия` | date |"))),
        row("Документ.ЗаказНаряд.Контрагент", "reference", Some((SIX, 80, "| `Контрагент` | reference Справочник.Контрагенты |"))),
        row("Документ.ЗаказНаряд.МаркетинговаяПрограмма", "reference", Some((SIX, 82, "| `МаркетинговаяПрограмма` | reference Справочник.МаркетинговыеПрограммы |"))),
        row("Документ.ЗаказНаряд.ОписаниеПричиныОбращения", "string", Some((SIX, 84, "| `ОписаниеПричиныОбращения` | string(unlimited) |"))),
        row("Документ.ЗаказНаряд.СводныйРемонтныйЗаказ", "reference", Some((SIX, 88, "| `СводныйРемонтныйЗаказ` | reference Документ.СводныйРемонтныйЗаказ |"))),
        row("Документ.ЗаказНаряд.Состояние", "reference", Some((SIX, 91, "| `Состояние` | reference Справочник.ВидыСостоянийЗаказНарядов |"))),
        // СводныйРемонтныйЗаказ
        row("Документ.СводныйРемонтныйЗаказ.Автомобиль", "reference", Some((SIX, 102, "| `Автомобиль` | reference Справочник.Автомобили |"))),
        row("Документ.СводныйРемонтныйЗаказ.АдресЭлектроннойПочты", "string", Some((SIX, 103, "| `АдресЭлектроннойПочты` | string(200) |"))),
        row("Документ.СводныйРемонтныйЗаказ.ДокументОснование", "composite: 3 reference types", Some((SIX, 106, "| `ДокументОснование` | **composite**: Документ.ЗаявкаНаРемонт \\| Документ.АктОценкиАвтомобиля \\| Документ.ЗаказНаАвтомобиль |"))),
        row("Документ.СводныйРемонтныйЗаказ.Заказчик", "reference", Some((SIX, 107, "| `Заказчик` | reference Справочник.Контрагенты |"))),
        row("Документ.СводныйРемонтныйЗаказ.ПредставлениеТелефона", "string", Some((SIX, 109, "| `ПредставлениеТелефона` | string(50) |"))),
        // Common attributes
        row("ОбщийРеквизит.Менеджер", "reference", Some((SIX, 120, "| `Менеджер` | reference Справочник.Сотрудники |"))),
        row("ОбщийРеквизит.Организация", "reference", Some((SIX, 121, "| `Организация` | reference Справочник.Организации |"))),
        row("ОбщийРеквизит.ПодразделениеКомпании", "reference", Some((SIX, 122, "| `ПодразделениеКомпании` | reference Справочник.ПодразделенияКомпании |"))),
        row("ОбщийРеквизит.СуммаДокумента", "number", Some((SIX, 123, "| `СуммаДокумента` | number(15,2) |"))),
        // Контрагенты.КонтактнаяИнформация
        row("Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки", "line number", None),
        row("Справочник.Контрагенты.КонтактнаяИнформация.Представление", "string", Some((SIX, 190, "| `Представление` | string(500) |"))),
        row("Справочник.Контрагенты.КонтактнаяИнформация.Тип", "reference", Some((SIX, 191, "| `Тип` | reference Перечисление.ТипыКонтактнойИнформации |"))),
        // ЖурналСостояний
        row("РегистрСведений.ЖурналСостояний.Объект", "composite: 20 reference types", Some((SIX, 197, "| `Объект` | **composite**: Документ.ЗаказНаряд \\| Документ.ЗаказПоставщику \\| Документ.ЗаказПокупателя \\| Документ.Событие \\| Документ.РабочийЛист \\| … (about twenty document types) |"))),
        row("РегистрСведений.ЖурналСостояний.Состояние", "composite: 6 reference types", Some((SIX, 203, "| `Состояние` | **composite**: Справочник.ВидыСостоянийЗаказНарядов \\| Перечисление.СостоянияРассылок \\| Справочник.СтатусыРабочегоЛиста \\| Перечисление.СостояниеЖалобКлиентов \\| Перечисление.СостоянияСобытий \\| Перечисление.СтатусыДокументовМаркировки |"))),
    ]);
    rows
}

fn alfa5() -> Vec<Row> {
    let mut rows = catalogs();
    rows.extend([
        // ЗаявкаНаРемонт
        row("Документ.ЗаявкаНаРемонт.Автомобиль", "composite: 2 reference types + string", Some((FIVE, 34, "| `Автомобиль` | **composite**: Справочник.Модели \\| string(100) \\| Справочник.Автомобили |"))),
        row("Документ.ЗаявкаНаРемонт.АдресЭлектронойПочты", "string", Some((FIVE, 35, "| `АдресЭлектронойПочты` (sic) | string(150) |"))),
        row("Документ.ЗаявкаНаРемонт.Заказчик", "composite: 1 reference types + string", Some((FIVE, 37, "| `Заказчик` | **composite**: Справочник.Контрагенты \\| string(100) (no `_RTRef`) |"))),
        row("Документ.ЗаявкаНаРемонт.МаркетинговаяПрограмма", "reference", Some((FIVE, 40, "| `МаркетинговаяПрограмма` | reference Справочник.МаркетинговыеПрограммы |"))),
        row("Документ.ЗаявкаНаРемонт.Менеджер", "reference", Some((FIVE, 41, "| `Мастер`, `Менеджер`, `Диспетчер`, `Оператор` | reference Справочник.Сотрудники |"))),
        row("Документ.ЗаявкаНаРемонт.ПредставлениеТелефона", "string", Some((FIVE, 43, "| `ПредставлениеТелефона` | string(100) |"))),
        row("Документ.ЗаявкаНаРемонт.ПричинаОбращения", "string", Some((FIVE, 44, "| `ПричинаОбращения` | string(unlimited) |"))),
        row("Документ.ЗаявкаНаРемонт.Состояние", "reference", Some((FIVE, 46, "| `Состояние` | reference Перечисление.СостоянияЗаявкиНаРемонт (empty = not yet decided) |"))),
        row("Документ.ЗаявкаНаРемонт.СуммаДокумента", "number", Some((FIVE, 47, "| `СуммаДокумента` | number(15,2) |"))),
        row("Документ.ЗаявкаНаРемонт.Организация", "reference", Some((FIVE, 48, "| `Организация`, `ПодразделениеКомпании` | references |"))),
        row("Документ.ЗаявкаНаРемонт.ПодразделениеКомпании", "reference", Some((FIVE, 48, "| `Организация`, `ПодразделениеКомпании` | references |"))),
        // ЗаказНаряд
        row("Документ.ЗаказНаряд.Автомобиль", "reference", Some((FIVE, 53, "| `Автомобиль` | reference Справочник.Автомобили (**plain**) |"))),
        row("Документ.ЗаказНаряд.ДокументОснование", "composite: 13 reference types", Some((FIVE, 55, "| `ДокументОснование` | **composite**: 13 document types incl. Документ.ЗаявкаНаРемонт |"))),
        row("Документ.ЗаказНаряд.Заказчик", "reference", Some((FIVE, 56, "| `Заказчик` | reference Справочник.Контрагенты (**plain**) |"))),
        row("Документ.ЗаказНаряд.МаркетинговаяПрограмма", "reference", Some((FIVE, 58, "| `МаркетинговаяПрограмма` | reference Справочник.МаркетинговыеПрограммы |"))),
        row("Документ.ЗаказНаряд.Менеджер", "reference", Some((FIVE, 59, "| `Менеджер`, `Мастер`, `Диспетчер` | reference Справочник.Сотрудники |"))),
        row("Документ.ЗаказНаряд.Состояние", "reference", Some((FIVE, 60, "| `Состояние` | reference Справочник.ВидыСостоянийЗаказНарядов |"))),
        row("Документ.ЗаказНаряд.СуммаДокумента", "number", Some((FIVE, 61, "| `СуммаДокумента` | number(15,2) |"))),
        // Both are the work order's attributes in 5.x too (alfa5-metadata.md, line 11), typed
        // as on the booking.
        row("Документ.ЗаказНаряд.Организация", "reference", Some((FIVE, 48, "| `Организация`, `ПодразделениеКомпании` | references |"))),
        row("Документ.ЗаказНаряд.ПодразделениеКомпании", "reference", Some((FIVE, 48, "| `Организация`, `ПодразделениеКомпании` | references |"))),
        // Not confirmed by the dump: typed as 6.1 types them (ДатаЗакрытия date, the reason a string).
        row("Документ.ЗаказНаряд.ДатаЗакрытия", "date", Some((FIVE, 63, "| `ДатаЗакрытия`, `ПричинаОбращения` | not confirmed in the dump's part that was read; inferred from 5.x code that reads them |"))),
        row("Документ.ЗаказНаряд.ПричинаОбращения", "string", Some((FIVE, 63, "| `ДатаЗакрытия`, `ПричинаОбращения` | not confirmed in the dump's part that was read; inferred from 5.x code that reads them |"))),
        // КонтактнаяИнформация
        row("РегистрСведений.КонтактнаяИнформация.Объект", "composite: 6 reference types", Some((FIVE, 68, "| dimension | `Объект` | **composite**: 6 catalogs incl. Справочник.Контрагенты |"))),
        row("РегистрСведений.КонтактнаяИнформация.Тип", "reference", Some((FIVE, 69, "| dimension | `Тип` | reference Перечисление.ТипыКонтактнойИнформации |"))),
        row("РегистрСведений.КонтактнаяИнформация.Представление", "string", Some((FIVE, 71, "| resource | `Представление` | string(300) |"))),
        // ЖурналСостояний (the file's prose, not a table)
        row("РегистрСведений.ЖурналСостояний.Объект", "composite: 12 reference types", Some((FIVE, 26, "- `РегистрСведений.ЖурналСостояний`: periodic by the second, independent. `Объект` is composite (12"))),
        row("РегистрСведений.ЖурналСостояний.Состояние", "composite: 4 reference types", Some((FIVE, 27, "  document types, `ЗаказНаряд` among them); `Состояние` is composite: `ВидыСостоянийЗаказНарядов` |"))),
    ]);
    rows
}

fn expected(preset: Preset) -> Vec<Row> {
    match preset {
        Preset::Alfa6 => alfa6(),
        Preset::Alfa5 => alfa5(),
    }
}

/// The generator's types, one per attribute (a common attribute is laid out in each table).
fn generated(preset: Preset) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for (name, ty) in attribute_types(preset) {
        if let Some(earlier) = types.insert(name.clone(), ty.clone()) {
            assert_eq!(earlier, ty, "{name} is laid out with two types");
        }
    }
    types
}

#[test]
fn the_generator_lays_out_the_types_of_the_public_metadata() {
    for preset in [Preset::Alfa6, Preset::Alfa5] {
        let table: BTreeMap<String, String> = expected(preset)
            .into_iter()
            .map(|r| (r.name.to_string(), r.ty.to_string()))
            .collect();
        assert_eq!(generated(preset), table, "{preset:?}");
    }
}

/// The type word of a quote («reference», «string(…)», «**composite**», …) agrees with the
/// table's type, so a row cannot quote one thing and expect another.
#[test]
fn each_quote_supports_its_type() {
    for preset in [Preset::Alfa6, Preset::Alfa5] {
        for row in expected(preset) {
            let Some((_, _, quote)) = row.source else {
                continue;
            };
            let kind = row.ty.split([':', ' ']).next().unwrap();
            let declared = quote.rsplit("` |").next().unwrap_or(quote);
            let supported = match kind {
                "reference" => declared.contains("reference"),
                "string" => declared.contains("string") || declared.contains("inferred"),
                "number" => declared.contains("number"),
                "date" => declared.contains("date") || declared.contains("inferred"),
                "composite" => {
                    quote.contains("composite")
                        && row.ty.contains("string") == declared.contains("string")
                }
                _ => false,
            };
            assert!(supported, "{}: `{}` vs {quote:?}", row.name, row.ty);
        }
    }
}

fn reference_dir() -> PathBuf {
    std::env::var_os("ALFA_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"))
}

#[test]
fn the_quotes_are_the_reference_files_lines() {
    let dir = reference_dir();
    for (file, rows) in [(SIX, alfa6()), (FIVE, alfa5())] {
        let path = dir.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!(
                "{} is not here; the checked-in quotes were not compared with it",
                path.display()
            );
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for row in rows {
            let Some((source, line, quote)) = row.source else {
                continue;
            };
            if source != file {
                continue;
            }
            assert_eq!(
                lines.get(line - 1).copied(),
                Some(quote),
                "{}: line {line} of {}",
                row.name,
                path.display()
            );
        }
    }
}
