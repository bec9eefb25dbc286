//! The guidance items, parsed from the copy of `GUIDANCE.md` embedded in this crate.
//!
//! Every item in the tables becomes one [`Item`]: its ID, audience, requirement text and the
//! OWASP IDs the cross-map assigns to it. `chela assess` runs one check per item, so adding a
//! row to `guidance/GUIDANCE.md` without a check fails the crate's tests.

use serde::{Deserialize, Serialize};

/// The embedded copy of `GUIDANCE.md` (kept identical to the project's file by a test).
pub const GUIDANCE_MD: &str = include_str!("../guidance/GUIDANCE.md");

/// Who an item is addressed to (the report groups by this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// A. Individual users.
    Individual,
    /// B. Enterprises.
    Enterprise,
    /// C. Cloud service providers.
    Cloud,
    /// D. Developers and technical users.
    Developer,
    /// Earlier alerts (CNCERT 10 March, NVDB 11 March).
    EarlierAlerts,
}

impl Audience {
    /// Stable name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Individual => "individual",
            Audience::Enterprise => "enterprise",
            Audience::Cloud => "cloud",
            Audience::Developer => "developer",
            Audience::EarlierAlerts => "earlier_alerts",
        }
    }

    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Audience::Individual => "Individual",
            Audience::Enterprise => "Enterprise",
            Audience::Cloud => "Cloud",
            Audience::Developer => "Developer",
            Audience::EarlierAlerts => "Earlier alert",
        }
    }

    /// Heading used in reports.
    pub fn heading(self) -> &'static str {
        match self {
            Audience::Individual => "A. Individual users",
            Audience::Enterprise => "B. Enterprises",
            Audience::Cloud => "C. Cloud service providers",
            Audience::Developer => "D. Developers and technical users",
            Audience::EarlierAlerts => "Earlier alerts (CNCERT 10 Mar, NVDB 11 Mar)",
        }
    }

    /// All audiences in report order.
    pub const ALL: [Audience; 5] = [
        Audience::Individual,
        Audience::Enterprise,
        Audience::Cloud,
        Audience::Developer,
        Audience::EarlierAlerts,
    ];
}

/// One guidance item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// `CN-A1`, `CNCERT-M2`, `NVDB-6`, …
    pub id: String,
    /// Audience (table) the item belongs to.
    pub audience: Audience,
    /// The requirement, as worded in GUIDANCE.md.
    pub requirement: String,
    /// How the software enforces it (empty for earlier alerts), or the alert's source.
    pub enforcement: String,
    /// OWASP LLM / Agentic IDs from the cross-map.
    pub owasp: Vec<String>,
}

fn audience_of_heading(h: &str) -> Option<Audience> {
    let h = h.trim_start_matches('#').trim();
    if h.starts_with("A.") {
        Some(Audience::Individual)
    } else if h.starts_with("B.") {
        Some(Audience::Enterprise)
    } else if h.starts_with("C.") {
        Some(Audience::Cloud)
    } else if h.starts_with("D.") {
        Some(Audience::Developer)
    } else if h.starts_with("Earlier alerts") {
        Some(Audience::EarlierAlerts)
    } else {
        None
    }
}

/// Whether `s` looks like a guidance ID (`CN-A1`, `CNCERT-M1`, `NVDB-1`).
pub fn is_item_id(s: &str) -> bool {
    let (prefix, rest) = match s.split_once('-') {
        Some(p) => p,
        None => return false,
    };
    let rest_ok = |r: &str, letter: bool| {
        let mut chars = r.chars();
        if letter && !chars.next().is_some_and(|c| c.is_ascii_uppercase()) {
            return false;
        }
        let digits: String = chars.collect();
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    };
    match prefix {
        "CN" => rest_ok(rest, true),
        "CNCERT" => rest_ok(rest, true),
        "NVDB" => rest_ok(rest, false),
        _ => false,
    }
}

/// Parses the item tables of a GUIDANCE.md text.
pub fn parse_items(md: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut audience = None;
    for line in md.lines() {
        if line.starts_with("## ") {
            audience = audience_of_heading(line);
            continue;
        }
        let Some(aud) = audience else { continue };
        let t = line.trim();
        if !t.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 3 || !is_item_id(cells[0]) {
            continue;
        }
        let (requirement, enforcement) = if aud == Audience::EarlierAlerts {
            (cells[2].to_string(), cells[1].to_string())
        } else {
            (cells[1].to_string(), cells[2].to_string())
        };
        items.push(Item {
            id: cells[0].to_string(),
            audience: aud,
            requirement,
            enforcement,
            owasp: Vec::new(),
        });
    }
    let map = parse_cross_map(md);
    for item in &mut items {
        item.owasp = map
            .iter()
            .filter(|(_, _, ids)| ids.iter().any(|i| i == &item.id))
            .map(|(code, _, _)| code.clone())
            .collect();
    }
    items
}

