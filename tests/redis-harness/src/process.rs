//! The binaries, ports and log files the servers need.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// What to do when Redis is missing or does not start.
pub(crate) const INSTALL_HINT: &str = "install it with `apt-get install -y redis-server` \
     (the Debian package `redis-server`, which also brings `redis-cli`)";

/// Cluster nodes also listen on `port + 10000` (the cluster bus), so their port stays below
/// this.
const MAX_CLUSTER_PORT: u16 = 55_000;

/// Panics, with the install hint, unless `redis-server` and `redis-cli` run. Checked once
/// per test process.
pub(crate) fn require_binaries() {
    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        for binary in ["redis-server", "redis-cli"] {
            match Command::new(binary).arg("--version").output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(format!(
                        "`{binary} --version` failed ({}): {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(format!("`{binary}` is not on PATH"));
                }
                Err(e) => return Err(format!("cannot run `{binary}`: {e}")),
            }
        }
        Ok(())
    });
    if let Err(why) = found {
        panic!("redis-harness needs a real Redis: {why}; {INSTALL_HINT}");
    }
}

/// A port of 127.0.0.1 that was free a moment ago (the caller retries if someone takes it
/// first). For a cluster node, `port + 10000` was free too.
pub(crate) fn free_port(cluster: bool) -> u16 {
    for _ in 0..1000 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("cannot bind a port on 127.0.0.1: {e}"));
        let port = listener
            .local_addr()
            .expect("bound listener has an address")
            .port();
        if !cluster {
            return port;
        }
        if port < MAX_CLUSTER_PORT
            && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok()
        {
            return port;
        }
    }
    panic!(
        "found no free port on 127.0.0.1 (below {MAX_CLUSTER_PORT} with port+10000 free, for cluster nodes)"
    );
}

/// Runs `redis-cli` with exactly these arguments.
pub(crate) fn redis_cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new("redis-cli")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run redis-cli: {e}; {INSTALL_HINT}"))
}

/// The last `lines` lines of a log file, or why there are none.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// `text` with everything but RFC 3986 unreserved characters percent-encoded, for the
/// password in a URL.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
