//! The schedule's unit tests: intervals, the cron, systemd and Task Scheduler texts, and the
//! status line.

use super::*;
use chrono::NaiveDate;

fn at(hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 28)
        .unwrap()
        .and_hms_opt(hour, minute, 0)
        .unwrap()
}

fn every(minutes: u32) -> Interval {
    Interval::from_minutes(minutes).unwrap()
}

fn linux_plan() -> Plan {
    Plan {
        exe: "/opt/alfa-calltouch/alfa-calltouch".into(),
        config: "/etc/alfa-calltouch/alfa-calltouch.toml".into(),
        work_dir: "/etc/alfa-calltouch".into(),
        log_file: "/var/log/alfa-calltouch.log".into(),
        every: every(5),
        task_xml_file: "/etc/alfa-calltouch/alfa-calltouch-task.xml".into(),
        windows_start: at(0, 0),
    }
}

fn windows_plan() -> Plan {
    Plan {
        exe: r"C:\Program Files\alfa-calltouch\alfa-calltouch.exe".into(),
        config: r"C:\ProgramData\alfa-calltouch\alfa-calltouch.toml".into(),
        work_dir: r"C:\ProgramData\alfa-calltouch".into(),
        log_file: r"C:\ProgramData\alfa-calltouch\alfa-calltouch.log".into(),
        every: every(5),
        task_xml_file: r"C:\ProgramData\alfa-calltouch\alfa-calltouch-task.xml".into(),
        windows_start: at(0, 0),
    }
}

#[test]
fn intervals_parse_minutes_and_hours() {
    assert_eq!("5m".parse::<Interval>().unwrap().minutes(), 5);
    assert_eq!("15".parse::<Interval>().unwrap().minutes(), 15);
    assert_eq!("2h".parse::<Interval>().unwrap().minutes(), 120);
    assert_eq!("90m".parse::<Interval>().unwrap().to_string(), "90m");
    assert_eq!("60m".parse::<Interval>().unwrap().to_string(), "1h");
    for bad in ["0m", "5s", "", "25h", "-5m"] {
        assert!(bad.parse::<Interval>().is_err(), "{bad:?} accepted");
    }
}

#[test]
fn the_crontab_line_runs_the_absolute_binary_and_appends_the_log() {
    assert_eq!(
            crontab(&linux_plan()),
            "# crontab -e, then paste (no flock needed: a run that finds another one active exits).
# Cron passes no environment: keep secrets in calltouch.token_file and source.password_file.
*/5 * * * * /opt/alfa-calltouch/alfa-calltouch --config /etc/alfa-calltouch/alfa-calltouch.toml run >> /var/log/alfa-calltouch.log 2>&1
"
        );
}

#[test]
fn crontab_quotes_spaces_and_escapes_percent() {
    let plan = Plan {
        config: "/srv/my configs/50%.toml".into(),
        ..linux_plan()
    };
    let line = crontab(&plan);
    assert!(
        line.contains("--config '/srv/my configs/50\\%.toml' run"),
        "{line}"
    );
}

#[test]
fn cron_expressions_say_when_cron_cannot_repeat_exactly() {
    assert_eq!(cron_expression(every(1)), ("* * * * *".into(), None));
    assert_eq!(cron_expression(every(15)), ("*/15 * * * *".into(), None));
    assert_eq!(cron_expression(every(120)), ("0 */2 * * *".into(), None));
    assert_eq!(cron_expression(every(1440)), ("0 0 * * *".into(), None));
    assert!(cron_expression(every(7)).1.is_some());
    assert!(cron_expression(every(90)).1.is_some());
}

#[test]
fn the_systemd_units_run_one_cycle_every_interval() {
    assert_eq!(
        systemd_service(&linux_plan()),
        "# /etc/systemd/system/alfa-calltouch.service
[Unit]
Description=Альфа-Авто to Calltouch: one sync cycle
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/opt/alfa-calltouch/alfa-calltouch --config /etc/alfa-calltouch/alfa-calltouch.toml run
WorkingDirectory=/etc/alfa-calltouch
# 3: another run holds the lock; 4: Calltouch deferred documents to the next run.
SuccessExitStatus=3 4
# Secrets, if not in token_file/password_file: CALLTOUCH_TOKEN=…, ALFA_DB_PASSWORD=…
#EnvironmentFile=/etc/alfa-calltouch/env
#User=alfa-calltouch
"
    );
    assert_eq!(
        systemd_timer(&linux_plan()),
        "# /etc/systemd/system/alfa-calltouch.timer
[Unit]
Description=Run alfa-calltouch every 5 min

[Timer]
OnBootSec=1min
OnUnitActiveSec=5min
AccuracySec=10s

[Install]
WantedBy=timers.target
"
    );
}

