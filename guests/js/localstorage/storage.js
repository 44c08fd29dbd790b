/**
 * Files directly inside the root directory, through `wasi:filesystem` descriptors (the
 * componentize-js engine has no `node:fs`; the component imports `wasi:filesystem` itself).
 *
 * The root is `rootPath` resolved against the directories the host preopens for the
 * component (its `grants.dirs`): the longest preopen whose guest path contains it. Every
 * operation takes a caller-supplied name, validates it with `validateName` (so the path is
 * always `<root>/<one component>`), and refuses to act on a symlink or a directory: the name
 * is inspected with `stat-at` without following links, and files are opened without following
 * links either. The host's WASI sandbox, which confines the component to the granted
 * directory, is the real boundary; these checks give clean errors.
 *
 * @module
 */

import { invalidArgument, notFound, other, witPayload } from '../lib/errors.js';
import { compareCodePoints } from '../lib/utf8.js';
import { generateName, validateName } from './names.js';

/** How many fresh names `create` tries before giving up. */
const GENERATE_ATTEMPTS = 4;
/** Bytes asked for per `read` call. */
const READ_CHUNK = 64 * 1024;
const NO_FOLLOW = Object.freeze({});
const dispose = Symbol.dispose ?? Symbol.for('dispose');

// The subset of `wasi:filesystem/types` used here, as componentize-js presents it: flags as
// objects of booleans, enums as strings, `filesize` as bigint, errors thrown with an
// `error-code` string as `payload`.

/**
 * @typedef {'unknown' | 'block-device' | 'character-device' | 'directory' | 'fifo'
 *   | 'symbolic-link' | 'regular-file' | 'socket'} DescriptorType
 */

/**
 * @typedef {object} Descriptor
 * @property {(pathFlags: { symlinkFollow?: boolean }, path: string,
 *   openFlags: { create?: boolean, directory?: boolean, exclusive?: boolean, truncate?: boolean },
 *   flags: { read?: boolean, write?: boolean }) => Descriptor} openAt
 * @property {(pathFlags: { symlinkFollow?: boolean }, path: string) => { type: DescriptorType }} statAt
 * @property {() => { type: DescriptorType }} stat
 * @property {(length: bigint, offset: bigint) => [Uint8Array, boolean]} read
 * @property {(buffer: Uint8Array, offset: bigint) => bigint} write
 * @property {() => { readDirectoryEntry(): { type: DescriptorType, name: string } | undefined }} readDirectory
 * @property {(path: string) => void} unlinkFileAt
 */

/**
 * The `wasi:filesystem` error code thrown by `fn`'s descriptor call, or rethrow.
 *
 * @template T
 * @param {() => T} fn
 * @returns {{ ok: T } | { code: string }}
 */
function attempt(fn) {
  try {
    return { ok: fn() };
  } catch (err) {
    return { code: String(witPayload(err)) };
  }
}

/**
 * Run `fn` with `resource`, then release its host handle.
 *
 * @template {object} R
 * @template T
 * @param {R} resource
 * @param {(resource: R) => T} fn
 * @returns {T}
 */
function using(resource, fn) {
  try {
    return fn(resource);
  } finally {
    /** @type {any} */ (resource)[dispose]?.();
  }
}

/** @param {string} name */
const fileNotFound = (name) => notFound(`file ${JSON.stringify(name)} not found`);

/**
 * @param {string} action
 * @param {string} name
 * @param {string} code
 */
function ioError(action, name, code) {
  if (code === 'no-entry') return fileNotFound(name);
  return other(`cannot ${action} file ${JSON.stringify(name)}: ${code}`);
}

/**
 * Split an absolute guest path into its components, dropping empty ones and `.`.
 *
 * @param {string} path
 * @returns {string[] | undefined} undefined for a relative path or one with `..`
 */
function components(path) {
  if (!path.startsWith('/')) return undefined;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? undefined : parts;
}

