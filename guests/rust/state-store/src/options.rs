//! Interpretation of request fields and metadata: etags, `ttlInSeconds`, content types.

use wasmplug_guest::metadata;

use crate::Error;
use crate::time::MAX_UNIX_MS;

/// Request metadata key that sets or clears a TTL.
pub const TTL_IN_SECONDS: &str = "ttlInSeconds";
/// Response metadata key carrying the expiry of a value with a TTL (RFC 3339).
pub const TTL_EXPIRE_TIME: &str = "ttlExpireTime";
/// Request metadata key that may carry a content type.
pub const CONTENT_TYPE: &str = "contentType";

/// Format a host version as an etag: its decimal form.
pub fn format_etag(version: u64) -> String {
    version.to_string()
}

/// The etag of a request, treating an empty etag like none (daprd turns an empty `Etag`
/// message into `Some("")`).
pub fn requested_etag(etag: Option<&str>) -> Option<&str> {
    etag.filter(|etag| !etag.is_empty())
}

/// Parse an etag produced by [`format_etag`]. Only the canonical decimal form of a `u64` is
/// accepted (no sign, no leading zeros, no whitespace). Anything else can never match a stored
/// value, so it is `etag-mismatch`: daprd and its conformance suite expect a wrong etag on Set
/// to be a mismatch (HTTP 409), whatever it looks like.
pub fn parse_etag(etag: &str) -> Result<u64, Error> {
    let canonical = !etag.is_empty()
        && etag.bytes().all(|b| b.is_ascii_digit())
        && (etag == "0" || !etag.starts_with('0'));
    canonical
        .then(|| etag.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            Error::EtagMismatch(format!(
                "etag {etag:?} does not match: this store's etags are decimal versions"
            ))
        })
}

/// What a request's `ttlInSeconds` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// `-1`: the value never expires (clears an earlier TTL).
    Never,
    /// A positive number of seconds from now.
    Seconds(u64),
}

/// Parse `ttlInSeconds` from request metadata; `None` if it is absent.
///
/// Accepts a positive integer or `-1`; `0`, other negative numbers and non-integers are
/// `invalid-argument` errors naming the key and the value.
pub fn parse_ttl(metadata: &[(String, String)]) -> Result<Option<Ttl>, Error> {
    // A repeated key: the last occurrence wins.
    let Some(raw) = metadata::value(metadata, TTL_IN_SECONDS) else {
        return Ok(None);
    };
    match raw.parse::<i64>() {
        Ok(-1) => Ok(Some(Ttl::Never)),
        Ok(secs) if secs > 0 => Ok(Some(Ttl::Seconds(secs.unsigned_abs()))),
        Ok(_) => Err(Error::InvalidArgument(format!(
            "metadata {TTL_IN_SECONDS}={raw:?} is invalid: use a positive number of seconds, or -1 for no TTL"
        ))),
        Err(_) => Err(Error::InvalidArgument(format!(
            "metadata {TTL_IN_SECONDS}={raw:?} is not an integer number of seconds"
        ))),
    }
}

/// The expiry (unix milliseconds) a TTL gives a value written at `now_ms`; `None` = never.
/// A TTL reaching past year 9999 is an `invalid-argument` error.
pub fn expiry_ms(now_ms: u64, ttl: Option<Ttl>) -> Result<Option<u64>, Error> {
    match ttl {
        None | Some(Ttl::Never) => Ok(None),
        Some(Ttl::Seconds(secs)) => secs
            .checked_mul(1000)
            .and_then(|ms| now_ms.checked_add(ms))
            .filter(|&at| at <= MAX_UNIX_MS)
            .map(Some)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "metadata {TTL_IN_SECONDS}=\"{secs}\" is too large: the expiry would be after year 9999"
                ))
            }),
    }
}

/// The content type of a set: the request field if set, else metadata `contentType`.
/// Empty strings count as absent.
pub fn content_type(field: Option<String>, metadata: &[(String, String)]) -> Option<String> {
    field
        .filter(|ct| !ct.is_empty())
        .or_else(|| metadata::non_empty(metadata, CONTENT_TYPE).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use wasmplug_guest::testing::pairs as md;

    use super::*;

    fn invalid_argument(result: Result<Option<Ttl>, Error>) -> String {
        match result {
            Err(Error::InvalidArgument(msg)) => msg,
            other => panic!("expected invalid-argument, got {other:?}"),
        }
    }

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl(&md(&[])).ok(), Some(None));
        assert_eq!(parse_ttl(&md(&[("other", "x")])).ok(), Some(None));
        assert_eq!(
            parse_ttl(&md(&[(TTL_IN_SECONDS, "1")])).ok(),
            Some(Some(Ttl::Seconds(1)))
        );
        assert_eq!(
            parse_ttl(&md(&[(TTL_IN_SECONDS, "3600")])).ok(),
            Some(Some(Ttl::Seconds(3600)))
        );
        assert_eq!(
            parse_ttl(&md(&[(TTL_IN_SECONDS, "-1")])).ok(),
            Some(Some(Ttl::Never))
        );
        assert_eq!(
            parse_ttl(&md(&[(TTL_IN_SECONDS, "5"), (TTL_IN_SECONDS, "-1")])).ok(),
            Some(Some(Ttl::Never)),
            "last occurrence wins"
        );
    }

    #[test]
    fn ttl_rejects_bad_values_naming_key_and_value() {
        for bad in ["foo", "", " 5", "1.5", "0", "-2", "99999999999999999999"] {
            let msg = invalid_argument(parse_ttl(&md(&[(TTL_IN_SECONDS, bad)])));
            assert!(
                msg.contains(TTL_IN_SECONDS) && msg.contains(&format!("{bad:?}")),
                "{msg}"
            );
        }
    }

    #[test]
    fn expiry_computation() {
        assert_eq!(expiry_ms(1_000, None).ok(), Some(None));
        assert_eq!(expiry_ms(1_000, Some(Ttl::Never)).ok(), Some(None));
        assert_eq!(
            expiry_ms(1_000, Some(Ttl::Seconds(2))).ok(),
            Some(Some(3_000))
        );
        assert!(matches!(
            expiry_ms(1_000, Some(Ttl::Seconds(i64::MAX as u64))),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            expiry_ms(MAX_UNIX_MS, Some(Ttl::Seconds(1))),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn etag_round_trip_and_rejection() {
        for v in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_etag(&format_etag(v)).ok(), Some(v));
        }
        for bad in [
            "",
            "bad-etag",
            "-1",
            "+1",
            "01",
            " 1",
            "1 ",
            "0x10",
            "18446744073709551616",
        ] {
            assert!(
                matches!(parse_etag(bad), Err(Error::EtagMismatch(_))),
                "{bad:?}"
            );
        }
        assert_eq!(requested_etag(Some("")), None);
        assert_eq!(requested_etag(None), None);
        assert_eq!(requested_etag(Some("7")), Some("7"));
    }

    #[test]
    fn content_type_prefers_the_field() {
        let meta = md(&[(CONTENT_TYPE, "text/plain")]);
        assert_eq!(
            content_type(Some("application/json".into()), &meta).as_deref(),
            Some("application/json")
        );
        assert_eq!(content_type(None, &meta).as_deref(), Some("text/plain"));
        assert_eq!(
            content_type(Some(String::new()), &meta).as_deref(),
            Some("text/plain")
        );
        assert_eq!(content_type(None, &md(&[(CONTENT_TYPE, "")])), None);
        assert_eq!(content_type(None, &[]), None);
    }
}
