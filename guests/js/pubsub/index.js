/**
 * A Dapr pub/sub broker as a wasmplug component (world `pubsub-component`), written in
 * JavaScript: the sibling of the Rust guest `pubsub-kv`, over the same bucket layout.
 *
 * Component metadata: `bucket` (default `pubsub`) names the granted host key-value bucket
 * that holds the queues; `ackDeadline` (default `60s`) is how long a delivery may stay
 * unacked before another replica may deliver the message again. Features: `BULK_PUBSUB`.
 *
 * This module is only the glue between the WIT exports and the broker (broker.js, which the
 * unit tests drive with a fake bucket). Module top-level code runs once, at build time, and
 * its result is snapshotted into the component: nothing here may touch the host or draw
 * random numbers outside a function.
 *
 * @module
 */

import { getVersioned, commit } from 'wasmplug:dapr/keyvalue-atomics@0.1.0';
import { open } from 'wasmplug:dapr/keyvalue-store@0.1.0';
import { log } from 'wasmplug:dapr/logging@0.1.0';

import { guardExports, invalidArgument, other, witPayload } from '../lib/errors.js';
import { lookup } from '../lib/metadata.js';
import { ACK_DEADLINE_METADATA, Broker, describeKvError, parseAckDeadline } from './broker.js';

/** Component metadata key naming the host bucket. */
const BUCKET_METADATA = 'bucket';
/** Bucket opened when the metadata does not name one. */
const DEFAULT_BUCKET = 'pubsub';

/**
 * The broker set up by `init`.
 * @type {Broker | undefined}
 */
let broker;

/** @returns {Broker} */
function initialised() {
  if (!broker) throw other('pubsub not initialised: init was not called');
  return broker;
}

/** The host bucket as the broker's backend. */
class HostBucket {
  /** @param {ReturnType<typeof open>} bucket */
  constructor(bucket) {
    this.bucket = bucket;
  }

  /** @param {string} key */
  getVersioned(key) {
    return getVersioned(this.bucket, key);
  }

  /** @param {string} key */
  exists(key) {
    return this.bucket.exists(key);
  }

  /** @param {import('./broker.js').Write[]} writes */
  commit(writes) {
    return commit(this.bucket, writes);
  }
}

export const pubsub = guardExports(
  'js-pubsub',
  {
    /** @param {Array<[string, string]>} metadata */
    init(metadata) {
      const name = lookup(metadata, BUCKET_METADATA) ?? DEFAULT_BUCKET;
      if (name === '') throw invalidArgument(`metadata ${BUCKET_METADATA} must not be empty`);
      let bucket;
      try {
        bucket = open(name);
      } catch (err) {
        throw other(`cannot open host bucket ${JSON.stringify(name)}: ${describeKvError(witPayload(err))}`);
      }
      const ackDeadline = parseAckDeadline(lookup(metadata, ACK_DEADLINE_METADATA));
      // If the host cannot say, assume replicas may share the bucket: claims of other
      // instances are then honoured until their deadline.
      let shared = true;
      try {
        shared = bucket.shared();
      } catch {
        shared = true;
      }
      // A re-init (hot reload) starts over: new bucket handle, new nonces, nothing in
      // flight, so every unacked message becomes deliverable again. The owner id stays, so
      // this instance's claims from before count as its own (deliverable at once).
      broker = new Broker(new HostBucket(bucket), { owner: broker?.owner, ackDeadline, shared });
    },

    features() {
      return ['BULK_PUBSUB'];
    },

    /** @param {import('./broker.js').PublishRequest} request */
    publish(request) {
      initialised().publish(request);
    },

    /** @param {import('./broker.js').BulkPublishRequest} request */
    bulkPublish(request) {
      return initialised().bulkPublish(request);
    },

    /** @param {string} topic @param {Array<[string, string]>} _metadata */
    subscribe(topic, _metadata) {
      initialised().subscribe(topic);
    },

    /** @param {string} topic @param {number} max */
    fetch(topic, max) {
      return initialised().fetch(topic, max);
    },

    /** @param {string} topic @param {string} id @param {string | undefined} error */
    ack(topic, id, error) {
      initialised().ack(topic, id, error);
    },

    ping() {
      initialised();
    },
  },
  (context, message) => log('error', context, message),
);
