//! `wasmplug new`: scaffolds a ready-to-build component project.
//!
//! A generated project holds our WIT (so it builds on its own), a minimal, correct
//! implementation of the block, a `build.sh` that produces `<name>.wasm`, a `wasmplug.yaml`
//! with a config entry for it, and a README. Templates are compiled into the binary.

use std::path::{Path, PathBuf};

/// The WIT package, embedded so generated projects are self-contained.
const WIT: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("host.wit", include_str!("../../../wit/host.wit")),
    ("state.wit", include_str!("../../../wit/state.wit")),
    ("pubsub.wit", include_str!("../../../wit/pubsub.wit")),
    ("bindings.wit", include_str!("../../../wit/bindings.wit")),
    ("secrets.wit", include_str!("../../../wit/secrets.wit")),
];

/// A guest language with templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust (`wasm32-wasip2` + wit-bindgen).
    Rust,
}

impl std::str::FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rust" => Ok(Language::Rust),
            other => Err(format!("unknown language {other:?}; available: rust")),
        }
    }
}

/// Why scaffolding failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// Bad name, language/block combination or destination.
    #[error("{0}")]
    Invalid(String),
    /// Writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

struct File {
    path: &'static str,
    template: &'static str,
    executable: bool,
}

fn templates(lang: Language, block: &str) -> Result<&'static [File], ScaffoldError> {
    match (lang, block) {
        (Language::Rust, "bindings") => Ok(&[
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
        ]),
        (lang, block) => Err(ScaffoldError::Invalid(format!(
            "no {lang:?} template for block {block:?}; available: rust bindings (an output binding)"
        ))),
    }
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(ScaffoldError::Invalid(format!(
            "{name:?} is not a valid component name: use lowercase letters, digits and '-', starting with a letter"
        )));
    }
    Ok(())
}

/// Writes a new `lang` project for `block` named `name` into `dir` (which must not exist or
/// be empty). Returns the files written.
pub fn generate(
    lang: Language,
    block: &str,
    name: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(name)?;
    let files = templates(lang, block)?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(ScaffoldError::Invalid(format!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    let lib = name.replace('-', "_");
    let render = |t: &str| t.replace("{{name}}", name).replace("{{lib}}", &lib);
    let mut written = Vec::new();
    let mut write = |rel: &str, text: String, executable: bool| -> Result<(), ScaffoldError> {
        let path = dir.join(rel);
        let io = |source| ScaffoldError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)?;
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        written.push(path);
        Ok(())
    };
    for f in files {
        write(f.path, render(f.template), f.executable)?;
    }
    for (file, text) in WIT {
        write(&format!("wit/{file}"), (*text).to_owned(), false)?;
    }
    let config = format!(
        "# A wasmplug config serving this component: `wasmplug serve wasmplug.yaml`\napiVersion: wasmplug.dev/v1alpha1\nkind: Components\ncomponents:\n  - name: {name}\n    type: {block}\n    wasm: {name}.wasm\n"
    );
    write("wasmplug.yaml", config, false)?;
    let readme = format!(
        "# {name}\n\nA Dapr `{block}` component for wasmplug, in {lang:?}.\n\n```sh\n./build.sh                      # -> {name}.wasm\nwasmplug check {name}.wasm\nwasmplug serve wasmplug.yaml    # serves it on {name}.sock for daprd\nwasmplug call {name} bindings invoke upper hello\n```\n\nTo Dapr it is `type: {block}.{name}` (see wasmplug's examples/dapr).\n"
    );
    write("README.md", readme, false)?;
    Ok(written)
}
