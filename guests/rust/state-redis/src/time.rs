//! Wall-clock access and RFC 3339 formatting, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// The latest instant this component formats or stores as an expiry:
/// `9999-12-31T23:59:59.999Z`, the end of the four-digit years RFC 3339 allows.
pub const MAX_UNIX_MS: u64 = 253_402_300_799_999;

const MS_PER_DAY: u64 = 86_400_000;

/// The current wall-clock time (on wasm32-wasip2: `wasi:clocks/wall-clock`) in unix
/// milliseconds; 0 if the clock reads before 1970.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Format unix milliseconds as an RFC 3339 UTC timestamp: `2026-11-27T14:33:12Z`, or
/// `2026-11-27T14:33:12.050Z` when the instant has a sub-second part. Instants past
/// [`MAX_UNIX_MS`] are clamped to it.
pub fn format_rfc3339_ms(unix_ms: u64) -> String {
    let unix_ms = unix_ms.min(MAX_UNIX_MS);
    let days = unix_ms / MS_PER_DAY;
    let ms_of_day = unix_ms % MS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    let (hour, minute, second, millis) = (secs / 3600, secs / 60 % 60, secs % 60, ms_of_day % 1000);
    if millis == 0 {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    }
}

/// Proleptic Gregorian (year, month 1-12, day 1-31) of a count of days since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`, restricted to non-negative day counts: days are
/// shifted so that eras of 400 years start on 0000-03-01, which puts the leap day last.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 719_468 days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (94_694_399_000, "1972-12-31T23:59:59Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_234_567_890_123, "2009-02-13T23:31:30.123Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00Z"),
            (1_795_789_992_000, "2026-11-27T14:33:12Z"),
            (1_795_789_992_050, "2026-11-27T14:33:12.050Z"),
            (4_107_456_000_000, "2100-02-28T00:00:00Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00Z"),
            (MAX_UNIX_MS, "9999-12-31T23:59:59.999Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_rfc3339_ms(ms), want, "{ms} ms");
        }
    }

    #[test]
    fn clamps_beyond_year_9999() {
        assert_eq!(format_rfc3339_ms(u64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_from_days_agrees_with_a_day_by_day_walk() {
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..200_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > month_len {
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
    fn clock_reads_after_2020() {
        assert!(now_unix_ms() > 1_577_836_800_000);
    }
}
