//! Generated WIT bindings, kept private: the public API speaks our own domain types
//! (`blocks::state::*`), never these.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "state-store-component",
    // Exports are called with `call_async` so epoch deadlines can yield to the executor.
    // Host imports are synchronous: they are short, bounded operations.
    exports: { default: async },
    with: {
        "wasmplug:dapr/keyvalue-store.bucket": crate::kv::host::BucketResource,
    },
});

pub(crate) use self::exports::wasmplug::dapr::state_store as state;
pub(crate) use self::wasmplug::dapr::{
    config, keyvalue_atomics, keyvalue_batch, keyvalue_store, logging, types,
};
