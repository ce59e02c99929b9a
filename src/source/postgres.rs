//! The PostgreSQL source: reads bookings and work orders from a 1C «Альфа-Авто» database on
//! PostgreSQL through the mapped queries in `sql/postgres`, and reports exactly what changed
//! since the previous read.
//!
//! # Reading
//! Every cycle runs in one `REPEATABLE READ READ ONLY` transaction, so all queries of a cycle see
//! one consistent state and never block 1C (PostgreSQL readers take no row locks).
//!
//! # Exact change detection with a snapshot checkpoint
//! The checkpoint is the text of `pg_current_snapshot()` taken inside the reading transaction
//! (`xmin:xmax:xip,…`): the set of transactions whose effects that read saw. A row version was
//! written after that read iff the transaction in its `xmin` is **not visible** in that snapshot:
//! `NOT pg_visible_in_snapshot(xmin, previous)`. This is Airbyte's xmin incremental idea, made
//! exact:
//! - a transaction that committed before the previous read is visible in its snapshot, so its
//!   rows are not read again;
//! - a transaction that was still running at the previous read — even one that began and wrote
//!   before it — is in that snapshot's `xip` list, hence not visible, so its rows are picked up
//!   by the first read after it commits; a `_date_time` or `_version` watermark would miss it;
//! - a transaction that started later has an id at or above the snapshot's `xmax`: not visible,
//!   picked up.
//!
//! `xmin` is 32-bit and wraps; it is widened to `xid8` against the current snapshot's `xmax`
//! (see `template::changed_since`). A row frozen by VACUUM keeps its raw `xmin`, which is far
//! below the previous snapshot and stays "visible", i.e. unchanged.
//!
//! Changed documents are the document rows changed, plus work orders with new
//! `РегистрСведений.ЖурналСостояний` records, plus (6.x) work orders whose
//! `Документ.СводныйРемонтныйЗаказ` changed, since customer, car and phone live there.
//!
//! Limits: a row written inside a subtransaction (a SAVEPOINT) carries the subtransaction's id,
//! which the snapshot does not list; 1C does not use savepoints, so this does not arise from 1C
//! writes. Deleting rows is not a change this source sees (1C marks for deletion instead).
//! A checkpoint whose `xmax` is ahead of the server's (a restored or replaced database) is
//! refused as [`SourceError::BadCheckpoint`].
//!
//! # Values
//! Strings are read `::text` and trimmed; sums `::text`; the year offset of `_yearoffset` is
//! read once at connect, subtracted from every date read and added to date parameters; the
//! empty reference (16 zero bytes) and the empty date read as `None`. A row that cannot be
//! decoded becomes a [`RejectedDocument`] naming the 1C field.

use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime};
use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};

use super::namemap::NameMap;
use super::template::{render, TemplateError};
use super::window::{ChangeDetection, Checkpoint, ReadPlan};
use super::{ChangeSet, ReadFrom, RejectedDocument, Source, SourceError};
use crate::config::{Preset, Secret, SourceConfig, SourceKind};
use crate::snapshot::{BookingLink, Car, DocKind, DocRef, DocumentSnapshot};

/// The enum whose `_EnumOrder` tells phones from e-mails in contact information.
const CONTACT_KIND_ENUM: &str = "Перечисление.ТипыКонтактнойИнформации";
const PHONE_KIND: &str = "Телефон";
const EMAIL_KIND: &str = "АдресЭлектроннойПочты";

const READ_POSITION_SQL: &str = include_str!("../../sql/postgres/read_position.sql");
const DATED_SINCE_SQL: &str = include_str!("../../sql/postgres/dated_since.sql");
const WITH_NUMBER_SQL: &str = include_str!("../../sql/postgres/with_number.sql");
const BOOKING_CHANGED_SQL: &str = include_str!("../../sql/postgres/booking_changed.sql");
const BOOKING_RECENT_SQL: &str = include_str!("../../sql/postgres/booking_recent.sql");

/// The query templates of one Альфа-Авто edition.
struct PresetTemplates {
    booking: &'static str,
    work_order: &'static str,
    work_order_changed: &'static str,
    work_order_recent: &'static str,
    booking_state_enum: &'static str,
}

