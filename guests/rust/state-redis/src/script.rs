//! The Lua scripts this component runs on Redis, the arguments it passes them and the
//! decoding of their replies. Pure: no I/O, so it is unit-tested natively.
//!
//! Layout (Dapr's `state.redis`): a state key is a Redis hash with fields `data` (the value
//! bytes) and `version` (an integer; the etag is its decimal text). A set with first-write
//! concurrency also sets `first-write` = `0`, as Dapr's does. A content type, when a request
//! gives one, is kept in one more field, `contentType`, which Dapr ignores (and a set without
//! a content type removes it). A plain string key (written with `SET` by older Dapr versions)
//! reads as its value with no etag and is replaced by a hash on the next write.
//!
//! Every write (set, delete, bulk set/delete, transaction) is one run of [`APPLY`] over all
//! its operations, so it is atomic: the script first walks the operations in order against a
//! view of the keys that includes the effect of the earlier operations, checking every etag
//! and first-write rule; only when all pass does it apply them. Nothing is written when one
//! fails.
//!
//! Versions: an update adds 1 to the stored version (as Dapr's `HINCRBY`). A key that does
//! not exist yet starts at the server's clock in microseconds (`TIME`), not at 1, so a key
//! deleted and created again never gets an etag it had before (Dapr would restart at 1).

use crate::Error;
use crate::time::format_rfc3339_ms;
use wasmplug_guest::resp::Value;

/// Arguments per operation in [`APPLY`]: kind, etag, first-write, ttl, data, content type.
pub const ARGS_PER_OP: usize = 6;

/// Checks then applies a list of operations. `KEYS[i]` is the key of operation `i`;
/// `ARGV[(i-1)*6 + 1..=6]` its kind (`S` set, `D` delete), etag (decimal, or empty for
/// none), first-write (`1`/`0`), ttl in seconds (`0` or less: persist), data, content type
/// (empty: none). Replies `OK`, or the error `ETAGMISMATCH <i>` / `FIRSTWRITE <i>` naming
/// the first failing operation, or `WRONGTYPE ...` for a key that is neither a hash nor a
/// string.
pub const APPLY: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local N = 6
local clock = redis.call("TIME")
local stamp = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local view = {}
local plan = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local b = (i - 1) * N
  local kind, etag, fw = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local s = view[k]
  if not s then
    s = { exists = false, version = false, plain = false, floor = 0 }
    local t = redis.call("TYPE", k)["ok"]
    if t == "hash" then
      s.exists = true
      s.version = redis.call("HGET", k, "version")
      s.floor = tonumber(s.version) or 0
    elseif t == "string" then
      s.exists = true
      s.plain = true
    elseif t ~= "none" then
      return redis.error_reply("WRONGTYPE key " .. k .. " holds a " .. t .. ", not state")
    end
    view[k] = s
  end
  if etag ~= "" then
    if s.version ~= etag then
      return redis.error_reply("ETAGMISMATCH " .. i)
    end
  elseif kind == "S" and fw == "1" and s.exists then
    return redis.error_reply("FIRSTWRITE " .. i)
  end
  if kind == "S" then
    local v = tonumber(s.version)
    local nv
    if v then nv = v + 1 else nv = math.max(stamp, s.floor + 1) end
    plan[i] = { del = s.plain, version = string.format("%.0f", nv) }
    s.exists = true
    s.plain = false
    s.version = plan[i].version
    s.floor = nv
  else
    s.exists = false
    s.plain = false
    s.version = false
  end
end
for i = 1, #KEYS do
  local k = KEYS[i]
  local b = (i - 1) * N
  if ARGV[b + 1] == "S" then
    local p = plan[i]
    if p.del then redis.call("DEL", k) end
    redis.call("HSET", k, "data", ARGV[b + 5], "version", p.version)
    if ARGV[b + 3] == "1" then redis.call("HSET", k, "first-write", 0) end
    if ARGV[b + 6] ~= "" then
      redis.call("HSET", k, "contentType", ARGV[b + 6])
    else
      redis.call("HDEL", k, "contentType")
    end
    local ttl = tonumber(ARGV[b + 4])
    if ttl > 0 then redis.call("EXPIRE", k, ttl) else redis.call("PERSIST", k) end
  else
    redis.call("DEL", k)
  end
end
return redis.status_reply("OK")
"#;

/// Reads keys: for each of `KEYS`, `{"hash", HGETALL, PTTL}`, `{"string", GET, PTTL}`,
/// `{"none"}` or `{<other type>}`. One script, so all keys are read at one instant.
pub const READ: &str = r#"
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local t = redis.call("TYPE", k)["ok"]
  if t == "hash" then
    out[i] = { t, redis.call("HGETALL", k), redis.call("PTTL", k) }
  elseif t == "string" then
    out[i] = { t, redis.call("GET", k), redis.call("PTTL", k) }
  else
    out[i] = { t }
  end
