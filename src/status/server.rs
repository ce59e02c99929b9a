//! The status endpoints' server: where it may listen, the bearer token, and the read-only
//! GET / HEAD routes ([`super::http`] is the wire).
//!
//! It runs on a thread of its own with a single-threaded runtime, so a slow page never delays
//! `watch`'s cycles, and the register (whose SQLite connection cannot be shared between
//! threads) is opened per request on that thread: a register server that restarted is simply
//! reconnected by the next request.

use std::net::SocketAddr;
use std::rc::Rc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::http::{self, Request, Response, TEXT};
use super::{gather, gather_metrics, health, metrics, page, text};
use crate::config::{Config, ConfigError};
use crate::ops::privacy::Secret;
use crate::ops::schedule::Interval;
use crate::register::{self, RunLog};

/// Where the server listens, the token it asks for, and the cycle interval `/healthz` judges by.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Required from every client when set; always set off loopback.
    pub token: Option<Secret>,
    pub every: Interval,
}

impl Settings {
    /// The settings for `listen` (else `status_page.listen`). Off loopback the page would be
    /// reachable from the network: that needs `allow_remote = true` and a token.
    pub fn new(
        config: &Config,
        listen: Option<SocketAddr>,
        every: Interval,
    ) -> Result<Settings, ConfigError> {
        let page = &config.status_page;
        let listen = listen.unwrap_or(page.listen);
        let token = config.status_token()?;
        if !listen.ip().is_loopback() {
            if !page.allow_remote {
                return Err(ConfigError::Invalid {
                    key: "status_page.allow_remote".into(),
                    message: format!(
                        "{listen} is not a loopback address, so the status page would be \
                         reachable from the network: listen on 127.0.0.1, or set \
                         allow_remote = true and a token ({} or status_page.token_file)",
                        page.token_env
                    ),
                });
            }
            if token.is_none() {
                return Err(ConfigError::Invalid {
                    key: "status_page.token_env".into(),
                    message: format!(
                        "listening on {listen} needs a token: set the environment variable {}, \
                         or status_page.token_file",
                        page.token_env
                    ),
                });
            }
        }
        Ok(Settings {
            listen,
            token,
            every,
        })
    }
}

/// A running status server.
pub struct StatusServer {
    /// The address it listens on (with the port the system chose for port 0).
    pub address: SocketAddr,
    thread: std::thread::JoinHandle<()>,
}

impl StatusServer {
    /// Waits until the server stopped (after `stop` was cancelled).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// Binds now (so a taken port is reported at once) and serves until `stop` is cancelled.
pub fn start(
    config: Config,
    settings: Settings,
    stop: CancellationToken,
) -> std::io::Result<StatusServer> {
    let listener = std::net::TcpListener::bind(settings.listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let thread = std::thread::Builder::new()
        .name("status-page".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!("status page: cannot start its runtime: {error}");
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, accept(listener, config, settings, stop));
        })?;
    Ok(StatusServer { address, thread })
}

struct Shared {
    config: Config,
    settings: Settings,
}

async fn accept(
    listener: std::net::TcpListener,
    config: Config,
    settings: Settings,
    stop: CancellationToken,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("status page: cannot listen: {error}");
            return;
        }
    };
    let shared = Rc::new(Shared { config, settings });
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("status page: accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let shared = shared.clone();
        tokio::task::spawn_local(async move {
            let mut stream = stream;
            let (response, head_only) = match http::read_head(&mut stream, http::HEAD_TIMEOUT).await
            {
                None => return,
                Some(Err(refusal)) => (refusal, false),
                // HEAD is GET without the body, for monitors that only look at the status.
                Some(Ok(request)) => (respond(&shared, &request).await, request.method == "HEAD"),
            };
            http::answer(&mut stream, &response, head_only).await;
        });
    }
    tracing::info!("status page stopped");
}