fn preset_templates(preset: Preset) -> PresetTemplates {
    match preset {
        Preset::Alfa6 => PresetTemplates {
            booking: include_str!("../../sql/postgres/alfa6/booking.sql"),
            work_order: include_str!("../../sql/postgres/alfa6/work_order.sql"),
            work_order_changed: include_str!("../../sql/postgres/alfa6/work_order_changed.sql"),
            work_order_recent: include_str!("../../sql/postgres/alfa6/work_order_recent.sql"),
            booking_state_enum: "Перечисление.СостояниеЗаявкиНаРемонт",
        },
        Preset::Alfa5 => PresetTemplates {
            booking: include_str!("../../sql/postgres/alfa5/booking.sql"),
            work_order: include_str!("../../sql/postgres/alfa5/work_order.sql"),
            work_order_changed: include_str!("../../sql/postgres/alfa5/work_order_changed.sql"),
            work_order_recent: include_str!("../../sql/postgres/alfa5/work_order_recent.sql"),
            booking_state_enum: "Перечисление.СостоянияЗаявкиНаРемонт",
        },
    }
}

/// The rendered SQL for one document kind: body + filter + order.
struct KindSql {
    changed: String,
    recent: String,
    dated_since: String,
    with_number: String,
}

/// Every query of a preset, rendered for one database.
struct RenderedSql {
    booking: KindSql,
    work_order: KindSql,
}

/// Renders a document query: the select body, a `WHERE` on alias `d`, a stable order.
fn document_query(body: &str, filter: &str, map: &NameMap) -> Result<String, TemplateError> {
    let template = format!("{body}\nWHERE {filter}\nORDER BY d._date_time, d._idrref");
    render(&template, map)
}

/// Renders every query of the preset, reporting all missing name-map entries at once.
fn render_all(preset: Preset, map: &NameMap) -> Result<RenderedSql, SourceError> {
    let t = preset_templates(preset);
    let mut missing: Vec<String> = Vec::new();
    let mut one = |body: &str, filter: &str| -> Result<String, SourceError> {
        match document_query(body, filter, map) {
            Ok(sql) => Ok(sql),
            Err(TemplateError::Missing(names)) => {
                for name in names {
                    if !missing.contains(&name) {
                        missing.push(name);
                    }
                }
                Ok(String::new())
            }
            Err(other) => Err(SourceError::NameMap(other.to_string())),
        }
    };
    let rendered = RenderedSql {
        booking: KindSql {
            changed: one(t.booking, BOOKING_CHANGED_SQL)?,
            recent: one(t.booking, BOOKING_RECENT_SQL)?,
            dated_since: one(t.booking, DATED_SINCE_SQL)?,
            with_number: one(t.booking, WITH_NUMBER_SQL)?,
        },
        work_order: KindSql {
            changed: one(t.work_order, t.work_order_changed)?,
            recent: one(t.work_order, t.work_order_recent)?,
            dated_since: one(t.work_order, DATED_SINCE_SQL)?,
            with_number: one(t.work_order, WITH_NUMBER_SQL)?,
        },
    };
    for name in [t.booking_state_enum, CONTACT_KIND_ENUM] {
        if map.enum_values(name).is_err() && !missing.iter().any(|m| m == name) {
            missing.push(name.to_string());
        }
    }
    if missing.is_empty() {
        Ok(rendered)
    } else {
        Err(SourceError::NameMap(
            TemplateError::Missing(missing).to_string(),
        ))
    }
}

/// Checks that the name map has every entry the preset's queries use, and that the contact-kind
/// enum lists phones and e-mails. The same check runs when a source is opened.
pub fn check_name_map(preset: Preset, map: &NameMap) -> Result<(), SourceError> {
    render_all(preset, map)?;
    Decoder::new(preset, map, 0).map(|_| ())
}

