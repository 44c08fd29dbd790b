//! A Dapr local-storage output binding as a wasmplug component (world
//! `output-binding-component`), compatible with the metadata of Dapr's
//! `bindings.localstorage`.
//!
//! Component metadata:
//! - `rootPath` (required): the guest path of a directory the host grants (e.g. `/data`).
//!   Every file the binding touches is directly inside it.
//!
//! Operations (see [`ops`]): `create`, `get`, `list`, `delete`, addressing files by the
//! request metadata `fileName`. Names are a flat namespace and are validated by [`names`]; the
//! binding never follows symlinks (see [`storage`]). The host's WASI sandbox confines the
//! component to the granted directory as well; these checks give clean errors.
//!
//! Every other metadata key is ignored (daprd passes many).

mod names;
mod ops;
mod storage;

use std::cell::RefCell;

use exports::wasmplug::dapr::output_binding::{Guest, InvokeRequest, InvokeResponse, Metadata};

use crate::storage::Storage;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "output-binding-component",
});

/// The error type of every binding function.
pub(crate) use wasmplug::dapr::types::Error;

/// Component metadata key naming the root directory.
const ROOT_PATH_METADATA: &str = "rootPath";

thread_local! {
    /// The storage opened by `init`. Guests are single-threaded; `thread_local` just avoids
    /// `unsafe` for the global.
    static STORAGE: RefCell<Option<Storage>> = const { RefCell::new(None) };
}

/// Run `f` with the storage opened by `init`.
fn with_storage<T>(f: impl FnOnce(&Storage) -> Result<T, Error>) -> Result<T, Error> {
    STORAGE.with(|slot| match slot.borrow().as_ref() {
        Some(storage) => f(storage),
        None => Err(Error::Other(
            "local storage binding not initialised: init was not called".to_owned(),
        )),
    })
}

/// The value of component metadata `key`; keys match case-insensitively, like Dapr's
/// metadata decoding. The last occurrence wins.
fn component_metadata<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        let root = component_metadata(&metadata, ROOT_PATH_METADATA).ok_or_else(|| {
            Error::InvalidArgument(format!("metadata {ROOT_PATH_METADATA} is required"))
        })?;
        let storage = Storage::open(root)?;
        // A re-init (hot reload) replaces the previous root.
        STORAGE.with(|slot| *slot.borrow_mut() = Some(storage));
        Ok(())
    }

    fn list_operations() -> Vec<String> {
        ops::OPERATIONS.map(str::to_owned).to_vec()
    }

    fn invoke(request: InvokeRequest) -> Result<InvokeResponse, Error> {
        with_storage(|storage| ops::invoke(storage, request))
    }

    fn ping() -> Result<(), Error> {
        with_storage(Storage::check_root)
    }
}

export!(Component);
