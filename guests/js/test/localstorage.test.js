import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { DaprError } from '../lib/errors.js';
import { MAX_NAME_LEN, generateName, validateName } from '../localstorage/names.js';
import { OPERATIONS, invoke } from '../localstorage/ops.js';
import { WasiStorage } from '../localstorage/storage.js';
import { NodeDir } from './node-descriptor.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A fresh temp directory, removed after the test. */
function tempDir(/** @type {import('node:test').TestContext} */ t) {
  const dir = fs.mkdtempSync(join(tmpdir(), 'wasmplug-js-localstorage-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Storage rooted at `/files/<sub>` with `/files` preopened onto `dir`. */
function storageIn(/** @type {string} */ dir, sub = '') {
  return WasiStorage.open(`/files/${sub}`, [[/** @type {any} */ (new NodeDir(dir)), '/files']]);
}

/** Assert `fn` throws a DaprError with `tag`, and return its message. */
function throwsDapr(/** @type {() => unknown} */ fn, /** @type {string} */ tag) {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DaprError, `expected a DaprError, got ${err}`);
    assert.equal(err.tag, tag, err.message);
    return err.message;
  }
  assert.fail(`expected a ${tag} error`);
}

/** @param {string} operation @param {string} data @param {Array<[string, string]>} metadata */
const request = (operation, data = '', metadata = []) => ({ operation, data: enc.encode(data), metadata });

test('accepts plain names', () => {
  for (const name of ['a', 'file.txt', '...', '.hidden', '..x', 'x..', 'with space', 'ünïcödé', 'a:b', 'n'.repeat(MAX_NAME_LEN)]) {
    validateName(name);
  }
});

test('rejects escape attempts and odd names as invalid-argument naming the file', () => {
  for (const name of ['', '.', '..', '/', '/etc/passwd', '../secret', 'a/../../b', 'dir/file', 'dir/', './file',
    '..\\secret', 'C:\\Windows', 'nul\0byte', '\0', 'n'.repeat(MAX_NAME_LEN + 1), 'é'.repeat(128)]) {
    const message = throwsDapr(() => validateName(name), 'invalid-argument');
    assert.ok(message.includes(JSON.stringify(name)), message);
  }
});

test('generated names are unique lowercase hex', () => {
  const names = Array.from({ length: 100 }, generateName);
  for (const name of names) assert.match(name, /^[0-9a-f]{32}$/);
  assert.equal(new Set(names).size, names.length);
});

test('operations end to end', (t) => {
  const dir = tempDir(t);
  const storage = storageIn(dir);
  assert.deepEqual(OPERATIONS, ['create', 'get', 'list', 'delete']);

  const created = invoke(storage, request('create', 'payload', [['fileName', 'my "file"']]));
  assert.equal(dec.decode(created.data), '{"fileName":"my \\"file\\""}');
  assert.equal(created.contentType, 'application/json');
  assert.deepEqual(created.metadata, [['fileName', 'my "file"']]);
  assert.equal(fs.readFileSync(join(dir, 'my "file"'), 'utf8'), 'payload');

  const fresh = invoke(storage, request('create', 'other'));
  const freshName = fresh.metadata[0][1];
  assert.match(freshName, /^[0-9a-f]{32}$/);
  assert.deepEqual(JSON.parse(dec.decode(fresh.data)), { fileName: freshName });
  const emptyName = invoke(storage, request('create', 'x', [['fileName', '']]));
  assert.match(emptyName.metadata[0][1], /^[0-9a-f]{32}$/, 'an empty fileName means "pick one"');

  const got = invoke(storage, request('get', '', [['fileName', 'my "file"']]));
  assert.equal(dec.decode(got.data), 'payload');
  assert.equal(got.contentType, undefined);

  const listed = invoke(storage, request('list'));
  assert.equal(listed.contentType, 'application/json');
  assert.deepEqual(JSON.parse(dec.decode(listed.data)), [emptyName.metadata[0][1], freshName, 'my "file"'].sort());

  const deleted = invoke(storage, request('delete', '', [['fileName', freshName]]));
  assert.equal(deleted.data.length, 0);
  throwsDapr(() => invoke(storage, request('get', '', [['fileName', freshName]])), 'not-found');
  throwsDapr(() => invoke(storage, request('delete', '', [['fileName', freshName]])), 'not-found');
  for (const op of ['get', 'delete']) {
    assert.match(throwsDapr(() => invoke(storage, request(op)), 'invalid-argument'), /fileName is required/);
    throwsDapr(() => invoke(storage, request(op, '', [['fileName', '']])), 'invalid-argument');
  }
  assert.match(throwsDapr(() => invoke(storage, request('rename')), 'unimplemented'), /"rename"/);
});

test('an empty root lists as an empty array, sorted by code point', (t) => {
  const dir = tempDir(t);
  const storage = storageIn(dir);
  assert.equal(dec.decode(invoke(storage, request('list')).data), '[]');
  for (const name of ['b', 'a', '\u{1F600}', '\uFF5E', 'B']) storage.create(name, new Uint8Array());
  // UTF-16 order would put U+1F600 (a surrogate pair) before U+FF5E.
  assert.deepEqual(storage.list(), ['B', 'a', 'b', '\uFF5E', '\u{1F600}']);
});

test('overwrites, empty and binary data, reads and writes in many chunks', (t) => {
  const dir = tempDir(t);
  const storage = storageIn(dir);
  storage.create('b.txt', enc.encode('hello, a longer text than one chunk'));
  storage.create('b.txt', enc.encode('hi'));
  assert.equal(dec.decode(storage.get('b.txt')), 'hi');
  storage.create('empty', new Uint8Array());
  assert.equal(storage.get('empty').length, 0);
  const binary = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
  const name = storage.create(undefined, binary);
  assert.deepEqual([...storage.get(name)], [...binary]);
});

test('directories, symlinks and escapes are refused and never touched', (t) => {
  const outer = tempDir(t);
  const root = join(outer, 'root');
  fs.mkdirSync(root);
  fs.writeFileSync(join(outer, 'outside'), 'secret');
  fs.mkdirSync(join(root, 'sub'));
  fs.symlinkSync(join(outer, 'outside'), join(root, 'link'));
  fs.symlinkSync(join(outer, 'nowhere'), join(root, 'dangling'));
  const storage = storageIn(root);
  for (const name of ['../outside', '/etc/passwd', 'sub/../../outside', 'sub/x', '..', '.', '', 'a\\b', 'a\0b']) {
    throwsDapr(() => storage.get(name), 'invalid-argument');
    throwsDapr(() => storage.create(name, enc.encode('pwned')), 'invalid-argument');
    throwsDapr(() => storage.delete(name), 'invalid-argument');
  }
  for (const name of ['link', 'dangling', 'sub']) {
    const message = throwsDapr(() => storage.get(name), 'invalid-argument');
    assert.match(message, name === 'sub' ? /is a directory/ : /is a symlink/);
    throwsDapr(() => storage.create(name, enc.encode('pwned')), 'invalid-argument');
    throwsDapr(() => storage.delete(name), 'invalid-argument');
  }
  assert.equal(fs.readFileSync(join(outer, 'outside'), 'utf8'), 'secret');
  assert.ok(!fs.existsSync(join(outer, 'nowhere')));
  assert.deepEqual(storage.list(), [], 'neither directories nor symlinks are listed');
});

test('rootPath resolves against the longest preopen and must be a directory', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(join(dir, 'nested'));
  fs.writeFileSync(join(dir, 'file'), 'x');
  const nested = storageIn(dir, 'nested/');
  nested.create('f', enc.encode('x'));
  assert.ok(fs.existsSync(join(dir, 'nested', 'f')));
  const preopens = /** @type {any} */ ([[new NodeDir(dir), '/files'], [new NodeDir(join(dir, 'nested')), '/files/nested']]);
  assert.deepEqual(WasiStorage.open('/files/nested', preopens).list(), ['f']);
  assert.match(throwsDapr(() => storageIn(dir, 'missing'), 'other'), /not an existing directory: no-entry/);
  assert.match(throwsDapr(() => storageIn(dir, 'file'), 'other'), /is not a directory/);
  assert.match(throwsDapr(() => WasiStorage.open('/elsewhere', preopens), 'other'), /not inside a directory granted/);
  throwsDapr(() => WasiStorage.open('', preopens), 'invalid-argument');
  throwsDapr(() => WasiStorage.open('relative', preopens), 'invalid-argument');
  throwsDapr(() => WasiStorage.open('/files/../etc', preopens), 'invalid-argument');
  const removed = storageIn(dir, 'nested');
  fs.rmSync(join(dir, 'nested'), { recursive: true });
  throwsDapr(() => removed.checkRoot(), 'other');
});
