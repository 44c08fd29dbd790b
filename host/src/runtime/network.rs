//! The network a component is granted: TCP connections to the peers of `grants.tcp`, and name
//! lookups of exactly the host names those peers spell.
//!
//! A peer written as an IP address is that address. A peer written as a host name (a
//! Kubernetes Service such as `redis-master.default.svc.cluster.local:6379`) is resolved
//! when the guest connects, never once at load, so a Service whose address changes keeps
//! working. The guest resolves a granted name through `wasi:sockets/ip-name-lookup`, which
//! here answers only for granted names (any other name is `access-denied`, so a guest cannot
//! even send DNS queries it was not granted); then `connect` is checked against the granted
//! IPs and a fresh resolution of the granted names on that port.

use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView, WasiSocketsView as _};

use crate::config::TcpGrant;

/// What one component may reach.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkPolicy {
    /// Peers granted by address.
    ips: Vec<SocketAddr>,
    /// Peers granted by name: (lower-cased host name, port).
    names: Vec<(String, u16)>,
}

impl NetworkPolicy {
    pub(crate) fn new(grants: &[TcpGrant]) -> NetworkPolicy {
        let mut policy = NetworkPolicy::default();
        for g in grants {
            match g.host.parse::<std::net::IpAddr>() {
                Ok(ip) => policy.ips.push(SocketAddr::new(ip, g.port)),
                Err(_) => policy.names.push((g.host.to_ascii_lowercase(), g.port)),
            }
        }
        policy
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.names.is_empty()
    }

    /// Whether the guest may look `name` up: only a granted host name (or an IP literal,
    /// which resolves to itself without a query).
    pub(crate) fn may_resolve(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name.parse::<std::net::IpAddr>().is_ok() || self.names.iter().any(|(n, _)| *n == name)
    }

    /// The socket rule: connect only to a granted peer (names resolved now); bind only
    /// implicitly (wildcard address, port 0, which `connect` does first); listen, accept
    /// and UDP never.
    pub(crate) async fn allows(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        match use_ {
            SocketAddrUse::TcpConnect => {
                let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
                if self.ips.contains(&addr) {
                    return true;
                }
                for (name, port) in &self.names {
                    if *port != addr.port() {
                        continue;
                    }
                    if let Ok(found) = tokio::net::lookup_host((name.as_str(), *port)).await
                        && found
                            .map(|a| a.ip().to_canonical())
                            .any(|ip| ip == addr.ip())
                    {
                        return true;
                    }
                }
                false
            }
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ => false,
        }
    }
}

/// `wasi:sockets/ip-name-lookup` with the policy's name filter in front of WASI's own.
pub(crate) struct GrantedLookup<'a> {
    sockets: WasiSocketsCtxView<'a>,
    policy: Arc<NetworkPolicy>,
}

impl Host for GrantedLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !self.policy.may_resolve(&name) {
            tracing::warn!("refused a lookup of {name:?}: not a granted tcp peer");
            return Err(ErrorCode::AccessDenied.into());
        }
        Host::resolve_addresses(&mut self.sockets, network, name)
    }
}

impl HostResolveAddressStream for GrantedLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        self.sockets.resolve_next_address(stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.sockets, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        HostResolveAddressStream::drop(&mut self.sockets, stream)
    }
}

/// Needed by the lookup interface's bindings (its error type lives in `network`); only
/// `convert_error_code` is reached through it.
impl network::Host for GrantedLookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets, error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime_wasi::p2::bindings::sockets::network::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets, err)
    }
}

impl network::HostNetwork for GrantedLookup<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets, this)
    }
}

struct Lookup;

impl HasData for Lookup {
    type Data<'a> = GrantedLookup<'a>;
}

/// Store data that knows its component's network policy.
pub(crate) trait HasNetworkPolicy {
    fn network_policy(&self) -> Arc<NetworkPolicy>;
}

/// Replaces WASI's `ip-name-lookup` in `linker` (which already has it) with the filtered one.
pub(crate) fn add_to_linker<T: wasmtime_wasi::WasiView + HasNetworkPolicy + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    ip_name_lookup::add_to_linker::<T, Lookup>(linker, |s| {
        let policy = s.network_policy();
        GrantedLookup {
            sockets: s.sockets(),
            policy,
        }
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(peer: &str) -> TcpGrant {
        let (host, port) = peer.rsplit_once(':').unwrap();
        TcpGrant {
            peer: peer.to_owned(),
            host: host.trim_matches(['[', ']']).to_owned(),
            port: port.parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn only_granted_peers_and_the_implicit_bind_pass() {
        let policy = NetworkPolicy::new(&[grant("127.0.0.1:6379"), grant("[::1]:80")]);
        let ok = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert!(
            policy
                .allows(ok("127.0.0.1:6379"), SocketAddrUse::TcpConnect)
                .await
        );
        assert!(
            policy
                .allows(ok("[::1]:80"), SocketAddrUse::TcpConnect)
                .await
        );
        assert!(
            !policy
                .allows(ok("127.0.0.1:6380"), SocketAddrUse::TcpConnect)
                .await
        );
        assert!(policy.allows(ok("0.0.0.0:0"), SocketAddrUse::TcpBind).await);
        assert!(
            !policy
                .allows(ok("0.0.0.0:8080"), SocketAddrUse::TcpBind)
                .await
        );
        assert!(
            !policy
                .allows(ok("127.0.0.1:6379"), SocketAddrUse::UdpBind)
                .await
        );
    }

    #[tokio::test]
    async fn a_granted_name_is_resolved_when_connecting_on_its_port_only() {
        let policy = NetworkPolicy::new(&[grant("LocalHost:6379")]);
        let ok = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert!(
            policy
                .allows(ok("127.0.0.1:6379"), SocketAddrUse::TcpConnect)
                .await
        );
        assert!(
            !policy
                .allows(ok("127.0.0.1:6380"), SocketAddrUse::TcpConnect)
                .await
        );
        assert!(
            !policy
                .allows(ok("10.9.9.9:6379"), SocketAddrUse::TcpConnect)
                .await
        );
    }

    #[test]
    fn only_granted_names_may_be_looked_up() {
        let policy = NetworkPolicy::new(&[grant("redis.default.svc:6379"), grant("10.0.0.1:1")]);
        assert!(policy.may_resolve("redis.default.svc"));
        assert!(policy.may_resolve("REDIS.default.svc."));
        assert!(policy.may_resolve("10.0.0.1"));
        assert!(!policy.may_resolve("example.com"));
        assert!(!policy.may_resolve("redis.default.svc.attacker.example"));
        assert!(!NetworkPolicy::new(&[]).may_resolve("localhost"));
    }
}
