import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DaprError } from '../lib/errors.js';
import {
  Broker,
  MAX_ACK_DEADLINE_MS,
  MAX_BULK_CHUNK,
  MAX_COMMIT_ATTEMPTS,
  MAX_FETCH,
  MAX_IN_FLIGHT,
  MAX_METADATA_PAIRS,
  MAX_SCAN_READS,
  formatDuration,
  parseAckDeadline,
} from '../pubsub/broker.js';
import { TopicKeys, decodeClaim, parseDeliveryId } from '../pubsub/keys.js';
import { FakeBucket } from './fake-bucket.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const keysOf = (/** @type {string} */ topic) => new TopicKeys(enc.encode(topic));

/** A fresh fake bucket and a broker over it. */
function setup() {
  const fake = new FakeBucket();
  return { fake, broker: new Broker(fake) };
}

/** The ack deadline of `testClock().broker`s, in milliseconds. */
const DEADLINE = 30_000;

/** A wall clock the test moves by hand, and brokers (instances of their own) on it. */
function testClock() {
  let now = 0;
  return {
    /** @param {FakeBucket} fake */
    broker: (fake) => new Broker(fake, { ackDeadline: DEADLINE, clock: () => now }),
    /** @param {number} ms */
    advance: (ms) => {
      now += ms;
    },
  };
}

/** @param {Broker} broker @param {string} topic @param {string} data */
function send(broker, topic, data) {
  broker.publish({ topic, data: enc.encode(data), metadata: [], contentType: undefined });
}

/** @param {import('../pubsub/broker.js').Delivery[]} deliveries */
const datas = (deliveries) => deliveries.map((d) => dec.decode(d.data));

/** @param {Broker} broker @param {string} topic */
const fetchAll = (broker, topic) => broker.fetch(topic, 1000);

/** Assert `fn` throws a DaprError with `tag`, and return its message. */
function throwsDapr(/** @type {() => unknown} */ fn, /** @type {string} */ tag) {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DaprError, `expected a DaprError, got ${err}`);
    assert.equal(err.tag, tag, err.message);
    assert.deepEqual(err.payload, { tag, val: err.message });
    return err.message;
  }
  assert.fail(`expected a ${tag} error`);
}

