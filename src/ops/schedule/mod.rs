//! Scheduling: the assignment's «настройка регламентного задания». Renders ready-to-paste
//! entries that run one cycle every N minutes (a crontab line, a systemd service and timer, a
//! Windows Task Scheduler task), and works out when the next run is due.
//!
//! Rendering is pure: absolute paths and the interval go in, text comes out, so the exact text
//! is unit-tested. The tool holds its own run lock, so no entry needs `flock` or an overlap
//! guard of its own; a run that finds the lock taken exits at once with code 3.

use chrono::{Duration as TimeDelta, NaiveDateTime};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::domain::run::RunRecord;

/// The longest interval: a day. Every scheduler below can express it.
const MAX_MINUTES: u32 = 24 * 60;

/// Minutes between cycles, as `--every` takes it: `5m`, `1h`, `90m` or plain minutes `5`;
/// in the config, `[schedule] every_minutes = 5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "u32")]
pub struct Interval {
    minutes: u32,
}

impl TryFrom<u32> for Interval {
    type Error = IntervalError;

    fn try_from(minutes: u32) -> Result<Interval, IntervalError> {
        Interval::from_minutes(minutes)
    }
}

impl Interval {
    /// The default: the assignment's scheduled job runs every five minutes.
    pub const FIVE_MINUTES: Interval = Interval { minutes: 5 };

    pub fn from_minutes(minutes: u32) -> Result<Interval, IntervalError> {
        if (1..=MAX_MINUTES).contains(&minutes) {
            Ok(Interval { minutes })
        } else {
            Err(IntervalError(format!(
                "{minutes} minutes: the interval must be between 1 minute and 24 hours"
            )))
        }
    }

    pub fn minutes(self) -> u32 {
        self.minutes
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.minutes) * 60)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minutes.is_multiple_of(60) {
            write!(f, "{}h", self.minutes / 60)
        } else {
            write!(f, "{}m", self.minutes)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntervalError(String);

impl FromStr for Interval {
    type Err = IntervalError;

    fn from_str(text: &str) -> Result<Interval, IntervalError> {
        let text = text.trim();
        let (digits, per_unit) = match text.strip_suffix('h') {
            Some(hours) => (hours, 60),
            None => (text.strip_suffix('m').unwrap_or(text), 1),
        };
        let count: u32 = digits.trim().parse().map_err(|_| {
            IntervalError(format!(
                "{text:?} is not an interval; write minutes or hours, e.g. 5m, 15m or 1h"
            ))
        })?;
        Interval::from_minutes(count.saturating_mul(per_unit))
    }
}

/// What every entry needs: where the binary, the config and the log are, and how often to run.
/// Paths are absolute and in the target system's own form (`C:\…` for Windows).
#[derive(Debug, Clone)]
pub struct Plan {
    pub exe: String,
    pub config: String,
    /// The folder the cycle runs in: the config's folder.
    pub work_dir: String,
    /// Where cron and Task Scheduler append the log (systemd keeps it in the journal).
    pub log_file: String,
    pub every: Interval,
    /// Where the Windows task XML is saved for `schtasks /XML`.
    pub task_xml_file: String,
    /// The first start of the Windows task (Task Scheduler requires one).
    pub windows_start: NaiveDateTime,
}

/// A scheduler `schedule` writes entries for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    Cron,
    Systemd,
    Windows,
}

impl Scheduler {
    /// The schedulers of the system this program runs on.
    pub fn native() -> Vec<Scheduler> {
        if cfg!(windows) {
            vec![Scheduler::Windows]
        } else {
            vec![Scheduler::Cron, Scheduler::Systemd]
        }
    }
}

/// Every entry for the chosen schedulers, each under a heading saying what to do with it.
pub fn render(plan: &Plan, schedulers: &[Scheduler]) -> String {
    let sections: Vec<String> = schedulers
        .iter()
        .map(|scheduler| match scheduler {
            Scheduler::Cron => format!("== cron (Linux): one line ==\n{}", crontab(plan)),
            Scheduler::Systemd => format!(
                "== systemd (Linux): save these two files, then run the commands ==\n{}\n{}\n{}",
                systemd_service(plan),
                systemd_timer(plan),
                systemd_commands()
            ),
            Scheduler::Windows => format!(
                "== Windows Task Scheduler, in an administrator's cmd ==\n\
                 rem Quick: one command (no log file; the register still records every run):\n{}\n\
                 rem Full: save the XML below as {} (UTF-16; `schedule --xml-file` writes it), then:\n{}\n{}",
                schtasks_command(plan),
                plan.task_xml_file,
                schtasks_import_command(&plan.task_xml_file),
                windows_task_xml(plan)
            ),
        })
        .collect();
    sections.join("\n")
}

