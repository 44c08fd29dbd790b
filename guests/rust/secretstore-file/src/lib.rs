//! A file-backed Dapr secret store as a wasmplug component (world
//! `secret-store-component`), compatible with the metadata of Dapr's
//! `secretstores.local.file`.
//!
//! The JSON file named by `secretsFile` is read and flattened once, at `init` (see
//! [`config`] for the metadata and [`store`] for how the document becomes secrets). A
//! re-init reads it again. Request metadata is ignored.

mod config;
mod json;
mod store;

use std::cell::RefCell;

use exports::wasmplug::dapr::secret_store::{Guest, Metadata, Secret};

use crate::config::Config;
use crate::store::Store;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "secret-store-component",
});

/// The error type of every secret-store function.
pub(crate) use wasmplug::dapr::types::Error;

/// Dapr's feature name for secrets with more than one key/value pair.
const MULTIPLE_KEY_VALUES_PER_SECRET: &str = "MULTIPLE_KEY_VALUES_PER_SECRET";

/// The loaded secrets and whether they are multi-valued.
struct Loaded {
    store: Store,
    multi_valued: bool,
}

thread_local! {
    /// The secrets loaded by `init`. Guests are single-threaded; `thread_local` just avoids
    /// `unsafe` for the global.
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

/// Run `f` with the secrets loaded by `init`.
fn with_loaded<T>(f: impl FnOnce(&Loaded) -> Result<T, Error>) -> Result<T, Error> {
    LOADED.with(|slot| match slot.borrow().as_ref() {
        Some(loaded) => f(loaded),
        None => Err(Error::Other(
            "secret store not initialised: init was not called".to_owned(),
        )),
    })
}

/// Read and flatten the configured file.
fn load(config: &Config) -> Result<Store, Error> {
    let path = &config.secrets_file;
    let bytes = std::fs::read(path)
        .map_err(|err| Error::Other(format!("cannot read secretsFile {path:?}: {err}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Other(format!("secretsFile {path:?} is not valid UTF-8")))?;
    Store::from_json(&text, &config.options)
        .map_err(|err| Error::Other(format!("invalid secretsFile {path:?}: {err}")))
}

/// The secret `key`, or `not-found`.
fn get_secret(store: &Store, key: &str) -> Result<Secret, Error> {
    store
        .get(key)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("secret {key:?} not found")))
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        let config = Config::from_metadata(&metadata)?;
        let store = load(&config)?;
        let loaded = Loaded {
            store,
            multi_valued: config.options.multi_valued,
        };
        LOADED.with(|slot| *slot.borrow_mut() = Some(loaded));
        Ok(())
    }

    fn features() -> Vec<String> {
        LOADED.with(|slot| match slot.borrow().as_ref() {
            Some(loaded) if loaded.multi_valued => {
                vec![MULTIPLE_KEY_VALUES_PER_SECRET.to_owned()]
            }
            _ => Vec::new(),
        })
    }

    fn get(key: String, _metadata: Metadata) -> Result<Secret, Error> {
        with_loaded(|loaded| get_secret(&loaded.store, &key))
    }

    fn bulk_get(_metadata: Metadata) -> Result<Vec<(String, Secret)>, Error> {
        with_loaded(|loaded| {
            Ok(loaded
                .store
                .all()
                .map(|(name, secret)| (name.clone(), secret.clone()))
                .collect())
        })
    }

    fn ping() -> Result<(), Error> {
        Ok(())
    }
}

export!(Component);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Options;

    /// A file under the system temp dir, removed on drop.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(tag: &str, contents: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!(
                "wasmplug-secretstore-{tag}-{}.json",
                std::process::id()
            ));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }

        fn config(&self, multi_valued: bool) -> Config {
            Config {
                secrets_file: self.0.to_str().unwrap().to_owned(),
                options: Options {
                    separator: ":".to_owned(),
                    multi_valued,
                },
            }
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn loads_a_file() {
        let file = TempFile::new("load", br#"{"a": {"b": "x"}, "c": "y"}"#);
        let store = load(&file.config(false)).unwrap();
        assert_eq!(
            get_secret(&store, "a:b").unwrap(),
            vec![("a:b".to_owned(), "x".to_owned())]
        );
        match get_secret(&store, "a") {
            Err(Error::NotFound(msg)) => assert_eq!(msg, "secret \"a\" not found"),
            other => panic!("unexpected {other:?}"),
        }
        let store = load(&file.config(true)).unwrap();
        assert_eq!(
            get_secret(&store, "a").unwrap(),
            vec![("b".to_owned(), "x".to_owned())]
        );
    }

    #[test]
    fn missing_and_invalid_files_name_the_file() {
        let missing = TempFile::new("missing", b"");
        let mut config = missing.config(false);
        config.secrets_file.push_str(".absent");
        match load(&config) {
            Err(Error::Other(msg)) => {
                assert!(msg.contains(&config.secrets_file), "{msg}");
                assert!(msg.contains("cannot read"), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
        for (tag, contents) in [
            ("syntax", &b"{\"a\": }"[..]),
            ("array", &b"[]"[..]),
            ("utf8", &b"{\"a\": \"\xff\"}"[..]),
        ] {
            let file = TempFile::new(tag, contents);
            let config = file.config(false);
            match load(&config) {
                Err(Error::Other(msg)) => assert!(msg.contains(&config.secrets_file), "{msg}"),
                other => panic!("{tag}: unexpected {other:?}"),
            }
        }
    }
}
