//! Schedules: what `schedule` metadata may say, and when it fires.
//!
//! - `@every <duration>`: a Go duration (see [`duration`]) greater than zero; ticks at the
//!   start plus whole multiples of it.
//! - `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`: the
//!   usual cron shorthands (midnight on 1 January, on the 1st, on Sunday, every day; every
//!   hour on the hour).
//! - a 5- or 6-field cron expression (see [`cronexpr`]).
//!
//! Everything is evaluated in UTC. A leading `TZ=UTC` or `CRON_TZ=UTC` (robfig/cron's
//! time-zone prefix) is accepted; any other zone is rejected rather than silently ignored.
//!
//! Instants are unix milliseconds.

use crate::cronexpr::CronExpr;
use crate::duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// `@every`: a fixed period.
    Every { period_ms: u64 },
    /// A cron expression (or a shorthand for one); ticks fall on whole seconds.
    Cron(CronExpr),
}

/// The shorthands and the 6-field expressions they stand for.
const DESCRIPTORS: [(&str, &str); 7] = [
    ("@yearly", "0 0 0 1 1 *"),
    ("@annually", "0 0 0 1 1 *"),
    ("@monthly", "0 0 0 1 * *"),
    ("@weekly", "0 0 0 * * 0"),
    ("@daily", "0 0 0 * * *"),
    ("@midnight", "0 0 0 * * *"),
    ("@hourly", "0 0 * * * *"),
];

/// Time zones that are UTC.
const UTC_NAMES: [&str; 4] = ["UTC", "Etc/UTC", "Z", "Zulu"];

