//! Shared helpers: guest paths, temp configs.

use std::path::{Path, PathBuf};

use wasmplug::Host;

/// Path of a built guest, failing with instructions if it has not been built.
pub fn guest(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: build the guests first with `cargo xtask build-guests` (or run `cargo xtask test`)",
        p.display()
    );
    p
}

/// A temp dir holding a config file; paths inside resolve against it.
pub struct TempConfig {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// Writes `components` (YAML list items, already indented by two spaces) into a config file
/// with the data dir inside the temp dir.
pub fn config(components: &str) -> TempConfig {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), components);
    TempConfig { dir, path }
}

pub fn write_config(dir: &Path, components: &str) -> PathBuf {
    let path = dir.join("wasmplug.yaml");
    let text = format!(
        "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\ndataDir: data\ncacheDir: {:?}\ncomponents:\n{components}",
        cache_dir()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// One compile cache for the whole test run.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache")
}

/// A state-store component entry using the Rust guest.
pub fn state_store_entry(name: &str, backend: &str) -> String {
    format!(
        "  - name: {name}\n    type: state\n    wasm: {:?}\n    metadata:\n      - name: bucket\n        value: state\n    grants:\n      keyValue:\n        - bucket: state\n          backend: {backend}\n",
        guest("state-store")
    )
}

pub fn load(cfg: &TempConfig) -> Host {
    Host::load(&cfg.path).unwrap_or_else(|e| panic!("loading {}: {e}", cfg.path.display()))
}
