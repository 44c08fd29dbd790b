//! Group commit: concurrent commits to one bucket share one write transaction and one fsync.
//!
//! A durable commit costs an fsync (hundreds of microseconds) and a bucket's write
//! transactions run one after another, so commits that arrive together would otherwise
//! queue behind each other's fsyncs. Instead a commit joins its bucket's [`Queue`]; one
//! committer per bucket (a task on tokio's blocking pool, started by the commit that finds
//! none running) takes everything queued, up to a bound, applies it in one transaction,
//! commits that, and answers each commit in it; it goes round again until the queue is
//! empty. Nothing waits for company: a lone commit is committed at once, and commits group
//! by themselves while an fsync is in flight.
//!
//! A commit is answered only once its transaction is durable, or has failed (then every
//! commit in that transaction gets the error; none was applied). A caller that stops
//! waiting loses nothing and corrupts nothing: its commit stays queued and is committed
//! like any other, only the answer goes nowhere.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::bucket::{CommitError, KvError, Write, validate_writes};

/// Most commits in one transaction, so one round's answers are never held back long.
const MAX_GROUP_COMMITS: usize = 256;
/// Most bytes of keys and values in one transaction, so a group's writes stay a bounded
/// amount of memory. A single commit larger than this is a group of its own.
const MAX_GROUP_BYTES: usize = 64 << 20;

/// What one commit of a group comes to: its versions, or why it did not apply.
pub(super) type Outcome = Result<Vec<u64>, CommitError>;

/// A backend that can apply several commits in one durable transaction.
pub(super) trait GroupCommit: Send + Sync + 'static {
    /// Applies `commits` in order in one transaction and commits it durably. Each commit is
    /// checked against the state its predecessors in the group left and applies whole or not
    /// at all: its [`Outcome`], one per commit, in order. `Err` means the transaction did not
    /// commit, so none of them applied.
    fn commit_group(&self, commits: &[&[Write]]) -> Result<Vec<Outcome>, KvError>;
}

/// One bucket's commits waiting for the committer.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    /// Transactions the committers of this queue have run, for tests that check grouping.
    #[cfg(test)]
    transactions: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Pending>,
    /// Whether a committer owns the queue. Set by the commit that starts one; cleared by the
    /// committer under the same lock in which it finds the queue empty, so a commit queued
    /// after that finds it clear and starts the next committer.
    running: bool,
}

struct Pending {
    writes: Vec<Write>,
    bytes: usize,
    answer: oneshot::Sender<Outcome>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and the state stays consistent anyway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `writes` to `backend` in the next group; resolves once that group is durable.
    /// Size limits are checked here, so an invalid commit fails alone, without queueing.
    pub(super) async fn commit<B: GroupCommit>(
        self: Arc<Self>,
        backend: Arc<B>,
        writes: Vec<Write>,
    ) -> Outcome {
        validate_writes(&writes)?;
        let bytes = writes
            .iter()
            .map(|w| w.key.len() + w.value.as_ref().map_or(0, Vec::len))
            .sum();
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut state = self.lock();
            state.waiting.push_back(Pending {
                writes,
                bytes,
                answer,
            });
            !std::mem::replace(&mut state.running, true)
        };
        if start {
            let committer = Committer {
                queue: self,
                backend: Some(backend),
                finished: false,
            };
            // Without a runtime the committer is dropped unrun, which fails what is queued.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(move || committer.run());
            }
        }
        answered.await.unwrap_or_else(|_| {
            Err(CommitError::Kv(KvError::Backend(
                "the bucket's committer stopped before this commit was done".into(),
            )))
        })
    }

    /// The next group, oldest first; or, if nothing is queued, `None` with the queue
    /// released in the same critical section.
    fn next_group(&self) -> Option<Vec<Pending>> {
        let mut state = self.lock();
        let mut group = Vec::new();
        let mut bytes = 0_usize;
        while let Some(next) = state.waiting.front() {
            let full = group.len() >= MAX_GROUP_COMMITS
                || bytes.saturating_add(next.bytes) > MAX_GROUP_BYTES;
            if full && !group.is_empty() {
                break;
            }
            bytes = bytes.saturating_add(next.bytes);
            group.extend(state.waiting.pop_front());
        }
        if group.is_empty() {
            state.running = false;
            return None;
        }
        Some(group)
    }

    /// How many transactions this queue's committers have run.
    #[cfg(test)]
    pub(super) fn transactions(&self) -> usize {
        self.transactions.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The one committer of a queue while it runs.
struct Committer<B> {
    queue: Arc<Queue>,
    /// Dropped as soon as the queue is found empty, before the last group is answered: a
    /// caller that got its answer and closes the bucket can reopen its file at once.
    backend: Option<Arc<B>>,
    /// Whether the committer released the queue itself. If it did not (it panicked, or the
    /// runtime dropped it before it ran), dropping it releases the queue and fails what is
    /// queued rather than leave those commits waiting for a committer that never comes.
    finished: bool,
}

impl<B: GroupCommit> Committer<B> {
    fn run(mut self) {
        let mut next = self.queue.next_group();
        while let Some(group) = next {
            // `backend` goes only when the queue is released, which ends the loop; were it
            // gone anyway, returning unfinished lets `Drop` fail what is queued.
            let Some(backend) = self.backend.as_ref() else {
                return;
            };
            #[cfg(test)]
            self.queue
                .transactions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let outcomes = {
                let commits: Vec<&[Write]> = group.iter().map(|p| p.writes.as_slice()).collect();
                backend.commit_group(&commits)
            };
            next = self.queue.next_group();
            if next.is_none() {
                self.backend = None;
                self.finished = true;
            }
            answer(group, outcomes);
        }
        self.finished = true;
    }
}

impl<B> Drop for Committer<B> {
    fn drop(&mut self) {
        if !self.finished {
            let mut state = self.queue.lock();
            state.running = false;
            state.waiting.clear();
        }
    }
}

/// Sends each commit of `group` its outcome. A caller that stopped waiting is not there to
/// receive it; its commit is applied (or not) all the same.
fn answer(group: Vec<Pending>, outcomes: Result<Vec<Outcome>, KvError>) {
    match outcomes {
        Ok(outcomes) => {
            // One outcome per commit; a commit left without one gets the closed-channel error.
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                let _ = pending.answer.send(outcome);
            }
        }
        Err(e) => {
            for pending in group {
                let _ = pending.answer.send(Err(CommitError::Kv(same(&e))));
            }
        }
    }
}

/// A copy of `e` for each commit of a failed group.
fn same(e: &KvError) -> KvError {
    match e {
        KvError::Backend(m) => KvError::Backend(m.clone()),
        KvError::Invalid(m) => KvError::Invalid(m.clone()),
    }
}
