//! A small Redis client: RESP2 over a TCP stream, for guests that talk to Redis themselves
//! (through `wasi:sockets`, which the host opens only to peers the component is granted).
//!
//! - [`Value`]: a reply. An error reply (`-ERR ...`) is a value too ([`Value::Error`]), so a
//!   pipeline or a `MULTI`/`EXEC` can report one failed command among others; [`Client::call`]
//!   turns a top-level error reply into [`RespError::Server`].
//! - [`Client`]: one connection, opened on first use (`AUTH` and `SELECT` as configured) and
//!   dropped on any I/O or protocol error, so the next call connects again: a Redis restart
//!   costs the calls in flight, never the component. When a reused connection fails before
//!   any byte of a reply arrives (the server closed it while it sat idle: a restart), the
//!   request is sent once more on a fresh connection; once any of a reply was read, or on a
//!   fresh connection, nothing is resent. (A server that dies after applying a command and
//!   before its first reply byte could see that command twice; Redis cannot tell us.)
//! - [`Options`]: where and how to connect, read from Dapr's `state.redis`/`pubsub.redis`
//!   metadata names by [`Options::from_metadata`].
//!
//! The codec is pure (`encode`, [`Parser`]) and works on any byte stream, so it is tested
//! without a server. Nothing here panics on any input; replies are bounded by
//! [`MAX_BULK_BYTES`] and [`MAX_ELEMENTS`] so a hostile peer cannot make the guest allocate
//! without limit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The largest bulk string a reply may hold (Redis's own `proto-max-bulk-len` default).
pub const MAX_BULK_BYTES: usize = 512 << 20;
/// The most elements one array reply may hold.
pub const MAX_ELEMENTS: usize = 1 << 24;
/// The deepest nesting of arrays a reply may have.
const MAX_DEPTH: usize = 16;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `$-1` or `*-1`.
    Nil,
    /// `:N`.
    Int(i64),
    /// `+OK` and friends.
    Simple(String),
    /// `$N\r\n...`.
    Bulk(Vec<u8>),
    /// `*N\r\n...`.
    Array(Vec<Value>),
    /// `-ERR ...`: the server refused this command.
    Error(String),
}

impl Value {
    /// The integer this reply holds: `:N`, or a bulk or simple string of decimal digits
    /// (how `HGET` returns a number).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            Value::Simple(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The bulk or simple string as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// The elements of an array reply (`Nil` counts as empty).
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) => Some(v),
            Value::Nil => Some(&[]),
            _ => None,
        }
    }

    /// Moves the elements out of an array reply (`Nil` counts as empty).
    pub fn into_array(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(v) => Some(v),
            Value::Nil => Some(Vec::new()),
            _ => None,
        }
    }

    /// `Err` with the message of an error reply, else the value.
    pub fn into_result(self) -> Result<Value, RespError> {
        match self {
            Value::Error(e) => Err(RespError::Server(e)),
            v => Ok(v),
        }
    }
}

/// Why a command got no usable reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespError {
    /// Connecting, writing or reading failed (the connection is dropped).
    Io(String),
    /// The peer sent something that is not RESP2 (the connection is dropped).
    Protocol(String),
    /// The server answered with an error reply.
    Server(String),
}

impl std::fmt::Display for RespError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RespError::Io(e) => write!(f, "redis connection: {e}"),
            RespError::Protocol(e) => write!(f, "redis protocol: {e}"),
            RespError::Server(e) => write!(f, "redis: {e}"),
        }
    }
}

/// Appends one command (an array of bulk strings) to `out`.
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads replies from a buffered byte stream.
pub struct Parser<R> {
    input: R,
    line: Vec<u8>,
}

impl<R: BufRead> Parser<R> {
    /// A parser over `input`.
    pub fn new(input: R) -> Self {
        Parser {
            input,
            line: Vec::new(),
        }
    }

    /// The next complete reply. `Err(Io)` with "closed" when the stream ends before one.
    pub fn read(&mut self) -> Result<Value, RespError> {
        self.read_at(0)
    }