/// The change queries a cycle after the first one sends, by name, rendered for one database
/// (`$1` the cut-off, `$2` the previous snapshot, `$3` the window start of the `recent`
/// queries): what benchmarks `EXPLAIN`.
pub fn change_queries(
    preset: Preset,
    map: &NameMap,
) -> Result<Vec<(&'static str, String)>, SourceError> {
    let sql = render_all(preset, map)?;
    Ok(vec![
        ("bookings changed", sql.booking.changed),
        ("work orders changed", sql.work_order.changed),
        ("bookings recent", sql.booking.recent),
        ("work orders recent", sql.work_order.recent),
    ])
}

/// Prepared statements of one document kind.
struct KindStatements {
    changed: Statement,
    recent: Statement,
    dated_since: Statement,
    with_number: Statement,
}

/// A 1C «Альфа-Авто» database on PostgreSQL.
pub struct PostgresSource {
    client: Client,
    read_position: Statement,
    booking: KindStatements,
    work_order: KindStatements,
    decoder: Decoder,
    query_timeout: Option<Duration>,
    detection: ChangeDetection,
}

impl PostgresSource {
    /// Connects with the `[source]` settings. The password goes only to the server; errors
    /// never contain it.
    pub async fn connect(
        config: &SourceConfig,
        password: Secret,
        name_map: NameMap,
    ) -> Result<PostgresSource, SourceError> {
        if config.kind != SourceKind::Postgres {
            return Err(SourceError::Connect(
                "source.kind is not \"postgres\"".to_string(),
            ));
        }
        if config.tls == "required" {
            return Err(SourceError::Connect(
                "TLS to PostgreSQL is not supported yet; set source.tls = \"off\" on a trusted network"
                    .to_string(),
            ));
        }
        let mut pg = tokio_postgres::Config::new();
        pg.host(&config.host)
            .port(config.port.unwrap_or(5432))
            .dbname(&config.database)
            .user(config.user.as_deref().unwrap_or_default())
            .password(password.expose())
            .application_name("alfa-calltouch")
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs));
        let query_timeout = Some(Duration::from_secs(config.query_timeout_secs));
        let detection = ChangeDetection {
            window_days: config.change_window_days,
            reconcile_hours: config.reconcile_hours,
        };
        let source = PostgresSource::open(pg, config.preset, name_map, query_timeout).await?;
        Ok(source.with_change_detection(detection))
    }

    /// Sets how changes are found (exact every cycle unless set).
    pub fn with_change_detection(mut self, detection: ChangeDetection) -> PostgresSource {
        self.detection = detection;
        self
    }

    /// Connects with a libpq-style connection string (tests, the demo).
    pub async fn from_connection_string(
        connection: &str,
        preset: Preset,
        name_map: NameMap,
    ) -> Result<PostgresSource, SourceError> {
        let pg: tokio_postgres::Config = connection
            .parse()
            .map_err(|e| SourceError::Connect(format!("bad connection string: {e}")))?;
        PostgresSource::open(pg, preset, name_map, None).await
    }

    async fn open(
        pg: tokio_postgres::Config,
        preset: Preset,
        name_map: NameMap,
        query_timeout: Option<Duration>,
    ) -> Result<PostgresSource, SourceError> {
        // Check the map before touching the database: a missing entry is a setup error.
        let sql = render_all(preset, &name_map)?;
        let (client, connection) = pg
            .connect(NoTls)
            .await
            .map_err(|e| SourceError::Connect(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "PostgreSQL connection closed");
            }
        });
        let year_offset = read_year_offset(&client).await?;
        let decoder = Decoder::new(preset, &name_map, year_offset)?;
        // Preparing checks every mapped table and column against the database now.
        let prepare = |name: &'static str, text: String| {
            let client = &client;
            async move {
                client
                    .prepare(&text)
                    .await
                    .map_err(|e| query_error(name, &e))
            }
        };
        let booking = KindStatements {
            changed: prepare("booking changed", sql.booking.changed).await?,
            recent: prepare("booking recent", sql.booking.recent).await?,
            dated_since: prepare("booking dated since", sql.booking.dated_since).await?,
            with_number: prepare("booking with number", sql.booking.with_number).await?,
        };
        let work_order = KindStatements {
            changed: prepare("work order changed", sql.work_order.changed).await?,
            recent: prepare("work order recent", sql.work_order.recent).await?,
            dated_since: prepare("work order dated since", sql.work_order.dated_since).await?,
            with_number: prepare("work order with number", sql.work_order.with_number).await?,
        };
        let read_position = prepare("read position", READ_POSITION_SQL.to_string()).await?;
        Ok(PostgresSource {
            client,
            read_position,
            booking,
            work_order,
            decoder,
            query_timeout,
            detection: ChangeDetection::default(),
        })
    }

    /// The year offset of the base (0 or 2000), for callers that show storage dates.
    pub fn year_offset(&self) -> i32 {
        self.decoder.year_offset
    }

    fn decode_all(&self, kind: DocKind, rows: &[Row], into: &mut ChangeSet) {
        for row in rows {
            match self.decoder.snapshot(kind, row) {
                Ok(snapshot) => into.documents.push(snapshot),
                Err(rejected) => into.rejected.push(rejected),
            }
        }
    }
}

