//! Just enough RESP to probe a server without a client library: send a few commands, read
//! their replies.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// One reply, as far as the probe needs it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+OK`, `+PONG`.
    Simple(String),
    /// `-ERR ...`, `-LOADING ...`, `-NOAUTH ...`.
    Error(String),
    /// `$n`; `None` for the nil bulk string `$-1`.
    Bulk(Option<Vec<u8>>),
}

/// Encodes one command as a RESP array of bulk strings.
pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Reply {
    /// The reply as `redis-cli` would show it, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Simple(text) => format!("+{text}"),
            Self::Error(text) => format!("-{text}"),
            Self::Bulk(None) => "(nil)".into(),
            Self::Bulk(Some(data)) => format!("{:?}", String::from_utf8_lossy(data)),
        }
    }
}

/// Reads one reply (integers and arrays are not needed and are refused).
pub(crate) fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Err(invalid(format!(
            "truncated reply {:?}",
            String::from_utf8_lossy(&line)
        )));
    };
    let (kind, rest) = body
        .split_first()
        .ok_or_else(|| invalid("empty reply line".into()))?;
    let text = String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Reply::Simple(text)),
        b'-' => Ok(Reply::Error(text)),
        b'$' => {
            let len: i64 = text
                .parse()
                .map_err(|_| invalid(format!("bad length {text:?}")))?;
            let Ok(len) = usize::try_from(len) else {
                return Ok(Reply::Bulk(None));
            };
            let mut data = vec![0; len + 2];
            reader.read_exact(&mut data)?;
            data.truncate(len);
            Ok(Reply::Bulk(Some(data)))
        }
        other => Err(invalid(format!(
            "unexpected reply type {:?}",
            char::from(*other)
        ))),
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// What a probe of a port found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Nothing answered (or not in RESP).
    Down(String),
    /// A Redis answered but is not serving yet (`-LOADING`, a refused `AUTH`, ...).
    NotReady(String),
    /// `PING` answered `+PONG`; the server's `process_id`, from `INFO server`.
    Up { pid: u32 },
}

/// `[AUTH password] PING`, then `INFO server` for the pid of whoever answered, so a probe
/// never mistakes another test's server on the same port for its own.
pub(crate) fn probe(port: u16, password: Option<&str>) -> Probe {
    match try_probe(port, password) {
        Ok(probe) => probe,
        Err(e) => Probe::Down(e.to_string()),
    }
}

fn try_probe(port: u16, password: Option<&str>) -> io::Result<Probe> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut request = Vec::new();
    if let Some(password) = password {
        request.extend(encode(&[b"AUTH", password.as_bytes()]));
    }
    request.extend(encode(&[b"PING"]));
    request.extend(encode(&[b"INFO", b"server"]));
    (&stream).write_all(&request)?;

    let mut reader = BufReader::new(&stream);
    if password.is_some() {
        match read_reply(&mut reader)? {
            Reply::Simple(ok) if ok == "OK" => {}
            other => {
                return Ok(Probe::NotReady(format!(
                    "AUTH answered {}",
                    other.describe()
                )));
            }
        }
    }
    match read_reply(&mut reader)? {
        Reply::Simple(pong) if pong == "PONG" => {}
        other => {
            return Ok(Probe::NotReady(format!(
                "PING answered {}",
                other.describe()
            )));
        }
    }
    let info = match read_reply(&mut reader)? {
        Reply::Bulk(Some(info)) => String::from_utf8_lossy(&info).into_owned(),
        other => {
            return Ok(Probe::NotReady(format!(
                "INFO server answered {}",
                other.describe()
            )));
        }
    };
    let pid = info
        .lines()
        .find_map(|line| line.trim().strip_prefix("process_id:"))
        .and_then(|pid| pid.parse().ok());
    Ok(match pid {
        Some(pid) => Probe::Up { pid },
        None => Probe::NotReady("INFO server has no process_id".into()),
    })
}