/** The binding's root directory. */
export class WasiStorage {
  /**
   * Open `rootPath`, which must be an existing directory inside a preopen.
   *
   * @param {string} rootPath an absolute guest path, e.g. `/data`
   * @param {Array<[Descriptor, string]>} preopens `wasi:filesystem/preopens.get-directories()`
   * @returns {WasiStorage}
   */
  static open(rootPath, preopens) {
    if (rootPath === '') throw invalidArgument('metadata rootPath must not be empty');
    const wanted = components(rootPath);
    if (!wanted) {
      throw invalidArgument(
        `metadata rootPath ${JSON.stringify(rootPath)} must be an absolute path without ".."`,
      );
    }
    /** @type {{ dir: Descriptor, depth: number } | undefined} */
    let best;
    for (const [dir, guestPath] of preopens) {
      const prefix = components(guestPath.startsWith('/') ? guestPath : `/${guestPath}`) ?? [];
      const inside = prefix.length <= wanted.length && prefix.every((p, i) => p === wanted[i]);
      if (inside && (!best || prefix.length > best.depth)) best = { dir, depth: prefix.length };
    }
    if (!best) {
      throw other(
        `rootPath ${JSON.stringify(rootPath)} is not inside a directory granted to this ` +
          'component (grants.dirs)',
      );
    }
    const storage = new WasiStorage(rootPath, best.dir, wanted.slice(best.depth).join('/'));
    storage.checkRoot();
    return storage;
  }

  /**
   * @param {string} rootPath for messages
   * @param {Descriptor} preopen
   * @param {string} relative the root's path inside `preopen` ('' for the preopen itself)
   */
  constructor(rootPath, preopen, relative) {
    this.rootPath = rootPath;
    this.preopen = preopen;
    this.relative = relative;
  }

  /**
   * Run `fn` with the root directory, opened afresh (so a re-created root is seen, as with
   * path-based file access).
   *
   * @template T
   * @param {(root: Descriptor) => T} fn
   * @returns {T}
   */
  #withRoot(fn) {
    if (this.relative === '') return fn(this.preopen);
    const opened = attempt(() =>
      this.preopen.openAt({ symlinkFollow: true }, this.relative, { directory: true }, { read: true }),
    );
    if ('code' in opened) {
      const why = opened.code === 'not-directory' ? 'is not a directory' : `is not an existing directory: ${opened.code}`;
      throw other(`rootPath ${JSON.stringify(this.rootPath)} ${why}`);
    }
    return using(opened.ok, fn);
  }

  /** Fail unless the root is (still) an existing directory. */
  checkRoot() {
    this.#withRoot((root) => {
      const stat = attempt(() => root.stat());
      if ('code' in stat || stat.ok.type !== 'directory') {
        throw other(`rootPath ${JSON.stringify(this.rootPath)} is not a directory`);
      }
    });
  }

  /**
   * What `name` currently is in `root`: `true` for a regular file, `false` for nothing;
   * symlinks and other non-files are `invalid-argument`.
   *
   * @param {Descriptor} root
   * @param {string} name
   * @returns {boolean}
   */
  static #isFile(root, name) {
    const stat = attempt(() => root.statAt(NO_FOLLOW, name));
    if ('code' in stat) {
      if (stat.code === 'no-entry') return false;
      throw ioError('inspect', name, stat.code);
    }
    switch (stat.ok.type) {
      case 'regular-file':
        return true;
      case 'symbolic-link':
        throw invalidArgument(`fileName ${JSON.stringify(name)} is a symlink`);
      case 'directory':
        throw invalidArgument(`fileName ${JSON.stringify(name)} is a directory`);
      default:
        throw invalidArgument(`fileName ${JSON.stringify(name)} is not a regular file`);
    }
  }

  /**
   * Write `data` to `name` (creating or overwriting it), or to a fresh random name when
   * `name` is undefined. Returns the name written.
   *
   * @param {string | undefined} name
   * @param {Uint8Array} data
   * @returns {string}
   */
  create(name, data) {
    if (name !== undefined) validateName(name);
    return this.#withRoot((root) => {
      if (name !== undefined) {
        WasiStorage.#isFile(root, name);
        writeFile(root, name, { create: true, truncate: true }, data);
        return name;
      }
      for (let i = 0; i < GENERATE_ATTEMPTS; i += 1) {
        const fresh = generateName();
        // `exclusive` fails rather than follow or clobber anything already there.
        if (writeFile(root, fresh, { create: true, exclusive: true }, data)) return fresh;
      }
      throw other('could not generate an unused file name');
    });
  }

  /**
   * The contents of `name`; a missing file is `not-found`.
   *
   * @param {string} name
   * @returns {Uint8Array}
   */
  get(name) {
    validateName(name);
    return this.#withRoot((root) => {
      if (!WasiStorage.#isFile(root, name)) throw fileNotFound(name);
      const opened = attempt(() => root.openAt(NO_FOLLOW, name, {}, { read: true }));
      if ('code' in opened) throw ioError('open', name, opened.code);
      return using(opened.ok, (file) => readAll(file, name));
    });
  }

  /**
   * The names of the regular files directly inside the root, sorted by code point (the
   * order of their UTF-8 bytes). Directories, symlinks and other special files are left out.
   *
   * @returns {string[]}
   */
  list() {
    return this.#withRoot((root) => {
      const fail = (/** @type {string} */ code) =>
        other(`cannot list rootPath ${JSON.stringify(this.rootPath)}: ${code}`);
      const stream = attempt(() => root.readDirectory());
      if ('code' in stream) throw fail(stream.code);
      /** @type {string[]} */
      const names = [];
      using(stream.ok, (entries) => {
        for (;;) {
          const next = attempt(() => entries.readDirectoryEntry());
          if ('code' in next) throw fail(next.code);
          if (next.ok === undefined) break;
          const { type, name } = next.ok;
          // Some file systems do not report the type in the listing: ask.
          const resolved = type === 'unknown' ? typeAt(root, name) : type;
          if (resolved === 'regular-file') names.push(name);
        }
      });
      return names.sort(compareCodePoints);
    });
  }

  /**
   * Delete `name`; a missing file is `not-found`.
   *
   * @param {string} name
   */
  delete(name) {
    validateName(name);
    this.#withRoot((root) => {
      if (!WasiStorage.#isFile(root, name)) throw fileNotFound(name);
      const removed = attempt(() => root.unlinkFileAt(name));
      if ('code' in removed) throw ioError('delete', name, removed.code);
    });
  }
}

