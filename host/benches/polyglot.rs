//! What a component costs in each language: the same output binding (`wasmplug new <lang>
//! bindings`: operations `echo` and `upper`) generated and built in Rust, Python, JavaScript
//! and C, then measured in-process.
//!
//! Run: `cargo xtask bench polyglot` (or `cargo bench -p wasmplug --bench polyglot`). Each
//! project is generated into `target/bench-polyglot/<lang>/` and built by its own `build.sh`,
//! with the toolchains cached in `target/toolchains/` (installed on first use). Prints one
//! table:
//!
//! - build: the generated `build.sh` run again after deleting the component, with the
//!   toolchain installed (Python, JavaScript and C redo the whole build; cargo only relinks
//!   nothing and copies, so the Rust figure is its no-op);
//! - start, compile: `Host::load` with an empty compile cache (Cranelift compiles the component);
//! - start, cached: `Host::load` again, loading the compiled artifact from the cache;
//! - first call: instantiate, `init`, and the first `invoke`;
//! - echo / upper: per-call latency of `invoke` with 100 bytes (median, p99), one caller.
//!
//! Under `cargo test --all-targets` (no `--bench`) only the Rust project is built and
//! measured, briefly: a smoke pass.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests, benchmarks, examples and build tooling fail loudly by design"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::measure::{Stats, budget, measure};
use wasmplug::blocks::bindings::output::{InvokeRequest, OutputBinding};

const PAYLOAD: usize = 100;

/// A language `wasmplug new` has templates for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Rust,
    Python,
    JavaScript,
    C,
}

impl Language {
    /// Every language, in the order of the table.
    const ALL: [Language; 4] = [
        Language::Rust,
        Language::Python,
        Language::JavaScript,
        Language::C,
    ];

    /// The name `wasmplug new` takes.
    fn cli_name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
            Language::C => "c",
        }
    }

    /// The name in the table.
    fn display_name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::C => "C",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

struct Row {
    lang: Language,
    size: u64,
    build: Duration,
    compile: Duration,
    cached: Duration,
    first_call: Duration,
    echo: Stats,
    upper: Stats,
}

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Generates and builds the project; returns its component and the build time.
fn build(root: &Path, lang: Language) -> (PathBuf, Duration) {
    let name = format!("bench-{}", lang.cli_name());
    let dir = root
        .join("target/bench-polyglot")
        .join(lang.cli_name())
        .join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // The binary under bench, built by cargo for this bench target.
    let out = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
        .args(["new", lang.cli_name(), "bindings", &name, "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wasmplug new {} bindings: {}",
        lang.cli_name(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    let build = |what: &str| {
        let started = Instant::now();
        let out = Command::new(dir.join("build.sh"))
            .env("WASMPLUG_TOOLCHAINS", root.join("target/toolchains"))
            .env("CARGO_TARGET_DIR", root.join("target/scaffold-test"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{lang} {what} build failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    };
    // The first build may install the toolchain; time the second one, on fresh sources.
    build("first");
    std::fs::remove_file(dir.join(format!("{name}.wasm"))).unwrap();
    let elapsed = build("timed");
    (dir.join(format!("{name}.wasm")), elapsed)
}

fn config(dir: &Path, wasm: &Path) -> PathBuf {
    let path = dir.join("wasmplug.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ncacheDir: cache\ndataDir: data\ncomponents:\n  - name: bench\n    type: bindings\n    wasm: {wasm:?}\n"
        ),
    )
    .unwrap();
    path
}

async fn bench(root: &Path, lang: Language) -> Row {
    eprintln!("polyglot bench: {lang}");
    let (wasm, build) = build(root, lang);
    let size = std::fs::metadata(&wasm).unwrap().len();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &wasm);

    let started = Instant::now();
    drop(wasmplug::Host::load(&config).unwrap());
    let compile = started.elapsed();

    let started = Instant::now();
    let host = wasmplug::Host::load(&config).unwrap();
    let cached = started.elapsed();

    let payload = vec![b'a'; PAYLOAD];
    let started = Instant::now();
    let binding = host.output_binding("bench").await.unwrap();
    let first = binding
        .invoke(InvokeRequest::new("echo").with_data(payload.clone()))
        .await
        .unwrap();
    let first_call = started.elapsed();
    assert_eq!(first.data, payload);

    let call = |op: &'static str, expected: Vec<u8>| {
        let binding = &binding;
        let payload = &payload;
        let expected = std::rc::Rc::new(expected);
        move |_| {
            let req = InvokeRequest::new(op).with_data(payload.clone());
            let expected = expected.clone();
            async move {
                let r = binding.invoke(req).await.unwrap();
                assert_eq!(r.data, *expected);
            }
        }
    };
    let echo = measure(200, budget(), call("echo", payload.clone())).await;
    let upper = measure(200, budget(), call("upper", payload.to_ascii_uppercase())).await;
    Row {
        lang,
        size,
        build,
        compile,
        cached,
        first_call,
        echo,
        upper,
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let langs: &[Language] = if full() {
        &Language::ALL
    } else {
        &[Language::Rust]
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<Row> = langs
        .iter()
        .map(|&lang| rt.block_on(bench(&root, lang)))
        .collect();

    println!();
    println!(
        "one output binding (`wasmplug new <lang> bindings`), in-process; invoke with {PAYLOAD} B, one caller"
    );
    println!(
        "{:<11} {:>9} {:>9} {:>15} {:>14} {:>11} {:>12} {:>10} {:>12} {:>9}",
        "language",
        "size",
        "build",
        "start: compile",
        "start: cached",
        "first call",
        "echo median",
        "echo p99",
        "upper median",
        "vs Rust"
    );
    let rust = rows
        .iter()
        .find(|r| r.lang == Language::Rust)
        .map(|r| r.echo.median_ns)
        .unwrap_or(f64::NAN);
    for r in &rows {
        println!(
            "{:<11} {:>6} KB {:>9} {:>15} {:>14} {:>11} {:>9.2} µs {:>7.2} µs {:>9.2} µs {:>8.1}x",
            r.lang.display_name(),
            r.size / 1024,
            ms(r.build),
            ms(r.compile),
            ms(r.cached),
            ms(r.first_call),
            r.echo.median_ns / 1000.0,
            r.echo.p99_ns / 1000.0,
            r.upper.median_ns / 1000.0,
            r.echo.median_ns / rust
        );
    }
}
