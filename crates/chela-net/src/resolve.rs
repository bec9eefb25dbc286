//! The checking DNS resolver.
//!
//! reqwest connects only to the addresses its resolver returns, so checking them *inside* the
//! resolver means the checked address is the connected address: a name that answers with a
//! public address to a first lookup and `127.0.0.1` to a second (DNS rebinding) gains nothing.
//! IP-literal URLs never reach a resolver; `NetClient::send` checks those itself.

#[cfg(any(test, feature = "test-resolver"))]
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::{normalize_name, refuse_trusted_addr, Policy};

/// A resolver refusal: a name resolved to an address the policy does not permit.
#[derive(Debug)]
pub(crate) struct AddressRefused {
    pub(crate) name: String,
    pub(crate) addr: IpAddr,
    pub(crate) why: &'static str,
}

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {} which is {}; name the address in policy ([net] allow_addrs) if this is intended",
            self.name, self.addr, self.why
        )
    }
}

impl std::error::Error for AddressRefused {}

/// Where names are looked up.
#[derive(Clone)]
pub(crate) enum Backend {
    /// The system resolver (getaddrinfo on the blocking pool).
    System,
    /// A fixed table (tests only); unknown names fail, they never reach real DNS.
    #[cfg(any(test, feature = "test-resolver"))]
    Table(Arc<HashMap<String, Vec<IpAddr>>>),
}

impl Backend {
    async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        match self {
            Backend::System => tokio::net::lookup_host((name, 0))
                .await
                .map(|it| it.map(|sa| sa.ip()).collect())
                .map_err(|e| format!("DNS lookup of {name} failed: {e}")),
            #[cfg(any(test, feature = "test-resolver"))]
            Backend::Table(t) => t
                .get(&normalize_name(name))
                .cloned()
                .ok_or_else(|| format!("test resolver has no entry for {name}")),
        }
    }
}

/// What the resolver permits.
#[derive(Clone)]
pub(crate) enum Mode {
    /// Public addresses, plus the policy's explicit address grants.
    Guarded(Arc<Policy>),
    /// A trusted endpoint: whatever its name resolves to (bar unspecified/multicast).
    Trusted,
}

/// reqwest resolver that refuses non-public answers.
pub(crate) struct CheckingResolver {
    pub(crate) backend: Backend,
    pub(crate) mode: Mode,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let backend = self.backend.clone();
        let mode = self.mode.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let ips = backend.lookup(&name).await?;
            if ips.is_empty() {
                return Err(format!("DNS lookup of {name} returned no address").into());
            }
            for ip in &ips {
                let why = match &mode {
                    Mode::Guarded(policy) => policy.refuse_addr(*ip),
                    Mode::Trusted => refuse_trusted_addr(*ip),
                };
                if let Some(why) = why {
                    // Any refused answer refuses the name: never "try the next one".
                    return Err(Box::new(AddressRefused {
                        name: normalize_name(&name),
                        addr: *ip,
                        why,
                    })
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
