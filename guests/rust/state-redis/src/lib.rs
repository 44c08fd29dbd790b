//! Dapr's `state.redis` as a wasmplug component (world `state-store-component`): it talks
//! RESP2 to Redis itself over `wasi:sockets` TCP (the host lets it reach only the peers its
//! `grants.tcp` lists) and keeps Dapr's data layout, so a store can move between daprd's
//! native component and this one (the `script` module describes the layout).
//!
//! Component metadata (Dapr's names; every other key is ignored, daprd passes many):
//! - `redisHost` (required, `host:port`), `redisUsername`, `redisPassword`, `redisDB`,
//!   `dialTimeout`/`readTimeout`/`writeTimeout`: see `wasmplug_guest::resp::Options`.
//! - `enableTLS`: refused unless `false` (no TLS inside the guest).
//! - `redisType` other than `node`, `failover` other than `false`: refused (one Redis node only).
//! - `ttlInSeconds`: the TTL of a set that gives none.
//!
//! `init` connects and sends `PING`, so a wrong address, password or grant fails there.
//!
//! Where this differs from Dapr's component (the wasmplug state contract decides):
//! - an etag that is not an integer is an etag mismatch (Dapr: invalid etag), and an etag
//!   on a missing key is a mismatch for set and delete (Dapr's scripts accept it);
//! - first-write is per request: a set with first-write concurrency and no etag fails if
//!   the key exists; a later set without first-write succeeds even on a key Dapr marked
//!   `first-write` (Dapr refuses every etag-less set on such a key);
//! - a set without a TTL (and no component default) removes the key's TTL (Dapr keeps it);
//! - a new key's version starts at the server clock in microseconds, not at 1, so a key
//!   deleted and created again never repeats an etag;
//! - bulk set and bulk delete are all-or-nothing, like transactions, and a transaction is
//!   one Lua script that checks every etag before writing anything (Dapr: MULTI/EXEC, where
//!   one failed etag does not undo the others);
//! - a content type is kept (extra hash field `contentType`, only when given);
//! - not supported: query (RediSearch/RedisJSON), Redis Cluster and Sentinel, TLS, waiting
//!   for replicas on strong consistency (`WAIT`).

mod script;
mod time;

use std::cell::RefCell;

use exports::wasmplug::dapr::state_store::{
    BulkGetItem, Concurrency, DeleteRequest, GetRequest, Guest, Item, Metadata, Operation,
    QueryRequest, QueryResponse, SetRequest, TransactRequest,
};
use script::{Op, Stored};
use wasmplug_guest::metadata;
use wasmplug_guest::resp::{self, Client, RespError, Value};

wit_bindgen::generate!({
    path: "../../../wit",
    world: "state-store-component",
    with: {
        "wasmplug:dapr/types@0.1.0": wasmplug_guest::types,
        "wasmplug:dapr/keyvalue-store@0.1.0": wasmplug_guest::keyvalue_store,
        "wasmplug:dapr/keyvalue-atomics@0.1.0": wasmplug_guest::keyvalue_atomics,
        "wasmplug:dapr/keyvalue-batch@0.1.0": wasmplug_guest::keyvalue_batch,
        "wasmplug:dapr/config@0.1.0": wasmplug_guest::config,
        "wasmplug:dapr/logging@0.1.0": wasmplug_guest::logging,
    },
});

/// The error type of every state-store function.
pub(crate) use wasmplug_guest::Error;

/// The connection and settings made by `init`.
struct Store {
    client: Client,
    default_ttl: Option<i64>,
}

thread_local! {
    /// Set by `init`. Guests are single-threaded; `thread_local` just avoids `unsafe`.
    static STORE: RefCell<Option<Store>> = const { RefCell::new(None) };
}

fn with_store<T>(f: impl FnOnce(&mut Store) -> Result<T, Error>) -> Result<T, Error> {
    STORE.with(|slot| match slot.borrow_mut().as_mut() {
        Some(store) => f(store),
        None => Err(Error::Other(
            "state store not initialised: init was not called".to_owned(),
        )),
    })
}

/// A failure talking to Redis, naming the server (never a password: `resp` leaves it out).
fn redis_error(client: &Client, e: &RespError) -> Error {
    Error::Other(format!("redis at {}: {e}", client.options().addr))
}

