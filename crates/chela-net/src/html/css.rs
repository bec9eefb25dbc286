//! Just enough CSS to find the page's own rules that hide elements: block structure (incl.
//! `@media`/`@supports` groups and nesting), selector lists, and selectors built from type,
//! `.class`, `#id`, `*`, attribute selectors, descendant and child combinators. Anything it
//! cannot read errs on the side of hiding (sibling combinators, structural and state
//! pseudo-classes are widened; a widened argument is dropped from `:not`) or, for the one
//! selector, is ignored (user-action pseudo-classes, pseudo-elements, `:empty` subjects).

use std::collections::HashMap;

use crate::fetch::hidden_by_style;

/// Most selectors kept; a page asking for more is refused (fail closed).
pub const MAX_SELECTORS: usize = 20_000;
const MAX_DEPTH: usize = 64;

/// Attribute selector operator.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrOp {
    Exists,
    Eq(String),
    Word(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Dash(String),
}

/// One compound selector (all conditions on one element).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compound {
    /// Type selector (lower-case).
    pub tag: Option<String>,
    /// `#id`s (lower-case).
    pub ids: Vec<String>,
    /// `.class`es (lower-case).
    pub classes: Vec<String>,
    /// Attribute selectors.
    pub attrs: Vec<(String, AttrOp)>,
    /// `:not(a, b)` with simple arguments: none may match.
    pub nots: Vec<Compound>,
    /// `:is(..)`/`:where(..)`: one compound of each group must match (the subject compound
    /// of a complex argument stands for it, which widens the match).
    pub alts: Vec<Vec<Compound>>,
    /// Some condition was dropped (widened), so the compound matches a superset of what it
    /// says: it may not be negated (`:not` of a superset would match a subset).
    pub widened: bool,
    /// `:empty`/`:blank`: the element holds no text, so it hides none and contains nothing.
    pub empty: bool,
}

/// How a compound relates to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comb {
    Descendant,
    Child,
}

/// A complex selector, left to right; `parts[i].1` links part `i` to part `i + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// Compounds with the combinator to the next one.
    pub parts: Vec<(Compound, Comb)>,
}

/// Element data a compound is matched against (classes and id lower-cased).
pub struct ElemView<'a> {
    /// Tag name.
    pub name: &'a str,
    /// `id` attribute.
    pub id: Option<String>,
    /// Classes (lower-case).
    pub classes: Vec<String>,
    /// All attributes.
    pub attrs: &'a [(String, String)],
}

impl Compound {
    /// True when `e` satisfies every condition (class and id compared case-insensitively,
    /// as quirks mode does: matching more only hides more).
    pub fn matches(&self, e: &ElemView<'_>) -> bool {
        if self.tag.as_deref().is_some_and(|t| t != e.name) {
            return false;
        }
        if !self.ids.iter().all(|i| e.id.as_deref() == Some(i.as_str())) {
            return false;
        }
        if !self.classes.iter().all(|c| e.classes.contains(c)) {
            return false;
        }
        if self.nots.iter().any(|n| n.matches(e)) {
            return false;
        }
        if !self.alts.iter().all(|g| g.iter().any(|c| c.matches(e))) {
            return false;
        }
        self.attrs.iter().all(|(name, op)| {
            let Some((_, v)) = e.attrs.iter().find(|(k, _)| k == name) else {
                return false;
            };
            let v = v.to_lowercase();
            match op {
                AttrOp::Exists => true,
                AttrOp::Eq(x) => v == *x,
                AttrOp::Word(x) => v.split_ascii_whitespace().any(|w| w == x),
                AttrOp::Prefix(x) => !x.is_empty() && v.starts_with(x.as_str()),
                AttrOp::Suffix(x) => !x.is_empty() && v.ends_with(x.as_str()),
                AttrOp::Contains(x) => !x.is_empty() && v.contains(x.as_str()),
                AttrOp::Dash(x) => v == *x || v.starts_with(&format!("{x}-")),
            }
        })
    }
}