test('fetches in publish order with unique ids', () => {
  const { broker } = setup();
  for (let i = 0; i < 5; i += 1) send(broker, 'orders', `m${i}`);
  const got = fetchAll(broker, 'orders');
  assert.deepEqual(datas(got), ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.equal(new Set(got.map((d) => d.id)).size, 5);
  assert.ok(got.every((d) => d.topic === 'orders' && /^[0-9a-f]{16}-\d+-1$/.test(d.id)));
  assert.deepEqual(fetchAll(broker, 'orders'), [], 'in-flight messages are skipped');
  send(broker, 'orders', 'm5');
  assert.deepEqual(datas(fetchAll(broker, 'orders')), ['m5']);
});

test('fetch honours max and caps it', () => {
  const { broker } = setup();
  for (let i = 0; i < MAX_FETCH + 5; i += 1) send(broker, 't', String(i));
  assert.deepEqual(broker.fetch('t', 0), []);
  assert.deepEqual(datas(broker.fetch('t', 2)), ['0', '1']);
  assert.equal(broker.fetch('t', 0xffff_ffff).length, MAX_FETCH);
  assert.equal(broker.fetch('t', 0xffff_ffff).length, 3);
});

test('delivery carries data, metadata and content type', () => {
  const { broker } = setup();
  broker.publish({
    topic: 't',
    data: Uint8Array.of(0, 159, 146, 150),
    metadata: [['traceparent', '00-abc'], ['k', '']],
    contentType: 'application/octet-stream',
  });
  send(broker, 't', 'plain');
  const [first, second] = fetchAll(broker, 't');
  assert.deepEqual([...first.data], [0, 159, 146, 150]);
  assert.deepEqual(first.metadata, [['traceparent', '00-abc'], ['k', '']]);
  assert.equal(first.contentType, 'application/octet-stream');
  assert.equal(second.contentType, undefined);
});

test('a nacked message comes back first with a new id', () => {
  const { fake, broker } = setup();
  for (let i = 0; i < 3; i += 1) send(broker, 't', `m${i}`);
  const first = broker.fetch('t', 1);
  assert.deepEqual(datas(first), ['m0']);
  broker.ack('t', first[0].id, 'handler failed');
  const again = fetchAll(broker, 't');
  assert.deepEqual(datas(again), ['m0', 'm1', 'm2']);
  assert.notEqual(again[0].id, first[0].id);
  assert.ok(again[0].id.endsWith('-2'), again[0].id);
  assert.ok(fake.contains(keysOf('t').message(0n)), 'a nack deletes nothing');
  broker.ack('t', again[0].id, undefined);
  broker.ack('t', again[2].id, 'again');
  send(broker, 't', 'm3');
  const next = fetchAll(broker, 't');
  assert.deepEqual(datas(next), ['m2', 'm3']);
  const ids = new Set([...first, ...again, ...next].map((d) => d.id));
  assert.equal(ids.size, 1 + 3 + 2, 'every delivery has its own id');
});

test('subscribe makes in-flight messages deliverable again', () => {
  const { broker } = setup();
  for (let i = 0; i < 3; i += 1) send(broker, 't', `m${i}`);
  const first = fetchAll(broker, 't');
  broker.ack('t', first[1].id, undefined);
  broker.subscribe('t');
  const again = fetchAll(broker, 't');
  assert.deepEqual(datas(again), ['m0', 'm2']);
  assert.notEqual(again[0].id, first[0].id);
  throwsDapr(() => broker.ack('t', first[0].id, undefined), 'invalid-argument');
  for (const d of again) broker.ack('t', d.id, undefined);
  broker.subscribe('t');
  assert.deepEqual(fetchAll(broker, 't'), []);
});

test('acked messages never come back and head moves past them', () => {
  const { fake, broker } = setup();
  const keys = keysOf('t');
  for (let i = 0; i < 4; i += 1) send(broker, 't', `m${i}`);
  const got = fetchAll(broker, 't');
  broker.ack('t', got[0].id, undefined);
  assert.ok(!fake.contains(keys.message(0n)));
  assert.equal(fake.counter(keys.head), 1n);
  assert.match(throwsDapr(() => broker.ack('t', got[0].id, undefined), 'invalid-argument'), /not in flight/);
  broker.ack('t', got[2].id, undefined);
  assert.equal(fake.counter(keys.head), 1n, 'm1 is still in flight');
  broker.ack('t', got[1].id, undefined);
  broker.ack('t', got[3].id, undefined);
  assert.equal(fake.counter(keys.head), 4n);
  assert.deepEqual(fake.messageKeys(), []);
  broker.subscribe('t');
  assert.deepEqual(fetchAll(broker, 't'), []);
  send(broker, 't', 'm4');
  assert.deepEqual(datas(fetchAll(broker, 't')), ['m4']);
});

test('topics are isolated, ids of one topic are foreign to another', () => {
  const { fake, broker } = setup();
  send(broker, 'a', 'a0');
  send(broker, 'b', 'b0');
  send(broker, 'a', 'a1');
  const a = fetchAll(broker, 'a');
  const b = fetchAll(broker, 'b');
  assert.deepEqual(datas(a), ['a0', 'a1']);
  assert.deepEqual(datas(b), ['b0']);
  // Same sequence (0) and attempt (1), other topic: refused.
  assert.match(throwsDapr(() => broker.ack('b', a[0].id, undefined), 'invalid-argument'), /not issued/);
  broker.ack('b', b[0].id, undefined);
  broker.subscribe('a');
  assert.deepEqual(datas(fetchAll(broker, 'a')), ['a0', 'a1']);
  assert.equal(fake.messageKeys().length, 2);
});

test('a restart redelivers what was not acked, and old ids are foreign', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const broker = clock.broker(fake);
  for (let i = 0; i < 4; i += 1) send(broker, 't', `m${i}`);
  const before = fetchAll(broker, 't');
  broker.ack('t', before[0].id, undefined);
  broker.ack('t', before[2].id, undefined);
  broker.ack('t', before[3].id, 'nack');
  // A new instance over the same bucket: the nacked message is deliverable at once; the one
  // the old instance left in flight once its claim has expired.
  const restarted = clock.broker(fake);
  const first = fetchAll(restarted, 't');
  assert.deepEqual(datas(first), ['m3']);
  clock.advance(DEADLINE);
  const second = fetchAll(restarted, 't');
  assert.deepEqual(datas(second), ['m1']);
  assert.match(throwsDapr(() => restarted.ack('t', before[1].id, undefined), 'invalid-argument'), /not issued/);
  const again = [...first, ...second];
  assert.ok(again.every((d) => !before.some((b) => b.id === d.id)));
  for (const d of again) restarted.ack('t', d.id, undefined);
  assert.deepEqual(fake.messageKeys(), []);
  assert.deepEqual(fake.claimKeys(), []);
  assert.deepEqual(fetchAll(new Broker(fake), 't'), []);
});

