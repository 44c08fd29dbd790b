//! One Redis store's connections: multiplexed, opened on first use, re-established by the
//! client after Redis restarts; every operation bounded by the store's timeout.

use std::sync::atomic::{AtomicUsize, Ordering};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, TlsCertificates, Value};
use tokio::sync::OnceCell;

use super::{RedisConfig, TlsFiles};
use crate::kv::bucket::KvError;

/// Reconnect attempts per outage before a request gives up (the next request tries again).
const RECONNECT_RETRIES: usize = 3;

/// A configured Redis store, shared by every bucket that names it.
pub struct RedisStore {
    config: RedisConfig,
    client: Client,
    conn: OnceCell<Conn>,
    next: AtomicUsize,
}

enum Client {
    Single(Box<redis::Client>),
    Cluster(Box<ClusterClient>),
}

enum Conn {
    Single(Vec<ConnectionManager>),
    Cluster(ClusterConnection),
}

/// A connection handle for one operation: cheap to clone, multiplexed underneath.
#[derive(Clone)]
pub(super) enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn certificates(tls: &TlsFiles) -> TlsCertificates {
    TlsCertificates {
        client_tls: tls
            .client
            .as_ref()
            .map(|(cert, key)| redis::ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
        root_cert: tls.ca.clone(),
    }
}

impl RedisStore {
    /// Checks the URLs and settings; connects nothing yet (the first operation does), so a
    /// host starts while Redis is still coming up.
    pub fn new(config: RedisConfig) -> Result<Self, String> {
        let client = if config.cluster {
            let mut b = ClusterClient::builder(config.urls.clone())
                .connection_timeout(config.timeout)
                .response_timeout(config.timeout)
                .retries(u32::try_from(RECONNECT_RETRIES).unwrap_or(u32::MAX));
            if let Some(tls) = &config.tls {
                b = b.certs(certificates(tls));
            }
            Client::Cluster(Box::new(b.build().map_err(|e| e.to_string())?))
        } else {
            let [url] = config.urls.as_slice() else {
                return Err(
                    "a single server takes exactly one URL (set cluster: true for several)".into(),
                );
            };
            let client = match &config.tls {
                Some(tls) => redis::Client::build_with_tls(url.as_str(), certificates(tls)),
                None => redis::Client::open(url.as_str()),
            };
            Client::Single(Box::new(client.map_err(|e| e.to_string())?))
        };
        Ok(Self {
            config,
            client,
            conn: OnceCell::new(),
            next: AtomicUsize::new(0),
        })
    }

    /// The resolved config.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// An error of this store: it names the store and the (redacted) server.
    pub(super) fn error(&self, what: &str, cause: impl std::fmt::Display) -> KvError {
        KvError::Backend(format!(
            "key-value store {:?} ({}): {what}: {cause}",
            self.config.name,
            self.config.redacted_urls()
        ))
    }

    /// A connection for one operation, opening the store's connections on first use.
    pub(super) async fn handle(&self) -> Result<Handle, KvError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                match &self.client {
                    Client::Single(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(self.config.timeout))
                            .set_response_timeout(Some(self.config.timeout))
                            .set_number_of_retries(RECONNECT_RETRIES)
                            .set_max_delay(self.config.timeout);
                        let mut all = Vec::with_capacity(self.config.connections);
                        for _ in 0..self.config.connections.max(1) {
                            all.push(ConnectionManager::new_lazy_with_config(
                                (**client).clone(),
                                config.clone(),
                            )?);
                        }
                        Ok(Conn::Single(all))
                    }
                    Client::Cluster(client) => {
                        Ok(Conn::Cluster(client.get_async_connection().await?))
                    }
                }
            })
            .await
            .map_err(|e: redis::RedisError| self.error("connecting", e))?;
        Ok(match conn {
            Conn::Single(all) => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % all.len().max(1);
                match all.get(i) {
                    Some(c) => Handle::Single(c.clone()),
                    None => return Err(self.error("connecting", "no connection configured")),
                }
            }
            Conn::Cluster(c) => Handle::Cluster(c.clone()),
        })
    }

    /// Runs one operation under the store's timeout, mapping its error.
    pub(super) async fn run<T>(
        &self,
        what: &str,
        op: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, KvError> {
        match tokio::time::timeout(self.config.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(what, e)),
            Err(_) => Err(self.error(
                what,
                format!(
                    "no answer within {:?} (the store's timeout)",
                    self.config.timeout
                ),
            )),
        }
    }
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
