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
 * What is in flight is shared through the bucket: `fetch` claims every message it returns
 * with a claim key (owner = this instance's random owner id, attempt, expiry = now + the ack
 * deadline), in ONE conditional commit whose preconditions pin each claim key as it was read
 * (absent, expired, released, or an old claim of this instance). A message another instance
 * claimed and whose claim has not expired is skipped; a claim commit that loses a race drops
 * just the message that was taken. So several instances over one shared bucket (replicas in
 * several processes) share a subscription: each message is processed by one of them at a
 * time, and one that stops acking has its messages delivered by the others once the ack
 * deadline has passed, with new ids. An ack deletes the message and its claim only if the
 * claim is still this delivery's; a nack and `subscribe` delete this instance's claims, so
 * those messages are deliverable again at once, to any instance.
 *
 * The `Broker` caches what this instance has in flight (for the id checks and the
 * `MAX_IN_FLIGHT` bound); the claims in the bucket are the truth. An instance never
 * redelivers its own in-flight messages by itself (only a nack, `subscribe` or the deadline
 * passing for *another* instance does). After a host restart or an instance rebuild the new
 * instance has new nonces and a new owner id: ids from before are rejected, and messages the
 * old instance left unacked are delivered again once their claims expire (at-least-once).
 *
 * @module
 */

import { DaprError, invalidArgument, other, witPayload } from '../lib/errors.js';
import { utf8 } from '../lib/utf8.js';
import {
  MAX_TOPIC_LEN,
  TopicKeys,
  U64_MAX,
  decodeClaim,
  decodeCounter,
  encodeClaim,
  encodeCounter,
  formatDeliveryId,
  parseDeliveryId,
} from './keys.js';
import { RecordError, decodeRecord, encodeRecord } from './record.js';

/** How often a commit that lost a race on a counter is retried before giving up. */
export const MAX_COMMIT_ATTEMPTS = 16;
/** Most scans one `fetch` makes when other instances win the claims of everything it found. */
export const MAX_FETCH_ROUNDS = 4;
/** Most deliveries one `fetch` returns, whatever `max` asks for. */
export const MAX_FETCH = 100;
/** Most messages of one topic in flight at once in this instance; bounds instance memory. */
export const MAX_IN_FLIGHT = 10_000;
/**
 * Most keys one `fetch` reads (message and claim keys); the next `fetch` continues where
 * head moved to.
 */
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
/** Component metadata key of the ack deadline. */
export const ACK_DEADLINE_METADATA = 'ackDeadline';
/** The ack deadline when the metadata sets none: 60 s, in milliseconds. */
export const DEFAULT_ACK_DEADLINE_MS = 60_000;
/** The longest ack deadline accepted: 24 h, in milliseconds. */
export const MAX_ACK_DEADLINE_MS = 24 * 60 * 60 * 1000;
/** Most claims `subscribe` releases in one commit. */
const MAX_RELEASE_CHUNK = 256;

/**
 * Parse the `ackDeadline` metadata value (`undefined`: not set): a positive integer followed
 * by `ms`, `s` or `m`, at most `MAX_ACK_DEADLINE_MS`.
 *
 * @param {string | undefined} value
 * @returns {number} milliseconds
 */
export function parseAckDeadline(value) {
  if (value === undefined) return DEFAULT_ACK_DEADLINE_MS;
  const match = /^([0-9]+)(ms|s|m)$/.exec(value);
  const factor = { ms: 1, s: 1000, m: 60_000 }[match?.[2] ?? ''];
  const ms = match && factor ? Number(match[1]) * factor : NaN;
  if (!(Number.isSafeInteger(ms) && ms > 0 && ms <= MAX_ACK_DEADLINE_MS)) {
    throw invalidArgument(
      `metadata ${ACK_DEADLINE_METADATA} must be a positive duration such as 500ms, 30s or ` +
        `2m, at most ${formatDuration(MAX_ACK_DEADLINE_MS)}, got ${quote(value)}`,
    );
  }
  return ms;
}

/**
 * A duration as `2m`, `30s` or `1500ms`.
 *
 * @param {number} ms
 */