end
return out
"#;

/// Metadata key of a request's (or the component's default) TTL.
pub const TTL_IN_SECONDS: &str = "ttlInSeconds";
/// Metadata key of the expiry returned by get.
pub const TTL_EXPIRE_TIME: &str = "ttlExpireTime";

/// What a set does to the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// `EXPIRE key N` (N > 0).
    Expire(i64),
    /// `PERSIST key`: no TTL.
    Persist,
}

/// One checked operation, ready to be passed to [`APPLY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Set {
        key: String,
        /// The version the stored one must equal, in canonical decimal.
        etag: Option<String>,
        first_write: bool,
        ttl: Ttl,
        data: Vec<u8>,
        content_type: Option<String>,
    },
    Delete {
        key: String,
        etag: Option<String>,
    },
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Set { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

/// An etag as this store's versions are written: a decimal integer, returned canonically
/// (`007` becomes `7`, as Dapr's `strconv.Atoi` then `Itoa` would). `None` for no etag
/// (absent or empty). Anything else cannot match any stored version, so it is an etag
/// mismatch (what the state contract requires of a set with a foreign etag; Dapr reports
/// it as an invalid etag).
pub fn parse_etag(key: &str, etag: Option<&str>) -> Result<Option<String>, Error> {
    match etag {
        None | Some("") => Ok(None),
        Some(e) => e.parse::<i64>().map(|v| Some(v.to_string())).map_err(|_| {
            Error::EtagMismatch(format!(
                "etag {e:?} of key {key:?} is not a version this store issued"
            ))
        }),
    }
}

/// The TTL a set applies: its `ttlInSeconds`, else the component default, else none (which
/// clears a TTL the key had). Zero or negative means no TTL, as in Dapr.
pub fn parse_ttl(metadata: &[(String, String)], default: Option<i64>) -> Result<Ttl, Error> {
    let seconds = match wasmplug_guest::metadata::non_empty(metadata, TTL_IN_SECONDS) {
        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            Error::InvalidArgument(format!(
                "metadata {TTL_IN_SECONDS} {v:?} is not a whole number of seconds"
            ))
        })?),
        None => default,
    };
    Ok(match seconds {
        Some(n) if n > 0 => Ttl::Expire(n),
        _ => Ttl::Persist,
    })
}

/// A state key must not be empty.
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        Err(Error::InvalidArgument("the state key is empty".to_owned()))
    } else {
        Ok(())
    }
}

/// The `EVAL` command running [`APPLY`] over `ops`.
pub fn apply_command(ops: &[Op]) -> Vec<Vec<u8>> {
    let mut cmd: Vec<Vec<u8>> = Vec::with_capacity(3 + ops.len() * (1 + ARGS_PER_OP));
    cmd.push(b"EVAL".to_vec());
    cmd.push(APPLY.as_bytes().to_vec());
    cmd.push(ops.len().to_string().into_bytes());
    cmd.extend(ops.iter().map(|op| op.key().as_bytes().to_vec()));
    for op in ops {
        match op {
            Op::Set {
                etag,
                first_write,
                ttl,
                data,
                content_type,
                ..
            } => {
                cmd.push(b"S".to_vec());
                cmd.push(etag.clone().unwrap_or_default().into_bytes());
                cmd.push(if *first_write {
                    b"1".to_vec()
                } else {
                    b"0".to_vec()
                });
                cmd.push(match ttl {
                    Ttl::Expire(n) => n.to_string().into_bytes(),
                    Ttl::Persist => b"0".to_vec(),
                });
                cmd.push(data.clone());
                cmd.push(content_type.clone().unwrap_or_default().into_bytes());
            }
            Op::Delete { etag, .. } => {
                cmd.push(b"D".to_vec());
                cmd.push(etag.clone().unwrap_or_default().into_bytes());
                cmd.extend([b"0".to_vec(), b"0".to_vec(), Vec::new(), Vec::new()]);
            }
        }
    }
    cmd
}

/// The `EVAL` command running [`READ`] over `keys`.
pub fn read_command(keys: &[&str]) -> Vec<Vec<u8>> {
    let mut cmd: Vec<Vec<u8>> = Vec::with_capacity(3 + keys.len());
    cmd.push(b"EVAL".to_vec());
    cmd.push(READ.as_bytes().to_vec());
    cmd.push(keys.len().to_string().into_bytes());
    cmd.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
    cmd
}

