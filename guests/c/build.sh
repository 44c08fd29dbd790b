#!/usr/bin/env bash
# Builds the C guest components into <out-dir>/c-<name>.wasm.
#
#   guests/c/build.sh <repo-root> <out-dir>
#
# Installs what is missing, and only that (a second run does no install work):
# - Debian packages: clang-19, lld-19 (wasm-ld), wasm32 compiler-rt builtins, wasi-libc
#   (apt-get, through sudo when not root). Set CLANG (and WASI_SYSROOT) to use another
#   clang >= 16 and wasi-libc sysroot instead; then apt is not touched.
# - wasmplug-c-tools (guests/c/tools: wit-bindgen-c + wit-component + the preview1 reactor
#   adapter, pinned by its Cargo.lock), built by cargo into <repo-root>/target/toolchains/c.
#
# Then, per guest: C bindings generated from <repo-root>/wit at build time (never committed),
# compiled and linked for wasm32-wasi (preview1) as a reactor, and adapted into a component.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <repo-root> <out-dir>" >&2
    exit 2
fi
root=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
toolchain="$root/target/toolchains/c"

# Each guest: <folder under guests/c>:<world in wit/>. Output: c-<folder>.wasm.
guests=(
    "upper:output-binding-component"
)

log() { echo "c guests: $*" >&2; }

# --- 1. C compiler and libc ---------------------------------------------------------------
apt_packages=(clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)
if [[ -z "${CLANG:-}" ]]; then
    CLANG=clang-19
    missing=()
    for package in "${apt_packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        command -v apt-get >/dev/null || {
            log "need ${missing[*]} (Debian packages) or CLANG/WASI_SYSROOT pointing at a clang and a wasi-libc sysroot"
            exit 1
        }
        sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        log "installing ${missing[*]}"
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
sysroot_flags=()
[[ -z "${WASI_SYSROOT:-}" ]] || sysroot_flags=(--sysroot="$WASI_SYSROOT")

# --- 2. bindings generator and componentizer -----------------------------------------------
# A no-op in well under a second once built; ~1 minute cold (see README.md). Run from the
# tool's folder so rustup picks the repository's pinned toolchain.
(cd "$here/tools" && cargo build --locked --quiet --target-dir "$toolchain/build")
tools="$toolchain/build/debug/wasmplug-c-tools"

# --- 3. the guests -------------------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

target=(--target=wasm32-wasi "${sysroot_flags[@]}")
for guest in "${guests[@]}"; do
    name=${guest%%:*}
    world=${guest#*:}
    gen="$tmp/$name/bindings"
    mkdir -p "$gen"
    "$tools" bindgen "$root/wit" --world "$world" --out-dir "$gen"
    bindings_c="$gen/${world//-/_}.c"
    type_o="$gen/${world//-/_}_component_type.o"

    objects=()
    for source in "$here/$name"/*.c; do
        object="$tmp/$name/$(basename "${source%.c}").o"
        "$CLANG" "${target[@]}" -O2 -std=c11 -Wall -Wextra -Werror -I "$gen" -I "$here/$name" \
            -c "$source" -o "$object"
        objects+=("$object")
    done
    # Generated code: its own warnings are not ours to fix.
    "$CLANG" "${target[@]}" -O2 -std=c11 -w -c "$bindings_c" -o "$tmp/$name/bindings.o"

    # A reactor: no main; exports only what the bindings export (plus _initialize, which the
    # component calls once at instantiation).
    "$CLANG" "${target[@]}" -mexec-model=reactor -Wl,--strip-debug \
        "${objects[@]}" "$tmp/$name/bindings.o" "$type_o" -o "$tmp/$name/core.wasm"

    "$tools" component-new "$tmp/$name/core.wasm" -o "$out/c-$name.wasm"
    log "built $out/c-$name.wasm ($(wc -c <"$out/c-$name.wasm") bytes)"
done
