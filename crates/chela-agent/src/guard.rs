//! The adapter that plugs `chela-guard` into the HTTP client's outbound leak check. (The audit
//! log's scrubber needs none: `Guard` implements `chela_types::Scrubber` itself.)

use std::sync::Arc;

use chela_guard::{Action, Guard};
use chela_net::{Outbound, OutboundCheck};

/// Refuses an outgoing request whose URL, headers or body carry something the guard blocks
/// (private keys, mnemonics, known secrets): CN-D6 "never send tokens, keys or mnemonics out".
pub struct GuardOutbound(pub Arc<Guard>);

impl OutboundCheck for GuardOutbound {
    fn check(&self, req: &Outbound<'_>) -> Result<(), String> {
        let mut parts: Vec<(&str, String)> = vec![("URL", req.url.to_string())];
        for (k, v) in req.headers {
            parts.push(("header", format!("{k}: {v}")));
        }
        if let Some(body) = req.body {
            parts.push(("body", String::from_utf8_lossy(body).into_owned()));
        }
        for (place, text) in &parts {
            let blocked: Vec<String> = self
                .0
                .find(text)
                .into_iter()
                .filter(|f| f.action == Action::Block)
                .map(|f| f.detector.id().to_string())
                .collect();
            if !blocked.is_empty() {
                return Err(format!(
                    "the request {place} to {} carries {} (CN-D6: secrets never leave the host)",
                    req.host,
                    blocked.join(", ")
                ));
            }
        }
        Ok(())
    }
}
