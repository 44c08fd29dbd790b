//! A durable Dapr pub/sub as a wasmplug component (world `pubsub-component`).
//!
//! Every topic is a queue in a host bucket (`keyvalue-store`): a tail counter, a head counter
//! and one key per message holding a small binary [`record`] (layout in [`keys`]). Publishing
//! is one conditional `keyvalue-atomics.commit` that writes the message and advances the
//! tail; an ack deletes the message key. Which messages are in flight is shared through the
//! bucket too: `fetch` claims each message it returns with a claim key (a lease until the
//! ack deadline), so several instances over one shared bucket (replicas of an app in several
//! `wasmplug serve` processes on one Redis store) share a subscription, each message
//! processed by one of them at a time (see [`broker`]). A message whose delivery is never
//! acked (its instance died, restarted or was rebuilt) is delivered again, by any instance,
//! once its claim has expired: at-least-once, and nothing acked ever comes back.
//!
//! Delivery ids are `<nonce>-<seq>-<attempt>`: a random per-(instance, topic) nonce as 16
//! hex digits, the message's sequence number and the delivery count of that message.
//!
//! Component metadata:
//! - `bucket` (optional, default `pubsub`): the host bucket to open; the component config
//!   must grant it.
//! - `ackDeadline` (optional, default `60s`): how long a delivery may stay unacked before
//!   another instance may deliver the message again; a positive integer with `ms`, `s` or
//!   `m` (`500ms`, `30s`, `2m`), at most 24 h.
//!
//! Every other metadata key is ignored (daprd passes e.g. `consumerID`).

mod broker;
mod keys;
mod record;

use std::cell::RefCell;

use exports::wasmplug::dapr::pubsub::{
    BulkFailure, BulkPublishRequest, Delivery, Guest, Metadata, PublishRequest,
};
use wasmplug_guest::kv::{self, BUCKET_METADATA, Bucket};
use wasmplug_guest::metadata;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "pubsub-component",
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

/// The error type of every pub/sub function.
pub(crate) use wasmplug_guest::Error;

/// Bucket opened when the metadata does not name one.
const DEFAULT_BUCKET: &str = "pubsub";

/// What `init` sets up.
struct Instance {
    bucket: Bucket,
    broker: broker::Broker,
}

thread_local! {
    /// Guests are single-threaded; `thread_local` just avoids `unsafe` for the global.
    static INSTANCE: RefCell<Option<Instance>> = const { RefCell::new(None) };
}

/// Run `f` with the bucket and broker set up by `init`.
fn with_instance<T>(
    f: impl FnOnce(&Bucket, &mut broker::Broker) -> Result<T, Error>,
) -> Result<T, Error> {
    INSTANCE.with(|slot| match slot.borrow_mut().as_mut() {
        Some(instance) => f(&instance.bucket, &mut instance.broker),
        None => Err(Error::Other(
            "pubsub not initialised: init was not called".to_owned(),
        )),
    })
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        // This component has always taken the first `bucket` pair (the others the last).
        let name = metadata::first_value(&metadata, BUCKET_METADATA).unwrap_or(DEFAULT_BUCKET);
        let ack_deadline =
            broker::parse_ack_deadline(metadata::value(&metadata, broker::ACK_DEADLINE_METADATA))?;
        let bucket = kv::open_bucket(name)?;
        // If the host cannot say, assume replicas may share the bucket: claims of other
        // instances are then honoured until their deadline.
        let shared = bucket.shared().unwrap_or(true);
        // A re-init (hot reload) starts over: new bucket handle, nothing in flight, so
        // every unacked message becomes deliverable again. The nonces stay, so this
        // instance's claims from before count as its own (deliverable at once, not only
        // after their deadline) while the old deliveries' ids are no longer in flight.
        INSTANCE.with(|slot| {
            let mut slot = slot.borrow_mut();
            let broker = match slot.take() {
                Some(old) => old.broker.restarted(ack_deadline),
                None => broker::Broker::with_clock(ack_deadline, Box::new(broker::system_clock)),
            };
            let broker = broker.sharing(shared);
            *slot = Some(Instance { bucket, broker });
        });
        Ok(())
    }

    fn features() -> Vec<String> {
        vec!["BULK_PUBSUB".to_owned()]
    }

    fn publish(request: PublishRequest) -> Result<(), Error> {
        with_instance(|bucket, _| broker::publish(bucket, request))
    }

    fn bulk_publish(request: BulkPublishRequest) -> Result<Vec<BulkFailure>, Error> {
        with_instance(|bucket, _| broker::bulk_publish(bucket, request))
    }

    fn subscribe(topic: String, _metadata: Metadata) -> Result<(), Error> {
        with_instance(|bucket, broker| broker.subscribe(bucket, &topic))
    }

    fn fetch(topic: String, max: u32) -> Result<Vec<Delivery>, Error> {
        with_instance(|bucket, broker| broker.fetch(bucket, &topic, max))
    }

    fn ack(topic: String, id: String, error: Option<String>) -> Result<(), Error> {
        with_instance(|bucket, broker| broker.ack(bucket, &topic, &id, error.as_deref()))
    }

    fn ping() -> Result<(), Error> {
        with_instance(|_, _| Ok(()))
    }
}

export!(Component);