/// Starts a reading transaction: one snapshot for the whole cycle, never writing.
async fn begin(
    client: &mut Client,
    query_timeout: Option<Duration>,
) -> Result<Transaction<'_>, SourceError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| query_error("begin", &e))?;
    if let Some(timeout) = query_timeout {
        let millis = timeout.as_millis().to_string();
        tx.execute(
            "SELECT set_config('statement_timeout', $1, true)",
            &[&millis],
        )
        .await
        .map_err(|e| query_error("statement timeout", &e))?;
    }
    Ok(tx)
}

fn query_error(query: &str, error: &tokio_postgres::Error) -> SourceError {
    let message = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    };
    SourceError::Query {
        query: query.to_string(),
        message,
    }
}

/// `_yearoffset.ofset`; a base without the table has no offset.
async fn read_year_offset(client: &Client) -> Result<i32, SourceError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('_yearoffset') IS NOT NULL", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| query_error("year offset", &e))?;
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_opt("SELECT ofset::integer FROM _yearoffset LIMIT 1", &[])
        .await
        .map_err(|e| query_error("year offset", &e))?;
    let offset: Option<i32> = match row {
        Some(row) => row.try_get(0).map_err(|e| query_error("year offset", &e))?,
        None => None,
    };
    Ok(offset.unwrap_or(0))
}

/// A 1C time as stored (the year offset added); `what` names it in the error.
fn storage_time(
    decoder: &Decoder,
    at: NaiveDateTime,
    what: &str,
) -> Result<NaiveDateTime, SourceError> {
    decoder
        .storage_date(at)
        .map_err(|reason| SourceError::Query {
            query: what.to_string(),
            message: reason,
        })
}

/// A checkpoint in either form of `source::window`, each snapshot in it checked.
fn parsed_checkpoint(text: &str) -> Result<Checkpoint, SourceError> {
    let checkpoint =
        Checkpoint::parse(text).ok_or_else(|| SourceError::BadCheckpoint(text.to_string()))?;
    checked_checkpoint(&checkpoint.read)?;
    checked_checkpoint(&checkpoint.reconcile)?;
    Ok(checkpoint)
}

/// A snapshot is a `pg_snapshot` text: `xmin:xmax:xip,xip,…`.
fn checked_checkpoint(text: &str) -> Result<&str, SourceError> {
    let numbers = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = text.split(':').collect();
    let valid = parts.len() == 3
        && numbers(parts[0])
        && numbers(parts[1])
        && (parts[2].is_empty() || parts[2].split(',').all(numbers));
    valid
        .then_some(text)
        .ok_or_else(|| SourceError::BadCheckpoint(text.to_string()))
}