/// Reads Dapr's metadata; `Err` names the wrong key.
fn parse_metadata(md: &[(String, String)]) -> Result<(resp::Options, Option<i64>), Error> {
    let options = resp::Options::from_metadata(md).map_err(Error::InvalidArgument)?;
    let get = |key: &str| {
        md.iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    if let Some(t) = get("redisType")
        && !t.eq_ignore_ascii_case("node")
    {
        return Err(Error::InvalidArgument(format!(
            "metadata redisType {t:?}: this component talks to one Redis node only (redisType node)"
        )));
    }
    if let Some(f) = get("failover")
        && !f.eq_ignore_ascii_case("false")
    {
        return Err(Error::InvalidArgument(format!(
            "metadata failover {f:?}: Redis Sentinel failover is not supported by this component"
        )));
    }
    let default_ttl = match get(script::TTL_IN_SECONDS) {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            Error::InvalidArgument(format!(
                "metadata {} {v:?} is not a whole number of seconds",
                script::TTL_IN_SECONDS
            ))
        })?),
    };
    Ok((options, default_ttl))
}

/// Connects (`PING`), with an error that says whether the peer was unreachable or refused
/// the credentials.
fn connect(client: &mut Client) -> Result<(), Error> {
    let addr = client.options().addr.clone();
    client.connect().map_err(|e| match &e {
        RespError::Server(m)
            if ["WRONGPASS", "NOAUTH", "AUTH", "invalid password", "NOPERM"]
                .iter()
                .any(|w| m.contains(w)) =>
        {
            Error::Other(format!(
                "authentication to Redis at {addr} failed (check redisUsername/redisPassword): {e}"
            ))
        }
        // What `wasi:sockets` answers for a peer the component is not granted.
        RespError::Io(m) if m.contains("Permission denied") || m.contains("permission denied") => {
            Error::Other(format!(
                "cannot connect to Redis at {addr}: the sandbox refused the connection \
                 (is {addr} listed in this component's grants.tcp?): {e}"
            ))
        }
        _ => Error::Other(format!("cannot use Redis at {addr}: {e}")),
    })
}

fn set_op(request: SetRequest, default_ttl: Option<i64>) -> Result<Op, Error> {
    script::check_key(&request.key)?;
    let etag = if request.options.concurrency == Concurrency::LastWrite {
        // Dapr: last-write ignores the etag.
        None
    } else {
        script::parse_etag(&request.key, request.etag.as_deref())?
    };
    let ttl = script::parse_ttl(&request.metadata, default_ttl)?;
    let content_type = request
        .content_type
        .filter(|c| !c.is_empty())
        .or_else(|| metadata::non_empty(&request.metadata, "contentType").map(str::to_owned));
    Ok(Op::Set {
        key: request.key,
        etag,
        first_write: request.options.concurrency == Concurrency::FirstWrite,
        ttl,
        data: request.value,
        content_type,
    })
}

fn delete_op(request: DeleteRequest) -> Result<Op, Error> {
    script::check_key(&request.key)?;
    let etag = script::parse_etag(&request.key, request.etag.as_deref())?;
    Ok(Op::Delete {
        key: request.key,
        etag,
    })
}

/// Runs the operations as one atomic script.
fn apply(store: &mut Store, ops: &[Op]) -> Result<(), Error> {
    if ops.is_empty() {
        return Ok(());
    }
    match store.client.call(&script::apply_command(ops)) {
        Ok(_) => Ok(()),
        Err(RespError::Server(reply)) => Err(script::apply_error(ops, &reply)),
        Err(e) => Err(redis_error(&store.client, &e)),
    }
}

fn operations(
    store: &Store,
    requests: impl IntoIterator<Item = Operation>,
) -> Result<Vec<Op>, Error> {
    requests
        .into_iter()
        .map(|o| match o {
            Operation::Set(s) => set_op(s, store.default_ttl),
            Operation::Delete(d) => delete_op(d),
        })
        .collect()
}

/// Reads keys in one script; one result per key, in order.
fn read(store: &mut Store, keys: &[&str]) -> Result<Vec<Result<Option<Stored>, String>>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let reply = store
        .client
        .call(&script::read_command(keys))
        .map_err(|e| redis_error(&store.client, &e))?;
    let now = time::now_unix_ms();
    let entries = reply.into_array().unwrap_or_default();
    Ok(keys
        .iter()
        .enumerate()
        .map(|(i, key)| match entries.get(i) {
            Some(entry) => script::decode_entry(key, entry, now),
            None => Err(format!("key {key:?}: no reply from the read script")),
        })
        .collect())
}

