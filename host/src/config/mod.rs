//! Loading the components config file.
//!
//! The file is YAML shaped like Dapr's own resources so Dapr users read it at a glance:
//! a `kind`, an `apiVersion`, and a list of components, each with a `name`, the building
//! block it implements (`type`), the `.wasm` file (relative to the config file), its init
//! `metadata` as `name`/`value` pairs, and the `limits` and `grants` of its sandbox.
//!
//! ```yaml
//! apiVersion: wasmplug.dev/v1alpha1
//! kind: Components
//! dataDir: .wasmplug/data          # durable key-value buckets (default shown)
//! keyValueStores:                  # optional: stores shared across processes
//!   - name: shared
//!     type: redis
//!     urlFromEnv: REDIS_URL        # or url: redis://host:6379/0
//! components:
//!   - name: statestore
//!     type: state
//!     wasm: ../../target/guests/state-store.wasm
//!     metadata:
//!       - name: bucket
//!         value: state
//!     limits:
//!       memoryMiB: 64              # default 64
//!       callTimeout: 5s            # default 5s
//!     grants:
//!       keyValue:
//!         - bucket: state
//!           store: durable         # default; or memory, or a keyValueStores name
//!       dirs:
//!         - hostPath: ./data
//!           guestPath: /data
//!           readOnly: true
//!       env:
//!         - name: LOG_LEVEL
//!           value: debug
//!       tcp:
//!         - 127.0.0.1:6379
//! ```
//!
//! Loading is strict: an unknown key, a duplicate name, a missing file or a value of the
//! wrong shape is an error that names the file, the component and the key.

mod error;
mod grants;
mod load;
mod model;
mod name;
mod raw;
mod resolve;
mod stores;
#[cfg(test)]
mod test_util;

pub use crate::kind::{BlockKind, Service};
pub use error::ConfigError;
pub use load::{API_VERSION, KIND, default_cache_dir};
pub use model::{
    ComponentConfig, Config, DEFAULT_IDLE_TIMEOUT, DirGrant, Grants, KeyValueGrant, Limits,
    TcpGrant,
};