/// The cross-map: `(OWASP code, name, guidance IDs)`, e.g. `("LLM01", "prompt injection",
/// ["CN-A2", "NVDB-5"])`. Entries with no guidance IDs are kept with an empty list.
pub fn parse_cross_map(md: &str) -> Vec<(String, String, Vec<String>)> {
    let Some(start) = md.find("## Cross-map") else {
        return Vec::new();
    };
    let mut text = &md[start..];
    if let Some(end) = text.find("Items the Chinese guidance") {
        text = &text[..end];
    }
    let bytes = text.as_bytes();
    let mut starts = Vec::new();
    for i in 0..bytes.len() {
        let code_at = |p: &str| {
            text[i..].starts_with(p)
                && bytes.len() >= i + p.len() + 2
                && bytes[i + p.len()].is_ascii_digit()
                && bytes[i + p.len() + 1].is_ascii_digit()
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        };
        if code_at("LLM") || code_at("ASI") {
            starts.push((i, 5));
        }
    }
    let mut out = Vec::new();
    for (n, (i, len)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map(|s| s.0).unwrap_or(text.len());
        let code = text[*i..*i + len].to_string();
        let seg = &text[*i + len..end];
        let (name, ids) = match seg.find('(') {
            Some(p) => {
                let close = seg[p..].find(')').map(|c| p + c).unwrap_or(seg.len());
                let ids = seg[p + 1..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        if is_item_id(s) {
                            s.to_string()
                        } else {
                            format!("CN-{s}")
                        }
                    })
                    .filter(|s| is_item_id(s))
                    .collect();
                (seg[..p].trim().to_string(), ids)
            }
            None => (
                seg.trim()
                    .trim_end_matches(['.', ','])
                    .split(". ")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                Vec::new(),
            ),
        };
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push((code, name, ids));
    }
    out
}

/// The items of the embedded GUIDANCE.md.
pub fn items() -> Vec<Item> {
    parse_items(GUIDANCE_MD)
}

/// A human name for an OWASP code from the cross-map (`LLM01` -> `prompt injection`).
pub fn owasp_name(code: &str) -> Option<String> {
    parse_cross_map(GUIDANCE_MD)
        .into_iter()
        .find(|(c, _, _)| c == code)
        .map(|(_, n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_tables_parse() {
        let items = items();
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.len(), 6 + 6 + 3 + 8 + 4 + 6, "{ids:?}");
        assert_eq!(ids.first(), Some(&"CN-A1"));
        assert_eq!(ids.last(), Some(&"NVDB-6"));
        let m2 = items.iter().find(|i| i.id == "CNCERT-M2").unwrap();
        assert_eq!(m2.audience, Audience::EarlierAlerts);
        assert!(m2.requirement.contains("plaintext"), "{m2:?}");
    }

    #[test]
    fn cross_map_assigns_owasp_ids() {
        let items = items();
        let get = |id: &str| items.iter().find(|i| i.id == id).unwrap().owasp.clone();
        assert_eq!(get("CN-A2"), vec!["LLM01"]);
        assert_eq!(get("CN-A3"), vec!["LLM06", "ASI03"]);
        assert_eq!(get("CN-D7"), vec!["ASI06"]);
        assert_eq!(get("NVDB-5"), vec!["LLM01"]);
        assert!(get("CN-B6").is_empty());
        assert_eq!(owasp_name("ASI01").as_deref(), Some("goal hijack"));
        assert_eq!(owasp_name("LLM03").as_deref(), Some("supply chain"));
    }

    #[test]
    fn ids_are_recognised() {
        for ok in ["CN-A1", "CN-D8", "CNCERT-M4", "NVDB-6"] {
            assert!(is_item_id(ok), "{ok}");
        }
        for bad in ["CN-1", "ID", "NVDB-x", "CN-a1", "LLM01", "CN-"] {
            assert!(!is_item_id(bad), "{bad}");
        }
    }
}
