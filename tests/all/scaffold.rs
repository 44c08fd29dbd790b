//! `wasmplug new` output builds, serves and answers, as its README promises.

use std::process::Command;

use wasmplug::blocks::Metadata;
use wasmplug::blocks::bindings::output::{GrpcOutputBinding, InvokeRequest, OutputBinding};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_rust_output_binding_builds_serves_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("shouty");
    let out = Command::new(env!("CARGO_BIN_EXE_wasmplug"))
        .args(["new", "rust", "bindings", "shouty", "--dir"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "build.sh",
        "wasmplug.yaml",
        "README.md",
        "wit/bindings.wit",
    ] {
        assert!(project.join(f).is_file(), "{f} generated");
    }
    // Its own build command, with a shared target dir so repeated runs are incremental.
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold-test");
    let build = Command::new(project.join("build.sh"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "build.sh failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(project.join("shouty.wasm").is_file());

    // Serve the generated config as is and call it like daprd would.
    let host = std::sync::Arc::new(wasmplug::Host::load(project.join("wasmplug.yaml")).unwrap());
    let folder = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let path = folder.path().to_owned();
    let server = tokio::spawn(async move {
        wasmplug::bridge::serve(host, &path, async {
            let _ = rx.await;
        })
        .await
    });
    let socket = folder.path().join("shouty.sock");
    for _ in 0..500 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let b = GrpcOutputBinding::connect(&socket, "app").await.unwrap();
    b.init(Metadata::new()).await.unwrap();
    assert_eq!(b.list_operations().await.unwrap(), ["echo", "upper"]);
    let r = b
        .invoke(InvokeRequest::new("upper").with_data("hello"))
        .await
        .unwrap();
    assert_eq!(r.data, b"HELLO");
    assert!(
        b.invoke(InvokeRequest::new("shout")).await.is_err(),
        "unlisted operations are refused"
    );
    drop(b);
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

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
