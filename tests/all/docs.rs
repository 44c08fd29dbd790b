//! The "Write a component in ..." guides (`docs/<lang>.md`) are executed: every fenced block
//! whose info string is exactly `sh` runs, in page order, as one bash script in an empty
//! folder, with the `wasmplug` under test first on the `PATH`. Each guide scaffolds a
//! component with `wasmplug new`, builds it with the generated `build.sh` (installing the
//! pinned toolchain on first use), serves it and calls it over its socket, writes the Dapr
//! Component that points daprd at it, then does the same with a generated state store.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The text of every fenced block tagged exactly `sh`, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    enum State {
        Prose,
        Run(String),
        Skip,
    }
    let mut blocks = Vec::new();
    let mut state = State::Prose;
    for line in markdown.lines() {
        let fence = line.trim_start().strip_prefix("```");
        state = match (state, fence) {
            (State::Prose, Some(info)) if info.trim() == "sh" => State::Run(String::new()),
            (State::Prose, Some(_)) => State::Skip,
            (State::Run(text), Some(_)) => {
                blocks.push(text);
                State::Prose
            }
            (State::Skip, Some(_)) => State::Prose,
            (State::Run(mut text), None) => {
                text.push_str(line);
                text.push('\n');
                State::Run(text)
            }
            (other, None) => other,
        };
    }
    assert!(matches!(state, State::Prose), "unterminated code block");
    blocks
}

#[test]
fn sh_blocks_are_extracted_in_order_and_others_skipped() {
    let md =
        "text\n```sh\na\nb\n```\n```console\n$ no\n```\n```sh \nc\n```\n```rust\nfn x() {}\n```\n";
    assert_eq!(sh_blocks(md), ["a\nb\n", "c\n"]);
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    dir: tempfile::TempDir,
    sockets: PathBuf,
}

/// Runs the guide's `sh` blocks; always reaps everything the script started.
fn run_guide(guide: &str) -> Run {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let markdown = std::fs::read_to_string(root.join("docs").join(guide))
        .unwrap_or_else(|e| panic!("docs/{guide}: {e}"));
    let blocks = sh_blocks(&markdown);
    assert!(
        blocks.len() >= 2,
        "docs/{guide} has no build-and-serve walkthrough"
    );
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let sockets = dir.path().join("sockets");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&sockets).unwrap();
    let script = dir.path().join("guide.sh");
    std::fs::write(&script, blocks.concat()).unwrap();

    let bin = Path::new(env!("CARGO_BIN_EXE_wasmplug")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_owned()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let stdout = dir.path().join("stdout");
    let stderr = dir.path().join("stderr");
    let mut child = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("DAPR_COMPONENTS_SOCKETS_FOLDER", &sockets)
        // Share the toolchains `cargo xtask build-guests` installed, and one cargo
        // target dir for every generated Rust project, so repeated runs are incremental.
        .env("WASMPLUG_TOOLCHAINS", root.join("target/toolchains"))
        .env("CARGO_TARGET_DIR", root.join("target/scaffold-test"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20 * 60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever happened, nothing the script started (a backgrounded server) outlives it.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    Run {
        ok: status.is_some_and(|s| s.success()),
        stdout: std::fs::read_to_string(&stdout).unwrap(),
        stderr: std::fs::read_to_string(&stderr).unwrap(),
        dir,
        sockets,
    }
}

fn check_guide(guide: &str) {
    let run = run_guide(guide);
    let report = format!(
        "docs/{guide}\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout, run.stderr
    );
    assert!(run.ok, "the guide's commands failed: {report}");
    // The generated component answered over its socket like an output binding.
    assert!(
        run.stdout.contains(r#"{"operations":["echo","upper"]}"#),
        "operations listed: {report}"
    );
    assert!(
        run.stdout.contains(r#""data":"HELLO, DAPR""#),
        "upper answered: {report}"
    );
    // `wasmplug check` saw an output binding, and the server stopped cleanly.
    assert!(
        run.stdout.contains("output-binding"),
        "check output: {report}"
    );
    assert!(
        !run.stdout.contains("keyvalue"),
        "the template needs no key-value grant: {report}"
    );
    assert!(
        std::fs::read_dir(&run.sockets).unwrap().next().is_none(),
        "the socket was removed on SIGTERM: {report}"
    );
    // The state store the guide generates next kept what it was given.
    assert!(
        run.stdout.contains(r#""data":"first-order""#),
        "state get answered: {report}"
    );
    let component = run.dir.path().join("work/components/shouty.yaml");
    let yaml = std::fs::read_to_string(&component)
        .unwrap_or_else(|e| panic!("{}: {e}\n{report}", component.display()));
    assert!(yaml.contains("type: bindings.shouty"), "{yaml}");
}

#[test]
fn guide_rust() {
    check_guide("rust.md");
}

#[test]
fn guide_python() {
    check_guide("python.md");
}

#[test]
fn guide_js() {
    check_guide("js.md");
}

#[test]
fn guide_c() {
    check_guide("c.md");
}
