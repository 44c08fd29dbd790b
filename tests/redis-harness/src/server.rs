//! One `redis-server` process.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{self, INSTALL_HINT};
use crate::resp::{self, Probe};

/// Tries to start a server (a fresh port each time for a new one).
const START_ATTEMPTS: usize = 5;
/// How long a started server has to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of the server log quoted when something fails.
const LOG_TAIL: usize = 40;

/// How to run a [`RedisServer`]. The default is a plain in-memory server: no persistence,
/// no password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--appendonly yes --appendfsync always`: every acknowledged write is in the
    /// append-only file (in [`RedisServer::dir`]) and survives [`RedisServer::kill`] and
    /// [`RedisServer::restart`].
    pub appendonly: bool,
    /// `--requirepass`: clients must `AUTH` with this password ([`RedisServer::cli`] and
    /// [`RedisServer::url`] include it).
    pub password: Option<String>,
    /// More `redis-server` arguments, appended last (so they win), e.g.
    /// `["--maxmemory", "1mb"]`.
    pub extra_args: Vec<String>,
}

/// A `redis-server` on 127.0.0.1 with its own temporary directory (`--dir`, which also holds
/// its log, `redis.log`).
///
/// Dropping it kills the process with SIGKILL and removes the directory.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    options: Options,
    cluster: bool,
    child: Option<Child>,
    // Last, so it is removed after the process is gone.
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server with [`Options::default`] on a free port and waits until it answers
    /// `PING`.
    ///
    /// # Panics
    /// If `redis-server` is not installed or does not start (after retries on other ports);
    /// the message has the install hint and the end of the server log.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts a server with these options on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start_with(options: Options) -> Self {
        Self::launch(options, false)
    }

    /// A node for [`crate::RedisCluster`]: cluster mode, its config file `nodes.conf` in its
    /// directory, a port whose cluster bus port (`+10000`) is free too.
    pub(crate) fn start_cluster_node() -> Self {
        Self::launch(Options::default(), true)
    }

    fn launch(options: Options, cluster: bool) -> Self {
        process::require_binaries();
        let dir = tempfile::Builder::new()
            .prefix("redis-harness-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for Redis: {e}"));
        let mut server = Self {
            port: 0,
            options,
            cluster,
            child: None,
            dir,
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            server.port = process::free_port(cluster);
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(why) => failures.push(format!("port {}: {why}", server.port)),
            }
        }
        server.fail("did not start", &failures)
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`, or `redis://:PASSWORD@127.0.0.1:PORT/0` with a password
    /// (percent-encoded where a URL needs it).
    pub fn url(&self) -> String {
        match &self.options.password {
            Some(password) => format!(
                "redis://:{}@127.0.0.1:{}/0",
                process::percent_encode(password),
                self.port
            ),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// Kills the server with SIGKILL now and waits for it to exit: no shutdown save, only
    /// what is already on disk (the append-only file with [`Options::appendonly`]) stays.
    /// Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if it has already exited, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, in the same directory, with the same options
    /// (so an append-only file is reloaded), and waits until it answers `PING` (after loading).
    /// Kills it first if it is still running.
    ///
    /// # Panics
    /// If it does not come back (for example, the port was taken meanwhile).
    pub fn restart(&mut self) {
        self.kill();
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(why) => failures.push(why),
            }
            // The port may still be held for a moment; try again on the same one.
            thread::sleep(Duration::from_millis(200));
        }
        self.fail("did not restart", &failures)
    }

    /// Whether the process is still running (it may have been killed or have crashed).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Runs `redis-cli -h 127.0.0.1 -p PORT [-a PASSWORD --no-auth-warning] ARGS...` and
    /// returns its standard output, trimmed. Options of `redis-cli` itself go first in `args`
    /// (`["-c", "SET", "k", "v"]`).
    ///
    /// An error *reply* is output like any other (`redis-cli` prints `ERR ...` and exits 0),
    /// so `cli(&["FOO"])` returns `"ERR unknown command ..."`.
    ///
    /// # Panics
    /// If `redis-cli` fails (exits non-zero, e.g. when it cannot connect), with its stderr.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut all = vec![
            "-h".to_owned(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ];
        if let Some(password) = &self.options.password {
            all.extend(["-a".into(), password.clone(), "--no-auth-warning".into()]);
        }
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        let out = process::redis_cli(&all);
        if !out.status.success() {
            panic!(
                "redis-cli {} failed ({}) against port {}:\nstderr: {}\nstdout: {}",
                args.join(" "),
                out.status,
                self.port,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Its data directory (`--dir`): the append-only files, `nodes.conf` of a cluster node,
    /// and the server log `redis.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The end of the server log, for messages.
    pub(crate) fn log_tail(&self) -> String {
        process::tail(&self.log_path(), LOG_TAIL)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            &self.dir.path().to_string_lossy(),
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]
        .map(str::to_owned)
        .into();
        if self.options.appendonly {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(str::to_owned));
        }
        if let Some(password) = &self.options.password {
            args.extend(["--requirepass".to_owned(), password.clone()]);
        }
        if self.cluster {
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ]
                .map(str::to_owned),
            );
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    /// Spawns the process on `self.port` and waits until it answers; on failure it is killed
    /// again and the reason returned.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let args = self.args();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("cannot open {}: {e}", self.log_path().display()))?;
        let _ = writeln!(log, "--- redis-harness: redis-server {}", shown(&args));
        let stderr = log
            .try_clone()
            .map_err(|e| format!("cannot clone the log file: {e}"))?;
        let child = Command::new("redis-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        self.child = Some(child);
        let ready = self.wait_ready();
        if ready.is_err() {
            self.kill();
        }
        ready
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let password = self.options.password.clone();
        let mut last = String::from("no answer yet");
        loop {
            let child = self.child.as_mut().ok_or("not running")?;
            let pid = child.id();
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server exited ({status}); last probe: {last}"
                ));
            }
            match resp::probe(self.port, password.as_deref()) {
                Probe::Up { pid: answered } if answered == pid => return Ok(()),
                // Our process lost the race for the port; it is about to exit.
                Probe::Up { pid: answered } => {
                    last = format!("another redis-server (pid {answered}) answers on the port");
                }
                Probe::NotReady(why) | Probe::Down(why) => last = why,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no PONG within {} s; last probe: {last}",
                    READY_TIMEOUT.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn fail(&self, what: &str, failures: &[String]) -> ! {
        panic!(
            "redis-server {what} (in {}):\n  {}\nIs Redis installed? If not, {INSTALL_HINT}.\n\
             End of {}:\n{}",
            self.dir.path().display(),
            failures.join("\n  "),
            self.log_path().display(),
            self.log_tail()
        );
    }
}

/// The command line for the log: empty arguments quoted, the password hidden.
fn shown(args: &[String]) -> String {
    let mut out = Vec::with_capacity(args.len());
    let mut secret = false;
    for arg in args {
        out.push(match arg.as_str() {
            _ if secret => "***",
            "" => "\"\"",
            other => other,
        });
        secret = arg == "--requirepass";
    }
    out.join(" ")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
