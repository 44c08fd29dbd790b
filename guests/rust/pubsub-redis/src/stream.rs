//! Redis Streams commands in the layout of Dapr's `pubsub.redis`, and their replies. Pure:
//! nothing here talks to Redis, so it is tested natively.
//!
//! An entry is `data <bytes>`, then `metadata <JSON object>` when the request has metadata,
//! then `contentType <type>` when the request names one (Dapr writes no content type: its
//! payloads are CloudEvents that carry their own; Dapr's reader ignores fields it does not
//! know, and ours treats a missing one as none).

use std::time::{Duration, SystemTime};

use wasmplug_guest::resp::Value;

use crate::json;
use crate::settings::Settings;

/// The field names of an entry.
pub const DATA: &str = "data";
pub const METADATA: &str = "metadata";
pub const CONTENT_TYPE: &str = "contentType";

pub type Command = Vec<Vec<u8>>;

fn cmd(parts: &[&[u8]]) -> Command {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// `XADD topic [MAXLEN ~ n | MINID ~ id] * data .. [metadata ..] [contentType ..]`.
pub fn xadd(
    settings: &Settings,
    now: SystemTime,
    topic: &str,
    data: &[u8],
    metadata: &[(String, String)],
    content_type: Option<&str>,
) -> Command {
    let mut c = cmd(&[b"XADD", topic.as_bytes()]);
    if let Some(n) = settings.max_len_approx {
        c.extend(cmd(&[b"MAXLEN", b"~", n.to_string().as_bytes()]));
    } else if let Some(ttl) = settings.stream_ttl {
        // Dapr: `<unix ms of now - ttl>-1`.
        let min = now
            .checked_sub(ttl)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .unwrap_or(Duration::ZERO);
        c.extend(cmd(&[
            b"MINID",
            b"~",
            format!("{}-1", min.as_millis()).as_bytes(),
        ]));
    }
    c.extend(cmd(&[b"*", DATA.as_bytes(), data]));
    if !metadata.is_empty() {
        c.extend(cmd(&[
            METADATA.as_bytes(),
            json::encode(metadata).as_bytes(),
        ]));
    }
    if let Some(t) = content_type {
        c.extend(cmd(&[CONTENT_TYPE.as_bytes(), t.as_bytes()]));
    }
    c
}

/// `XGROUP CREATE topic group 0 MKSTREAM`: the group starts at the beginning of the stream,
/// as Dapr's does (so what was published before the first subscription is delivered).
pub fn xgroup_create(topic: &str, group: &str) -> Command {
    cmd(&[
        b"XGROUP",
        b"CREATE",
        topic.as_bytes(),
        group.as_bytes(),
        b"0",
        b"MKSTREAM",
    ])
}

/// `XREADGROUP GROUP g c COUNT n STREAMS topic id`, never `BLOCK`: `>` reads new entries,
/// any other id the consumer's own pending entries after it.
pub fn xreadgroup(group: &str, consumer: &str, count: u32, topic: &str, id: &str) -> Command {
    cmd(&[
        b"XREADGROUP",
        b"GROUP",
        group.as_bytes(),
        consumer.as_bytes(),
        b"COUNT",
        count.to_string().as_bytes(),
        b"STREAMS",
        topic.as_bytes(),
        id.as_bytes(),
    ])
}

/// `XAUTOCLAIM topic g c min-idle-ms cursor COUNT n`.
pub fn xautoclaim(
    topic: &str,
    group: &str,
    consumer: &str,
    min_idle: Duration,
    cursor: &str,
    count: u32,
) -> Command {
    cmd(&[
        b"XAUTOCLAIM",
        topic.as_bytes(),
        group.as_bytes(),
        consumer.as_bytes(),
        min_idle.as_millis().to_string().as_bytes(),
        cursor.as_bytes(),
        b"COUNT",
        count.to_string().as_bytes(),
    ])
}

/// `XACK topic group id`.
pub fn xack(topic: &str, group: &str, id: &str) -> Command {
    cmd(&[b"XACK", topic.as_bytes(), group.as_bytes(), id.as_bytes()])
}

/// One entry of a reply; `fields` is `None` for an entry that no longer exists (trimmed or
/// deleted while pending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl Entry {
    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .as_ref()?
            .iter()
            .rev()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }
}

fn bad(what: &str) -> String {
    format!("unexpected {what} reply from redis")
}

fn entry(v: Value) -> Result<Entry, String> {
    let mut parts = v
        .into_array()
        .ok_or_else(|| bad("stream entry"))?
        .into_iter();
    let id = parts
        .next()
        .and_then(|id| id.as_str().map(str::to_owned))
        .ok_or_else(|| bad("stream entry id"))?;
    let fields = match parts.next() {
        None | Some(Value::Nil) => None,
        Some(Value::Array(flat)) => {
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let Some(k) = it.next() {
                let v = it.next().ok_or_else(|| bad("stream entry fields"))?;
                match (k, v) {
                    (Value::Bulk(k), Value::Bulk(v)) => fields.push((k, v)),
                    _ => return Err(bad("stream entry field")),
                }
            }
            Some(fields)
        }
        Some(_) => return Err(bad("stream entry fields")),
    };
    Ok(Entry { id, fields })
}

fn entries(v: Value) -> Result<Vec<Entry>, String> {
    v.into_array()
        .ok_or_else(|| bad("entry list"))?
        .into_iter()
        // XCLAIM of Redis < 7 answers nil in place of an entry that no longer exists.
        .filter(|e| *e != Value::Nil)
        .map(entry)
        .collect()
}

