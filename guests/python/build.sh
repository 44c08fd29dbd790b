#!/usr/bin/env bash
# Build the Python guest components with componentize-py.
#
#   guests/python/build.sh <repo-root> <out-dir>
#
# -> <out-dir>/py-state-store.wasm    (world state-store-component)
#    <out-dir>/py-localstorage.wasm   (world output-binding-component)
#
# componentize-py is installed, pinned, into a venv at <repo-root>/target/toolchains/python
# (reused when it already has the pinned version). Each component's sources are staged
# (without tests and caches) under <repo-root>/target/python-guests/<name>/, next to the
# generated binding stubs for editors and type checkers; nothing generated lands in git.
# A component whose sources, WIT and toolchain are unchanged since its last build is not
# rebuilt.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

# name | WIT world (in wit/) | source folder (under guests/python) | app module |
# world to intersect with, defined in <source folder>/imports.wit (empty: none)
COMPONENTS=(
  "py-state-store|state-store-component|state_store|app|"
  "py-localstorage|output-binding-component|localstorage|app|wasmplug:py-localstorage/imports@0.1.0"
)

usage() {
  echo "usage: $0 <repo-root> <out-dir>" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
repo=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
wit="$repo/wit"
src_root="$repo/guests/python"
venv="$repo/target/toolchains/python"
work="$repo/target/python-guests"
[[ -d "$wit" && -d "$src_root" ]] || {
  echo "error: $repo does not look like the wasmplug repository (no wit/ or guests/python/)" >&2
  exit 1
}

log() { echo "[python-guests] $*" >&2; }

# --- toolchain ------------------------------------------------------------------------------

componentize_py="$venv/bin/componentize-py"
installed_version() {
  [[ -x "$componentize_py" ]] && "$componentize_py" --version 2>/dev/null | awk '{print $2}'
}

if [[ "$(installed_version || true)" != "$COMPONENTIZE_PY_VERSION" ]]; then
  log "installing componentize-py $COMPONENTIZE_PY_VERSION into $venv"
  python=${PYTHON:-python3}
  command -v "$python" >/dev/null || {
    echo "error: $python not found (set PYTHON to a Python 3 interpreter)" >&2
    exit 1
  }
  "$python" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "componentize-py==$COMPONENTIZE_PY_VERSION"
  got=$(installed_version || true)
  [[ "$got" == "$COMPONENTIZE_PY_VERSION" ]] || {
    echo "error: componentize-py reports version '$got', expected $COMPONENTIZE_PY_VERSION" >&2
    exit 1
  }
fi

# --- components -----------------------------------------------------------------------------

# The Python sources of a component: everything but tests and caches, sorted, relative.
sources() {
  (cd "$1" && find . -name '*.py' -not -path './tests/*' -not -path '*/__pycache__/*' |
    LC_ALL=C sort)
}

# A digest of everything a component's build depends on.
inputs_digest() {
  local dir=$1
  shift
  {
    echo "componentize-py $COMPONENTIZE_PY_VERSION isolated-path $*"
    (cd "$dir" && { sources .; find . -maxdepth 1 -name '*.wit'; } | xargs sha256sum)
    (cd "$wit" && find . -name '*.wit' | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | awk '{print $1}'
}

# componentize-py puts an active venv's site-packages ($VIRTUAL_ENV) and those of the
# `python3` on PATH (and the user site) on the component's Python path: point them all at the
# toolchain's venv, which holds only the tools, so only the staged sources and the standard
# library can go in. (Otherwise an import the guest forgot to vendor would silently be
# satisfied from this machine's Python.)
unset VIRTUAL_ENV
export PATH="$venv/bin:$PATH" PYTHONUSERBASE="$venv"

for entry in "${COMPONENTS[@]}"; do
  IFS='|' read -r name world folder module intersect <<<"$entry"
  dir="$src_root/$folder"
  target="$out/$name.wasm"
  stage="$work/$name"
  stamp="$stage/stamp"

  digest=$(inputs_digest "$dir" "$world" "$intersect")
  if [[ -f "$target" && -f "$stamp" ]] &&
    [[ "$(cat "$stamp")" == "$digest $(sha256sum <"$target" | awk '{print $1}')" ]]; then
    log "$name: up to date ($target)"
    continue
  fi

  rm -rf "$stage"
  mkdir -p "$stage/src"
  while IFS= read -r file; do
    mkdir -p "$stage/src/$(dirname "$file")"
    cp "$dir/$file" "$stage/src/$file"
  done < <(sources "$dir")

  # Stubs of the generated modules (wit_world, componentize_py_types) for editors, type
  # checkers and tests/test_app.py; componentize generates the real ones itself.
  "$componentize_py" -q -d "$wit" -w "$world" bindings "$stage/bindings"

  args=(-d "$wit" -w "$world")
  build=(componentize "$module" -p "$stage/src" -o "$target.tmp")
  if [[ -n "$intersect" ]]; then
    # A second WIT package: worlds must then be named in full.
    args=(-d "$wit" -d "$dir/imports.wit" -w "wasmplug:dapr/$world@0.1.0")
    build+=(-i "$intersect")
  fi
  log "$name: componentize-py ${args[*]} ${build[*]}"
  started=$(date +%s)
  "$componentize_py" -q "${args[@]}" "${build[@]}"
  mv "$target.tmp" "$target"
  echo "$digest $(sha256sum <"$target" | awk '{print $1}')" >"$stamp"
  log "$name: $(stat -c %s "$target") bytes in $(($(date +%s) - started)) s"
done
