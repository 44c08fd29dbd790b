//! Secrets from a JSON document, flattened the way Dapr's `secretstores.local.file` does.
//!
//! Nested objects and arrays are flattened into paths joined with the separator (default
//! `:`); array elements use their index as the path segment (`{"list": ["x"]}` → `list:0`).
//! Leaves become text: strings as they are, numbers exactly as written in the file,
//! `true`/`false`, and `null` as the empty string.
//!
//! - Single-valued (default): every leaf is its own secret, named by its full path, holding
//!   one pair `{path: value}`. `{"db": {"password": "x"}}` → secret `db:password` =
//!   `{"db:password": "x"}`.
//! - Multi-valued: every top-level member is a secret whose pairs are its leaves, named by
//!   their path below it. `{"db": {"user": "u", "tls": {"key": "k"}}}` → secret `db` =
//!   `{"user": "u", "tls:key": "k"}`; a top-level leaf `{"token": "t"}` → secret `token` =
//!   `{"token": "t"}`.
//!
//! Two leaves that flatten to the same name (`{"a:b": "1", "a": {"b": "2"}}`, or a duplicate
//! key) make the file invalid: Dapr would keep an arbitrary one of them.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::json::{self, Value};

/// One secret's key/value pairs, sorted by key.
pub type Secret = Vec<(String, String)>;

/// How to read the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub separator: String,
    pub multi_valued: bool,
}

/// Every secret of the file, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Store {
    secrets: BTreeMap<String, Secret>,
}

impl Store {
    /// Parse and flatten the JSON `text`. The error describes the problem.
    pub fn from_json(text: &str, options: &Options) -> Result<Self, String> {
        let Value::Object(members) = json::parse(text)? else {
            return Err("the top-level JSON value must be an object".to_owned());
        };
        let mut secrets = BTreeMap::new();
        for (name, value) in members {
            let secret = if options.multi_valued {
                let pairs = match value {
                    value @ (Value::Object(_) | Value::Array(_)) => {
                        leaves(value, &options.separator)?
                    }
                    leaf => vec![(name.clone(), text_of(leaf))],
                };
                vec![(name, pairs)]
            } else {
                let mut all = Vec::new();
                flatten(value, &mut vec![name], &options.separator, &mut all);
                all.into_iter()
                    .map(|(path, text)| (path.clone(), vec![(path, text)]))
                    .collect()
            };
            for (name, pairs) in secret {
                match secrets.entry(name) {
                    Entry::Vacant(slot) => {
                        slot.insert(pairs);
                    }
                    Entry::Occupied(slot) => {
                        return Err(format!("duplicate secret {:?}", slot.key()));
                    }
                }
            }
        }
        Ok(Store { secrets })
    }

    /// The secret `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }

    /// Every secret, sorted by name.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Secret)> {
        self.secrets.iter()
    }
}

/// The leaves of `value` with paths relative to it, sorted by path; a repeated path is an
/// error.
fn leaves(value: Value, separator: &str) -> Result<Secret, String> {
    let mut all = Vec::new();
    flatten(value, &mut Vec::new(), separator, &mut all);
    let mut sorted = BTreeMap::new();
    for (path, text) in all {
        if sorted.insert(path.clone(), text).is_some() {
            return Err(format!("duplicate key {path:?} in a secret"));
        }
    }
    Ok(sorted.into_iter().collect())
}

