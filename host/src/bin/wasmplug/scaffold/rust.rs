//! Rust templates: a cdylib built with cargo for `wasm32-wasip2`, bindings by wit-bindgen.

use super::file::File;

/// A state store over the granted host bucket `state`. Same project files as `BINDINGS`; only
/// the code differs.
pub(super) const STATE: &[File] = &[
    CARGO_TOML,
    TOOLCHAIN,
    File::text("src/lib.rs", include_str!("rust/state.rs.tmpl")),
    BUILD_SH,
    GITIGNORE,
];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    CARGO_TOML,
    TOOLCHAIN,
    File::text("src/lib.rs", include_str!("rust/lib.rs.tmpl")),
    BUILD_SH,
    GITIGNORE,
];

// The project files, the same for every block.
const CARGO_TOML: File = File::text("Cargo.toml", include_str!("rust/Cargo.toml.tmpl"));
const TOOLCHAIN: File = File::text(
    "rust-toolchain.toml",
    include_str!("rust/rust-toolchain.toml.tmpl"),
);
const BUILD_SH: File = File::script("build.sh", include_str!("rust/build.sh.tmpl"));
const GITIGNORE: File = File::text(".gitignore", include_str!("rust/gitignore.tmpl"));