fn item(stored: Stored) -> Item {
    Item {
        data: stored.data,
        etag: stored.etag,
        metadata: stored
            .expires
            .map(|e| (script::TTL_EXPIRE_TIME.to_owned(), e))
            .into_iter()
            .collect(),
        content_type: stored.content_type,
    }
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        let (options, default_ttl) = parse_metadata(&metadata)?;
        let mut client = Client::new(options);
        connect(&mut client)?;
        // A re-init (hot reload) replaces the previous connection.
        STORE.with(|slot| {
            *slot.borrow_mut() = Some(Store {
                client,
                default_ttl,
            });
        });
        Ok(())
    }

    fn features() -> Vec<String> {
        ["ETAG", "TRANSACTIONAL", "TTL"].map(str::to_owned).to_vec()
    }

    fn get(request: GetRequest) -> Result<Option<Item>, Error> {
        script::check_key(&request.key)?;
        with_store(|store| {
            let mut results = read(store, &[request.key.as_str()])?;
            match results.pop() {
                Some(Ok(stored)) => Ok(stored.map(item)),
                Some(Err(e)) => Err(Error::Other(e)),
                None => Err(Error::Other("redis: no reply".to_owned())),
            }
        })
    }

    fn set(request: SetRequest) -> Result<(), Error> {
        with_store(|store| {
            let op = set_op(request, store.default_ttl)?;
            apply(store, &[op])
        })
    }

    fn delete(request: DeleteRequest) -> Result<(), Error> {
        with_store(|store| {
            let op = delete_op(request)?;
            apply(store, &[op])
        })
    }

    fn bulk_get(requests: Vec<GetRequest>) -> Result<Vec<BulkGetItem>, Error> {
        with_store(|store| {
            // Empty keys get a per-key error; the rest are read in one script.
            let keys: Vec<&str> = requests
                .iter()
                .map(|r| r.key.as_str())
                .filter(|k| !k.is_empty())
                .collect();
            let mut results = read(store, &keys)?.into_iter();
            Ok(requests
                .iter()
                .map(|r| {
                    let result = if r.key.is_empty() {
                        Err("the state key is empty".to_owned())
                    } else {
                        results
                            .next()
                            .unwrap_or_else(|| Err("no reply from the read script".to_owned()))
                    };
                    match result {
                        Ok(stored) => BulkGetItem {
                            key: r.key.clone(),
                            item: stored.map(item),
                            error: None,
                        },
                        Err(e) => BulkGetItem {
                            key: r.key.clone(),
                            item: None,
                            error: Some(e),
                        },
                    }
                })
                .collect())
        })
    }

    fn bulk_set(requests: Vec<SetRequest>) -> Result<(), Error> {
        with_store(|store| {
            let ops = operations(store, requests.into_iter().map(Operation::Set))?;
            apply(store, &ops)
        })
    }

    fn bulk_delete(requests: Vec<DeleteRequest>) -> Result<(), Error> {
        with_store(|store| {
            let ops = operations(store, requests.into_iter().map(Operation::Delete))?;
            apply(store, &ops)
        })
    }

    fn transact(request: TransactRequest) -> Result<(), Error> {
        with_store(|store| {
            let ops = operations(store, request.operations)?;
            apply(store, &ops)
        })
    }

    fn query(_request: QueryRequest) -> Result<QueryResponse, Error> {
        Err(Error::Unimplemented(
            "query is not supported by this state store (Dapr's needs RediSearch)".to_owned(),
        ))
    }

    fn multi_max_size() -> Option<u32> {
        None
    }

    fn ping() -> Result<(), Error> {
        with_store(|store| {
            store
                .client
                .call(&["PING"])
                .map(|_: Value| ())
                .map_err(|e| redis_error(&store.client, &e))
        })
    }
}

export!(Component);

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn component_metadata() {
        let (o, ttl) = parse_metadata(&md(&[
            ("redisHost", "127.0.0.1:6379"),
            ("redisPassword", "pw"),
            ("ttlInSeconds", "60"),
            ("actorStateStore", "true"),
        ]))
        .unwrap();
        assert_eq!(o.addr, "127.0.0.1:6379");
        assert_eq!(ttl, Some(60));
        let err = |pairs: &[(&str, &str)]| match parse_metadata(&md(pairs)) {
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(err(&[]).contains("redisHost"));
        assert!(err(&[("redisHost", "h:1"), ("ttlInSeconds", "x")]).contains("ttlInSeconds"));
        assert!(err(&[("redisHost", "h:1"), ("redisType", "cluster")]).contains("redisType"));
        assert!(err(&[("redisHost", "h:1"), ("failover", "true")]).contains("failover"));
        assert!(err(&[("redisHost", "h:1"), ("enableTLS", "true")]).contains("TLS"));
        assert!(parse_metadata(&md(&[("redisHost", "h:1"), ("redisType", "node")])).is_ok());
    }
}