export function formatDuration(ms) {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

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
 * @property {(key: string) => boolean} [exists] whether `key` is set, without reading its
 *   value (optional: `getVersioned` stands in)
 */

// ---------------------------------------------------------------------------------------

/** What this instance remembers about deliveries of one topic. */
class TopicState {
  /** @param {bigint} nonce */
  constructor(nonce) {
    /** The nonce in this topic's delivery ids. */
    this.nonce = nonce;
    /**
     * Messages in flight: sequence → the delivery awaiting its ack (its attempt number and
     * the version of the claim key this instance wrote for it).
     * @type {Map<bigint, { attempt: bigint, claimVersion: bigint }>}
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

/** Past every claim's expiry: what voids them all in an unshared bucket. */
const UNSHARED_UNTIL = 1n << 64n;

/** The pub/sub contract over a backend, with the instance-local delivery state. */
export class Broker {
  /** @type {Backend} */
  #backend;
  /** @type {Map<string, TopicState>} */
  #topics = new Map();
  /** The nonce the next new topic state takes; starts at a random point per instance. */
  #nextNonce;
  /** This instance's id in the claims it writes (a u64). */
  #owner;
  /** How long a claim keeps other instances off a message, in milliseconds. */
  #ackDeadline;
  /** @type {() => number} wall-clock milliseconds since the Unix epoch */
  #clock;
  /** Whether other processes may open the bucket (`bucket.shared`). */
  #shared;

  /**
   * @param {Backend} backend
   * @param {{ nonceSeed?: bigint, owner?: bigint, ackDeadline?: number, clock?: () => number, shared?: boolean }} [options]
   *   `nonceSeed` fixes the first nonce (tests); by default it is random, so each instance
   *   issues its own ids. `owner` (random by default) identifies this instance in claims;
   *   a re-init passes the previous broker's, so its claims from before count as its own.
   *   `ackDeadline` in milliseconds (default `DEFAULT_ACK_DEADLINE_MS`); `clock` (default
   *   `Date.now`, the host's `wasi:clocks` wall clock inside the component) for the tests.
   *   `shared` (default true): whether other processes may open the bucket; in an unshared
   *   one (the host's own durable or memory store) a claim not this instance's was left by
   *   an instance that is gone, so it is void at once.
   */
  constructor(
    backend,
    {
      nonceSeed = randomU64(),
      owner = randomU64(),
      ackDeadline = DEFAULT_ACK_DEADLINE_MS,
      clock = () => Date.now(),
      shared = true,
    } = {},
  ) {
    this.#backend = backend;
    this.#nextNonce = nonceSeed;
    this.#owner = owner;
    this.#ackDeadline = ackDeadline;
    this.#clock = clock;
    this.#shared = shared;
  }

  /** This instance's id in its claims. */
  get owner() {
    return this.#owner;
  }

  /**
   * `subscribe`: every message of `topic` this instance has in flight becomes deliverable
   * again (its claim is released).
   *
   * Releasing is best effort: a claim whose release fails stays until its deadline for other
   * instances, while this one may deliver it again at once (it is its own claim).
   *
   * @param {string} topic
   */
  subscribe(topic) {
    const keys = new TopicKeys(checkTopic(topic));
    const state = this.#topics.get(topic);
    if (state) {
      const released = state.inFlight;
      state.inFlight = new Map();
      releaseClaims(this.#backend, keys, released);
      if (state.isEmpty) this.#topics.delete(topic);
    }
  }

  /**
   * `fetch`: up to `max` deliverable messages of `topic`, oldest first, now claimed by this
   * instance and in flight.
   *
   * @param {string} topic
   * @param {number} max
   * @returns {Delivery[]}
   */
  fetch(topic, max) {
    const keys = new TopicKeys(checkTopic(topic));
    const state = this.#stateOf(topic);
    const now = BigInt(Math.max(0, Math.floor(this.#clock())));
    const expires = now + BigInt(this.#ackDeadline);
    try {
      // Other instances' claims hold until their expiry, or (unshared bucket) never.
      const othersUntil = this.#shared ? now : UNSHARED_UNTIL;
      let claimed = [];
      for (let round = 0; round < MAX_FETCH_ROUNDS; round += 1) {
        const found = scan(this.#backend, topic, keys, this.#owner, othersUntil, state, max);
        if (found.length === 0) break;
        claimed = claim(this.#backend, keys, this.#owner, expires, found);
        if (claimed.length > 0) break;
        // Another instance claimed every one first (replicas polling together): they are
        // claimed now, so a new scan skips them and looks further on.
      }
      return claimed.map(([{ seq, record, attempt }, claimVersion]) => {
        state.attempts.set(seq, attempt);
        state.inFlight.set(seq, { attempt, claimVersion });
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
   * If the delivery's claim expired and another instance claimed the message since, an ack
   * removes nothing (the other instance owns it now) and fails saying so; a nack then just
   * forgets the delivery.
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
    const held = state.inFlight.get(parsed.seq);
    if (held === undefined) throw notInFlight();
    if (held.attempt !== parsed.attempt) {
      throw invalidArgument(
        `delivery ${quote(id)} of topic ${quote(topic)} was superseded by a later delivery ` +
          'of the same message',
      );
    }
    // On a store failure the message stays in flight, so the ack can be retried.
    let ours;
    if (error === undefined) {
      ours = removeMessage(this.#backend, keys, parsed.seq, held.claimVersion, state.inFlight);
      if (ours) state.attempts.delete(parsed.seq);
    } else {
      ours = releaseClaim(this.#backend, keys, parsed.seq, held.claimVersion);
    }
    state.inFlight.delete(parsed.seq);
    if (state.isEmpty) this.#topics.delete(topic);
    if (!ours && error === undefined) {
      throw other(
        `delivery ${quote(id)} of topic ${quote(topic)} expired (ack deadline ` +
          `${formatDuration(this.#ackDeadline)}) and was claimed by another subscriber; the ` +
          'message was not removed and is delivered again',
      );
    }
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
 * Whether `key` is set (`backend.exists` if it has one), a host failure as a `DaprError`.
 *
 * @param {Backend} backend
 * @param {string} key
 * @returns {boolean}
 */
function exists(backend, key) {
  if (!backend.exists) return read(backend, key) !== undefined;
  try {
    return backend.exists(key);
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
 * @param {(versions: bigint[]) => void} [onVersions] given the new versions on success
 * @returns {number | undefined} undefined on success, else the index of the write whose
 *   precondition failed (nothing was written)
 * @throws {DaprError} on a store error
 */
function tryCommit(backend, writes, what, onVersions) {
  let versions;
  try {
    versions = backend.commit(writes);
  } catch (err) {
    const payload = /** @type {{ tag?: string, val?: unknown }} */ (witPayload(err) ?? {});
    if (payload.tag === 'conflict') return Number(payload.val);
    const cause = payload.tag === 'store' ? describeKvError(payload.val) : describeKvError(payload);
    throw other(`host bucket commit (${what}) failed: ${cause}`);
  }
  onVersions?.(Array.from(versions ?? [], (v) => BigInt(v)));
  return undefined;
}

/**
 * Commit `writes`, keeping the new versions.
 *
 * @param {Backend} backend
 * @param {Write[]} writes
 * @param {string} what the operation, for errors
 * @returns {bigint[] | number} the new version of each write, or the index of the write
 *   whose precondition failed (nothing was written)
 * @throws {DaprError} on a store error
 */
function commitVersions(backend, writes, what) {
  /** @type {bigint[]} */
  let versions = [];
  const conflict = tryCommit(backend, writes, what, (v) => {
    versions = v;
  });
  return conflict === undefined ? versions : conflict;
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
 * A message `fetch` found deliverable, not yet claimed.
 *
 * @typedef {object} Candidate
 * @property {bigint} seq
 * @property {import('./record.js').Record} record
 * @property {Precondition} precondition that the claim key is still as it was read
 * @property {bigint} attempt the attempt number the delivery will have
 */

/**
 * Collect up to `max` deliverable messages of a topic, oldest first, and move `head` past
 * any deleted prefix on the way. Deliverable: not in flight here, and no claim of another
 * instance that is still valid at `now`.
 *
 * @param {Backend} backend
 * @param {string} topic
 * @param {TopicKeys} keys
 * @param {bigint} owner this instance's id in claims
 * @param {bigint} othersUntil claims of other instances expiring after this (wall-clock
 *   milliseconds) hold
 * @param {TopicState} state
 * @param {number} max
 * @returns {Candidate[]}
 */
function scan(backend, topic, keys, owner, othersUntil, state, max) {
  const budget = Math.min(max, MAX_FETCH, MAX_IN_FLIGHT - state.inFlight.size);
  if (!(budget > 0)) return [];
  const [head, tail] = readBounds(backend, keys);
  /** @type {Candidate[]} */
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
    reads += 1;
    const stored = read(backend, keys.claim(seq));
    /** @type {Precondition} */
    let precondition = { tag: 'absent' };
    let claimedAttempt = 0n;
    if (stored) {
      const claim = decodeClaim(stored.value);
      // Another instance has it in flight.
      if (claim && claim.owner !== owner && claim.expires > othersUntil) continue;
      // Expired, ours but not in flight here (a release that failed), or undecodable
      // (overwritten rather than blocking the message for ever).
      precondition = { tag: 'version', val: stored.version };
      claimedAttempt = claim?.attempt ?? 0n;
    }
    // Still there AFTER the claim was read? An ack deletes message and claim in one commit,
    // so if it is, any ack since has changed the claim and the conditional claim commit
    // fails. Without this check an ack between the two reads above would leave a stale
    // message and an absent claim: delivered again after it was acked.
    reads += 1;
    if (!exists(backend, keys.message(seq))) continue;
    let record;
    try {
      record = decodeRecord(entry.value);
    } catch (err) {
      throw other(`stored message ${seq} of topic ${quote(topic)} is corrupt: ${messageOf(err)}`);
    }
    const local = state.attempts.get(seq) ?? 0n;
    const attempt = (local > claimedAttempt ? local : claimedAttempt) + 1n;
    found.push({ seq, record, precondition, attempt });
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
 * Claim `candidates` for this instance until `expires`, in one commit; a candidate whose
 * claim key changed since it was read (another instance claimed it first) is dropped and the
 * rest committed again.
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @param {bigint} owner
 * @param {bigint} expires
 * @param {Candidate[]} candidates
 * @returns {Array<[Candidate, bigint]>} the claimed ones with their claim versions
 */
function claim(backend, keys, owner, expires, candidates) {
  let left = candidates;
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS && left.length > 0; attempt += 1) {
    /** @type {Write[]} */
    const writes = left.map((c) => ({
      key: keys.claim(c.seq),
      precondition: c.precondition,
      value: encodeClaim({ owner, attempt: c.attempt, expires }),
    }));
    const result = commitVersions(backend, writes, 'fetch');
    if (Array.isArray(result)) {
      return left.map((c, i) => /** @type {[Candidate, bigint]} */ ([c, BigInt(result[i] ?? 0n)]));
    }
    if (!(result >= 0 && result < left.length)) {
      throw other(`fetch: the host reported a conflict at write ${result} of ${left.length}`);
    }
    left = left.filter((_, i) => i !== result);
  }
  // Every attempt lost a race: other instances are taking these; deliver none now.
  return [];
}

/**
 * The write deleting the claim of message `seq` if it is still the one at `version`.
 *
 * @param {TopicKeys} keys
 * @param {bigint} seq
 * @param {bigint} version
 * @returns {Write}
 */
function deleteClaim(keys, seq, version) {
  return { key: keys.claim(seq), precondition: { tag: 'version', val: version }, value: undefined };
}

/**
 * A nack: delete this delivery's claim of `seq`, so any instance may fetch it next.
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @param {bigint} seq
 * @param {bigint} version
 * @returns {boolean} whether the claim was still ours (else nothing was written)
 */
function releaseClaim(backend, keys, seq, version) {
  return tryCommit(backend, [deleteClaim(keys, seq, version)], 'nack') === undefined;
}

/**
 * `subscribe`: delete the claims of `released` that are still this instance's, a chunk per
 * commit; best effort (a chunk that fails at the store is left to expire).
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @param {Map<bigint, { attempt: bigint, claimVersion: bigint }>} released
 */
function releaseClaims(backend, keys, released) {
  const all = [...released].map(([seq, held]) => deleteClaim(keys, seq, held.claimVersion));
  for (let start = 0; start < all.length; start += MAX_RELEASE_CHUNK) {
    let writes = all.slice(start, start + MAX_RELEASE_CHUNK);
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS && writes.length > 0; attempt += 1) {
      let conflict;
      try {
        conflict = tryCommit(backend, writes, 'subscribe');
      } catch (err) {
        if (!(err instanceof DaprError)) throw err;
        break;
      }
      // Taken over by another instance: not ours to release.
      if (conflict === undefined || !(conflict >= 0 && conflict < writes.length)) break;
      writes = writes.filter((_, i) => i !== conflict);
    }
  }
}

/**
 * Delete message `seq` and this instance's claim of it (at `claimVersion`) durably and, in
 * the same commit, move `head` past the deleted messages it now leads (stopping at anything
 * in flight, which still exists). Nothing is deleted if the claim is no longer this
 * instance's.
 *
 * @param {Backend} backend
 * @param {TopicKeys} keys
 * @param {bigint} seq
 * @param {bigint} claimVersion
 * @param {Map<bigint, unknown>} inFlight
 * @returns {boolean} whether the claim was still ours (else nothing was written)
 */
function removeMessage(backend, keys, seq, claimVersion, inFlight) {
  // The claim comes first, so that a taken-over claim is `conflict(0)`.
  /** @type {Write[]} */
  const deletes = [
    deleteClaim(keys, seq, claimVersion),
    { key: keys.message(seq), precondition: { tag: 'any' }, value: undefined },
  ];
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
    const writes = [...deletes];
    if (newHead > head.value) {
      writes.push({ key: keys.head, precondition: head.unchanged(), value: encodeCounter(newHead) });
    }
    const conflict = tryCommit(backend, writes, 'ack');
    if (conflict === undefined) return true;
    if (conflict === 0) return false;
    // Otherwise only the head write has a precondition: someone moved it; look again.
  }
  // Head kept moving under us: delete alone; a later scan moves head.
  const conflict = tryCommit(backend, deletes, 'ack');
  if (conflict === 0) return false;
  if (conflict !== undefined) throw other('ack: deleting the message conflicted unexpectedly');
  return true;
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
