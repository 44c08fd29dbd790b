//! Reading a file: its header, its directories and its list of components. Each component
//! is named first ([`super::name`]), so every later error can say which one it is in, then
//! resolved by [`super::resolve`].

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Invalid};
use super::model::{ComponentConfig, Config};
use super::name::{check_name, component_name};
use super::raw::{RawComponent, RawFile};
use super::resolve::resolve_component;
use super::stores::resolve_stores;

/// The `apiVersion` this host understands.
pub const API_VERSION: &str = "wasmplug.dev/v1alpha1";
/// The `kind` of a components config file.
pub const KIND: &str = "Components";

/// `dataDir` when the file does not set it, relative to the file.
const DEFAULT_DATA_DIR: &str = ".wasmplug/data";

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, format!("cannot read config file: {e}")))?;
        Self::parse(&text, path, &base_dir(path))
    }

    /// Parses config text as if it were the file `file`, resolving relative paths against
    /// `base`. `urlFromEnv` reads this process's environment.
    pub fn parse(text: &str, file: &Path, base: &Path) -> Result<Self, ConfigError> {
        Self::parse_with_env(text, file, base, &|name| std::env::var(name).ok())
    }

    /// [`Config::parse`], reading environment variables through `env`.
    pub fn parse_with_env(
        text: &str,
        file: &Path,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let de = serde_norway::Deserializer::from_str(text);
        let raw: RawFile =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError::shape(file, None, e))?;
        check_header(&raw).map_err(|e| e.in_file(file))?;
        let key_value_stores =
            resolve_stores(raw.key_value_stores, base, env).map_err(|e| e.in_file(file))?;
        let store_names: BTreeSet<String> =
            key_value_stores.iter().map(|s| s.name.clone()).collect();
        Ok(Config {
            file: file.to_owned(),
            data_dir: base.join(
                raw.data_dir
                    .as_deref()
                    .unwrap_or(Path::new(DEFAULT_DATA_DIR)),
            ),
            cache_dir: match raw.cache_dir {
                Some(d) => Some(base.join(d)),
                None => default_cache_dir(),
            },
            components: components(raw.components, file, base, &store_names)?,
            key_value_stores,
        })
    }
}

/// The directory relative paths in the file at `path` are resolved against: the file's
/// own directory, made absolute when possible.
fn base_dir(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned())
}

/// `apiVersion` first, then `kind`, must be exactly this host's.
fn check_header(raw: &RawFile) -> Result<(), Invalid> {
    expect_exactly("apiVersion", &raw.api_version, API_VERSION)?;
    expect_exactly("kind", &raw.kind, KIND)
}

fn expect_exactly(key: &str, found: &str, expected: &str) -> Result<(), Invalid> {
    if found == expected {
        return Ok(());
    }
    Err(Invalid::new(
        key,
        format!("expected {expected:?}, found {found:?}"),
    ))
}

/// `$WASMPLUG_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmplug`, else `~/.cache/wasmplug`.
pub fn default_cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

/// [`default_cache_dir`], reading the environment through `var`. An empty
/// `$WASMPLUG_CACHE_DIR` disables the cache; an empty `$XDG_CACHE_HOME` is ignored.
fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(d) = var("WASMPLUG_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    if let Some(d) = var("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("wasmplug"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".cache").join("wasmplug"))
}

