//! The wasm adapter: [`SecretStore`] over a component exporting `wasmplug:dapr/secret-store`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{BlockError, Metadata, Secret, SecretStore};
use crate::bindings::secrets_world::{SecretStoreComponent, SecretStoreComponentPre};
use crate::blocks::{md_from_wit, md_to_wit};
use crate::runtime::guest::{Guest, guest_call};

crate::runtime::guest::impl_world!(
    SecretStoreComponent,
    SecretStoreComponentPre,
    wasmplug_dapr_secret_store,
    crate::bindings::secrets_world::exports::wasmplug::dapr::secret_store::Guest
);

/// A secret store implemented by a sandboxed wasm component (one guest instance).
#[derive(Debug, Clone)]
pub struct WasmSecretStore {
    guest: Arc<Guest<SecretStoreComponent>>,
}

impl WasmSecretStore {
    pub(crate) fn new(guest: Guest<SecretStoreComponent>) -> Self {
        Self {
            guest: Arc::new(guest),
        }
    }
}

#[async_trait::async_trait]
impl SecretStore for WasmSecretStore {
    async fn init(&self, metadata: Metadata) -> Result<(), BlockError> {
        self.guest
            .init(md_to_wit(metadata))
            .await?
            .map_err(BlockError::from)
    }

    async fn features(&self) -> Result<Vec<String>, BlockError> {
        Ok(guest_call!(self.guest, "features", call_features()))
    }

    async fn get(&self, key: &str, metadata: Metadata) -> Result<Secret, BlockError> {
        let (key, md) = (key.to_owned(), md_to_wit(metadata));
        let pairs =
            guest_call!(self.guest, "get", call_get(&key, &md)).map_err(BlockError::from)?;
        Ok(md_from_wit(pairs))
    }

    async fn bulk_get(&self, metadata: Metadata) -> Result<BTreeMap<String, Secret>, BlockError> {
        let md = md_to_wit(metadata);
        let all =
            guest_call!(self.guest, "bulk-get", call_bulk_get(&md)).map_err(BlockError::from)?;
        let mut out = BTreeMap::new();
        for (name, pairs) in all {
            // A name twice would silently lose one of the answers: hold the guest to a map.
            if out.contains_key(&name) {
                return Err(BlockError::Other(format!(
                    "component returned secret {name:?} more than once from bulk-get"
                )));
            }
            out.insert(name, md_from_wit(pairs));
        }
        Ok(out)
    }

    async fn ping(&self) -> Result<(), BlockError> {
        guest_call!(self.guest, "ping", call_ping()).map_err(BlockError::from)
    }
}