test('in an unshared bucket a restart redelivers at once', () => {
  // The host's own durable store: no other process opens it, so what the previous instance
  // (a previous run of this process) left claimed is deliverable at once.
  const fake = new FakeBucket();
  const unshared = () => new Broker(fake, { ackDeadline: DEADLINE, clock: () => 0, shared: false });
  const broker = unshared();
  for (let i = 0; i < 3; i += 1) send(broker, 't', `m${i}`);
  const before = fetchAll(broker, 't');
  assert.deepEqual(datas(before), ['m0', 'm1', 'm2']);
  broker.ack('t', before[0].id, undefined);
  const restarted = unshared();
  const again = fetchAll(restarted, 't');
  assert.deepEqual(datas(again), ['m1', 'm2'], 'no wait for the deadline');
  assert.ok(again.every((d) => !before.some((b) => b.id === d.id)));
  // Its own claims still hold for itself, and in a shared bucket they hold others off.
  assert.deepEqual(fetchAll(restarted, 't'), []);
  assert.deepEqual(fetchAll(new Broker(fake, { ackDeadline: DEADLINE, clock: () => 0 }), 't'), []);
  for (const d of again) restarted.ack('t', d.id, undefined);
  assert.deepEqual(fake.messageKeys(), []);
  assert.deepEqual(fake.claimKeys(), []);
});

test('an ack between a scan\'s reads never redelivers the message', () => {
  // B reads message 0 (there), then A acks it (message and claim deleted in one commit),
  // then B reads the claim (absent): B must notice the message is gone, not deliver it.
  const fake = new FakeBucket();
  const clock = testClock();
  const a = clock.broker(fake);
  send(a, 't', 'm0');
  send(a, 't', 'm1');
  const held = a.fetch('t', 1);
  assert.deepEqual(datas(held), ['m0']);
  const claimKey = keysOf('t').claim(0n);
  let hook = () => a.ack('t', held[0].id, undefined);
  const racing = {
    getVersioned: (/** @type {string} */ key) => {
      if (key === claimKey && hook) {
        const run = hook;
        hook = undefined;
        run();
      }
      return fake.getVersioned(key);
    },
    commit: (/** @type {any} */ writes) => fake.commit(writes),
  };
  const b = new Broker(racing, { ackDeadline: DEADLINE, clock: () => 0 });
  const got = b.fetch('t', 10);
  assert.equal(hook, undefined, 'the ack ran mid-scan');
  assert.deepEqual(datas(got), ['m1'], 'the acked message is not delivered again');
});

test('a fetch that loses every claim looks further on', () => {
  // B found m0 and m1, but A claims both just before B's claim commit: B scans again and
  // takes the next ones instead of coming back empty.
  const fake = new FakeBucket();
  const clock = testClock();
  const [a, b] = [clock.broker(fake), clock.broker(fake)];
  for (let i = 0; i < 4; i += 1) send(a, 't', `m${i}`);
  /** @type {import('../pubsub/broker.js').Delivery[]} */
  let taken = [];
  fake.onNextCommit(() => {
    taken = a.fetch('t', 2);
  });
  const got = b.fetch('t', 2);
  assert.deepEqual(datas(taken), ['m0', 'm1']);
  assert.deepEqual(datas(got), ['m2', 'm3']);
});

