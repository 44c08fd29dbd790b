//! The binding's state and its `poll`/`reply` logic, as pure functions of the clock.

use crate::Error;
use crate::exports::wasmplug::dapr::input_binding::{Event, PollResult};
use crate::schedule::Schedule;
use crate::time::{MS_PER_DAY, format_go_utc, format_rfc3339};

/// The most missed ticks a poll catches up on one by one; when more were missed (the host
/// was suspended, say), only the most recent is emitted.
pub const CATCH_UP_LIMIT: usize = 10;

/// The longest `next-poll-ms` reported: a day, also what a schedule with no tick in sight
/// reports.
pub const MAX_POLL_MS: u64 = MS_PER_DAY;

/// At most this many bytes of a reply's data are echoed in `lastReplyData`.
pub const REPLY_DATA_LIMIT: usize = 256;

const CONTENT_TYPE: &str = "text/plain";

/// The app's latest reply.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reply {
    id: String,
    /// Lossy UTF-8, at most [`REPLY_DATA_LIMIT`] bytes.
    data: String,
    error: Option<String>,
}

/// One initialised cron binding.
#[derive(Debug)]
pub struct Ticker {
    schedule: Schedule,
    /// The schedule as configured, echoed in every event.
    schedule_text: String,
    /// Random per instance, so ids never repeat across instances or re-inits.
    nonce: String,
    /// The last tick emitted (at first, the anchor of the schedule at init).
    last_tick: u64,
    /// Events emitted so far; event `n` (from 1) has id `<nonce>-<n>`.
    emitted: u64,
    replies: u64,
    last_reply: Option<Reply>,
}

impl Ticker {
    /// A ticker for schedule `text` initialised at `now` (unix ms).
    pub fn new(text: &str, nonce: String, now: u64) -> Result<Self, Error> {
        let schedule = Schedule::parse(text)
            .map_err(|err| Error::InvalidArgument(format!("invalid schedule {text:?}: {err}")))?;
        Ok(Ticker {
            last_tick: schedule.anchor(now),
            schedule,
            schedule_text: text.to_owned(),
            nonce,
            emitted: 0,
            replies: 0,
            last_reply: None,
        })
    }

    /// The ticks due at `now`, oldest first: every tick after the last emitted one, or only
    /// the most recent if more than [`CATCH_UP_LIMIT`] are due.
    fn due(&self, now: u64) -> Vec<u64> {
        let mut due = Vec::new();
        let mut t = self.last_tick;
        while due.len() <= CATCH_UP_LIMIT {
            match self.schedule.next_after(t) {
                Some(next) if next <= now => {
                    due.push(next);
                    t = next;
                }
                _ => return due,
            }
        }
        self.schedule
            .latest_in(self.last_tick, now)
            .into_iter()
            .collect()
    }

    /// Emit up to `max` due events at `now` (unix ms).
    pub fn poll(&mut self, now: u64, max: u32) -> PollResult {
        if now < self.last_tick {
            // The wall clock went backwards: count from now rather than wait for the old
            // "next" tick, which may be far away.
            self.last_tick = self.schedule.anchor(now);
        }
        let mut events = Vec::new();
        if max > 0 {
            for tick in self.due(now).into_iter().take(max as usize) {
                events.push(self.event(tick, now));
                self.last_tick = tick;
            }
        }
        let next_poll_ms = match self.schedule.next_after(self.last_tick) {
            Some(next) => next.saturating_sub(now).clamp(1, MAX_POLL_MS),
            None => MAX_POLL_MS,
        };
        PollResult {
            events,
            next_poll_ms: Some(next_poll_ms),
        }
    }

    fn event(&mut self, tick: u64, now: u64) -> Event {
        self.emitted += 1;
        let mut metadata = vec![
            ("schedule".to_owned(), self.schedule_text.clone()),
            ("repliesReceived".to_owned(), self.replies.to_string()),
        ];
        if let Some(reply) = &self.last_reply {
            metadata.push(("lastReplyId".to_owned(), reply.id.clone()));
            if let Some(error) = &reply.error {
                metadata.push(("lastReplyError".to_owned(), error.clone()));
            }
            metadata.push(("lastReplyData".to_owned(), reply.data.clone()));
        }
        // What Dapr's own cron binding sends.
        metadata.push(("timeZone".to_owned(), "UTC".to_owned()));
        metadata.push(("readTimeUTC".to_owned(), format_go_utc(now)));
        Event {
            id: format!("{}-{}", self.nonce, self.emitted),
            data: format_rfc3339(tick).into_bytes(),
            metadata,
            content_type: Some(CONTENT_TYPE.to_owned()),
        }
    }

    /// Whether this ticker emitted event `id`.
    fn emitted(&self, id: &str) -> bool {
        id.strip_prefix(self.nonce.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| n.parse::<u64>().ok().filter(|v| v.to_string() == n))
            .is_some_and(|n| (1..=self.emitted).contains(&n))
    }

