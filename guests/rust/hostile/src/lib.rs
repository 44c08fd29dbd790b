//! A deliberately misbehaving state-store component for the host's sandbox tests.
//!
//! `init` always succeeds and `get` does whatever its key asks:
//!
//! | key                 | behaviour                                                     |
//! |---------------------|---------------------------------------------------------------|
//! | `loop`              | spins forever                                                 |
//! | `bomb`              | allocates and touches 1 MiB chunks forever                    |
//! | `panic`             | panics (the instance traps)                                   |
//! | `read:<path>`       | returns the file's contents, or `other` with the I/O error    |
//! | `write:<path>`      | writes `hostile` to the file; returns `written`               |
//! | `env:<NAME>`        | returns the environment variable, or `none`                   |
//! | `connect:<ip:port>` | opens a TCP connection; returns `connected`                   |
//! | `await:<ip:port>`   | connects and reads until the peer closes; returns what it read |
//! | `log:<msg>`         | writes `msg` to stderr and the host `logging` import          |
//! | `leak:<bytes>`      | allocates, touches and never frees `bytes`; returns `leaked`  |
//! | `calls`             | how many `get`s this instance has answered, this one included |
//! | anything else       | `none`                                                        |
//!
//! It never touches the key-value imports, so it needs no bucket grant.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use exports::wasmplug::dapr::state_store::{
    BulkGetItem, DeleteRequest, GetRequest, Guest, Item, Metadata, QueryRequest, QueryResponse,
    SetRequest, TransactRequest,
};
use wasmplug::dapr::logging::{self, Level};
use wasmplug::dapr::types::Error;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "state-store-component",
});

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;

fn item(data: impl Into<Vec<u8>>) -> Item {
    Item {
        data: data.into(),
        etag: None,
        metadata: Vec::new(),
        content_type: None,
    }
}

/// Burn CPU until the host interrupts the instance.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Grow memory until the host's limit (or the 4 GiB address space) stops it.
fn bomb() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; MIB];
        // Write to every page so the memory is really committed, not just reserved.
        for byte in chunk.iter_mut().step_by(PAGE) {
            *byte = 1;
        }
        chunks.push(black_box(chunk));
    }
}

fn connect(addr: &str) -> Result<Option<Item>, Error> {
    std::net::TcpStream::connect(addr)
        .map(|_stream| Some(item(*b"connected")))
        .map_err(|err| Error::Other(format!("connect {addr}: {err}")))
}

fn await_peer(addr: &str) -> Result<Option<Item>, Error> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr)
        .map_err(|err| Error::Other(format!("connect {addr}: {err}")))?;
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .map_err(|err| Error::Other(format!("read {addr}: {err}")))?;
    Ok(Some(item(got)))
}

/// `get` calls answered by this instance (a fresh instance starts at zero).
static CALLS: AtomicU64 = AtomicU64::new(0);

struct Component;

impl Guest for Component {
    fn init(_metadata: Metadata) -> Result<(), Error> {
        Ok(())
    }

    fn features() -> Vec<String> {
        Vec::new()
    }

    fn get(request: GetRequest) -> Result<Option<Item>, Error> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let key = request.key.as_str();
        if key == "calls" {
            return Ok(Some(item(calls.to_string().into_bytes())));
        }
        if let Some(bytes) = key.strip_prefix("leak:") {
            let bytes: usize = bytes
                .parse()
                .map_err(|_| Error::InvalidArgument(format!("leak:{bytes}")))?;
            black_box(Vec::leak(vec![1u8; bytes]));
            return Ok(Some(item(*b"leaked")));
        }
        if key == "loop" {
            spin();
        }
        if key == "bomb" {
            bomb();
        }
        if key == "panic" {
            panic!("hostile guest asked to panic");
        }
        if let Some(path) = key.strip_prefix("read:") {
            return std::fs::read(path)
                .map(|contents| Some(item(contents)))
                .map_err(|err| Error::Other(format!("read {path}: {err}")));
        }
        if let Some(path) = key.strip_prefix("write:") {
            return std::fs::write(path, b"hostile")
                .map(|()| Some(item(*b"written")))
                .map_err(|err| Error::Other(format!("write {path}: {err}")));
        }
        if let Some(name) = key.strip_prefix("env:") {
            return Ok(std::env::var(name).ok().map(item));
        }
        if let Some(addr) = key.strip_prefix("connect:") {
            return connect(addr);
        }
        if let Some(addr) = key.strip_prefix("await:") {
            return await_peer(addr);
        }
        if let Some(msg) = key.strip_prefix("log:") {
            eprintln!("{msg}");
            logging::log(Level::Info, "hostile", msg);
            return Ok(Some(item(*b"logged")));
        }
        Ok(None)
    }

    fn set(_request: SetRequest) -> Result<(), Error> {
        Ok(())
    }

    fn delete(_request: DeleteRequest) -> Result<(), Error> {
        Ok(())
    }

    /// Every key is missing (one answer per request, as the contract requires).
    fn bulk_get(requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, Error> {
        Ok(requests
            .into_iter()
            .map(|request| BulkGetItem {
                key: request.key,
                item: None,
                error: None,
            })
            .collect())
    }

    fn bulk_set(_requests: Vec<SetRequest>) -> Result<(), Error> {
        Ok(())
    }

    fn bulk_delete(_requests: Vec<DeleteRequest>) -> Result<(), Error> {
        Ok(())
    }

    fn transact(_request: TransactRequest) -> Result<(), Error> {
        Ok(())
    }

    fn query(_request: QueryRequest) -> Result<QueryResponse, Error> {
        Err(Error::Unimplemented(
            "query is not supported by the hostile guest".to_owned(),
        ))
    }

    fn multi_max_size() -> Option<u32> {
        None
    }

    fn ping() -> Result<(), Error> {
        Ok(())
    }
}

export!(Component);
