//! Validation of the whole file at load: every mistake is an error naming its key, the cause
//! and the fix, before anything connects or sends.

use super::sections::{parse_time_of_day, ConnectionKeys, RegisterConfig};
use super::{Config, ConfigError, TlsMode};
use crate::register::settings::RegisterKind;
use crate::rules::accounts::Accounts;

/// Schemas that belong to the database itself (and so to 1C), never to the register.
const FOREIGN_SCHEMAS: [&str; 6] = [
    "public",
    "dbo",
    "sys",
    "information_schema",
    "pg_catalog",
    "guest",
];

impl RegisterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3650).contains(&self.send_log_days) {
            return Err(ConfigError::invalid(
                "register.send_log_days",
                "must be between 1 and 3650 days (the send log keeps customers' phones and \
                 e-mails that long)",
            ));
        }
        if self.kind == RegisterKind::Sqlite {
            return self.no_server_keys();
        }
        validate_connection(&self.connection())?;
        validate_register_schema(&self.schema)
    }
}

impl RegisterConfig {
    /// A SQLite register is a file: a server key given with it would be silently ignored, so it
    /// is an error naming the key and both ways out.
    fn no_server_keys(&self) -> Result<(), ConfigError> {
        let given = [
            ("host", !self.host.trim().is_empty()),
            ("port", self.port.is_some()),
            ("instance", self.instance.is_some()),
            ("database", !self.database.trim().is_empty()),
            ("user", self.user.is_some()),
            ("password_file", self.password_file.is_some()),
            ("integrated_auth", self.integrated_auth),
            ("ca_file", self.ca_file.is_some()),
            ("trust_server_certificate", self.trust_server_certificate),
        ];
        match given.iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(ConfigError::invalid(
                &format!("register.{key}"),
                "is a key of a register on a server, and kind is \"sqlite\" (a file at \
                 register.path): set kind = \"postgres\" or \"mssql\", or remove the key",
            )),
            None => Ok(()),
        }
    }
}

/// The connection keys `[source]` and a server `[register]` share, checked the same way for both.
fn validate_connection(keys: &ConnectionKeys) -> Result<(), ConfigError> {
    let key = |name: &str| format!("{}.{name}", keys.section);
    for (name, value) in [("host", keys.host), ("database", keys.database)] {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(&key(name), "must not be empty"));
        }
    }
    if keys.integrated_auth && !keys.mssql {
        return Err(ConfigError::invalid(
            &key("integrated_auth"),
            "Windows integrated authentication exists only for kind = \"mssql\"",
        ));
    }
    if !keys.integrated_auth && keys.user.unwrap_or("").trim().is_empty() {
        let message = match keys.section {
            "register" => "set the login that owns (or may create in) the register's schema",
            _ => "set the database login (read-only role), or integrated_auth = true on Windows",
        };
        return Err(ConfigError::invalid(&key("user"), message));
    }
    if keys.instance.is_some() && !keys.mssql {
        return Err(ConfigError::invalid(
            &key("instance"),
            "a named instance exists only for kind = \"mssql\"; set the port instead",
        ));
    }
    let ca_file = keys.ca_file.is_some();
    if keys.tls == TlsMode::Off && (ca_file || keys.trust_server_certificate) {
        return Err(ConfigError::invalid(
            &key("tls"),
            "is \"off\", so ca_file and trust_server_certificate do nothing; set tls = \"required\" or remove them",
        ));
    }
    if ca_file && keys.trust_server_certificate {
        return Err(ConfigError::invalid(
            &key("trust_server_certificate"),
            "trusting any certificate makes ca_file pointless; keep ca_file (verified) and remove trust_server_certificate",
        ));
    }
    Ok(())
}

