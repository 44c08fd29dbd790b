//! `wasmplug new`: scaffolds a ready-to-build component project.
//!
//! A generated project holds our WIT (so it builds on its own), a minimal, correct
//! implementation of the block, a `build.sh` that produces `<name>.wasm`, a `wasmplug.yaml`
//! with a config entry for it, and a README. Templates are compiled into the binary.

use std::path::{Path, PathBuf};

use file::File;

/// The WIT package, embedded so generated projects are self-contained.
const WIT: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../../../wit/types.wit")),
    ("host.wit", include_str!("../../../../../wit/host.wit")),
    ("state.wit", include_str!("../../../../../wit/state.wit")),
    ("pubsub.wit", include_str!("../../../../../wit/pubsub.wit")),
    (
        "bindings.wit",
        include_str!("../../../../../wit/bindings.wit"),
    ),
    (
        "secrets.wit",
        include_str!("../../../../../wit/secrets.wit"),
    ),
];

mod c;
mod file;
mod javascript;
mod python;
mod rust;

/// A guest language with templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust (`wasm32-wasip2` + wit-bindgen).
    Rust,
    /// Python (componentize-py).
    Python,
    /// JavaScript (componentize-js).
    JavaScript,
    /// C (clang + wasi-libc, wit-bindgen's C generator, the preview1 adapter).
    C,
}

impl Language {
    /// The name on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
            Language::C => "c",
        }
    }

    /// The name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::C => "C",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

impl std::str::FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Language::Rust),
            "python" | "py" => Ok(Language::Python),
            "js" | "javascript" => Ok(Language::JavaScript),
            "c" => Ok(Language::C),
            _ => Err(format!(
                "unknown language {s:?}; available: rust, python, js, c"
            )),
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

fn templates(lang: Language, block: &str) -> Result<&'static [File], ScaffoldError> {
    let files = match (lang, block) {
        (Language::Rust, "bindings") => rust::BINDINGS,
        (Language::Python, "bindings") => python::BINDINGS,
        (Language::JavaScript, "bindings") => javascript::BINDINGS,
        (Language::C, "bindings") => c::BINDINGS,
        (Language::Rust, "state") => rust::STATE,
        (Language::Python, "state") => python::STATE,
        (Language::JavaScript, "state") => javascript::STATE,
        (Language::C, "state") => c::STATE,
        _ => &[],
    };
    if files.is_empty() {
        return Err(ScaffoldError::Invalid(format!(
            "no {lang} template for block {block:?}; available: bindings (an output binding) and state (a state store), in rust, python, js and c"
        )));
    }
    Ok(files)
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    // Also a valid WIT identifier and a valid Dapr component name: words of lowercase letters
    // and digits, each starting with a letter, joined by single '-'.
    let ok = name.len() <= 63
        && name.split('-').all(|word| {
            word.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !ok {
        return Err(ScaffoldError::Invalid(format!(
            "{name:?} is not a valid component name: use lowercase letters, digits and single '-', each word starting with a letter"
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
    // The state template keeps its data in a host key-value bucket: grant it one.
    let grants = match block {
        "state" => {
            "    grants:\n      keyValue:\n        - bucket: state\n          backend: durable   # one crash-safe file per bucket, under dataDir\n"
        }
        _ => "",
    };
    let config = format!(
        "# A wasmplug config serving this component: `wasmplug serve wasmplug.yaml`\napiVersion: wasmplug.dev/v1alpha1\nkind: Components\ncomponents:\n  - name: {name}\n    type: {block}\n    wasm: {name}.wasm\n{grants}"
    );
    write("wasmplug.yaml", config, false)?;
    let try_it = match block {
        "state" => format!(
            "wasmplug call {name} state set greeting hello\nwasmplug call {name} state get greeting"
        ),
        _ => format!("wasmplug call {name} bindings invoke upper hello"),
    };
    let readme = format!(
        "# {name}\n\nA Dapr `{block}` component for wasmplug, in {lang}.\n\n```sh\n./build.sh                      # -> {name}.wasm\nwasmplug check {name}.wasm\nwasmplug serve wasmplug.yaml    # serves it on {name}.sock for daprd\n{try_it}\n```\n\nTo Dapr it is `type: {block}.{name}`. The guide for {lang} components is wasmplug's docs/{guide}.md.\n",
        guide = lang.cli_name()
    );
    write("README.md", readme, false)?;
    Ok(written)
}
