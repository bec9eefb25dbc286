//! Character references (WHATWG HTML §13.2.5.72–80): named (the full HTML5 table, longest
//! match, legacy names without `;`) and numeric, with the spec's replacements.

#[cfg(test)]
use super::entity_table::COUNT;
use super::entity_table::{INDEX, NAMES};

/// Longest name in the table, in bytes.
const MAX_NAME: usize = 32;

fn name_at(i: usize) -> &'static [u8] {
    let (off, len, _, _) = INDEX[i];
    NAMES
        .as_bytes()
        .get(off as usize..off as usize + len as usize)
        .unwrap_or(&[])
}

/// Looks `name` (including its `;`, if any) up in the table.
fn lookup(name: &[u8]) -> Option<(u32, u32)> {
    let (mut lo, mut hi) = (0, INDEX.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match name_at(mid).cmp(name) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let (_, _, a, b) = INDEX[mid];
                return Some((a, b));
            }
        }
    }
    None
}

/// Windows-1252 replacements for numeric references 0x80–0x9F (0 = keep the code point).
const C1: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// The character a numeric reference to `n` stands for.
pub fn numeric(n: u32) -> char {
    match n {
        0 => '\u{FFFD}',
        0x80..=0x9F => match C1[(n - 0x80) as usize] {
            0 => char::from_u32(n).unwrap_or('\u{FFFD}'),
            c => char::from_u32(c as u32).unwrap_or('\u{FFFD}'),
        },
        _ => char::from_u32(n).unwrap_or('\u{FFFD}'),
    }
}

/// Decodes a character reference at the start of `rest` (which begins just after `&`).
/// Pushes the decoded text to `out` and returns the number of bytes of `rest` consumed, or
/// `None` when nothing is decoded (the caller then emits `&` literally and goes on).
pub fn decode(rest: &[u8], in_attribute: bool, out: &mut String) -> Option<usize> {
    match rest.first()? {
        b'#' => {
            let hex = matches!(rest.get(1), Some(b'x' | b'X'));
            let start = if hex { 2 } else { 1 };
            let radix = if hex { 16 } else { 10 };
            let digits = rest[start..]
                .iter()
                .take_while(|b| {
                    if hex {
                        b.is_ascii_hexdigit()
                    } else {
                        b.is_ascii_digit()
                    }
                })
                .count();
            if digits == 0 {
                return None;
            }
            let mut n: u32 = 0;
            for &b in &rest[start..start + digits] {
                let d = (b as char).to_digit(radix).unwrap_or(0);
                n = n.saturating_mul(radix).saturating_add(d).min(0x11_0000);
            }
            let mut used = start + digits;
            if rest.get(used) == Some(&b';') {
                used += 1;
            }
            out.push(numeric(n));
            Some(used)
        }
        b if b.is_ascii_alphanumeric() => {
            let run = rest
                .iter()
                .take(MAX_NAME)
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let mut found = None;
            if rest.get(run) == Some(&b';') {
                found = lookup(&rest[..=run]).map(|cp| (run + 1, cp));
            }
            if found.is_none() {
                found = (1..=run)
                    .rev()
                    .find_map(|l| lookup(&rest[..l]).map(|cp| (l, cp)));
            }
            let (used, (a, b)) = found?;
            if in_attribute
                && rest[used - 1] != b';'
                && rest
                    .get(used)
                    .is_some_and(|c| *c == b'=' || c.is_ascii_alphanumeric())
            {
                return None;
            }
            out.push(char::from_u32(a).unwrap_or('\u{FFFD}'));
            if b != 0 {
                out.push(char::from_u32(b).unwrap_or('\u{FFFD}'));
            }
            Some(used)
        }
        _ => None,
    }
}

/// Number of table entries (for tests).
#[cfg(test)]
pub fn table_len() -> usize {
    COUNT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str, attr: bool) -> String {
        let mut out = String::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'&' {
                if let Some(n) = decode(&b[i + 1..], attr, &mut out) {
                    i += 1 + n;
                    continue;
                }
            }
            out.push(b[i] as char);
            i += 1;
        }
        out
    }

    #[test]
    fn generated_table_is_sorted_and_complete() {
        assert_eq!(table_len(), 2231);
        assert_eq!(INDEX.len(), 2231);
        for i in 1..COUNT {
            assert!(name_at(i - 1) < name_at(i), "not sorted at {i}");
        }
        let (off, len, _, _) = INDEX[COUNT - 1];
        assert_eq!(off as usize + len as usize, NAMES.len());
        assert!(NAMES.len() > 10_000);
        assert!(INDEX.iter().all(|&(_, l, _, _)| l as usize <= MAX_NAME));
    }

    #[test]
    fn named_references() {
        assert_eq!(dec("a &amp; b", false), "a & b");
        assert_eq!(dec("&notit;", false), "¬it;");
        assert_eq!(dec("&not", false), "¬");
        assert_eq!(dec("&notin;", false), "∉");
        assert_eq!(dec("&foo;", false), "&foo;");
        assert_eq!(dec("&ampx", false), "&x");
        assert_eq!(dec("&NotEqualTilde;", false), "\u{2242}\u{338}");
        assert_eq!(dec("&colon;", false), ":");
        assert_eq!(dec("&", false), "&");
    }

    #[test]
    fn attribute_rules() {
        assert_eq!(dec("?a=1&copy=2", true), "?a=1&copy=2");
        assert_eq!(dec("?a=1&copyx", true), "?a=1&copyx");
        assert_eq!(dec("&copy;x", true), "©x");
        assert_eq!(dec("&copy x", true), "© x");
    }

    #[test]
    fn numeric_references() {
        assert_eq!(dec("&#x41;&#65;&#X42", false), "AAB");
        assert_eq!(dec("&#128;", false), "€");
        assert_eq!(dec("&#0;", false), "\u{FFFD}");
        assert_eq!(dec("&#xD800;", false), "\u{FFFD}");
        assert_eq!(dec("&#x110000;", false), "\u{FFFD}");
        assert_eq!(dec("&#99999999999999999999;", false), "\u{FFFD}");
        assert_eq!(dec("&#129;", false), "\u{81}");
        assert_eq!(dec("&#;&#x;", false), "&#;&#x;");
    }
}
