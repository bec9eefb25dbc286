//! An HTML tokenizer following the WHATWG tokenizer states that decide what is markup and
//! what is text: tags and attributes, comments (incl. `<!-->`, `--!>`, unterminated), bogus
//! comments, doctype, RCDATA, RAWTEXT, PLAINTEXT, script data with its escaped and
//! double-escaped states, and CDATA sections in foreign content.

use std::collections::HashSet;

use super::entities;

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Character data (references decoded where the state decodes them).
    Text(String),
    /// A start tag: lower-case name, attributes (first wins), self-closing flag.
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        self_closing: bool,
    },
    /// An end tag, lower-case name.
    End(String),
    /// A comment, bogus comment or doctype: nothing to show.
    Ignored,
}

/// The content model the tree builder selects after a start tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Data,
    Rcdata,
    Rawtext,
    Script,
    Plaintext,
}

/// Tokenizer over preprocessed input (see [`preprocess`]).
pub struct Tokenizer<'a> {
    s: &'a str,
    pos: usize,
    pending: Option<Token>,
    /// Current content model; set by the tree builder after a start tag.
    pub mode: Mode,
    /// Name of the element whose end tag ends RCDATA/RAWTEXT/script data.
    pub end_name: String,
    /// True while the adjusted current node is an SVG/MathML element (CDATA allowed).
    pub foreign: bool,
}

/// Normalises newlines (CRLF and CR to LF) and replaces NUL with U+FFFD.
pub fn preprocess(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(|b| b == b'\r' || b == 0) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\r' => {
                if it.peek() == Some(&'\n') {
                    it.next();
                }
                out.push('\n');
            }
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b' ')
}

fn eq_ci(hay: &[u8], at: usize, word: &str) -> bool {
    hay.get(at..at + word.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(word.as_bytes()))
}

/// True when `b[j..]` starts with `name` (case-insensitive) followed by whitespace, `/` or `>`.
fn end_tag_here(b: &[u8], j: usize, name: &str) -> bool {
    eq_ci(b, j, name)
        && b.get(j + name.len())
            .is_some_and(|&c| is_ws(c) || c == b'/' || c == b'>')
}

/// Index of the `<` of the `</script` that ends script data starting at `from`, or the end.
fn script_end(b: &[u8], from: usize) -> usize {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Data,
        Esc,
        EscDash,
        EscDashDash,
        Dbl,
        DblDash,
        DblDashDash,
    }
    let alpha_run = |j: usize| {
        j + b[j.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count()
    };
    let mut s = S::Data;
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        match s {
            S::Data => {
                if c == b'<' {
                    if b.get(i + 1) == Some(&b'/') && end_tag_here(b, i + 2, "script") {
                        return i;
                    }
                    if b.get(i + 1..i + 4) == Some(b"!--".as_slice()) {
                        s = S::EscDashDash;
                        i += 4;
                        continue;
                    }
                }
                i += 1;
            }
            S::Esc | S::EscDash | S::EscDashDash => match c {
                b'-' => {
                    s = if s == S::Esc {
                        S::EscDash
                    } else {
                        S::EscDashDash
                    };
                    i += 1;
                }
                b'<' => {
                    if b.get(i + 1) == Some(&b'/') {
                        if end_tag_here(b, i + 2, "script") {
                            return i;
                        }
                        s = S::Esc;
                        i += 2;
                    } else if b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                        let we = alpha_run(i + 1);
                        let next = b.get(we).copied();
                        if next.is_some_and(|c| is_ws(c) || c == b'/' || c == b'>')
                            && b[i + 1..we].eq_ignore_ascii_case(b"script")
                        {
                            s = S::Dbl;
                            i = we + 1;
                        } else {
                            s = S::Esc;
                            i = we;
                        }
                    } else {
                        s = S::Esc;
                        i += 1;
                    }
                }
                b'>' if s == S::EscDashDash => {
                    s = S::Data;
                    i += 1;
                }
                _ => {
                    s = S::Esc;
                    i += 1;
                }
            },
            S::Dbl | S::DblDash | S::DblDashDash => match c {
                b'-' => {
                    s = if s == S::Dbl {
                        S::DblDash
                    } else {
                        S::DblDashDash
                    };
                    i += 1;
                }
                b'<' if b.get(i + 1) == Some(&b'/') => {
                    let we = alpha_run(i + 2);
                    let next = b.get(we).copied();
                    if next.is_some_and(|c| is_ws(c) || c == b'/' || c == b'>')
                        && b[i + 2..we].eq_ignore_ascii_case(b"script")
                    {
                        s = S::Esc;
                        i = we + 1;
                    } else {
                        s = S::Dbl;
                        i = we;
                    }
                }
                b'<' => {
                    s = S::Dbl;
                    i += 1;
                }
                b'>' if s == S::DblDashDash => {
                    s = S::Data;
                    i += 1;
                }
                _ => {
                    s = S::Dbl;
                    i += 1;
                }
            },
        }
    }
    b.len()
}

