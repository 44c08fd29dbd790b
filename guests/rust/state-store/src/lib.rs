//! A Dapr state store as a wasmplug component (world `state-store-component`).
//!
//! Each state key is one key in a host bucket (`keyvalue-store`), holding a small binary
//! [`record`] with the value, its content type and optional expiry. Etags are the host's
//! per-write versions in decimal, and every write is a conditional `keyvalue-atomics.commit`
//! (see [`store`]), which gives etags, first-write, TTL and all-or-nothing transactions.
//!
//! Component metadata:
//! - `bucket` (optional, default `state`): the host bucket to open; the component config
//!   must grant it.
//!
//! Every other metadata key is ignored (daprd passes many).

mod options;
mod record;
mod store;
mod time;

use std::cell::RefCell;

use exports::wasmplug::dapr::state_store::{
    BulkGetItem, DeleteRequest, GetRequest, Guest, Item, Metadata, Operation, QueryRequest,
    QueryResponse, SetRequest, TransactRequest,
};
use wasmplug_guest::kv::{self, BUCKET_METADATA, Bucket};
use wasmplug_guest::metadata;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "state-store-component",
    // The host imports come from the support crate, so its helpers and these exports
    // share one set of types.
    with: {
        "wasmplug:dapr/types@0.1.0": wasmplug_guest::types,
        "wasmplug:dapr/keyvalue-store@0.1.0": wasmplug_guest::keyvalue_store,
        "wasmplug:dapr/keyvalue-atomics@0.1.0": wasmplug_guest::keyvalue_atomics,
        "wasmplug:dapr/keyvalue-batch@0.1.0": wasmplug_guest::keyvalue_batch,
        "wasmplug:dapr/config@0.1.0": wasmplug_guest::config,
        "wasmplug:dapr/logging@0.1.0": wasmplug_guest::logging,
    },
});

/// The error type of every state-store function.
pub(crate) use wasmplug_guest::Error;

/// Bucket opened when the metadata does not name one.
const DEFAULT_BUCKET: &str = "state";

thread_local! {
    /// The bucket opened by `init`. Guests are single-threaded; `thread_local` just avoids
    /// `unsafe` for the global.
    static BUCKET: RefCell<Option<Bucket>> = const { RefCell::new(None) };
}

/// Run `f` with the bucket opened by `init`.
fn with_bucket<T>(f: impl FnOnce(&Bucket) -> Result<T, Error>) -> Result<T, Error> {
    BUCKET.with(|slot| match slot.borrow().as_ref() {
        Some(bucket) => f(bucket),
        None => Err(Error::Other(
            "state store not initialised: init was not called".to_owned(),
        )),
    })
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        let name = metadata::value(&metadata, BUCKET_METADATA).unwrap_or(DEFAULT_BUCKET);
        let bucket = kv::open_bucket(name)?;
        // A re-init (hot reload) replaces the previous bucket, dropping its handle.
        BUCKET.with(|slot| *slot.borrow_mut() = Some(bucket));
        Ok(())
    }

    fn features() -> Vec<String> {
        ["ETAG", "TRANSACTIONAL", "TTL"].map(str::to_owned).to_vec()
    }

    fn get(request: GetRequest) -> Result<Option<Item>, Error> {
        with_bucket(|bucket| store::get(bucket, &request.key, time::now_unix_ms()))
    }

    fn set(request: SetRequest) -> Result<(), Error> {
        with_bucket(|bucket| {
            store::apply(
                bucket,
                vec![Operation::Set(request)],
                &[],
                time::now_unix_ms(),
            )
        })
    }

    fn delete(request: DeleteRequest) -> Result<(), Error> {
        with_bucket(|bucket| {
            store::apply(
                bucket,
                vec![Operation::Delete(request)],
                &[],
                time::now_unix_ms(),
            )
        })
    }

    fn bulk_get(requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, Error> {
        with_bucket(|bucket| store::bulk_get(bucket, requests, time::now_unix_ms()))
    }

    fn bulk_set(requests: Vec<SetRequest>) -> Result<(), Error> {
        let operations = requests.into_iter().map(Operation::Set).collect();
        with_bucket(|bucket| store::apply(bucket, operations, &[], time::now_unix_ms()))
    }

    fn bulk_delete(requests: Vec<DeleteRequest>) -> Result<(), Error> {
        let operations = requests.into_iter().map(Operation::Delete).collect();
        with_bucket(|bucket| store::apply(bucket, operations, &[], time::now_unix_ms()))
    }

    fn transact(request: TransactRequest) -> Result<(), Error> {
        with_bucket(|bucket| {
            store::apply(
                bucket,
                request.operations,
                &request.metadata,
                time::now_unix_ms(),
            )
        })
    }

    fn query(_request: QueryRequest) -> Result<QueryResponse, Error> {
        Err(Error::Unimplemented(
            "query is not supported by this state store".to_owned(),
        ))
    }

    fn multi_max_size() -> Option<u32> {
        None
    }

    fn ping() -> Result<(), Error> {
        Ok(())
    }
}

export!(Component);
