//! Rust templates: a cdylib built with cargo for `wasm32-wasip2`, bindings by wit-bindgen.

use super::File;

/// A state store over the granted host bucket `state`. Same project files as `BINDINGS`; only
/// the code differs.
pub(super) const STATE: &[File] = &[
    File {
        path: "Cargo.toml",
        template: include_str!("rust/Cargo.toml.tmpl"),
        executable: false,
    },
    File {
        path: "rust-toolchain.toml",
        template: include_str!("rust/rust-toolchain.toml.tmpl"),
        executable: false,
    },
    File {
        path: "src/lib.rs",
        template: include_str!("rust/state.rs.tmpl"),
        executable: false,
    },
    File {
        path: "build.sh",
        template: include_str!("rust/build.sh.tmpl"),
        executable: true,
    },
    File {
        path: ".gitignore",
        template: include_str!("rust/gitignore.tmpl"),
        executable: false,
    },
];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    File {
        path: "Cargo.toml",
        template: include_str!("rust/Cargo.toml.tmpl"),
        executable: false,
    },
    File {
        path: "rust-toolchain.toml",
        template: include_str!("rust/rust-toolchain.toml.tmpl"),
        executable: false,
    },
    File {
        path: "src/lib.rs",
        template: include_str!("rust/lib.rs.tmpl"),
        executable: false,
    },
    File {
        path: "build.sh",
        template: include_str!("rust/build.sh.tmpl"),
        executable: true,
    },
    File {
        path: ".gitignore",
        template: include_str!("rust/gitignore.tmpl"),
        executable: false,
    },
];
