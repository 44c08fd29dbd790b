//! The instances behind one [`super::guest::Guest`]: a pool of `concurrency` slots, each
//! empty or holding one live instance, handed out one call at a time.
//!
//! - A call waits for a free slot (FIFO, bounded by its deadline), takes the instance *out*
//!   of the slot for the call and puts it back after. A call whose future is dropped midway
//!   (the client cancelled, or its deadline passed in the transport) drops the instance with
//!   it, so the slot is empty and the next call builds a fresh one: an abandoned wasm call
//!   never leaves a half-entered instance behind for an unrelated caller.
//! - Idle instances are dropped by the runtime's sweeper ([`Idle`]) once unused for the
//!   component's `idleTimeout`, freeing their memory; the next call rebuilds one.

use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};
use wasmtime::Store;

use super::sandbox::InstanceState;

/// One live instance: its store, its bindings and when it was last used.
pub(crate) struct Live<W> {
    pub(crate) store: Store<InstanceState>,
    pub(crate) bindings: W,
    /// Linear memory at which the instance is replaced between calls (see [`recycle_at`]).
    pub(crate) recycle_at: usize,
    pub(crate) last_used: Instant,
}

/// When an instance holding `baseline` bytes after `init` is recycled: once it has used three
/// quarters of its headroom under the limit. Linear memory never shrinks, and some guest
/// runtimes never free what the host passes in (componentize-py 0.25 and componentize-js 0.23
/// keep every call's argument buffers), so a long-lived instance would otherwise end in a
/// failed call at the limit; replacing it between calls costs one instantiation and no call.
pub(crate) fn recycle_at(baseline: usize, max: usize) -> usize {
    baseline + max.saturating_sub(baseline) / 4 * 3
}

/// A slot held by one call (or by `init`, which holds them all).
pub(crate) type Held<'a, W> = MutexGuard<'a, Option<Live<W>>>;

/// The slots of one guest.
pub(crate) struct Pool<W> {
    slots: Box<[Mutex<Option<Live<W>>>]>,
    free: Semaphore,
    idle_timeout: Option<Duration>,
}

impl<W> Pool<W> {
    /// `size` empty slots (at least one).
    pub(crate) fn new(size: usize, idle_timeout: Option<Duration>) -> Self {
        let size = size.max(1);
        Self {
            slots: (0..size).map(|_| Mutex::new(None)).collect(),
            free: Semaphore::new(size),
            idle_timeout,
        }
    }

    /// A free slot, waiting until `deadline` at most (`None`: none became free in time).
    pub(crate) async fn acquire(
        &self,
        deadline: Instant,
    ) -> Option<(SemaphorePermit<'_>, Held<'_, W>)> {
        // A free slot is taken without arming a timer; only a caller that has to queue does.
        let permit = match self.free.try_acquire() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout_at(deadline.into(), self.free.acquire())
                .await
                .ok()?
                .ok()?,
        };
        // A permit means at least one slot is unlocked: each permit holder locks one.
        let slot = self.slots.iter().find_map(|s| s.try_lock().ok())?;
        Some((permit, slot))
    }

    /// Every slot, once each call in progress has finished (for `init`).
    pub(crate) async fn acquire_all(&self) -> Option<(SemaphorePermit<'_>, Vec<Held<'_, W>>)> {
        let n = u32::try_from(self.slots.len()).ok()?;
        let permit = self.free.acquire_many(n).await.ok()?;
        let held = self
            .slots
            .iter()
            .filter_map(|s| s.try_lock().ok())
            .collect();
        Some((permit, held))
    }
}

/// Something the runtime's sweeper visits about once a second.
pub(crate) trait Idle: Send + Sync {
    /// Drops instances unused since before their idle timeout; returns how many.
    fn evict_idle(&self, now: Instant) -> usize;
}

impl<W: Send + Sync> Idle for Pool<W> {
    fn evict_idle(&self, now: Instant) -> usize {
        let Some(idle) = self.idle_timeout else {
            return 0;
        };
        let mut evicted = 0;
        for slot in &self.slots {
            // The sweeper takes a permit like a call does, so a caller holding a permit
            // always finds an unlocked slot. None free: every slot is in use, none idle.
            let Ok(_permit) = self.free.try_acquire() else {
                break;
            };
            // A slot in use is not idle; a slot being built is locked too.
            if let Ok(mut s) = slot.try_lock()
                && s.as_ref()
                    .is_some_and(|l| now.saturating_duration_since(l.last_used) >= idle)
            {
                *s = None;
                evicted += 1;
            }
        }
        evicted
    }
}

/// The sweeper's list: weak, so a guest that is gone simply drops out.
#[derive(Default)]
pub(crate) struct IdleList(std::sync::Mutex<Vec<Weak<dyn Idle>>>);

impl std::fmt::Debug for IdleList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleList").finish_non_exhaustive()
    }
}

impl IdleList {
    pub(crate) fn register(&self, pool: Weak<dyn Idle>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(pool);
    }

    /// Visits every pool still alive; forgets the others.
    pub(crate) fn sweep(&self, now: Instant) -> usize {
        let pools: Vec<_> = {
            let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|w| w.strong_count() > 0);
            list.clone()
        };
        // Instances are dropped outside the list's lock.
        pools
            .iter()
            .filter_map(Weak::upgrade)
            .map(|p| p.evict_idle(now))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_is_recycled_at_three_quarters_of_its_headroom() {
        assert_eq!(recycle_at(0, 64 << 20), 48 << 20);
        assert_eq!(recycle_at(16 << 20, 64 << 20), (16 << 20) + (36 << 20));
        // Already at or past the limit after init: recycled after every call, never negative.
        assert_eq!(recycle_at(70 << 20, 64 << 20), 70 << 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweeper_never_makes_a_caller_miss_a_free_slot() {
        // The sweeper looks at slots while calls come and go: a caller holding a permit
        // must always find an unlocked slot (it once could not, when the sweeper locked one
        // without a permit, and the call failed as if the pool had been full).
        let pool: std::sync::Arc<Pool<()>> =
            std::sync::Arc::new(Pool::new(1, Some(Duration::from_secs(1))));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sweeper = {
            let (pool, stop) = (pool.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    pool.evict_idle(Instant::now());
                }
            })
        };
        for _ in 0..20_000 {
            let got = pool.acquire(Instant::now() + Duration::from_secs(1)).await;
            assert!(got.is_some(), "a free slot was missed");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sweeper.join().unwrap();
    }

    #[tokio::test]
    async fn a_full_pool_hands_out_each_slot_once_and_times_out_the_next_caller() {
        let pool: Pool<()> = Pool::new(2, None);
        let soon = Instant::now() + Duration::from_millis(50);
        let a = pool.acquire(soon).await.unwrap();
        let b = pool.acquire(soon).await.unwrap();
        let started = Instant::now();
        assert!(pool.acquire(soon).await.is_none());
        assert!(started.elapsed() >= Duration::from_millis(40));
        drop(a);
        let c = pool
            .acquire(Instant::now() + Duration::from_millis(50))
            .await;
        assert!(c.is_some());
        drop((b, c));
        let (_, all) = pool.acquire_all().await.unwrap();
        assert_eq!(all.len(), 2);
    }
}