/**
 * The type of `name` in `root`, links not followed.
 *
 * @param {Descriptor} root
 * @param {string} name
 * @returns {DescriptorType | undefined} undefined if it cannot be inspected
 */
function typeAt(root, name) {
  const stat = attempt(() => root.statAt(NO_FOLLOW, name));
  return 'code' in stat ? undefined : stat.ok.type;
}

/**
 * Open `name` in `root` with `openFlags` and write all of `data`.
 *
 * @param {Descriptor} root
 * @param {string} name
 * @param {{ create?: boolean, exclusive?: boolean, truncate?: boolean }} openFlags
 * @param {Uint8Array} data
 * @returns {boolean} false if `exclusive` was asked and the name exists
 */
function writeFile(root, name, openFlags, data) {
  const opened = attempt(() => root.openAt(NO_FOLLOW, name, openFlags, { write: true }));
  if ('code' in opened) {
    if (opened.code === 'exist' && openFlags.exclusive) return false;
    throw ioError(openFlags.exclusive ? 'create' : 'write', name, opened.code);
  }
  using(opened.ok, (file) => {
    let offset = 0;
    while (offset < data.length) {
      const wrote = attempt(() => file.write(data.subarray(offset), BigInt(offset)));
      if ('code' in wrote) throw ioError('write', name, wrote.code);
      if (wrote.ok === 0n) throw other(`cannot write file ${JSON.stringify(name)}: no progress`);
      offset += Number(wrote.ok);
    }
  });
  return true;
}

/**
 * Read `file` to its end.
 *
 * @param {Descriptor} file
 * @param {string} name for errors
 * @returns {Uint8Array}
 */
function readAll(file, name) {
  /** @type {Uint8Array[]} */
  const chunks = [];
  let total = 0;
  for (;;) {
    const read = attempt(() => file.read(BigInt(READ_CHUNK), BigInt(total)));
    if ('code' in read) throw ioError('read', name, read.code);
    const [chunk, end] = read.ok;
    if (chunk.length > 0) {
      chunks.push(chunk);
      total += chunk.length;
    }
    if (end || chunk.length === 0) break;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let pos = 0;
  for (const chunk of chunks) {
    out.set(chunk, pos);
    pos += chunk.length;
  }
  return out;
}
