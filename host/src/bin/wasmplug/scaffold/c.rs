//! C templates: clang + wasi-libc for `wasm32-wasi` (preview1), bindings by wit-bindgen's C
//! generator, the module adapted into a component with the preview1 reactor adapter.
//!
//! The bindings generator and the component encoder are `wasmplug-c-tools`, the repository's
//! own helper (guests/c/tools). Its source is embedded from there, so there is one copy of it:
//! the generated `build.sh` builds it with cargo into `<toolchains>/c/build`, the folder
//! guests/c/build.sh also uses, and `--locked` keeps it on the repository's Cargo.lock.
//! The blocks share every file but `world.wit` and the C source.

use super::file::File;

/// A state store over the granted host bucket `state`: etags are the bucket's entry
/// versions, writes go through one atomic `keyvalue-atomics.commit`.
pub(super) const STATE: &[File] = &[
    File::text("world.wit", include_str!("c/state_world.wit.tmpl")),
    File::text("src/state.c", include_str!("c/state.c.tmpl")),
    BUILD_SH,
    GITIGNORE,
    TOOLS_CARGO_TOML,
    TOOLS_CARGO_LOCK,
    TOOLS_MAIN_RS,
    TOOLS_RUST_TOOLCHAIN,
];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    File::text("world.wit", include_str!("c/world.wit.tmpl")),
    File::text("src/binding.c", include_str!("c/binding.c.tmpl")),
    BUILD_SH,
    GITIGNORE,
    TOOLS_CARGO_TOML,
    TOOLS_CARGO_LOCK,
    TOOLS_MAIN_RS,
    TOOLS_RUST_TOOLCHAIN,
];

// The toolchain files, the same for every block: build.sh compiles every `src/*.c` against
// the bindings of `world.wit`, whatever the block.
const BUILD_SH: File = File::script("build.sh", include_str!("c/build.sh.tmpl"));
const GITIGNORE: File = File::text(".gitignore", include_str!("c/gitignore.tmpl"));
const TOOLS_CARGO_TOML: File = File::text(
    "tools/Cargo.toml",
    include_str!("../../../../../guests/c/tools/Cargo.toml"),
);
const TOOLS_CARGO_LOCK: File = File::text(
    "tools/Cargo.lock",
    include_str!("../../../../../guests/c/tools/Cargo.lock"),
);
const TOOLS_MAIN_RS: File = File::text(
    "tools/src/main.rs",
    include_str!("../../../../../guests/c/tools/src/main.rs"),
);
const TOOLS_RUST_TOOLCHAIN: File = File::text(
    "tools/rust-toolchain.toml",
    include_str!("c/rust-toolchain.toml.tmpl"),
);

#[cfg(test)]
mod tests {
    /// The `channel = "..."` line of a rust-toolchain.toml.
    fn channel(toml: &str) -> &str {
        toml.lines()
            .find_map(|line| line.trim().strip_prefix("channel = "))
            .expect("a channel line")
    }

    /// Generated projects build wasmplug-c-tools with the same Rust as the repository, so
    /// both share one set of compiled dependencies in `<toolchains>/c/build`.
    #[test]
    fn tools_use_the_repository_rust() {
        assert_eq!(
            channel(include_str!("c/rust-toolchain.toml.tmpl")),
            channel(include_str!("../../../../../rust-toolchain.toml"))
        );
    }
}
