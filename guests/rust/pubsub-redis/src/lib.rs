//! Dapr's `pubsub.redis` (Redis Streams) as a wasmplug component (world `pubsub-component`):
//! it talks RESP to Redis itself over `wasi:sockets` TCP (the component config must grant
//! the `redisHost` peer in `grants.tcp`) and uses the stream layout of Dapr's native
//! component, so the two can share streams.
//!
//! - Publish: `XADD <topic> [MAXLEN ~ <maxLenApprox> | MINID ~ <now - streamTTL>] * data
//!   <bytes> [metadata <JSON object>] [contentType <type>]` (see [`stream`]).
//! - Subscribe: consumer group `consumerID` per topic stream; fetching, acks, nacks and
//!   redelivery are described in [`broker`].
//!
//! Component metadata: the connection keys of Dapr's Redis components (`redisHost`
//! required, `redisUsername`, `redisPassword`, `redisDB`, `dialTimeout`/`readTimeout`/
//! `writeTimeout`; `enableTLS` is refused), and `consumerID` (default `wasmplug`; daprd
//! passes the app id), `processingTimeout` (default `60s`), `redeliverInterval` (default
//! `15s`; a plain number is milliseconds for both, `0` disables redelivery), `maxLenApprox`,
//! `streamTTL`, `queueDepth` (default 100: the most entries one fetch takes). Every other key
//! (`concurrency`, `redisType`, ...) is ignored.

mod broker;
mod json;
mod settings;
mod stream;

use std::cell::RefCell;

use exports::wasmplug::dapr::pubsub::{
    BulkFailure, BulkPublishRequest, Delivery, Guest, Metadata, PublishRequest,
};
use wasmplug_guest::resp;

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

thread_local! {
    /// Guests are single-threaded; `thread_local` just avoids `unsafe` for the global.
    static BROKER: RefCell<Option<broker::Broker>> = const { RefCell::new(None) };
}

fn with_broker<T>(f: impl FnOnce(&mut broker::Broker) -> Result<T, Error>) -> Result<T, Error> {
    BROKER.with(|slot| match slot.borrow_mut().as_mut() {
        Some(b) => f(b),
        None => Err(Error::Other(
            "pubsub not initialised: init was not called".to_owned(),
        )),
    })
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        let options = resp::Options::from_metadata(&metadata).map_err(Error::InvalidArgument)?;
        let settings =
            settings::Settings::from_metadata(&metadata).map_err(Error::InvalidArgument)?;
        let mut client = resp::Client::new(options);
        // As Dapr's Init: a Redis that cannot be reached fails the component.
        client.connect().map_err(|e| Error::Other(e.to_string()))?;
        BROKER.with(|slot| {
            let mut slot = slot.borrow_mut();
            // A re-init with the same consumerID keeps the consumer name, so `subscribe`
            // finds the pending entries of the deliveries from before.
            let tag = match slot.take() {
                Some(old) if old.settings().consumer_id == settings.consumer_id => {
                    old.tag().to_owned()
                }
                _ => broker::random_tag(),
            };
            *slot = Some(broker::Broker::new(client, settings, tag));
        });
        Ok(())
    }

    /// Bulk publish is implemented (one pipelined `XADD` per entry).
    fn features() -> Vec<String> {
        vec!["BULK_PUBSUB".to_owned()]
    }

    fn publish(request: PublishRequest) -> Result<(), Error> {
        with_broker(|b| b.publish(request))
    }

    fn bulk_publish(request: BulkPublishRequest) -> Result<Vec<BulkFailure>, Error> {
        with_broker(|b| b.bulk_publish(request))
    }

    fn subscribe(topic: String, _metadata: Metadata) -> Result<(), Error> {
        with_broker(|b| b.subscribe(&topic))
    }

    fn fetch(topic: String, max: u32) -> Result<Vec<Delivery>, Error> {
        with_broker(|b| b.fetch(&topic, max))
    }

    fn ack(topic: String, id: String, error: Option<String>) -> Result<(), Error> {
        with_broker(|b| b.ack(&topic, &id, error.as_deref()))
    }

    fn ping() -> Result<(), Error> {
        with_broker(broker::Broker::ping)
    }
}

export!(Component);
