//! Project automation: `cargo xtask <command>`.
//!
//! - `build-guests`: builds every guest under `guests/` into `target/guests/<name>.wasm`
//!   (Rust guests: `guests/rust/<name>` → `target/guests/<name>.wasm`).
//! - `test`: builds the guests, then runs every test (host, integration, doctests, guest
//!   unit tests).
//! - `quickstart`: builds the guests and runs the embedded quickstart example.
//! - `bench`: builds the guests and runs the benchmarks.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("build-guests") => build_guests(&root),
        Some("test") => {
            build_guests(&root)?;
            run(cargo(&root).args(["test", "--workspace", "--all-targets"]))?;
            run(cargo(&root).args(["test", "--workspace", "--doc"]))?;
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
        Some("quickstart") => {
            build_guests(&root)?;
            run(cargo(&root)
                .args([
                    "run",
                    "--quiet",
                    "-p",
                    "wasmplug",
                    "--example",
                    "quickstart",
                    "--",
                ])
                .arg(root.join("examples/quickstart/wasmplug.yaml")))
        }
        Some("bench") => {
            build_guests(&root)?;
            run(cargo(&root)
                .args(["bench", "-p", "wasmplug", "--bench", "state"])
                .args(&args[1..]))
        }
        _ => bail!("usage: cargo xtask <build-guests|test|quickstart|bench>"),
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
