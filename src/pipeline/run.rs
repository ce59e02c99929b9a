//! A scheduled run: one cycle under the run lock, its outcome recorded in the register's run
//! log, and the exit code that tells a scheduler how it went. `run` and `watch` run it.

use anyhow::Result;

use super::{run_cycle_with_progress, AccountClients, CycleSummary};
use crate::calltouch::client::CalltouchClient;
use crate::config::Config;
use crate::ops::exit::{self, RUN_IN_PROGRESS};
use crate::ops::progress;
use crate::register::{self, RunLog};
use crate::source;

/// One cycle under the run lock, with its outcome recorded in the register.
pub async fn run(config: &Config) -> Result<u8> {
    config.group_tokens()?;
    let mut register = register::open(config).await?;
    let _lock = register.lock_run().await?;
    let client = CalltouchClient::new(
        &config.calltouch,
        config.calltouch_token()?,
        config.deal.crm.clone(),
    )?;
    let clients = AccountClients::new(config, &client)?;
    let started = chrono::Local::now().naive_local();
    // Replaced by the outcome when the cycle ends; a run that dies leaves it, for
    // `schedule --show` to tell.
    register
        .record_run(started, started, RUN_IN_PROGRESS, "")
        .await?;
    let outcome = async {
        let mut source = source::open(config).await?;
        let progress = progress::for_log();
        let summary = run_cycle_with_progress(
            config,
            &mut source,
            &mut register,
            &clients,
            progress.as_ref(),
        )
        .await?;
        Ok::<_, anyhow::Error>(summary)
    }
    .await;
    let finished = chrono::Local::now().naive_local();
    match outcome {
        Ok(summary) => {
            let (code, result) = ended(&summary);
            register
                .record_run(started, finished, result, &summary.to_string())
                .await?;
            Ok(code)
        }
        Err(error) => {
            register
                .record_run(started, finished, "error", &format!("{error:#}"))
                .await?;
            Err(error)
        }
    }
}

/// Logs how a cycle ended and gives its exit code and the outcome the run log records.
fn ended(summary: &CycleSummary) -> (u8, &'static str) {
    tracing::info!(
        read = summary.read,
        created = summary.created,
        updated = summary.updated,
        unchanged = summary.unchanged,
        skipped = summary.skipped,
        failed = summary.failed,
        deferred = summary.deferred,
        checkpoint_moved = summary.checkpoint_moved,
        duration_secs = summary.duration.as_secs_f64(),
        "cycle finished"
    );
    if summary.failed > 0 {
        tracing::warn!(
            failed = summary.failed,
            "{} document(s) failed: `register --state failed` shows why and what to do; \
             `register retry --all-failed` sends them again once fixed",
            summary.failed
        );
    }
    // Failed documents need a person; deferred ones settle by themselves next run.
    if summary.failed > 0 {
        (exit::FAILED_DOCUMENTS, "failed documents")
    } else if summary.deferred > 0 {
        (exit::DEFERRED, "deferred")
    } else {
        (exit::OK, "ok")
    }
}
