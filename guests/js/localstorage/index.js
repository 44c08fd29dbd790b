/**
 * A Dapr local-storage output binding as a wasmplug component (world
 * `wasmplug:js-guests/localstorage-component`, see ../wit/localstorage.wit), written in
 * JavaScript: the sibling of the Rust guest `localstorage`, with the metadata of Dapr's
 * `bindings.localstorage`.
 *
 * Component metadata: `rootPath` (required, matched ignoring case): the guest path of a
 * directory the host grants (e.g. `/data`). Operations (see ops.js): `create`, `get`,
 * `list`, `delete`, addressing files by the request metadata `fileName`.
 *
 * Module top-level code runs once, at build time, and is snapshotted into the component:
 * the preopened directories are looked up in `init`, never at the top level.
 *
 * @module
 */

import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { log } from 'wasmplug:dapr/logging@0.1.0';

import { guardExports, invalidArgument, other } from '../lib/errors.js';
import { lookup } from '../lib/metadata.js';
import { OPERATIONS, invoke } from './ops.js';
import { WasiStorage } from './storage.js';

/** Component metadata key naming the root directory. */
const ROOT_PATH_METADATA = 'rootPath';

/**
 * The storage opened by `init`.
 * @type {WasiStorage | undefined}
 */
let storage;

/** @returns {WasiStorage} */
function initialised() {
  if (!storage) throw other('local storage binding not initialised: init was not called');
  return storage;
}

export const outputBinding = guardExports(
  'js-localstorage',
  {
    /** @param {Array<[string, string]>} metadata */
    init(metadata) {
      const root = lookup(metadata, ROOT_PATH_METADATA, { ignoreCase: true });
      if (root === undefined) throw invalidArgument(`metadata ${ROOT_PATH_METADATA} is required`);
      // A re-init (hot reload) replaces the previous root.
      storage = WasiStorage.open(root, getDirectories());
    },

    listOperations() {
      return [...OPERATIONS];
    },

    /** @param {import('./ops.js').InvokeRequest} request */
    invoke(request) {
      return invoke(initialised(), request);
    },

    ping() {
      initialised().checkRoot();
    },
  },
  (context, message) => log('error', context, message),
);