/// Whether a run is at work now, as the run lock and the last run's record tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Idle,
    /// Another process holds the run lock.
    Running,
    /// The last run recorded its start but no outcome, and nobody holds the lock: it was
    /// killed, crashed, or the machine stopped.
    Died,
}

/// What `schedule --show` prints: how the last run ended (or that one is at work, or died)
/// and when the next is due.
pub fn status(
    last_run: Option<&RunRecord>,
    activity: Activity,
    every: Interval,
    now: NaiveDateTime,
) -> String {
    let time = |at: &NaiveDateTime| at.format("%Y-%m-%d %H:%M:%S").to_string();
    let last = match (last_run, activity) {
        (Some(run), Activity::Running) => {
            format!("a run is in progress: started {}\n", time(&run.started_at))
        }
        (None, Activity::Running) => "a run is in progress\n".to_string(),
        (Some(run), Activity::Died) => format!(
            "the last run, started {}, ended without recording an outcome (killed, crashed or \
             the machine stopped); the next run repeats its unsettled work, and its log says \
             why it stopped\n",
            time(&run.started_at)
        ),
        (Some(run), _) => format!(
            "last run: started {}, finished {}, {}: {}\n",
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            run.finished_at.format("%Y-%m-%d %H:%M:%S"),
            run.outcome,
            run.summary
        ),
        (None, _) => String::new(),
    };
    format!(
        "{last}{}\n",
        due_line(last_run.map(|run| run.started_at), every, now)
    )
}

/// The name of the systemd units and of the Windows task.
pub const UNIT_NAME: &str = "alfa-calltouch";

/// A crontab line (with the comments a reader needs above it).
pub fn crontab(plan: &Plan) -> String {
    let command = format!(
        "{} --config {} run >> {} 2>&1",
        sh_quote(&plan.exe),
        sh_quote(&plan.config),
        sh_quote(&plan.log_file)
    );
    let (expression, note) = cron_expression(plan.every);
    let mut out = String::from(
        "# crontab -e, then paste (no flock needed: a run that finds another one active exits).\n\
         # Cron passes no environment: keep secrets in calltouch.token_file and source.password_file.\n",
    );
    if let Some(note) = note {
        out += &format!("# {note}\n");
    }
    // `%` ends the command in a crontab line unless escaped.
    out += &format!("{expression} {}\n", command.replace('%', "\\%"));
    out
}

/// The cron time fields for an interval, and a note when cron cannot repeat it exactly.
fn cron_expression(every: Interval) -> (String, Option<String>) {
    let minutes = every.minutes();
    if minutes == 1 {
        return ("* * * * *".into(), None);
    }
    if minutes < 60 {
        let note = (!60_u32.is_multiple_of(minutes)).then(|| {
            format!("cron restarts */{minutes} at every full hour, so one gap per hour is shorter; the systemd timer and Task Scheduler repeat exactly")
        });
        return (format!("*/{minutes} * * * *"), note);
    }
    let hours = minutes / 60;
    let exact = minutes.is_multiple_of(60) && 24_u32.is_multiple_of(hours);
    let note = (!exact).then(|| {
        format!("cron cannot repeat every {minutes} minutes; this runs every {hours} h — prefer the systemd timer")
    });
    let hour_field = if hours == 24 {
        "0".to_string()
    } else {
        format!("*/{hours}")
    };
    (format!("0 {hour_field} * * *"), note)
}

/// The systemd service that runs one cycle.
pub fn systemd_service(plan: &Plan) -> String {
    format!(
        "# /etc/systemd/system/{UNIT_NAME}.service
[Unit]
Description=Альфа-Авто to Calltouch: one sync cycle
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={exe} --config {config} run
WorkingDirectory={work_dir}
# 3: another run holds the lock; 4: Calltouch deferred documents to the next run.
SuccessExitStatus=3 4
# Secrets, if not in token_file/password_file: CALLTOUCH_TOKEN=…, ALFA_DB_PASSWORD=…
#EnvironmentFile=/etc/{UNIT_NAME}/env
#User={UNIT_NAME}
",
        exe = systemd_quote(&plan.exe),
        config = systemd_quote(&plan.config),
        work_dir = systemd_quote(&plan.work_dir),
    )
}