test('queues written by this broker use the Rust guest layout', () => {
  const { fake, broker } = setup();
  broker.publish({ topic: 'a/b', data: enc.encode('xyz'), metadata: [['k', 'vv']], contentType: 'a/b' });
  assert.deepEqual([...fake.entries.keys()].sort(), ['m/612f62/00000000000000000000', 't/612f62']);
  assert.equal(fake.counter('t/612f62'), 1n);
  assert.deepEqual(
    [...fake.entries.get('m/612f62/00000000000000000000').value],
    [1, 1, 3, 0, 0, 0, ...enc.encode('a/b'), 1, 0, 0, 0, 1, 0, 0, 0, ...enc.encode('k'), 2, 0, 0, 0, ...enc.encode('vv'), ...enc.encode('xyz')],
  );
});

test('corrupt records and counters are errors, and put nothing in flight', () => {
  const { fake, broker } = setup();
  const keys = keysOf('t');
  send(broker, 't', 'good');
  send(broker, 't', 'bad');
  fake.putRaw(keys.message(1n), Uint8Array.of(1, 0, 0xff, 0xff, 0xff, 0xff));
  assert.match(throwsDapr(() => broker.fetch('t', 10), 'other'), /stored message 1 of topic "t" is corrupt/);
  assert.deepEqual(datas(broker.fetch('t', 1)), ['good']);
  fake.putRaw(keys.tail, Uint8Array.of(1, 2, 3));
  assert.match(throwsDapr(() => broker.fetch('t', 1), 'other'), /counter key "t\/74" is corrupt: 3 bytes/);
  fake.putRaw(keys.tail, new Uint8Array(8));
  fake.putRaw(keys.head, Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0));
  assert.match(throwsDapr(() => broker.fetch('t', 1), 'other'), /head 5 is past tail 0/);
});

test('publish retries when it loses a race on the tail', () => {
  const { fake, broker } = setup();
  fake.onNextCommit(() => send(new Broker(fake), 't', 'other publisher'));
  send(broker, 't', 'mine');
  assert.equal(fake.counter(keysOf('t').tail), 2n);
  assert.deepEqual(datas(fetchAll(broker, 't')), ['other publisher', 'mine']);
});

test('publish gives up after bounded conflicts', () => {
  const { fake, broker } = setup();
  for (let i = 0; i < MAX_COMMIT_ATTEMPTS; i += 1) {
    fake.onNextCommit((f) => f.putRaw(keysOf('t').tail, new Uint8Array(8)));
  }
  assert.match(throwsDapr(() => send(broker, 't', 'x'), 'other'), /gave up after 16 attempts/);
  assert.deepEqual(fake.messageKeys(), []);
  assert.equal(fake.commits, MAX_COMMIT_ATTEMPTS);
});

test('publish never overwrites a message', () => {
  const { fake, broker } = setup();
  fake.putRaw(keysOf('t').message(0n), enc.encode('squatter'));
  assert.match(throwsDapr(() => send(broker, 't', 'x'), 'other'), /inconsistent.*nothing was published/);
  assert.equal(fake.counter(keysOf('t').tail), undefined);
});

test('store failures are other errors naming the cause', () => {
  const { fake, broker } = setup();
  fake.broken = true;
  assert.match(throwsDapr(() => send(broker, 't', 'x'), 'other'), /commit \(publish\) failed: disk on fire/);
  fake.getVersioned = () => {
    throw Object.assign(new Error('x'), { payload: { tag: 'no-such-store' } });
  };
  assert.match(throwsDapr(() => broker.fetch('t', 1), 'other'), /no such store/);
});

