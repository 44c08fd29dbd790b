//! Python templates: `app.py` built into a component by componentize-py (pinned in
//! `build.sh`, installed into a shared venv on first use), for a narrowed world in
//! `wit/world.wit` that imports no host key-value interface.

use super::File;

/// A state store over a granted host bucket (being written).
pub(super) const STATE: &[File] = &[];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    File {
        path: "app.py",
        template: include_str!("python/app.py.tmpl"),
        executable: false,
    },
    File {
        path: "wit/world.wit",
        template: include_str!("python/world.wit.tmpl"),
        executable: false,
    },
    File {
        path: "pyproject.toml",
        template: include_str!("python/pyproject.toml.tmpl"),
        executable: false,
    },
    File {
        path: ".gitignore",
        template: include_str!("python/gitignore.tmpl"),
        executable: false,
    },
    File {
        path: "build.sh",
        template: include_str!("python/build.sh.tmpl"),
        executable: true,
    },
];
