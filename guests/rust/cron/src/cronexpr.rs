//! Cron expressions, evaluated in UTC.
//!
//! Five fields (`minute hour day-of-month month day-of-week`) or six with a leading
//! `second`. Each field is a comma-separated list of `*` (or `?`), `n`, `a-b`, each with an
//! optional step `/s`; `n/s` means `n-max/s`. Months accept `JAN`..`DEC` and days of the week
//! `SUN`..`SAT` (any case); day of week 7 is Sunday too.
//!
//! As in classic cron (and robfig/cron, which Dapr uses): when both day of month and day of
//! week are restricted, a day matches if EITHER does; when either is unrestricted (`*` or
//! `?`, without a step other than 1), both must.

use crate::time::{SECS_PER_DAY, civil_from_days, days_from_civil, days_in_month, weekday};

/// How far ahead [`CronExpr::next_after`] looks. Leap days can be 8 years apart (2096 and
/// 2104), so anything satisfiable at all is found within this window.
const SEARCH_YEARS: u64 = 9;

/// The last year RFC 3339 can express; nothing later is ever a tick.
const MAX_YEAR: u64 = 9999;

/// A set of values `0..=63` as bits.
type Bits = u64;

/// The value range and names of one field.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names of `min`, `min + 1`, ...
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
/// Parsed as 0-7 so that 7 (Sunday) works in ranges; bit 7 is folded onto bit 0.
const DAY_OF_WEEK: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// A parsed cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronExpr {
    seconds: Bits,
    minutes: Bits,
    hours: Bits,
    days_of_month: Bits,
    months: Bits,
    days_of_week: Bits,
    /// The day-of-month field is unrestricted (`*`/`?`).
    dom_star: bool,
    /// The day-of-week field is unrestricted (`*`/`?`).
    dow_star: bool,
}

/// One parsed field: its values and whether it was written as a wildcard.
struct Parsed {
    bits: Bits,
    star: bool,
}

fn bits_range(low: u32, high: u32, step: u32) -> Bits {
    (low..=high)
        .step_by(step as usize)
        .fold(0, |bits, v| bits | 1 << v)
}

fn has(bits: Bits, value: u64) -> bool {
    value < 64 && bits & (1 << value) != 0
}

/// The smallest value in `bits` that is at least `from`.
fn next_set(bits: Bits, from: u64) -> Option<u64> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from << from;
    (rest != 0).then(|| u64::from(rest.trailing_zeros()))
}

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        let value = if let Some(i) = self
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
        {
            self.min + i as u32
        } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse()
                .map_err(|_| format!("{} value {text:?} is out of range", self.name))?
        } else {
            return Err(format!("invalid {} value {text:?}", self.name));
        };
        if value < self.min || value > self.max {
            return Err(format!(
                "{} value {text:?} is out of range {}-{}",
                self.name, self.min, self.max
            ));
        }
        Ok(value)
    }

    fn parse(&self, text: &str) -> Result<Parsed, String> {
        let mut parsed = Parsed {
            bits: 0,
            star: false,
        };
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = step
                        .parse()
                        .map_err(|_| format!("invalid {} step {step:?}", self.name))?;
                    if step == 0 {
                        return Err(format!("{} step must not be 0", self.name));
                    }
                    (range, Some(step))
                }
                None => (part, None),
            };
            let (low, high, star) = if range == "*" || range == "?" {
                (self.min, self.max, true)
            } else if let Some((low, high)) = range.split_once('-') {
                (self.value(low)?, self.value(high)?, false)
            } else {
                let value = self.value(range)?;
                // `n/step` runs from n to the end of the range.
                (value, if step.is_some() { self.max } else { value }, false)
            };
            if low > high {
                return Err(format!("{} range {range:?} is backwards", self.name));
            }
            let step = step.unwrap_or(1);
            parsed.bits |= bits_range(low, high, step);
            // `*/1` is still a wildcard; `*/2` is a restriction.
            parsed.star |= star && step == 1;
        }
        Ok(parsed)
    }
}

