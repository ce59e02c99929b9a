//! Each stage's settings built from the file: the source's and the register's, the database
//! endpoints, and the dealer-group accounts. The stages never read the configuration itself.

use std::time::Duration;

use super::Config;
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
        let s = &config.source;
        let mut endpoint = Endpoint {
            role: Role::Source,
            host: s.host.clone(),
            port: s.port,
            instance: s.instance.clone(),
            database: s.database.clone(),
            login: Login::Integrated,
            tls: Tls {
                mode: s.tls,
                ca_file: s.ca_file.as_ref().map(|p| config.resolve(p)),
                trust_server_certificate: s.trust_server_certificate,
            },
            connect_timeout: Duration::from_secs(s.connect_timeout_secs),
        };
        if !s.integrated_auth {
            let password = config
                .database_password()
                .map_err(|e| endpoint.setup_error(e.to_string()))?;
            endpoint.login = Login::Password {
                user: s.user.clone().unwrap_or_default(),
                password,
            };
        }
        Ok(endpoint)
    }

    /// A server `[register]`, with its password from the environment or its file.
    pub fn register(config: &Config) -> Result<Endpoint, ConnectError> {
        let r = &config.register;
        let mut endpoint = Endpoint {
            role: Role::Register,
            host: r.host.clone(),
            port: r.port,
            instance: r.instance.clone(),
            database: r.database.clone(),
            login: Login::Integrated,
            tls: Tls {
                mode: r.tls,
                ca_file: r.ca_file.as_ref().map(|p| config.resolve(p)),
                trust_server_certificate: r.trust_server_certificate,
            },
            connect_timeout: Duration::from_secs(r.connect_timeout_secs),
        };
        if !r.integrated_auth {
            let password = config
                .register_password()
                .map_err(|e| endpoint.setup_error(e.to_string()))?;
            endpoint.login = Login::Password {
                user: r.user.clone().unwrap_or_default(),
                password,
            };
        }
        Ok(endpoint)
    }
}
