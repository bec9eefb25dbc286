//! Exact-value matching of secrets Chela knows (vault entries, provider keys) in plain, base64
//! (standard and URL-safe, at every byte alignment), hex and URL-encoded forms.

use crate::validate::base64_encode;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::sync::Arc;

/// Shortest value accepted as a known secret: shorter values would match ordinary text.
pub const MIN_KNOWN_SECRET_LEN: usize = 8;

/// A set of known secret values compiled into one automaton.
#[derive(Default)]
pub(crate) struct KnownSet {
    /// (name, value) as registered.
    entries: Vec<(Arc<str>, Vec<u8>)>,
    /// pattern index -> entry index
    owner: Vec<usize>,
    ac: Option<AhoCorasick>,
}

impl KnownSet {
    /// A new set with one more entry (the automaton is rebuilt; registrations are rare).
    pub fn with(&self, name: &str, value: &[u8]) -> Result<KnownSet, String> {
        let mut entries = self.entries.clone();
        if let Some(e) = entries.iter_mut().find(|e| &*e.0 == name) {
            e.1 = value.to_vec();
        } else {
            entries.push((Arc::from(name), value.to_vec()));
        }
        let mut pats: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        for (i, (_, v)) in entries.iter().enumerate() {
            for p in encodings(v) {
                if p.len() >= MIN_KNOWN_SECRET_LEN && !pats.contains(&p) {
                    pats.push(p);
                    owner.push(i);
                }
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)
            .map_err(|e| format!("cannot compile known-secret matcher: {e}"))?;
        Ok(KnownSet {
            entries,
            owner,
            ac: Some(ac),
        })
    }

    /// Number of registered secrets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Appends (start, end, name) for every occurrence in `hay`.
    pub fn find(&self, hay: &[u8], out: &mut Vec<(usize, usize, Arc<str>)>) {
        let Some(ac) = &self.ac else { return };
        for m in ac.find_iter(hay) {
            let owner = self.owner[m.pattern().as_usize()];
            out.push((m.start(), m.end(), self.entries[owner].0.clone()));
        }
    }
}

fn percent_encode(v: &[u8], upper: bool, all: bool) -> Vec<u8> {
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = Vec::with_capacity(v.len() * 3);
    for &b in v {
        if b.is_ascii_alphanumeric() || (!all && matches!(b, b'-' | b'_' | b'.' | b'~')) {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(hex[(b >> 4) as usize]);
            out.push(hex[(b & 15) as usize]);
        }
    }
    out
}

/// Every form in which `v` may appear.
pub(crate) fn encodings(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![v.to_vec()];
    let hexl: Vec<u8> = v
        .iter()
        .flat_map(|b| {
            let h = b"0123456789abcdef";
            [h[(b >> 4) as usize], h[(b & 15) as usize]]
        })
        .collect();
    out.push(hexl.to_ascii_uppercase());
    out.push(hexl);
    // RFC 3986 encoders leave `-_.~` alone; stricter ones encode every non-alphanumeric byte.
    for all in [false, true] {
        out.push(percent_encode(v, true, all));
        out.push(percent_encode(v, false, all));
    }
    // base64 at each alignment: encode k zero bytes + value and keep only the characters that
    // depend on the value alone, so the secret is found inside longer encoded data too
    // (e.g. `Authorization: Basic base64(user:secret)`).
    for url in [false, true] {
        for k in 0..3usize {
            let mut buf = vec![0u8; k];
            buf.extend_from_slice(v);
            let enc = base64_encode(&buf, url, false);
            let skip = match k {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            let total = k + v.len();
            let drop_tail = usize::from(total % 3 != 0);
            if enc.len() > skip + drop_tail {
                out.push(enc.as_bytes()[skip..enc.len() - drop_tail].to_vec());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_encoding() {
        let set = KnownSet::default().with("db", b"hunter2-Secret!").unwrap();
        let secret = b"hunter2-Secret!";
        let basic = base64_encode(b"admin:hunter2-Secret!", false, true);
        let texts = [
            "x hunter2-Secret! y".to_string(),
            format!("auth {}", base64_encode(secret, false, true)),
            format!("Authorization: Basic {basic}"),
            "q=hunter2-Secret%21&x".to_string(),
            "68756e746572322d53656372657421".to_string(),
        ];
        for t in &texts {
            let mut v = Vec::new();
            set.find(t.as_bytes(), &mut v);
            assert!(!v.is_empty(), "not found in {t}");
            assert_eq!(&*v[0].2, "db");
        }
        let mut v = Vec::new();
        set.find(b"nothing to see here", &mut v);
        assert!(v.is_empty());
    }
}