test('bulk publish appends in order, merges metadata and reports failures per entry', () => {
  const { fake, broker } = setup();
  const tooMuch = Array.from({ length: MAX_METADATA_PAIRS + 1 }, (_, i) => /** @type {[string, string]} */ ([`k${i}`, '']));
  const failures = broker.bulkPublish({
    topic: 't',
    entries: [
      { entryId: '1', event: enc.encode('one'), contentType: undefined, metadata: [['k', 'entry']] },
      { entryId: '2', event: enc.encode('two'), contentType: undefined, metadata: tooMuch },
      { entryId: '3', event: enc.encode('three'), contentType: 'text/plain', metadata: [] },
    ],
    metadata: [['k', 'request'], ['r', 'x']],
  });
  assert.equal(failures.length, 1);
  assert.equal(failures[0].entryId, '2');
  assert.match(failures[0].error, /at most 1024 metadata pairs/);
  assert.equal(fake.commits, 1, 'one commit for the whole batch');
  const got = fetchAll(broker, 't');
  assert.deepEqual(datas(got), ['one', 'three']);
  assert.deepEqual(got[0].metadata, [['k', 'entry'], ['r', 'x']]);
  assert.deepEqual(got[1].metadata, [['k', 'request'], ['r', 'x']]);
  assert.equal(got[1].contentType, 'text/plain');
  throwsDapr(() => broker.bulkPublish({ topic: '', entries: [], metadata: [] }), 'invalid-argument');
});

test('bulk publish commits in chunks and reports failed chunks', () => {
  const { fake, broker } = setup();
  const count = MAX_BULK_CHUNK * 2 + 3;
  const entries = Array.from({ length: count }, (_, i) => ({
    entryId: String(i), event: enc.encode(String(i)), contentType: undefined, metadata: [],
  }));
  fake.onNextCommit(() => {});
  fake.onNextCommit((f) => { f.broken = true; });
  fake.onNextCommit((f) => { f.broken = false; });
  const failures = broker.bulkPublish({ topic: 't', entries, metadata: [] });
  const range = (/** @type {number} */ a, /** @type {number} */ b) => Array.from({ length: b - a }, (_, i) => String(a + i));
  assert.deepEqual(failures.map((f) => f.entryId), range(MAX_BULK_CHUNK, MAX_BULK_CHUNK * 2));
  assert.match(failures[0].error, /disk on fire/);
  /** @type {string[]} */
  const seen = [];
  for (let got = fetchAll(broker, 't'); got.length > 0; got = fetchAll(broker, 't')) seen.push(...datas(got));
  assert.deepEqual(seen, [...range(0, MAX_BULK_CHUNK), ...range(MAX_BULK_CHUNK * 2, count)]);
});

test('empty and oversized arguments are invalid and write nothing', () => {
  const { fake, broker } = setup();
  for (const call of [
    () => send(broker, '', 'x'),
    () => broker.fetch('', 1),
    () => broker.subscribe(''),
    () => broker.ack('', '0000000000000000-0-1', undefined),
    () => send(broker, 'é'.repeat(513), 'x'),
    () => broker.publish({ topic: 't', data: new Uint8Array(16 * 1024 * 1024), metadata: [], contentType: undefined }),
  ]) {
    throwsDapr(call, 'invalid-argument');
  }
  assert.equal(fake.entries.size, 0);
  send(broker, 'é'.repeat(512), 'fits');
});

test('malformed or unknown ids are invalid', () => {
  const { broker } = setup();
  send(broker, 't', 'x');
  const [d] = fetchAll(broker, 't');
  const [nonce, seq] = d.id.split('-');
  for (const bad of ['', 'nope', `${nonce}-${seq}`, `${nonce}-${seq}-01`, `${nonce}-9-1`, `${nonce}-${seq}-2`, `${'0'.repeat(16)}-${seq}-1`]) {
    throwsDapr(() => broker.ack('t', bad, undefined), 'invalid-argument');
  }
  broker.ack('t', d.id, undefined);
});

test('a superseded delivery id is refused', () => {
  const { broker } = setup();
  send(broker, 't', 'x');
  const [first] = fetchAll(broker, 't');
  broker.subscribe('t');
  fetchAll(broker, 't');
  // The first delivery's attempt is no longer the one in flight.
  assert.match(throwsDapr(() => broker.ack('t', first.id, undefined), 'invalid-argument'), /superseded/);
});

test('a failed ack leaves the message in flight for a retry', () => {
  const { fake, broker } = setup();
  send(broker, 't', 'x');
  const [d] = fetchAll(broker, 't');
  fake.broken = true;
  throwsDapr(() => broker.ack('t', d.id, undefined), 'other');
  fake.broken = false;
  broker.ack('t', d.id, undefined);
  assert.deepEqual(fake.messageKeys(), []);
});

