//! The destination policy: which hosts may be reached, which endpoints are trusted, which
//! non-public addresses are granted explicitly.

use std::net::IpAddr;

use url::{Host, Url};

use crate::addr::{special_reason, Cidr};

/// A URL's host in comparable form (lower-case, punycode, one trailing dot removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostKey {
    /// A DNS name.
    Name(String),
    /// An IP literal (after WHATWG normalisation: `0x7f000001`, `2130706433` and `0177.0.0.1`
    /// are all `127.0.0.1` here).
    Ip(IpAddr),
}

impl HostKey {
    pub(crate) fn from_url(url: &Url) -> Option<HostKey> {
        match url.host()? {
            Host::Domain(d) => Some(HostKey::Name(normalize_name(d))),
            Host::Ipv4(v4) => Some(HostKey::Ip(IpAddr::V4(v4))),
            Host::Ipv6(v6) => Some(HostKey::Ip(IpAddr::V6(v6))),
        }
    }

    /// Parses a host as written in configuration (name, IP, `[v6]`), normalised like a URL host.
    pub(crate) fn parse(s: &str) -> Result<HostKey, String> {
        // A bare IPv6 address (`::1`), as some callers write credential hosts.
        if let Ok(std::net::IpAddr::V6(v6)) = s.parse::<std::net::IpAddr>() {
            return Ok(HostKey::Ip(std::net::IpAddr::V6(v6)));
        }
        let url = Url::parse(&format!("http://{s}/"))
            .map_err(|e| format!("{s:?} is not a valid host name or address ({e})"))?;
        if url.port().is_some() || url.path() != "/" || !url.username().is_empty() {
            return Err(format!("{s:?} must be a bare host name or address"));
        }
        HostKey::from_url(&url).ok_or_else(|| format!("{s:?} has no host"))
    }

    pub(crate) fn same_host(&self, other: &HostKey) -> bool {
        self == other
    }
}

impl std::fmt::Display for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostKey::Name(n) => f.write_str(n),
            HostKey::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            HostKey::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

pub(crate) fn normalize_name(d: &str) -> String {
    d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase()
}

/// One allowlist entry: `host`, `host:port`, `*.domain` or `*.domain:port`, or `*` / `*:port`
/// (any host; non-public addresses still need their own grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// Any host (public addresses only, unless granted).
    Any(Option<u16>),
    /// Exactly this host.
    Exact(HostKey, Option<u16>),
    /// Any single label followed by `.suffix`.
    Wildcard(String, Option<u16>),
}

fn split_port(s: &str) -> Result<(&str, Option<u16>), String> {
    // `[v6]:port`, `name:port`, bare `v6` (several colons, no brackets) or bare host.
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: missing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(s, p)?),
            None if after.is_empty() => None,
            None => return Err(format!("{s:?}: unexpected text after ']'")),
        };
        return Ok((&s[..inside.len() + 2], port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h, Some(parse_port(s, p)?))),
        _ => Ok((s, None)),
    }
}

fn parse_port(entry: &str, p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{entry:?}: port {p:?} must be a number from 1 to 65535"))
}

impl HostPattern {
    pub(crate) fn parse(entry: &str) -> Result<HostPattern, String> {
        let entry = entry.trim();
        if entry.contains("://") || entry.contains('/') {
            return Err(format!(
                "{entry:?}: write a host (`example.com`, `*.example.com`, `host:port`), not a URL"
            ));
        }
        let (host, port) = split_port(entry)?;
        if host == "*" {
            return Ok(HostPattern::Any(port));
        }
        if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.contains('*') {
                return Err(format!("{entry:?}: only one leading `*.` label is allowed"));
            }
            match HostKey::parse(suffix)? {
                HostKey::Name(n) if n.contains('.') => Ok(HostPattern::Wildcard(n, port)),
                HostKey::Name(_) => Err(format!(
                    "{entry:?}: a wildcard needs at least two labels after `*.` (e.g. `*.example.com`)"
                )),
                HostKey::Ip(_) => Err(format!("{entry:?}: wildcards apply to names, not addresses")),
            }
        } else if host.contains('*') {
            Err(format!(
                "{entry:?}: `*` is only allowed as a whole leading label (`*.example.com`)"
            ))
        } else {
            Ok(HostPattern::Exact(HostKey::parse(host)?, port))
        }
    }

    pub(crate) fn matches(&self, host: &HostKey, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match (self, host) {
            (HostPattern::Any(p), _) => port_ok(p),
            (HostPattern::Exact(h, p), _) => h == host && port_ok(p),
            (HostPattern::Wildcard(suffix, p), HostKey::Name(name)) => {
                port_ok(p)
                    && name
                        .strip_suffix(suffix.as_str())
                        .and_then(|head| head.strip_suffix('.'))
                        .is_some_and(|label| !label.is_empty() && !label.contains('.'))
            }
            (HostPattern::Wildcard(..), HostKey::Ip(_)) => false,
        }
    }
}