/// The error of an [`APPLY`] error reply: `ETAGMISMATCH <i>` and `FIRSTWRITE <i>` (1-based)
/// name the operation and are etag mismatches (as daprd reports a first-write conflict).
pub fn apply_error(ops: &[Op], reply: &str) -> Error {
    let (why, rest) = if let Some(rest) = reply.strip_prefix("ETAGMISMATCH") {
        ("the etag does not match the stored version", rest)
    } else if let Some(rest) = reply.strip_prefix("FIRSTWRITE") {
        (
            "the key exists and the set asked for first-write without an etag",
            rest,
        )
    } else {
        return Error::Other(format!("redis: {reply}"));
    };
    let key = rest
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|i| ops.get(i.checked_sub(1)?))
        .map(Op::key);
    Error::EtagMismatch(match (key, ops.len()) {
        (Some(k), 1) => format!("key {k:?}: {why}"),
        (Some(k), n) => format!("key {k:?}: {why}; none of the {n} operations was applied"),
        (None, _) => why.to_owned(),
    })
}

/// A stored value as read by [`READ`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub data: Vec<u8>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    /// `ttlExpireTime`, when the key has a TTL.
    pub expires: Option<String>,
}

/// Decodes the reply [`READ`] gave for one key. `Ok(None)`: no such key. `Err` says why the
/// key is not state (another Redis type, a hash without `data`).
pub fn decode_entry(key: &str, entry: &Value, now_unix_ms: u64) -> Result<Option<Stored>, String> {
    let bad = || format!("key {key:?}: unexpected reply from the read script");
    let parts = entry.as_array().ok_or_else(bad)?;
    let (kind, rest) = parts.split_first().ok_or_else(bad)?;
    let kind = kind.as_str().ok_or_else(bad)?;
    let expires = |pttl: Option<&Value>| {
        pttl.and_then(Value::as_int)
            .and_then(|ms| u64::try_from(ms).ok())
            .filter(|ms| *ms > 0)
            .map(|ms| format_rfc3339_ms(now_unix_ms.saturating_add(ms)))
    };
    match kind {
        "none" => Ok(None),
        "string" => {
            let data = rest.first().and_then(Value::as_bytes).ok_or_else(bad)?;
            Ok(Some(Stored {
                data: data.to_vec(),
                etag: None,
                content_type: None,
                expires: expires(rest.get(1)),
            }))
        }
        "hash" => {
            let fields = rest.first().and_then(Value::as_array).ok_or_else(bad)?;
            let mut stored = Stored {
                data: Vec::new(),
                etag: None,
                content_type: None,
                expires: expires(rest.get(1)),
            };
            let mut seen_data = false;
            for pair in fields.chunks_exact(2) {
                let (Some(name), Some(value)) = (pair.first(), pair.get(1)) else {
                    continue;
                };
                match (name.as_bytes(), value.as_bytes()) {
                    (Some(b"data"), Some(v)) => {
                        stored.data = v.to_vec();
                        seen_data = true;
                    }
                    (Some(b"version"), Some(v)) => {
                        stored.etag = Some(String::from_utf8_lossy(v).into_owned());
                    }
                    (Some(b"contentType"), Some(v)) => {
                        stored.content_type = Some(String::from_utf8_lossy(v).into_owned());
                    }
                    _ => {}
                }
            }
            if !seen_data {
                return Err(format!(
                    "key {key:?} is a hash without a data field: not Dapr state"
                ));
            }
            Ok(Some(stored))
        }
        other => Err(format!(
            "key {key:?} holds a Redis {other}, not state (a hash with data and version)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn etags_are_canonical_integers() {
        assert_eq!(parse_etag("k", None).unwrap(), None);
        assert_eq!(parse_etag("k", Some("")).unwrap(), None);
        assert_eq!(parse_etag("k", Some("007")).unwrap().as_deref(), Some("7"));
        assert_eq!(parse_etag("k", Some("-3")).unwrap().as_deref(), Some("-3"));
        match parse_etag("k", Some("bad-etag")) {
            Err(Error::EtagMismatch(m)) => assert!(m.contains("bad-etag"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl(&md(&[]), None).unwrap(), Ttl::Persist);
        assert_eq!(parse_ttl(&md(&[]), Some(30)).unwrap(), Ttl::Expire(30));
        assert_eq!(
            parse_ttl(&md(&[("ttlInSeconds", "5")]), Some(30)).unwrap(),
            Ttl::Expire(5)
        );
        assert_eq!(
            parse_ttl(&md(&[("ttlInSeconds", "-1")]), Some(30)).unwrap(),
            Ttl::Persist
        );
        assert_eq!(
            parse_ttl(&md(&[("ttlInSeconds", "0")]), None).unwrap(),
            Ttl::Persist
        );
        assert_eq!(
            parse_ttl(&md(&[("ttlInSeconds", "")]), Some(7)).unwrap(),
            Ttl::Expire(7)
        );
        assert!(matches!(
            parse_ttl(&md(&[("ttlInSeconds", "foo")]), None),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn apply_arguments() {
        let ops = [
            Op::Set {
                key: "a".into(),
                etag: Some("4".into()),
                first_write: true,
                ttl: Ttl::Expire(10),
                data: vec![0, 255],
                content_type: Some("text/plain".into()),
            },
            Op::Delete {
                key: "b".into(),
                etag: None,
            },
        ];
        let cmd = apply_command(&ops);
        let want: Vec<Vec<u8>> = vec![
            b"EVAL".to_vec(),
            APPLY.as_bytes().to_vec(),
            b"2".to_vec(),
            b"a".to_vec(),
            b"b".to_vec(),
            b"S".to_vec(),
            b"4".to_vec(),
            b"1".to_vec(),
            b"10".to_vec(),
            vec![0, 255],
            b"text/plain".to_vec(),
            b"D".to_vec(),
            b"".to_vec(),
            b"0".to_vec(),
            b"0".to_vec(),
            b"".to_vec(),
            b"".to_vec(),
        ];
        assert_eq!(cmd, want);
        assert_eq!(cmd.len(), 3 + 2 + 2 * ARGS_PER_OP);
        assert_eq!(
            read_command(&["x", "y"]),
            vec![
                b"EVAL".to_vec(),
                READ.as_bytes().to_vec(),
                b"2".to_vec(),
                b"x".to_vec(),
                b"y".to_vec()
            ]
        );
    }

    #[test]
    fn apply_errors_name_the_operation() {
        let ops = [
            Op::Delete {
                key: "first".into(),
                etag: None,
            },
            Op::Delete {
                key: "second".into(),
                etag: Some("1".into()),
            },
        ];
        match apply_error(&ops, "ETAGMISMATCH 2") {
            Error::EtagMismatch(m) => assert!(m.contains("\"second\""), "{m}"),
            other => panic!("{other:?}"),
        }
        match apply_error(&ops, "FIRSTWRITE 1") {
            Error::EtagMismatch(m) => {
                assert!(m.contains("\"first\"") && m.contains("first-write"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            apply_error(&ops, "ETAGMISMATCH 9"),
            Error::EtagMismatch(_)
        ));
        assert!(matches!(
            apply_error(&ops, "WRONGTYPE key x holds a list, not state"),
            Error::Other(_)
        ));
    }

    #[test]
    fn decodes_dapr_hashes_legacy_strings_and_misses() {
        let now = 1_795_789_992_000;
        let hash = Value::Array(vec![
            bulk("hash"),
            Value::Array(vec![
                bulk("data"),
                bulk("v"),
                bulk("version"),
                bulk("3"),
                bulk("first-write"),
                bulk("0"),
            ]),
            Value::Int(1500),
        ]);
        assert_eq!(
            decode_entry("k", &hash, now).unwrap(),
            Some(Stored {
                data: b"v".to_vec(),
                etag: Some("3".into()),
                content_type: None,
                expires: Some("2026-11-27T14:33:13.500Z".into()),
            })
        );
        let no_ttl = Value::Array(vec![
            bulk("hash"),
            Value::Array(vec![
                bulk("contentType"),
                bulk("application/json"),
                bulk("data"),
                bulk("{}"),
                bulk("version"),
                bulk("1"),
            ]),
            Value::Int(-1),
        ]);
        let s = decode_entry("k", &no_ttl, now).unwrap().unwrap();
        assert_eq!(s.expires, None);
        assert_eq!(s.content_type.as_deref(), Some("application/json"));
        let plain = Value::Array(vec![bulk("string"), bulk("legacy"), Value::Int(-1)]);
        assert_eq!(
            decode_entry("k", &plain, now).unwrap(),
            Some(Stored {
                data: b"legacy".to_vec(),
                etag: None,
                content_type: None,
                expires: None,
            })
        );
        assert_eq!(
            decode_entry("k", &Value::Array(vec![bulk("none")]), now).unwrap(),
            None
        );
        assert!(
            decode_entry("k", &Value::Array(vec![bulk("list")]), now)
                .unwrap_err()
                .contains("list")
        );
        let no_data = Value::Array(vec![
            bulk("hash"),
            Value::Array(vec![bulk("x"), bulk("y")]),
            Value::Int(-1),
        ]);
        assert!(decode_entry("k", &no_data, now).is_err());
        assert!(decode_entry("k", &Value::Int(1), now).is_err());
        assert!(decode_entry("k", &Value::Array(vec![]), now).is_err());
    }
}
