//! Compiling components, with an in-process cache and an optional on-disk cache of compiled
//! artifacts keyed by the wasm's SHA-256 and the engine's compatibility fingerprint.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::engine::Runtime;
use super::error::{LoadError, LoadProblem};
use super::inspect::check_is_component;

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now by Cranelift.
    Compiled,
    /// Loaded from the on-disk cache.
    Disk,
    /// Already loaded in this process.
    Memory,
}

impl Runtime {
    /// Compiles `bytes` (or loads it from memory or the on-disk cache) after checking it is a
    /// component. `name` and `path` only label errors.
    pub fn compile(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        cache_dir: Option<&Path>,
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let err = |problem: LoadProblem| LoadError {
            component: name.to_owned(),
            path: path.to_owned(),
            problem,
        };
        check_is_component(bytes).map_err(|e| err(LoadProblem::NotAComponent(e)))?;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(c) = self.compiled_lock().get(&digest) {
            return Ok((c.clone(), CacheOutcome::Memory));
        }
        let cache_file = cache_dir.map(|d| d.join(self.cache_file_name(&digest)));
        let (component, outcome) = match cache_file
            .as_deref()
            .and_then(|f| self.load_cached(name, f))
        {
            Some(c) => (c, CacheOutcome::Disk),
            None => {
                let c = Component::from_binary(self.engine(), bytes)
                    .map_err(|e| err(LoadProblem::Compile(e.into())))?;
                if let Some(file) = &cache_file
                    && let Err(e) = write_cache(file, &c)
                {
                    tracing::warn!(component = name, file = %file.display(), "cannot write compile cache: {e}");
                }
                (c, CacheOutcome::Compiled)
            }
        };
        self.compiled_lock().insert(digest, component.clone());
        Ok((component, outcome))
    }

    fn compiled_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<[u8; 32], Component>> {
        self.compiled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `<sha256>-<engine fingerprint>.cwasm`.
    fn cache_file_name(&self, digest: &[u8; 32]) -> PathBuf {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine().precompile_compatibility_hash().hash(&mut h);
        PathBuf::from(format!("{}-{:016x}.cwasm", hex::encode(digest), h.finish()))
    }

    /// A compiled artifact from the disk cache, or `None` (missing or unusable: a warning
    /// is logged and the caller compiles afresh, overwriting it).
    fn load_cached(&self, name: &str, file: &Path) -> Option<Component> {
        if !file.is_file() {
            return None;
        }
        // Read into memory rather than mmap: another process truncating or rewriting the
        // file must not be able to crash this one (SIGBUS on a shrunk mapping).
        let loaded = std::fs::read(file)
            .map_err(wasmtime::Error::from)
            .and_then(|bytes| {
                // SAFETY: the cache directory is ours: its files are written only by
                // `Component::serialize` in `write_cache` (atomically, via rename), and the
                // file name binds the wasm's hash and this engine's compatibility fingerprint.
                // wasmtime also checks the header and refuses artifacts of another engine
                // configuration.
                unsafe { Component::deserialize(self.engine(), &bytes) }
            });
        match loaded {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(component = name, file = %file.display(), "ignoring unusable compile cache entry: {e}");
                None
            }
        }
    }
}

/// Writes the compiled artifact next to its final name, then renames it into place, so a
/// reader never sees a partial file.
fn write_cache(file: &Path, component: &Component) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}
