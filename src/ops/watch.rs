//! `watch`: the sync cycle in a loop, for running as a long-lived service instead of a
//! scheduled task. A stop request (Ctrl-C, SIGTERM, Ctrl-Break) ends the wait at once, or lets
//! the running cycle finish first, so a stop never leaves a cycle half done. A failed cycle is
//! logged and the loop goes on: the next cycle retries.

use std::future::Future;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Runs `cycle` now and then every `every` (start to start; a cycle longer than the interval
/// is followed by the next one at once) until `stop` is cancelled. Returns how many cycles ran.
pub async fn run_every<F, Fut, T>(every: Duration, stop: &CancellationToken, mut cycle: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut cycles = 0;
    loop {
        tokio::select! {
            // Checked first, so a stop that came during a cycle wins over a tick already due.
            biased;
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        // The cycle is not raced against `stop`: it always completes.
        if let Err(error) = cycle().await {
            tracing::error!("cycle failed, the next one retries: {error:#}");
        }
        cycles += 1;
    }
    tracing::info!("stopped after {cycles} cycles");
    cycles
}

/// What stops `watch` on this platform, for its help and log: Windows has no SIGTERM, and Unix
/// has no Ctrl-Break.
#[cfg(windows)]
pub const STOP_REQUESTS: &str = "Ctrl-C or Ctrl-Break";
#[cfg(unix)]
pub const STOP_REQUESTS: &str = "Ctrl-C or SIGTERM";
#[cfg(not(any(unix, windows)))]
pub const STOP_REQUESTS: &str = "Ctrl-C";

/// Cancels `stop` on the first stop request from the operating system: Ctrl-C everywhere,
/// SIGTERM on Unix (`systemctl stop`, `docker stop`), Ctrl-Break on Windows.
pub fn cancel_on_stop_request(stop: CancellationToken) {
    tokio::spawn(async move {
        match stop_request().await {
            Ok(signal) => {
                tracing::info!("{signal} received: finishing the current cycle, then stopping")
            }
            Err(error) => tracing::error!("cannot listen for stop requests ({error}); stopping"),
        }
        stop.cancel();
    });
}

#[cfg(unix)]
async fn stop_request() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map(|()| "Ctrl-C"),
        _ = terminate.recv() => Ok("SIGTERM"),
    }
}

#[cfg(windows)]
async fn stop_request() -> std::io::Result<&'static str> {
    let mut ctrl_break = tokio::signal::windows::ctrl_break()?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map(|()| "Ctrl-C"),
        _ = ctrl_break.recv() => Ok("Ctrl-Break"),
    }
}

#[cfg(not(any(unix, windows)))]
async fn stop_request() -> std::io::Result<&'static str> {
    tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    const EVERY: Duration = Duration::from_secs(300);

    #[tokio::test(start_paused = true)]
    async fn a_stop_during_the_wait_returns_at_once() {
        let stop = CancellationToken::new();
        let canceller = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            canceller.cancel();
        });
        let started = tokio::time::Instant::now();
        let cycles = run_every(EVERY, &stop, || async { Ok(()) }).await;
        assert_eq!(cycles, 1, "the first cycle runs at once");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(10),
            "the wait was abandoned"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_during_a_cycle_lets_it_complete() {
        let stop = CancellationToken::new();
        let completed = Arc::new(AtomicU32::new(0));
        let cycles = run_every(EVERY, &stop, || {
            let stop = stop.clone();
            let completed = completed.clone();
            async move {
                stop.cancel();
                tokio::time::sleep(Duration::from_secs(30)).await;
                completed.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .await;
        assert_eq!(cycles, 1);
        assert_eq!(
            completed.load(Ordering::SeqCst),
            1,
            "the cycle ran to its end"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_cycle_does_not_end_the_loop() {
        let stop = CancellationToken::new();
        let attempts = Arc::new(AtomicU32::new(0));
        let started = tokio::time::Instant::now();
        let cycles = run_every(EVERY, &stop, || {
            let stop = stop.clone();
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if attempt == 3 {
                    stop.cancel();
                    return Ok(());
                }
                anyhow::bail!("database unreachable")
            }
        })
        .await;
        assert_eq!(cycles, 3);
        assert_eq!(
            started.elapsed(),
            EVERY * 2,
            "cycles start one interval apart"
        );
    }
}
