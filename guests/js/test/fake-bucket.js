/**
 * An in-memory fake of the host's versioned bucket (`keyvalue-atomics`), with the error
 * conventions of the componentize-js bindings: failures throw an error whose `payload` is
 * the WIT error variant.
 *
 * @module
 */

/** An error as the componentize-js bindings throw it for an imported `result` error. */
export class WitError extends Error {
  /** @param {unknown} payload */
  constructor(payload) {
    super(`WIT error ${JSON.stringify(payload)}`);
    this.payload = payload;
  }
}

/**
 * Versions are unique and strictly increasing; `commit` applies all or nothing, checking
 * each precondition against the state left by the earlier writes of the same commit.
 */
export class FakeBucket {
  /** @type {Map<string, { value: Uint8Array, version: bigint }>} */
  entries = new Map();
  lastVersion = 0n;
  commits = 0;
  reads = 0;
  /** While set, every commit fails with a store error. */
  broken = false;
  /** @type {Array<(fake: FakeBucket) => void>} run one per commit, before it applies */
  #beforeCommit = [];

  /** @param {string} key */
  getVersioned(key) {
    this.reads += 1;
    const entry = this.entries.get(key);
    return entry && { value: entry.value.slice(), version: entry.version };
  }

  /** @param {Array<{ key: string, precondition: any, value: Uint8Array | undefined }>} writes */
  commit(writes) {
    this.#beforeCommit.shift()?.(this);
    if (this.broken) throw new WitError({ tag: 'store', val: { tag: 'other', val: 'disk on fire' } });
    this.commits += 1;
    const next = new Map(this.entries);
    let last = this.lastVersion;
    /** @type {bigint[]} */
    const versions = [];
    writes.forEach((write, index) => {
      const current = next.get(write.key)?.version;
      const p = write.precondition;
      const holds =
        p.tag === 'any' ||
        (p.tag === 'absent' && current === undefined) ||
        (p.tag === 'version' && current === BigInt(p.val));
      if (!holds) throw new WitError({ tag: 'conflict', val: index });
      if (write.value === undefined) {
        next.delete(write.key);
        versions.push(0n);
      } else {
        last += 1n;
        next.set(write.key, { value: Uint8Array.from(write.value), version: last });
        versions.push(last);
      }
    });
    this.entries = next;
    this.lastVersion = last;
    return versions;
  }

  /** Simulate a concurrent writer: `hook` runs just before the next commit applies. */
  onNextCommit(/** @type {(fake: FakeBucket) => void} */ hook) {
    this.#beforeCommit.push(hook);
  }

  /** @param {string} key @param {Uint8Array} value */
  putRaw(key, value) {
    this.lastVersion += 1n;
    this.entries.set(key, { value, version: this.lastVersion });
  }

  /** @param {string} key */
  contains(key) {
    return this.entries.has(key);
  }

  /** @param {string} key */
  counter(key) {
    const entry = this.entries.get(key);
    return entry && new DataView(entry.value.buffer, entry.value.byteOffset, 8).getBigUint64(0, true);
  }

  messageKeys() {
    return [...this.entries.keys()].filter((k) => k.startsWith('m/')).sort();
  }

  claimKeys() {
    return [...this.entries.keys()].filter((k) => k.startsWith('c/')).sort();
  }
}