/// Removes `/* comments */` (outside strings).
fn strip_comments(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut run = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&s[run..i]);
                i = b[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(b.len(), |k| i + 2 + k + 2);
                out.push(' ');
                run = i;
                continue;
            }
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    out.push_str(&s[run.min(s.len())..]);
    out
}

/// Decodes CSS escapes (`\6e `, `\:`).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6 && it.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            hex.extend(it.next());
        }
        if hex.is_empty() {
            match it.next() {
                Some('\n') | None => {}
                Some(c) => out.push(c),
            }
            continue;
        }
        if it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        let cp = u32::from_str_radix(&hex, 16).unwrap_or(0);
        out.push(match cp {
            0 => '\u{FFFD}',
            _ => char::from_u32(cp).unwrap_or('\u{FFFD}'),
        });
    }
    out
}

/// The text of a `data:` URL (percent-decoded, base64 when marked so); `None` for other URLs.
pub fn data_url_text(href: &str) -> Option<String> {
    let href = href.trim();
    let rest = href.get(..5).filter(|p| p.eq_ignore_ascii_case("data:"))?;
    let (meta, data) = href[rest.len()..].split_once(',')?;
    let bytes = percent_decode(data);
    let bytes = if meta.trim_end().to_ascii_lowercase().ends_with(";base64") {
        base64_decode(&bytes)
    } else {
        bytes
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The sheets `sheet` imports from `data:` URLs (`@import url(data:…)`, `@import "data:…"`),
/// which browsers apply like `<link href="data:…">`. Other URLs are not fetched. An
/// `@import` anywhere counts (browsers only honour leading ones): extra sheets only hide more.
pub fn data_imports(sheet: &str) -> Vec<String> {
    let s = strip_comments(sheet);
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(k) = lower[from..].find("@import") {
        let at = from + k + "@import".len();
        from = at;
        let rest = s[at..].trim_start();
        let (rest, in_url) = match rest.get(..4) {
            Some(u) if u.eq_ignore_ascii_case("url(") => (rest[4..].trim_start(), true),
            _ => (rest, false),
        };
        let url = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                let mut end = body.len();
                let mut esc = false;
                for (i, c) in body.char_indices() {
                    if esc {
                        esc = false;
                    } else if c == '\\' {
                        esc = true;
                    } else if c == q || c == '\n' {
                        end = i;
                        break;
                    }
                }
                unescape(&body[..end])
            }
            _ if in_url => {
                let end = rest.find(')').unwrap_or(rest.len());
                unescape(rest[..end].trim_end())
            }
            _ => continue,
        };
        if let Some(text) = data_url_text(&url) {
            out.push(text);
        }
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Forgiving base64 (whitespace and padding ignored; stops at the first invalid byte).
fn base64_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in b {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' => continue,
            _ => break,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Values given to custom properties anywhere in the page (`--name` → values, lower-case,
/// without spaces). Used to widen `var()`: a property hides if any value could hide it.
pub type Vars = HashMap<String, Vec<String>>;

const MAX_VAR_NAMES: usize = 10_000;
const MAX_VAR_VALUES: usize = 32;

/// Records the custom property declarations found in `text` (a sheet or a `style` value).
pub fn collect_vars(text: &str, vars: &mut Vars) {
    if !text.contains("--") {
        return;
    }
    let d = unescape(&strip_comments(text));
    let b = d.as_bytes();
    let mut i = 0;
    while let Some(k) = d.get(i..).and_then(|r| r.find("--")) {
        let at = i + k;
        i = at + 2;
        if at > 0
            && !matches!(
                b[at - 1],
                b'{' | b';' | b' ' | b'\t' | b'\n' | b'\x0c' | b'"' | b'\''
            )
        {
            continue;
        }
        let name_end = d[at..]
            .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .map_or(d.len(), |e| at + e);
        let rest = d[name_end..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let val_end = rest.find([';', '}', '!']).unwrap_or(rest.len());
        let value: String = rest[..val_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let name = d[at..name_end].to_string();
        if vars.len() >= MAX_VAR_NAMES && !vars.contains_key(&name) {
            continue;
        }
        let values = vars.entry(name).or_default();
        if values.len() < MAX_VAR_VALUES && !values.contains(&value) {
            values.push(value);
        }
    }
}

/// True when a declaration block (inline `style` or a rule body) hides its element.
#[cfg(test)]
pub fn declarations_hide(decls: &str) -> bool {
    declarations_hide_with(decls, &Vars::new())
}

/// [`declarations_hide`] with `var()` references replaced by every value the page gives the
/// custom property (or the fallback): hidden if any of them hides.
pub fn declarations_hide_with(decls: &str, vars: &Vars) -> bool {
    let d = unescape(&strip_comments(decls));
    if hides_normalized(&d) {
        return true;
    }
    if !d.contains("var(") {
        return false;
    }
    d.split(';').any(|decl| {
        let Some((prop, val)) = decl.split_once(':') else {
            return false;
        };
        let prop = prop.trim().to_ascii_lowercase();
        if prop.starts_with("--") || !val.contains("var(") {
            return false;
        }
        var_candidates(val, vars)
            .iter()
            .any(|c| hides_normalized(&format!("{prop}:{c}")))
    })
}

/// Possible values of every `var(--x[, fallback])` in `val` (at most a few hundred).
fn var_candidates(val: &str, vars: &Vars) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = val;
    while let Some(k) = rest.find("var(") {
        let inner = &rest[k + 4..];
        let end = inner.find(')').unwrap_or(inner.len());
        let (name, fallback) = match inner[..end].split_once(',') {
            Some((n, f)) => (n.trim(), Some(f.trim())),
            None => (inner[..end].trim(), None),
        };
        if let Some(vs) = vars.get(name) {
            out.extend(vs.iter().cloned());
        }
        if let Some(f) = fallback {
            out.push(f.to_ascii_lowercase());
        }
        if out.len() > 256 {
            break;
        }
        rest = &inner[end.min(inner.len())..];
    }
    out
}

fn hides_normalized(d: &str) -> bool {
    hidden_by_style(d) || {
        let s: String = d
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        s.contains("content-visibility:hidden")
            || s.split(';').any(|decl| {
                decl.strip_prefix("opacity:")
                    .and_then(|v| v.trim_end_matches("!important").strip_suffix('%'))
                    .is_some_and(|v| v.parse::<f32>().is_ok_and(|o| o <= 1.0))
            })
    }
}

/// Splits on commas outside brackets, parentheses and strings.
fn split_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote = None;
    let mut cur = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            esc = false;
            cur.push(c);
            continue;
        }
        match (quote, c) {
            (_, '\\') => esc = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth <= 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| {
            s.replace("<!--", " ")
                .replace("-->", " ")
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

enum Frame {
    Group,
    Rule { sels: Vec<String>, decls: String },
    Skip,
}

fn is_groups(n: &str) -> bool {
    matches!(
        n,
        "media"
            | "supports"
            | "layer"
            | "container"
            | "scope"
            | "document"
            | "-moz-document"
            | "starting-style"
    )
}

/// Collects the selectors of every rule in `sheet` whose declarations hide. Returns `Err`
/// when the sheet asks for more than [`MAX_SELECTORS`].
pub fn hiding_selectors(sheet: &str, vars: &Vars, out: &mut Vec<Selector>) -> Result<(), ()> {
    let sheet = strip_comments(sheet);
    let b = sheet.as_bytes();
    let mut stack = vec![Frame::Group];
    let mut start = 0;
    let mut i = 0;
    let finish = |f: Frame, out: &mut Vec<Selector>| -> Result<(), ()> {
        if let Frame::Rule { sels, decls } = f {
            if declarations_hide_with(&decls, vars) {
                for s in sels {
                    if let Some(sel) = parse_selector(&s) {
                        if out.len() >= MAX_SELECTORS {
                            return Err(());
                        }
                        out.push(sel);
                    }
                }
            }
        }
        Ok(())
    };
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let prelude = sheet.get(start..i).unwrap_or("").trim();
                let frame = match stack.last() {
                    Some(Frame::Skip) | None => Frame::Skip,
                    _ if stack.len() > MAX_DEPTH => return Err(()),
                    Some(parent) => {
                        let at = prelude.replace("<!--", " ").replace("-->", " ");
                        let at = at.trim();
                        if let Some(rest) = at.strip_prefix('@') {
                            let name: String = rest
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '-')
                                .collect::<String>()
                                .to_ascii_lowercase();
                            if is_groups(name.as_str()) {
                                match parent {
                                    Frame::Rule { sels, .. } => Frame::Rule {
                                        sels: sels.clone(),
                                        decls: String::new(),
                                    },
                                    _ => Frame::Group,
                                }
                            } else {
                                Frame::Skip
                            }
                        } else {
                            let list = split_list(prelude);
                            let sels = match parent {
                                Frame::Rule { sels: ps, .. } => {
                                    if ps.len().saturating_mul(list.len()) > MAX_SELECTORS {
                                        return Err(());
                                    }
                                    let mut v = Vec::new();
                                    for p in ps {
                                        for s in &list {
                                            v.push(if s.contains('&') {
                                                s.replace('&', p)
                                            } else {
                                                format!("{p} {s}")
                                            });
                                        }
                                    }
                                    v
                                }
                                _ => list,
                            };
                            Frame::Rule {
                                sels,
                                decls: String::new(),
                            }
                        }
                    }
                };
                stack.push(frame);
                start = i + 1;
            }
            b'}' => {
                if stack.len() > 1 {
                    if let Some(Frame::Rule { decls, .. }) = stack.last_mut() {
                        decls.push_str(sheet.get(start..i).unwrap_or(""));
                    }
                    if let Some(f) = stack.pop() {
                        finish(f, out)?;
                    }
                }
                start = i + 1;
            }
            b';' => {
                if let Some(Frame::Rule { decls, .. }) = stack.last_mut() {
                    decls.push_str(sheet.get(start..=i).unwrap_or(""));
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    // Blocks left open at the end of the sheet are closed, as browsers do.
    if let Some(Frame::Rule { decls, .. }) = stack.last_mut() {
        decls.push_str(sheet.get(start..).unwrap_or(""));
    }
    while stack.len() > 1 {
        if let Some(f) = stack.pop() {
            finish(f, out)?;
        }
    }
    Ok(())
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_' || !c.is_ascii() || c == '\\'
}

/// Reads an identifier (with escapes) starting at `*i`.
fn ident(cs: &[char], i: &mut usize) -> String {
    let mut raw = String::new();
    while *i < cs.len() && is_ident(cs[*i]) {
        if cs[*i] == '\\' {
            raw.push('\\');
            *i += 1;
            if *i < cs.len() {
                raw.push(cs[*i]);
                *i += 1;
                // Hex escapes run on and may end with one space.
                while *i < cs.len() && cs[*i].is_ascii_hexdigit() && raw.len() < 8 {
                    raw.push(cs[*i]);
                    *i += 1;
                }
                if *i < cs.len() && cs[*i] == ' ' && raw[1..].chars().all(|c| c.is_ascii_hexdigit())
                {
                    raw.push(' ');
                    *i += 1;
                }
            }
            continue;
        }
        raw.push(cs[*i]);
        *i += 1;
    }
    unescape(&raw)
}

/// Pseudo-classes that can match on a freshly loaded page (structure, language, element
/// and form states): dropping them widens the match (hides more). Those that need the
/// user (`:hover`, `:focus`, `:active`, `:visited`) make the selector ignored instead.
fn is_widen(n: &str) -> bool {
    matches!(
        n,
        "read-only"
            | "read-write"
            | "enabled"
            | "disabled"
            | "checked"
            | "default"
            | "required"
            | "optional"
            | "placeholder-shown"
            | "indeterminate"
            | "valid"
            | "invalid"
            | "in-range"
            | "out-of-range"
            | "open"
            | "closed"
            | "target"
            | "target-within"
            | "local-link"
            | "autofill"
            | "-webkit-autofill"
            | "popover-open"
            | "modal"
            | "playing"
            | "paused"
            | "muted"
            | "has"
            | "nth-child"
            | "nth-last-child"
            | "nth-of-type"
            | "nth-last-of-type"
            | "first-child"
            | "last-child"
            | "only-child"
            | "first-of-type"
            | "last-of-type"
            | "only-of-type"
            | "root"
            | "lang"
            | "dir"
            | "defined"
            | "link"
            | "any-link"
            | "scope"
    )
}

/// Deepest nesting of `:is`/`:where`/`:not` read; deeper ones are dropped (widening).
const MAX_NESTING: usize = 4;

/// Parses one complex selector; `None` when it uses something not understood.
pub fn parse_selector(s: &str) -> Option<Selector> {
    parse_nested(s, 0)
}

/// Parses the argument list of `:is()`-like pseudo-classes into the subject compounds of
/// the arguments that parse (forgiving, like browsers), each with "is exact": a single
/// compound with nothing widened. Also returns the number of arguments given.
fn parse_args(args: &str, depth: usize) -> (Vec<(Compound, bool)>, usize) {
    let list = split_list(args);
    let parsed = list
        .iter()
        .filter_map(|a| parse_nested(a, depth + 1))
        .filter_map(|mut sel| {
            let simple = sel.parts.len() == 1;
            sel.parts.pop().map(|(c, _)| {
                let exact = simple && !c.widened;
                (c, exact)
            })
        })
        .collect();
    (parsed, list.len())
}

fn parse_nested(s: &str, depth: usize) -> Option<Selector> {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut parts: Vec<(Compound, Option<char>)> = Vec::new();
    let mut cur = Compound::default();
    let mut cur_used = false;
    loop {
        let mut ws = false;
        while i < cs.len() && cs[i].is_whitespace() {
            i += 1;
            ws = true;
        }
        if i >= cs.len() {
            break;
        }
        let c = cs[i];
        if matches!(c, '>' | '+' | '~') {
            if !cur_used {
                return None;
            }
            parts.push((std::mem::take(&mut cur), Some(c)));
            cur_used = false;
            i += 1;
            continue;
        }
        if ws && cur_used {
            parts.push((std::mem::take(&mut cur), Some(' ')));
        }
        match c {
            '*' | '&' | '|' => {
                // `*`, `&`, or a namespace prefix (`*|`, `|`): the namespace is ignored.
                if c != '|' {
                    i += 1;
                }
                if cs.get(i) == Some(&'|') && cs.get(i + 1) != Some(&'=') {
                    i += 1;
                    match cs.get(i) {
                        Some('*') => i += 1,
                        Some(&n) if is_ident(n) => {
                            cur.tag = Some(ident(&cs, &mut i).to_ascii_lowercase());
                        }
                        _ => return None,
                    }
                } else if c == '|' {
                    return None;
                }
            }
            '.' | '#' => {
                i += 1;
                let id = ident(&cs, &mut i).to_lowercase();
                if id.is_empty() {
                    return None;
                }
                if c == '.' {
                    cur.classes.push(id);
                } else {
                    cur.ids.push(id);
                }
            }
            '[' => {
                i += 1;
                while i < cs.len() && cs[i].is_whitespace() {
                    i += 1;
                }
                // A namespace prefix (`*|`, `|`, `ns|`) is ignored.
                if cs.get(i) == Some(&'*') && cs.get(i + 1) == Some(&'|') {
                    i += 2;
                } else if cs.get(i) == Some(&'|') && cs.get(i + 1) != Some(&'=') {
                    i += 1;
                }
                let mut name = ident(&cs, &mut i).to_ascii_lowercase();
                if cs.get(i) == Some(&'|') && cs.get(i + 1) != Some(&'=') {
                    i += 1;
                    name = ident(&cs, &mut i).to_ascii_lowercase();
                }
                if name.is_empty() {
                    return None;
                }
                while i < cs.len() && cs[i].is_whitespace() {
                    i += 1;
                }
                let op = match cs.get(i) {
                    Some(']') => None,
                    Some('=') => Some('='),
                    Some(o @ ('~' | '^' | '$' | '*' | '|')) if cs.get(i + 1) == Some(&'=') => {
                        i += 1;
                        Some(*o)
                    }
                    _ => return None,
                };
                let attr = match op {
                    None => AttrOp::Exists,
                    Some(o) => {
                        i += 1;
                        while i < cs.len() && cs[i].is_whitespace() {
                            i += 1;
                        }
                        let v = match cs.get(i) {
                            Some(q @ ('"' | '\'')) => {
                                let q = *q;
                                i += 1;
                                let mut raw = String::new();
                                while i < cs.len() && cs[i] != q {
                                    if cs[i] == '\\' && i + 1 < cs.len() {
                                        raw.push('\\');
                                        i += 1;
                                    }
                                    raw.push(cs[i]);
                                    i += 1;
                                }
                                i += 1;
                                unescape(&raw)
                            }
                            _ => ident(&cs, &mut i),
                        };
                        let v = v.to_lowercase();
                        while i < cs.len() && cs[i].is_whitespace() {
                            i += 1;
                        }
                        if matches!(cs.get(i), Some('i' | 'I' | 's' | 'S')) {
                            i += 1;
                        }
                        match o {
                            '=' => AttrOp::Eq(v),
                            '~' => AttrOp::Word(v),
                            '^' => AttrOp::Prefix(v),
                            '$' => AttrOp::Suffix(v),
                            '*' => AttrOp::Contains(v),
                            _ => AttrOp::Dash(v),
                        }
                    }
                };
                while i < cs.len() && cs[i].is_whitespace() {
                    i += 1;
                }
                if cs.get(i) != Some(&']') {
                    return None;
                }
                i += 1;
                cur.attrs.push((name, attr));
            }
            ':' => {
                i += 1;
                if cs.get(i) == Some(&':') {
                    return None;
                }
                let name = ident(&cs, &mut i).to_ascii_lowercase();
                if matches!(name.as_str(), "empty" | "blank") {
                    cur.empty = true;
                    cur_used = true;
                    continue;
                }
                let logical = matches!(
                    name.as_str(),
                    "is" | "where" | "matches" | "-webkit-any" | "-moz-any" | "not"
                );
                if !logical && !is_widen(name.as_str()) {
                    return None;
                }
                if !logical || depth >= MAX_NESTING {
                    cur.widened = true;
                }
                let mut args = String::new();
                if cs.get(i) == Some(&'(') {
                    let mut level = 0;
                    while i < cs.len() {
                        match cs[i] {
                            '(' => level += 1,
                            ')' => {
                                level -= 1;
                                if level == 0 {
                                    i += 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        if level > 1 || (level == 1 && cs[i] != '(') {
                            args.push(cs[i]);
                        }
                        i += 1;
                    }
                }
                if logical && depth < MAX_NESTING {
                    let (parsed, given) = parse_args(&args, depth);
                    if name == "not" {
                        // Only exact arguments are evaluated; others are dropped (widening).
                        let exact: Vec<Compound> = parsed
                            .into_iter()
                            .filter(|(_, exact)| *exact)
                            .map(|(c, _)| c)
                            .collect();
                        if exact.len() < given {
                            cur.widened = true;
                        }
                        cur.nots.extend(exact);
                    } else {
                        if parsed.iter().any(|(_, exact)| !exact) {
                            cur.widened = true;
                        }
                        cur.alts.push(parsed.into_iter().map(|(c, _)| c).collect());
                    }
                }
            }
            c if is_ident(c) => {
                let mut t = Some(ident(&cs, &mut i).to_ascii_lowercase());
                if cs.get(i) == Some(&'|') {
                    // `ns|name` or `ns|*`: the namespace is ignored.
                    i += 1;
                    t = match cs.get(i) {
                        Some('*') => {
                            i += 1;
                            None
                        }
                        Some(&n) if is_ident(n) => Some(ident(&cs, &mut i).to_ascii_lowercase()),
                        _ => return None,
                    };
                }
                cur.tag = t;
            }
            _ => return None,
        }
        cur_used = true;
    }
    if !cur_used {
        return None;
    }
    parts.push((cur, None));
    // Sibling combinators: drop the sibling compound (its ancestors are the subject's).
    let mut out: Vec<(Compound, Comb)> = Vec::new();
    let mut k = 0;
    while k < parts.len() {
        let (c, link) = &parts[k];
        if matches!(link, Some('+' | '~')) {
            k += 1;
            continue;
        }
        if c.empty {
            // An element without text hides none, and has no descendants to hide.
            return None;
        }
        let comb = if *link == Some('>') {
            Comb::Child
        } else {
            Comb::Descendant
        };
        out.push((c.clone(), comb));
        k += 1;
    }
    Some(Selector { parts: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sels(css: &str) -> Vec<Selector> {
        let mut v = Vec::new();
        hiding_selectors(css, &Vars::new(), &mut v).unwrap();
        v
    }

    #[test]
    fn only_hiding_rules_are_kept() {
        let v = sels(
            ".a{color:red} .b, #c {display:none} @media (max-width:1px){ div.d {visibility:hidden} }
             @font-face{src:url(x)} @keyframes k { from {opacity:0} } .e:hover{display:none}
             .f::before{display:none} .g{ .h{ opacity:0 } } p > .i ~ .j{font-size:0}",
        );
        let shown: Vec<String> = v.iter().map(|s| format!("{:?}", s.parts.len())).collect();
        assert_eq!(v.len(), 5, "{v:#?} {shown:?}");
        assert_eq!(v[0].parts[0].0.classes, vec!["b".to_string()]);
        assert_eq!(v[1].parts[0].0.ids, vec!["c".to_string()]);
        assert_eq!(v[2].parts[0].0.tag.as_deref(), Some("div"));
        assert_eq!(v[3].parts.len(), 2);
        assert_eq!(v[4].parts.len(), 2);
        assert_eq!(v[4].parts[0].1, Comb::Child);
        assert_eq!(v[4].parts[1].0.classes, vec!["j".to_string()]);
    }

    #[test]
    fn escapes_and_comments() {
        let v = sels(r".\68 idden{dis/**/play:n\6f ne} [data-x='1'] {opacity:0}");
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].parts[0].0.classes, vec!["hidden".to_string()]);
        assert_eq!(
            v[1].parts[0].0.attrs,
            vec![("data-x".to_string(), AttrOp::Eq("1".into()))]
        );
        assert!(declarations_hide("display:/* x */none"));
        let mut vars = Vars::new();
        collect_vars(":root{--shown: block; --h : NONE ;} .x{--o:0}", &mut vars);
        assert!(declarations_hide_with("display: var(--h)", &vars));
        assert!(declarations_hide_with("opacity: var(--o)", &vars));
        assert!(declarations_hide_with("display: var(--unset, none)", &vars));
        assert!(!declarations_hide_with("display: var(--shown)", &vars));
    }
}
