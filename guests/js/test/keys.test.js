import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CLAIM_LEN, MAX_TOPIC_LEN, TopicKeys, U64_MAX, decodeClaim, decodeCounter, encodeClaim, encodeCounter, formatDeliveryId, parseDeliveryId } from '../pubsub/keys.js';

const keysOf = (/** @type {string} */ topic) => new TopicKeys(new TextEncoder().encode(topic));

test('layout matches the Rust guest', () => {
  const keys = keysOf('a/b');
  assert.equal(keys.tail, 't/612f62');
  assert.equal(keys.head, 'h/612f62');
  assert.equal(keys.message(7n), 'm/612f62/00000000000000000007');
  assert.equal(keys.message(U64_MAX), 'm/612f62/18446744073709551615', '20 digits hold every u64');
  assert.ok(keys.message(9n) < keys.message(10n));
  assert.equal(keys.claim(7n), 'c/612f62/00000000000000000007');
});

test('claims round-trip in the Rust guest layout and reject other shapes', () => {
  const claim = { owner: 0x0102n, attempt: 3n, expires: U64_MAX };
  const bytes = encodeClaim(claim);
  assert.equal(bytes.length, CLAIM_LEN);
  assert.deepEqual([...bytes.slice(0, 3)], [1, 2, 1]);
  assert.deepEqual(decodeClaim(bytes), claim);
  assert.equal(decodeClaim(new Uint8Array()), undefined);
  assert.equal(decodeClaim(bytes.slice(0, CLAIM_LEN - 1)), undefined);
  assert.equal(decodeClaim(Uint8Array.of(...bytes, 0)), undefined);
  assert.equal(decodeClaim(Uint8Array.of(2, ...bytes.slice(1))), undefined);
});

test('tricky topics get distinct keys', () => {
  const seen = new Set();
  for (const topic of ['a', 'a/', 'a/0', 'a/00000000000000000001', '61', 't/61', 'ä', 'a b', 'A', '-']) {
    const keys = keysOf(topic);
    for (const key of [keys.tail, keys.head, keys.message(1n), keys.claim(1n)]) {
      assert.ok(!seen.has(key), `${key} repeated (topic ${topic})`);
      seen.add(key);
    }
  }
  assert.ok(keysOf('x'.repeat(MAX_TOPIC_LEN)).message(U64_MAX).length <= 4096, 'fits the host key limit');
});

test('counters', () => {
  assert.equal(decodeCounter(encodeCounter(0n)), 0n);
  assert.equal(decodeCounter(encodeCounter(U64_MAX)), U64_MAX);
  assert.deepEqual([...encodeCounter(258n)], [2, 1, 0, 0, 0, 0, 0, 0]);
  assert.equal(decodeCounter(Uint8Array.of(1, 2, 3)), undefined);
  assert.equal(decodeCounter(new Uint8Array(9)), undefined);
});

test('ids round trip and reject non-canonical spellings', () => {
  const id = { nonce: 0xabn, seq: 42n, attempt: 3n };
  assert.equal(formatDeliveryId(id), '00000000000000ab-42-3');
  assert.deepEqual(parseDeliveryId('00000000000000ab-42-3'), id);
  const max = { nonce: U64_MAX, seq: U64_MAX, attempt: U64_MAX };
  assert.deepEqual(parseDeliveryId(formatDeliveryId(max)), max);
  for (const bad of [
    '', '-', '--', '00000000000000ab-42', '00000000000000ab-42-3-', '00000000000000ab-42-3-1',
    '00000000000000AB-42-3', 'ab-42-3', '00000000000000ab-042-3', '00000000000000ab-+42-3',
    '00000000000000ab-42-+3', '+0000000000000ab-42-3', '00000000000000ab-18446744073709551616-1',
    '00000000000000ab-1-x', '00000000000000ab-1-1 ', '00000000000000ab-1-1\n',
    `${'0'.repeat(67)}-1-1`,
  ]) {
    assert.equal(parseDeliveryId(bad), undefined, JSON.stringify(bad));
  }
});