impl Source for PostgresSource {
    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError> {
        let previous = match from {
            ReadFrom::Start => None,
            ReadFrom::Checkpoint(text) => Some(parsed_checkpoint(text)?),
        };
        let cutoff_at = storage_time(&self.decoder, cutoff.and_time(NaiveTime::MIN), "cut-off")?;
        let tx = begin(&mut self.client, self.query_timeout).await?;
        let last_read = previous.as_ref().map(|p| p.read.clone());
        let position = tx
            .query_one(&self.read_position, &[&last_read])
            .await
            .map_err(|e| query_error("read position", &e))?;
        let fits: bool = position.get("checkpoint_fits");
        if !fits {
            return Err(SourceError::BadCheckpoint(last_read.unwrap_or_default()));
        }
        let read_at: NaiveDateTime = position.get("read_at");
        let plan = self.detection.plan(previous.as_ref(), read_at);
        tracing::debug!(%plan, "reading changes");
        let (bookings, work_orders) = match &plan {
            ReadPlan::Start => (
                tx.query(&self.booking.dated_since, &[&cutoff_at]).await,
                tx.query(&self.work_order.dated_since, &[&cutoff_at]).await,
            ),
            ReadPlan::Exact { since } => (
                tx.query(&self.booking.changed, &[&cutoff_at, since]).await,
                tx.query(&self.work_order.changed, &[&cutoff_at, since])
                    .await,
            ),
            ReadPlan::Window { since, from } => {
                let from = storage_time(&self.decoder, *from, "window start")?;
                (
                    tx.query(&self.booking.recent, &[&cutoff_at, since, &from])
                        .await,
                    tx.query(&self.work_order.recent, &[&cutoff_at, since, &from])
                        .await,
                )
            }
        };
        let bookings = bookings.map_err(|e| query_error("bookings", &e))?;
        let work_orders = work_orders.map_err(|e| query_error("work orders", &e))?;
        tx.commit().await.map_err(|e| query_error("commit", &e))?;
        let snapshot: String = position.get("snapshot");
        let mut changes = ChangeSet {
            documents: Vec::with_capacity(bookings.len() + work_orders.len()),
            rejected: Vec::new(),
            checkpoint: self
                .detection
                .next(previous.as_ref(), &plan, &snapshot, read_at),
            read_at,
        };
        self.decode_all(DocKind::Booking, &bookings, &mut changes);
        self.decode_all(DocKind::WorkOrder, &work_orders, &mut changes);
        Ok(changes)
    }

    async fn find_by_number(&mut self, number: &str) -> Result<Vec<DocumentSnapshot>, SourceError> {
        let number = number.trim().to_string();
        let tx = begin(&mut self.client, self.query_timeout).await?;
        let bookings = tx
            .query(&self.booking.with_number, &[&number])
            .await
            .map_err(|e| query_error("bookings with number", &e))?;
        let work_orders = tx
            .query(&self.work_order.with_number, &[&number])
            .await
            .map_err(|e| query_error("work orders with number", &e))?;
        tx.commit().await.map_err(|e| query_error("commit", &e))?;
        let decoded = bookings
            .iter()
            .map(|row| self.decoder.snapshot(DocKind::Booking, row))
            .chain(
                work_orders
                    .iter()
                    .map(|row| self.decoder.snapshot(DocKind::WorkOrder, row)),
            );
        // `preview` shows what can be read; an undecodable document is named in the log.
        let mut found = Vec::new();
        for result in decoded {
            match result {
                Ok(snapshot) => found.push(snapshot),
                Err(rejected) => tracing::warn!(
                    kind = %rejected.kind,
                    reference = %rejected.reference,
                    field = %rejected.field,
                    reason = %rejected.reason,
                    "document cannot be decoded"
                ),
            }
        }
        Ok(found)
    }
}

/// A field of a row that could not be decoded.
struct BadField {
    field: &'static str,
    reason: String,
}

impl BadField {
    fn new(field: &'static str, reason: impl Into<String>) -> BadField {
        BadField {
            field,
            reason: reason.into(),
        }
    }
}

/// Turns rows of the document queries into snapshots. One decoder per value type.
struct Decoder {
    year_offset: i32,
    /// Booking-state enum value names by `_EnumOrder`.
    booking_states: Vec<String>,
    phone_kind: i32,
    email_kind: i32,
}

