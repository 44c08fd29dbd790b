/**
 * Errors at the WIT boundary, in the shapes componentize-js uses.
 *
 * - An exported function that returns `result<T, error>` returns `T` on success and reports
 *   the error by throwing a value whose own `payload` property is the WIT variant
 *   `{ tag, val }` (the bindings read `payload`; see `DaprError`).
 * - An imported function that returns `result<T, E>` returns `T` or throws an error whose
 *   `payload` is `E` (a `{ tag, val }` variant, or a string for an enum such as
 *   `wasi:filesystem`'s `error-code`); `witPayload` extracts it.
 *
 * Anything else thrown out of an export (a `TypeError` from a bug, ...) traps the instance;
 * the host then rebuilds it, exactly like a Rust panic.
 *
 * @module
 */

/**
 * The cases of `wasmplug:dapr/types.error` a string describes (`bulk-delete-row-mismatch`
 * carries a record and is only used by state stores).
 *
 * @typedef {'etag-mismatch' | 'etag-invalid' | 'unimplemented' | 'invalid-argument'
 *   | 'not-found' | 'other'} DaprErrorTag
 */

/** A `wasmplug:dapr/types.error`, thrown out of an exported function. */
export class DaprError extends Error {
  /**
   * @param {DaprErrorTag} tag the WIT case
   * @param {string} message the human-readable cause, sent to the caller
   */
  constructor(tag, message) {
    super(message);
    this.name = 'DaprError';
    /** @type {DaprErrorTag} */
    this.tag = tag;
    // An own property: the bindings take the result's error value from `payload`.
    /** @type {{ tag: DaprErrorTag, val: string }} */
    this.payload = { tag, val: message };
  }
}

/** @param {string} message @returns {DaprError} */
export const invalidArgument = (message) => new DaprError('invalid-argument', message);
/** @param {string} message @returns {DaprError} */
export const notFound = (message) => new DaprError('not-found', message);
/** @param {string} message @returns {DaprError} */
export const unimplemented = (message) => new DaprError('unimplemented', message);
/** @param {string} message @returns {DaprError} */
export const other = (message) => new DaprError('other', message);

/**
 * The WIT error value carried by `err`, an error thrown by an imported function; anything
 * that is not such an error (a bug) is rethrown unchanged.
 *
 * @param {unknown} err
 * @returns {unknown} the payload: a `{ tag, val }` variant, or an enum's string
 */
export function witPayload(err) {
  if (err !== null && typeof err === 'object' && 'payload' in err) {
    return /** @type {{ payload: unknown }} */ (err).payload;
  }
  throw err;
}

/**
 * Wrap the functions of an exported interface so that an unexpected exception is logged
 * before it traps the instance. `DaprError`s pass through untouched.
 *
 * @template {Record<string, (...args: any[]) => any>} T
 * @param {string} component the name used in log lines
 * @param {T} iface the exported functions
 * @param {(context: string, message: string) => void} logError
 * @returns {T}
 */
export function guardExports(component, iface, logError) {
  /** @type {Record<string, (...args: any[]) => any>} */
  const guarded = {};
  for (const [name, fn] of Object.entries(iface)) {
    guarded[name] = (...args) => {
      try {
        return fn(...args);
      } catch (err) {
        if (err instanceof DaprError) throw err;
        const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
        logError(`${component}.${name}`, `unexpected exception, the instance traps: ${detail}`);
        throw err instanceof Error ? err : new Error(String(err));
      }
    };
  }
  return /** @type {T} */ (guarded);
}
