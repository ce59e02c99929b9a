//! Each stage's settings built from the file: the source's and the register's, the database
//! endpoints, and the dealer-group accounts. The stages never read the configuration itself.

use std::time::Duration;

use super::{Config, ConnectionKeys};
use crate::db::{ConnectError, Endpoint, Login, Role, Tls};
use crate::register::settings::{RegisterKind, RegisterSettings};
use crate::rules::accounts::{Account, Accounts};
use crate::source::settings::{NameMapSettings, SourceSettings};

// Built here, so the pure account choice in `rules::accounts` needs no config.
impl Accounts {
    /// The accounts a config names; a config without `[groups]` has one, the `[calltouch]` one,
    /// taking every document, as before dealer groups existed.
    pub fn of(config: &Config) -> Accounts {
        let groups = &config.groups;
        let mut list = vec![Account {
            name: groups.main.clone(),
            site_id: config.calltouch.site_id.trim().to_string(),
            departments: groups.departments.clone(),
            organisations: groups.organisations.clone(),
        }];
        list.extend(groups.accounts.iter().map(|extra| Account {
            name: extra.name.clone(),
            site_id: extra.site_id.trim().to_string(),
            departments: extra.departments.clone(),
            organisations: extra.organisations.clone(),
        }));
        let rest = match groups.rest.as_str() {
            "none" => None,
            name => list.iter().position(|account| account.name == name),
        };
        Accounts { list, rest }
    }
}

impl From<&Config> for NameMapSettings {
    fn from(config: &Config) -> NameMapSettings {
        NameMapSettings {
            kind: config.source.kind,
            preset: config.source.preset,
            path: config.name_map_path(),
        }
    }
}

impl From<&Config> for SourceSettings {
    fn from(config: &Config) -> SourceSettings {
        SourceSettings {
            name_map: config.into(),
            endpoint: Endpoint::source(config),
            query_timeout: Duration::from_secs(config.source.query_timeout_secs),
            detection: config.source.change_detection(),
        }
    }
}

impl From<&Config> for RegisterSettings {
    fn from(config: &Config) -> RegisterSettings {
        let schema = config.register.schema.clone();
        match config.register.kind {
            RegisterKind::Sqlite => RegisterSettings::Sqlite {
                path: config.register_path(),
            },
            RegisterKind::Postgres => RegisterSettings::Postgres {
                endpoint: Endpoint::register(config),
                schema,
            },
            RegisterKind::Mssql => RegisterSettings::Mssql {
                endpoint: Endpoint::register(config),
                schema,
            },
        }
    }
}

// The database layer's endpoints are built here, so `db` never reads the configuration.
impl Endpoint {
    /// `[source]`, with its password from the environment or its file.
    pub fn source(config: &Config) -> Result<Endpoint, ConnectError> {
        Endpoint::of(config, Role::Source, &config.source.connection())
    }

    /// A server `[register]`, with its password from the environment or its file.
    pub fn register(config: &Config) -> Result<Endpoint, ConnectError> {
        Endpoint::of(config, Role::Register, &config.register.connection())
    }

    fn of(config: &Config, role: Role, keys: &ConnectionKeys) -> Result<Endpoint, ConnectError> {
        let mut endpoint = Endpoint {
            role,
            host: keys.host.to_string(),
            port: keys.port,
            instance: keys.instance.map(str::to_string),
            database: keys.database.to_string(),
            login: Login::Integrated,
            tls: Tls {
                mode: keys.tls,
                ca_file: keys.ca_file.map(|p| config.resolve(p)),
                trust_server_certificate: keys.trust_server_certificate,
            },
            connect_timeout: Duration::from_secs(keys.connect_timeout_secs),
        };
        if !keys.integrated_auth {
            let password = config
                .password(keys)
                .map_err(|e| endpoint.setup_error(e.to_string()))?;
            endpoint.login = Login::Password {
                user: keys.user.unwrap_or_default().to_string(),
                password,
            };
        }
        Ok(endpoint)
    }
}
