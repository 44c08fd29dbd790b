//! Python templates: `app.py` built into a component by componentize-py (pinned in
//! `build.sh`, installed into a shared venv on first use), for a narrowed world in
//! `wit/world.wit` that imports only the host interfaces the block uses. The blocks share
//! every file but those two.

use super::file::File;

/// A state store over a granted host bucket: etags are the bucket's entry versions, writes
/// go through one atomic `keyvalue-atomics.commit`.
pub(super) const STATE: &[File] = &[
    File::text("app.py", include_str!("python/state_app.py.tmpl")),
    File::text("wit/world.wit", include_str!("python/state_world.wit.tmpl")),
    PYPROJECT,
    GITIGNORE,
    BUILD_SH,
];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    File::text("app.py", include_str!("python/app.py.tmpl")),
    File::text("wit/world.wit", include_str!("python/world.wit.tmpl")),
    PYPROJECT,
    GITIGNORE,
    BUILD_SH,
];

// The toolchain files, the same for every block.
const PYPROJECT: File = File::text("pyproject.toml", include_str!("python/pyproject.toml.tmpl"));
const GITIGNORE: File = File::text(".gitignore", include_str!("python/gitignore.tmpl"));
const BUILD_SH: File = File::script("build.sh", include_str!("python/build.sh.tmpl"));
