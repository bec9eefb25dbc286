//! Tokens for the tree tracker, from `html5gum`, a maintained WHATWG tokenizer.
//!
//! The tokenizer (tag and attribute states, comments, character references with the full named
//! table, the RCDATA/RAWTEXT/script-data states with their escaped and double-escaped forms) is
//! html5gum's. What a browser's tree builder decides, this module takes from [`super::tree`]:
//! after a start tag the tree sets [`Tokenizer::mode`], and the next call switches html5gum's
//! state before reading on. html5gum reads no further than the token it returns, so the switch
//! always lands where a browser's would.
//!
//! The tree also says when the adjusted current node is an SVG/MathML element ([`Tokenizer::foreign`]):
//! only there is `<![CDATA[` a CDATA section; elsewhere it is a bogus comment. Getting this wrong
//! would let `<svg><![CDATA[ > </svg> text ]]>` end the `svg` early and show its hidden text.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;

use html5gum::{
    DefaultEmitter, Emitter, ForwardingEmitter, State, StringReader, Token as GumToken,
};

/// html5gum's default emitter, told by the tree whether CDATA sections are allowed.
struct TreeAware {
    inner: DefaultEmitter,
    foreign: Rc<Cell<bool>>,
}

impl ForwardingEmitter for TreeAware {
    type Token = GumToken;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.inner
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&mut self) -> bool {
        self.foreign.get()
    }
}

/// One token for the tree tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Character data, character references decoded where the state decodes them.
    Text(String),
    /// A start tag: lower-case name, attributes (the first of duplicates wins), self-closing flag.
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

/// The content model the tree tracker selects after a start tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Data,
    Rcdata,
    Rawtext,
    Script,
    Plaintext,
}

/// html5gum's tokenizer with the tree tracker's state switches.
pub struct Tokenizer<'a> {
    inner: html5gum::Tokenizer<StringReader<'a>, TreeAware>,
    foreign_cell: Rc<Cell<bool>>,
    /// Set by the tree tracker after a start tag; applied before the next token is read.
    pub mode: Mode,
    /// Set by the tree tracker: the adjusted current node is an SVG/MathML element.
    pub foreign: bool,
}

/// Normalises newlines (CRLF and CR to LF) and replaces NUL with U+FFFD, as the HTML input
/// stream does before tokenizing.
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

fn text(bytes: Vec<u8>) -> String {
    // The input is a `&str`, so html5gum hands back UTF-8; stay total anyway.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl<'a> Tokenizer<'a> {
    /// A tokenizer in the data state over `s` (already [`preprocess`]ed).
    pub fn new(s: &'a str) -> Self {
        let foreign_cell = Rc::new(Cell::new(false));
        let emitter = TreeAware {
            inner: DefaultEmitter::default(),
            foreign: foreign_cell.clone(),
        };
        Tokenizer {
            inner: html5gum::Tokenizer::new_with_emitter(s, emitter),
            foreign_cell,
            mode: Mode::Data,
            foreign: false,
        }
    }

    /// The next token, or `None` at the end of input.
    pub fn next_token(&mut self) -> Option<Token> {
        let mode = std::mem::replace(&mut self.mode, Mode::Data);
        let state = match mode {
            Mode::Data => None,
            Mode::Rcdata => Some(State::RcData),
            Mode::Rawtext => Some(State::RawText),
            Mode::Script => Some(State::ScriptData),
            Mode::Plaintext => Some(State::PlainText),
        };
        if let Some(state) = state {
            self.inner.set_state(state);
        }
        self.foreign_cell.set(self.foreign);
        loop {
            let token: Result<GumToken, Infallible> = self.inner.next()?;
            let Ok(token) = token;
            return Some(match token {
                GumToken::String(s) => Token::Text(text(s.value.0)),
                GumToken::StartTag(t) => Token::Start {
                    name: text(t.name.0),
                    attrs: t
                        .attributes
                        .into_iter()
                        .map(|(k, v)| (text(k.0), text(v.value.0)))
                        .collect(),
                    self_closing: t.self_closing,
                },
                GumToken::EndTag(t) => Token::End(text(t.name.0)),
                GumToken::Comment(_) | GumToken::Doctype(_) => Token::Ignored,
                GumToken::Error(_) => continue,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All tokens of `s`, switching states after start tags as the tree tracker does.
    fn all(s: &str) -> Vec<Token> {
        let mut t = Tokenizer::new(s);
        let mut v = Vec::new();
        while let Some(x) = t.next_token() {
            if let Token::Start { name, .. } = &x {
                t.mode = match name.as_str() {
                    "script" => Mode::Script,
                    "style" => Mode::Rawtext,
                    "title" => Mode::Rcdata,
                    "plaintext" => Mode::Plaintext,
                    _ => Mode::Data,
                };
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
        let v = all(
            r#"<DIV Class=a class="b" style='display&colon;none' data-x=&amp;y title="&notit=x" hidden/>"#,
        );
        let Some(Token::Start {
            name,
            attrs,
            self_closing,
        }) = v.first()
        else {
            panic!("{v:?}")
        };
        assert_eq!(name, "div");
        assert!(self_closing);
        let mut attrs = attrs.clone();
        attrs.sort();
        assert_eq!(
            attrs,
            vec![
                ("class".into(), "a".into()), // the first of duplicates wins
                ("data-x".into(), "&y".into()),
                ("hidden".into(), String::new()),
                ("style".into(), "display:none".into()), // references decoded in values
                ("title".into(), "&notit=x".into()),     // but not a legacy name before `=`
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
        assert_eq!(text(&all("a<![CDATA[x]]>b")), "ab");
        let mut t = Tokenizer::new("<![CDATA[x<y>]]>z");
        t.foreign = true;
        assert_eq!(t.next_token(), Some(Token::Text("x<y>z".into())));
    }

    #[test]
    fn script_escapes() {
        let v = all("<script><!--<script></script>INJECTION--></script>after");
        assert_eq!(v.last(), Some(&Token::Text("after".into())));
        assert!(text(&v).contains("INJECTION-->"), "{v:?}");
        assert!(
            v.iter()
                .filter(|t| matches!(t, Token::End(n) if n == "script"))
                .count()
                == 1,
            "the inner </script> must not end the script: {v:?}"
        );
        let v = all("<script>a</scriptx>b</script >c");
        assert_eq!(v.last(), Some(&Token::Text("c".into())));
        assert_eq!(text(&v[..v.len() - 1]), "a</scriptx>b");
    }

    #[test]
    fn raw_text_states_follow_the_tree() {
        assert_eq!(
            text(&all("<title>a &amp; <b>b</b></title>c")),
            "a & <b>b</b>c"
        );
        assert_eq!(text(&all("<style>p{x:'</p>'}</STYLE>c")), "p{x:'</p>'}c");
        assert_eq!(
            text(&all("<plaintext>a</plaintext><b>b")),
            "a</plaintext><b>b"
        );
    }

    #[test]
    fn newlines_and_nul_are_normalised() {
        assert_eq!(preprocess("a\r\nb\rc\0d"), "a\nb\nc\u{FFFD}d");
        assert!(matches!(preprocess("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
