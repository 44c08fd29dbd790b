//! Generated WIT bindings, kept private: the public API speaks our own domain types
//! (`blocks::*`), never these.
//!
//! The host imports are generated once, from the `host` world; every block world reuses them
//! (`with`), so one set of host implementations serves every component.

pub mod host_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "host",
        with: {
            "wasmplug:dapr/keyvalue-store.bucket": crate::host_imports::resource::BucketResource,
        },
        // Every bucket operation may wait on I/O (a Redis round trip, an fsync): async, so
        // the backend awaits it instead of blocking an executor thread (see
        // `host_imports::keyvalue`). Opening and dropping a handle touch no backend.
        imports: {
            "wasmplug:dapr/keyvalue-store.[method]bucket.get": async,
            "wasmplug:dapr/keyvalue-store.[method]bucket.exists": async,
            "wasmplug:dapr/keyvalue-store.[method]bucket.list-keys": async,
            "wasmplug:dapr/keyvalue-atomics.get-versioned": async,
            "wasmplug:dapr/keyvalue-batch.get-many": async,
            "wasmplug:dapr/keyvalue-store.[method]bucket.set": async,
            "wasmplug:dapr/keyvalue-store.[method]bucket.delete": async,
            "wasmplug:dapr/keyvalue-atomics.increment": async,
            "wasmplug:dapr/keyvalue-atomics.commit": async,
            "wasmplug:dapr/keyvalue-batch.set-many": async,
            "wasmplug:dapr/keyvalue-batch.delete-many": async,
        },
    });
}

/// The `with` map every block world uses to share the host imports.
macro_rules! block_world {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../wit",
                world: $world,
                // Exports are called with `call_async` so epoch deadlines can yield to the
                // executor. Host imports are synchronous: short, bounded operations.
                exports: { default: async },
                with: {
                    "wasmplug:dapr/types": crate::bindings::types,
                    "wasmplug:dapr/keyvalue-store": crate::bindings::keyvalue_store,
                    "wasmplug:dapr/keyvalue-atomics": crate::bindings::keyvalue_atomics,
                    "wasmplug:dapr/keyvalue-batch": crate::bindings::keyvalue_batch,
                    "wasmplug:dapr/config": crate::bindings::config,
                    "wasmplug:dapr/logging": crate::bindings::logging,
                },
            });
        }
    };
}

block_world!(state_world, "state-store-component");
block_world!(pubsub_world, "pubsub-component");
block_world!(input_world, "input-binding-component");
block_world!(output_world, "output-binding-component");
block_world!(secrets_world, "secret-store-component");

pub use self::host_world::Host_ as HostImports;
pub use self::host_world::wasmplug::dapr::{
    config, keyvalue_atomics, keyvalue_batch, keyvalue_store, logging, types,
};
pub use self::state_world::StateStoreComponent;
pub use self::state_world::StateStoreComponentPre;
pub use self::state_world::exports::wasmplug::dapr::state_store as state;