impl CronExpr {
    /// Parse a 5- or 6-field expression (fields separated by whitespace).
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => return Err(format!("expected 5 or 6 fields, found {n}")),
        };
        let dom = DAY_OF_MONTH.parse(rest[2])?;
        let dow = DAY_OF_WEEK.parse(rest[4])?;
        let expr = CronExpr {
            seconds: SECOND.parse(second)?.bits,
            minutes: MINUTE.parse(rest[0])?.bits,
            hours: HOUR.parse(rest[1])?.bits,
            days_of_month: dom.bits,
            months: MONTH.parse(rest[3])?.bits,
            // Sunday may be written 0 or 7.
            days_of_week: (dow.bits | dow.bits >> 7) & 0x7f,
            dom_star: dom.star,
            dow_star: dow.star,
        };
        if !expr.satisfiable() {
            return Err("no date ever matches its day-of-month and month fields".to_owned());
        }
        Ok(expr)
    }

    /// Whether some instant matches. Only a day of month that no selected month has (`30 2`)
    /// can make an expression unsatisfiable, and only when the day of week does not widen
    /// the match (see the module docs).
    fn satisfiable(&self) -> bool {
        if !self.dow_star {
            return true;
        }
        (1..=12).filter(|&m| has(self.months, m)).any(|m| {
            // February counts with its leap day.
            let len = days_in_month(2000, m);
            (1..=len).any(|d| has(self.days_of_month, d))
        })
    }

    fn day_matches(&self, days: u64, day_of_month: u64) -> bool {
        let dom = has(self.days_of_month, day_of_month);
        let dow = has(self.days_of_week, weekday(days));
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first matching instant (unix seconds) strictly after `after`, or `None` if
    /// there is none within [`SEARCH_YEARS`] years.
    ///
    /// Walks forward field by field, jumping straight to the next candidate month, day,
    /// hour, minute or second, so the work is bounded by the number of months and days in
    /// the window rather than by the number of seconds.
    pub fn next_after(&self, after: u64) -> Option<u64> {
        let mut t = after.checked_add(1)?;
        let limit_year = civil_from_days(t / SECS_PER_DAY).0 + SEARCH_YEARS;
        loop {
            let days = t / SECS_PER_DAY;
            let day_start = days * SECS_PER_DAY;
            let (year, month, day) = civil_from_days(days);
            if year > limit_year || year > MAX_YEAR {
                return None;
            }
            if !has(self.months, month) {
                t = match next_set(self.months, month + 1) {
                    Some(m) if m <= 12 => days_from_civil(year, m, 1),
                    _ => days_from_civil(year + 1, 1, 1),
                } * SECS_PER_DAY;
                continue;
            }
            if !self.day_matches(days, day) {
                t = day_start + SECS_PER_DAY;
                continue;
            }
            let of_day = t - day_start;
            let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
            if !has(self.hours, hour) {
                t = match next_set(self.hours, hour + 1) {
                    Some(h) if h < 24 => day_start + h * 3600,
                    _ => day_start + SECS_PER_DAY,
                };
                continue;
            }
            let hour_start = day_start + hour * 3600;
            if !has(self.minutes, minute) {
                t = match next_set(self.minutes, minute + 1) {
                    Some(m) if m < 60 => hour_start + m * 60,
                    _ => hour_start + 3600,
                };
                continue;
            }
            let minute_start = hour_start + minute * 60;
            if !has(self.seconds, second) {
                t = match next_set(self.seconds, second + 1) {
                    Some(s) if s < 60 => minute_start + s,
                    _ => minute_start + 60,
                };
                continue;
            }
            return Some(t);
        }
    }

    /// Whether unix second `t` matches (used by the tests as the reference).
    #[cfg(test)]
    pub fn matches(&self, t: u64) -> bool {
        let days = t / SECS_PER_DAY;
        let (_, month, day) = civil_from_days(days);
        let of_day = t % SECS_PER_DAY;
        has(self.months, month)
            && self.day_matches(days, day)
            && has(self.hours, of_day / 3600)
            && has(self.minutes, of_day / 60 % 60)
            && has(self.seconds, of_day % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    /// Unix seconds of a UTC date-time.
    fn at(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> u64 {
        days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + s
    }

    fn next_text(expr: &str, after: u64) -> String {
        let next = CronExpr::parse(expr).unwrap().next_after(after).unwrap();
        format_rfc3339(next * 1000)
    }

    #[test]
    fn parses_fields() {
        let e = CronExpr::parse("*/15 * * * * *").unwrap();
        assert_eq!(e.seconds, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(e.minutes, (1 << 60) - 1);
        assert!(e.dom_star && e.dow_star);

        let e = CronExpr::parse("0 30 9 * * MON-FRI").unwrap();
        assert_eq!(e.seconds, 1);
        assert_eq!(e.minutes, 1 << 30);
        assert_eq!(e.hours, 1 << 9);
        assert_eq!(e.days_of_week, 0b011_1110);
        assert!(!e.dow_star);

        // Five fields: seconds are 0.
        let e = CronExpr::parse("5,10-12 1-23/11 1,15 jan,Jun-aug 7").unwrap();
        assert_eq!(e.seconds, 1);
        assert_eq!(e.minutes, 1 << 5 | 1 << 10 | 1 << 11 | 1 << 12);
        assert_eq!(e.hours, 1 << 1 | 1 << 12 | 1 << 23);
        assert_eq!(e.days_of_month, 1 << 1 | 1 << 15);
        assert_eq!(e.months, 1 << 1 | 1 << 6 | 1 << 7 | 1 << 8);
        assert_eq!(e.days_of_week, 1); // 7 = Sunday

        // `n/step` runs to the end of the range; `?` is a wildcard; `*/1` stays a wildcard.
        let e = CronExpr::parse("0 50/5 * ? * */1").unwrap();
        assert_eq!(e.minutes, 1 << 50 | 1 << 55);
        assert!(e.dom_star && e.dow_star);
        let e = CronExpr::parse("0 0 0 */2 * *").unwrap();
        assert!(!e.dom_star);
        assert_eq!(
            CronExpr::parse("0 0 * * 5-7").unwrap().days_of_week,
            0b110_0001
        );
        assert_eq!(
            CronExpr::parse("0 0 * * sun,SAT").unwrap().days_of_week,
            0b100_0001
        );
    }

    #[test]
    fn rejects_invalid_expressions() {
        for text in [
            "",
            "* * * *",
            "* * * * * * *",
            "60 * * * * *",
            "* 60 * * *",
            "* 24 * *  *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 0 *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "*/x * * * *",
            "5-1 * * * *",
            "1-2-3 * * * *",
            "a * * * *",
            "1,,2 * * * *",
            ", * * * *",
            "* * * FOO *",
            "* * * * MONDAY",
            "* * * MON *",
            "* * * * JAN",
            "-1 * * * *",
            "1/2/3 * * * *",
            "0 0 30 2 *",
            "0 0 31 2,4,6,9,11 *",
            "0 0 31 FEB ?",
        ] {
            assert!(
                CronExpr::parse(text).is_err(),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn impossible_day_is_fine_when_day_of_week_widens_it() {
        // Both restricted: "the 30th of February OR any Monday in February".
        let e = CronExpr::parse("0 0 30 2 MON").unwrap();
        let next = e.next_after(at(2026, 1, 1, 0, 0, 0)).unwrap();
        assert_eq!(format_rfc3339(next * 1000), "2026-02-02T00:00:00Z");
    }

    #[test]
    fn next_ticks_for_known_instants() {
        let t = at(2026, 11, 27, 14, 33, 12); // a Friday
        assert_eq!(next_text("*/15 * * * * *", t), "2026-11-27T14:33:15Z");
        assert_eq!(next_text("*/15 * * * * *", t + 3), "2026-11-27T14:33:30Z");
        assert_eq!(
            next_text("*/15 * * * * *", at(2026, 12, 31, 23, 59, 45)),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(next_text("0 30 9 * * MON-FRI", t), "2026-11-30T09:30:00Z");
        assert_eq!(
            next_text("0 30 9 * * MON-FRI", at(2026, 11, 27, 9, 0, 0)),
            "2026-11-27T09:30:00Z"
        );
        assert_eq!(
            next_text("0 30 9 * * MON-FRI", at(2026, 11, 27, 9, 30, 0)),
            "2026-11-30T09:30:00Z"
        );
        assert_eq!(next_text("* * * * *", t), "2026-11-27T14:34:00Z");
        assert_eq!(next_text("0 0 1 1 *", t), "2027-01-01T00:00:00Z");
        assert_eq!(next_text("0 12 * * SUN", t), "2026-11-29T12:00:00Z");
        assert_eq!(next_text("0 0 31 * *", t), "2026-12-31T00:00:00Z");
        assert_eq!(next_text("0 0 29 2 *", t), "2028-02-29T00:00:00Z");
        // 2100 is not a leap year: the next 29 February after 2096 is in 2104.
        assert_eq!(
            next_text("0 0 29 2 *", at(2096, 3, 1, 0, 0, 0)),
            "2104-02-29T00:00:00Z"
        );
        // Day of month OR day of week when both are restricted.
        assert_eq!(next_text("0 0 1 * MON", t), "2026-11-30T00:00:00Z");
        assert_eq!(next_text("0 0 1 * TUE", t), "2026-12-01T00:00:00Z");
        // Sub-second input: strictly after.
        assert_eq!(next_text("* * * * * *", t), "2026-11-27T14:33:13Z");
    }

    #[test]
    fn next_after_agrees_with_a_second_by_second_scan() {
        let start = at(2027, 2, 27, 22, 58, 0);
        for text in [
            "*/7 * * * * *",
            "10-20/3 */2 * * * *",
            "0 0 * * * *",
            "30 59 23 * * *",
            "0 0 0 28-31 * *",
            "0 0 0 1 3 *",
            "0 * 23 * * SUN,MON",
            "15 0 0 1 * WED",
            "0 0 12 ? * 0",
        ] {
            let e = CronExpr::parse(text).unwrap();
            let mut from = start;
            for _ in 0..5 {
                let next = e.next_after(from).unwrap();
                if next - from < 300_000 {
                    let scanned = (from + 1..=next).find(|&s| e.matches(s));
                    assert_eq!(scanned, Some(next), "{text} after {from}");
                } else {
                    assert!(e.matches(next), "{text}");
                }
                from = next;
            }
        }
    }

    #[test]
    fn next_after_is_bounded() {
        // Satisfiable but rarely: still found; the search never runs away.
        let e = CronExpr::parse("59 59 23 31 12 *").unwrap();
        assert_eq!(
            e.next_after(at(2026, 1, 1, 0, 0, 0)),
            Some(at(2026, 12, 31, 23, 59, 59))
        );
        // Beyond the search window there is no answer rather than a long loop.
        let e = CronExpr::parse("0 0 29 2 *").unwrap();
        let far = at(9_990, 3, 1, 0, 0, 0);
        assert!(e.next_after(far).is_some_and(|n| n > far));
        assert!(e.next_after(u64::MAX).is_none());
    }
}
