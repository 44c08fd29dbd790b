/**
 * The binary record stored under each message key in the host bucket; the same format 1 as
 * the Rust guest `pubsub-kv`, so either component can read the other's queues.
 *
 * Layout, all integers little-endian `u32` unless noted:
 *
 * | bytes            | field                                                     |
 * |------------------|-----------------------------------------------------------|
 * | 1                | format, always `FORMAT_V1`                                |
 * | 1                | flags: `FLAG_CONTENT_TYPE`; other bits zero               |
 * | 4 + n (if flag)  | content type: length `n` then `n` bytes of UTF-8          |
 * | 4                | number of metadata pairs `c`                              |
 * | c × (4+k + 4+v)  | each pair: key length, key (UTF-8), value length, value   |
 * | rest             | the message data, verbatim                                |
 *
 * Decoding never reads out of bounds: anything that does not follow the layout is a
 * `RecordError`.
 *
 * @module
 */

import { decodeUtf8, utf8 } from '../lib/utf8.js';

/** The only record format written by this version of the component. */
export const FORMAT_V1 = 1;
/** Flag bit: a length-prefixed content type follows the header. */
export const FLAG_CONTENT_TYPE = 0b0000_0001;
const KNOWN_FLAGS = FLAG_CONTENT_TYPE;
const U32_MAX = 0xffff_ffff;

/**
 * One published message as stored.
 *
 * @typedef {object} Record
 * @property {string | undefined} contentType the content type given at publish time
 * @property {Array<[string, string]>} metadata the metadata given at publish time, in order
 * @property {Uint8Array} data the message payload
 */

/** Why a record could not be decoded (or encoded). */
export class RecordError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'RecordError';
  }
}

/**
 * Serialise `record`.
 *
 * @param {Record} record
 * @param {number} [maxLength] refuse (before allocating) records longer than this
 * @returns {Uint8Array}
 * @throws {RecordError} if the record is longer than `maxLength`, or a string or the pair
 *   count does not fit its `u32` length prefix
 */
export function encodeRecord(record, maxLength = Number.MAX_SAFE_INTEGER) {
  const contentType = record.contentType === undefined ? undefined : utf8(record.contentType);
  const pairs = record.metadata.map(([k, v]) => [utf8(k), utf8(v)]);
  let length = 2 + 4 + record.data.length;
  if (contentType) length += 4 + checkedLength(contentType, 'content type');
  checkedLength(pairs, 'metadata');
  for (const [k, v] of pairs) {
    length += 8 + checkedLength(k, 'metadata key') + checkedLength(v, 'metadata value');
  }
  if (length > maxLength) {
    throw new RecordError(`the record is ${length} bytes; the limit is ${maxLength}`);
  }
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let pos = 0;
  const putU32 = (/** @type {number} */ n) => {
    view.setUint32(pos, n, true);
    pos += 4;
  };
  const putBytes = (/** @type {Uint8Array} */ bytes) => {
    putU32(bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  };
  out[pos++] = FORMAT_V1;
  out[pos++] = contentType ? FLAG_CONTENT_TYPE : 0;
  if (contentType) putBytes(contentType);
  putU32(pairs.length);
  for (const [k, v] of pairs) {
    putBytes(k);
    putBytes(v);
  }
  out.set(record.data, pos);
  return out;
}

/**
 * @param {{ length: number }} item
 * @param {string} field
 * @returns {number}
 */
function checkedLength(item, field) {
  if (item.length > U32_MAX) throw new RecordError(`${field} is too long`);
  return item.length;
}

/**
 * Parse a stored record. `data` is a view into `bytes` (no copy).
 *
 * @param {Uint8Array} bytes
 * @returns {Record}
 * @throws {RecordError}
 */
export function decodeRecord(bytes) {
  const reader = new Reader(bytes);
  if (reader.remaining === 0) throw new RecordError('record is empty');
  const format = reader.u8('format');
  if (format !== FORMAT_V1) throw new RecordError(`unknown record format ${format}`);
  const flags = reader.u8('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new RecordError(`unknown record flags 0b${flags.toString(2).padStart(8, '0')}`);
  }
  const contentType = flags & FLAG_CONTENT_TYPE ? reader.string('content type') : undefined;
  const count = reader.u32('metadata count');
  // Every pair takes at least 8 bytes, so a count the remaining bytes cannot hold is
  // corrupt; checking it first also bounds the work below.
  if (count > Math.floor(reader.remaining / 8)) {
    throw new RecordError('record is truncated in the metadata');
  }
  /** @type {Array<[string, string]>} */
  const metadata = [];
  for (let i = 0; i < count; i += 1) {
    const key = reader.string('metadata key');
    const value = reader.string('metadata value');
    metadata.push([key, value]);
  }
  return { contentType, metadata, data: reader.rest() };
}

/** A bounds-checked cursor over a byte array. */
class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  get remaining() {
    return this.bytes.length - this.pos;
  }

  /** @param {number} n @param {string} field */
  #need(n, field) {
    if (n > this.remaining) throw new RecordError(`record is truncated in the ${field}`);
  }

  /** @param {string} field */
  u8(field) {
    this.#need(1, field);
    return this.view.getUint8(this.pos++);
  }

  /** @param {string} field */
  u32(field) {
    this.#need(4, field);
    const n = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return n;
  }

  /** @param {string} field */
  string(field) {
    const len = this.u32(field);
    this.#need(len, field);
    const s = decodeUtf8(this.bytes.subarray(this.pos, this.pos + len));
    if (s === undefined) throw new RecordError(`stored ${field} is not UTF-8`);
    this.pos += len;
    return s;
  }

  rest() {
    const rest = this.bytes.subarray(this.pos);
    this.pos = this.bytes.length;
    return rest;
  }
}
