//! Project automation: `cargo xtask <command>`.
//!
//! - `build-guests [--rust]`: builds every guest into `target/guests/`: the Rust ones
//!   (`guests/rust/<name>` → `<name>.wasm`), then the Python, JavaScript and C ones, whose
//!   `guests/<lang>/build.sh` installs its pinned toolchain under `target/toolchains/` on first
//!   use. `--rust`: only the Rust ones (all the quickstart needs).
//! - `test`: builds every guest (all languages), then runs every test (host, integration,
//!   doctests, guest unit tests).
//! - `quickstart`: builds the guests, runs the embedded example, then starts `wasmplug serve`
//!   on the quickstart config, exercises it over its socket with `wasmplug call`, and stops it.
//! - `bench [state|bridge|redis|polyglot ...]`: builds the guests and runs the benchmarks (all four
//!   unless some are named; `polyglot` generates and builds its own projects).
//! - `layers [--dot]`: checks that the files of `host/src` depend on each other without
//!   cycles and that none is over 450 lines, then prints the file graph (Graphviz dot with
//!   `--dot`). The rules are in [`layers`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

mod layers;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("build-guests") => {
            build_guests(&root)?;
            if !args.iter().any(|a| a == "--rust") {
                build_polyglot_guests(&root)?;
            }
            Ok(())
        }
        Some("test") => {
            build_guests(&root)?;
            build_polyglot_guests(&root)?;
            run(cargo(&root).args(["test", "--workspace", "--all-targets"]))?;
            run(cargo(&root).args(["test", "--workspace", "--doc"]))?;
            // JavaScript guests' own unit tests (plain node, host imports faked).
            if root.join("guests/js/test").is_dir() {
                run(Command::new("node")
                    .args(["--test", "test/"])
                    .current_dir(root.join("guests/js")))?;
            }
            // Python guests' own unit tests (plain CPython, host imports faked).
            for guest in ["state_store", "localstorage"] {
                let dir = root.join("guests/python").join(guest);
                if dir.is_dir() {
                    // The stubs were just generated: a missing one is a failure, not a skip.
                    run(Command::new("python3")
                        .args(["-m", "unittest", "-q"])
                        .env("WASMPLUG_PY_REQUIRE_BINDINGS", "1")
                        .current_dir(dir))?;
                }
            }
            run(cargo(&root)
                .args([
                    "test",
                    "--manifest-path",
                    "guests/Cargo.toml",
                    "--workspace",
                    "--target",
                ])
                .arg(host_triple()?)
                .env("CARGO_TARGET_DIR", root.join("target/guest-test")))
        }
        Some("quickstart") => quickstart(&root),
        Some("bench") => {
            // `cargo xtask bench [state|bridge|redis|polyglot ...]`: the named ones, else all.
            let all = ["state", "bridge", "redis", "polyglot"];
            let named: Vec<&str> = args[1..]
                .iter()
                .map(String::as_str)
                .filter(|a| all.contains(a))
                .collect();
            let benches = if named.is_empty() { &all[..] } else { &named };
            if benches.iter().any(|b| *b != "polyglot") {
                build_guests(&root)?;
            }
            for bench in benches {
                run(cargo(&root).args(["bench", "-p", "wasmplug", "--bench", bench]))?;
            }
            Ok(())
        }
        Some("layers") => layers::run(&root, &args[1..]),
        _ => bail!(
            "usage: cargo xtask <build-guests [--rust] | test | quickstart | bench [state|bridge|redis|polyglot ...] | layers [--dot]>"
        ),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    c
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    let text = String::from_utf8(out.stdout)?;
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

/// Builds the guests of the other languages with their own scripts (each installs its
/// pinned toolchain on first use), into `target/guests/`.
fn build_polyglot_guests(root: &Path) -> Result<()> {
    let out_dir = root.join("target/guests");
    std::fs::create_dir_all(&out_dir)?;
    for lang in ["python", "js", "c"] {
        let script = root.join("guests").join(lang).join("build.sh");
        if script.is_file() {
            run(Command::new("bash").arg(&script).arg(root).arg(&out_dir))?;
        }
    }
    Ok(())
}

/// Builds the Rust guests (one cargo workspace, wasm32-wasip2, release) and copies each
/// component to `target/guests/<dir name>.wasm`.
fn build_guests(root: &Path) -> Result<()> {
    let build_dir = root.join("target/guest-build");
    let out_dir = root.join("target/guests");
    run(cargo(root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
            "guests/Cargo.toml",
            "--workspace",
        ])
        .env("CARGO_TARGET_DIR", &build_dir))?;
    std::fs::create_dir_all(&out_dir)?;
    let mut built = Vec::new();
    for entry in std::fs::read_dir(root.join("guests/rust"))? {
        let dir = entry?.path();
        if !dir.join("Cargo.toml").is_file() {
            continue;
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("guest folder name is not UTF-8")?;
        let artifact = build_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        let dest = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&artifact, &dest).with_context(|| {
            format!(
                "copying {} (is the guest's lib name `{}`?)",
                artifact.display(),
                name.replace('-', "_")
            )
        })?;
        built.push(dest);
    }
    built.sort();
    for b in &built {
        let size = std::fs::metadata(b)?.len();
        eprintln!("built {} ({} KiB)", b.display(), size / 1024);
    }
    Ok(())
}

