//! UTC calendar arithmetic and timestamp formatting, without a date-time dependency.
//!
//! Instants are unix time (milliseconds or seconds since 1970-01-01T00:00:00Z, never
//! negative); dates are proleptic Gregorian `(year, month 1-12, day 1-31)`.

use std::time::{SystemTime, UNIX_EPOCH};

pub const SECS_PER_DAY: u64 = 86_400;
pub const MS_PER_DAY: u64 = SECS_PER_DAY * 1000;

/// The current wall-clock time (on wasm32-wasip2: `wasi:clocks/wall-clock`) in unix
/// milliseconds; 0 if the clock reads before 1970.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub fn is_leap_year(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// The number of days in `month` of `year`.
pub fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// The two conversions below count days in 400-year eras that start on 0000-03-01, so that
// the leap day is the last day of each shifted year (the well-known "civil" algorithms).
/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT: u64 = 719_468;
const DAYS_PER_ERA: u64 = 146_097;

/// The date of day `days` since 1970-01-01.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + EPOCH_SHIFT;
    let era = z / DAYS_PER_ERA;
    let day_of_era = z % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    (year_of_era + era * 400 + u64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a date on or after it.
pub fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT
}

/// Day of the week of day `days` since 1970-01-01: 0 = Sunday ... 6 = Saturday.
pub fn weekday(days: u64) -> u64 {
    // 1970-01-01 was a Thursday.
    (days + 4) % 7
}

/// Split unix milliseconds into date, time of day and milliseconds.
fn split(unix_ms: u64) -> ((u64, u64, u64), (u64, u64, u64), u64) {
    let secs = unix_ms / 1000;
    let of_day = secs % SECS_PER_DAY;
    (
        civil_from_days(secs / SECS_PER_DAY),
        (of_day / 3600, of_day / 60 % 60, of_day % 60),
        unix_ms % 1000,
    )
}

/// RFC 3339 UTC text: `2026-11-27T14:33:12Z`, or `2026-11-27T14:33:12.050Z` when the
/// instant is not a whole second.
pub fn format_rfc3339(unix_ms: u64) -> String {
    let ((y, mo, d), (h, mi, s), ms) = split(unix_ms);
    if ms == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

/// The text Go's `time.Time.String()` gives for a UTC instant, which Dapr's cron binding
/// sends as `readTimeUTC`: `2026-11-27 14:33:12.05 +0000 UTC` (fraction without trailing
/// zeros, omitted when zero).
pub fn format_go_utc(unix_ms: u64) -> String {
    let ((y, mo, d), (h, mi, s), ms) = split(unix_ms);
    let fraction = if ms == 0 {
        String::new()
    } else {
        format!(".{ms:03}").trim_end_matches('0').to_owned()
    };
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{fraction} +0000 UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_795_789_992_000, "2026-11-27T14:33:12Z"),
            (1_795_789_992_050, "2026-11-27T14:33:12.050Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00Z"),
        ] {
            assert_eq!(format_rfc3339(ms), want, "{ms}");
        }
        assert_eq!(
            format_go_utc(1_795_789_992_050),
            "2026-11-27 14:33:12.05 +0000 UTC"
        );
        assert_eq!(
            format_go_utc(1_795_789_992_000),
            "2026-11-27 14:33:12 +0000 UTC"
        );
    }

    #[test]
    fn conversions_agree_with_a_day_by_day_walk() {
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..150_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            d += 1;
            if d > days_in_month(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday(0), 4); // Thursday
        assert_eq!(weekday(days_from_civil(2026, 11, 27)), 5); // Friday
        assert_eq!(weekday(days_from_civil(2000, 1, 2)), 0); // Sunday
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000) && is_leap_year(2024));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2026));
    }
}
