//! The loop behind every server stream that delivers what a guest produces (pub/sub's
//! `PullMessages`, an input binding's `Read`): poll the guest with a short call, send what it
//! returned, and when it returned nothing wait *outside* the guest until more may be ready.
//! A failed poll is retried with backoff: the guest has already been rebuilt, and daprd never
//! reopens such a stream. Guest calls are never cancelled half-way; only the waits are.

use std::fmt::Display;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::Status;

/// Backoff between polls after a failed one.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What ends or holds a stream.
pub(crate) struct Signals {
    /// Becomes true when the client's side of the stream ends.
    pub stop: watch::Receiver<bool>,
    /// Becomes true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// While true, nothing is polled (pub/sub's Pause); `None` for streams that cannot pause.
    pub paused: Option<watch::Receiver<bool>>,
}

/// What the loop waits for before polling again.
enum Wait {
    /// Nothing was ready: the source's own wait, at most this long.
    Idle(Duration),
    /// The poll failed: this long.
    Backoff(Duration),
    /// Paused: until resumed (or stopped).
    Resumed,
}

/// Resolves when `rx` changes; never for `None`.
async fn changed(rx: &mut Option<watch::Receiver<bool>>) {
    match rx {
        Some(rx) => {
            let _ = rx.changed().await;
        }
        None => std::future::pending().await,
    }
}

/// Sends what `poll` returns into `out` until the client goes away, `stop` or `shutdown`.
/// `poll` returns a batch and, for when the batch is empty, the longest to wait before polling
/// again; `idle(d)` is that wait (it may end early, e.g. on a topic's wake-up).
pub(crate) async fn pump<T, E, P, PF, I, IF>(
    out: mpsc::Sender<Result<T, Status>>,
    signals: Signals,
    mut poll: P,
    mut idle: I,
) where
    E: Display,
    P: FnMut() -> PF,
    PF: Future<Output = Result<(Vec<T>, Duration), E>>,
    I: FnMut(Duration) -> IF,
    IF: Future<Output = ()>,
{
    let Signals {
        mut stop,
        mut shutdown,
        mut paused,
    } = signals;
    let mut backoff = MIN_BACKOFF;
    loop {
        if *stop.borrow() || *shutdown.borrow() || out.is_closed() {
            return;
        }
        let wait = if paused.as_ref().is_some_and(|p| *p.borrow()) {
            Wait::Resumed
        } else {
            match poll().await {
                Ok((items, _)) if !items.is_empty() => {
                    backoff = MIN_BACKOFF;
                    for item in items {
                        if out.send(Ok(item)).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
                Ok((_, most)) => Wait::Idle(most),
                Err(e) => {
                    tracing::warn!("stream poll failed, retrying in {backoff:?}: {e}");
                    let wait = Wait::Backoff(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            }
        };
        // Any signal ends a wait early; the loop then re-checks everything.
        tokio::select! {
            () = async {
                match wait {
                    Wait::Idle(d) => idle(d).await,
                    Wait::Backoff(d) => tokio::time::sleep(d).await,
                    Wait::Resumed => std::future::pending().await,
                }
            } => {}
            () = changed(&mut paused) => {}
            _ = stop.changed() => {}
            _ = shutdown.changed() => {}
            () = out.closed() => {}
        }
    }
}
