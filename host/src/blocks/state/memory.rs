//! The native in-memory reference state store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::{
    BulkGetItem, Concurrency, DeleteRequest, GetRequest, Metadata, QueryRequest, QueryResponse,
    SetRequest, StateError, StateItem, StateStore, TTL_EXPIRE_TIME, TTL_IN_SECONDS,
    TransactOperation, TransactRequest, features,
};

/// A state store in process memory with exactly the semantics the wasm guests must have.
/// It is the baseline the shared contract tests and the benchmarks compare against.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    initialised: bool,
    entries: HashMap<String, Entry>,
    last_version: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    data: Vec<u8>,
    version: u64,
    expires: Option<SystemTime>,
    content_type: Option<String>,
}

impl Entry {
    fn live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|t| t > now)
    }

    fn item(&self) -> StateItem {
        let mut metadata = Metadata::new();
        if let Some(t) = self.expires {
            metadata.insert(
                TTL_EXPIRE_TIME.into(),
                humantime::format_rfc3339_millis(t).to_string(),
            );
        }
        StateItem {
            data: self.data.clone(),
            etag: Some(self.version.to_string()),
            metadata,
            content_type: self.content_type.clone(),
        }
    }
}

/// Parses `ttlInSeconds`: `Some(None)` clears, `Some(Some(d))` sets, `None` = absent.
pub(crate) fn parse_ttl(metadata: &Metadata) -> Result<Option<Duration>, StateError> {
    let Some(raw) = metadata.get(TTL_IN_SECONDS) else {
        return Ok(None);
    };
    match raw.trim().parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(s) if s > 0 => Ok(Some(Duration::from_secs(s.unsigned_abs()))),
        _ => Err(StateError::InvalidArgument(format!(
            "metadata {TTL_IN_SECONDS}={raw:?} must be a positive integer or -1"
        ))),
    }
}

/// A write after validation.
enum Op {
    Put { key: String, entry: Entry },
    Remove { key: String },
}

/// Checks the etag/concurrency of a write against the live value it would replace.
fn check(
    key: &str,
    etag: Option<&str>,
    concurrency: Concurrency,
    current: Option<&Entry>,
) -> Result<(), StateError> {
    let etag = etag.filter(|e| !e.is_empty());
    match (etag, current) {
        (Some(e), cur) => {
            // An etag this store could never have issued cannot match either: daprd and its
            // conformance suite expect a mismatch (FAILED_PRECONDITION), not "invalid".
            if cur.map(|c| c.version.to_string()).as_deref() != Some(e) {
                return Err(StateError::EtagMismatch(format!(
                    "etag {e:?} does not match the stored value of key {key:?}"
                )));
            }
            Ok(())
        }
        (None, Some(_)) if concurrency == Concurrency::FirstWrite => Err(StateError::EtagMismatch(
            format!("key {key:?} already exists and first-write requires an etag"),
        )),
        (None, _) => Ok(()),
    }
}

fn check_key(key: &str) -> Result<(), StateError> {
    if key.is_empty() {
        return Err(StateError::InvalidArgument("key must not be empty".into()));
    }
    Ok(())
}

impl Inner {
    fn ready(&self) -> Result<(), StateError> {
        if !self.initialised {
            return Err(StateError::Other(
                "state store not initialised: init was not called".into(),
            ));
        }
        Ok(())
    }

