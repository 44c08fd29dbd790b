//! The component metadata of Dapr's `pubsub.redis` that this component reads (besides the
//! connection settings, which [`wasmplug_guest::resp::Options::from_metadata`] reads).

use std::time::Duration;

use wasmplug_guest::resp;

/// Consumer group name when the metadata has no `consumerID` (daprd always passes one: the
/// app id, unless the component sets it).
pub const DEFAULT_CONSUMER_ID: &str = "wasmplug";

/// Dapr's defaults (`common/component/redis/redis.go`, pub/sub branch).
pub const DEFAULT_PROCESSING_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_REDELIVER_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_QUEUE_DEPTH: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The consumer group of every topic (`consumerID`).
    pub consumer_id: String,
    /// How long a delivery may stay unacked before it is claimed and delivered again.
    /// `None` (`0`) disables redelivery, as in Dapr.
    pub processing_timeout: Option<Duration>,
    /// How often pending entries are checked for ones past the processing timeout.
    /// `None` (`0`) disables redelivery, as in Dapr.
    pub redeliver_interval: Option<Duration>,
    /// `XADD ... MAXLEN ~ N` when set (`maxLenApprox` > 0).
    pub max_len_approx: Option<u64>,
    /// `XADD ... MINID ~ <now - ttl>` when set (`streamTTL`) and `maxLenApprox` is not.
    pub stream_ttl: Option<Duration>,
    /// The most entries one read asks Redis for (`queueDepth`).
    pub queue_depth: u32,
}

impl Settings {
    /// Reads the settings; `Err` names the key that is wrong.
    pub fn from_metadata(metadata: &[(String, String)]) -> Result<Settings, String> {
        let get = |key: &str| {
            metadata
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let consumer_id = get("consumerID").unwrap_or(DEFAULT_CONSUMER_ID).to_owned();
        let processing_timeout = match get("processingTimeout") {
            None => Some(DEFAULT_PROCESSING_TIMEOUT),
            Some(v) => non_zero(dapr_duration("processingTimeout", v)?),
        };
        let redeliver_interval = match get("redeliverInterval") {
            None => Some(DEFAULT_REDELIVER_INTERVAL),
            Some(v) => non_zero(dapr_duration("redeliverInterval", v)?),
        };
        let max_len_approx = match get("maxLenApprox") {
            None => None,
            Some(v) => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("metadata maxLenApprox {v:?} is not a number"))?;
                u64::try_from(n).ok().filter(|n| *n > 0)
            }
        };
        let stream_ttl = match get("streamTTL") {
            None => None,
            Some(v) => non_zero(resp::go_duration(v).ok_or_else(|| {
                format!("metadata streamTTL {v:?} is not a duration such as 1h or 30m")
            })?),
        };
        let queue_depth = match get("queueDepth") {
            None => DEFAULT_QUEUE_DEPTH,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("metadata queueDepth {v:?} is not a positive number"))?,
        };
        Ok(Settings {
            consumer_id,
            processing_timeout,
            redeliver_interval,
            max_len_approx,
            stream_ttl,
            queue_depth,
        })
    }

    /// The processing timeout when redelivery is on (both settings non-zero, as in Dapr).
    pub fn redelivery(&self) -> Option<(Duration, Duration)> {
        Some((self.processing_timeout?, self.redeliver_interval?))
    }
}

fn non_zero(d: Duration) -> Option<Duration> {
    Some(d).filter(|d| !d.is_zero())
}

/// `processingTimeout`/`redeliverInterval`: a plain integer is milliseconds (Dapr keeps that
/// for legacy reasons), anything else a Go duration (`15s`, `500ms`).
fn dapr_duration(key: &str, v: &str) -> Result<Duration, String> {
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    resp::go_duration(v)
        .ok_or_else(|| format!("metadata {key} {v:?} is not a duration such as 15s or 500ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_daprs() {
        let s = Settings::from_metadata(&md(&[("redisHost", "r:1")])).unwrap();
        assert_eq!(s.consumer_id, DEFAULT_CONSUMER_ID);
        assert_eq!(s.processing_timeout, Some(Duration::from_secs(60)));
        assert_eq!(s.redeliver_interval, Some(Duration::from_secs(15)));
        assert_eq!(s.max_len_approx, None);
        assert_eq!(s.stream_ttl, None);
        assert_eq!(s.queue_depth, 100);
        assert!(s.redelivery().is_some());
    }

    #[test]
    fn reads_every_key() {
        let s = Settings::from_metadata(&md(&[
            ("consumerID", "orders-app"),
            ("processingTimeout", "1500"),
            ("redeliverInterval", "2s"),
            ("maxLenApprox", "10"),
            ("streamTTL", "1h"),
            ("queueDepth", "7"),
        ]))
        .unwrap();
        assert_eq!(s.consumer_id, "orders-app");
        assert_eq!(
            s.processing_timeout,
            Some(Duration::from_millis(1500)),
            "a plain number is milliseconds, as in Dapr"
        );
        assert_eq!(s.redeliver_interval, Some(Duration::from_secs(2)));
        assert_eq!(s.max_len_approx, Some(10));
        assert_eq!(s.stream_ttl, Some(Duration::from_secs(3600)));
        assert_eq!(s.queue_depth, 7);
    }

    #[test]
    fn zero_disables_redelivery() {
        for key in ["processingTimeout", "redeliverInterval"] {
            let s = Settings::from_metadata(&md(&[(key, "0")])).unwrap();
            assert_eq!(s.redelivery(), None, "{key}");
        }
        let s = Settings::from_metadata(&md(&[("maxLenApprox", "0")])).unwrap();
        assert_eq!(s.max_len_approx, None);
    }

    #[test]
    fn refuses_bad_values() {
        for (k, v) in [
            ("processingTimeout", "soon"),
            ("redeliverInterval", "1d"),
            ("maxLenApprox", "many"),
            ("streamTTL", "x"),
            ("queueDepth", "0"),
        ] {
            let e = Settings::from_metadata(&md(&[(k, v)])).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }
}
