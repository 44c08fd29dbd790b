/**
 * The pub/sub semantics over a versioned key-value backend (the host bucket, or a fake in
 * the tests). A line-by-line sibling of the Rust guest `pubsub-kv`'s broker, over the same
 * bucket layout (see keys.js and record.js).
 *
 * Each topic is a durable queue in the bucket: `publish` appends at `tail`, `fetch` scans up
 * from `head`, an ack deletes the message key. Appends are ONE atomic commit that writes the
 * message(s) and advances `tail` under a precondition on the `tail` version that was read,
 * so a reader never sees a tail without its messages and concurrent publishers never take
 * the same sequence number.
 *
 * What is in flight lives only in the `Broker` (instance memory): after a host restart or an
 * instance rebuild nothing is in flight, so everything not acked is delivered again
 * (at-least-once), and ids from before are rejected because the nonce changed.
 *
 * @module
 */

import { DaprError, invalidArgument, other, witPayload } from '../lib/errors.js';
import { utf8 } from '../lib/utf8.js';
import {
  MAX_TOPIC_LEN,
  TopicKeys,
  U64_MAX,
  decodeCounter,
  encodeCounter,
  formatDeliveryId,
  parseDeliveryId,
} from './keys.js';
import { RecordError, decodeRecord, encodeRecord } from './record.js';

