//! The outgoing-request leak scan (CN-D6: tokens and keys are never sent out).
//!
//! Before each hop is sent, [`NetClient`](crate::NetClient) shows the request to the configured
//! [`OutboundCheck`] (the guard plugs in here) and refuses it when the check objects. The
//! built-in [`SecretBindings`] is the exact-value form: a known secret may only travel to the
//! host it is bound to.

use std::sync::RwLock;

/// One outgoing request hop as the leak scan sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outbound<'a> {
    /// Destination host as in the URL (lower-case; IPv6 in brackets).
    pub host: &'a str,
    /// Destination port.
    pub port: u16,
    /// Full URL of this hop.
    pub url: &'a str,
    /// Caller-supplied headers (the bound credential is not among them).
    pub headers: &'a [(String, String)],
    /// Request body, if any.
    pub body: Option<&'a [u8]>,
    /// Host the attached credential is bound to, when one is attached to this hop.
    pub credential_host: Option<&'a str>,
}

/// A check run on every outgoing request hop; `Err(reason)` refuses the hop.
///
/// The reason is shown to the user and written to the audit log, so it must never contain the
/// secret it found (name the detector or the binding instead).
pub trait OutboundCheck: Send + Sync {
    /// Inspects one hop.
    fn check(&self, req: &Outbound<'_>) -> Result<(), String>;
}

/// Exact-value secret bindings: each registered value may appear only in requests to its host.
#[derive(Default)]
pub struct SecretBindings {
    entries: RwLock<Vec<(String, String, String)>>,
}

impl std::fmt::Debug for SecretBindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.read().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("SecretBindings")
            .field("entries", &n)
            .finish()
    }
}

impl SecretBindings {
    /// An empty set of bindings.
    pub fn new() -> SecretBindings {
        SecretBindings::default()
    }

    /// Registers `value` (named `label` in refusals) as allowed only towards `host`. Values
    /// shorter than 8 bytes are ignored: they would match ordinary text.
    pub fn bind(&self, label: &str, value: &str, host: &str) {
        if value.len() < 8 {
            return;
        }
        let host = crate::policy::normalize_name(host);
        if let Ok(mut e) = self.entries.write() {
            e.push((label.to_string(), value.to_string(), host));
        }
    }
}

/// True when `needle` occurs in `hay`, also after percent-decoding (URLs, form bodies).
pub(crate) fn contains_secret(hay: &[u8], needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let n = needle.as_bytes();
    if hay.windows(n.len()).any(|w| w == n) {
        return true;
    }
    if hay.contains(&b'%') {
        let decoded: Vec<u8> = percent_decode(hay);
        return decoded.windows(n.len()).any(|w| w == n);
    }
    false
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Where in `req` the value occurs, if anywhere.
pub(crate) fn find_value(req: &Outbound<'_>, value: &str) -> Option<&'static str> {
    if contains_secret(req.url.as_bytes(), value) {
        Some("URL")
    } else if req
        .headers
        .iter()
        .any(|(k, v)| contains_secret(k.as_bytes(), value) || contains_secret(v.as_bytes(), value))
    {
        Some("headers")
    } else if req.body.is_some_and(|b| contains_secret(b, value)) {
        Some("body")
    } else {
        None
    }
}

impl OutboundCheck for SecretBindings {
    fn check(&self, req: &Outbound<'_>) -> Result<(), String> {
        let entries = self
            .entries
            .read()
            .map_err(|_| "secret bindings are unavailable (poisoned lock)".to_string())?;
        let host = crate::policy::normalize_name(req.host);
        for (label, value, bound) in entries.iter() {
            if *bound == host {
                continue;
            }
            if let Some(place) = find_value(req, value) {
                return Err(format!(
                    "the {place} carries secret {label:?}, which is bound to host {bound} (CN-D6)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out<'a>(host: &'a str, url: &'a str, body: Option<&'a [u8]>) -> Outbound<'a> {
        Outbound {
            host,
            port: 443,
            url,
            headers: &[],
            body,
            credential_host: None,
        }
    }

    #[test]
    fn bound_secret_only_to_its_host() {
        let b = SecretBindings::new();
        b.bind("openai", "sk-test-1234567890", "api.openai.com");
        assert!(b
            .check(&out(
                "api.openai.com",
                "https://api.openai.com/v1",
                Some(b"sk-test-1234567890")
            ))
            .is_ok());
        let err = b
            .check(&out(
                "evil.example",
                "https://evil.example/",
                Some(b"{\"k\":\"sk-test-1234567890\"}"),
            ))
            .unwrap_err();
        assert!(err.contains("body") && err.contains("openai"));
        assert!(!err.contains("sk-test"));
        let err = b
            .check(&out(
                "evil.example",
                "https://evil.example/?k=sk%2Dtest%2D1234567890",
                None,
            ))
            .unwrap_err();
        assert!(err.contains("URL"));
        assert!(b
            .check(&out(
                "evil.example",
                "https://evil.example/",
                Some(b"hello")
            ))
            .is_ok());
    }

    #[test]
    fn short_values_are_not_bound() {
        let b = SecretBindings::new();
        b.bind("pin", "1234", "x.example");
        assert!(b
            .check(&out("y.example", "https://y.example/1234", None))
            .is_ok());
    }

    #[test]
    fn percent_decode_edges() {
        assert_eq!(percent_decode(b"a%41b%"), b"aAb%".to_vec());
        assert_eq!(percent_decode(b"%4"), b"%4".to_vec());
        assert_eq!(percent_decode(b"%zz"), b"%zz".to_vec());
    }
}