test('an ack retries when head moves concurrently', () => {
  const { fake, broker } = setup();
  const keys = keysOf('t');
  send(broker, 't', 'x');
  const [d] = fetchAll(broker, 't');
  fake.onNextCommit((f) => f.putRaw(keys.head, new Uint8Array(8)));
  broker.ack('t', d.id, undefined);
  assert.equal(fake.counter(keys.head), 1n);
  assert.ok(!fake.contains(keys.message(0n)));
});

test('fetch skips and moves head past messages deleted elsewhere', () => {
  const { fake, broker } = setup();
  const keys = keysOf('t');
  for (let i = 0; i < 5; i += 1) send(broker, 't', `m${i}`);
  fake.entries.delete(keys.message(0n));
  fake.entries.delete(keys.message(1n));
  fake.entries.delete(keys.message(3n));
  assert.deepEqual(datas(fetchAll(broker, 't')), ['m2', 'm4']);
  assert.equal(fake.counter(keys.head), 2n);
});

test('a scan reads a bounded number of keys', () => {
  const { fake, broker } = setup();
  const keys = keysOf('t');
  const count = BigInt(MAX_SCAN_READS + 10);
  fake.putRaw(keys.tail, new Uint8Array(new BigUint64Array([count]).buffer));
  fake.putRaw(keys.message(count - 1n), Uint8Array.of(1, 0, 0, 0, 0, 0)); // an empty record
  const reads = fake.reads;
  assert.deepEqual(fetchAll(broker, 't'), []);
  assert.ok(fake.reads - reads <= MAX_SCAN_READS + 2);
  assert.equal(fake.counter(keys.head), BigInt(MAX_SCAN_READS));
  assert.equal(fetchAll(broker, 't').length, 1, 'the next fetch continues');
});

test('in flight is bounded', () => {
  const { broker } = setup();
  const entries = Array.from({ length: MAX_IN_FLIGHT + 5 }, (_, i) => ({
    entryId: String(i), event: new Uint8Array(), contentType: undefined, metadata: [],
  }));
  assert.deepEqual(broker.bulkPublish({ topic: 't', entries, metadata: [] }), []);
  let inFlight = 0;
  for (let got = broker.fetch('t', MAX_FETCH); got.length > 0; got = broker.fetch('t', MAX_FETCH)) {
    inFlight += got.length;
  }
  assert.equal(inFlight, MAX_IN_FLIGHT);
});

test('nonces are per instance and per topic state', () => {
  const fake = new FakeBucket();
  const broker = new Broker(fake, { nonceSeed: 0xffff_ffff_ffff_ffffn });
  send(broker, 'a', 'x');
  send(broker, 'b', 'y');
  assert.equal(broker.fetch('a', 1)[0].id, 'ffffffffffffffff-0-1');
  assert.equal(broker.fetch('b', 1)[0].id, '0000000000000000-0-1', 'wraps at 2^64');
});

test('the claim is in the bucket and goes with the ack', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  clock.advance(1000);
  const broker = clock.broker(fake);
  send(broker, 't', 'm0');
  const [d] = fetchAll(broker, 't');
  assert.deepEqual(fake.claimKeys(), [keysOf('t').claim(0n)]);
  assert.deepEqual(decodeClaim(fake.entries.get(keysOf('t').claim(0n)).value), {
    owner: broker.owner,
    attempt: 1n,
    expires: BigInt(1000 + DEADLINE),
  });
  assert.equal(parseDeliveryId(d.id)?.attempt, 1n);
  broker.ack('t', d.id, undefined);
  assert.deepEqual([...fake.entries.keys()].filter((k) => !k.startsWith('t/') && !k.startsWith('h/')), []);
});

