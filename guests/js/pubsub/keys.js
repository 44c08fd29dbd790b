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
 *
 * A missing counter is 0. Invariant: `head <= tail`, no message exists below `head` or at or
 * above `tail`. Sequence numbers are `bigint`s: they are `u64`s.
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
  }

  /**
   * The key of message `seq`; zero-padded so keys sort in sequence order.
   *
   * @param {bigint} seq
   */
  message(seq) {
    return this.messagePrefix + seq.toString().padStart(20, '0');
  }
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
