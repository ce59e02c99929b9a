//! A throwaway PostgreSQL cluster for tests and the demo: `initdb` into a temporary folder,
//! `pg_ctl start` on a free local port, stopped and removed on drop. By default logins are
//! trusted and TLS is off; [`ClusterOptions`] can require a password over TCP and turn TLS on
//! with a given certificate, as a production server would.
//!
//! When the process runs as root (containers, CI), PostgreSQL refuses to run, so the cluster is
//! run as the `postgres` OS user, which owns the folder. A guardian shell process stops the
//! cluster when the owning process exits without dropping it (e.g. a cluster kept in a `static`
//! shared by the tests of one file).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) were not found via `pg_config --bindir` or PATH. \
         Install them: Debian/Ubuntu `apt-get install postgresql`, Fedora/RHEL `dnf install postgresql-server`, \
         macOS `brew install postgresql`, Windows the installer from https://www.postgresql.org/download/windows/ \
         (then add its bin folder to PATH)"
    )]
    NotInstalled,
    #[error("{step} failed: {message}")]
    Step { step: String, message: String },
    #[error("database name {0:?} is not a plain lower-case identifier")]
    BadDatabaseName(String),
}

fn step_error(step: &str, message: impl Into<String>) -> ClusterError {
    ClusterError::Step {
        step: step.to_string(),
        message: message.into(),
    }
}

/// How a cluster starts: by default trust authentication and no TLS.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// The superuser's password: TCP logins must give it (scram-sha-256); the socket trusts.
    pub password: Option<String>,
    /// The server offers TLS (`ssl = on`) with this certificate.
    pub tls: Option<ServerTls>,
}

/// A server certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub certificate_pem: String,
    pub key_pem: String,
}

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    bindir: PathBuf,
    /// The temporary folder: `data/`, the socket, the server log.
    dir: PathBuf,
    port: u16,
    /// Run the server programs as this OS user (`postgres` when we are root).
    run_as: Option<String>,
    options: ClusterOptions,
}

impl PgCluster {
    /// Creates and starts a cluster (trust authentication, superuser `postgres`).
    pub fn start() -> Result<PgCluster, ClusterError> {
        PgCluster::start_with(ClusterOptions::default())
    }

    /// Creates and starts a cluster with a password or TLS.
    pub fn start_with(options: ClusterOptions) -> Result<PgCluster, ClusterError> {
        PgCluster::start_inner(options, None)
    }

    /// Creates and starts a cluster whose next transaction id is `next` (64-bit, epoch in the
    /// high half), set with `pg_resetwal` before the first start: for tests of what happens when
    /// 32-bit transaction ids wrap around, which would otherwise take billions of transactions.
    pub fn start_at_transaction(next: u64) -> Result<PgCluster, ClusterError> {
        PgCluster::start_inner(ClusterOptions::default(), Some(next))
    }

    fn start_inner(
        options: ClusterOptions,
        next_xid: Option<u64>,
    ) -> Result<PgCluster, ClusterError> {
        let bindir = find_bindir().ok_or(ClusterError::NotInstalled)?;
        let dir = temp_dir()?;
        let run_as = server_user();
        let mut cluster = PgCluster {
            bindir,
            dir,
            port: 0,
            run_as,
            options,
        };
        cluster.write_secrets()?;
        cluster.hand_over_dir()?;
        cluster.init()?;
        if let Some(next) = next_xid {
            cluster.set_next_transaction(next)?;
        }
        cluster.port = free_port()?;
        cluster.start_server()?;
        cluster.spawn_guardian();
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq-style connection string for a database of this cluster.
    pub fn connection_string(&self, database: &str) -> String {
        let password = match &self.options.password {
            Some(password) => format!(" password='{}'", password.replace('\'', "\\'")),
            None => String::new(),
        };
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={database}{password}",
            self.port
        )
    }

