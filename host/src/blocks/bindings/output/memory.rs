//! The native in-memory reference output binding: a "local storage" binding without a disk.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::localstorage::{CREATE, DELETE, FILE_NAME, GET, JSON, LIST, MAX_NAME_LEN, OPERATIONS};
use super::{BlockError, InvokeRequest, InvokeResponse, Metadata, OutputBinding};

/// An output binding keeping "files" in process memory, with exactly the operations,
/// responses and errors of the `localstorage` guest (see [`super::localstorage`]). It is
/// the baseline the shared contract tests compare the guest against.
///
/// Differences that follow from having no file system: init metadata (the guest's
/// `rootPath`) is ignored, and there are no directories or symlinks to refuse.
#[derive(Debug, Default)]
pub struct MemoryOutputBinding {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    initialised: bool,
    files: BTreeMap<String, Vec<u8>>,
}

impl MemoryOutputBinding {
    /// A new, uninitialised, empty binding.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_ready<R>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<R, BlockError>,
    ) -> Result<R, BlockError> {
        let mut inner = self.lock();
        if !inner.initialised {
            return Err(BlockError::Other(
                "local storage binding not initialised: init was not called".into(),
            ));
        }
        f(&mut inner)
    }
}

/// Checks that `name` is a plain, flat file name (the guest's rules, the guest's messages).
fn validate(name: &str) -> Result<(), BlockError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name == "." || name == ".." {
        "must not be \".\" or \"..\""
    } else if name.contains('/') {
        "must not contain '/' (names are flat: no directories, no absolute paths)"
    } else if name.contains('\\') {
        "must not contain '\\'"
    } else if name.contains('\0') {
        "must not contain NUL"
    } else if name.len() > MAX_NAME_LEN {
        "is too long"
    } else {
        return Ok(());
    };
    Err(BlockError::InvalidArgument(format!(
        "invalid fileName {name:?}: {reason}"
    )))
}

/// A fresh random name: 32 lowercase hex digits, like the guest's.
fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let half = |salt: u8| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(salt);
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(0), half(1))
}

/// `s` as a JSON string literal, escaped exactly as the guest escapes it.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn required(file_name: Option<&String>) -> Result<&str, BlockError> {
    let name = file_name.ok_or_else(|| {
        BlockError::InvalidArgument(format!("request metadata {FILE_NAME} is required"))
    })?;
    validate(name)?;
    Ok(name)
}

fn not_found(name: &str) -> BlockError {
    BlockError::NotFound(format!("file {name:?} not found"))
}

fn response(data: Vec<u8>, content_type: Option<&str>) -> InvokeResponse {
    InvokeResponse {
        data,
        metadata: Metadata::new(),
        content_type: content_type.map(str::to_owned),
    }
}

impl Inner {
    fn invoke(&mut self, request: InvokeRequest) -> Result<InvokeResponse, BlockError> {
        let file_name = request.metadata.get(FILE_NAME);
        match request.operation.as_str() {
            CREATE => {
                // An empty fileName means "pick one", as in Dapr.
                let name = match file_name.filter(|n| !n.is_empty()) {
                    Some(n) => {
                        validate(n)?;
                        n.clone()
                    }
                    None => loop {
                        let n = generate();
                        if !self.files.contains_key(&n) {
                            break n;
                        }
                    },
                };
                self.files.insert(name.clone(), request.data);
                Ok(InvokeResponse {
                    data: format!("{{\"fileName\":{}}}", json_string(&name)).into_bytes(),
                    metadata: Metadata::from([(FILE_NAME.to_owned(), name)]),
                    content_type: Some(JSON.to_owned()),
                })
            }
            GET => {
                let name = required(file_name)?;
                let data = self.files.get(name).ok_or_else(|| not_found(name))?;
                Ok(response(data.clone(), None))
            }
            LIST => {
                let names: Vec<String> = self.files.keys().map(|n| json_string(n)).collect();
                Ok(response(
                    format!("[{}]", names.join(",")).into_bytes(),
                    Some(JSON),
                ))
            }
            DELETE => {
                let name = required(file_name)?;
                self.files.remove(name).ok_or_else(|| not_found(name))?;
                Ok(response(Vec::new(), None))
            }
            other => Err(BlockError::Unimplemented(format!(
                "operation {other:?} is not supported by the local storage binding (supported: {})",
                OPERATIONS.join(", ")
            ))),
        }
    }
}

#[async_trait::async_trait]
impl OutputBinding for MemoryOutputBinding {
    async fn init(&self, _metadata: Metadata) -> Result<(), BlockError> {
        // A re-init (hot reload) keeps the files, as they would survive on a disk.
        self.lock().initialised = true;
        Ok(())
    }

    async fn list_operations(&self) -> Result<Vec<String>, BlockError> {
        self.with_ready(|_| Ok(OPERATIONS.map(str::to_owned).to_vec()))
    }

    async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, BlockError> {
        self.with_ready(|inner| inner.invoke(request))
    }

    async fn ping(&self) -> Result<(), BlockError> {
        self.with_ready(|_| Ok(()))
    }
}
