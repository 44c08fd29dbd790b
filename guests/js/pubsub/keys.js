/**
 * Where a topic's queue lives in the host bucket, how its counters are encoded, and the
 * shape of delivery ids (the same layout as the Rust guest `pubsub-kv`).
 *
 * Keys, with `<t>` the topic's UTF-8 bytes in lowercase hex (so any topic name, including
 * ones with `/`, `-` or non-ASCII characters, maps to a distinct key made of `[0-9a-f]`):
 *
 * | key                    | value                                                        |
 * |------------------------|--------------------------------------------------------------|
 * | `t/<t>`                | tail: the next sequence number to assign (`u64` LE, 8 bytes) |
 * | `h/<t>`                | head: the lowest sequence that may still hold a message      |
 * | `m/<t>/<seq:020>`      | the message with that sequence, a record (see record.js)     |
 * | `c/<t>/<seq:020>`      | the claim of that message while it is in flight (below)      |
 *
 * A missing counter is 0. Invariant: `head <= tail`, no message exists below `head` or at or
 * above `tail`. Sequence numbers are `bigint`s: they are `u64`s.
 *
 * A claim (a lease) says which component instance delivered the message and until when the
 * others must leave it alone; it is what lets several instances (replicas in several
 * processes over one shared bucket) share a subscription. Layout, integers `u64`
 * little-endian:
 *
 * | bytes | field                                                                    |
 * |-------|--------------------------------------------------------------------------|
 * | 1     | format, always `CLAIM_FORMAT_V1` (1)                                     |
 * | 8     | owner: a random id of the claiming instance                              |
 * | 8     | attempt: which delivery of the message this is, from 1                   |
 * | 8     | expires: wall-clock milliseconds since the Unix epoch (the ack deadline) |
 *
 * No claim, an expired claim or an undecodable one: the message is deliverable. An ack
 * deletes the message and its claim in one commit; a nack or a new `subscribe` deletes the
 * claim.
 *
 * @module
 */

/** Longest topic name accepted, in UTF-8 bytes (its hex form must fit the host key limit). */
export const MAX_TOPIC_LEN = 1024;
/** Longest delivery id accepted by `ack`; real ones are at most 16 + 1 + 20 + 1 + 20. */
export const MAX_ID_LEN = 64;
/** The largest `u64`. */
export const U64_MAX = (1n << 64n) - 1n;

/** The bucket keys of one topic. */
export class TopicKeys {
  /** @param {Uint8Array} topicBytes the topic's UTF-8 bytes */
  constructor(topicBytes) {
    let hex = '';
    for (const byte of topicBytes) hex += byte.toString(16).padStart(2, '0');
    /** The key holding the tail counter. */
    this.tail = `t/${hex}`;
    /** The key holding the head counter. */
    this.head = `h/${hex}`;
    this.messagePrefix = `m/${hex}/`;
    this.claimPrefix = `c/${hex}/`;
  }

  /**
   * The key of message `seq`; zero-padded so keys sort in sequence order.
   *
   * @param {bigint} seq
   */
  message(seq) {
    return this.messagePrefix + seq.toString().padStart(20, '0');
  }

  /**
   * The key of the claim of message `seq`.
   *
   * @param {bigint} seq
   */
  claim(seq) {
    return this.claimPrefix + seq.toString().padStart(20, '0');
  }
}

/** The format byte of a claim record. */
export const CLAIM_FORMAT_V1 = 1;
/** Length of an encoded claim. */
export const CLAIM_LEN = 25;

/**
 * The claim of a message in flight (layout in the module docs).
 *
 * @typedef {object} Claim
 * @property {bigint} owner a u64 identifying the instance that delivered it
 * @property {bigint} attempt which delivery of the message this is, from 1
 * @property {bigint} expires when the claim lapses: wall-clock ms since the Unix epoch
 */

/**
 * @param {Claim} claim
 * @returns {Uint8Array}
 */
export function encodeClaim({ owner, attempt, expires }) {
  const out = new Uint8Array(CLAIM_LEN);
  const view = new DataView(out.buffer);
  out[0] = CLAIM_FORMAT_V1;
  view.setBigUint64(1, owner, true);
  view.setBigUint64(9, attempt, true);
  view.setBigUint64(17, expires, true);
  return out;
}

/**
 * @param {Uint8Array} bytes
 * @returns {Claim | undefined} undefined unless exactly what `encodeClaim` produces
 */
export function decodeClaim(bytes) {
  if (bytes.length !== CLAIM_LEN || bytes[0] !== CLAIM_FORMAT_V1) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, CLAIM_LEN);
  return {
    owner: view.getBigUint64(1, true),
    attempt: view.getBigUint64(9, true),
    expires: view.getBigUint64(17, true),
  };
}

/**
 * Encode a counter value.
 *
 * @param {bigint} value a u64
 * @returns {Uint8Array}
 */
export function encodeCounter(value) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

/**
 * Decode a counter value.
 *
 * @param {Uint8Array} bytes
 * @returns {bigint | undefined} undefined unless exactly 8 bytes
 */
export function decodeCounter(bytes) {
  if (bytes.length !== 8) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}

/**
 * A delivery id: `<nonce as 16 lowercase hex digits>-<seq>-<attempt>`, both numbers in
 * canonical decimal. The nonce identifies the (component instance, topic) that issued the id,
 * so ids of another instance, of a previous run or of another topic are recognisably foreign.
 *
 * @typedef {object} DeliveryId
 * @property {bigint} nonce a u64
 * @property {bigint} seq the message's sequence number
 * @property {bigint} attempt which delivery of that message this is, from 1
 */

/**
 * @param {DeliveryId} id
 * @returns {string}
 */
export function formatDeliveryId({ nonce, seq, attempt }) {
  return `${nonce.toString(16).padStart(16, '0')}-${seq}-${attempt}`;
}

const ID_PATTERN = /^([0-9a-f]{16})-(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/;

/**
 * Parse an id.
 *
 * @param {string} id
 * @returns {DeliveryId | undefined} undefined unless `id` is exactly what
 *   `formatDeliveryId` produces (no signs, leading zeros, upper-case hex, ...)
 */
export function parseDeliveryId(id) {
  if (id.length > MAX_ID_LEN) return undefined;
  const match = ID_PATTERN.exec(id);
  if (!match) return undefined;
  const [nonce, seq, attempt] = [BigInt(`0x${match[1]}`), BigInt(match[2]), BigInt(match[3])];
  if (seq > U64_MAX || attempt > U64_MAX) return undefined;
  return { nonce, seq, attempt };
}
