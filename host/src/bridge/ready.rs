//! Serving before the components are loaded: daprd lists the sockets folder once, at its
//! start (dapr/dapr#6180), so every socket is bound and answers reflection and health at
//! once, while the components compile in the background. A block call that arrives before
//! its host is loaded waits for it (at most [`LOAD_WAIT`]) instead of failing.

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Notify;
use tonic::codegen::http;

use crate::embed::Host;

/// Longest a call waits for its component to finish loading before it is answered
/// `UNAVAILABLE`.
pub const LOAD_WAIT: Duration = Duration::from_secs(120);

/// The host, once loaded.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostCell(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    host: OnceLock<Arc<Host>>,
    loaded: Notify,
}

impl HostCell {
    /// A cell that already holds `host`.
    pub(crate) fn ready(host: Arc<Host>) -> Self {
        let cell = Self::default();
        cell.set(host);
        cell
    }

    /// Publishes the loaded host and wakes every waiting call.
    pub(crate) fn set(&self, host: Arc<Host>) {
        let _ = self.0.host.set(host);
        self.0.loaded.notify_waiters();
    }

    /// The host, if loaded.
    pub(crate) fn get(&self) -> Option<&Arc<Host>> {
        self.0.host.get()
    }

    /// Waits until the host is loaded, at most `limit`.
    async fn wait(&self, limit: Duration) -> bool {
        let waiting = async {
            loop {
                let loaded = self.0.loaded.notified();
                if self.get().is_some() {
                    return;
                }
                loaded.await;
            }
        };
        tokio::time::timeout(limit, waiting).await.is_ok()
    }
}

/// Whether a request is discovery (reflection, health), which never waits.
fn is_discovery(path: &str) -> bool {
    path.starts_with("/grpc.reflection.") || path.starts_with("/grpc.health.")
}

/// Holds back block calls until the host is loaded (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct WaitLoaded {
    pub(crate) cell: HostCell,
    pub(crate) component: Arc<str>,
}

impl<S> tower::Layer<S> for WaitLoaded {
    type Service = WaitLoadedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WaitLoadedService {
            inner,
            gate: self.clone(),
        }
    }
}

/// The service [`WaitLoaded`] wraps around a socket's routes.
#[derive(Debug, Clone)]
pub(crate) struct WaitLoadedService<S> {
    inner: S,
    gate: WaitLoaded,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for WaitLoadedService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if self.gate.cell.get().is_some() || is_discovery(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // The readied clone serves this call; a fresh clone takes its place for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            if gate.cell.wait(LOAD_WAIT).await {
                inner.call(request).await
            } else {
                let status = tonic::Status::unavailable(format!(
                    "component {:?} is still loading after {LOAD_WAIT:?}",
                    gate.component
                ));
                Ok(status.into_http())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reflection_and_health_skip_the_wait() {
        assert!(is_discovery(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(is_discovery("/grpc.health.v1.Health/Check"));
        assert!(!is_discovery("/dapr.proto.components.v1.StateStore/Init"));
    }

    #[tokio::test]
    async fn a_waiting_call_gives_up_at_its_limit() {
        let cell = HostCell::default();
        let started = std::time::Instant::now();
        assert!(!cell.wait(Duration::from_millis(30)).await);
        assert!(started.elapsed() >= Duration::from_millis(25));
    }
}
