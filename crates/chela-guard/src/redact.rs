//! Redaction with stable per-session placeholders, and masked display of values.

use crate::detector::Detector;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Masked display of a value: its first and last two characters (`sk…7Q`), whitespace and
/// control characters ignored (so a masked value is one word); values shorter than eight
/// characters are fully masked.
pub fn mask(value: &str) -> String {
    let visible = || {
        value
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
    };
    let n = visible().count();
    if n < 8 {
        return "*".repeat(n.max(1));
    }
    let first: String = visible().take(2).collect();
    let last: String = visible().skip(n - 2).collect();
    format!("{first}…{last}")
}

/// Holds one session's placeholder map: the same value always gets the same placeholder
/// (`[REDACTED:cn_resident_id#2]`), so the model can still refer to it. Only a SHA-256 digest of
/// each value is kept, never the value.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    by_value: HashMap<[u8; 32], String>,
    counters: HashMap<&'static str, u32>,
}

impl Redactor {
    /// An empty session map.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The placeholder for `value` found by `detector`, allocating the next number if new.
    pub fn placeholder(&mut self, detector: Detector, value: &str) -> String {
        let mut h = Sha256::new();
        h.update(detector.id().as_bytes());
        h.update([0u8]);
        h.update(value.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        if let Some(p) = self.by_value.get(&key) {
            return p.clone();
        }
        let c = self.counters.entry(detector.id()).or_insert(0);
        *c += 1;
        let p = format!("[REDACTED:{}#{}]", detector.id(), c);
        self.by_value.insert(key, p.clone());
        p
    }

    /// Number of distinct values redacted so far in this session.
    pub fn len(&self) -> usize {
        self.by_value.len()
    }

    /// Whether nothing has been redacted yet.
    pub fn is_empty(&self) -> bool {
        self.by_value.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_placeholders() {
        let mut r = Redactor::new();
        let a = r.placeholder(Detector::CnResidentId, "11010519491231002X");
        let b = r.placeholder(Detector::CnResidentId, "440524188001010014");
        let c = r.placeholder(Detector::CnResidentId, "11010519491231002X");
        assert_eq!(a, "[REDACTED:cn_resident_id#1]");
        assert_eq!(b, "[REDACTED:cn_resident_id#2]");
        assert_eq!(a, c);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn masking() {
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk…op");
        assert_eq!(mask("short"), "*****");
        assert_eq!(mask("密码是一二三四五六"), "密码…五六");
        assert_eq!(mask("寸 尾 山 川 大 小 上 下 妻"), "寸尾…下妻");
    }
}
