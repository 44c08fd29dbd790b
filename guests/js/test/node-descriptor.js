/**
 * A stand-in for `wasi:filesystem` descriptors over `node:fs`, shaped like the
 * componentize-js bindings (errors thrown with the `error-code` string as `payload`), so
 * storage.js can be tested against a real directory.
 *
 * @module
 */

import * as fs from 'node:fs';
import { join } from 'node:path';

import { WitError } from './fake-bucket.js';

const CODES = {
  ENOENT: 'no-entry',
  EEXIST: 'exist',
  ENOTDIR: 'not-directory',
  EISDIR: 'is-directory',
  ELOOP: 'loop',
  EACCES: 'access',
  EPERM: 'not-permitted',
  ENOTEMPTY: 'not-empty',
};

/** @template T @param {() => T} fn @returns {T} */
function wasi(fn) {
  try {
    return fn();
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    throw new WitError(CODES[/** @type {keyof typeof CODES} */ (code)] ?? 'io');
  }
}

/** @param {fs.Stats} stats */
function typeOf(stats) {
  if (stats.isSymbolicLink()) return 'symbolic-link';
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'regular-file';
  if (stats.isFIFO()) return 'fifo';
  return 'unknown';
}

export class NodeDir {
  /** @param {string} path */
  constructor(path) {
    this.path = path;
    this.disposed = false;
  }

  /** @param {string} p */
  #resolve(p) {
    if (p.startsWith('/') || p.split('/').includes('..')) throw new WitError('not-permitted');
    return join(this.path, p);
  }

  /**
   * @param {{ symlinkFollow?: boolean }} pathFlags
   * @param {string} p
   * @param {{ create?: boolean, directory?: boolean, exclusive?: boolean, truncate?: boolean }} openFlags
   * @param {{ read?: boolean, write?: boolean }} flags
   */
  openAt(pathFlags, p, openFlags, flags) {
    const path = this.#resolve(p);
    return wasi(() => {
      if (openFlags.directory) {
        const stats = pathFlags.symlinkFollow ? fs.statSync(path) : fs.lstatSync(path);
        if (!stats.isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
        return new NodeDir(path);
      }
      let mode = fs.constants.O_RDONLY;
      if (flags.write) mode = fs.constants.O_WRONLY;
      if (openFlags.create) mode |= fs.constants.O_CREAT;
      if (openFlags.exclusive) mode |= fs.constants.O_EXCL;
      if (openFlags.truncate) mode |= fs.constants.O_TRUNC;
      if (!pathFlags.symlinkFollow) mode |= fs.constants.O_NOFOLLOW;
      return new NodeFile(fs.openSync(path, mode));
    });
  }

  /** @param {{ symlinkFollow?: boolean }} pathFlags @param {string} p */
  statAt(pathFlags, p) {
    const path = this.#resolve(p);
    return wasi(() => ({ type: typeOf(pathFlags.symlinkFollow ? fs.statSync(path) : fs.lstatSync(path)) }));
  }

  stat() {
    return wasi(() => ({ type: typeOf(fs.statSync(this.path)) }));
  }

  readDirectory() {
    const entries = wasi(() => fs.readdirSync(this.path, { withFileTypes: true }));
    let i = 0;
    return {
      readDirectoryEntry: () => {
        const entry = entries[i++];
        return entry && { name: entry.name, type: entry.isSymbolicLink() ? 'symbolic-link' : entry.isDirectory() ? 'directory' : entry.isFile() ? 'regular-file' : 'unknown' };
      },
    };
  }

  /** @param {string} p */
  unlinkFileAt(p) {
    const path = this.#resolve(p);
    wasi(() => fs.unlinkSync(path));
  }

  [Symbol.dispose]() {
    this.disposed = true;
  }
}

export class NodeFile {
  /** @param {number} fd */
  constructor(fd) {
    this.fd = fd;
  }

  /** @param {bigint} length @param {bigint} offset @returns {[Uint8Array, boolean]} */
  read(length, offset) {
    // Small reads, to exercise the read loop.
    const buf = new Uint8Array(Math.min(Number(length), 7));
    const n = wasi(() => fs.readSync(this.fd, buf, 0, buf.length, Number(offset)));
    return [buf.subarray(0, n), n === 0];
  }

  /** @param {Uint8Array} buffer @param {bigint} offset */
  write(buffer, offset) {
    // Short writes, to exercise the write loop.
    const len = Math.min(buffer.length, 5);
    return BigInt(wasi(() => fs.writeSync(this.fd, buffer, 0, len, Number(offset))));
  }

  [Symbol.dispose]() {
    fs.closeSync(this.fd);
  }
}
