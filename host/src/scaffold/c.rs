//! C templates: clang + wasi-libc for `wasm32-wasi` (preview1), bindings by wit-bindgen's C
//! generator, the module adapted into a component with the preview1 reactor adapter.
//!
//! The bindings generator and the component encoder are `wasmplug-c-tools`, the repository's
//! own helper (guests/c/tools). Its source is embedded from there, so there is one copy of it:
//! the generated `build.sh` builds it with cargo into `<toolchains>/c/build`, the folder
//! guests/c/build.sh also uses, and `--locked` keeps it on the repository's Cargo.lock.
//! The blocks share every file but `world.wit` and the C source.

use super::File;

/// A state store over the granted host bucket `state`: etags are the bucket's entry
/// versions, writes go through one atomic `keyvalue-atomics.commit`.
pub(super) const STATE: &[File] = &[
    File {
        path: "world.wit",
        template: include_str!("c/state_world.wit.tmpl"),
        executable: false,
    },
    File {
        path: "src/state.c",
        template: include_str!("c/state.c.tmpl"),
        executable: false,
    },
    BUILD_SH,
    GITIGNORE,
    TOOLS_CARGO_TOML,
    TOOLS_CARGO_LOCK,
    TOOLS_MAIN_RS,
    TOOLS_RUST_TOOLCHAIN,
];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    File {
        path: "world.wit",
        template: include_str!("c/world.wit.tmpl"),
        executable: false,
    },
    File {
        path: "src/binding.c",
        template: include_str!("c/binding.c.tmpl"),
        executable: false,
    },
    BUILD_SH,
    GITIGNORE,
    TOOLS_CARGO_TOML,
    TOOLS_CARGO_LOCK,
    TOOLS_MAIN_RS,
    TOOLS_RUST_TOOLCHAIN,
];

// The toolchain files, the same for every block: build.sh compiles every `src/*.c` against
// the bindings of `world.wit`, whatever the block.
const BUILD_SH: File = File {
    path: "build.sh",
    template: include_str!("c/build.sh.tmpl"),
    executable: true,
};
const GITIGNORE: File = File {
    path: ".gitignore",
    template: include_str!("c/gitignore.tmpl"),
    executable: false,
};
const TOOLS_CARGO_TOML: File = File {
    path: "tools/Cargo.toml",
    template: include_str!("../../../guests/c/tools/Cargo.toml"),
    executable: false,
};
const TOOLS_CARGO_LOCK: File = File {
    path: "tools/Cargo.lock",
    template: include_str!("../../../guests/c/tools/Cargo.lock"),
    executable: false,
};
const TOOLS_MAIN_RS: File = File {
    path: "tools/src/main.rs",
    template: include_str!("../../../guests/c/tools/src/main.rs"),
    executable: false,
};
const TOOLS_RUST_TOOLCHAIN: File = File {
    path: "tools/rust-toolchain.toml",
    template: include_str!("c/rust-toolchain.toml.tmpl"),
    executable: false,
};

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
            channel(include_str!("../../../rust-toolchain.toml"))
        );
    }
}
