//! The output-binding contract, one body run against every implementation through the same
//! trait: the native in-memory local storage, the `localstorage` guest in process, and the
//! client adapter talking to the bridge serving that guest. Plus what only a real directory
//! has (files visible on the host, symlinks, escapes) and the bridge's `ListOperations` gate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmplug::blocks::bindings::output::localstorage::{
    CREATE, DELETE, FILE_NAME, GET, JSON, LIST, ROOT_PATH,
};
use wasmplug::blocks::bindings::output::*;

use crate::bridge::serve;
use crate::support;

fn md(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn named(operation: &str, name: &str) -> InvokeRequest {
    InvokeRequest::new(operation).with_metadata(FILE_NAME, name)
}

async fn create(b: &dyn OutputBinding, name: &str, data: &[u8]) -> InvokeResponse {
    b.invoke(named(CREATE, name).with_data(data))
        .await
        .unwrap_or_else(|e| panic!("create {name:?}: {e}"))
}

async fn get(b: &dyn OutputBinding, name: &str) -> Result<Vec<u8>, BlockError> {
    b.invoke(named(GET, name)).await.map(|r| r.data)
}

async fn list(b: &dyn OutputBinding) -> Vec<String> {
    let r = b.invoke(InvokeRequest::new(LIST)).await.unwrap();
    assert_eq!(r.content_type.as_deref(), Some(JSON));
    serde_json::from_slice(&r.data)
        .unwrap_or_else(|e| panic!("list is not a JSON array of names ({e}): {r:?}"))
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, BlockError>, what: &str) {
    match r {
        Err(BlockError::InvalidArgument(_)) => {}
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, BlockError>, name: &str) {
    match r {
        Err(BlockError::NotFound(m)) => {
            assert!(m.contains(name), "names the file: {m}")
        }
        other => panic!("{name:?}: expected NotFound, got {other:?}"),
    }
}

fn is_generated(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Names that would leave a flat directory, each refused by every operation.
const ESCAPES: &[&str] = &["../x", "/etc/passwd", "a/b", "..", ".", "a\\b", "nul\0"];

/// The whole contract. `b` must be initialised and hold no files.
pub async fn contract(b: &dyn OutputBinding) {
    b.ping().await.unwrap();
    let mut ops = b.list_operations().await.unwrap();
    ops.sort();
    assert_eq!(ops, [CREATE, DELETE, GET, LIST]);
    assert!(list(b).await.is_empty(), "starts empty");

    // create with a name: JSON answer and metadata naming the file.
    let r = create(b, "a.txt", b"hello").await;
    assert_eq!(r.data, br#"{"fileName":"a.txt"}"#);
    assert_eq!(r.metadata, md(&[(FILE_NAME, "a.txt")]));
    assert_eq!(r.content_type.as_deref(), Some(JSON));
    let r = b.invoke(named(GET, "a.txt")).await.unwrap();
    assert_eq!(r.data, b"hello");
    assert_eq!(r.content_type, None);

    // create replaces; data is opaque bytes.
    create(b, "a.txt", b"hi").await;
    assert_eq!(get(b, "a.txt").await.unwrap(), b"hi");
    let binary: Vec<u8> = (0..=255u8).collect();
    create(b, "bin", &binary).await;
    assert_eq!(get(b, "bin").await.unwrap(), binary);
    create(b, "empty", b"").await;
    assert_eq!(get(b, "empty").await.unwrap(), b"");

    // create without a name (or with an empty one) picks a fresh one.
    let r = b
        .invoke(InvokeRequest::new(CREATE).with_data("generated"))
        .await
        .unwrap();
    let gen1 = r.metadata[FILE_NAME].clone();
    assert!(is_generated(&gen1), "{gen1:?}");
    assert_eq!(r.data, format!(r#"{{"fileName":"{gen1}"}}"#).into_bytes());
    let gen2 = create(b, "", b"also generated").await.metadata[FILE_NAME].clone();
    assert!(is_generated(&gen2) && gen2 != gen1, "{gen2:?}");
    assert_eq!(get(b, &gen1).await.unwrap(), b"generated");

    // Names needing JSON escapes come back intact.
    let odd = "my \"file\"\twith ünïcode";
    let r = create(b, odd, b"odd").await;
    let answer: serde_json::Value = serde_json::from_slice(&r.data).unwrap();
    assert_eq!(answer["fileName"], odd);

    let mut want = vec![
        "a.txt".to_owned(),
        "bin".into(),
        "empty".into(),
        gen1.clone(),
        gen2.clone(),
        odd.into(),
    ];
    want.sort();
    assert_eq!(list(b).await, want, "sorted names");

    // Missing files are NotFound; a missing fileName is InvalidArgument.
    assert_not_found(get(b, "missing.txt").await, "missing.txt");
    assert_not_found(b.invoke(named(DELETE, "missing.txt")).await, "missing.txt");
    for op in [GET, DELETE] {
        match b.invoke(InvokeRequest::new(op)).await {
            Err(BlockError::InvalidArgument(m)) => assert!(m.contains(FILE_NAME), "{m}"),
            other => panic!("{op} without {FILE_NAME}: {other:?}"),
        }
        assert_invalid(b.invoke(named(op, "")).await, "empty name");
    }

    // Escape attempts fail cleanly, for every operation, and change nothing.
    for name in ESCAPES {
        for op in [CREATE, GET, DELETE] {
            let r = b.invoke(named(op, name).with_data("pwned")).await;
            assert_invalid(r, &format!("{op} {name:?}"));
        }
    }
    assert_invalid(
        b.invoke(named(CREATE, &"n".repeat(256))).await,
        "a name longer than 255 bytes",
    );
    assert_eq!(list(b).await, want, "nothing changed");

    // delete.
    let r = b.invoke(named(DELETE, "a.txt")).await.unwrap();
    assert!(r.data.is_empty());
    assert_not_found(get(b, "a.txt").await, "a.txt");
    assert_not_found(b.invoke(named(DELETE, "a.txt")).await, "a.txt");
    for name in want.iter().filter(|n| *n != "a.txt") {
        b.invoke(named(DELETE, name)).await.unwrap();
    }
    assert!(list(b).await.is_empty(), "ends empty");
}

/// Unknown operations reach an in-process binding, which refuses them itself.
async fn unknown_operations_are_unimplemented(b: &dyn OutputBinding) {
    for op in ["Create", "CREATE", "create ", "", "truncate"] {
        match b.invoke(named(op, "x")).await {
            Err(BlockError::Unimplemented(m)) => {
                assert!(m.contains(&format!("{op:?}")), "names the operation: {m}")
            }
            other => panic!("operation {op:?}: {other:?}"),
        }
    }
}

// ---- paths ----------------------------------------------------------------------------------

#[tokio::test]
async fn native_reference_meets_the_contract() {
    let b = MemoryOutputBinding::new();
    assert!(
        b.invoke(InvokeRequest::new(LIST)).await.is_err(),
        "calls before init fail"
    );
    assert!(b.list_operations().await.is_err());
    b.init(Metadata::new()).await.unwrap();
    contract(&b).await;
    unknown_operations_are_unimplemented(&b).await;
}

/// A granted directory next to one that is not granted, holding a file the component must
/// never reach, and a symlink to it planted in the granted directory.
pub struct Dirs {
    _parent: tempfile::TempDir,
    pub granted: PathBuf,
    outside: PathBuf,
}

impl Dirs {
    pub fn new() -> Self {
        let parent = tempfile::tempdir().unwrap();
        let granted = parent.path().join("granted");
        let outside = parent.path().join("outside");
        std::fs::create_dir(&granted).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("target.txt"), "secret").unwrap();
        Self {
            _parent: parent,
            granted,
            outside,
        }
    }

    fn plant_symlink(&self) {
        std::os::unix::fs::symlink(self.outside.join("target.txt"), self.granted.join("link"))
            .unwrap();
    }

    /// Nothing outside the granted directory changed.
    fn assert_outside_untouched(&self) {
        let parent = self.granted.parent().unwrap();
        let mut entries: Vec<String> = std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        assert_eq!(entries, ["granted", "outside"], "nothing created beside");
        let inside: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["target.txt"], "nothing created outside");
        assert_eq!(
            std::fs::read_to_string(self.outside.join("target.txt")).unwrap(),
            "secret"
        );
    }
}

/// A local-storage component entry, `dir` granted read-write as `/data`.
fn entry(name: &str, dir: &Path) -> String {
    entry_for("localstorage", name, dir)
}

/// An entry for the local-storage guest `guest` (any language), `dir` granted as `/data`.
pub fn entry_for(guest: &str, name: &str, dir: &Path) -> String {
    format!(
        "  - name: {name}\n    type: bindings\n    wasm: {:?}\n    metadata:\n      - name: {ROOT_PATH}\n        value: /data\n    grants:\n      dirs:\n        - hostPath: {:?}\n          guestPath: /data\n",
        support::guest(guest),
        dir
    )
}

/// What only a real directory has: files shared with the host, and a planted symlink.
pub async fn on_disk(b: &dyn OutputBinding, dirs: &Dirs) {
    create(b, "visible.txt", b"from the binding").await;
    assert_eq!(
        std::fs::read(dirs.granted.join("visible.txt")).unwrap(),
        b"from the binding",
        "a file created through the binding is in the granted directory"
    );
    std::fs::write(dirs.granted.join("host.txt"), "from the host").unwrap();
    assert_eq!(get(b, "host.txt").await.unwrap(), b"from the host");

    dirs.plant_symlink();
    for op in [CREATE, GET, DELETE] {
        match b.invoke(named(op, "link").with_data("pwned")).await {
            Err(BlockError::InvalidArgument(m)) => assert!(m.contains("symlink"), "{m}"),
            other => panic!("{op} through a symlink: {other:?}"),
        }
    }
    assert!(
        std::fs::symlink_metadata(dirs.granted.join("link")).is_ok(),
        "the symlink itself is not deleted either"
    );
    assert_eq!(
        list(b).await,
        ["host.txt", "visible.txt"],
        "symlinks not listed"
    );

    // An absolute host path to the outside file is just another invalid name.
    let absolute = dirs.outside.join("target.txt");
    for op in [CREATE, GET, DELETE] {
        let r = b
            .invoke(named(op, absolute.to_str().unwrap()).with_data("pwned"))
            .await;
        assert_invalid(r, &format!("{op} {absolute:?}"));
    }
    assert_invalid(
        b.invoke(named(CREATE, "../outside/new.txt")).await,
        "create next door",
    );
    dirs.assert_outside_untouched();
}

#[tokio::test]
async fn wasm_guest_meets_the_contract() {
    let dirs = Dirs::new();
    let cfg = support::config(&entry("files", &dirs.granted));
    let host = support::load(&cfg);
    let b = host.output_binding("files").await.unwrap();
    contract(&b).await;
    unknown_operations_are_unimplemented(&b).await;
    on_disk(&b, &dirs).await;

    let fresh = host.output_binding_instance("files", "other").unwrap();
    match fresh.invoke(InvokeRequest::new(LIST)).await {
        Err(BlockError::Component(e)) => {
            assert_eq!(e.kind, wasmplug::runtime::FaultKind::NotInitialized);
            assert!(e.to_string().contains("files"), "{e}");
        }
        other => panic!("call before init: {other:?}"),
    }
    // Init properties override the config's metadata; a root outside the grant does not
    // exist for the component.
    match fresh.init(md(&[(ROOT_PATH, "/etc")])).await {
        Err(BlockError::Other(m)) => assert!(m.contains("\"/etc\""), "{m}"),
        other => panic!("init with an ungranted root: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_to_wasm_meets_the_contract() {
    let dirs = Dirs::new();
    let served = serve(&entry("files", &dirs.granted)).await;
    let socket = served.socket("files");
    let services = reflected_services(&socket).await;
    assert!(
        services
            .iter()
            .any(|s| s == "dapr.proto.components.v1.OutputBinding"),
        "{services:?}"
    );
    assert!(!services.iter().any(|s| s.contains("InputBinding")));

    let b = GrpcOutputBinding::connect(&socket, "files").await.unwrap();
    match b.invoke(InvokeRequest::new(LIST)).await {
        Err(BlockError::Component(e)) => {
            assert_eq!(e.kind, wasmplug::runtime::FaultKind::NotInitialized)
        }
        other => panic!("call before Init: {other:?}"),
    }
    b.init(md(&[(ROOT_PATH, "/data")])).await.unwrap();
    contract(&b).await;
    on_disk(&b, &dirs).await;

    // The gate: operations the component did not list are refused by the bridge, by name,
    // with the allowed ones (the guest itself would have answered UNIMPLEMENTED).
    for op in ["Create", "CREATE", "create ", "", "truncate"] {
        match b.invoke(named(op, "gated").with_data("x")).await {
            Err(BlockError::InvalidArgument(m)) => {
                assert!(m.contains(&format!("{op:?}")), "names the operation: {m}");
                assert!(
                    m.contains("create, get, list, delete"),
                    "lists the allowed: {m}"
                );
            }
            other => panic!("operation {op:?}: {other:?}"),
        }
    }
    assert!(!dirs.granted.join("gated").exists());

    // Instances are separate: another Dapr instance name needs its own Init.
    let other = GrpcOutputBinding::connect(&socket, "other").await.unwrap();
    assert!(other.list_operations().await.is_err());

    served.stop().await.unwrap();
}

// ---- the gate, observed from behind ---------------------------------------------------------

/// An in-memory binding that counts what reaches it.
#[derive(Debug, Default)]
struct Spy {
    inner: MemoryOutputBinding,
    invokes: AtomicUsize,
    list_operations: AtomicUsize,
}

#[async_trait::async_trait]
impl OutputBinding for Spy {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        self.inner.init(metadata).await
    }
    async fn list_operations(&self) -> Result<Vec<String>, BlockError> {
        self.list_operations.fetch_add(1, Ordering::SeqCst);
        // Only two of the four operations the binding implements are offered.
        Ok(vec![CREATE.into(), GET.into()])
    }
    async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, BlockError> {
        self.invokes.fetch_add(1, Ordering::SeqCst);
        self.inner.invoke(request).await
    }
    async fn ping(&self) -> Result<(), BlockError> {
        self.inner.ping().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_gate_never_calls_invoke_for_unlisted_operations() {
    let spy = Arc::new(Spy::default());
    let shared = spy.clone();
    let instances = wasmplug::bridge::Instances::new("spy", move |_| {
        Ok(shared.clone() as grpc::SharedOutputBinding)
    });
    let folder = tempfile::tempdir().unwrap();
    let socket = folder.path().join("spy.sock");
    let listener = wasmplug::bridge::bind(&socket).await.unwrap();
    let routes = grpc::routes(instances).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wasmplug::bridge::serve_routes(listener, routes, async {
        let _ = stopped.await;
    }));

    let b = GrpcOutputBinding::connect(&socket, "spy").await.unwrap();
    b.init(Metadata::new()).await.unwrap();
    assert_eq!(
        spy.list_operations.load(Ordering::SeqCst),
        1,
        "asked at Init"
    );

    // Listed operations pass through.
    create(&b, "f", b"x").await;
    assert_eq!(get(&b, "f").await.unwrap(), b"x");
    assert_eq!(spy.invokes.load(Ordering::SeqCst), 2);

    // `list` and `delete` are implemented but not listed: refused before the binding.
    for op in [LIST, DELETE, "Get", "unknown"] {
        match b.invoke(named(op, "f")).await {
            Err(BlockError::InvalidArgument(m)) => {
                assert!(
                    m.contains(&format!("{op:?}")) && m.contains("[create, get]"),
                    "{m}"
                )
            }
            other => panic!("{op}: {other:?}"),
        }
    }
    assert_eq!(
        spy.invokes.load(Ordering::SeqCst),
        2,
        "no unlisted operation reached invoke"
    );
    assert_eq!(get(&b, "f").await.unwrap(), b"x", "delete did not run");

    // ListOperations answers from the cache the gate enforces.
    assert_eq!(b.list_operations().await.unwrap(), [CREATE, GET]);
    assert_eq!(spy.list_operations.load(Ordering::SeqCst), 1, "cached");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

// ---- helpers shared with other modules ------------------------------------------------------

/// The services the server on `socket` advertises over reflection v1alpha (what daprd asks).
pub async fn reflected_services(socket: &Path) -> Vec<String> {
    use tonic_reflection::pb::v1alpha as ra;
    let channel = wasmplug::blocks::state::grpc::connect_socket(socket)
        .await
        .unwrap();
    let mut client = ra::server_reflection_client::ServerReflectionClient::new(channel);
    let request = ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(ra::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    match resp.message_response {
        Some(ra::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}