test('two instances share a subscription, each message delivered once', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const [a, b] = [clock.broker(fake), clock.broker(fake)];
  for (let i = 0; i < 10; i += 1) send(a, 't', `m${i}`);
  const a1 = a.fetch('t', 3);
  const b1 = b.fetch('t', 4);
  const a2 = fetchAll(a, 't');
  assert.deepEqual(datas(a1), ['m0', 'm1', 'm2']);
  assert.deepEqual(datas(b1), ['m3', 'm4', 'm5', 'm6'], 'skips what A has');
  assert.deepEqual(datas(a2), ['m7', 'm8', 'm9'], 'skips what B has');
  assert.deepEqual(fetchAll(a, 't'), []);
  assert.deepEqual(fetchAll(b, 't'), []);
  assert.equal(fake.claimKeys().length, 10);
  throwsDapr(() => a.ack('t', b1[0].id, undefined), 'invalid-argument');
  for (const d of [...a1, ...a2]) a.ack('t', d.id, undefined);
  for (const d of b1) b.ack('t', d.id, undefined);
  assert.deepEqual(fake.messageKeys(), []);
  assert.deepEqual(fake.claimKeys(), []);
  assert.equal(fake.counter(keysOf('t').head), 10n);
  send(a, 't', 'm10');
  assert.deepEqual(datas(fetchAll(b, 't')), ['m10']);
  assert.deepEqual(fetchAll(a, 't'), []);
});

test("a dead instance's messages go to another after the deadline", () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const [dead, alive] = [clock.broker(fake), clock.broker(fake)];
  for (let i = 0; i < 3; i += 1) send(alive, 't', `m${i}`);
  const lost = dead.fetch('t', 2);
  assert.deepEqual(datas(lost), ['m0', 'm1']);
  const m2 = fetchAll(alive, 't');
  assert.deepEqual(datas(m2), ['m2']);
  alive.ack('t', m2[0].id, undefined);
  clock.advance(DEADLINE - 1);
  assert.deepEqual(fetchAll(alive, 't'), [], 'not yet');
  clock.advance(1);
  const again = fetchAll(alive, 't');
  assert.deepEqual(datas(again), ['m0', 'm1'], 'in publish order');
  lost.forEach((old, i) => {
    assert.notEqual(old.id, again[i].id);
    assert.ok(again[i].id.endsWith('-2'), `second delivery: ${again[i].id}`);
  });
  // The dead one comes back to life and acks late: refused, nothing removed.
  const msg = throwsDapr(() => dead.ack('t', lost[0].id, undefined), 'other');
  assert.match(msg, /expired \(ack deadline 30s\) and was claimed by another subscriber/);
  assert.ok(fake.contains(keysOf('t').message(0n)));
  // Its nack of the other is harmless too: the new owner keeps it.
  dead.ack('t', lost[1].id, 'failed');
  throwsDapr(() => dead.ack('t', lost[1].id, undefined), 'invalid-argument');
  assert.deepEqual(fetchAll(dead, 't'), []);
  for (const d of again) alive.ack('t', d.id, undefined);
  assert.deepEqual(fake.messageKeys(), []);
  assert.deepEqual(fake.claimKeys(), []);
  assert.equal(fake.counter(keysOf('t').head), 3n);
});

test('an expired claim nobody took is still acked', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const slow = clock.broker(fake);
  send(slow, 't', 'm0');
  const [d] = fetchAll(slow, 't');
  clock.advance(DEADLINE * 10);
  assert.deepEqual(fetchAll(slow, 't'), [], 'its own instance does not redeliver it');
  slow.ack('t', d.id, undefined);
  assert.deepEqual(fake.messageKeys(), []);
  assert.deepEqual(fake.claimKeys(), []);
});

test('a nack makes the message next for either instance', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const [a, b] = [clock.broker(fake), clock.broker(fake)];
  for (let i = 0; i < 4; i += 1) send(a, 't', `m${i}`);
  const a0 = a.fetch('t', 1);
  const b0 = b.fetch('t', 1);
  assert.deepEqual([datas(a0), datas(b0)], [['m0'], ['m1']]);
  a.ack('t', a0[0].id, 'failed');
  const b1 = b.fetch('t', 1);
  assert.deepEqual(datas(b1), ['m0'], "B gets A's nacked message first");
  b.ack('t', b1[0].id, 'failed');
  b.ack('t', b0[0].id, 'failed');
  const a1 = fetchAll(a, 't');
  assert.deepEqual(datas(a1), ['m0', 'm1', 'm2', 'm3'], 'and back to A, in order');
  const ids = new Set([...a0, ...b0, ...b1, ...a1].map((d) => d.id));
  assert.equal(ids.size, 1 + 1 + 1 + 4, 'every delivery has its own id');
});