/// Every entry of `components`, in file order: named, checked and resolved. There must be
/// at least one.
fn components(
    entries: Vec<serde_norway::Value>,
    file: &Path,
    base: &Path,
    stores: &BTreeSet<String>,
) -> Result<Vec<ComponentConfig>, ConfigError> {
    let mut names = BTreeSet::new();
    let mut components = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let name = component_name(&entry, i).map_err(|e| e.in_file(file))?;
        check_name(&name, &mut names).map_err(|e| e.in_component(file, &name))?;
        let raw: RawComponent = serde_path_to_error::deserialize(entry)
            .map_err(|e| ConfigError::shape(file, Some(&name), e))?;
        let component =
            resolve_component(raw, base, stores).map_err(|e| e.in_component(file, &name))?;
        components.push(component);
    }
    if components.is_empty() {
        return Err(Invalid::new("components", "no components configured").in_file(file));
    }
    Ok(components)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::{HEAD, error, file_error, parse};
    use crate::config::{BlockKind, Grants, Limits};

    /// Component `s` as a whole `components:` section.
    const S: &str = "components:\n  - name: s\n    type: state\n    wasm: a.wasm\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n"
        ))
        .unwrap();
        let s = &c.components[0];
        assert_eq!(s.wasm, Path::new("/cfg/a.wasm"));
        let idle = Some(crate::config::model::DEFAULT_IDLE_TIMEOUT);
        assert_eq!(
            s.limits,
            Limits {
                idle_timeout: idle,
                ..Limits::default()
            }
        );
        assert_eq!(s.concurrency, 1);
        assert_eq!(s.grants, Grants::default());
        assert_eq!(c.data_dir, Path::new("/cfg/.wasmplug/data"));
    }

    #[test]
    fn unknown_key_names_component_and_key() {
        let e = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n    grants:\n      keyValue:\n        - bucket: b\n          bakend: memory\n"
        ))
        .unwrap_err();
        assert_eq!(e.component.as_deref(), Some("s"));
        assert_eq!(e.key.as_deref(), Some("grants.keyValue[0].bakend"));
        assert!(e.message.contains("unknown field `bakend`"), "{e}");
        assert!(
            e.to_string()
                .starts_with("/cfg/wasmplug.yaml: component \"s\""),
            "{e}"
        );
    }

    #[test]
    fn duplicate_names_and_bad_values_are_rejected() {
        let dup = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n  - name: s\n    type: state\n    wasm: b.wasm\n"
        ))
        .unwrap_err();
        assert!(dup.message.contains("duplicate component name"), "{dup}");
        let bad_type = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: queue\n    wasm: a.wasm\n"
        ))
        .unwrap_err();
        assert_eq!(bad_type.key.as_deref(), Some("type"), "{bad_type}");
        let bad_timeout = parse(&format!(
            "{HEAD}components:\n  - name: s\n    type: state\n    wasm: a.wasm\n    limits:\n      callTimeout: soon\n"
        ))
        .unwrap_err();
        assert_eq!(
            bad_timeout.key.as_deref(),
            Some("limits.callTimeout"),
            "{bad_timeout}"
        );
        let bad_name = parse(&format!(
            "{HEAD}components:\n  - name: ../x\n    type: state\n    wasm: a.wasm\n"
        ))
        .unwrap_err();
        assert_eq!(bad_name.key.as_deref(), Some("name"), "{bad_name}");
        let bad_kind =
            parse("apiVersion: wasmplug.dev/v1alpha1\nkind: Component\ncomponents: []\n")
                .unwrap_err();
        assert_eq!(bad_kind.key.as_deref(), Some("kind"), "{bad_kind}");
    }

    #[test]
    fn load_names_a_file_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let e = Config::load(&missing).unwrap_err();
        assert_eq!(e.file, missing);
        assert_eq!((e.component, e.key), (None, None));
        assert_eq!(
            e.message,
            "cannot read config file: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn load_resolves_relative_paths_against_the_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wasmplug.yaml");
        std::fs::write(&path, format!("{HEAD}dataDir: d\ncacheDir: c\n{S}")).unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.file, path);
        assert_eq!(c.data_dir, dir.path().join("d"));
        assert_eq!(c.cache_dir, Some(dir.path().join("c")));
        assert_eq!(c.components[0].wasm, dir.path().join("a.wasm"));
    }

    #[test]
    fn base_dir_is_the_files_directory_made_absolute() {
        assert_eq!(base_dir(Path::new("/cfg/wasmplug.yaml")), Path::new("/cfg"));
        let cwd = std::path::absolute(".").unwrap();
        assert_eq!(base_dir(Path::new("wasmplug.yaml")), cwd);
        assert_eq!(base_dir(Path::new("sub/w.yaml")), cwd.join("sub"));
        assert_eq!(base_dir(Path::new("/")), cwd);
    }

    #[test]
    fn api_version_must_be_this_hosts() {
        let e = file_error(&format!("apiVersion: v0\nkind: Components\n{S}"));
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: key `apiVersion`: expected \"wasmplug.dev/v1alpha1\", found \"v0\""
        );
        // YAML reads a bare `1` as a string here, so it is the wrong version, not a type error.
        let e = file_error(&format!("apiVersion: 1\nkind: Components\n{S}"));
        assert_eq!(e.key.as_deref(), Some("apiVersion"));
        assert_eq!(e.message, "expected \"wasmplug.dev/v1alpha1\", found \"1\"");
    }

    #[test]
    fn kind_must_be_components_and_is_checked_after_api_version() {
        let e = file_error("apiVersion: wasmplug.dev/v1alpha1\nkind: Component\ncomponents: []\n");
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: key `kind`: expected \"Components\", found \"Component\""
        );
        let both = file_error("apiVersion: v0\nkind: Component\ncomponents: []\n");
        assert_eq!(both.key.as_deref(), Some("apiVersion"));
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_rejected() {
        let e = file_error("- a\n- b\n");
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: invalid type: sequence, expected struct RawFile"
        );
    }

    #[test]
    fn data_and_cache_dirs_resolve_against_the_base() {
        let c = parse(&format!("{HEAD}dataDir: d\ncacheDir: c\n{S}")).unwrap();
        assert_eq!(c.data_dir, Path::new("/cfg/d"));
        assert_eq!(c.cache_dir.as_deref(), Some(Path::new("/cfg/c")));
        let c = parse(&format!("{HEAD}dataDir: /abs/d\ncacheDir: /abs/c\n{S}")).unwrap();
        assert_eq!(c.data_dir, Path::new("/abs/d"));
        assert_eq!(c.cache_dir.as_deref(), Some(Path::new("/abs/c")));
        let c = parse(&format!("{HEAD}{S}")).unwrap();
        assert_eq!(c.cache_dir, default_cache_dir());
    }

    /// An environment holding only `vars`.
    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn default_cache_dir_prefers_wasmplug_then_xdg_then_home() {
        let all = [
            ("WASMPLUG_CACHE_DIR", "/w"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(cache_dir_from(env(&all)), Some("/w".into()));
        assert_eq!(cache_dir_from(env(&all[1..])), Some("/x/wasmplug".into()));
        assert_eq!(
            cache_dir_from(env(&all[2..])),
            Some("/h/.cache/wasmplug".into())
        );
        assert_eq!(cache_dir_from(env(&[])), None);
        // An empty WASMPLUG_CACHE_DIR disables the cache; an empty XDG_CACHE_HOME is skipped.
        let off = [("WASMPLUG_CACHE_DIR", ""), ("HOME", "/h")];
        assert_eq!(cache_dir_from(env(&off)), None);
        let no_xdg = [("XDG_CACHE_HOME", ""), ("HOME", "/h")];
        assert_eq!(
            cache_dir_from(env(&no_xdg)),
            Some("/h/.cache/wasmplug".into())
        );
    }

    #[test]
    fn at_least_one_component_is_required() {
        let expected = error(None, Some("components"), "no components configured");
        assert_eq!(file_error(&format!("{HEAD}components: []\n")), expected);
        assert_eq!(file_error(HEAD), expected);
        let e = file_error(&format!("{HEAD}components: {{}}\n"));
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: key `components`: components: invalid type: map, expected a sequence at line 3 column 13"
        );
    }

    #[test]
    fn components_keep_file_order() {
        let c = parse(&format!(
            "{HEAD}{S}  - name: t\n    type: pubsub\n    wasm: t.wasm\n  - name: u\n    type: bindings\n    wasm: u.wasm\n"
        ))
        .unwrap();
        let names: Vec<_> = c
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.block))
            .collect();
        assert_eq!(
            names,
            [
                ("s", BlockKind::State),
                ("t", BlockKind::PubSub),
                ("u", BlockKind::Bindings)
            ]
        );
    }
}
