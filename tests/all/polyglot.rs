//! Components written in Python, JavaScript and C meet the same contracts as the Rust ones,
//! in-process and through the bridge. (`cargo xtask test` builds them with each language's
//! pinned toolchain; see guests/<lang>/README.md.)

use wasmplug::blocks::Metadata;
use wasmplug::blocks::state::{GrpcStateStore, StateStore};

use crate::support;

fn state_entry(name: &str, guest: &str) -> String {
    format!(
        "  - name: {name}\n    type: state\n    wasm: {:?}\n    grants:\n      keyValue:\n        - bucket: state\n          backend: memory\n",
        support::guest(guest)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_state_store_meets_the_state_contract_in_process() {
    let cfg = support::config(&state_entry("py-state", "py-state-store"));
    let host = support::load(&cfg);
    crate::state_contract::contract(&host.state_store("py-state").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_state_store_meets_the_state_contract_over_the_bridge() {
    let served = crate::bridge::serve(&state_entry("py-state", "py-state-store")).await;
    let store = GrpcStateStore::connect(&served.socket("py-state"), "app")
        .await
        .unwrap();
    store.init(Metadata::new()).await.unwrap();
    crate::state_contract::contract(&store).await;
    drop(store);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_localstorage_meets_the_output_binding_contract() {
    use crate::output_binding::{Dirs, contract, entry_for, on_disk};
    use wasmplug::blocks::bindings::output::{GrpcOutputBinding, OutputBinding};
    let dirs = Dirs::new();
    let cfg = support::config(&entry_for("py-localstorage", "py-files", &dirs.granted));
    let host = support::load(&cfg);
    let b = host.output_binding("py-files").await.unwrap();
    contract(&b).await;
    on_disk(&b, &dirs).await;

    let dirs = Dirs::new();
    let served =
        crate::bridge::serve(&entry_for("py-localstorage", "py-files", &dirs.granted)).await;
    let b = GrpcOutputBinding::connect(&served.socket("py-files"), "app")
        .await
        .unwrap();
    b.init(Metadata::new()).await.unwrap();
    contract(&b).await;
    drop(b);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_pubsub_meets_the_pubsub_contract() {
    use wasmplug::blocks::pubsub::{GrpcPubSub, PubSub};
    let cfg = support::config(&crate::pubsub::entry_for(
        "js-pubsub",
        "js-events",
        "memory",
    ));
    let host = support::load(&cfg);
    crate::pubsub::contract(&host.pubsub("js-events").await.unwrap()).await;

    let served = crate::bridge::serve(&crate::pubsub::entry_for(
        "js-pubsub",
        "js-events",
        "durable",
    ))
    .await;
    let ps = GrpcPubSub::connect(&served.socket("js-events"), "app")
        .await
        .unwrap();
    ps.init(Metadata::new()).await.unwrap();
    crate::pubsub::contract(&ps).await;
    drop(ps);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_localstorage_meets_the_output_binding_contract() {
    use crate::output_binding::{Dirs, contract, entry_for, on_disk};
    use wasmplug::blocks::bindings::output::OutputBinding;
    let dirs = Dirs::new();
    let cfg = support::config(&entry_for("js-localstorage", "js-files", &dirs.granted));
    let host = support::load(&cfg);
    let b = host.output_binding("js-files").await.unwrap();
    contract(&b).await;
    on_disk(&b, &dirs).await;

    let dirs = Dirs::new();
    let served =
        crate::bridge::serve(&entry_for("js-localstorage", "js-files", &dirs.granted)).await;
    let b = wasmplug::blocks::bindings::output::GrpcOutputBinding::connect(
        &served.socket("js-files"),
        "app",
    )
    .await
    .unwrap();
    b.init(Metadata::new()).await.unwrap();
    contract(&b).await;
    drop(b);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_text_binding_serves_its_operations() {
    use wasmplug::blocks::BlockError;
    use wasmplug::blocks::bindings::output::{GrpcOutputBinding, InvokeRequest, OutputBinding};
    let entry = format!(
        "  - name: c-upper\n    type: bindings\n    wasm: {:?}\n    metadata:\n      - name: maxBytes\n        value: \"16\"\n",
        support::guest("c-upper")
    );
    let served = crate::bridge::serve(&entry).await;
    let b = GrpcOutputBinding::connect(&served.socket("c-upper"), "app")
        .await
        .unwrap();
    b.init(Metadata::new()).await.unwrap();
    assert_eq!(
        b.list_operations().await.unwrap(),
        ["upper", "lower", "reverse", "length"]
    );
    let call = |op: &'static str, data: &'static str| {
        let b = b.clone();
        async move { b.invoke(InvokeRequest::new(op).with_data(data)).await }
    };
    assert_eq!(call("upper", "Hello").await.unwrap().data, b"HELLO");
    assert_eq!(call("lower", "Hello").await.unwrap().data, b"hello");
    assert_eq!(call("reverse", "Hello").await.unwrap().data, b"olleH");
    let r = call("length", "Hello").await.unwrap();
    assert_eq!(r.data, b"5");
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        r.metadata.get("operation").map(String::as_str),
        Some("length")
    );
    // Its own limit, from the config's metadata.
    assert!(matches!(
        call("upper", "seventeen bytes!!").await,
        Err(BlockError::InvalidArgument(_))
    ));
    // The bridge gates operations the component does not list.
    assert!(matches!(
        call("shout", "x").await,
        Err(BlockError::InvalidArgument(_))
    ));
    drop(b);
    served.stop().await.unwrap();

    // In-process there is no gate: the guest itself answers "unimplemented".
    let cfg = support::config(&entry);
    let host = support::load(&cfg);
    let b = host.output_binding("c-upper").await.unwrap();
    assert!(matches!(
        b.invoke(InvokeRequest::new("shout")).await,
        Err(BlockError::Unimplemented(_))
    ));
}

/// `examples/polyglot/wasmplug.yaml` loads as shipped and every component in it answers over
/// its socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polyglot_example_config_serves_every_language() {
    use wasmplug::blocks::bindings::output::{GrpcOutputBinding, InvokeRequest, OutputBinding};
    use wasmplug::blocks::pubsub::{GrpcPubSub, PubSub, PublishRequest};
    use wasmplug::blocks::state::{GetRequest, SetRequest};

    // The example as shipped, moved to a temp dir: guest paths made absolute, nothing else.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("examples/polyglot/wasmplug.yaml")).unwrap();
    let guests = support::guest("c-upper").parent().unwrap().to_owned();
    let text = text.replace("../../target/guests/", &format!("{}/", guests.display()));
    let dir = tempfile::tempdir().unwrap();
    for sub in ["files/py", "files/js"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let config = dir.path().join("wasmplug.yaml");
    std::fs::write(&config, text).unwrap();
    let host = std::sync::Arc::new(
        wasmplug::Host::load(&config).unwrap_or_else(|e| panic!("examples/polyglot: {e}")),
    );
    let mut names: Vec<String> = host.components().map(|c| c.name().to_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        ["c-text", "js-events", "js-files", "py-files", "py-state"]
    );

    let sockets = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let folder = sockets.path().to_owned();
    let server = tokio::spawn(async move {
        wasmplug::bridge::serve(host, &folder, async {
            let _ = stopped.await;
        })
        .await
    });
    let socket = |name: &str| sockets.path().join(format!("{name}.sock"));
    for name in &names {
        for _ in 0..3000 {
            if socket(name).exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    // Python state store.
    let store = GrpcStateStore::connect(&socket("py-state"), "app")
        .await
        .unwrap();
    store.init(Metadata::new()).await.unwrap();
    store
        .set(SetRequest::new("greeting", "from python"))
        .await
        .unwrap();
    let item = store.get(GetRequest::new("greeting")).await.unwrap();
    assert_eq!(item.unwrap().data, b"from python");

    // Python and JavaScript local storage, each in its own granted folder.
    for (name, sub) in [("py-files", "py"), ("js-files", "js")] {
        let b = GrpcOutputBinding::connect(&socket(name), "app")
            .await
            .unwrap();
        b.init(Metadata::new()).await.unwrap();
        let mut create = InvokeRequest::new("create").with_data(format!("written by {name}"));
        create
            .metadata
            .insert("fileName".into(), "hello.txt".into());
        b.invoke(create).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("files").join(sub).join("hello.txt")).unwrap(),
            format!("written by {name}")
        );
    }

    // JavaScript pub/sub.
    let ps = GrpcPubSub::connect(&socket("js-events"), "app")
        .await
        .unwrap();
    ps.init(Metadata::new()).await.unwrap();
    let sub = ps.subscribe("orders", Metadata::new()).await.unwrap();
    ps.publish(PublishRequest::new("orders", "order #1"))
        .await
        .unwrap();
    let d = sub
        .next(std::time::Duration::from_secs(10))
        .await
        .unwrap()
        .expect("a delivery");
    assert_eq!(d.data, b"order #1");
    sub.ack(&d.id, None).await.unwrap();
    drop(sub);

    // C text transforms.
    let c = GrpcOutputBinding::connect(&socket("c-text"), "app")
        .await
        .unwrap();
    c.init(Metadata::new()).await.unwrap();
    let r = c
        .invoke(InvokeRequest::new("upper").with_data("from c"))
        .await
        .unwrap();
    assert_eq!(r.data, b"FROM C");

    drop((store, ps, c));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
