//! Go-style durations (`time.ParseDuration`): `300ms`, `1.5h`, `1m30s`, `2h45m`.
//!
//! A duration is a sequence of decimal numbers, each with an optional fraction and a
//! required unit: `ns`, `us` (or `µs`/`μs`), `ms`, `s`, `m`, `h`. A lone `0` is allowed
//! (and means zero). The sign `-`/`+` is accepted by Go; callers here reject non-positive
//! results.

/// Nanoseconds per unit, longest unit names first where one is a prefix of another.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parse `text` into signed nanoseconds. Errors describe what is wrong.
pub fn parse_nanos(text: &str) -> Result<i128, String> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration".to_owned());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(after) => {
                let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(frac_len)
            }
            None => ("", after),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err("expected a number".to_owned());
        }
        let unit_len = after
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err("missing unit".to_owned());
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, scale)| scale)
            .ok_or_else(|| format!("unknown unit {unit:?}"))?;

        let too_long = || "duration out of range".to_owned();
        let int: u128 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| too_long())?
        };
        let mut value = int.checked_mul(scale).ok_or_else(too_long)?;
        // The fraction contributes fraction * scale / 10^digits; digits beyond what can
        // matter at nanosecond precision are dropped.
        let mut denominator: u128 = 1;
        let mut numerator: u128 = 0;
        for digit in frac_digits.bytes().take(30) {
            numerator = numerator * 10 + u128::from(digit - b'0');
            denominator *= 10;
        }
        value = value
            .checked_add(numerator * scale / denominator)
            .ok_or_else(too_long)?;
        total = total.checked_add(value).ok_or_else(too_long)?;
        // Go limits durations to an i64 of nanoseconds (about 292 years).
        if total > i64::MAX as u128 {
            return Err(too_long());
        }
        rest = after;
    }
    let total = i128::try_from(total).map_err(|_| "duration out of range".to_owned())?;
    Ok(if negative { -total } else { total })
}

/// Parse a positive duration into whole milliseconds, rounding a sub-millisecond remainder
/// up (so `1ns` is 1 ms, never 0).
pub fn parse_positive_ms(text: &str) -> Result<u64, String> {
    let nanos = parse_nanos(text)?;
    if nanos <= 0 {
        return Err("duration must be greater than zero".to_owned());
    }
    let nanos = nanos.unsigned_abs();
    u64::try_from(nanos.div_ceil(1_000_000)).map_err(|_| "duration out of range".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        for (text, nanos) in [
            ("0", 0),
            ("1s", 1_000_000_000),
            ("500ms", 500_000_000),
            ("1m30s", 90_000_000_000),
            ("2h", 7_200_000_000_000),
            ("1.5h", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("2h45m10.5s", 9_910_500_000_000),
            ("10us", 10_000),
            ("10\u{b5}s", 10_000),
            ("10\u{3bc}s", 10_000),
            ("7ns", 7),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("-1s", -1_000_000_000),
            ("+3m", 180_000_000_000),
            ("0s", 0),
        ] {
            assert_eq!(parse_nanos(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for text in [
            "",
            "-",
            "s",
            "1",
            "10",
            "1x",
            "1 s",
            " 1s",
            "1s ",
            "1.2.3s",
            "1hh",
            ".s",
            "1sm",
            "1S",
            "1H",
            "99999999999h",
            "1d",
        ] {
            assert!(parse_nanos(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn positive_milliseconds() {
        assert_eq!(parse_positive_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_positive_ms("500ms"), Ok(500));
        assert_eq!(parse_positive_ms("1ns"), Ok(1));
        assert_eq!(parse_positive_ms("1500us"), Ok(2));
        assert!(parse_positive_ms("0").is_err());
        assert!(parse_positive_ms("0s").is_err());
        assert!(parse_positive_ms("-5s").is_err());
    }
}
