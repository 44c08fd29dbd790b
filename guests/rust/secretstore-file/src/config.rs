//! Component metadata.
//!
//! - `secretsFile` (required): path of the JSON file, inside a directory the host grants.
//! - `nestedSeparator` (default `:`; empty means the default): joins the path segments of
//!   nested values.
//! - `multiValued` (default `false`): one secret per top-level key, with many pairs. Accepts
//!   the values Dapr treats as true (`true`, `t`, `yes`, `y`, `on`, `1`, any case) or false
//!   (`false`, `f`, `no`, `n`, `off`, `0`, empty); anything else is `invalid-argument`.
//!
//! Keys match case-insensitively, like Dapr's metadata decoding; the last occurrence wins.
//! Other keys are ignored.

use crate::Error;
use crate::store::Options;

pub const SECRETS_FILE: &str = "secretsFile";
pub const NESTED_SEPARATOR: &str = "nestedSeparator";
pub const MULTI_VALUED: &str = "multiValued";
pub const DEFAULT_SEPARATOR: &str = ":";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub secrets_file: String,
    pub options: Options,
}

fn lookup<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn parse_bool(key: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "off" | "0" | "" => Ok(false),
        _ => Err(Error::InvalidArgument(format!(
            "metadata {key} must be true or false, not {value:?}"
        ))),
    }
}

impl Config {
    pub fn from_metadata(metadata: &[(String, String)]) -> Result<Self, Error> {
        let secrets_file = lookup(metadata, SECRETS_FILE)
            .filter(|path| !path.is_empty())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("metadata {SECRETS_FILE} is required"))
            })?;
        let separator = lookup(metadata, NESTED_SEPARATOR)
            .filter(|sep| !sep.is_empty())
            .unwrap_or(DEFAULT_SEPARATOR);
        let multi_valued = match lookup(metadata, MULTI_VALUED) {
            Some(value) => parse_bool(MULTI_VALUED, value)?,
            None => false,
        };
        Ok(Config {
            secrets_file: secrets_file.to_owned(),
            options: Options {
                separator: separator.to_owned(),
                multi_valued,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults() {
        let config = Config::from_metadata(&metadata(&[("secretsFile", "/s/x.json")])).unwrap();
        assert_eq!(config.secrets_file, "/s/x.json");
        assert_eq!(config.options.separator, ":");
        assert!(!config.options.multi_valued);
    }

    #[test]
    fn explicit_values() {
        let config = Config::from_metadata(&metadata(&[
            ("SECRETSFILE", "/s/x.json"),
            ("nestedseparator", "."),
            ("multiValued", "True"),
        ]))
        .unwrap();
        assert_eq!(config.options.separator, ".");
        assert!(config.options.multi_valued);
        let config = Config::from_metadata(&metadata(&[
            ("secretsFile", "/s/x.json"),
            ("nestedSeparator", ""),
            ("multiValued", "false"),
        ]))
        .unwrap();
        assert_eq!(config.options.separator, ":");
        assert!(!config.options.multi_valued);
    }

    #[test]
    fn invalid_values() {
        for pairs in [
            &[][..],
            &[("secretsFile", "")][..],
            &[("secretsFile", "/s/x.json"), ("multiValued", "maybe")][..],
        ] {
            assert!(
                matches!(
                    Config::from_metadata(&metadata(pairs)),
                    Err(Error::InvalidArgument(_))
                ),
                "{pairs:?}"
            );
        }
    }
}
