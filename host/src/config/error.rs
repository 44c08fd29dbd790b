//! [`ConfigError`], and [`Invalid`]: a broken rule before it knows which file it is in.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// A config error, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{}: {message}", file.display(), component.as_ref().map(|c| format!(": component {c:?}")).unwrap_or_default(), key.as_ref().map(|k| format!(": key `{k}`")).unwrap_or_default())]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// The component the error is in, if any.
    pub component: Option<String>,
    /// The key path inside the component (or file) that is wrong, if known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// The one place an error is put together.
    fn new(file: &Path, component: Option<&str>, key: Option<String>, message: String) -> Self {
        Self {
            file: file.to_owned(),
            component: component.map(str::to_owned),
            key,
            message,
        }
    }

    /// Something wrong with the file as a whole, at no particular key.
    pub(super) fn file(file: &Path, message: impl Into<String>) -> Self {
        Self::new(file, None, None, message.into())
    }

    /// A value of the wrong shape, found while deserializing the file or one component of
    /// it: the serde path is the key (none when it is the whole value, `.`).
    pub(super) fn shape<E: Display>(
        file: &Path,
        component: Option<&str>,
        error: serde_path_to_error::Error<E>,
    ) -> Self {
        let path = error.path().to_string();
        let key = (path != ".").then_some(path);
        Self::new(file, component, key, error.into_inner().to_string())
    }
}

/// A broken rule: the key path that is wrong and what is wrong with it. The rules return
/// this; the caller places it in the file (and component) with [`Invalid::in_file`] or
/// [`Invalid::in_component`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    /// The key path, relative to the file or to the component.
    key: String,
    /// What is wrong.
    message: String,
}

impl Invalid {
    /// The value at `key` is wrong: `message`.
    pub(super) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// This, as an error at a file-level key of `file`.
    pub(super) fn in_file(self, file: &Path) -> ConfigError {
        ConfigError::new(file, None, Some(self.key), self.message)
    }

    /// This, as an error at a key of component `component` in `file`.
    pub(super) fn in_component(self, file: &Path, component: &str) -> ConfigError {
        ConfigError::new(file, Some(component), Some(self.key), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/cfg/wasmplug.yaml";

    #[test]
    fn file_error_names_only_the_file() {
        let e = ConfigError::file(Path::new(FILE), "cannot read config file: gone");
        assert_eq!(e.component, None);
        assert_eq!(e.key, None);
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: cannot read config file: gone"
        );
    }

    #[test]
    fn file_level_rule_names_the_key() {
        let e = Invalid::new("kind", "expected \"Components\"").in_file(Path::new(FILE));
        assert_eq!(e.component, None);
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: key `kind`: expected \"Components\""
        );
    }

    #[test]
    fn component_rule_names_the_component_and_the_key() {
        let e = Invalid::new("limits.memoryMiB", "too big").in_component(Path::new(FILE), "s");
        assert_eq!(
            e,
            ConfigError {
                file: FILE.into(),
                component: Some("s".into()),
                key: Some("limits.memoryMiB".into()),
                message: "too big".into(),
            }
        );
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: component \"s\": key `limits.memoryMiB`: too big"
        );
    }

    #[test]
    fn shape_error_keys_by_serde_path_and_none_for_the_whole_value() {
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only deserialized, to provoke errors")]
        struct Shape {
            n: u8,
        }
        let shape = |text: &str| {
            let de = serde_norway::Deserializer::from_str(text);
            let e = serde_path_to_error::deserialize::<_, Shape>(de).unwrap_err();
            ConfigError::shape(Path::new(FILE), Some("s"), e)
        };
        // Reading text, serde_norway repeats the path and adds the position in its message.
        let nested = shape("n: x\n");
        assert_eq!(nested.key.as_deref(), Some("n"));
        assert_eq!(
            nested.to_string(),
            "/cfg/wasmplug.yaml: component \"s\": key `n`: n: invalid type: string \"x\", expected u8 at line 1 column 4"
        );
        let whole = shape("{}\n");
        assert_eq!(whole.key, None);
        assert_eq!(
            whole.to_string(),
            "/cfg/wasmplug.yaml: component \"s\": missing field `n`"
        );
    }
}