test("subscribe releases this instance's claims to everyone", () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const [a, b] = [clock.broker(fake), clock.broker(fake)];
  for (let i = 0; i < 3; i += 1) send(a, 't', `m${i}`);
  const first = fetchAll(a, 't');
  a.ack('t', first[1].id, undefined);
  a.subscribe('t');
  assert.deepEqual(fake.claimKeys(), []);
  assert.deepEqual(datas(fetchAll(b, 't')), ['m0', 'm2']);
  assert.deepEqual(fetchAll(a, 't'), []);
});

test('a lost claim race drops only the messages taken', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const [a, b] = [clock.broker(fake), clock.broker(fake)];
  for (let i = 0; i < 3; i += 1) send(a, 't', `m${i}`);
  // B claims m0 and m1 between A's reads and A's claim commit.
  fake.onNextCommit(() => {
    assert.deepEqual(datas(b.fetch('t', 2)), ['m0', 'm1']);
  });
  assert.deepEqual(datas(fetchAll(a, 't')), ['m2']);
  assert.deepEqual(fetchAll(b, 't'), []);
  b.subscribe('t');
  assert.deepEqual(datas(fetchAll(a, 't')), ['m0', 'm1']);
});

test('a release that failed leaves the claim to its owner at once', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const [a, b] = [clock.broker(fake), clock.broker(fake)];
  send(a, 't', 'm0');
  const [first] = fetchAll(a, 't');
  fake.broken = true;
  a.subscribe('t');
  fake.broken = false;
  assert.equal(fake.claimKeys().length, 1);
  assert.deepEqual(fetchAll(b, 't'), [], 'others wait');
  const again = fetchAll(a, 't');
  assert.deepEqual(datas(again), ['m0'], 'its owner takes it back');
  assert.notEqual(again[0].id, first.id);
  a.ack('t', again[0].id, undefined);
  assert.deepEqual(fake.claimKeys(), []);
});

test('a failed nack leaves the message in flight for a retry', () => {
  const { fake, broker } = setup();
  send(broker, 't', 'm0');
  const [d] = fetchAll(broker, 't');
  fake.broken = true;
  throwsDapr(() => broker.ack('t', d.id, 'failed'), 'other');
  fake.broken = false;
  broker.ack('t', d.id, 'failed');
  assert.deepEqual(datas(fetchAll(broker, 't')), ['m0']);
});

test('undecodable claims do not block a message', () => {
  const { fake, broker } = setup();
  send(broker, 't', 'm0');
  fake.putRaw(keysOf('t').claim(0n), enc.encode('junk'));
  assert.deepEqual(datas(fetchAll(broker, 't')), ['m0']);
});

test('a re-initialised broker with the same owner takes its claims back', () => {
  const fake = new FakeBucket();
  const clock = testClock();
  const before = clock.broker(fake);
  send(before, 't', 'm0');
  const [first] = fetchAll(before, 't');
  const after = new Broker(fake, { owner: before.owner, ackDeadline: DEADLINE, clock: () => 0 });
  throwsDapr(() => after.ack('t', first.id, undefined), 'invalid-argument');
  const again = fetchAll(after, 't');
  assert.deepEqual(datas(again), ['m0']);
  assert.notEqual(again[0].id, first.id);
});

test('ack deadlines parse', () => {
  assert.equal(parseAckDeadline(undefined), 60_000);
  for (const [text, ms] of [['500ms', 500], ['30s', 30_000], ['2m', 120_000], ['1440m', MAX_ACK_DEADLINE_MS]]) {
    assert.equal(parseAckDeadline(/** @type {string} */ (text)), ms, String(text));
  }
  for (const bad of ['', '0s', '30', 's', '1.5s', '-1s', '+1s', '30 s', '30S', '1h', '1441m', '99999999999999999999ms']) {
    assert.match(throwsDapr(() => parseAckDeadline(bad), 'invalid-argument'), /metadata ackDeadline/, bad);
  }
  assert.equal(formatDuration(1500), '1500ms');
});