/// The systemd timer that starts the service every interval.
pub fn systemd_timer(plan: &Plan) -> String {
    let minutes = plan.every.minutes();
    format!(
        "# /etc/systemd/system/{UNIT_NAME}.timer
[Unit]
Description=Run {UNIT_NAME} every {minutes} min

[Timer]
OnBootSec=1min
OnUnitActiveSec={minutes}min
AccuracySec=10s

[Install]
WantedBy=timers.target
"
    )
}

/// The commands that install and start the systemd units.
pub fn systemd_commands() -> String {
    format!(
        "systemctl daemon-reload
systemctl enable --now {UNIT_NAME}.timer
systemctl list-timers {UNIT_NAME}.timer    # when it runs next
journalctl -u {UNIT_NAME}.service          # the log
"
    )
}

/// The one-line `schtasks` command: runs as SYSTEM every interval. It cannot set the working
/// folder or the log file; the XML task below does both.
pub fn schtasks_command(plan: &Plan) -> String {
    let action = format!("\\\"{}\\\" --config \\\"{}\\\" run", plan.exe, plan.config);
    let schedule = if plan.every.minutes() == MAX_MINUTES {
        "/SC DAILY".to_string()
    } else {
        format!("/SC MINUTE /MO {}", plan.every.minutes())
    };
    format!("schtasks /Create /TN \"{UNIT_NAME}\" /TR \"{action}\" {schedule} /RU SYSTEM /F\n")
}

/// The command that imports the XML task saved as `xml_file`.
pub fn schtasks_import_command(xml_file: &str) -> String {
    format!("schtasks /Create /TN \"{UNIT_NAME}\" /XML \"{xml_file}\" /F\n")
}

/// The Task Scheduler task: a time trigger repeating every interval forever, one instance at a
/// time (`IgnoreNew`), the config's folder as working directory, the log appended to a file.
pub fn windows_task_xml(plan: &Plan) -> String {
    let arguments = format!(
        "/c \"\"{}\" --config \"{}\" run >> \"{}\" 2>&1\"",
        plan.exe, plan.config, plan.log_file
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Альфа-Авто to Calltouch: one sync cycle every {minutes} min</Description>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <Repetition>
        <Interval>PT{minutes}M</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <StartBoundary>{start}</StartBoundary>
      <Enabled>true</Enabled>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT2H</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>cmd.exe</Command>
      <Arguments>{arguments}</Arguments>
      <WorkingDirectory>{work_dir}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"#,
        minutes = plan.every.minutes(),
        start = plan.windows_start.format("%Y-%m-%dT%H:%M:%S"),
        arguments = xml_escape(&arguments),
        work_dir = xml_escape(&plan.work_dir),
    )
}

/// The task XML as Task Scheduler imports it: UTF-16 little-endian with a byte-order mark.
pub fn utf16_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

/// When the run after one that started at `last_started` is due.
pub fn next_due(last_started: NaiveDateTime, every: Interval) -> NaiveDateTime {
    last_started + TimeDelta::minutes(i64::from(every.minutes()))
}

/// One line on the schedule's health: when the next run is due, or how late it is.
pub fn due_line(
    last_started: Option<NaiveDateTime>,
    every: Interval,
    now: NaiveDateTime,
) -> String {
    let Some(started) = last_started else {
        return format!("no run recorded yet; runs are expected every {every}");
    };
    let due = next_due(started, every);
    // A run may start a little late (timer accuracy, a long previous run); a whole extra
    // interval late means the scheduler is not running it.
    if now > next_due(due, every) {
        format!(
            "next run was due {} and has not happened: check that the scheduled task is enabled",
            due.format("%Y-%m-%d %H:%M")
        )
    } else {
        format!(
            "next run due {} (every {every})",
            due.format("%Y-%m-%d %H:%M")
        )
    }
}

/// Single-quotes a word for the POSIX shell cron runs.
fn sh_quote(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,".contains(c));
    if plain && !text.is_empty() {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Quotes a word for systemd's `ExecStart=` (double quotes, `\` and `"` escaped, `%` doubled).
fn systemd_quote(text: &str) -> String {
    let escaped = text
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    if escaped.contains(' ') || escaped != text {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
