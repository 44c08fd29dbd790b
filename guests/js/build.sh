#!/usr/bin/env bash
# Build the JavaScript guest components.
#
#   guests/js/build.sh <repo-root> <out-dir>
#
# Installs the pinned toolchain (package-lock.json) into guests/js/node_modules with `npm ci`
# when it is missing or no longer matches the lock file, then runs build.mjs, which skips
# components whose inputs did not change. Needs node >= 20 and npm.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <repo-root> <out-dir>" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$1" && pwd)"
mkdir -p "$2"
out="$(cd "$2" && pwd)"

command -v node >/dev/null || { echo "$0: node (>= 20) is required" >&2; exit 1; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
    echo "$0: node >= 20 is required, found $(node --version)" >&2
    exit 1
fi

# node_modules is current when it was installed from this exact lock file.
lock_hash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.wasmplug-lock-sha256"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
    echo "guests/js: installing the pinned toolchain (npm ci)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > "$stamp"
fi

exec node "$here/build.mjs" "$repo" "$out"