impl Decoder {
    fn new(preset: Preset, map: &NameMap, year_offset: i32) -> Result<Decoder, SourceError> {
        let name_map_error = |e: super::namemap::NameMapError| SourceError::NameMap(e.to_string());
        let booking_states = map
            .enum_values(preset_templates(preset).booking_state_enum)
            .map_err(name_map_error)?
            .to_vec();
        let kinds = map.enum_values(CONTACT_KIND_ENUM).map_err(name_map_error)?;
        let order_of = |value: &str| {
            kinds
                .iter()
                .position(|k| k == value)
                .map(|p| p as i32)
                .ok_or_else(|| {
                    SourceError::NameMap(format!(
                        "enum `{CONTACT_KIND_ENUM}` has no value `{value}`"
                    ))
                })
        };
        Ok(Decoder {
            year_offset,
            booking_states,
            phone_kind: order_of(PHONE_KIND)?,
            email_kind: order_of(EMAIL_KIND)?,
        })
    }

    /// A snapshot, or the document rejected with the field at fault.
    fn snapshot(&self, kind: DocKind, row: &Row) -> Result<DocumentSnapshot, RejectedDocument> {
        let reference = column::<Option<Vec<u8>>>(row, "reference", "Ссылка")
            .ok()
            .flatten()
            .and_then(|bytes| DocRef::from_stored(&bytes));
        let number = column::<Option<String>>(row, "number", "Номер")
            .ok()
            .flatten()
            .map(|n| n.trim().to_string());
        let decoded = match reference {
            Some(reference) => self.fields(kind, reference, row),
            None => Err(BadField::new("Ссылка", "empty or not 16 bytes")),
        };
        decoded.map_err(|bad| RejectedDocument {
            kind,
            reference: reference.unwrap_or(DocRef([0; 16])),
            number,
            field: bad.field.to_string(),
            reason: bad.reason,
        })
    }

    fn fields(
        &self,
        kind: DocKind,
        reference: DocRef,
        row: &Row,
    ) -> Result<DocumentSnapshot, BadField> {
        let number =
            text(column(row, "number", "Номер")?).ok_or_else(|| BadField::new("Номер", "empty"))?;
        let date = self
            .date(row, "date", "Дата")?
            .ok_or_else(|| BadField::new("Дата", "empty date"))?;
        let mut snapshot = DocumentSnapshot::new(kind, reference, &number, date);
        snapshot.deletion_mark = column::<Option<bool>>(row, "deletion_mark", "ПометкаУдаления")?
            .ok_or_else(|| BadField::new("ПометкаУдаления", "NULL"))?;
        snapshot.state = match kind {
            DocKind::Booking => self.booking_state(row)?,
            DocKind::WorkOrder => text(column(row, "state_name", "Состояние")?),
        };
        let journal = self.date(row, "state_journal_at", "ЖурналСостояний.Период")?;
        // 1C fills ДатаЗакрытия only in the state «Закрыт» and clears it otherwise.
        let closed = self.date(row, "closed_at", "ДатаЗакрытия")?;
        snapshot.state_set_at = journal.or(closed);
        snapshot.sum = text(column(row, "sum", "СуммаДокумента")?);
        snapshot.manager = text(column(row, "manager", "Менеджер")?);
        snapshot.marketing_programme = text(column(
            row,
            "marketing_programme",
            "МаркетинговаяПрограмма",
        )?);
        snapshot.contact_reason = text(column(row, "contact_reason", "ПричинаОбращения")?);
        let (phones, emails) = self.contacts(row)?;
        snapshot.phones = phones;
        snapshot.emails = emails;
        snapshot.car = Car {
            make: text(column(row, "car_make", "Автомобиль.Марка")?),
            model: text(column(row, "car_model", "Автомобиль.Модель")?),
            year: self
                .date(row, "car_year", "Автомобиль.ГодВыпуска")?
                .map(|d| d.year()),
        };
        snapshot.booking = self.booking_link(row)?;
        Ok(snapshot)
    }

    /// The booking state's value name from its `_EnumOrder`.
    fn booking_state(&self, row: &Row) -> Result<Option<String>, BadField> {
        let Some(order) = column::<Option<i32>>(row, "state_order", "Состояние")? else {
            return Ok(None);
        };
        usize::try_from(order)
            .ok()
            .and_then(|i| self.booking_states.get(i))
            .map(|name| Some(name.clone()))
            .ok_or_else(|| {
                BadField::new(
                    "Состояние",
                    format!("enum order {order} is not in the name map's value list"),
                )
            })
    }