    /// Validates every operation against the state left by the ones before it, then applies
    /// them all; on any error nothing changes.
    fn apply(&mut self, ops: Vec<TransactOperation>) -> Result<(), StateError> {
        let now = SystemTime::now();
        let mut overlay: HashMap<String, Option<Entry>> = HashMap::new();
        let mut planned = Vec::with_capacity(ops.len());
        let mut next = self.last_version;
        for op in ops {
            let key = match &op {
                TransactOperation::Set(s) => &s.key,
                TransactOperation::Delete(d) => &d.key,
            };
            check_key(key)?;
            let current = match overlay.get(key) {
                Some(e) => e.clone(),
                None => self.entries.get(key).filter(|e| e.live(now)).cloned(),
            };
            match op {
                TransactOperation::Set(s) => {
                    check(
                        &s.key,
                        s.etag.as_deref(),
                        s.options.concurrency,
                        current.as_ref(),
                    )?;
                    let ttl = parse_ttl(&s.metadata)?;
                    next += 1;
                    let entry = Entry {
                        data: s.value,
                        version: next,
                        expires: ttl.map(|d| now + d),
                        content_type: s
                            .content_type
                            .or_else(|| s.metadata.get("contentType").cloned()),
                    };
                    overlay.insert(s.key.clone(), Some(entry.clone()));
                    planned.push(Op::Put { key: s.key, entry });
                }
                TransactOperation::Delete(d) => {
                    check(
                        &d.key,
                        d.etag.as_deref(),
                        d.options.concurrency,
                        current.as_ref(),
                    )?;
                    overlay.insert(d.key.clone(), None);
                    planned.push(Op::Remove { key: d.key });
                }
            }
        }
        for op in planned {
            match op {
                Op::Put { key, entry } => {
                    self.entries.insert(key, entry);
                }
                Op::Remove { key } => {
                    self.entries.remove(&key);
                }
            }
        }
        self.last_version = next;
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<StateItem>, StateError> {
        check_key(key)?;
        let now = SystemTime::now();
        Ok(self
            .entries
            .get(key)
            .filter(|e| e.live(now))
            .map(Entry::item))
    }
}

impl MemoryStateStore {
    /// A new, uninitialised store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_ready<R>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        let mut inner = self.lock();
        inner.ready()?;
        f(&mut inner)
    }
}

#[async_trait::async_trait]
impl StateStore for MemoryStateStore {
    async fn init(&self, _metadata: Metadata) -> Result<(), StateError> {
        self.lock().initialised = true;
        Ok(())
    }

    async fn features(&self) -> Result<Vec<String>, StateError> {
        Ok(vec![
            features::ETAG.into(),
            features::TRANSACTIONAL.into(),
            features::TTL.into(),
        ])
    }

    async fn get(&self, request: GetRequest) -> Result<Option<StateItem>, StateError> {
        self.with_ready(|i| i.get(&request.key))
    }

    async fn set(&self, request: SetRequest) -> Result<(), StateError> {
        self.with_ready(|i| i.apply(vec![TransactOperation::Set(request)]))
    }

    async fn delete(&self, request: DeleteRequest) -> Result<(), StateError> {
        self.with_ready(|i| i.apply(vec![TransactOperation::Delete(request)]))
    }

    async fn bulk_get(&self, requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, StateError> {
        self.with_ready(|i| {
            requests
                .into_iter()
                .map(|r| {
                    Ok(BulkGetItem {
                        item: i.get(&r.key)?,
                        key: r.key,
                        error: None,
                    })
                })
                .collect()
        })
    }

    async fn bulk_set(&self, requests: Vec<SetRequest>) -> Result<(), StateError> {
        self.with_ready(|i| i.apply(requests.into_iter().map(TransactOperation::Set).collect()))
    }

    async fn bulk_delete(&self, requests: Vec<DeleteRequest>) -> Result<(), StateError> {
        self.with_ready(|i| {
            i.apply(
                requests
                    .into_iter()
                    .map(TransactOperation::Delete)
                    .collect(),
            )
        })
    }

    async fn transact(&self, request: TransactRequest) -> Result<(), StateError> {
        self.with_ready(|i| i.apply(request.operations))
    }

    async fn query(&self, _request: QueryRequest) -> Result<QueryResponse, StateError> {
        self.with_ready(|_| {
            Err(StateError::Unimplemented(
                "query is not supported by this state store".into(),
            ))
        })
    }

    async fn multi_max_size(&self) -> Result<Option<u32>, StateError> {
        self.with_ready(|_| Ok(None))
    }

    async fn ping(&self) -> Result<(), StateError> {
        Ok(())
    }
}
