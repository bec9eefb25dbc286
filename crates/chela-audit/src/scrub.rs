//! A scrubber that masks configured secret values exactly, until the guard's detectors plug in.

use chela_types::Scrubber;

/// Masks each configured secret value wherever it occurs, longest first.
#[derive(Clone, Default)]
pub struct LiteralScrubber {
    secrets: Vec<String>,
}

/// What a masked value is replaced with.
pub const MASK: &str = "[REDACTED]";

impl LiteralScrubber {
    /// A scrubber for these values. Values shorter than 4 characters are ignored (masking them
    /// would shred ordinary text without protecting anything).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| s.chars().count() >= 4)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        LiteralScrubber { secrets }
    }
}

impl std::fmt::Debug for LiteralScrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiteralScrubber({} secrets)", self.secrets.len())
    }
}

impl Scrubber for LiteralScrubber {
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first_and_ignores_short() {
        let s = LiteralScrubber::new(["sk-abc", "sk-abcdef", "ab"]);
        assert_eq!(
            s.scrub("key sk-abcdef and sk-abc, ab"),
            "key [REDACTED] and [REDACTED], ab"
        );
        assert!(!format!("{s:?}").contains("sk-"));
    }
}