/// Append every leaf under `value` (at `path`) to `out`, as (joined path, text).
fn flatten(value: Value, path: &mut Vec<String>, separator: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(members) => {
            for (key, child) in members {
                path.push(key);
                flatten(child, path, separator, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.into_iter().enumerate() {
                path.push(index.to_string());
                flatten(child, path, separator, out);
                path.pop();
            }
        }
        leaf => out.push((path.join(separator), text_of(leaf))),
    }
}

/// The secret text of a leaf.
fn text_of(leaf: Value) -> String {
    match leaf {
        Value::String(text) | Value::Number(text) => text,
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        // Containers are flattened before they get here.
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "redisPassword": "hunter2",
        "connectionStrings": {
            "sql": "Server=db",
            "nested": {"deep": "value", "port": 5432}
        },
        "flags": [true, null, 1.50],
        "empty": {},
        "count": 12345678901234567890
    }"#;

    fn options(separator: &str, multi_valued: bool) -> Options {
        Options {
            separator: separator.to_owned(),
            multi_valued,
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Secret {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn names(store: &Store) -> Vec<&str> {
        store.all().map(|(name, _)| name.as_str()).collect()
    }

    #[test]
    fn single_valued_flattens_every_leaf() {
        let store = Store::from_json(DOC, &options(":", false)).unwrap();
        assert_eq!(
            names(&store),
            [
                "connectionStrings:nested:deep",
                "connectionStrings:nested:port",
                "connectionStrings:sql",
                "count",
                "flags:0",
                "flags:1",
                "flags:2",
                "redisPassword",
            ]
        );
        assert_eq!(
            store.get("redisPassword"),
            Some(&pairs(&[("redisPassword", "hunter2")]))
        );
        assert_eq!(
            store.get("connectionStrings:sql"),
            Some(&pairs(&[("connectionStrings:sql", "Server=db")]))
        );
        assert_eq!(
            store.get("connectionStrings:nested:port"),
            Some(&pairs(&[("connectionStrings:nested:port", "5432")]))
        );
        assert_eq!(store.get("flags:0"), Some(&pairs(&[("flags:0", "true")])));
        assert_eq!(store.get("flags:1"), Some(&pairs(&[("flags:1", "")])));
        assert_eq!(store.get("flags:2"), Some(&pairs(&[("flags:2", "1.50")])));
        assert_eq!(
            store.get("count"),
            Some(&pairs(&[("count", "12345678901234567890")]))
        );
        assert_eq!(store.get("connectionStrings"), None);
        assert_eq!(store.get("empty"), None);
        assert_eq!(store.get("missing"), None);
    }

    #[test]
    fn separator_is_configurable() {
        let store = Store::from_json(DOC, &options(".", false)).unwrap();
        assert_eq!(
            store.get("connectionStrings.nested.deep"),
            Some(&pairs(&[("connectionStrings.nested.deep", "value")]))
        );
        assert_eq!(store.get("connectionStrings:sql"), None);
        let store = Store::from_json(DOC, &options("__", true)).unwrap();
        assert_eq!(
            store.get("connectionStrings"),
            Some(&pairs(&[
                ("nested__deep", "value"),
                ("nested__port", "5432"),
                ("sql", "Server=db"),
            ]))
        );
    }

    #[test]
    fn multi_valued_groups_by_top_level_key() {
        let store = Store::from_json(DOC, &options(":", true)).unwrap();
        assert_eq!(
            names(&store),
            [
                "connectionStrings",
                "count",
                "empty",
                "flags",
                "redisPassword"
            ]
        );
        assert_eq!(
            store.get("connectionStrings"),
            Some(&pairs(&[
                ("nested:deep", "value"),
                ("nested:port", "5432"),
                ("sql", "Server=db"),
            ]))
        );
        assert_eq!(
            store.get("redisPassword"),
            Some(&pairs(&[("redisPassword", "hunter2")]))
        );
        assert_eq!(
            store.get("flags"),
            Some(&pairs(&[("0", "true"), ("1", ""), ("2", "1.50")]))
        );
        assert_eq!(store.get("empty"), Some(&Vec::new()));
        assert_eq!(store.get("connectionStrings:sql"), None);
    }

    #[test]
    fn collisions_are_rejected() {
        let colliding = r#"{"a:b": "1", "a": {"b": "2"}}"#;
        let err = Store::from_json(colliding, &options(":", false)).unwrap_err();
        assert!(err.contains("\"a:b\""), "{err}");
        // With another separator they do not collide.
        assert!(Store::from_json(colliding, &options("/", false)).is_ok());
        // Nor in multi-valued mode, where they are different secrets.
        assert!(Store::from_json(colliding, &options(":", true)).is_ok());

        let duplicate = r#"{"k": "1", "k": "2"}"#;
        assert!(Store::from_json(duplicate, &options(":", false)).is_err());
        assert!(Store::from_json(duplicate, &options(":", true)).is_err());
        let inner = r#"{"s": {"a:b": "1", "a": {"b": "2"}}}"#;
        assert!(Store::from_json(inner, &options(":", true)).is_err());
    }

    #[test]
    fn the_document_must_be_an_object() {
        for text in ["[]", "\"x\"", "1", "null"] {
            let err = Store::from_json(text, &options(":", false)).unwrap_err();
            assert!(err.contains("must be an object"), "{err}");
        }
        assert!(Store::from_json("{", &options(":", false)).is_err());
        assert_eq!(
            Store::from_json("{}", &options(":", false)),
            Ok(Store::default())
        );
    }

    #[test]
    fn dapr_conformance_shape() {
        let text = r#"{"conftestsecret": "abcd", "secondsecret": "efgh"}"#;
        let store = Store::from_json(text, &options(":", false)).unwrap();
        assert_eq!(
            store.get("conftestsecret"),
            Some(&pairs(&[("conftestsecret", "abcd")]))
        );
        assert_eq!(names(&store), ["conftestsecret", "secondsecret"]);
    }
}
