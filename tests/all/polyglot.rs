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
