//! `wasmplug new` refuses what it cannot generate. (That its output builds, serves and
//! answers in every language is `docs.rs`: the guides run it.)

use std::process::Command;

#[test]
fn new_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(&["new", "cobol", "bindings", "x"]);
    assert!(!ok && err.contains("unknown language"), "{err}");
    let (ok, err) = run(&["new", "rust", "bindings", "Bad_Name"]);
    assert!(!ok && err.contains("not a valid component name"), "{err}");
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    std::fs::write(dir.path().join("taken/file"), "x").unwrap();
    let (ok, err) = run(&["new", "rust", "bindings", "taken"]);
    assert!(!ok && err.contains("not empty"), "{err}");
}