    /// The password file and the TLS files, written before the folder is handed to the server's
    /// user; the key readable by its owner only, as the server demands.
    fn write_secrets(&self) -> Result<(), ClusterError> {
        let write = |name: &str, text: &str| {
            std::fs::write(self.dir.join(name), text)
                .map_err(|e| step_error(&format!("write {name}"), e.to_string()))
        };
        if let Some(password) = &self.options.password {
            write("pwfile", password)?;
        }
        if let Some(tls) = &self.options.tls {
            write("server.crt", &tls.certificate_pem)?;
            write("server.key", &tls.key_pem)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    self.dir.join("server.key"),
                    std::fs::Permissions::from_mode(0o600),
                )
                .map_err(|e| step_error("chmod server.key", e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Creates an empty database and returns its connection string.
    pub async fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        let plain = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(ClusterError::BadDatabaseName(name.to_string()));
        }
        let (client, connection) =
            tokio_postgres::connect(&self.connection_string("postgres"), tokio_postgres::NoTls)
                .await
                .map_err(|e| step_error("connect", e.to_string()))?;
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| step_error("CREATE DATABASE", e.to_string()))?;
        drop(client);
        let _ = connection.await;
        Ok(self.connection_string(name))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn program(&self, name: &str) -> PathBuf {
        self.bindir
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }

    /// A command for a server program, run as the server user when needed.
    fn command(&self, program: &str) -> Command {
        let path = self.program(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    fn hand_over_dir(&self) -> Result<(), ClusterError> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        run(
            "chown",
            Command::new("chown").arg("-R").arg(user).arg(&self.dir),
        )
    }

    fn init(&self) -> Result<(), ClusterError> {
        let mut command = self.command("initdb");
        match &self.options.password {
            Some(_) => command
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", self.dir.join("pwfile").display())),
            None => command.args(["-A", "trust"]),
        };
        command
            .args([
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(self.data_dir());
        run("initdb", &mut command)
    }

    /// `pg_resetwal -x -e` on the stopped cluster. Rows `initdb` wrote last (the databases in
    /// `pg_database`) are frozen first in single-user mode, or ids far ahead would make them
    /// look not yet written. The commit log must already hold the segment of the new id (32
    /// pages of 8 KiB, four ids a byte), so a zeroed one is written.
    fn set_next_transaction(&self, next: u64) -> Result<(), ClusterError> {
        const IDS_PER_SEGMENT: u64 = 32 * 8192 * 4;
        let mut freeze = self.command("postgres");
        freeze
            .arg("--single")
            .arg("-D")
            .arg(self.data_dir())
            .arg("template1");
        run_with_input("VACUUM FREEZE", &mut freeze, "VACUUM FREEZE;\n")?;
        let (epoch, low) = (next >> 32, next & 0xFFFF_FFFF);
        let segment = self
            .data_dir()
            .join("pg_xact")
            .join(format!("{:04X}", low / IDS_PER_SEGMENT));
        if !segment.exists() {
            std::fs::write(&segment, vec![0u8; (IDS_PER_SEGMENT / 4) as usize])
                .map_err(|e| step_error("pg_xact segment", e.to_string()))?;
        }
        self.hand_over_dir()?;
        let mut command = self.command("pg_resetwal");
        command
            .arg("-x")
            .arg(low.to_string())
            .arg("-e")
            .arg(epoch.to_string())
            .arg("-D")
            .arg(self.data_dir());
        run("pg_resetwal", &mut command)
    }

    fn start_server(&self) -> Result<(), ClusterError> {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            socket_dir(&self.dir)
        );
        if self.options.tls.is_some() {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.dir.join("server.crt").display(),
                self.dir.join("server.key").display()
            ));
        }
        let log = self.dir.join("server.log");
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run("pg_ctl start", &mut command).map_err(|error| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            step_error(
                "pg_ctl start",
                format!(
                    "{error}; server log ends:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
            )
        })
    }

    /// The shell line that stops the server and removes the folder.
    #[cfg(unix)]
    fn stop_script(&self) -> String {
        let as_user = match &self.run_as {
            Some(user) => format!("runuser -u {} -- ", shell_quote(user)),
            None => String::new(),
        };
        format!(
            "{as_user}{} -D {} stop -m immediate >/dev/null 2>&1; rm -rf {}",
            shell_quote(&self.program("pg_ctl").to_string_lossy()),
            shell_quote(&self.data_dir().to_string_lossy()),
            shell_quote(&self.dir.to_string_lossy()),
        )
    }

    /// Stops the cluster when this process is gone, if `Drop` never runs.
    #[cfg(unix)]
    fn spawn_guardian(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; [ -d {dir} ] && {stop}",
            pid = std::process::id(),
            dir = shell_quote(&self.dir.to_string_lossy()),
            stop = self.stop_script(),
        );
        // Best effort: without the guardian only an abnormal exit leaves the cluster running.
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    #[cfg(not(unix))]
    fn spawn_guardian(&self) {}
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data_dir())
            .args(["stop", "-m", "immediate"]);
        let _ = run("pg_ctl stop", &mut command);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `run`, with `input` on the program's standard input.
fn run_with_input(step: &str, command: &mut Command, input: &str) -> Result<(), ClusterError> {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| step_error(step, e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| step_error(step, e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| step_error(step, e.to_string()))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(step_error(
            step,
            format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        )),
    }
}

fn run(step: &str, command: &mut Command) -> Result<(), ClusterError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| step_error(step, e.to_string()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(step_error(
            step,
            format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ))
    }
}

/// The folder of `initdb`/`pg_ctl`: `pg_config --bindir`, else the first on PATH.
fn find_bindir() -> Option<PathBuf> {
    let has_programs = |dir: &Path| {
        ["initdb", "pg_ctl"].iter().all(|p| {
            dir.join(format!("{p}{}", std::env::consts::EXE_SUFFIX))
                .is_file()
        })
    };
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    from_pg_config
        .into_iter()
        .chain(on_path)
        .find(|dir| has_programs(dir))
}

fn temp_dir() -> Result<PathBuf, ClusterError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "alfa-calltouch-pg-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| step_error("create temp dir", e.to_string()))?;
    Ok(dir)
}

fn free_port() -> Result<u16, ClusterError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| step_error("find a free port", e.to_string()))
}

/// PostgreSQL refuses to run as root; then the server runs as `postgres`.
#[cfg(unix)]
fn server_user() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&uid.stdout).trim() == "0").then(|| "postgres".to_string())
}

#[cfg(not(unix))]
fn server_user() -> Option<String> {
    None
}

/// The server's Unix-socket folder; Windows has no Unix sockets, an empty `-k` disables them.
fn socket_dir(dir: &Path) -> String {
    if cfg!(unix) {
        dir.display().to_string()
    } else {
        "\"\"".to_string()
    }
}

#[cfg(unix)]
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