enum Markup {
    Literal,
    Tok(Token, usize),
    Nothing(usize),
}

impl<'a> Tokenizer<'a> {
    /// A tokenizer in the data state over `s` (already [`preprocess`]ed).
    pub fn new(s: &'a str) -> Self {
        Tokenizer {
            s,
            pos: 0,
            pending: None,
            mode: Mode::Data,
            end_name: String::new(),
            foreign: false,
        }
    }

    fn b(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// Text from `from` to `to` (both at ASCII positions or the ends), references decoded.
    fn decoded(&self, from: usize, to: usize, out: &mut String) {
        let b = self.b();
        let mut i = from;
        let mut run = from;
        while i < to {
            if b[i] == b'&' {
                out.push_str(&self.s[run..i]);
                let mut tmp = String::new();
                match entities::decode(&b[i + 1..to], false, &mut tmp) {
                    Some(n) => {
                        out.push_str(&tmp);
                        i += 1 + n;
                    }
                    None => {
                        out.push('&');
                        i += 1;
                    }
                }
                run = i;
            } else {
                i += 1;
            }
        }
        out.push_str(&self.s[run..to]);
    }

    /// The next token, or `None` at the end of input.
    pub fn next_token(&mut self) -> Option<Token> {
        if let Some(t) = self.pending.take() {
            return Some(t);
        }
        let b = self.b();
        let n = b.len();
        if self.pos >= n {
            return None;
        }
        match self.mode {
            Mode::Plaintext => {
                let t = self.s[self.pos..].to_string();
                self.pos = n;
                Some(Token::Text(t))
            }
            Mode::Rawtext | Mode::Rcdata | Mode::Script => {
                let end = if self.mode == Mode::Script {
                    script_end(b, self.pos)
                } else {
                    let mut j = self.pos;
                    loop {
                        match b[j..].iter().position(|&c| c == b'<') {
                            None => break n,
                            Some(k) => {
                                j += k;
                                if b.get(j + 1) == Some(&b'/')
                                    && end_tag_here(b, j + 2, &self.end_name)
                                {
                                    break j;
                                }
                                j += 1;
                            }
                        }
                    }
                };
                let mut t = String::new();
                if self.mode == Mode::Rcdata {
                    self.decoded(self.pos, end, &mut t);
                } else {
                    t.push_str(&self.s[self.pos..end]);
                }
                self.pos = end;
                self.mode = Mode::Data;
                if t.is_empty() {
                    return self.next_token();
                }
                Some(Token::Text(t))
            }
            Mode::Data => {
                let mut text = String::new();
                let mut i = self.pos;
                loop {
                    let k = b[i..].iter().position(|&c| c == b'<' || c == b'&');
                    let stop = k.map_or(n, |k| i + k);
                    text.push_str(&self.s[i..stop]);
                    i = stop;
                    if i >= n {
                        self.pos = n;
                        break;
                    }
                    if b[i] == b'&' {
                        match entities::decode(&b[i + 1..], false, &mut text) {
                            Some(used) => i += 1 + used,
                            None => {
                                text.push('&');
                                i += 1;
                            }
                        }
                        continue;
                    }
                    match self.markup(i) {
                        Markup::Literal => {
                            text.push('<');
                            i += 1;
                        }
                        Markup::Nothing(end) => {
                            self.pos = end;
                            if text.is_empty() {
                                return self.next_token();
                            }
                            break;
                        }
                        Markup::Tok(t, end) => {
                            self.pos = end;
                            if text.is_empty() {
                                return Some(t);
                            }
                            self.pending = Some(t);
                            break;
                        }
                    }
                }
                if text.is_empty() {
                    return None;
                }
                Some(Token::Text(text))
            }
        }
    }

    fn until_gt(&self, from: usize) -> usize {
        let b = self.b();
        b.get(from..)
            .and_then(|r| r.iter().position(|&c| c == b'>'))
            .map_or(b.len(), |k| from + k + 1)
    }

    fn markup(&self, i: usize) -> Markup {
        let b = self.b();
        let n = b.len();
        match b.get(i + 1) {
            Some(c) if c.is_ascii_alphabetic() => self.tag(i + 1, false),
            Some(b'/') => match b.get(i + 2) {
                Some(c) if c.is_ascii_alphabetic() => self.tag(i + 2, true),
                Some(b'>') => Markup::Nothing(i + 3),
                None => Markup::Literal,
                Some(_) => Markup::Tok(Token::Ignored, self.until_gt(i + 2)),
            },
            Some(b'!') => {
                let j = i + 2;
                if b.get(j..j + 2) == Some(b"--".as_slice()) {
                    let c = j + 2;
                    if b.get(c) == Some(&b'>') {
                        return Markup::Tok(Token::Ignored, c + 1);
                    }
                    if b.get(c..c + 2) == Some(b"->".as_slice()) {
                        return Markup::Tok(Token::Ignored, c + 2);
                    }
                    let mut k = c;
                    while k < n {
                        if b[k] == b'-' && b.get(k + 1) == Some(&b'-') {
                            if b.get(k + 2) == Some(&b'>') {
                                return Markup::Tok(Token::Ignored, k + 3);
                            }
                            if b.get(k + 2..k + 4) == Some(b"!>".as_slice()) {
                                return Markup::Tok(Token::Ignored, k + 4);
                            }
                        }
                        k += 1;
                    }
                    Markup::Tok(Token::Ignored, n)
                } else if eq_ci(b, j, "doctype") {
                    Markup::Tok(Token::Ignored, self.until_gt(j))
                } else if self.foreign && b.get(j..j + 7) == Some(b"[CDATA[".as_slice()) {
                    let c = j + 7;
                    let end = b[c..]
                        .windows(3)
                        .position(|w| w == b"]]>")
                        .map_or(n, |k| c + k);
                    let t = self.s[c..end].to_string();
                    Markup::Tok(Token::Text(t), (end + 3).min(n))
                } else {
                    Markup::Tok(Token::Ignored, self.until_gt(j))
                }
            }
            Some(b'?') => Markup::Tok(Token::Ignored, self.until_gt(i + 1)),
            _ => Markup::Literal,
        }
    }

    /// Attribute value from `p` until a byte for which `stop` is true; references decoded in
    /// attribute mode. Returns the value and the index of the stop byte (or the end).
    fn attr_value(&self, mut p: usize, stop: impl Fn(u8) -> bool) -> (String, usize) {
        let b = self.b();
        let end = b[p.min(b.len())..]
            .iter()
            .position(|&c| stop(c))
            .map_or(b.len(), |k| p + k);
        let mut v = String::new();
        let mut run = p;
        while p < end {
            if b[p] == b'&' {
                v.push_str(&self.s[run..p]);
                match entities::decode(&b[p + 1..end], true, &mut v) {
                    Some(used) => p += 1 + used,
                    None => {
                        v.push('&');
                        p += 1;
                    }
                }
                run = p;
            } else {
                p += 1;
            }
        }
        v.push_str(&self.s[run..p.min(b.len())]);
        (v, p)
    }

    /// A start or end tag whose name begins at `p`. A tag cut by the end of input is dropped.
    fn tag(&self, mut p: usize, is_end: bool) -> Markup {
        let b = self.b();
        let n = b.len();
        let stop_name = |c: u8| is_ws(c) || c == b'/' || c == b'>';
        let start = p;
        while p < n && !stop_name(b[p]) {
            p += 1;
        }
        let name = self.s[start..p].to_ascii_lowercase();
        let mut attrs: Vec<(String, String)> = Vec::new();
        let mut seen: Option<HashSet<String>> = None;
        let mut self_closing = false;
        loop {
            while p < n && is_ws(b[p]) {
                p += 1;
            }
            if p >= n {
                return Markup::Nothing(n);
            }
            match b[p] {
                b'>' => {
                    p += 1;
                    break;
                }
                b'/' => {
                    p += 1;
                    if p >= n {
                        return Markup::Nothing(n);
                    }
                    if b[p] == b'>' {
                        self_closing = true;
                        p += 1;
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            let an = p;
            if b[p] == b'=' {
                p += 1;
            }
            while p < n && !(stop_name(b[p]) || b[p] == b'=') {
                p += 1;
            }
            let aname = self.s[an..p].to_ascii_lowercase();
            while p < n && is_ws(b[p]) {
                p += 1;
            }
            let mut value = String::new();
            if p < n && b[p] == b'=' {
                p += 1;
                while p < n && is_ws(b[p]) {
                    p += 1;
                }
                if p >= n {
                    return Markup::Nothing(n);
                }
                match b[p] {
                    q @ (b'"' | b'\'') => {
                        let (v, e) = self.attr_value(p + 1, |c| c == q);
                        if e >= n {
                            return Markup::Nothing(n);
                        }
                        value = v;
                        p = e + 1;
                    }
                    b'>' => {}
                    _ => {
                        let (v, e) = self.attr_value(p, |c| is_ws(c) || c == b'>');
                        if e >= n {
                            return Markup::Nothing(n);
                        }
                        value = v;
                        p = e;
                    }
                }
            }
            // Duplicates: the first wins (a set once the list is long, to stay linear).
            let dup = if attrs.len() < 16 {
                attrs.iter().any(|(k, _)| *k == aname)
            } else {
                let seen = seen.get_or_insert_with(|| {
                    attrs
                        .iter()
                        .map(|(k, _)| k.clone())
                        .collect::<HashSet<String>>()
                });
                !seen.insert(aname.clone())
            };
            if !dup {
                attrs.push((aname, value));
            }
        }
        if is_end {
            Markup::Tok(Token::End(name), p)
        } else {
            Markup::Tok(
                Token::Start {
                    name,
                    attrs,
                    self_closing,
                },
                p,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<Token> {
        let mut t = Tokenizer::new(s);
        let mut v = Vec::new();
        while let Some(x) = t.next_token() {
            if let Token::Start { name, .. } = &x {
                t.mode = match name.as_str() {
                    "script" => Mode::Script,
                    "style" => Mode::Rawtext,
                    "title" => Mode::Rcdata,
                    _ => Mode::Data,
                };
                t.end_name = name.clone();
            }
            v.push(x);
        }
        v
    }

    fn text(v: &[Token]) -> String {
        v.iter()
            .filter_map(|t| match t {
                Token::Text(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn attributes_follow_the_spec() {
        let v = all(r#"<DIV Class=a class="b" style='display&colon;none' data-x=&amp;y hidden/>"#);
        let Token::Start {
            name,
            attrs,
            self_closing,
        } = &v[0]
        else {
            panic!("{v:?}")
        };
        assert_eq!(name, "div");
        assert!(self_closing);
        assert_eq!(
            attrs,
            &vec![
                ("class".into(), "a".into()),
                ("style".into(), "display:none".into()),
                ("data-x".into(), "&y".into()),
                ("hidden".into(), String::new()),
            ]
        );
    }

    #[test]
    fn comments_and_bogus_comments() {
        assert_eq!(text(&all("a<!-->b")), "ab");
        assert_eq!(text(&all("a<!--->b")), "ab");
        assert_eq!(text(&all("a<!-- x --!>b")), "ab");
        assert_eq!(text(&all("a<!-- x -- y --->b")), "ab");
        assert_eq!(text(&all("a<!-- never closed")), "a");
        assert_eq!(text(&all("a<?php x ?>b</1>c<!x>d")), "abcd");
        assert_eq!(text(&all("a < b </>c")), "a < b c");
        assert_eq!(text(&all("a<span title=\"unterminated")), "a");
    }

    #[test]
    fn script_escapes() {
        let v = all("<script><!--<script></script>INJECTION--></script>after");
        assert_eq!(v.last(), Some(&Token::Text("after".into())));
        assert!(
            matches!(&v[1], Token::Text(t) if t.contains("INJECTION")),
            "{v:?}"
        );
        let v = all("<script>a</scriptx>b</script >c");
        assert_eq!(v.last(), Some(&Token::Text("c".into())));
        assert_eq!(v[1], Token::Text("a</scriptx>b".into()));
    }
}