    fn read_at(&mut self, depth: usize) -> Result<Value, RespError> {
        if depth > MAX_DEPTH {
            return Err(RespError::Protocol("replies nested too deeply".into()));
        }
        self.read_line()?;
        let Some((&kind, rest)) = self.line.split_first() else {
            return Err(RespError::Protocol("empty reply line".into()));
        };
        let text = String::from_utf8_lossy(rest).into_owned();
        match kind {
            b'+' => Ok(Value::Simple(text)),
            b'-' => Ok(Value::Error(text)),
            b':' => text
                .parse()
                .map(Value::Int)
                .map_err(|_| RespError::Protocol(format!("bad integer reply {text:?}"))),
            b'$' => {
                let Some(len) = length(&text, MAX_BULK_BYTES)? else {
                    return Ok(Value::Nil);
                };
                let mut data = vec![0; len + 2];
                self.input.read_exact(&mut data).map_err(io)?;
                if data.get(len..) != Some(b"\r\n") {
                    return Err(RespError::Protocol("bulk string not ended by CRLF".into()));
                }
                data.truncate(len);
                Ok(Value::Bulk(data))
            }
            b'*' => {
                let Some(len) = length(&text, MAX_ELEMENTS)? else {
                    return Ok(Value::Nil);
                };
                let mut items = Vec::with_capacity(len.min(1024));
                for _ in 0..len {
                    items.push(self.read_at(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            other => Err(RespError::Protocol(format!(
                "unknown reply type {:?}",
                char::from(other)
            ))),
        }
    }

    /// Reads one CRLF-terminated line into `self.line`, without the CRLF.
    fn read_line(&mut self) -> Result<(), RespError> {
        self.line.clear();
        let n = (&mut self.input)
            .take(64 * 1024)
            .read_until(b'\n', &mut self.line)
            .map_err(io)?;
        if n == 0 {
            return Err(RespError::Io("the server closed the connection".into()));
        }
        if !self.line.ends_with(b"\r\n") {
            return Err(RespError::Protocol("reply line not ended by CRLF".into()));
        }
        self.line.truncate(self.line.len() - 2);
        Ok(())
    }
}

/// A length header: `-1` is nil, else at most `max`.
fn length(text: &str, max: usize) -> Result<Option<usize>, RespError> {
    if text == "-1" {
        return Ok(None);
    }
    match text.parse::<usize>() {
        Ok(n) if n <= max => Ok(Some(n)),
        _ => Err(RespError::Protocol(format!("bad length {text:?}"))),
    }
}

fn io(e: std::io::Error) -> RespError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        RespError::Io("the server closed the connection".into())
    } else {
        RespError::Io(e.to_string())
    }
}

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `host:port`.
    pub addr: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The database `SELECT`ed after connecting (0 is Redis's default and is not selected).
    pub db: u32,
    /// Read and write timeout of the socket, where the platform supports one (the host's
    /// call deadline bounds every call regardless).
    pub timeout: Option<Duration>,
}

impl Options {
    /// Reads Dapr's names: `redisHost` (required, `host:port`), `redisUsername`,
    /// `redisPassword`, `redisDB`, `enableTLS` (refused: TLS is not available inside the
    /// guest), `dialTimeout`/`readTimeout`/`writeTimeout` (Go durations such as `5s` or
    /// `500ms`, the longest wins). `Err` says which key is wrong; never echoes a password.
    pub fn from_metadata(metadata: &[(String, String)]) -> Result<Options, String> {
        let get = |key: &str| {
            metadata
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let addr = get("redisHost").ok_or("metadata redisHost (host:port) is required")?;
        if !addr.contains(':') {
            return Err(format!(
                "metadata redisHost {addr:?} must be host:port (e.g. localhost:6379)"
            ));
        }
        if let Some(tls) = get("enableTLS")
            && !tls.eq_ignore_ascii_case("false")
        {
            return Err(format!(
                "metadata enableTLS {tls:?}: TLS is not available inside the wasm sandbox; \
                 use the host-side Redis key-value store (keyValueStores, type redis) for TLS"
            ));
        }
        let db = match get("redisDB") {
            None => 0,
            Some(v) => v
                .parse()
                .map_err(|_| format!("metadata redisDB {v:?} is not a database number"))?,
        };
        let mut timeout = None;
        for key in ["dialTimeout", "readTimeout", "writeTimeout"] {
            if let Some(v) = get(key) {
                let d = go_duration(v).ok_or_else(|| {
                    format!("metadata {key} {v:?} is not a duration such as 5s or 500ms")
                })?;
                timeout = timeout.max(Some(d));
            }
        }
        Ok(Options {
            addr: addr.to_owned(),
            username: get("redisUsername").map(str::to_owned),
            password: get("redisPassword").map(str::to_owned),
            db,
            timeout: timeout.filter(|d| !d.is_zero()),
        })
    }
}

/// A Go duration of one unit (`500ms`, `5s`, `1m`, `1h`) or plain seconds (`5`).
pub fn go_duration(v: &str) -> Option<Duration> {
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// One socket: read through the parser's buffer, written through `BufReader::get_mut`
/// (no `try_clone`: wasm32-wasip2 cannot duplicate a socket).
struct Conn {
    reader: Parser<BufReader<TcpStream>>,
}

impl Conn {
    fn writer(&mut self) -> &mut TcpStream {
        self.reader.input.get_mut()
    }
}

/// One Redis connection, (re)opened on demand. See the module docs for what is retried.
pub struct Client {
    options: Options,
    conn: Option<Conn>,
    out: Vec<u8>,
}

impl Client {
    /// A client that connects on its first command.
    pub fn new(options: Options) -> Client {
        Client {
            options,
            conn: None,
            out: Vec::new(),
        }
    }

    /// The options it connects with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Connects now if not connected (`PING` on a fresh connection proves it works).
    pub fn connect(&mut self) -> Result<(), RespError> {
        self.call(&["PING"]).map(|_| ())
    }

    /// Sends one command; an error reply is `Err(Server)`.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, RespError> {
        let mut replies = self.pipeline(std::slice::from_ref(&args))?;
        replies
            .pop()
            .ok_or_else(|| RespError::Protocol("no reply".into()))?
            .into_result()
    }

    /// Sends several commands in one write and reads their replies, in order. An error
    /// reply to one of them is a [`Value::Error`] in its place, not an `Err`.
    pub fn pipeline<A: AsRef<[u8]>, C: AsRef<[A]>>(
        &mut self,
        commands: &[C],
    ) -> Result<Vec<Value>, RespError> {
        self.out.clear();
        for c in commands {
            encode(&mut self.out, c.as_ref());
        }
        let fresh = self.conn.is_none();
        match self.exchange(commands.len()) {
            Err(Failure::BeforeReply(_)) if !fresh => {
                // The idle connection was dead (a server restart); this request never
                // reached a live server, so sending it again cannot apply it twice.
                self.conn = None;
                self.exchange(commands.len()).map_err(Failure::into_error)
            }
            r => r.map_err(Failure::into_error),
        }
    }

    fn exchange(&mut self, count: usize) -> Result<Vec<Value>, Failure> {
        if self.conn.is_none() {
            self.conn = Some(self.open().map_err(Failure::Fatal)?);
        }
        let result = self.send_and_read(count);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn send_and_read(&mut self, count: usize) -> Result<Vec<Value>, Failure> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Fatal(RespError::Io("not connected".into())));
        };
        let writer = conn.writer();
        writer
            .write_all(&self.out)
            .and_then(|()| writer.flush())
            .map_err(|e| Failure::BeforeReply(io(e)))?;
        let mut replies = Vec::with_capacity(count);
        for i in 0..count {
            match conn.reader.read() {
                Ok(v) => replies.push(v),
                // Nothing of any reply arrived and the peer is gone: it closed before
                // reading our request (a restart), so nothing was applied.
                Err(RespError::Io(e)) if i == 0 && conn.reader.line.is_empty() => {
                    return Err(Failure::BeforeReply(RespError::Io(e)));
                }
                Err(e) => return Err(Failure::Fatal(e)),
            }
        }
        Ok(replies)
    }

    fn open(&self) -> Result<Conn, RespError> {
        let o = &self.options;
        let stream = TcpStream::connect(o.addr.as_str())
            .map_err(|e| RespError::Io(format!("connecting to {}: {e}", o.addr)))?;
        // Not every platform supports socket timeouts; the host's call deadline still holds.
        let _ = stream.set_read_timeout(o.timeout);
        let _ = stream.set_write_timeout(o.timeout);
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            reader: Parser::new(BufReader::with_capacity(64 * 1024, stream)),
        };
        let mut hello = Vec::new();
        let mut expected = 0;
        if let Some(password) = &o.password {
            match &o.username {
                Some(user) => encode(&mut hello, &["AUTH", user.as_str(), password.as_str()]),
                None => encode(&mut hello, &["AUTH", password.as_str()]),
            }
            expected += 1;
        }
        if o.db != 0 {
            encode(&mut hello, &["SELECT".to_owned(), o.db.to_string()]);
            expected += 1;
        }
        if expected > 0 {
            conn.writer()
                .write_all(&hello)
                .map_err(|e| RespError::Io(format!("connecting to {}: {e}", o.addr)))?;
            for _ in 0..expected {
                if let Value::Error(e) = conn.reader.read()? {
                    // AUTH errors name neither the password nor the user's secret.
                    return Err(RespError::Server(format!("connecting to {}: {e}", o.addr)));
                }
            }
        }
        Ok(conn)
    }
}

