//! Shared support for the Rust guest components of wasmplug.
//!
//! A plain library (not a component): the guests link it and it exports nothing.
//!
//! - [`bindings`]: the one set of Rust bindings for the host's imports (world `host` of
//!   `wit/host.wit`: [`types`], [`keyvalue_store`], [`keyvalue_atomics`], [`keyvalue_batch`],
//!   [`config`], [`logging`]). A guest maps those interfaces onto these modules with the
//!   `with` option of its own `wit_bindgen::generate!`, so its exports, this crate and the
//!   guest agree on one `Bucket`, one `Error`, one `Write`...
//! - [`kv`]: the [`kv::Backend`] trait the guests' logic is written against (implemented
//!   for the host [`kv::Bucket`] here, and by the fake in `testing`), opening the bucket named
//!   by the component metadata, and the wording of host key-value errors.
//! - [`codec`]: a bounds-checked little-endian reader and length-prefixed writers for
//!   stored records; [`message`]: the record of a queued message (content type, metadata,
//!   data) shared by the pub/sub and the loopback binding; [`counter`]: versioned `u64`
//!   counters such as queue heads and tails.
//! - [`retry`]: the bounded retry of a commit that lost a race.
//! - [`metadata`]: looking up Dapr metadata pairs.
//! - [`resp`]: a small Redis (RESP2) client over `wasi:sockets` TCP, for guests that talk to
//!   Redis themselves.
//! - `testing` (feature `testing`, for native unit tests only): an in-memory fake of a
//!   versioned host bucket.
//!
//! Nothing here panics on any input.

pub mod bindings {
    //! Bindings for the imports of world `host` (and nothing else: no exports).
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "host",
    });
}

pub mod codec;
pub mod counter;
pub mod kv;
pub mod message;
pub mod metadata;
pub mod resp;
pub mod retry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use bindings::wasmplug::dapr::{
    config, keyvalue_atomics, keyvalue_batch, keyvalue_store, logging, types,
};

/// The error type every building-block function returns (`wasmplug:dapr/types.error`).
pub use types::Error;
