/**
 * File names: validation of the names a caller supplies, and generation of fresh ones.
 *
 * The binding's namespace is flat: a name is a single path component directly inside the
 * root directory, so nothing a caller passes can address a file elsewhere.
 *
 * @module
 */

import { invalidArgument } from '../lib/errors.js';
import { utf8Length } from '../lib/utf8.js';

/** The longest name accepted, in UTF-8 bytes (`NAME_MAX` on common file systems). */
export const MAX_NAME_LEN = 255;

/**
 * Check that `name` is a plain file name: non-empty, at most `MAX_NAME_LEN` bytes, not `.`
 * or `..`, and free of `/` (so not absolute and without directory components), `\` and NUL.
 *
 * @param {string} name
 * @throws {import('../lib/errors.js').DaprError} `invalid-argument` naming the file
 */
export function validateName(name) {
  const reason =
    name === '' ? 'must not be empty'
    : name === '.' || name === '..' ? 'must not be "." or ".."'
    : name.includes('/') ? "must not contain '/' (names are flat: no directories, no absolute paths)"
    : name.includes('\\') ? "must not contain '\\'"
    : name.includes('\0') ? 'must not contain NUL'
    : utf8Length(name) > MAX_NAME_LEN ? 'is too long'
    : undefined;
  if (reason !== undefined) {
    throw invalidArgument(`invalid fileName ${JSON.stringify(name)}: ${reason}`);
  }
}

/**
 * A fresh random file name: 32 lowercase hex digits (128 bits from the platform's CSPRNG,
 * `wasi:random` inside the component).
 *
 * @returns {string}
 */
export function generateName() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