/// The register's schema name: a plain lowercase identifier (it is written into statements),
/// and never a schema of the database itself, where 1C keeps its tables.
fn validate_register_schema(schema: &str) -> Result<(), ConfigError> {
    let plain = schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if !plain {
        return Err(ConfigError::invalid(
            "register.schema",
            "must be a lowercase name of letters, digits and _ (for example alfa_calltouch)",
        ));
    }
    if FOREIGN_SCHEMAS.contains(&schema) || schema.starts_with("pg_") {
        return Err(ConfigError::invalid(
            "register.schema",
            format!(
                "{schema:?} holds the database's (1C's) own tables; the register keeps to a \
                 schema of its own, such as alfa_calltouch"
            ),
        ));
    }
    Ok(())
}

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_calltouch()?;
        self.validate_deal()?;
        self.validate_source()?;
        self.register.validate()?;
        self.validate_groups()?;
        self.validate_cycle()
    }

    /// `[calltouch]`: the account id, the address, batching, the rate and the retries.
    fn validate_calltouch(&self) -> Result<(), ConfigError> {
        let c = &self.calltouch;
        if c.site_id.trim().is_empty() || !c.site_id.trim().chars().all(|ch| ch.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                "calltouch.site_id",
                "must be the numeric Calltouch account id (ЛК → Интеграции → API)",
            ));
        }
        if !(c.base_url.starts_with("https://") || c.base_url.starts_with("http://")) {
            return Err(ConfigError::invalid(
                "calltouch.base_url",
                "must start with https:// (or http:// for a local emulator)",
            ));
        }
        if !(1..=100).contains(&c.batch_size) {
            return Err(ConfigError::invalid(
                "calltouch.batch_size",
                "must be between 1 and 100 orders per request",
            ));
        }
        if c.requests_per_second > 5 {
            return Err(ConfigError::invalid(
                "calltouch.requests_per_second",
                "Calltouch allows at most 5 requests per second per IP",
            ));
        }
        if c.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "calltouch.max_attempts",
                "must be at least 1",
            ));
        }
        if c.request_timeout_secs == 0 || c.connect_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "calltouch.request_timeout_secs",
                "timeouts must be at least 1 second",
            ));
        }
        Ok(())
    }

    /// `[deal]` and `[statuses]`: the constants of Tables 1 and 2 and the orderNumber template.
    fn validate_deal(&self) -> Result<(), ConfigError> {
        let d = &self.deal;
        for (key, value) in [
            ("deal.crm", &d.crm),
            ("deal.source", &d.source),
            ("deal.medium", &d.medium),
            ("deal.default_campaign", &d.default_campaign),
            ("deal.service_tag", &d.service_tag),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must not be empty"));
            }
        }
        if !d.order_number.contains("{number}") {
            return Err(ConfigError::invalid(
                "deal.order_number",
                "the template must contain {number}",
            ));
        }
        let unknown_placeholder = d
            .order_number
            .replace("{number}", "")
            .replace("{year}", "")
            .replace("{kind}", "");
        if unknown_placeholder.contains('{') || unknown_placeholder.contains('}') {
            return Err(ConfigError::invalid(
                "deal.order_number",
                "only {number}, {year} and {kind} may be used",
            ));
        }
        for (key, value) in [
            ("deal.call_type_to_match", &d.call_type_to_match),
            ("deal.request_type_to_match", &d.request_type_to_match),
        ] {
            if !["nearest", "nearestUniq", "nearestUniqLead"].contains(&value.as_str()) {
                return Err(ConfigError::invalid(
                    key,
                    "must be nearest, nearestUniq or nearestUniqLead",
                ));
            }
        }
        if d.search_depth == 0 {
            return Err(ConfigError::invalid(
                "deal.search_depth",
                "must be positive (minutes)",
            ));
        }
        for (kind, table) in [
            ("booking", &self.statuses.booking),
            ("work_order", &self.statuses.work_order),
        ] {
            if let Some((state, _)) = table.iter().find(|(_, status)| status.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    &format!("statuses.{kind}.{state}"),
                    "the Calltouch status must not be empty",
                ));
            }
        }
        Ok(())
    }

    /// `[source]`: where the 1C database is and how to log in.
    fn validate_source(&self) -> Result<(), ConfigError> {
        validate_connection(&self.source.connection())
    }

    /// The cycle's keys: `[sync]` and the source's reconcile time.
    fn validate_cycle(&self) -> Result<(), ConfigError> {
        let s = &self.source;
        if self.sync.max_document_attempts == 0 {
            return Err(ConfigError::invalid(
                "sync.max_document_attempts",
                "must be at least 1",
            ));
        }
        if let Some(text) = &s.reconcile_at {
            if s.reconcile_hours.is_some() {
                return Err(ConfigError::invalid(
                    "source.reconcile_at",
                    "set either reconcile_at (a time of day) or reconcile_hours (an interval), not both",
                ));
            }
            if parse_time_of_day(text).is_none() {
                return Err(ConfigError::invalid(
                    "source.reconcile_at",
                    format!("{text:?} is not a time of day; write it as \"HH:MM\", e.g. \"03:00\""),
                ));
            }
        }
        if self.sync.chunk_documents == 0 {
            return Err(ConfigError::invalid(
                "sync.chunk_documents",
                "must be at least 1 (1000 keeps memory small and each read short)",
            ));
        }
        Ok(())
    }

    /// `[groups]`: unique names, numeric site ids, a known default, every account reachable,
    /// and no department or organisation named by two accounts.
    fn validate_groups(&self) -> Result<(), ConfigError> {
        let g = &self.groups;
        let mut names = vec![g.main.trim()];
        for (i, account) in g.accounts.iter().enumerate() {
            let key = format!("groups.accounts[{i}]");
            let name = account.name.trim();
            if name.is_empty() || name == "none" {
                return Err(ConfigError::invalid(
                    &format!("{key}.name"),
                    "give the account a name (not \"none\"); the register shows it",
                ));
            }
            if names.contains(&name) {
                return Err(ConfigError::invalid(
                    &format!("{key}.name"),
                    format!("`{name}` names two accounts; give each its own name"),
                ));
            }
            names.push(name);
            let site = account.site_id.trim();
            if site.is_empty() || !site.chars().all(|ch| ch.is_ascii_digit()) {
                return Err(ConfigError::invalid(
                    &format!("{key}.site_id"),
                    "must be the numeric Calltouch account id (ЛК → Интеграции → API)",
                ));
            }
            if account.departments.is_empty() && account.organisations.is_empty() && g.rest != name
            {
                return Err(ConfigError::invalid(
                    &format!("{key}.departments"),
                    format!("account `{name}` takes no documents: list its departments or organisations, or make it [groups] rest"),
                ));
            }
        }
        if g.rest != "none" && !names.contains(&g.rest.as_str()) {
            return Err(ConfigError::invalid(
                "groups.rest",
                format!(
                    "`{}` is no account; name one of {} or write \"none\"",
                    g.rest,
                    names.join(", ")
                ),
            ));
        }
        let overlaps = Accounts::of(self).overlaps();
        if !overlaps.is_empty() {
            return Err(ConfigError::invalid("groups", overlaps.join("; ")));
        }
        Ok(())
    }
}
