/**
 * UTF-8 helpers shared by the components (TextEncoder/TextDecoder exist in StarlingMonkey and
 * Node alike).
 *
 * @module
 */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** @param {string} s @returns {Uint8Array} */
export const utf8 = (s) => encoder.encode(s);

/**
 * Decode UTF-8, refusing malformed input.
 *
 * @param {Uint8Array} bytes
 * @returns {string | undefined} undefined if `bytes` is not valid UTF-8
 */
export function decodeUtf8(bytes) {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The length of `s` in UTF-8 bytes, without encoding it.
 *
 * @param {string} s
 * @returns {number}
 */
export function utf8Length(s) {
  let len = 0;
  for (const ch of s) {
    const cp = /** @type {number} */ (ch.codePointAt(0));
    len += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return len;
}

/**
 * Order strings by code point, which is the byte order of their UTF-8 forms (the order Rust
 * and the host use); `<` on JS strings compares UTF-16 code units instead.
 *
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareCodePoints(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const cx = /** @type {number} */ (x.value.codePointAt(0));
    const cy = /** @type {number} */ (y.value.codePointAt(0));
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}