impl Schedule {
    /// Parse schedule `text`; the error says what is wrong (without repeating `text`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut spec = text.trim();
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (zone, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                if !UTC_NAMES.contains(&zone) {
                    return Err(format!(
                        "time zone {zone:?} is not supported: schedules are evaluated in UTC"
                    ));
                }
                spec = rest.trim_start();
                break;
            }
        }
        if spec.is_empty() {
            return Err("empty schedule".to_owned());
        }
        if let Some(rest) = spec.strip_prefix("@every") {
            if !rest.starts_with(char::is_whitespace) {
                return Err("expected \"@every <duration>\"".to_owned());
            }
            let period_ms = duration::parse_positive_ms(rest.trim())
                .map_err(|err| format!("bad @every duration: {err}"))?;
            return Ok(Schedule::Every { period_ms });
        }
        if spec.starts_with('@') {
            let expr = DESCRIPTORS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(spec))
                .map(|&(_, expr)| expr)
                .ok_or_else(|| format!("unknown descriptor {spec:?}"))?;
            return CronExpr::parse(expr).map(Schedule::Cron);
        }
        CronExpr::parse(spec).map(Schedule::Cron)
    }

    /// The instant a schedule initialised at `init_ms` counts its ticks from. `@every`
    /// periods of whole seconds start from the whole second, as robfig/cron does, so their
    /// ticks land on whole seconds too (the first tick is still after `init_ms`).
    pub fn anchor(&self, init_ms: u64) -> u64 {
        match self {
            Schedule::Every { period_ms } if period_ms % 1000 == 0 => init_ms - init_ms % 1000,
            _ => init_ms,
        }
    }

    /// The first tick strictly after `t`, if any (cron expressions look a bounded number of
    /// years ahead).
    pub fn next_after(&self, t: u64) -> Option<u64> {
        match self {
            Schedule::Every { period_ms } => t.checked_add(*period_ms),
            Schedule::Cron(expr) => expr
                .next_after(t / 1000)
                .and_then(|secs| secs.checked_mul(1000)),
        }
    }

    /// The latest tick in `(from, now]`, where ticks are counted from `from` (for `@every`,
    /// `from` is the previous tick). `None` if no tick falls in that interval.
    pub fn latest_in(&self, from: u64, now: u64) -> Option<u64> {
        let first = self.next_after(from)?;
        if first > now {
            return None;
        }
        match self {
            Schedule::Every { period_ms } => Some(from + (now - from) / period_ms * period_ms),
            Schedule::Cron(_) => {
                // Binary search for the last `lo` whose next tick is still due: then that
                // tick is the latest one (any later due tick would be the next after lo + 1).
                let is_due = |t: u64| self.next_after(t).is_some_and(|next| next <= now);
                let (mut lo, mut hi) = (from, now);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if is_due(mid) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                self.next_after(lo)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{SECS_PER_DAY, days_from_civil, format_rfc3339};

    /// Unix milliseconds of a UTC date-time.
    fn at(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> u64 {
        (days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + s) * 1000
    }

    fn next_text(schedule: &str, after: u64) -> String {
        format_rfc3339(
            Schedule::parse(schedule)
                .unwrap()
                .next_after(after)
                .unwrap(),
        )
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Schedule::parse("@every 1m30s"),
            Ok(Schedule::Every { period_ms: 90_000 })
        );
        assert_eq!(
            Schedule::parse("  @every   500ms "),
            Ok(Schedule::Every { period_ms: 500 })
        );
        assert_eq!(
            Schedule::parse("@every 2h"),
            Ok(Schedule::Every {
                period_ms: 7_200_000
            })
        );
        for (descriptor, expr) in DESCRIPTORS {
            assert_eq!(
                Schedule::parse(descriptor),
                Ok(Schedule::Cron(CronExpr::parse(expr).unwrap())),
                "{descriptor}"
            );
        }
        assert!(matches!(Schedule::parse("@DAILY"), Ok(Schedule::Cron(_))));
        assert!(matches!(
            Schedule::parse("*/15 * * * * *"),
            Ok(Schedule::Cron(_))
        ));
        assert!(matches!(
            Schedule::parse("0 9 * * 1"),
            Ok(Schedule::Cron(_))
        ));
        assert_eq!(
            Schedule::parse("CRON_TZ=UTC 0 9 * * 1"),
            Schedule::parse("0 9 * * 1")
        );
        assert_eq!(
            Schedule::parse("TZ=Etc/UTC @daily"),
            Schedule::parse("@daily")
        );
    }

    #[test]
    fn rejects_invalid_schedules() {
        for text in [
            "",
            "   ",
            "@every",
            "@every ",
            "@every0s",
            "@every1s",
            "@every 0s",
            "@every 0",
            "@every -1s",
            "@every 10",
            "@every 1d",
            "@every 1s 2s",
            "@fortnightly",
            "@",
            "* * *",
            "0 0 30 2 *",
            "TZ=Europe/Paris 0 9 * * *",
            "CRON_TZ=America/New_York @daily",
            "TZ=UTC",
            "every 1s",
        ] {
            assert!(
                Schedule::parse(text).is_err(),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn next_ticks() {
        let t = at(2026, 11, 27, 14, 33, 12) + 250;
        assert_eq!(next_text("@every 1m30s", t), "2026-11-27T14:34:42.250Z");
        assert_eq!(next_text("@daily", t), "2026-11-28T00:00:00Z");
        assert_eq!(next_text("@midnight", t), "2026-11-28T00:00:00Z");
        assert_eq!(next_text("@hourly", t), "2026-11-27T15:00:00Z");
        assert_eq!(next_text("@weekly", t), "2026-11-29T00:00:00Z");
        assert_eq!(next_text("@monthly", t), "2026-12-01T00:00:00Z");
        assert_eq!(next_text("@yearly", t), "2027-01-01T00:00:00Z");
        assert_eq!(next_text("@annually", t), "2027-01-01T00:00:00Z");
        assert_eq!(next_text("*/15 * * * * *", t), "2026-11-27T14:33:15Z");
        assert_eq!(next_text("0 30 9 * * MON-FRI", t), "2026-11-30T09:30:00Z");
        // A whole-second instant is not its own next tick.
        let whole = at(2026, 11, 27, 14, 33, 15);
        assert_eq!(next_text("*/15 * * * * *", whole), "2026-11-27T14:33:30Z");
        // Just before a tick.
        assert_eq!(
            next_text("*/15 * * * * *", whole - 1),
            "2026-11-27T14:33:15Z"
        );
    }

    #[test]
    fn anchors_whole_second_periods() {
        let init = at(2026, 11, 27, 14, 33, 12) + 700;
        let every = |s: &str| Schedule::parse(s).unwrap();
        assert_eq!(every("@every 1s").anchor(init), init - 700);
        assert_eq!(every("@every 1m30s").anchor(init), init - 700);
        assert_eq!(every("@every 1500ms").anchor(init), init);
        assert_eq!(every("@daily").anchor(init), init);
    }

    #[test]
    fn latest_tick_in_an_interval() {
        let from = at(2026, 11, 27, 14, 33, 12);
        let every = Schedule::parse("@every 1m30s").unwrap();
        assert_eq!(every.latest_in(from, from + 89_999), None);
        assert_eq!(every.latest_in(from, from + 90_000), Some(from + 90_000));
        assert_eq!(
            every.latest_in(from, from + 1_000_000),
            Some(from + 990_000)
        );

        let cron = Schedule::parse("0 30 9 * * MON-FRI").unwrap();
        assert_eq!(cron.latest_in(from, from + 1000), None);
        // From Friday afternoon to the next Wednesday noon: Wednesday 09:30.
        assert_eq!(
            cron.latest_in(from, at(2026, 12, 2, 12, 0, 0)),
            Some(at(2026, 12, 2, 9, 30, 0))
        );
        // Exactly on a tick.
        assert_eq!(
            cron.latest_in(from, at(2026, 12, 1, 9, 30, 0)),
            Some(at(2026, 12, 1, 9, 30, 0))
        );
        let seconds = Schedule::parse("*/15 * * * * *").unwrap();
        assert_eq!(
            seconds.latest_in(from, at(2027, 6, 1, 0, 0, 14) + 999),
            Some(at(2027, 6, 1, 0, 0, 0))
        );
    }
}
