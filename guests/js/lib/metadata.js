/**
 * Dapr metadata: `list<tuple<string, string>>` in WIT, an array of `[key, value]` pairs in
 * componentize-js.
 *
 * @module
 */

/** @typedef {Array<[string, string]>} Metadata */

/**
 * The value of `key` in `metadata`; the last occurrence wins.
 *
 * @param {Metadata} metadata
 * @param {string} key
 * @param {{ ignoreCase?: boolean }} [options] match keys ignoring ASCII case, as Dapr does
 *   for component metadata
 * @returns {string | undefined}
 */
export function lookup(metadata, key, { ignoreCase = false } = {}) {
  const wanted = ignoreCase ? asciiLower(key) : key;
  for (let i = metadata.length - 1; i >= 0; i -= 1) {
    const [k, v] = metadata[i];
    if ((ignoreCase ? asciiLower(k) : k) === wanted) return v;
  }
  return undefined;
}

/** @param {string} s */
const asciiLower = (s) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