/** How often a commit that lost a race on a counter is retried before giving up. */
export const MAX_COMMIT_ATTEMPTS = 16;
/** Most deliveries one `fetch` returns, whatever `max` asks for. */
export const MAX_FETCH = 100;
/** Most messages of one topic in flight at once; bounds instance memory. */
export const MAX_IN_FLIGHT = 10_000;
/** Most message keys one `fetch` reads; the next `fetch` continues where head moved to. */
export const MAX_SCAN_READS = 1_000;
/** Most message keys an ack reads while moving `head` past deleted messages. */
export const MAX_HEAD_SCAN = 256;
/** Largest encoded message record; the host refuses larger values. */
export const MAX_RECORD_LEN = 16 * 1024 * 1024;
/** Most metadata pairs one message may carry. */
export const MAX_METADATA_PAIRS = 1024;
/** A bulk publish commits its entries in chunks of at most this many messages... */
export const MAX_BULK_CHUNK = 256;
/** ...and, unless a single entry is larger, at most this many encoded bytes. */
export const MAX_BULK_CHUNK_BYTES = 8 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Types: the WIT records as componentize-js passes them (record fields in camelCase,
// `option<T>` as `T | undefined`, `list<u8>` as `Uint8Array`, `u64` as `bigint`).

/** @typedef {Array<[string, string]>} Metadata */

/**
 * @typedef {object} PublishRequest
 * @property {string} topic
 * @property {Uint8Array} data
 * @property {Metadata} metadata
 * @property {string | undefined} contentType
 */

/**
 * @typedef {object} BulkEntry
 * @property {string} entryId
 * @property {Uint8Array} event
 * @property {string | undefined} contentType
 * @property {Metadata} metadata
 */

/**
 * @typedef {object} BulkPublishRequest
 * @property {string} topic
 * @property {BulkEntry[]} entries
 * @property {Metadata} metadata
 */

/** @typedef {{ entryId: string, error: string }} BulkFailure */

/**
 * @typedef {object} Delivery
 * @property {string} id
 * @property {string} topic
 * @property {Uint8Array} data
 * @property {Metadata} metadata
 * @property {string | undefined} contentType
 */

/** @typedef {{ value: Uint8Array, version: bigint }} Entry `keyvalue-atomics.entry` */

/**
 * `keyvalue-atomics.precondition`.
 *
 * @typedef {{ tag: 'any' } | { tag: 'absent' } | { tag: 'version', val: bigint }} Precondition
 */

/**
 * `keyvalue-atomics.write`; `value: undefined` deletes the key.
 *
 * @typedef {{ key: string, precondition: Precondition, value: Uint8Array | undefined }} Write
 */

/**
 * The host operations the broker needs, with the error conventions of the componentize-js
 * bindings: a failure throws an error whose `payload` is the WIT error variant
 * (`keyvalue-store.error` for `getVersioned`, `keyvalue-atomics.commit-error` for `commit`).
 *
 * @typedef {object} Backend
 * @property {(key: string) => Entry | undefined} getVersioned
 * @property {(writes: Write[]) => bigint[]} commit apply `writes` atomically
 */

// ---------------------------------------------------------------------------------------

/** What this instance remembers about deliveries of one topic. */
class TopicState {
  /** @param {bigint} nonce */
  constructor(nonce) {
    /** The nonce in this topic's delivery ids. */
    this.nonce = nonce;
    /**
     * Messages in flight: sequence → the attempt number of the delivery awaiting its ack.
     * @type {Map<bigint, bigint>}
     */
    this.inFlight = new Map();
    /**
     * How many times each not-yet-acked message was delivered by this instance, so every
     * delivery gets a new id (also across `subscribe`).
     * @type {Map<bigint, bigint>}
     */
    this.attempts = new Map();
  }

  get isEmpty() {
    return this.inFlight.size === 0 && this.attempts.size === 0;
  }
}

/** The pub/sub contract over a backend, with the instance-local delivery state. */
export class Broker {
  /** @type {Backend} */
  #backend;
  /** @type {Map<string, TopicState>} */
  #topics = new Map();
  /** The nonce the next new topic state takes; starts at a random point per instance. */
  #nextNonce;

  /**
   * @param {Backend} backend
   * @param {{ nonceSeed?: bigint }} [options] `nonceSeed` fixes the first nonce (tests);
   *   by default it is random, so each instance issues its own ids
   */
  constructor(backend, { nonceSeed = randomU64() } = {}) {
    this.#backend = backend;
    this.#nextNonce = nonceSeed;
  }

  /**
   * `subscribe`: every in-flight message of `topic` becomes deliverable again.
   *
   * @param {string} topic
   */
  subscribe(topic) {
    checkTopic(topic);
    const state = this.#topics.get(topic);
    if (state) {
      state.inFlight.clear();
      if (state.isEmpty) this.#topics.delete(topic);
    }
  }

  /**
   * `fetch`: up to `max` deliverable messages of `topic`, oldest first, now in flight.
   *
   * @param {string} topic
   * @param {number} max
   * @returns {Delivery[]}
   */
  fetch(topic, max) {
    const keys = new TopicKeys(checkTopic(topic));
    const state = this.#stateOf(topic);
    try {
      const found = scan(this.#backend, topic, keys, state, max);
      return found.map(([seq, record]) => {
        const attempt = (state.attempts.get(seq) ?? 0n) + 1n;
        state.attempts.set(seq, attempt);
        state.inFlight.set(seq, attempt);
        return {
          id: formatDeliveryId({ nonce: state.nonce, seq, attempt }),
          topic,
          data: record.data,
          metadata: record.metadata,
          contentType: record.contentType,
        };
      });
    } finally {
      if (state.isEmpty) this.#topics.delete(topic);
    }
  }

  /**
   * `ack`: `error === undefined` removes the message for good; a string (a nack) makes it
   * deliverable again, and as the lowest deliverable sequence it is the next one fetched.
   *
   * @param {string} topic
   * @param {string} id
   * @param {string | undefined} error
   */
  ack(topic, id, error) {
    const keys = new TopicKeys(checkTopic(topic));
    const parsed = parseDeliveryId(id);
    if (!parsed) {
      throw invalidArgument(`${quote(id)} is not a delivery id of this component`);
    }
    const state = this.#topics.get(topic);
    const notInFlight = () =>
      invalidArgument(
        `delivery ${quote(id)} of topic ${quote(topic)} is not in flight (already acked or ` +
          'nacked, or its subscription restarted)',
      );
    if (!state) throw notInFlight();
    if (parsed.nonce !== state.nonce) {
      throw invalidArgument(
        `delivery id ${quote(id)} was not issued by this component instance for topic ` +
          `${quote(topic)} (another topic, another instance, or before a restart)`,
      );
    }
    const attempt = state.inFlight.get(parsed.seq);
    if (attempt === undefined) throw notInFlight();
    if (attempt !== parsed.attempt) {
      throw invalidArgument(
        `delivery ${quote(id)} of topic ${quote(topic)} was superseded by a later delivery ` +
          'of the same message',
      );
    }
    if (error === undefined) {
      // On failure the message stays in flight, so the ack can be retried.
      removeMessage(this.#backend, keys, parsed.seq, state.inFlight);
      state.attempts.delete(parsed.seq);
    }
    state.inFlight.delete(parsed.seq);
    if (state.isEmpty) this.#topics.delete(topic);
  }

  /**
   * `publish`: append one message to its topic.
   *
   * @param {PublishRequest} request
   */
  publish(request) {
    const keys = new TopicKeys(checkTopic(request.topic));
    let encoded;
    try {
      encoded = encodeMessage(request.data, request.metadata, request.contentType);
    } catch (err) {
      throw invalidArgument(messageOf(err));
    }
    append(this.#backend, keys, [encoded]);
  }

  /**
   * `bulk-publish`: append every entry, in order, reporting the ones that failed.
   *
   * Each entry's metadata is its own pairs followed by the request-wide pairs whose keys it
   * does not set. Entries that cannot be stored (too large, too much metadata) fail on their
   * own; the rest are appended in chunks (`MAX_BULK_CHUNK`, `MAX_BULK_CHUNK_BYTES`), each
   * chunk ONE atomic commit. If a chunk's commit fails, every entry of that chunk is
   * reported failed and nothing of it was written.
   *
   * @param {BulkPublishRequest} request
   * @returns {BulkFailure[]}
   */
  bulkPublish(request) {
    const keys = new TopicKeys(checkTopic(request.topic));
    /** @type {BulkFailure[]} */
    const failures = [];
    /** @type {{ ids: string[], records: Uint8Array[], bytes: number }} */
    let chunk = { ids: [], records: [], bytes: 0 };
    const flush = () => {
      if (chunk.records.length > 0) {
        try {
          append(this.#backend, keys, chunk.records);
        } catch (err) {
          if (!(err instanceof DaprError)) throw err;
          for (const entryId of chunk.ids) failures.push({ entryId, error: err.message });
        }
      }
      chunk = { ids: [], records: [], bytes: 0 };
    };
    for (const entry of request.entries) {
      const own = new Set(entry.metadata.map(([k]) => k));
      const metadata = [...entry.metadata, ...request.metadata.filter(([k]) => !own.has(k))];
      let encoded;
      try {
        encoded = encodeMessage(entry.event, metadata, entry.contentType);
      } catch (err) {
        failures.push({ entryId: entry.entryId, error: messageOf(err) });
        continue;
      }
      if (
        chunk.ids.length > 0 &&
        (chunk.ids.length >= MAX_BULK_CHUNK ||
          chunk.bytes + encoded.length > MAX_BULK_CHUNK_BYTES)
      ) {
        flush();
      }
      chunk.bytes += encoded.length;
      chunk.ids.push(entry.entryId);
      chunk.records.push(encoded);
    }
    flush();
    return failures;
  }

  /** @param {string} topic */
  #stateOf(topic) {
    let state = this.#topics.get(topic);
    if (!state) {
      state = new TopicState(this.#nextNonce);
      this.#nextNonce = (this.#nextNonce + 1n) & U64_MAX;
      this.#topics.set(topic, state);
    }
    return state;
  }
}

// ---------------------------------------------------------------------------------------

/**
 * Check a topic name.
 *
 * @param {string} topic
 * @returns {Uint8Array} its UTF-8 bytes
 */
function checkTopic(topic) {
  if (topic.length === 0) throw invalidArgument('the topic must not be empty');
  const bytes = utf8(topic);
  if (bytes.length > MAX_TOPIC_LEN) {
    throw invalidArgument(`the topic is ${bytes.length} bytes; the limit is ${MAX_TOPIC_LEN}`);
  }
  return bytes;
}

/**
 * Check and encode one message.
 *
 * @param {Uint8Array} data
 * @param {Metadata} metadata
 * @param {string | undefined} contentType
 * @returns {Uint8Array}
 * @throws {RecordError} why the message cannot be stored
 */
function encodeMessage(data, metadata, contentType) {
  if (metadata.length > MAX_METADATA_PAIRS) {
    throw new RecordError(
      `a message may carry at most ${MAX_METADATA_PAIRS} metadata pairs, got ${metadata.length}`,
    );
  }
  try {
    return encodeRecord({ contentType, metadata, data }, MAX_RECORD_LEN);
  } catch (err) {
    if (!(err instanceof RecordError)) throw err;
    throw new RecordError(
      `the message with its metadata exceeds the ${MAX_RECORD_LEN}-byte limit`,
    );
  }
}

/**
 * A readable cause for a host key-value error (`keyvalue-store.error`).
 *
 * @param {unknown} error
 * @returns {string}
 */
export function describeKvError(error) {
  const e = /** @type {{ tag?: string, val?: unknown }} */ (error ?? {});
  switch (e.tag) {
    case 'no-such-store':
      return 'no such store (is the bucket granted to this component?)';
    case 'access-denied':
      return 'access denied';
    case 'other':
      return String(e.val);
    default:
      return `unexpected error ${String(e.tag ?? error)}`;
  }
}

/**
 * Read `key`, turning a host failure into a `DaprError`.
 *
 * @param {Backend} backend
 * @param {string} key
 * @returns {Entry | undefined}
 */
function read(backend, key) {
  try {
    return backend.getVersioned(key);
  } catch (err) {
    throw other(`host bucket read of key ${quote(key)} failed: ${describeKvError(witPayload(err))}`);
  }
}

/**
 * Commit `writes`.
 *
 * @param {Backend} backend
 * @param {Write[]} writes
 * @param {string} what the operation, for errors
 * @returns {number | undefined} undefined on success, else the index of the write whose
 *   precondition failed (nothing was written)
 * @throws {DaprError} on a store error
 */
function tryCommit(backend, writes, what) {
  try {
    backend.commit(writes);
    return undefined;
  } catch (err) {
    const payload = /** @type {{ tag?: string, val?: unknown }} */ (witPayload(err) ?? {});
    if (payload.tag === 'conflict') return Number(payload.val);
    const cause = payload.tag === 'store' ? describeKvError(payload.val) : describeKvError(payload);
    throw other(`host bucket commit (${what}) failed: ${cause}`);
  }
}

/** A head or tail counter as read from the bucket. */
class Counter {
  /**
   * @param {bigint} value
   * @param {bigint | undefined} version undefined if the key is missing (the value is 0)
   */
  constructor(value, version) {
    this.value = value;
    this.version = version;
  }

  /** @returns {Precondition} that the counter is still what was read */
  unchanged() {
    return this.version === undefined ? { tag: 'absent' } : { tag: 'version', val: this.version };
  }
}

/**
 * @param {Backend} backend
 * @param {string} key
 * @returns {Counter}
 */
function readCounter(backend, key) {
  const entry = read(backend, key);
  if (!entry) return new Counter(0n, undefined);
  const value = decodeCounter(entry.value);
  if (value === undefined) {
    throw other(`counter key ${quote(key)} is corrupt: ${entry.value.length} bytes, expected 8`);
  }
  return new Counter(value, entry.version);
}

/**
 * Read `head` and `tail` of a topic, checking `head <= tail`.
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @returns {[Counter, bigint]}
 */
function readBounds(backend, keys) {
  const head = readCounter(backend, keys.head);
  const tail = readCounter(backend, keys.tail).value;
  if (head.value > tail) {
    throw other(`topic counters are corrupt: head ${head.value} is past tail ${tail}`);
  }
  return [head, tail];
}

/**
 * Append `records` (at least one) to the topic at consecutive sequences, atomically.
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @param {Uint8Array[]} records
 */
function append(backend, keys, records) {
  const count = BigInt(records.length);
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt += 1) {
    const tail = readCounter(backend, keys.tail);
    const next = tail.value + count;
    if (next > U64_MAX) throw other("the topic's sequence numbers are exhausted");
    /** @type {Write[]} */
    const writes = [
      // First, so that a lost race is `conflict(0)`.
      { key: keys.tail, precondition: tail.unchanged(), value: encodeCounter(next) },
      ...records.map((value, i) => ({
        key: keys.message(tail.value + BigInt(i)),
        precondition: /** @type {Precondition} */ ({ tag: 'absent' }),
        value,
      })),
    ];
    const conflict = tryCommit(backend, writes, 'publish');
    if (conflict === undefined) return;
    if (conflict !== 0) {
      const key = writes[conflict]?.key ?? '?';
      throw other(
        `topic storage is inconsistent: message key ${quote(key)} at or past the tail ` +
          'already exists; nothing was published',
      );
    }
  }
  throw other(
    `publish gave up after ${MAX_COMMIT_ATTEMPTS} attempts lost a race with concurrent ` +
      'publishers; nothing was published',
  );
}

/**
 * Collect up to `max` deliverable messages of a topic, oldest first, and move `head` past
 * any deleted prefix on the way.
 *
 * @param {Backend} backend
 * @param {string} topic
 * @param {TopicKeys} keys
 * @param {TopicState} state
 * @param {number} max
 * @returns {Array<[bigint, import('./record.js').Record]>}
 */
function scan(backend, topic, keys, state, max) {
  const budget = Math.min(max, MAX_FETCH, MAX_IN_FLIGHT - state.inFlight.size);
  if (!(budget > 0)) return [];
  const [head, tail] = readBounds(backend, keys);
  /** @type {Array<[bigint, import('./record.js').Record]>} */
  const found = [];
  let newHead = head.value;
  let deletedPrefix = true;
  let reads = 0;
  for (let seq = head.value; seq < tail && found.length < budget && reads < MAX_SCAN_READS; seq += 1n) {
    if (state.inFlight.has(seq)) {
      deletedPrefix = false;
      continue;
    }
    reads += 1;
    const entry = read(backend, keys.message(seq));
    if (!entry) {
      // Acked (by us before a restart, or elsewhere): never deliver it.
      state.attempts.delete(seq);
      if (deletedPrefix) newHead = seq + 1n;
      continue;
    }
    deletedPrefix = false;
    try {
      found.push([seq, decodeRecord(entry.value)]);
    } catch (err) {
      throw other(`stored message ${seq} of topic ${quote(topic)} is corrupt: ${messageOf(err)}`);
    }
  }
  if (newHead > head.value) {
    // Best effort: a lost race or a failure only means a later scan skips these again.
    try {
      tryCommit(
        backend,
        [{ key: keys.head, precondition: head.unchanged(), value: encodeCounter(newHead) }],
        'move head',
      );
    } catch (err) {
      if (!(err instanceof DaprError)) throw err;
    }
    for (const seq of state.attempts.keys()) {
      if (seq < newHead) state.attempts.delete(seq);
    }
  }
  return found;
}

/**
 * Delete message `seq` durably and, in the same commit, move `head` past the deleted
 * messages it now leads (stopping at anything in flight, which still exists).
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @param {bigint} seq
 * @param {Map<bigint, bigint>} inFlight
 */
function removeMessage(backend, keys, seq, inFlight) {
  /** @type {Write} */
  const remove = { key: keys.message(seq), precondition: { tag: 'any' }, value: undefined };
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt += 1) {
    const [head, tail] = readBounds(backend, keys);
    let newHead = head.value;
    let reads = 0;
    while (newHead < tail && reads < MAX_HEAD_SCAN) {
      if (newHead !== seq) {
        if (inFlight.has(newHead)) break;
        reads += 1;
        if (read(backend, keys.message(newHead))) break;
      }
      newHead += 1n;
    }
    /** @type {Write[]} */
    const writes = [remove];
    if (newHead > head.value) {
      writes.push({ key: keys.head, precondition: head.unchanged(), value: encodeCounter(newHead) });
    }
    // Only the head write has a precondition: a conflict means someone moved it; look again.
    if (tryCommit(backend, writes, 'ack') === undefined) return;
  }
  // Head kept moving under us: delete alone; a later scan moves head.
  if (tryCommit(backend, [remove], 'ack') !== undefined) {
    throw other('ack: deleting the message conflicted unexpectedly');
  }
}

/** A random u64 from the platform's CSPRNG (`wasi:random` inside the component). */
function randomU64() {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (BigInt(words[0]) << 32n) | BigInt(words[1]);
}

/** @param {unknown} err */
const messageOf = (err) => (err instanceof Error ? err.message : String(err));

/** @param {string} s a string quoted for an error message */
const quote = (s) => JSON.stringify(s);