/// A trusted endpoint: exactly one host and port (the configured model provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) host: HostKey,
    pub(crate) port: u16,
}

impl Endpoint {
    /// Parses `host:port`, `[v6]:port`, or a full `http(s)://` URL (port defaulted by scheme).
    pub(crate) fn parse(entry: &str) -> Result<Endpoint, String> {
        let entry = entry.trim();
        if entry.contains("://") {
            let url = Url::parse(entry).map_err(|e| format!("{entry:?}: {e}"))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(format!("{entry:?}: only http and https endpoints exist"));
            }
            let host = HostKey::from_url(&url).ok_or_else(|| format!("{entry:?}: no host"))?;
            let port = url
                .port_or_known_default()
                .ok_or_else(|| format!("{entry:?}: no port"))?;
            return Ok(Endpoint { host, port });
        }
        match split_port(entry)? {
            (host, Some(port)) => Ok(Endpoint {
                host: HostKey::parse(host)?,
                port,
            }),
            (_, None) => Err(format!(
                "{entry:?}: a trusted endpoint needs a port (`host:port`) or a full URL"
            )),
        }
    }
}

/// The compiled destination policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) hosts: Vec<HostPattern>,
    pub(crate) trusted: Vec<Endpoint>,
    pub(crate) addrs: Vec<Cidr>,
}

impl Policy {
    pub(crate) fn compile(
        hosts: &[String],
        trusted: &[String],
        addrs: &[String],
    ) -> Result<Policy, (String, String)> {
        let mut p = Policy::default();
        for h in hosts {
            p.hosts
                .push(HostPattern::parse(h).map_err(|e| (h.clone(), e))?);
        }
        for t in trusted {
            p.trusted
                .push(Endpoint::parse(t).map_err(|e| (t.clone(), e))?);
        }
        for a in addrs {
            p.addrs.push(Cidr::parse(a).map_err(|e| (a.clone(), e))?);
        }
        Ok(p)
    }

    /// Index of the trusted endpoint for `host:port`, if any.
    pub(crate) fn trusted_index(&self, host: &HostKey, port: u16) -> Option<usize> {
        self.trusted
            .iter()
            .position(|e| e.host.same_host(host) && e.port == port)
    }

    /// True when the allowlist (or a trusted endpoint) admits `host:port`.
    pub(crate) fn admits(&self, host: &HostKey, port: u16) -> bool {
        self.trusted_index(host, port).is_some() || self.hosts.iter().any(|h| h.matches(host, port))
    }

    /// True when an allowlist entry names the IP literal `ip` itself (with this port or any):
    /// that is an explicit grant for a URL written with that address.
    pub(crate) fn names_literal(&self, ip: IpAddr, port: u16) -> bool {
        let key = HostKey::Ip(ip);
        self.hosts
            .iter()
            .any(|h| matches!(h, HostPattern::Exact(HostKey::Ip(_), _)) && h.matches(&key, port))
    }

    /// Why the address `ip` may not be connected to under the non-trusted policy, if it may not.
    pub(crate) fn refuse_addr(&self, ip: IpAddr) -> Option<&'static str> {
        let why = special_reason(ip)?;
        if self.addrs.iter().any(|c| c.contains(ip)) {
            None
        } else {
            Some(why)
        }
    }
}