/// Compares without stopping at the first difference, so the time taken does not tell how
/// much of a guessed token was right.
pub fn same_token(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let difference = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

fn authorized(settings: &Settings, request: &Request) -> bool {
    let Some(token) = &settings.token else {
        return true;
    };
    let given = request
        .authorization
        .as_deref()
        .and_then(|value| value.strip_prefix(b"Bearer "))
        .unwrap_or_default();
    same_token(given, token.expose().as_bytes())
}

const HTML: &str = "text/html; charset=utf-8";

async fn respond(shared: &Shared, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::new(405, TEXT, "read-only: only GET and HEAD\n".into())
            .with_header("allow", "GET, HEAD");
    }
    if !authorized(&shared.settings, request) {
        return Response::new(
            401,
            TEXT,
            "send the status page token as `Authorization: Bearer <token>`\n".into(),
        )
        .with_header("www-authenticate", "Bearer realm=\"alfa-calltouch\"");
    }
    let now = chrono::Local::now().naive_local();
    let every = shared.settings.every;
    let unreadable = |error: &dyn std::fmt::Display| {
        Response::new(
            503,
            TEXT,
            format!("unhealthy: the register cannot be read: {error}\n"),
        )
    };
    let register = match register::open(&shared.config).await {
        Ok(register) => register,
        Err(error) => return unreadable(&error),
    };
    match request.path.as_str() {
        "/" => {
            let number = request
                .query
                .as_deref()
                .and_then(|query| text::query_value(query, "number"));
            match gather(&register, every, now, number.as_deref()).await {
                Ok(data) => Response::new(200, HTML, page::render(&data)),
                Err(error) => unreadable(&error),
            }
        }
        "/metrics" => match gather_metrics(&register, every, now).await {
            Ok(data) => Response::new(200, metrics::CONTENT_TYPE, metrics::render(&data)),
            Err(error) => unreadable(&error),
        },
        "/healthz" => match register.last_run().await {
            Ok(last_run) => {
                let health = health::health(last_run.as_ref(), every, now);
                let (status, word) = if health.healthy {
                    (200, "ok")
                } else {
                    (503, "unhealthy")
                };
                Response::new(status, TEXT, format!("{word}: {}\n", health.reason))
            }
            Err(error) => unreadable(&error),
        },
        _ => Response::new(
            404,
            TEXT,
            "not found: the status page is /, metrics /metrics, health /healthz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_test_config, MINIMAL_TEST_CONFIG};

    fn config(extra: &str) -> Config {
        parse_test_config(&format!(
            "{MINIMAL_TEST_CONFIG}\n[status_page]\ntoken_env = \"ALFA_STATUS_TEST_TOKEN_UNSET\"\n{extra}"
        ))
        .unwrap()
    }

    fn every() -> Interval {
        Interval::from_minutes(5).unwrap()
    }

    #[test]
    fn loopback_needs_no_token() {
        let settings = Settings::new(&config(""), None, every()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8089");
        assert!(settings.token.is_none());
    }

    #[test]
    fn another_address_needs_the_explicit_setting_then_a_token() {
        let anywhere: SocketAddr = "0.0.0.0:8089".parse().unwrap();
        let error = Settings::new(&config(""), Some(anywhere), every()).unwrap_err();
        assert!(
            error.to_string().contains("status_page.allow_remote"),
            "{error}"
        );
        let error =
            Settings::new(&config("allow_remote = true"), Some(anywhere), every()).unwrap_err();
        assert!(
            error.to_string().contains(
                "needs a token: set the environment variable ALFA_STATUS_TEST_TOKEN_UNSET"
            ),
            "{error}"
        );
        let dir = std::env::temp_dir().join(format!("alfa-status-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token.txt");
        std::fs::write(&file, "s3cret\n").unwrap();
        let extra = format!(
            "allow_remote = true\ntoken_file = {:?}",
            file.display().to_string()
        );
        let settings = Settings::new(&config(&extra), Some(anywhere), every()).unwrap();
        assert_eq!(settings.token.unwrap().expose(), "s3cret");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abd", b"abc"));
        assert!(!same_token(b"ab", b"abc"));
        assert!(!same_token(b"", b"abc"));
    }
}