/// The entries of an `XREADGROUP` of one stream (nil: none).
pub fn read_reply(v: Value) -> Result<Vec<Entry>, String> {
    let Some(stream) = v
        .into_array()
        .ok_or_else(|| bad("XREADGROUP"))?
        .into_iter()
        .next()
    else {
        return Ok(Vec::new());
    };
    let mut parts = stream
        .into_array()
        .ok_or_else(|| bad("XREADGROUP stream"))?
        .into_iter();
    let _name = parts.next();
    entries(parts.next().unwrap_or(Value::Nil))
}

/// The next cursor (`0-0`: the scan is complete) and the claimed entries of an `XAUTOCLAIM`.
/// (Redis 7 adds the ids it dropped from the pending list because they no longer exist.)
pub fn autoclaim_reply(v: Value) -> Result<(String, Vec<Entry>), String> {
    let mut parts = v.into_array().ok_or_else(|| bad("XAUTOCLAIM"))?.into_iter();
    let cursor = parts
        .next()
        .and_then(|c| c.as_str().map(str::to_owned))
        .ok_or_else(|| bad("XAUTOCLAIM cursor"))?;
    let claimed = entries(parts.next().unwrap_or(Value::Nil))?;
    Ok((cursor, claimed))
}

/// `(ms, seq)` of a stream id `ms-seq`.
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The greatest stream id below `id` (`None` for `0-0`): reading a consumer's pending
/// entries after it starts at `id`.
pub fn predecessor(id: &str) -> Option<String> {
    match parse_id(id)? {
        (0, 0) => None,
        (ms, 0) => Some(format!("{}-{}", ms - 1, u64::MAX)),
        (ms, seq) => Some(format!("{ms}-{}", seq - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(c: &Command) -> Vec<String> {
        c.iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_metadata(&md(pairs)).unwrap()
    }

    #[test]
    fn xadd_has_daprs_layout() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let s = settings(&[]);
        assert_eq!(
            strs(&xadd(&s, now, "orders", b"hi", &[], None)),
            ["XADD", "orders", "*", "data", "hi"]
        );
        assert_eq!(
            strs(&xadd(
                &s,
                now,
                "orders",
                b"hi",
                &md(&[("seq", "1")]),
                Some("text/plain")
            )),
            [
                "XADD",
                "orders",
                "*",
                "data",
                "hi",
                "metadata",
                r#"{"seq":"1"}"#,
                "contentType",
                "text/plain"
            ]
        );
        let s = settings(&[("maxLenApprox", "5"), ("streamTTL", "10s")]);
        assert_eq!(
            strs(&xadd(&s, now, "t", b"", &[], None)),
            ["XADD", "t", "MAXLEN", "~", "5", "*", "data", ""]
        );
        let s = settings(&[("streamTTL", "10s")]);
        assert_eq!(
            strs(&xadd(&s, now, "t", b"", &[], None)),
            ["XADD", "t", "MINID", "~", "90000-1", "*", "data", ""]
        );
    }

    #[test]
    fn reads_never_block() {
        let c = strs(&xreadgroup("g", "c-1", 10, "t", ">"));
        assert_eq!(
            c,
            [
                "XREADGROUP",
                "GROUP",
                "g",
                "c-1",
                "COUNT",
                "10",
                "STREAMS",
                "t",
                ">"
            ]
        );
        assert!(!c.iter().any(|p| p.eq_ignore_ascii_case("BLOCK")));
        assert_eq!(
            strs(&xautoclaim("t", "g", "c", Duration::from_secs(2), "0-0", 5)),
            ["XAUTOCLAIM", "t", "g", "c", "2000", "0-0", "COUNT", "5"]
        );
        assert_eq!(
            strs(&xgroup_create("t", "g")),
            ["XGROUP", "CREATE", "t", "g", "0", "MKSTREAM"]
        );
        assert_eq!(strs(&xack("t", "g", "1-1")), ["XACK", "t", "g", "1-1"]);
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    fn raw_entry(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn decodes_read_replies() {
        assert_eq!(read_reply(Value::Nil).unwrap(), []);
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("t"),
            Value::Array(vec![
                raw_entry("1-0", &["data", "a", "metadata", "{}"]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
            ]),
        ])]);
        let got = read_reply(reply).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "1-0");
        assert_eq!(got[0].field("data"), Some(&b"a"[..]));
        assert_eq!(got[0].field("contentType"), None);
        assert_eq!(got[1].fields, None, "a deleted entry");
        assert!(read_reply(Value::Int(1)).is_err());
        assert!(
            read_reply(Value::Array(vec![Value::Array(vec![
                bulk("t"),
                Value::Array(vec![raw_entry("1-0", &["data"])])
            ])]))
            .is_err()
        );
    }

    #[test]
    fn decodes_autoclaim_replies() {
        for extra in [vec![], vec![Value::Array(vec![bulk("0-5")])]] {
            let mut parts = vec![
                bulk("0-0"),
                Value::Array(vec![raw_entry("3-1", &["data", "x"]), Value::Nil]),
            ];
            parts.extend(extra);
            let (cursor, got) = autoclaim_reply(Value::Array(parts)).unwrap();
            assert_eq!(cursor, "0-0");
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].id, "3-1");
        }
        assert!(autoclaim_reply(Value::Array(vec![])).is_err());
    }

    #[test]
    fn stream_ids() {
        assert_eq!(parse_id("1700000000000-3"), Some((1_700_000_000_000, 3)));
        for bad in ["", "1", "1-", "-1", "a-1", "1-2-3", "+1-1"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
        assert_eq!(predecessor("5-3").as_deref(), Some("5-2"));
        assert_eq!(
            predecessor("5-0").as_deref(),
            Some("4-18446744073709551615")
        );
        assert_eq!(predecessor("0-0"), None);
    }
}
