//! Configuration: the TOML file, its defaults (the assignment's constants) and its validation.
//! Each stage owns its section's type (`[calltouch]`, `[deal]`, …) and is handed settings built
//! here ([`stages`]); this module composes them, reads the secrets and checks the whole file
//! ([`validate`]); [`sections`] holds the sections no stage owns.
//!
//! Secrets (the Calltouch token, the database password) are never required inline: they come from
//! an environment variable or a file, and `Secret` hides them from `Debug` and `Display`.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use sections::{
    AccountConfig, ConnectionKeys, GroupsConfig, RegisterConfig, ScheduleConfig, SourceConfig,
    StatusPageConfig, SyncConfig, DEFAULT_RECONCILE_AT,
};

use crate::calltouch::settings::CalltouchConfig;
use crate::db::TlsMode;
use crate::ops::privacy::Secret;
use crate::rules::settings::{DealConfig, StatusConfig};

/// A configuration mistake, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is part of the message and not chained, so it prints once.
    #[error("cannot read config file {path}: {cause}{}", read_hint(cause))]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// What to do about a config file that cannot be read.
fn read_hint(cause: &std::io::Error) -> &'static str {
    match cause.kind() {
        std::io::ErrorKind::NotFound => {
            "; copy config/alfa-calltouch.example.toml there and fill in [calltouch] and \
             [source], or name another file with --config (or ALFA_CALLTOUCH_CONFIG)"
        }
        std::io::ErrorKind::PermissionDenied => "; let the account that runs the tool read it",
        _ => "",
    }
}

impl ConfigError {
    fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub calltouch: CalltouchConfig,
    #[serde(default)]
    pub deal: DealConfig,
    #[serde(default)]
    pub statuses: StatusConfig,
    pub source: SourceConfig,
    #[serde(default)]
    pub register: RegisterConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub status_page: StatusPageConfig,
    #[serde(default)]
    pub groups: GroupsConfig,
    /// Where the file was read from; relative paths inside it are resolved against its folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        crate::ops::privacy::warn_if_others_can_read(path);
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, path, &base_dir)
    }

    /// Parses config text; `origin` only names the file in messages.
    pub fn parse(text: &str, origin: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        config.base_dir = base_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// A path from the file, resolved against the file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    pub fn register_path(&self) -> PathBuf {
        self.resolve(&self.register.path)
    }

    pub fn name_map_path(&self) -> PathBuf {
        self.resolve(&self.source.name_map)
    }

    /// The tokens of the `[[groups.accounts]]` are readable, so `run` and `watch` stop before
    /// anything is sent rather than leave one account's documents failing every cycle.
    pub fn group_tokens(&self) -> Result<(), ConfigError> {
        for account in &self.groups.accounts {
            self.account_token(&account.name)?;
        }
        Ok(())
    }

    /// The token of a named account: `[calltouch]`'s for the main one.
    pub fn account_token(&self, name: &str) -> Result<Secret, ConfigError> {
        if name == self.groups.main {
            return self.calltouch_token();
        }
        let Some((i, account)) = self
            .groups
            .accounts
            .iter()
            .enumerate()
            .find(|(_, account)| account.name == name)
        else {
            return Err(ConfigError::invalid(
                "groups.accounts",
                format!("no account is named `{name}`"),
            ));
        };
        read_secret(
            &format!("groups.accounts[{i}].token_env"),
            &account.token_env,
            &format!("groups.accounts[{i}].token_file"),
            account.token_file.as_ref().map(|p| self.resolve(p)),
        )
    }

    /// The Calltouch token: from the environment variable, else from `token_file`.
    pub fn calltouch_token(&self) -> Result<Secret, ConfigError> {
        read_secret(
            "calltouch.token_env",
            &self.calltouch.token_env,
            "calltouch.token_file",
            self.calltouch.token_file.as_ref().map(|p| self.resolve(p)),
        )
    }

    /// The password of `[source]` or a server `[register]`: from its environment variable,
    /// else from its `password_file`.
    pub fn password(&self, keys: &ConnectionKeys) -> Result<Secret, ConfigError> {
        read_secret(
            &format!("{}.password_env", keys.section),
            keys.password_env,
            &format!("{}.password_file", keys.section),
            keys.password_file.map(|p| self.resolve(p)),
        )
    }

    /// The 1C database's password.
    pub fn database_password(&self) -> Result<Secret, ConfigError> {
        self.password(&self.source.connection())
    }
}

impl Config {
    /// The status page's token, when one is set (the variable, else `token_file`): `None`
    /// when neither is, an error when the file cannot be read.
    pub fn status_token(&self) -> Result<Option<Secret>, ConfigError> {
        let settings = &self.status_page;
        let in_env = std::env::var(&settings.token_env).is_ok_and(|v| !v.trim().is_empty());
        if !in_env && settings.token_file.is_none() {
            return Ok(None);
        }
        read_secret(
            "status_page.token_env",
            &settings.token_env,
            "status_page.token_file",
            settings.token_file.as_ref().map(|p| self.resolve(p)),
        )
        .map(Some)
    }
}

fn read_secret(
    env_key: &str,
    env_name: &str,
    file_key: &str,
    file: Option<PathBuf>,
) -> Result<Secret, ConfigError> {
    if let Ok(value) = std::env::var(env_name) {
        if !value.trim().is_empty() {
            return Ok(Secret::new(value.trim()));
        }
    }
    let Some(path) = file else {
        return Err(ConfigError::invalid(
            env_key,
            format!("set the environment variable {env_name}, or `{file_key}`"),
        ));
    };
    crate::ops::privacy::warn_if_others_can_read(&path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::invalid(file_key, format!("cannot read {}: {e}", path.display()))
    })?;
    let value = text.lines().next().unwrap_or("").trim();
    if value.is_empty() {
        return Err(ConfigError::invalid(
            file_key,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(Secret::new(value))
}

pub mod sections;
pub mod stages;
pub mod validate;

#[cfg(test)]
mod tests;

/// The smallest valid config file, for the crate's unit tests (tests outside the crate build
/// theirs with testkit's `TestConfig`): account 123 and a PostgreSQL source; sections may follow.
#[cfg(test)]
pub(crate) const MINIMAL_TEST_CONFIG: &str = r#"
        [calltouch]
        site_id = "123"
        [source]
        kind = "postgres"
        preset = "alfa6"
        name_map = "map.toml"
        start_date = "2026-01-01"
        host = "localhost"
        database = "alfa"
        user = "reader"
    "#;

/// Parses a unit test's config text as if it were `test.toml` in the current folder.
#[cfg(test)]
pub(crate) fn parse_test_config(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"), Path::new("."))
}
