//! The runtime's errors: what can go wrong loading a component ([`LoadError`]), creating an
//! instance of one ([`InstanceError`]), and running it ([`ComponentError`], a host-side fault
//! such as a trap — never the guest's own error result, which each block maps to its own
//! error type).
//!
//! Convention: a `Display` never repeats its `source()`. Print a whole chain with
//! [`chain`] (or anyhow's `{:#}`).

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;

use crate::kind::BlockKind;
use crate::kv::KvError;

/// An error from a library this crate does not wrap further (wasmtime's own errors).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong inside a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The guest trapped (panic, unreachable, out-of-bounds, ...).
    Trap,
    /// The call ran past its deadline and was interrupted.
    Deadline,
    /// The guest tried to grow memory past its limit.
    MemoryLimit,
    /// A fresh instance could not be built or initialised.
    Instantiate,
    /// A call arrived before `init`.
    NotInitialized,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::Trap => "trapped",
            FaultKind::Deadline => "deadline exceeded",
            FaultKind::MemoryLimit => "memory limit exceeded",
            FaultKind::Instantiate => "instantiation failed",
            FaultKind::NotInitialized => "not initialised",
        })
    }
}

/// A failure of the component itself (a host-side fault), as opposed to an error the
/// component reported through its WIT `result`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("component {component:?} (instance {instance:?}) {kind} during {operation}: {message}")]
pub struct ComponentError {
    /// Configured component name.
    pub component: String,
    /// Dapr instance name.
    pub instance: String,
    /// The call that failed.
    pub operation: String,
    /// What happened.
    pub kind: FaultKind,
    /// Details.
    pub message: String,
}

impl ComponentError {
    /// A client-side view of a server's "not initialised" answer (no component details are
    /// known on that side of the wire).
    pub fn not_initialized(message: &str) -> Self {
        Self {
            component: String::new(),
            instance: String::new(),
            operation: String::new(),
            kind: FaultKind::NotInitialized,
            message: message.to_owned(),
        }
    }
}

/// An error loading or validating a component: which one, which file, and the problem.
#[derive(Debug)]
pub struct LoadError {
    /// Component name (or the file name for `wasmplug check`).
    pub component: String,
    /// The `.wasm` file.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: LoadProblem,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "component {:?} ({}): {}",
            self.component,
            self.path.display(),
            self.problem
        )
    }
}

impl StdError for LoadError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        // The problem is part of this error's own message; its cause is the next link.
        self.problem.source()
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadProblem {
    /// The `.wasm` file could not be read.
    #[error("cannot read the .wasm file")]
    Read(#[source] std::io::Error),
    /// The bytes are not a binary component.
    #[error("{0}")]
    NotAComponent(NotAComponent),
    /// wasmtime refused to compile it.
    #[error("invalid component")]
    Compile(#[source] BoxError),
    /// It compiles but cannot run here (imports, exports, block).
    #[error("{0}")]
    Unsupported(Unsupported),
    /// The host imports could not be set up.
    #[error("cannot set up the host imports")]
    Linker(#[source] BoxError),
    /// Linking its imports failed.
    #[error("cannot be linked")]
    Link(#[source] BoxError),
    /// Its exports do not have the shape of its block's world.
    #[error("does not match its world")]
    World(#[source] BoxError),
    /// Loading it panicked (a bug in wasmplug or wasmtime, reported rather than aborting).
    #[error("loading panicked")]
    Panicked,
}

/// What a file that is not a binary component is instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAComponent {
    /// No `\0asm` header.
    #[error("not a WebAssembly file (missing the \\0asm header)")]
    NotWasm,
    /// A core module.
    #[error(
        "this is a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// Another binary version or layer.
    #[error("unsupported WebAssembly binary version/layer")]
    UnsupportedVersion,
    /// A component header, but the sections cannot be read.
    #[error("malformed component: {0}")]
    Malformed(String),
}

/// Why a valid component cannot run as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// An import nobody provides.
    #[error("imports `{0}`, which wasmplug does not provide")]
    UnknownImport(String),
    /// A key-value import without a bucket grant.
    #[error("imports `{0}` but is granted no key-value bucket (add `grants.keyValue`)")]
    KeyValueNotGranted(String),
    /// No block interface among the exports.
    #[error("exports no known building block (expected one of: {expected}); it exports: [{}]", exports.join(", "))]
    NoBlockExport {
        /// The block interfaces wasmplug knows, comma-separated.
        expected: String,
        /// What it exports.
        exports: Vec<String>,
    },
    /// It implements other blocks than the configured one.
    #[error("is configured as `{configured}` but implements [{}]", implements.iter().map(|b| b.as_str()).collect::<Vec<_>>().join(", "))]
    WrongBlock {
        /// The block in the config.
        configured: BlockKind,
        /// The blocks it implements.
        implements: Vec<BlockKind>,
    },
}

/// Why a new instance of a loaded component could not be created (the embedding accessors'
/// and the bridge's instance factory's error).
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// No component has this name.
    #[error("no component named {0:?} in the config")]
    NoSuchComponent(String),
    /// The component implements another block.
    #[error("component {component:?} is a `{actual}` component, not `{wanted}`")]
    WrongBlock {
        /// Component name.
        component: String,
        /// What the caller wanted.
        wanted: BlockKind,
        /// What it is.
        actual: BlockKind,
    },
    /// A granted key-value bucket could not be opened.
    #[error("component {component:?}: cannot open key-value bucket {bucket:?}")]
    Bucket {
        /// Component name.
        component: String,
        /// Bucket name.
        bucket: String,
        /// Why.
        source: KvError,
    },
    /// The component's exports do not fit the world of the requested block.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The component is still being loaded (compiled or read from the cache).
    #[error("component {0:?} is still loading")]
    Loading(String),
}

/// Displays an error and every `source()` after it, `: `-separated.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_error_names_component_and_file_and_chains_its_cause() {
        let e = LoadError {
            component: "orders".into(),
            path: PathBuf::from("/x/orders.wasm"),
            problem: LoadProblem::Read(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            )),
        };
        assert_eq!(
            e.to_string(),
            "component \"orders\" (/x/orders.wasm): cannot read the .wasm file"
        );
        assert_eq!(
            chain(&e),
            "component \"orders\" (/x/orders.wasm): cannot read the .wasm file: no such file"
        );
    }

    #[test]
    fn unsupported_messages_say_what_to_do() {
        let e = Unsupported::KeyValueNotGranted("wasmplug:dapr/keyvalue-store@0.1.0".into());
        assert!(e.to_string().contains("add `grants.keyValue`"));
        let e = Unsupported::WrongBlock {
            configured: BlockKind::PubSub,
            implements: vec![BlockKind::State, BlockKind::Bindings],
        };
        assert_eq!(
            e.to_string(),
            "is configured as `pubsub` but implements [state, bindings]"
        );
        let e = Unsupported::NoBlockExport {
            expected: "a, b".into(),
            exports: vec!["x".into(), "y".into()],
        };
        assert_eq!(
            e.to_string(),
            "exports no known building block (expected one of: a, b); it exports: [x, y]"
        );
    }

    #[test]
    fn a_bucket_error_keeps_its_cause_out_of_its_own_message() {
        let e = InstanceError::Bucket {
            component: "c".into(),
            bucket: "b".into(),
            source: KvError::Backend("disk full".into()),
        };
        assert_eq!(
            e.to_string(),
            "component \"c\": cannot open key-value bucket \"b\""
        );
        assert!(chain(&e).ends_with("key-value backend error: disk full"));
    }
}
