#!/usr/bin/env node
// Componentize the JavaScript guests with componentize-js (StarlingMonkey).
//
//   node build.mjs <repo-root> <out-dir> [--force]
//
// writes <out-dir>/js-pubsub.wasm and <out-dir>/js-localstorage.wasm. A component whose
// inputs (its sources, the WIT, the engine version, the options, this script) are unchanged
// since its last build is skipped; --force rebuilds anyway. Run it through build.sh, which
// installs the pinned toolchain first.

import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// The features StarlingMonkey compiles in by default that no component here may use: no
// component is granted wasi:http. (stdio, random and clocks stay: errors reach stderr,
// crypto.getRandomValues and Date work.)
const DISABLE_FEATURES = ['http', 'fetch-event'];

// The wasi WIT version the pinned engine imports; the localstorage world must use the same
// so that its wasi:filesystem import and the engine's are one.
const WASI_VERSION = '0.2.12';

/**
 * @typedef {object} Guest
 * @property {string} name output file stem
 * @property {string} source entry module, relative to guests/js
 * @property {string} world
 * @property {string[]} dirs source folders (relative to guests/js) the component is built from
 * @property {'repo' | 'local'} wit `repo`: <repo>/wit as is; `local`: guests/js/wit with
 *   <repo>/wit and the engine's wasi WIT as dependencies
 */

/** @type {Guest[]} */
const GUESTS = [
  { name: 'js-pubsub', source: 'pubsub/index.js', world: 'pubsub-component', dirs: ['pubsub', 'lib'], wit: 'repo' },
  { name: 'js-localstorage', source: 'localstorage/index.js', world: 'localstorage-component', dirs: ['localstorage', 'lib', 'wit'], wit: 'local' },
];

async function main() {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const positional = args.filter((a) => !a.startsWith('--'));
  if (positional.length !== 2) {
    console.error('usage: node build.mjs <repo-root> <out-dir> [--force]');
    process.exit(2);
  }
  const repo = resolve(positional[0]);
  const outDir = resolve(positional[1]);
  const repoWit = join(repo, 'wit');
  if (!existsSync(join(repoWit, 'pubsub.wit'))) throw new Error(`${repoWit} does not hold the wasmplug WIT`);

  await mkdir(outDir, { recursive: true });
  const { componentize, version } = await import('@bytecodealliance/componentize-js');
  // componentize-js parses the WIT inside a wasm component run by preview2-shim, which (from
  // 0.26 on) gives it no files unless told: without this, reading the WIT fails with "No such
  // file or directory" (what breaks `jco componentize` 1.35). It must be the same shim
  // instance componentize-js imports, which is why package.json pins it at the top level.
  // The component reads its preopens once, on first use: grant every WIT folder up front.
  const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
  const scratch = await mkdtemp(join(tmpdir(), 'wasmplug-js-wit-'));
  _setPreopens({ [repoWit]: repoWit, [scratch]: scratch });
  try {
    await buildAll({ componentize, version, repoWit, scratch, outDir, force });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * @param {object} options
 * @param {(opts: object) => Promise<{ component: Uint8Array }>} options.componentize
 * @param {string} options.version the componentize-js version
 * @param {string} options.repoWit
 * @param {string} options.scratch an empty folder the WIT parser may read
 * @param {string} options.outDir
 * @param {boolean} options.force
 */
async function buildAll({ componentize, version, repoWit, scratch, outDir, force }) {
  // componentize-js maps the current directory to `/` for the engine while it pre-initialises
  // the module, which is how relative imports between our folders resolve.
  process.chdir(here);

  for (const guest of GUESTS) {
    const out = join(outDir, `${guest.name}.wasm`);
    const stamp = join(outDir, `.${guest.name}.wasm.inputs`);
    const inputs = await inputsHash(guest, repoWit, version);
    if (!force && existsSync(out) && existsSync(stamp) && (await readFile(stamp, 'utf8')) === inputs) {
      console.log(`${guest.name}: up to date (${out})`);
      continue;
    }
    const started = Date.now();
    const witDir = guest.wit === 'repo' ? repoWit : await assembleLocalWit(repoWit, join(scratch, guest.name));
    try {
      const { component } = await componentize({
        sourcePath: join(here, guest.source),
        witPath: witDir,
        worldName: guest.world,
        disableFeatures: DISABLE_FEATURES,
      });
      // Write then rename, so an interrupted build never leaves a truncated component.
      await writeFile(`${out}.tmp`, component);
      await rename(`${out}.tmp`, out);
      await writeFile(stamp, inputs);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const mib = (component.length / (1024 * 1024)).toFixed(1);
      console.log(`${guest.name}: built ${out} (${mib} MiB, ${seconds} s, componentize-js ${version})`);
    } finally {
      if (witDir !== repoWit) await rm(witDir, { recursive: true, force: true });
    }
  }
}

/**
 * A WIT folder for the `local` worlds: guests/js/wit plus its dependencies.
 *
 * @param {string} repoWit
 * @param {string} dir where to put it (must not exist)
 * @returns {Promise<string>} `dir`
 */
async function assembleLocalWit(repoWit, dir) {
  await cp(join(here, 'wit'), dir, { recursive: true });
  await cp(repoWit, join(dir, 'deps', 'wasmplug-dapr'), { recursive: true });
  const wasiWit = join(here, 'node_modules', '@bytecodealliance', 'jco', 'lib', 'wit', 'builtin', WASI_VERSION);
  for (const pkg of ['wasi-io', 'wasi-clocks', 'wasi-filesystem']) {
    await cp(join(wasiWit, pkg), join(dir, 'deps', pkg), { recursive: true });
  }
  return dir;
}

/**
 * A digest of everything a guest's component depends on.
 *
 * @param {Guest} guest
 * @param {string} repoWit
 * @param {string} engineVersion
 * @returns {Promise<string>}
 */
async function inputsHash(guest, repoWit, engineVersion) {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ engineVersion, guest, DISABLE_FEATURES, WASI_VERSION }));
  const files = [join(here, 'build.mjs'), join(here, 'package-lock.json')];
  for (const dir of [...guest.dirs.map((d) => join(here, d)), repoWit]) files.push(...(await listFiles(dir)));
  for (const file of files.sort()) {
    hash.update(`\0${relative(here, file)}\0`);
    hash.update(await readFile(file));
  }
  return `${hash.digest('hex')}\n`;
}

/** @param {string} dir @returns {Promise<string[]>} */
async function listFiles(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

main().catch((err) => {
  console.error(`build.mjs: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
  process.exit(1);
});
