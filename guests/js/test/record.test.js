import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FLAG_CONTENT_TYPE, FORMAT_V1, RecordError, decodeRecord, encodeRecord } from '../pubsub/record.js';

const enc = new TextEncoder();
const bytes = (/** @type {string} */ s) => enc.encode(s);

/** @param {import('../pubsub/record.js').Record} record */
function roundTrip(record) {
  const encoded = encodeRecord(record);
  const decoded = decodeRecord(encoded);
  assert.deepEqual(
    { ...decoded, data: [...decoded.data] },
    { ...record, data: [...record.data] },
  );
}

test('round trips every shape', () => {
  roundTrip({ contentType: undefined, metadata: [], data: new Uint8Array() });
  roundTrip({ contentType: undefined, metadata: [], data: bytes('{"hello":1}') });
  roundTrip({
    contentType: 'application/cloudevents+json',
    metadata: [['a', '1'], ['', ''], ['ünï', 'cödé'], ['a', 'dup']],
    data: Uint8Array.of(0, 1, 2, 255),
  });
  roundTrip({ contentType: '', metadata: [], data: new Uint8Array(5000).fill(7) });
});

test('encodes the layout of the Rust guest, byte for byte', () => {
  const record = { contentType: 'a/b', metadata: /** @type {[string, string][]} */ ([['k', 'vv']]), data: bytes('xyz') };
  assert.deepEqual(
    [...encodeRecord(record)],
    [FORMAT_V1, FLAG_CONTENT_TYPE, 3, 0, 0, 0, ...bytes('a/b'), 1, 0, 0, 0, 1, 0, 0, 0, ...bytes('k'), 2, 0, 0, 0, ...bytes('vv'), ...bytes('xyz')],
  );
  assert.deepEqual(
    [...encodeRecord({ contentType: undefined, metadata: [], data: bytes('v') })],
    [FORMAT_V1, 0, 0, 0, 0, 0, 'v'.charCodeAt(0)],
  );
});

test('refuses records over the limit before allocating them', () => {
  assert.throws(
    () => encodeRecord({ contentType: undefined, metadata: [], data: new Uint8Array(10) }, 15),
    (err) => err instanceof RecordError && /16 bytes; the limit is 15/.test(err.message),
  );
});

test('rejects corrupt records with the same causes as the Rust guest', () => {
  /** @type {Array<[number[], string]>} */
  const cases = [
    [[], 'record is empty'],
    [[0, 0], 'unknown record format 0'],
    [[2, 0], 'unknown record format 2'],
    [[FORMAT_V1], 'record is truncated in the flags'],
    [[FORMAT_V1, 0b10], 'unknown record flags 0b00000010'],
    [[FORMAT_V1, 0, 1, 0], 'record is truncated in the metadata count'],
    [[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0], 'record is truncated in the content type'],
    [[FORMAT_V1, FLAG_CONTENT_TYPE, 0xff, 0xff, 0xff, 0xff, 0x61], 'record is truncated in the content type'],
    [[FORMAT_V1, FLAG_CONTENT_TYPE, 1, 0, 0, 0, 0xff, 0, 0, 0, 0], 'stored content type is not UTF-8'],
    [[FORMAT_V1, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4], 'record is truncated in the metadata'],
    [[FORMAT_V1, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0], 'record is truncated in the metadata key'],
    [[FORMAT_V1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xc3], 'stored metadata value is not UTF-8'],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => decodeRecord(Uint8Array.from(input)),
      (err) => err instanceof RecordError && err.message === message,
      `input ${JSON.stringify(input)}`,
    );
  }
});

test('decoding views into a larger buffer stays in bounds', () => {
  const inner = encodeRecord({ contentType: 'x', metadata: [['k', 'v']], data: bytes('data') });
  const big = new Uint8Array(inner.length + 20).fill(0xee);
  big.set(inner, 10);
  const view = big.subarray(10, 10 + inner.length);
  const decoded = decodeRecord(view);
  assert.equal(new TextDecoder().decode(decoded.data), 'data');
  // A prefix must never read the bytes after it.
  assert.throws(() => decodeRecord(big.subarray(10, 14)), RecordError);
});

test('decoding never throws anything but RecordError on prefixes or bit flips', () => {
  const full = encodeRecord({ contentType: 'text/plain', metadata: [['key', 'value'], ['k2', 'v2']], data: bytes('data') });
  const header = full.length - 4;
  for (let len = 0; len < full.length; len += 1) {
    let ok = true;
    try {
      decodeRecord(full.slice(0, len));
    } catch (err) {
      assert.ok(err instanceof RecordError);
      ok = false;
    }
    assert.equal(ok, len >= header, `prefix of ${len} bytes`);
  }
  for (let i = 0; i < full.length; i += 1) {
    for (let bit = 0; bit < 8; bit += 1) {
      const flipped = full.slice();
      flipped[i] ^= 1 << bit;
      try {
        decodeRecord(flipped);
      } catch (err) {
        assert.ok(err instanceof RecordError, String(err));
      }
    }
  }
});