    /// Record the app's reply to event `id`.
    pub fn reply(&mut self, id: &str, data: &[u8], error: Option<String>) -> Result<(), Error> {
        if !self.emitted(id) {
            return Err(Error::InvalidArgument(format!(
                "event {id:?} was not emitted by this cron binding"
            )));
        }
        self.replies += 1;
        self.last_reply = Some(Reply {
            id: id.to_owned(),
            data: truncate(String::from_utf8_lossy(data).into_owned(), REPLY_DATA_LIMIT),
            error,
        });
        Ok(())
    }
}

/// `text` cut to at most `limit` bytes, on a character boundary.
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{SECS_PER_DAY, days_from_civil};

    const NONCE: &str = "0123456789abcdef";

    fn at(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> u64 {
        (days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + s) * 1000
    }

    fn ticker(schedule: &str, now: u64) -> Ticker {
        Ticker::new(schedule, NONCE.to_owned(), now).unwrap()
    }

    fn data(event: &Event) -> &str {
        std::str::from_utf8(&event.data).unwrap()
    }

    fn meta<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
        event
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn invalid_schedule_is_invalid_argument() {
        match Ticker::new("@every 0s", NONCE.to_owned(), 0) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("\"@every 0s\""), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            Ticker::new("0 0 30 2 *", NONCE.to_owned(), 0),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn emits_ticks_as_they_fall_due() {
        let init = at(2026, 11, 27, 14, 33, 12) + 400;
        let mut t = ticker("*/15 * * * * *", init);

        let r = t.poll(init + 100, 10);
        assert!(r.events.is_empty());
        assert_eq!(r.next_poll_ms, Some(2500)); // until 14:33:15

        let r = t.poll(at(2026, 11, 27, 14, 33, 15) + 10, 10);
        assert_eq!(r.events.len(), 1);
        let event = &r.events[0];
        assert_eq!(event.id, format!("{NONCE}-1"));
        assert_eq!(data(event), "2026-11-27T14:33:15Z");
        assert_eq!(event.content_type.as_deref(), Some("text/plain"));
        assert_eq!(meta(event, "schedule"), Some("*/15 * * * * *"));
        assert_eq!(meta(event, "repliesReceived"), Some("0"));
        assert_eq!(meta(event, "lastReplyId"), None);
        assert_eq!(meta(event, "timeZone"), Some("UTC"));
        assert_eq!(
            meta(event, "readTimeUTC"),
            Some("2026-11-27 14:33:15.01 +0000 UTC")
        );
        assert_eq!(r.next_poll_ms, Some(14_990));

        // Polling again before the next tick emits nothing.
        let r = t.poll(at(2026, 11, 27, 14, 33, 29), 10);
        assert!(r.events.is_empty());
        assert_eq!(r.next_poll_ms, Some(1000));
    }

    #[test]
    fn every_ticks_from_init() {
        let init = at(2026, 11, 27, 14, 33, 12) + 250;
        let mut t = ticker("@every 1m30s", init);
        let r = t.poll(init + 90_000 + 5, 10);
        assert_eq!(r.events.len(), 1);
        assert_eq!(data(&r.events[0]), "2026-11-27T14:34:42Z");
        assert_eq!(r.next_poll_ms, Some(90_000 - 250 - 5));

        let mut t = ticker("@every 1500ms", init);
        let r = t.poll(init + 3000, 10);
        let ticks: Vec<&str> = r.events.iter().map(data).collect();
        assert_eq!(
            ticks,
            ["2026-11-27T14:33:13.750Z", "2026-11-27T14:33:15.250Z"]
        );
        assert_eq!(r.next_poll_ms, Some(1500));
    }

    #[test]
    fn daily_ticks_at_midnight() {
        let init = at(2026, 11, 27, 14, 33, 12);
        let mut t = ticker("@daily", init);
        let r = t.poll(init, 10);
        assert!(r.events.is_empty());
        assert_eq!(r.next_poll_ms, Some(at(2026, 11, 28, 0, 0, 0) - init));
        let r = t.poll(at(2026, 11, 28, 0, 0, 1), 10);
        assert_eq!(r.events.len(), 1);
        assert_eq!(data(&r.events[0]), "2026-11-28T00:00:00Z");
    }

    #[test]
    fn catches_up_to_the_limit_and_skips_beyond_it() {
        let init = at(2026, 11, 27, 14, 33, 0);
        // Exactly CATCH_UP_LIMIT missed ticks: all emitted, in order.
        let mut t = ticker("@every 1s", init);
        let r = t.poll(init + 10_000, 100);
        let ticks: Vec<&str> = r.events.iter().map(data).collect();
        assert_eq!(ticks.len(), CATCH_UP_LIMIT);
        assert_eq!(ticks[0], "2026-11-27T14:33:01Z");
        assert_eq!(ticks[9], "2026-11-27T14:33:10Z");
        let ids: Vec<&str> = r.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids[0], format!("{NONCE}-1"));
        assert_eq!(ids[9], format!("{NONCE}-10"));

        // More than that: only the most recent.
        let mut t = ticker("@every 1s", init);
        let r = t.poll(init + 3_600_000 + 500, 100);
        assert_eq!(r.events.len(), 1);
        assert_eq!(data(&r.events[0]), "2026-11-27T15:33:00Z");
        assert_eq!(r.next_poll_ms, Some(500));

        // Same for cron expressions, over a long gap.
        let mut t = ticker("*/15 * * * * *", init);
        let r = t.poll(at(2027, 3, 1, 8, 0, 44), 100);
        assert_eq!(r.events.len(), 1);
        assert_eq!(data(&r.events[0]), "2027-03-01T08:00:30Z");
        assert_eq!(r.next_poll_ms, Some(1000));
        let r = t.poll(at(2027, 3, 1, 8, 0, 45), 100);
        assert_eq!(data(&r.events[0]), "2027-03-01T08:00:45Z");
        assert_eq!(r.events[0].id, format!("{NONCE}-2"));
    }

    #[test]
    fn respects_max_and_keeps_the_rest_due() {
        let init = at(2026, 11, 27, 14, 33, 0);
        let mut t = ticker("@every 1s", init);
        let now = init + 5_000;
        assert!(t.poll(now, 0).events.is_empty());
        let r = t.poll(now, 2);
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.next_poll_ms, Some(1)); // more are due already
        let r = t.poll(now, 2);
        assert_eq!(data(&r.events[0]), "2026-11-27T14:33:03Z");
        let r = t.poll(now, 10);
        assert_eq!(r.events.len(), 1);
        assert_eq!(data(&r.events[0]), "2026-11-27T14:33:05Z");
        assert_eq!(r.events[0].id, format!("{NONCE}-5"));
        assert_eq!(r.next_poll_ms, Some(1000));
    }

    #[test]
    fn clock_going_backwards_restarts_from_now() {
        let init = at(2026, 11, 27, 14, 33, 0);
        let mut t = ticker("@every 10s", init);
        let r = t.poll(init - 3_600_000, 10);
        assert!(r.events.is_empty());
        assert_eq!(r.next_poll_ms, Some(10_000));
    }

    #[test]
    fn next_poll_is_capped_at_a_day() {
        let init = at(2026, 11, 27, 14, 33, 0);
        let mut t = ticker("@yearly", init);
        assert_eq!(t.poll(init, 10).next_poll_ms, Some(MAX_POLL_MS));
        let mut t = ticker("@every 1ms", init);
        let r = t.poll(init, 10);
        assert_eq!(r.next_poll_ms, Some(1));
    }

    #[test]
    fn replies_are_recorded_and_echoed() {
        let init = at(2026, 11, 27, 14, 33, 0);
        let mut t = ticker("@every 1s", init);
        let first = t.poll(init + 1000, 10).events.remove(0);

        for bad in [
            "nope".to_owned(),
            format!("{NONCE}-0"),
            format!("{NONCE}-2"),
            format!("{NONCE}-01"),
            format!("{NONCE}-+1"),
            format!("{NONCE}1"),
            "fedcba9876543210-1".to_owned(),
        ] {
            assert!(
                matches!(t.reply(&bad, b"", None), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }

        t.reply(&first.id, b"ok", None).unwrap();
        let second = t.poll(init + 2000, 10).events.remove(0);
        assert_eq!(meta(&second, "repliesReceived"), Some("1"));
        assert_eq!(meta(&second, "lastReplyId"), Some(first.id.as_str()));
        assert_eq!(meta(&second, "lastReplyData"), Some("ok"));
        assert_eq!(meta(&second, "lastReplyError"), None);

        let long = "é".repeat(200); // 400 bytes
        let mut bytes = long.into_bytes();
        bytes.push(0xff);
        t.reply(&second.id, &bytes, Some("app failed".to_owned()))
            .unwrap();
        let third = t.poll(init + 3000, 10).events.remove(0);
        assert_eq!(meta(&third, "repliesReceived"), Some("2"));
        assert_eq!(meta(&third, "lastReplyId"), Some(second.id.as_str()));
        assert_eq!(meta(&third, "lastReplyError"), Some("app failed"));
        assert_eq!(
            meta(&third, "lastReplyData"),
            Some("é".repeat(128).as_str())
        );
    }

    #[test]
    fn lossy_reply_data() {
        let init = at(2026, 11, 27, 14, 33, 0);
        let mut t = ticker("@every 1s", init);
        let first = t.poll(init + 1000, 10).events.remove(0);
        t.reply(&first.id, b"a\xffb", Some(String::new())).unwrap();
        let second = t.poll(init + 2000, 10).events.remove(0);
        assert_eq!(meta(&second, "lastReplyData"), Some("a\u{fffd}b"));
        assert_eq!(meta(&second, "lastReplyError"), Some(""));
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc".to_owned(), 5), "abc");
        assert_eq!(truncate("abcdef".to_owned(), 3), "abc");
        assert_eq!(truncate("aé".to_owned(), 2), "a");
    }
}
