//! The ack window of one `PullMessages` stream: at most [`MAX_UNACKED`] deliveries sent and
//! not yet acked (or nacked). Without it a stream would fetch as fast as HTTP/2 flow control
//! lets it, and the guest claims every message it fetches: one replica's stream would hold a
//! whole backlog while the other replicas sharing the subscription sit idle, and messages
//! queued behind a slow consumer would outlive their ack deadline and be delivered twice.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::Semaphore;

/// Most deliveries one `PullMessages` stream has sent and not seen acked.
pub const MAX_UNACKED: usize = 32;

/// Permits for sending deliveries; an ack of a delivery this stream sent gives one back.
#[derive(Debug)]
pub(super) struct AckWindow {
    permits: Semaphore,
    outstanding: Mutex<HashSet<String>>,
}

impl AckWindow {
    pub(super) fn new(size: usize) -> Self {
        Self {
            permits: Semaphore::new(size),
            outstanding: Mutex::new(HashSet::new()),
        }
    }

    /// Waits until at least one delivery may be sent, then reserves up to `max`; `None`
    /// once [`close`](Self::close)d.
    pub(super) async fn reserve(&self, max: usize) -> Option<usize> {
        self.permits.acquire().await.ok()?.forget();
        let extra = self.permits.available_permits().min(max.saturating_sub(1));
        let extra = match u32::try_from(extra)
            .ok()
            .and_then(|n| self.permits.try_acquire_many(n).ok())
        {
            Some(p) => {
                p.forget();
                extra
            }
            None => 0,
        };
        Some(1 + extra)
    }

    /// `ids` were sent out of `reserved` reservations: the rest go back.
    pub(super) fn sent<'a>(&self, reserved: usize, ids: impl Iterator<Item = &'a str>) {
        let mut outstanding = self.outstanding.lock().unwrap_or_else(|p| p.into_inner());
        let mut used = 0;
        for id in ids {
            if outstanding.insert(id.to_owned()) {
                used += 1;
            }
        }
        self.permits.add_permits(reserved.saturating_sub(used));
    }

    /// The client acked (or nacked) `id`: if this stream sent it, its slot is free again.
    pub(super) fn acked(&self, id: &str) {
        let removed = self
            .outstanding
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if removed {
            self.permits.add_permits(1);
        }
    }

    /// The stream is over: every waiting and later [`reserve`](Self::reserve) returns `None`.
    pub(super) fn close(&self) {
        self.permits.close();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn holds_at_most_the_window_and_acks_reopen_it() {
        let w = Arc::new(AckWindow::new(3));
        assert_eq!(w.reserve(8).await, Some(3));
        w.sent(3, ["a", "b"].into_iter());
        // One unused reservation went back.
        assert_eq!(w.reserve(8).await, Some(1));
        w.sent(1, ["c"].into_iter());
        let waiting = tokio::spawn({
            let w = w.clone();
            async move { w.reserve(8).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a full window waits");
        // Acks of ids this stream never sent (or twice) free nothing.
        w.acked("zzz");
        w.acked("a");
        w.acked("a");
        assert_eq!(waiting.await.unwrap(), Some(1));
        w.sent(1, std::iter::empty());
        assert_eq!(w.reserve(8).await, Some(1));
    }

    #[tokio::test]
    async fn closing_releases_a_waiter() {
        let w = Arc::new(AckWindow::new(1));
        assert_eq!(w.reserve(1).await, Some(1));
        let waiting = tokio::spawn({
            let w = w.clone();
            async move { w.reserve(1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        w.close();
        assert_eq!(waiting.await.unwrap(), None);
    }
}
