//! The native in-memory reference secret store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{BlockError, Metadata, Secret, SecretStore};

/// A secret store over a fixed map of secrets, with the semantics of the `secretstore-file`
/// guest reading a flat (not nested, not multi-valued) JSON file: secret `name` is the single
/// pair `{name: value}`, a missing secret is [`BlockError::NotFound`], no features are
/// advertised, and every call before [`SecretStore::init`] fails. Init metadata is ignored:
/// the secrets are given at construction.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    secrets: BTreeMap<String, String>,
    initialised: AtomicBool,
}

impl MemorySecretStore {
    /// A new, uninitialised store holding `secrets` (name → value).
    pub fn new<K: Into<String>, V: Into<String>>(
        secrets: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            secrets: secrets
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            initialised: AtomicBool::new(false),
        }
    }

    fn ready(&self) -> Result<(), BlockError> {
        if !self.initialised.load(Ordering::Acquire) {
            return Err(BlockError::Other(
                "secret store not initialised: init was not called".into(),
            ));
        }
        Ok(())
    }

    fn secret(name: &str, value: &str) -> Secret {
        Secret::from([(name.to_owned(), value.to_owned())])
    }
}

#[async_trait::async_trait]
impl SecretStore for MemorySecretStore {
    async fn init(&self, _metadata: Metadata) -> Result<(), BlockError> {
        self.initialised.store(true, Ordering::Release);
        Ok(())
    }

    async fn features(&self) -> Result<Vec<String>, BlockError> {
        self.ready()?;
        Ok(Vec::new())
    }

    async fn get(&self, key: &str, _metadata: Metadata) -> Result<Secret, BlockError> {
        self.ready()?;
        self.secrets
            .get(key)
            .map(|v| Self::secret(key, v))
            .ok_or_else(|| BlockError::NotFound(format!("secret {key:?} not found")))
    }

    async fn bulk_get(&self, _metadata: Metadata) -> Result<BTreeMap<String, Secret>, BlockError> {
        self.ready()?;
        Ok(self
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), Self::secret(k, v)))
            .collect())
    }

    async fn ping(&self) -> Result<(), BlockError> {
        self.ready()
    }
}
