/**
 * The binding's operations: request metadata in, response out.
 *
 * | operation | request metadata        | response                                                |
 * |-----------|-------------------------|---------------------------------------------------------|
 * | `create`  | `fileName` (optional)   | `{"fileName":"<name>"}` (JSON) and metadata `fileName`  |
 * | `get`     | `fileName` (required)   | the file's bytes; a missing file is `not-found`         |
 * | `list`    | —                       | JSON array of the file names in the root, sorted        |
 * | `delete`  | `fileName` (required)   | empty; a missing file is `not-found`                    |
 *
 * `create` writes the request data as is. Without `fileName` (or with an empty one) it picks
 * a fresh random name.
 *
 * @module
 */

import { invalidArgument, unimplemented } from '../lib/errors.js';
import { lookup } from '../lib/metadata.js';
import { utf8 } from '../lib/utf8.js';

/** The operations `invoke` accepts, in the order `list-operations` reports them. */
export const OPERATIONS = Object.freeze(['create', 'get', 'list', 'delete']);

/** Request metadata key naming the file. */
export const FILE_NAME = 'fileName';

const JSON_TYPE = 'application/json';

/**
 * What the operations need from the file system (storage.js over `wasi:filesystem`, or a
 * fake in the tests). Errors are `DaprError`s.
 *
 * @typedef {object} Storage
 * @property {(name: string | undefined, data: Uint8Array) => string} create write `data` to
 *   `name`, or to a fresh name if undefined; returns the name written
 * @property {(name: string) => Uint8Array} get
 * @property {() => string[]} list the file names, sorted
 * @property {(name: string) => void} delete
 */

/**
 * @typedef {object} InvokeRequest
 * @property {string} operation
 * @property {Uint8Array} data
 * @property {Array<[string, string]>} metadata
 */

/**
 * @typedef {object} InvokeResponse
 * @property {Uint8Array} data
 * @property {Array<[string, string]>} metadata
 * @property {string | undefined} contentType
 */

/**
 * Run one operation against `storage`.
 *
 * @param {Storage} storage
 * @param {InvokeRequest} request
 * @returns {InvokeResponse}
 */
export function invoke(storage, request) {
  const fileName = lookup(request.metadata, FILE_NAME);
  switch (request.operation) {
    case 'create': {
      // An empty fileName means "pick one", as in Dapr.
      const name = storage.create(fileName || undefined, request.data);
      return {
        data: utf8(JSON.stringify({ fileName: name })),
        metadata: [[FILE_NAME, name]],
        contentType: JSON_TYPE,
      };
    }
    case 'get':
      return response(storage.get(required(fileName)));
    case 'list':
      return response(utf8(JSON.stringify(storage.list())), JSON_TYPE);
    case 'delete':
      storage.delete(required(fileName));
      return response(new Uint8Array());
    default:
      throw unimplemented(
        `operation ${JSON.stringify(request.operation)} is not supported by the local storage ` +
          `binding (supported: ${OPERATIONS.join(', ')})`,
      );
  }
}

/**
 * @param {Uint8Array} data
 * @param {string} [contentType]
 * @returns {InvokeResponse}
 */
const response = (data, contentType) => ({ data, metadata: [], contentType });

/**
 * @param {string | undefined} fileName
 * @returns {string}
 */
function required(fileName) {
  if (fileName === undefined) throw invalidArgument(`request metadata ${FILE_NAME} is required`);
  return fileName;
}
