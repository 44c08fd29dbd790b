//! The native reference input binding: a ticker with the cron guest's `@every` semantics.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::{BlockError, Event, InputBinding, Metadata, Polled};

/// Emits one event per `schedule: "@every <duration>"` tick (data: the tick time, RFC 3339)
/// and records replies, reporting them in later events' metadata (`repliesReceived`,
/// `lastReplyId`, `lastReplyData`, `lastReplyError`) exactly like the cron guest.
#[derive(Debug, Default)]
pub struct MemoryInputBinding {
    state: Mutex<Option<State>>,
}

#[derive(Debug)]
struct State {
    schedule: String,
    every: Duration,
    last_tick: SystemTime,
    nonce: u64,
    emitted: u64,
    replies: u64,
    last_reply: Option<(String, Vec<u8>, Option<String>)>,
}

/// Most missed ticks replayed at once.
const MAX_CATCH_UP: u32 = 10;

impl MemoryInputBinding {
    /// A new, uninitialised binding.
    pub fn new() -> Self {
        Self::default()
    }
}

impl State {
    fn event(&mut self, at: SystemTime) -> Event {
        self.emitted += 1;
        let mut metadata = Metadata::new();
        metadata.insert("schedule".into(), self.schedule.clone());
        metadata.insert("repliesReceived".into(), self.replies.to_string());
        if let Some((id, data, error)) = &self.last_reply {
            metadata.insert("lastReplyId".into(), id.clone());
            let text = String::from_utf8_lossy(data);
            metadata.insert("lastReplyData".into(), text.chars().take(256).collect());
            if let Some(e) = error {
                metadata.insert("lastReplyError".into(), e.clone());
            }
        }
        Event {
            id: format!("{:016x}-{}", self.nonce, self.emitted),
            data: humantime::format_rfc3339_seconds(at)
                .to_string()
                .into_bytes(),
            metadata,
            content_type: Some("text/plain".into()),
        }
    }
}

#[async_trait::async_trait]
impl InputBinding for MemoryInputBinding {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        let schedule = metadata
            .get("schedule")
            .cloned()
            .ok_or_else(|| BlockError::InvalidArgument("metadata `schedule` is required".into()))?;
        let every = schedule
            .strip_prefix("@every ")
            .and_then(|d| humantime::parse_duration(d.trim()).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                BlockError::InvalidArgument(format!(
                    "schedule {schedule:?}: the reference binding supports `@every <duration>`"
                ))
            })?;
        let nonce =
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 1u8);
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some(State {
            schedule,
            every,
            last_tick: SystemTime::now(),
            nonce,
            emitted: 0,
            replies: 0,
            last_reply: None,
        });
        Ok(())
    }

    async fn poll(&self, max: u32) -> Result<Polled, BlockError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = guard
            .as_mut()
            .ok_or_else(|| BlockError::Other("input binding not initialised".into()))?;
        let now = SystemTime::now();
        let mut events = Vec::new();
        let mut due = s.last_tick + s.every;
        let behind = now
            .duration_since(due)
            .map(|d| d.as_nanos() / s.every.as_nanos().max(1))
            .unwrap_or(0);
        if behind > u128::from(MAX_CATCH_UP) {
            // Too far behind: skip to the most recent tick.
            let skip = u32::try_from(behind).unwrap_or(u32::MAX).saturating_sub(1);
            due += s.every * skip;
        }
        while due <= now && events.len() < max as usize {
            events.push(s.event(due));
            s.last_tick = due;
            due += s.every;
        }
        let next = (s.last_tick + s.every)
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(1));
        Ok(Polled {
            events,
            next_poll: Some(next),
        })
    }

    async fn reply(
        &self,
        id: &str,
        data: Vec<u8>,
        error: Option<String>,
    ) -> Result<(), BlockError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = guard
            .as_mut()
            .ok_or_else(|| BlockError::Other("input binding not initialised".into()))?;
        let known = id
            .strip_prefix(&format!("{:016x}-", s.nonce))
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| (1..=s.emitted).contains(&n));
        if !known {
            return Err(BlockError::InvalidArgument(format!(
                "{id:?} is not an event of this binding"
            )));
        }
        s.replies += 1;
        s.last_reply = Some((id.to_owned(), data, error));
        Ok(())
    }

    async fn ping(&self) -> Result<(), BlockError> {
        Ok(())
    }
}