/// Why a trusted endpoint still may not use `ip`: only the unspecified and multicast
/// addresses, which never name a real server.
pub(crate) fn refuse_trusted_addr(ip: IpAddr) -> Option<&'static str> {
    let ip = crate::addr::canonical(ip);
    if ip.is_unspecified() {
        Some("unspecified address")
    } else if ip.is_multicast() {
        Some("multicast address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> HostKey {
        HostKey::parse(s).unwrap()
    }

    #[test]
    fn exact_and_wildcard_patterns() {
        let p = HostPattern::parse("api.example.com").unwrap();
        assert!(p.matches(&key("API.Example.com"), 443));
        assert!(p.matches(&key("api.example.com."), 80));
        assert!(!p.matches(&key("evil-api.example.com"), 443));
        assert!(!p.matches(&key("api.example.com.evil.net"), 443));

        let w = HostPattern::parse("*.example.com").unwrap();
        assert!(w.matches(&key("docs.example.com"), 443));
        assert!(!w.matches(&key("example.com"), 443));
        assert!(!w.matches(&key("a.b.example.com"), 443));
        assert!(!w.matches(&key("docsexample.com"), 443));

        let wp = HostPattern::parse("*.example.com:8443").unwrap();
        assert!(wp.matches(&key("x.example.com"), 8443));
        assert!(!wp.matches(&key("x.example.com"), 443));
    }

    #[test]
    fn any_pattern_admits_hosts_but_grants_no_address() {
        let p = Policy::compile(&["*".into()], &[], &[]).unwrap();
        assert!(p.admits(&key("example.org"), 443));
        assert!(p.admits(&key("127.0.0.1"), 80));
        assert!(!p.names_literal("127.0.0.1".parse().unwrap(), 80));
        let q = Policy::compile(&["*:443".into()], &[], &[]).unwrap();
        assert!(!q.admits(&key("example.org"), 80));
    }

    #[test]
    fn bad_patterns_are_rejected_with_reason() {
        for bad in [
            "*.com",
            "a.*.example.com",
            "*example.com",
            "https://example.com",
            "example.com/path",
            "**.example.com",
            "example.com:0",
            "example.com:99999",
            "*.127.0.0.1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn numeric_tricks_normalise_to_the_address() {
        for trick in ["0x7f000001", "2130706433", "0177.0.0.1", "127.1"] {
            assert_eq!(
                key(trick),
                HostKey::Ip("127.0.0.1".parse().unwrap()),
                "{trick}"
            );
        }
    }

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("http://127.0.0.1:11434/v1").unwrap();
        assert_eq!(e.port, 11434);
        let e = Endpoint::parse("https://api.deepseek.com/v1").unwrap();
        assert_eq!((e.host, e.port), (key("api.deepseek.com"), 443));
        assert_eq!(key("::1"), key("[::1]"));
        let e = Endpoint::parse("[::1]:8080").unwrap();
        assert_eq!(e.host, HostKey::Ip("::1".parse().unwrap()));
        assert!(Endpoint::parse("localhost").is_err());
        assert!(Endpoint::parse("ftp://x:21").is_err());
    }

    #[test]
    fn ip_in_allowlist_grants_the_address() {
        let p = Policy::compile(&["127.0.0.1:8080".into()], &[], &[]).unwrap();
        assert!(p.admits(&key("127.0.0.1"), 8080));
        assert!(!p.admits(&key("127.0.0.1"), 8081));
        assert!(p.names_literal("127.0.0.1".parse().unwrap(), 8080));
        assert!(!p.names_literal("127.0.0.1".parse().unwrap(), 22));
        // The literal grant does not extend to names that resolve there.
        assert!(p.refuse_addr("127.0.0.1".parse().unwrap()).is_some());
        let q = Policy::compile(&["wiki.corp".into()], &[], &["10.1.2.0/24".into()]).unwrap();
        assert!(q.refuse_addr("10.1.2.3".parse().unwrap()).is_none());
        assert!(q.refuse_addr("10.1.3.3".parse().unwrap()).is_some());
    }
}
