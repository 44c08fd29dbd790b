//! A loopback binding as a wasmplug component (world `bindings-component`): whatever the app
//! sends through the output side comes back to it as an input event.
//!
//! The host runs the two sides as two instances of this component (daprd opens one
//! connection per side, each with its own `init`), and both open the same host bucket
//! namespace, so the queue between them lives in that bucket ([`queue`]), never in instance
//! memory. The two sides also keep separate state here, so one instance serving both works
//! the same.
//!
//! Component metadata (both sides):
//! - `bucket` (optional, default `loopback`): the host bucket to open; the component config
//!   must grant it. Every other key is ignored.
//!
//! Output side ([`sender`]): the one operation is `send`. It appends the request's data,
//! metadata and content type (request metadata `contentType`, if present and not empty) to
//! the queue and answers `{"sequence":<n>}` (`application/json`), `n` counting from 1.
//!
//! Input side ([`receiver`]): `poll` takes queued messages in order, each removed from the
//! bucket before it is returned (at-most-once), as events with id `<nonce>-<sequence>` (a
//! random per-instance nonce as 16 hex digits), the data, metadata and content type as sent,
//! plus metadata `sequence`, `repliesReceived` and the last reply (`lastReplyId`,
//! `lastReplyError`, `lastReplyData`); with nothing queued it asks to be polled again in
//! 200 ms. `reply` accepts only ids this instance emitted.

mod queue;
mod receiver;
mod record;
mod sender;

use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use exports::wasmplug::dapr::{input_binding, output_binding};
use wasmplug_guest::kv::{self, BUCKET_METADATA, Bucket};
use wasmplug_guest::logging::{self, Level};
use wasmplug_guest::metadata;

use crate::receiver::Receiver;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "bindings-component",
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

/// The error type of every binding function.
pub(crate) use wasmplug_guest::Error;

/// Bucket opened when the metadata does not name one.
const DEFAULT_BUCKET: &str = "loopback";
/// The logging context.
const LOG_CONTEXT: &str = "loopback";

/// What the input side's `init` sets up.
struct Input {
    bucket: Bucket,
    receiver: Receiver,
}

thread_local! {
    /// The output side's bucket. Guests are single-threaded; `thread_local` just avoids
    /// `unsafe` for the globals.
    static OUTPUT: RefCell<Option<Bucket>> = const { RefCell::new(None) };
    /// The input side's bucket and state.
    static INPUT: RefCell<Option<Input>> = const { RefCell::new(None) };
}

fn not_initialised(side: &str) -> Error {
    Error::Other(format!(
        "loopback {side} binding not initialised: init was not called"
    ))
}

fn with_output<T>(f: impl FnOnce(&Bucket) -> Result<T, Error>) -> Result<T, Error> {
    OUTPUT.with(|slot| match slot.borrow().as_ref() {
        Some(bucket) => f(bucket),
        None => Err(not_initialised("output")),
    })
}

fn with_input<T>(f: impl FnOnce(&mut Input) -> Result<T, Error>) -> Result<T, Error> {
    INPUT.with(|slot| match slot.borrow_mut().as_mut() {
        Some(input) => f(input),
        None => Err(not_initialised("input")),
    })
}

/// Open the bucket the metadata names (the last `bucket` pair wins).
fn open_bucket(metadata: &[(String, String)]) -> Result<Bucket, Error> {
    kv::open_bucket(metadata::value(metadata, BUCKET_METADATA).unwrap_or(DEFAULT_BUCKET))
}

/// A random 64-bit nonce. std's `RandomState` keys come from the platform's random source
/// (on wasm32-wasip2: `wasi:random/insecure-seed`, random per instance); the wall clock is
/// mixed in for good measure.
pub(crate) fn random_nonce() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one(nanos)
}

struct Component;

impl output_binding::Guest for Component {
    fn init(metadata: output_binding::Metadata) -> Result<(), Error> {
        let bucket = open_bucket(&metadata)?;
        OUTPUT.with(|slot| *slot.borrow_mut() = Some(bucket));
        Ok(())
    }

    fn list_operations() -> Vec<String> {
        sender::operations()
    }

    fn invoke(
        request: output_binding::InvokeRequest,
    ) -> Result<output_binding::InvokeResponse, Error> {
        with_output(|bucket| sender::invoke(bucket, request))
    }

    fn ping() -> Result<(), Error> {
        with_output(|_| Ok(()))
    }
}

impl input_binding::Guest for Component {
    fn init(metadata: input_binding::Metadata) -> Result<(), Error> {
        let bucket = open_bucket(&metadata)?;
        // A re-init (hot reload) starts over with a new nonce: ids from before are foreign.
        INPUT.with(|slot| {
            *slot.borrow_mut() = Some(Input {
                bucket,
                receiver: Receiver::new(random_nonce()),
            });
        });
        Ok(())
    }

    fn poll(max: u32) -> Result<input_binding::PollResult, Error> {
        let polled = with_input(|input| input.receiver.poll(&input.bucket, max))?;
        for line in &polled.dropped {
            logging::log(Level::Warn, LOG_CONTEXT, line);
        }
        Ok(polled.result)
    }

    fn reply(id: String, data: Vec<u8>, error: Option<String>) -> Result<(), Error> {
        with_input(|input| input.receiver.reply(&id, &data, error))
    }

    fn ping() -> Result<(), Error> {
        with_input(|_| Ok(()))
    }
}

export!(Component);