    /// Phones and e-mails: the document's own first, then the customer's; empty and repeated
    /// values dropped.
    fn contacts(&self, row: &Row) -> Result<(Vec<String>, Vec<String>), BadField> {
        let field = "КонтактнаяИнформация";
        let kinds: Vec<Option<i32>> =
            column::<Option<_>>(row, "contact_kinds", field)?.unwrap_or_default();
        let texts: Vec<Option<String>> =
            column::<Option<_>>(row, "contact_texts", field)?.unwrap_or_default();
        let customer_of_kind = |wanted: i32| {
            kinds
                .iter()
                .zip(&texts)
                .filter(move |(kind, _)| **kind == Some(wanted))
                .map(|(_, value)| value.clone())
        };
        let own_phone = column(row, "own_phone", "ПредставлениеТелефона")?;
        let own_email = column(row, "own_email", "АдресЭлектроннойПочты")?;
        let phones =
            distinct_texts(std::iter::once(own_phone).chain(customer_of_kind(self.phone_kind)));
        let emails =
            distinct_texts(std::iter::once(own_email).chain(customer_of_kind(self.email_kind)));
        Ok((phones, emails))
    }

    fn booking_link(&self, row: &Row) -> Result<Option<BookingLink>, BadField> {
        let field = "ДокументОснование";
        let reference = column::<Option<Vec<u8>>>(row, "booking_reference", field)?
            .and_then(|bytes| DocRef::from_stored(&bytes));
        let Some(reference) = reference else {
            return Ok(None);
        };
        let number = text(column(row, "booking_number", field)?).unwrap_or_default();
        let date = self
            .date(row, "booking_date", field)?
            .ok_or_else(|| BadField::new(field, "the booking has no date"))?;
        Ok(Some(BookingLink {
            reference,
            number,
            date,
        }))
    }

    /// A stored date in 1C time: the year offset removed; the empty date is `None`.
    fn date(
        &self,
        row: &Row,
        name: &str,
        field: &'static str,
    ) -> Result<Option<NaiveDateTime>, BadField> {
        let Some(stored) = column::<Option<NaiveDateTime>>(row, name, field)? else {
            return Ok(None);
        };
        let empty = NaiveDate::MIN
            .with_year(1)
            .map(|d| d.and_time(NaiveTime::MIN));
        if Some(stored) == empty {
            return Ok(None);
        }
        let date = stored
            .checked_sub_months(Months::new(12 * self.year_offset.unsigned_abs()))
            .filter(|d| d.year() >= 1)
            .ok_or_else(|| {
                BadField::new(
                    field,
                    format!("{stored} is before the year offset {}", self.year_offset),
                )
            })?;
        Ok((Some(date) != empty).then_some(date))
    }

    /// A 1C date as stored: the year offset added.
    fn storage_date(&self, date: NaiveDateTime) -> Result<NaiveDateTime, String> {
        date.checked_add_months(Months::new(12 * self.year_offset.unsigned_abs()))
            .ok_or_else(|| format!("{date} plus the year offset is out of range"))
    }
}

/// One column, or the 1C field named with the decoding error.
fn column<'r, T: FromSql<'r>>(
    row: &'r Row,
    name: &str,
    field: &'static str,
) -> Result<T, BadField> {
    row.try_get(name)
        .map_err(|e| BadField::new(field, e.to_string()))
}

/// A string value: trimmed (1C pads `mchar`), empty is `None`.
fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn distinct_texts(values: impl Iterator<Item = Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values.filter_map(text) {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_must_be_snapshot_text() {
        for good in ["100:105:", "100:105:101,103", "3:3:"] {
            assert!(checked_checkpoint(good).is_ok(), "{good}");
        }
        for bad in ["", "7", "1:2", "a:2:", "1:2:3,", "1:2:3;drop"] {
            assert!(
                matches!(checked_checkpoint(bad), Err(SourceError::BadCheckpoint(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn distinct_texts_trims_drops_empty_and_repeats_in_order() {
        let values = [
            Some(" +7 900 ".to_string()),
            None,
            Some("".into()),
            Some("+7 900".into()),
            Some("x".into()),
        ];
        assert_eq!(distinct_texts(values.into_iter()), vec!["+7 900", "x"]);
    }
}
