//! Helpers for the config unit tests: a file at `/cfg/wasmplug.yaml` and one component `s`
//! in it, written as compactly as the rule under test allows.

use std::path::Path;

use super::{ComponentConfig, Config, ConfigError};

/// The file every helper parses as.
pub(super) const FILE: &str = "/cfg/wasmplug.yaml";
/// The lines every valid file starts with.
pub(super) const HEAD: &str = "apiVersion: wasmplug.dev/v1alpha1\nkind: Components\n";
/// The keys of component `s` the tests do not vary.
const S: &str = "name: s\ntype: state\nwasm: a.wasm\n";

/// Parses `text` as `/cfg/wasmplug.yaml`.
pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new(FILE), Path::new("/cfg"))
}

/// Parses `text` as `/cfg/wasmplug.yaml`, with environment variables from `env`.
pub(super) fn parse_with_env(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    Config::parse_with_env(text, Path::new(FILE), Path::new("/cfg"), env)
}

/// The error parsing `text` gives.
pub(super) fn file_error(text: &str) -> ConfigError {
    match parse(text) {
        Ok(c) => panic!("accepted {c:?}:\n{text}"),
        Err(e) => e,
    }
}

/// [`FILE`] with one component whose keys are `text` (unindented), resolving relative
/// paths against `base`.
pub(super) fn entry_in(base: &Path, text: &str) -> Result<ComponentConfig, ConfigError> {
    let mut file = format!("{HEAD}components:\n");
    for (i, line) in text.lines().enumerate() {
        file.push_str(if i == 0 { "  - " } else { "    " });
        file.push_str(line);
        file.push('\n');
    }
    let mut config = Config::parse(&file, Path::new(FILE), base)?;
    Ok(config.components.remove(0))
}

/// [`entry_in`] `/cfg`.
pub(super) fn entry(text: &str) -> Result<ComponentConfig, ConfigError> {
    entry_in(Path::new("/cfg"), text)
}

/// The error [`entry`] gives.
pub(super) fn entry_error(text: &str) -> ConfigError {
    match entry(text) {
        Ok(c) => panic!("accepted {c:?}:\n{text}"),
        Err(e) => e,
    }
}

/// Component `s` (`type: state`, `wasm: a.wasm`) with the further keys `body`, resolved
/// against `base`.
pub(super) fn component_in(base: &Path, body: &str) -> Result<ComponentConfig, ConfigError> {
    entry_in(base, &format!("{S}{body}"))
}

/// Component `s` with the further keys `body`, which must be accepted.
pub(super) fn component(body: &str) -> ComponentConfig {
    component_in(Path::new("/cfg"), body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

/// The error component `s` with the further keys `body` gives.
pub(super) fn rejected(body: &str) -> ConfigError {
    match component_in(Path::new("/cfg"), body) {
        Ok(c) => panic!("accepted {c:?}:\n{body}"),
        Err(e) => e,
    }
}

/// The error expected in [`FILE`], in `component`, at `key`.
pub(super) fn error(component: Option<&str>, key: Option<&str>, message: &str) -> ConfigError {
    ConfigError {
        file: FILE.into(),
        component: component.map(str::to_owned),
        key: key.map(str::to_owned),
        message: message.to_owned(),
    }
}

/// The error expected in component `s` at `key`.
pub(super) fn at(key: &str, message: &str) -> ConfigError {
    error(Some("s"), Some(key), message)
}