/// The README's first command.
fn quickstart(root: &Path) -> Result<()> {
    build_guests(root)?;
    let config = root.join("examples/quickstart/wasmplug.yaml");
    run(cargo(root).args(["build", "--quiet", "-p", "wasmplug", "--bins", "--examples"]))?;

    println!("\n== 1. embedded: a Rust program uses the component through a typed API");
    run(Command::new(root.join("target/debug/examples/quickstart")).arg(&config))?;

    println!("\n== 2. sidecar: `wasmplug serve` serves it to daprd over a UNIX socket");
    let wasmplug = root.join("target/debug/wasmplug");
    let folder = std::env::temp_dir().join(format!("wasmplug-quickstart-{}", std::process::id()));
    let mut server = Command::new(&wasmplug)
        .arg("serve")
        .arg(&config)
        .arg("--sockets-folder")
        .arg(&folder)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .context("starting wasmplug serve")?;
    let stderr = server.stderr.take().context("serve stderr")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let logger = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("  [serve] {line}");
            if line.contains("wasmplug ready") {
                let _ = ready_tx.send(());
            }
        }
    });
    let result = (|| -> Result<()> {
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .context("wasmplug serve did not become ready")?;
        let call = |target: &str, args: &[&str], expect_ok: bool| -> Result<()> {
            println!("$ wasmplug call {target} {}", args.join(" "));
            let status = Command::new(&wasmplug)
                .arg("call")
                .arg(target)
                .arg("--sockets-folder")
                .arg(&folder)
                .args(args)
                .status()?;
            if status.success() != expect_ok {
                bail!(
                    "`wasmplug call {target} {}` {}",
                    args.join(" "),
                    if expect_ok {
                        "failed"
                    } else {
                        "should have failed"
                    }
                );
            }
            Ok(())
        };
        println!("\n-- state store");
        call("statestore", &["state", "features"], true)?;
        call(
            "statestore",
            &[
                "state",
                "set",
                "greeting",
                "hello from the sidecar",
                "--ttl",
                "3600",
            ],
            true,
        )?;
        call("statestore", &["state", "get", "greeting"], true)?;
        call(
            "statestore",
            &[
                "state",
                "set",
                "greeting",
                "overwrite?",
                "--etag",
                "not-the-etag",
            ],
            false,
        )?;
        call(
            "statestore",
            &[
                "state", "bulk-get", "greeting", "visits", "order-1", "missing",
            ],
            true,
        )?;
        call("statestore", &["state", "delete", "greeting"], true)?;
        call("statestore", &["state", "get", "greeting"], true)?;
        println!("\n-- pub/sub");
        call("broker", &["pubsub", "publish", "orders", "order #1"], true)?;
        call("broker", &["pubsub", "publish", "orders", "order #2"], true)?;
        call(
            "broker",
            &[
                "pubsub",
                "subscribe",
                "orders",
                "--count",
                "2",
                "--idle",
                "5",
            ],
            true,
        )?;
        println!("\n-- output binding (local storage)");
        call("files", &["bindings", "operations"], true)?;
        call(
            "files",
            &[
                "bindings",
                "invoke",
                "create",
                "hello, file",
                "-m",
                "fileName=hello.txt",
            ],
            true,
        )?;
        call(
            "files",
            &["bindings", "invoke", "get", "-m", "fileName=hello.txt"],
            true,
        )?;
        call("files", &["bindings", "invoke", "list"], true)?;
        call(
            "files",
            &[
                "bindings",
                "invoke",
                "get",
                "-m",
                "fileName=../../Cargo.toml",
            ],
            false,
        )?;
        call(
            "files",
            &["bindings", "invoke", "delete", "-m", "fileName=hello.txt"],
            true,
        )?;
        println!("\n-- input binding (cron, @every 1s)");
        call(
            "ticker",
            &["bindings", "read", "--count", "2", "--reply", "thanks"],
            true,
        )?;
        println!("\n-- one socket, both binding directions");
        call(
            "loopback",
            &["bindings", "invoke", "send", "round trip"],
            true,
        )?;
        call(
            "loopback",
            &["bindings", "read", "--count", "1", "--reply", "got it"],
            true,
        )?;
        println!("\n-- secret store");
        call("secrets", &["secret", "get", "api:key"], true)?;
        call("secrets", &["secret", "bulk-get"], true)?;
        call("secrets", &["secret", "get", "nope"], false)
    })();
    // Stop it the way a container runtime does, and check it cleaned up.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let status = server.wait()?;
    let _ = logger.join();
    result?;
    if !status.success() {
        bail!("wasmplug serve exited with {status}");
    }
    if let Some(leftover) = std::fs::read_dir(&folder)?.filter_map(Result::ok).next() {
        bail!("{} was not removed on shutdown", leftover.path().display());
    }
    let _ = std::fs::remove_dir(&folder);
    println!("\nquickstart done: wasmplug serve stopped cleanly and removed its sockets");
    Ok(())
}