#[test]
fn systemd_quotes_paths_with_spaces() {
    assert_eq!(systemd_quote("/opt/a b/x"), "\"/opt/a b/x\"");
    assert_eq!(systemd_quote("/opt/50%"), "\"/opt/50%%\"");
    assert_eq!(systemd_quote("/opt/x"), "/opt/x");
}

#[test]
fn schtasks_runs_the_binary_as_system_every_interval() {
    assert_eq!(
        schtasks_command(&windows_plan()),
        r#"schtasks /Create /TN "alfa-calltouch" /TR "\"C:\Program Files\alfa-calltouch\alfa-calltouch.exe\" --config \"C:\ProgramData\alfa-calltouch\alfa-calltouch.toml\" run" /SC MINUTE /MO 5 /RU SYSTEM /F
"#
    );
}

#[test]
fn the_task_xml_repeats_every_interval_one_instance_at_a_time() {
    assert_eq!(
        windows_task_xml(&windows_plan()),
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Альфа-Авто to Calltouch: one sync cycle every 5 min</Description>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <Repetition>
        <Interval>PT5M</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <StartBoundary>2026-11-28T00:00:00</StartBoundary>
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
      <Arguments>/c &quot;&quot;C:\Program Files\alfa-calltouch\alfa-calltouch.exe&quot; --config &quot;C:\ProgramData\alfa-calltouch\alfa-calltouch.toml&quot; run &gt;&gt; &quot;C:\ProgramData\alfa-calltouch\alfa-calltouch.log&quot; 2&gt;&amp;1&quot;</Arguments>
      <WorkingDirectory>C:\ProgramData\alfa-calltouch</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"#
    );
}

#[test]
fn the_task_file_is_utf16_with_a_byte_order_mark() {
    assert_eq!(utf16_with_bom("<a"), vec![0xFF, 0xFE, b'<', 0, b'a', 0]);
}

#[test]
fn rendering_puts_each_scheduler_under_its_heading() {
    let text = render(&windows_plan(), &[Scheduler::Windows]);
    assert!(text.starts_with("== Windows Task Scheduler, in an administrator's cmd ==\n"));
    assert!(text.contains(&schtasks_command(&windows_plan())));
    assert!(text.contains(
            r#"schtasks /Create /TN "alfa-calltouch" /XML "C:\ProgramData\alfa-calltouch\alfa-calltouch-task.xml" /F"#
        ));
    assert!(text.ends_with(&windows_task_xml(&windows_plan())));
    let text = render(&linux_plan(), &[Scheduler::Cron, Scheduler::Systemd]);
    assert!(text.starts_with("== cron (Linux): one line ==\n# crontab -e"));
    assert!(text.contains("\n== systemd (Linux): save these two files, then run the commands ==\n"));
    assert!(text.contains("systemctl enable --now alfa-calltouch.timer\n"));
}

#[test]
fn the_status_shows_the_last_run_and_the_next() {
    let run = |finished, outcome: &str, summary: &str| RunRecord {
        started_at: at(10, 0),
        finished_at: finished,
        outcome: outcome.into(),
        summary: summary.into(),
    };
    let last = run(at(10, 1), "ok", "read 3, created 3");
    assert_eq!(
            status(Some(&last), Activity::Idle, every(5), at(10, 3)),
            "last run: started 2026-11-28 10:00:00, finished 2026-11-28 10:01:00, ok: read 3, created 3\n\
             next run due 2026-11-28 10:05 (every 5m)\n"
        );
    let running = run(at(10, 0), "running", "");
    assert!(
        status(Some(&running), Activity::Running, every(5), at(10, 3))
            .starts_with("a run is in progress: started 2026-11-28 10:00:00\n")
    );
    assert!(status(Some(&running), Activity::Died, every(5), at(10, 3))
        .starts_with("the last run, started 2026-11-28 10:00:00, ended without recording"));
}

#[test]
fn the_due_line_names_the_next_run_or_a_stalled_schedule() {
    assert_eq!(
        due_line(Some(at(10, 0)), every(5), at(10, 2)),
        "next run due 2026-11-28 10:05 (every 5m)"
    );
    assert_eq!(
        due_line(Some(at(10, 0)), every(5), at(10, 7)),
        "next run due 2026-11-28 10:05 (every 5m)"
    );
    assert_eq!(
            due_line(Some(at(10, 0)), every(5), at(10, 30)),
            "next run was due 2026-11-28 10:05 and has not happened: check that the scheduled task is enabled"
        );
    assert_eq!(
        due_line(None, every(5), at(10, 0)),
        "no run recorded yet; runs are expected every 5m"
    );
}