enum Failure {
    /// Failed before any reply byte: safe to resend on a new connection.
    BeforeReply(RespError),
    Fatal(RespError),
}

impl Failure {
    fn into_error(self) -> RespError {
        match self {
            Failure::BeforeReply(e) | Failure::Fatal(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Value, RespError> {
        Parser::new(bytes).read()
    }

    #[test]
    fn encodes_commands_as_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode(&mut out, &["SET", "k", ""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn parses_every_reply_type() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Value::Simple("OK".into())));
        assert_eq!(parse(b"-ERR no\r\n"), Ok(Value::Error("ERR no".into())));
        assert_eq!(parse(b":-42\r\n"), Ok(Value::Int(-42)));
        assert_eq!(parse(b"$-1\r\n"), Ok(Value::Nil));
        assert_eq!(parse(b"*-1\r\n"), Ok(Value::Nil));
        assert_eq!(
            parse(b"$4\r\na\r\nb\r\n"),
            Ok(Value::Bulk(b"a\r\nb".to_vec()))
        );
        assert_eq!(
            parse(b"*2\r\n$1\r\nx\r\n*1\r\n:1\r\n"),
            Ok(Value::Array(vec![
                Value::Bulk(b"x".to_vec()),
                Value::Array(vec![Value::Int(1)])
            ]))
        );
    }

    #[test]
    fn refuses_what_is_not_resp() {
        for bad in [
            &b"?x\r\n"[..],
            b":abc\r\n",
            b"$5\r\nab\r\n",
            b"$2\r\nabcd",
            b"$99999999999\r\n",
            b"+OK\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(RespError::Protocol(_))
        ));
        assert!(matches!(parse(b""), Err(RespError::Io(_))));
    }

    #[test]
    fn values_convert() {
        assert_eq!(Value::Bulk(b"17".to_vec()).as_int(), Some(17));
        assert_eq!(Value::Int(3).as_int(), Some(3));
        assert_eq!(Value::Nil.as_array(), Some(&[][..]));
        assert_eq!(
            Value::Error("E".into()).into_result(),
            Err(RespError::Server("E".into()))
        );
    }

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn options_from_dapr_metadata() {
        let o = Options::from_metadata(&md(&[
            ("redisHost", "redis:6380"),
            ("redisPassword", "s3cret"),
            ("redisDB", "2"),
            ("enableTLS", "false"),
            ("readTimeout", "2s"),
            ("dialTimeout", "500ms"),
        ]))
        .unwrap();
        assert_eq!(o.addr, "redis:6380");
        assert_eq!(o.password.as_deref(), Some("s3cret"));
        assert_eq!(o.username, None);
        assert_eq!(o.db, 2);
        assert_eq!(o.timeout, Some(Duration::from_secs(2)));

        let err = |pairs: &[(&str, &str)]| Options::from_metadata(&md(pairs)).unwrap_err();
        assert!(err(&[]).contains("redisHost"));
        assert!(err(&[("redisHost", "redis")]).contains("host:port"));
        assert!(err(&[("redisHost", "r:1"), ("enableTLS", "true")]).contains("TLS"));
        assert!(err(&[("redisHost", "r:1"), ("redisDB", "x")]).contains("redisDB"));
        let e = err(&[
            ("redisHost", "r:1"),
            ("redisPassword", "hunter2"),
            ("readTimeout", "soon"),
        ]);
        assert!(e.contains("readTimeout") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(go_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(go_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(go_duration("x"), None);
        assert_eq!(go_duration("1d"), None);
    }
}
