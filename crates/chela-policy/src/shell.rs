//! A focused parser for POSIX `sh` and `bash` command text, built for *classification*.
//!
//! It is not a shell: it never expands anything that needs the environment or runs code. It
//! builds a syntax tree precise enough to know, for every simple command, which words are static
//! text (after quote removal: `r''m`, `\rm`, `"r"m` and `$'\x72m'` are all the literal `rm`) and
//! which are dynamic (parameter expansion, command substitution, globbing), and to find every
//! nested piece of code (`$(…)`, backticks, `<(…)`, heredocs, subshells, functions, loops).
//!
//! Anything it does not understand is a [`ParseError`]; the classifier turns that into the
//! `Unknown` class (approval required), never into a guess. The parser is recursion-bounded and
//! works on `char` indices with checked access, so hostile input cannot make it panic.
//!
//! Why a focused parser rather than a general one (e.g. `brush-parser`): classification needs
//! the *static/dynamic* distinction per word piece and exact source text per command, a hard
//! latency budget (a decision on every tool call) and a small, auditable dependency tree. The
//! general parsers are built to execute scripts and leave word analysis to a later stage.

use std::fmt;

/// Maximum nesting of subshells, substitutions and compound commands.
pub const MAX_DEPTH: usize = 48;
/// Maximum accepted command length in bytes; longer input is refused as unparseable.
pub const MAX_INPUT: usize = 256 * 1024;

/// Why command text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Human-readable cause.
    pub message: String,
    /// Character offset where the parser gave up.
    pub offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// A list of and-or lists separated by `;`, `&` or newlines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// The and-or lists in order.
    pub items: Vec<AndOr>,
}

/// The operator joining two pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AndOrOp {
    /// `&&`
    And,
    /// `||`
    Or,
}

/// Pipelines joined by `&&` / `||`.
#[derive(Debug, Clone, PartialEq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// Further pipelines, each with the operator before it.
    pub rest: Vec<(AndOrOp, Pipeline)>,
}

/// Commands joined by `|` or `|&`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Whether the pipeline starts with `!`.
    pub negated: bool,
    /// The commands, upstream first.
    pub commands: Vec<Command>,
}

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A simple command: assignments, words and redirections.
    Simple(SimpleCommand),
    /// `( list )`
    Subshell(Script, Vec<Redirect>),
    /// `{ list; }`
    Group(Script, Vec<Redirect>),
    /// `if`, `while`, `until`, `for`, `select`, `case`, `[[ ]]`, `(( ))`.
    Compound(Compound),
    /// `name() body` or `function name body`.
    FunctionDef {
        /// Function name.
        name: String,
        /// Its body.
        body: Box<Command>,
    },
}

/// A compound command with its header words and bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct Compound {
    /// `if`, `while`, `until`, `for`, `select`, `case`, `[[` or `((`.
    pub keyword: &'static str,
    /// The loop variable of `for`/`select`.
    pub var: Option<String>,
    /// Words in headers (loop lists, case subject and patterns, `[[ ]]` operands).
    pub words: Vec<Word>,
    /// Raw arithmetic text for `((…))` and `for ((…))`.
    pub arith: Vec<String>,
    /// Bodies and conditions, in source order.
    pub bodies: Vec<Script>,
    /// Redirections after the compound.
    pub redirects: Vec<Redirect>,
}

/// `NAME=value`, `NAME+=value` or `NAME=(a b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Variable name.
    pub name: String,
    /// The value (for arrays: the elements).
    pub values: Vec<Word>,
    /// Whether it was an array assignment.
    pub array: bool,
    /// `+=`
    pub append: bool,
}

/// A simple command.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleCommand {
    /// Prefix assignments.
    pub assignments: Vec<Assignment>,
    /// Command word and arguments.
    pub words: Vec<Word>,
    /// Redirections anywhere in the command.
    pub redirects: Vec<Redirect>,
    /// The source text of the command.
    pub text: String,
}

/// Redirection operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirOp {
    /// `<`
    In,
    /// `>`
    Out,
    /// `>>`
    Append,
    /// `>|`
    Clobber,
    /// `<>`
    ReadWrite,
    /// `&>` or `>&file`
    OutErr,
    /// `&>>`
    AppendOutErr,
    /// `>&N` / `<&N` (descriptor duplication or close)
    Dup,
    /// `<<` / `<<-`
    Heredoc,
    /// `<<<`
    HereString,
}

impl RedirOp {
    /// Whether the target is a file that is written.
    pub fn writes(self) -> bool {
        matches!(
            self,
            RedirOp::Out
                | RedirOp::Append
                | RedirOp::Clobber
                | RedirOp::ReadWrite
                | RedirOp::OutErr
                | RedirOp::AppendOutErr
        )
    }
}

/// A redirection.
#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    /// The descriptor number, when given.
    pub fd: Option<u32>,
    /// The operator.
    pub op: RedirOp,
    /// The target word (the delimiter for heredocs).
    pub target: Word,
    /// For heredocs: the body text and whether the delimiter was quoted (no expansion).
    pub heredoc: Option<Heredoc>,
}

/// The body of a heredoc.
#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    /// Body text (without the delimiter line).
    pub body: String,
    /// True when the delimiter was quoted, so the body is literal.
    pub quoted: bool,
}

/// One piece of a word.
#[derive(Debug, Clone, PartialEq)]
pub enum WordPart {
    /// Text; `quoted` when it came from quotes or a backslash escape.
    Lit {
        /// The text after quote removal.
        text: String,
        /// Whether it was quoted (no globbing, no brace expansion).
        quoted: bool,
    },
    /// `$name`, `${name}` or a complex `${…}`.
    Param {
        /// Variable name (empty for complex forms).
        name: String,
        /// Raw text of a complex `${…}` expansion.
        complex: Option<String>,
        /// Inside double quotes (no field splitting).
        quoted: bool,
        /// Command substitutions nested in a complex expansion.
        nested: Vec<Script>,
    },
    /// `$(…)` or backticks.
    CommandSubst(Box<Script>),
    /// `<(…)` or `>(…)`.
    ProcessSubst(Box<Script>),
    /// `$((…))`; `has_subst` when it contains a command substitution.
    Arith {
        /// Raw expression.
        raw: String,
        /// True when it contains `$(` or a backtick.
        has_subst: bool,
    },
    /// `~` or `~user` at the start of a word.
    Tilde(String),
}

/// A shell word: a sequence of parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Word {
    /// The parts, in order.
    pub parts: Vec<WordPart>,
}

impl Word {
    /// The word's value when it is entirely static text (quotes removed), else `None`.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                WordPart::Lit { text, .. } => s.push_str(text),
                _ => return None,
            }
        }
        Some(s)
    }

    /// Whether the word contains unquoted glob characters (`*`, `?`, `[`).
    pub fn has_glob(&self) -> bool {
        self.parts.iter().any(|p| match p {
            WordPart::Lit {
                text,
                quoted: false,
            } => {
                text.contains(['*', '?'])
                    || text.find('[').is_some_and(|i| text[i + 1..].contains(']'))
            }
            _ => false,
        })
    }

    /// Every script nested inside this word (substitutions), recursively at this level.
    pub fn nested_scripts(&self) -> Vec<&Script> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                WordPart::CommandSubst(s) | WordPart::ProcessSubst(s) => out.push(&**s),
                WordPart::Param { nested, .. } => out.extend(nested.iter()),
                _ => {}
            }
        }
        out
    }

    fn push_lit(&mut self, c: char, quoted: bool) {
        if let Some(WordPart::Lit { text, quoted: q }) = self.parts.last_mut() {
            if *q == quoted {
                text.push(c);
                return;
            }
        }
        let mut text = String::with_capacity(16);
        text.push(c);
        self.parts.push(WordPart::Lit { text, quoted });
    }

    fn push_str(&mut self, s: &str, quoted: bool) {
        for c in s.chars() {
            self.push_lit(c, quoted);
        }
    }
}

/// Parses command text into a [`Script`] (heredoc bodies attached to their redirections).
pub fn parse(input: &str) -> Result<Script, ParseError> {
    parse_with_heredocs(input, 0)
}

/// Parses nested code (e.g. a `bash -c` argument) found at nesting `depth`.
pub fn parse_nested(input: &str, depth: usize) -> Result<Script, ParseError> {
    parse_with_heredocs(input, depth)
}

/// A heredoc whose body has not been read yet: where to store it.
struct Pending {
    delim: String,
    strip_tabs: bool,
    quoted: bool,
    slot: usize,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    pending: Vec<Pending>,
    /// Heredoc bodies read so far, indexed by slot.
    bodies: Vec<Option<String>>,
}

const RESERVED_END: &[&str] = &[
    "then", "else", "elif", "fi", "do", "done", "esac", "}", "in",
];

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
    )
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

impl Parser {
    fn new(input: &str, depth: usize) -> Self {
        Parser {
            chars: input.chars().collect(),
            pos: 0,
            depth,
            pending: Vec::new(),
            bodies: Vec::new(),
        }
    }

    fn err(&self, msg: &str) -> ParseError {
        ParseError {
            message: msg.to_string(),
            offset: self.pos,
        }
    }

    fn rest_preview(&self) -> String {
        self.chars.iter().skip(self.pos).take(12).collect()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, c)| self.chars.get(self.pos + k) == Some(&c))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("command nested too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Skips blanks, line continuations and comments (not newlines).
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ') | Some('\t') | Some('\r') => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                Some('#') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// Consumes a newline and reads any pending heredoc bodies.
    fn newline(&mut self) -> Result<(), ParseError> {
        self.pos += 1;
        self.read_heredocs()
    }

    fn skip_ws_nl(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_blanks();
            if self.peek() == Some('\n') {
                self.newline()?;
            } else {
                return Ok(());
            }
        }
    }

    fn read_heredocs(&mut self) -> Result<(), ParseError> {
        let pending = std::mem::take(&mut self.pending);
        for h in pending {
            let mut body = String::new();
            let mut found = false;
            while self.pos < self.chars.len() {
                let start = self.pos;
                while self.pos < self.chars.len() && self.chars[self.pos] != '\n' {
                    self.pos += 1;
                }
                let line: String = self.chars[start..self.pos].iter().collect();
                if self.pos < self.chars.len() {
                    self.pos += 1; // newline
                }
                let cmp = if h.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line.as_str()
                };
                if cmp == h.delim {
                    found = true;
                    break;
                }
                body.push_str(cmp);
                body.push('\n');
            }
            if !found {
                return Err(self.err(&format!(
                    "heredoc delimited by `{}` is not terminated",
                    h.delim
                )));
            }
            if let Some(slot) = self.bodies.get_mut(h.slot) {
                *slot = Some(body);
            }
            let _ = h.quoted;
        }
        Ok(())
    }

    /// The next bare word (for reserved-word detection), as a slice of the input.
    fn peek_word_slice(&self) -> &[char] {
        let mut i = self.pos;
        while let Some(&c) = self.chars.get(i) {
            if is_meta(c) || c == '"' || c == '\'' || c == '\\' || c == '$' || c == '`' {
                break;
            }
            i += 1;
            if i - self.pos > 16 {
                break;
            }
        }
        &self.chars[self.pos.min(i)..i]
    }

    /// Peeks the next bare word as a `String` (for messages and rare paths).
    fn peek_word(&self) -> String {
        self.peek_word_slice().iter().collect()
    }

    /// Whether the next bare word is exactly `w`.
    fn word_is(&self, w: &str) -> bool {
        let s = self.peek_word_slice();
        s.len() == w.len() && s.iter().copied().eq(w.chars())
    }

    fn at_reserved(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.word_is(w))
    }

    fn consume_word(&mut self, w: &str) -> Result<(), ParseError> {
        self.skip_ws_nl()?;
        if self.word_is(w) {
            self.pos += w.chars().count();
            Ok(())
        } else {
            Err(self.err(&format!("expected `{w}`")))
        }
    }

    /// Parses a list until EOF, `)`, a case terminator or one of `terminators` (reserved words).
    fn parse_list(&mut self, terminators: &[&str]) -> Result<Script, ParseError> {
        let mut script = Script::default();
        loop {
            self.skip_ws_nl()?;
            match self.peek() {
                None | Some(')') => break,
                Some(';') if matches!(self.peek_at(1), Some(';') | Some('&')) => break,
                _ => {}
            }
            if self.at_reserved(terminators) {
                break;
            }
            if self.at_reserved(RESERVED_END) && !terminators.is_empty() {
                return Err(self.err(&format!("unexpected `{}`", self.peek_word())));
            }
            let item = self.parse_and_or()?;
            script.items.push(item);
            self.skip_blanks();
            match self.peek() {
                Some(';') if matches!(self.peek_at(1), Some(';') | Some('&')) => break,
                Some(';') => self.pos += 1,
                Some('&') => self.pos += 1,
                Some('\n') => self.newline()?,
                None | Some(')') => break,
                _ => {
                    if self.at_reserved(terminators) {
                        break;
                    }
                    return Err(self.err(&format!("unexpected `{}`", self.rest_preview())));
                }
            }
        }
        Ok(script)
    }

    fn parse_and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.parse_pipeline()?;
        let mut rest = Vec::new();
        loop {
            self.skip_blanks();
            let op = if self.starts_with("&&") {
                AndOrOp::And
            } else if self.starts_with("||") {
                AndOrOp::Or
            } else {
                break;
            };
            self.pos += 2;
            self.skip_ws_nl()?;
            rest.push((op, self.parse_pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn parse_pipeline(&mut self) -> Result<Pipeline, ParseError> {
        self.skip_blanks();
        let mut negated = false;
        while self.peek() == Some('!') && matches!(self.peek_at(1), Some(' ') | Some('\t')) {
            negated = !negated;
            self.pos += 1;
            self.skip_blanks();
        }
        let mut commands = vec![self.parse_command()?];
        loop {
            self.skip_blanks();
            if self.peek() == Some('|') && self.peek_at(1) != Some('|') {
                self.pos += 1;
                if self.peek() == Some('&') {
                    self.pos += 1;
                }
                self.skip_ws_nl()?;
                commands.push(self.parse_command()?);
            } else {
                break;
            }
        }
        Ok(Pipeline { negated, commands })
    }

    fn parse_command(&mut self) -> Result<Command, ParseError> {
        self.enter()?;
        let r = self.parse_command_inner();
        self.leave();
        r
    }

    fn parse_command_inner(&mut self) -> Result<Command, ParseError> {
        self.skip_blanks();
        match self.peek() {
            None => return Err(self.err("missing command")),
            Some('(') if self.peek_at(1) == Some('(') => {
                self.pos += 2;
                let raw = self.read_arith_body()?;
                let redirects = self.parse_trailing_redirects()?;
                return Ok(Command::Compound(Compound {
                    var: None,
                    keyword: "((",
                    words: Vec::new(),
                    arith: vec![raw],
                    bodies: Vec::new(),
                    redirects,
                }));
            }
            Some('(') => {
                self.pos += 1;
                let body = self.parse_list(&[])?;
                self.skip_ws_nl()?;
                if self.peek() != Some(')') {
                    return Err(self.err("expected `)` to close the subshell"));
                }
                self.pos += 1;
                let redirects = self.parse_trailing_redirects()?;
                return Ok(Command::Subshell(body, redirects));
            }
            Some(')') => return Err(self.err("unexpected `)`")),
            Some(c) if matches!(c, ';' | '&' | '|') => {
                return Err(self.err(&format!("unexpected `{c}`")));
            }
            _ => {}
        }
        let wlen = self.peek_word_slice().len();
        let next_after = self.chars.get(self.pos + wlen).copied();
        let word_ends = wlen > 0 && wlen <= 8 && next_after.is_none_or(is_meta);
        if word_ends {
            let w = self.peek_word();
            match w.as_str() {
                "{" => {
                    self.pos += 1;
                    let body = self.parse_list(&["}"])?;
                    self.consume_word("}")?;
                    let redirects = self.parse_trailing_redirects()?;
                    return Ok(Command::Group(body, redirects));
                }
                "if" => return self.parse_if(),
                "while" | "until" => {
                    return self.parse_while(if w == "while" { "while" } else { "until" })
                }
                "for" | "select" => {
                    return self.parse_for(if w == "for" { "for" } else { "select" })
                }
                "case" => return self.parse_case(),
                "function" => return self.parse_function_kw(),
                "[[" => return self.parse_dbracket(),
                _ => {}
            }
        }
        self.parse_simple()
    }

    fn parse_trailing_redirects(&mut self) -> Result<Vec<Redirect>, ParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_blanks();
            if self.at_redirect() {
                out.push(self.parse_redirect()?);
            } else {
                return Ok(out);
            }
        }
    }

    fn parse_if(&mut self) -> Result<Command, ParseError> {
        self.pos += 2;
        let mut bodies = Vec::new();
        bodies.push(self.parse_list(&["then"])?);
        self.consume_word("then")?;
        bodies.push(self.parse_list(&["elif", "else", "fi"])?);
        loop {
            self.skip_ws_nl()?;
            let w = self.peek_word();
            match w.as_str() {
                "elif" => {
                    self.pos += 4;
                    bodies.push(self.parse_list(&["then"])?);
                    self.consume_word("then")?;
                    bodies.push(self.parse_list(&["elif", "else", "fi"])?);
                }
                "else" => {
                    self.pos += 4;
                    bodies.push(self.parse_list(&["fi"])?);
                }
                "fi" => {
                    self.pos += 2;
                    break;
                }
                _ => return Err(self.err("expected `fi`")),
            }
        }
        let redirects = self.parse_trailing_redirects()?;
        Ok(Command::Compound(Compound {
            var: None,
            keyword: "if",
            words: Vec::new(),
            arith: Vec::new(),
            bodies,
            redirects,
        }))
    }

    fn parse_while(&mut self, kw: &'static str) -> Result<Command, ParseError> {
        self.pos += kw.len();
        let cond = self.parse_list(&["do"])?;
        self.consume_word("do")?;
        let body = self.parse_list(&["done"])?;
        self.consume_word("done")?;
        let redirects = self.parse_trailing_redirects()?;
        Ok(Command::Compound(Compound {
            var: None,
            keyword: kw,
            words: Vec::new(),
            arith: Vec::new(),
            bodies: vec![cond, body],
            redirects,
        }))
    }

    fn parse_for(&mut self, kw: &'static str) -> Result<Command, ParseError> {
        self.pos += kw.len();
        self.skip_blanks();
        let mut words = Vec::new();
        let mut arith = Vec::new();
        let mut var = None;
        if self.starts_with("((") {
            self.pos += 2;
            arith.push(self.read_arith_body()?);
            self.skip_blanks();
            if self.peek() == Some(';') {
                self.pos += 1;
            }
        } else {
            let name = self.parse_word()?;
            match name.literal() {
                Some(n) if !n.is_empty() && n.chars().all(is_name_char) => var = Some(n),
                _ => return Err(self.err("expected a loop variable name")),
            }
            self.skip_ws_nl()?;
            if self.word_is("in") {
                self.pos += 2;
                loop {
                    self.skip_blanks();
                    match self.peek() {
                        Some(';') | Some('\n') => {
                            if self.peek() == Some('\n') {
                                self.newline()?;
                            } else {
                                self.pos += 1;
                            }
                            break;
                        }
                        None => return Err(self.err("expected `do`")),
                        _ => words.push(self.parse_word_required()?),
                    }
                }
            } else if self.peek() == Some(';') {
                self.pos += 1;
            }
        }
        self.consume_word("do")?;
        let body = self.parse_list(&["done"])?;
        self.consume_word("done")?;
        let redirects = self.parse_trailing_redirects()?;
        Ok(Command::Compound(Compound {
            var,
            keyword: kw,
            words,
            arith,
            bodies: vec![body],
            redirects,
        }))
    }

    fn parse_case(&mut self) -> Result<Command, ParseError> {
        self.pos += 4;
        self.skip_blanks();
        let mut words = vec![self.parse_word_required()?];
        self.consume_word("in")?;
        let mut bodies = Vec::new();
        loop {
            self.skip_ws_nl()?;
            if self.word_is("esac") {
                self.pos += 4;
                break;
            }
            if self.peek() == Some('(') {
                self.pos += 1;
            }
            loop {
                self.skip_blanks();
                words.push(self.parse_word_required()?);
                self.skip_blanks();
                match self.peek() {
                    Some('|') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("expected `)` after a case pattern")),
                }
            }
            bodies.push(self.parse_list(&["esac"])?);
            self.skip_ws_nl()?;
            if self.starts_with(";;&") {
                self.pos += 3;
            } else if self.starts_with(";;") || self.starts_with(";&") {
                self.pos += 2;
            } else if self.word_is("esac") {
                self.pos += 4;
                break;
            } else {
                return Err(self.err("expected `;;` or `esac`"));
            }
        }
        let redirects = self.parse_trailing_redirects()?;
        Ok(Command::Compound(Compound {
            var: None,
            keyword: "case",
            words,
            arith: Vec::new(),
            bodies,
            redirects,
        }))
    }

    fn parse_function_kw(&mut self) -> Result<Command, ParseError> {
        self.pos += 8;
        self.skip_blanks();
        let name = self
            .parse_word()?
            .literal()
            .ok_or_else(|| self.err("function name must be static text"))?;
        self.skip_blanks();
        if self.starts_with("()") {
            self.pos += 2;
        } else if self.peek() == Some('(') {
            self.pos += 1;
            self.skip_blanks();
            if self.peek() != Some(')') {
                return Err(self.err("expected `)`"));
            }
            self.pos += 1;
        }
        self.skip_ws_nl()?;
        let body = self.parse_command()?;
        Ok(Command::FunctionDef {
            name,
            body: Box::new(body),
        })
    }

    fn parse_dbracket(&mut self) -> Result<Command, ParseError> {
        self.pos += 2;
        let mut words = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Err(self.err("`[[` without `]]`")),
                Some('\n') => {
                    self.newline()?;
                    continue;
                }
                _ => {}
            }
            if self.word_is("]]") {
                self.pos += 2;
                break;
            }
            // Operators inside [[ ]] are plain tokens.
            let ops = ["&&", "||", "<", ">", "(", ")", "!"];
            if let Some(op) = ops.iter().find(|o| self.starts_with(o)) {
                self.pos += op.len();
                continue;
            }
            words.push(self.parse_word_required()?);
        }
        let redirects = self.parse_trailing_redirects()?;
        Ok(Command::Compound(Compound {
            var: None,
            keyword: "[[",
            words,
            arith: Vec::new(),
            bodies: Vec::new(),
            redirects,
        }))
    }

    /// Reads the body of `((…))` after the opening `((`, through the closing `))`.
    fn read_arith_body(&mut self) -> Result<String, ParseError> {
        let mut depth = 0usize;
        let mut raw = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated `((`")),
                Some(')') if depth == 0 && self.peek_at(1) == Some(')') => {
                    self.pos += 2;
                    return Ok(raw);
                }
                Some(c) => {
                    if c == '(' {
                        depth += 1;
                    } else if c == ')' {
                        depth = depth.saturating_sub(1);
                    }
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn at_redirect(&self) -> bool {
        let mut i = self.pos;
        while let Some(c) = self.chars.get(i) {
            if c.is_ascii_digit() {
                i += 1;
            } else {
                break;
            }
        }
        match self.chars.get(i) {
            Some('<') | Some('>') => {
                // `<(` and `>(` are process substitutions, not redirections.
                !(i == self.pos && self.chars.get(i + 1) == Some(&'('))
            }
            Some('&') => i == self.pos && self.chars.get(i + 1) == Some(&'>'),
            _ => false,
        }
    }

    fn parse_redirect(&mut self) -> Result<Redirect, ParseError> {
        let mut fd_s = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                fd_s.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        let fd = if fd_s.is_empty() {
            None
        } else {
            Some(
                fd_s.parse::<u32>()
                    .map_err(|_| self.err("descriptor number too large"))?,
            )
        };
        let ops: [(&str, RedirOp); 12] = [
            ("&>>", RedirOp::AppendOutErr),
            ("&>", RedirOp::OutErr),
            ("<<<", RedirOp::HereString),
            ("<<-", RedirOp::Heredoc),
            ("<<", RedirOp::Heredoc),
            (">>", RedirOp::Append),
            (">|", RedirOp::Clobber),
            (">&", RedirOp::Dup),
            ("<&", RedirOp::Dup),
            ("<>", RedirOp::ReadWrite),
            (">", RedirOp::Out),
            ("<", RedirOp::In),
        ];
        let mut found = None;
        for (s, op) in ops {
            if self.starts_with(s) {
                found = Some((s, op));
                break;
            }
        }
        let (s, mut op) = found.ok_or_else(|| self.err("expected a redirection operator"))?;
        self.pos += s.len();
        self.skip_blanks();
        if op == RedirOp::Heredoc {
            let strip_tabs = s == "<<-";
            let target = self.parse_word()?;
            let quoted = target.parts.iter().any(|p| match p {
                WordPart::Lit { quoted, .. } => *quoted,
                _ => false,
            });
            let delim = target
                .parts
                .iter()
                .map(|p| match p {
                    WordPart::Lit { text, .. } => text.clone(),
                    _ => String::from("$"),
                })
                .collect::<String>();
            if delim.is_empty() {
                return Err(self.err("empty heredoc delimiter"));
            }
            let slot = self.bodies.len();
            self.bodies.push(None);
            self.pending.push(Pending {
                delim,
                strip_tabs,
                quoted,
                slot,
            });
            return Ok(Redirect {
                fd,
                op,
                target,
                heredoc: Some(Heredoc {
                    // Placeholder; `fill_script` swaps in the body once it is read.
                    body: format!("\u{0}slot{slot}"),
                    quoted,
                }),
            });
        }
        let target = self.parse_word()?;
        if target.parts.is_empty() {
            return Err(self.err("redirection without a target"));
        }
        if op == RedirOp::Dup {
            // `>&file` (not a number or `-`) redirects stdout+stderr to a file.
            if let Some(t) = target.literal() {
                if !(t == "-" || t.trim_end_matches('-').chars().all(|c| c.is_ascii_digit())) {
                    op = RedirOp::OutErr;
                }
            }
        }
        Ok(Redirect {
            fd,
            op,
            target,
            heredoc: None,
        })
    }

    fn parse_simple(&mut self) -> Result<Command, ParseError> {
        let start = self.pos;
        let mut cmd = SimpleCommand {
            assignments: Vec::new(),
            words: Vec::new(),
            redirects: Vec::new(),
            text: String::new(),
        };
        loop {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some(c) if matches!(c, '\n' | ';' | '&' | '|' | ')') => {
                    if c == '&' && self.peek_at(1) == Some('>') {
                        cmd.redirects.push(self.parse_redirect()?);
                        continue;
                    }
                    break;
                }
                _ => {}
            }
            if self.at_redirect() {
                cmd.redirects.push(self.parse_redirect()?);
                continue;
            }
            if self.peek() == Some('(') {
                // `name ( )` function definition.
                if cmd.words.len() == 1 && cmd.assignments.is_empty() {
                    let name = cmd.words[0]
                        .literal()
                        .ok_or_else(|| self.err("function name must be static text"))?;
                    self.pos += 1;
                    self.skip_blanks();
                    if self.peek() != Some(')') {
                        return Err(self.err("expected `)` in function definition"));
                    }
                    self.pos += 1;
                    self.skip_ws_nl()?;
                    let body = self.parse_command()?;
                    return Ok(Command::FunctionDef {
                        name,
                        body: Box::new(body),
                    });
                }
                return Err(self.err("unexpected `(`"));
            }
            if cmd.words.is_empty() {
                if let Some(a) = self.try_assignment()? {
                    cmd.assignments.push(a);
                    continue;
                }
            }
            let w = self.parse_word()?;
            if w.parts.is_empty() {
                return Err(self.err(&format!("unexpected `{}`", self.rest_preview())));
            }
            cmd.words.push(w);
        }
        if cmd.words.is_empty() && cmd.assignments.is_empty() && cmd.redirects.is_empty() {
            return Err(self.err("missing command"));
        }
        let mut a = start;
        let mut b = self.pos;
        while a < b && self.chars[a].is_whitespace() {
            a += 1;
        }
        while b > a && self.chars[b - 1].is_whitespace() {
            b -= 1;
        }
        cmd.text = self.chars[a..b].iter().collect();
        Ok(Command::Simple(cmd))
    }

    /// Recognises `NAME=`, `NAME+=` or `NAME[sub]=` at the current position.
    fn try_assignment(&mut self) -> Result<Option<Assignment>, ParseError> {
        let save = self.pos;
        let mut name = String::new();
        match self.peek() {
            Some(c) if is_name_start(c) => {}
            _ => return Ok(None),
        }
        while let Some(c) = self.peek() {
            if is_name_char(c) {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.peek() == Some('[') {
            // Array element: skip the subscript.
            let mut depth = 0;
            while let Some(c) = self.peek() {
                self.pos += 1;
                if c == '[' {
                    depth += 1;
                } else if c == ']' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
        }
        let append = if self.starts_with("+=") {
            self.pos += 2;
            true
        } else if self.peek() == Some('=') {
            self.pos += 1;
            false
        } else {
            self.pos = save;
            return Ok(None);
        };
        if self.peek() == Some('(') {
            self.pos += 1;
            let mut values = Vec::new();
            loop {
                self.skip_ws_nl()?;
                match self.peek() {
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    None => return Err(self.err("unterminated array assignment")),
                    _ => {
                        let w = self.parse_word()?;
                        if w.parts.is_empty() {
                            return Err(self.err("unexpected token in array assignment"));
                        }
                        values.push(w);
                    }
                }
            }
            return Ok(Some(Assignment {
                name,
                values,
                array: true,
                append,
            }));
        }
        let value = self.parse_word()?;
        Ok(Some(Assignment {
            name,
            values: vec![value],
            array: false,
            append,
        }))
    }

    /// Parses one word and fails when none starts here (so callers' loops always advance).
    fn parse_word_required(&mut self) -> Result<Word, ParseError> {
        let start = self.pos;
        let w = self.parse_word()?;
        if self.pos == start {
            return Err(self.err(&format!("unexpected `{}`", self.rest_preview())));
        }
        Ok(w)
    }

    /// Parses one word (possibly empty when at a metacharacter).
    fn parse_word(&mut self) -> Result<Word, ParseError> {
        let mut w = Word::default();
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    self.pos += 2;
                    self.enter()?;
                    let s = self.parse_list(&[])?;
                    self.leave();
                    self.skip_ws_nl()?;
                    if self.peek() != Some(')') {
                        return Err(self.err("unterminated process substitution"));
                    }
                    self.pos += 1;
                    w.parts.push(WordPart::ProcessSubst(Box::new(s)));
                }
                c if is_meta(c) => break,
                '\\' => match self.peek_at(1) {
                    Some('\n') => self.pos += 2,
                    Some(n) => {
                        w.push_lit(n, true);
                        self.pos += 2;
                    }
                    None => {
                        self.pos += 1;
                    }
                },
                '\'' => {
                    self.pos += 1;
                    let mut s = String::new();
                    loop {
                        match self.peek() {
                            None => return Err(self.err("unterminated single quote")),
                            Some('\'') => {
                                self.pos += 1;
                                break;
                            }
                            Some(ch) => {
                                s.push(ch);
                                self.pos += 1;
                            }
                        }
                    }
                    // Empty quotes still make a (possibly empty) word.
                    w.parts.push(WordPart::Lit {
                        text: s,
                        quoted: true,
                    });
                }
                '"' => {
                    self.pos += 1;
                    self.parse_double_quoted(&mut w)?;
                }
                '$' => self.parse_dollar(&mut w, false)?,
                '`' => {
                    let s = self.parse_backtick()?;
                    w.parts.push(WordPart::CommandSubst(Box::new(s)));
                }
                '~' if self.pos == start => {
                    self.pos += 1;
                    let mut user = String::new();
                    while let Some(ch) = self.peek() {
                        if ch == '/' || is_meta(ch) || !(is_name_char(ch) || ch == '-' || ch == '.')
                        {
                            break;
                        }
                        user.push(ch);
                        self.pos += 1;
                    }
                    w.parts.push(WordPart::Tilde(user));
                }
                _ => {
                    w.push_lit(c, false);
                    self.pos += 1;
                }
            }
        }
        Ok(w)
    }

    fn parse_double_quoted(&mut self, w: &mut Word) -> Result<(), ParseError> {
        // An empty "" still yields a word part.
        let before = w.parts.len();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated double quote")),
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => match self.peek_at(1) {
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        w.push_lit(n, true);
                        self.pos += 2;
                    }
                    Some('\n') => self.pos += 2,
                    Some(n) => {
                        w.push_lit('\\', true);
                        w.push_lit(n, true);
                        self.pos += 2;
                    }
                    None => return Err(self.err("unterminated double quote")),
                },
                Some('$') => self.parse_dollar(w, true)?,
                Some('`') => {
                    let s = self.parse_backtick()?;
                    w.parts.push(WordPart::CommandSubst(Box::new(s)));
                }
                Some(c) => {
                    w.push_lit(c, true);
                    self.pos += 1;
                }
            }
        }
        if w.parts.len() == before {
            w.parts.push(WordPart::Lit {
                text: String::new(),
                quoted: true,
            });
        }
        Ok(())
    }

    fn parse_backtick(&mut self) -> Result<Script, ParseError> {
        self.pos += 1;
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated backtick")),
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    match self.peek_at(1) {
                        Some(n @ ('$' | '`' | '\\')) => inner.push(n),
                        Some(n) => {
                            inner.push('\\');
                            inner.push(n);
                        }
                        None => return Err(self.err("unterminated backtick")),
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    inner.push(c);
                    self.pos += 1;
                }
            }
        }
        parse_nested(&inner, self.depth + 1).map_err(|e| ParseError {
            message: format!("in backticks: {}", e.message),
            offset: self.pos,
        })
    }

    fn parse_dollar(&mut self, w: &mut Word, quoted: bool) -> Result<(), ParseError> {
        // self.peek() == '$'
        match self.peek_at(1) {
            Some('(') if self.peek_at(2) == Some('(') => {
                self.pos += 3;
                let raw = self.read_arith_body()?;
                let has_subst = raw.contains("$(") || raw.contains('`');
                w.parts.push(WordPart::Arith { raw, has_subst });
            }
            Some('(') => {
                self.pos += 2;
                self.enter()?;
                let s = self.parse_list(&[])?;
                self.leave();
                self.skip_ws_nl()?;
                if self.peek() != Some(')') {
                    return Err(self.err("unterminated `$(`"));
                }
                self.pos += 1;
                w.parts.push(WordPart::CommandSubst(Box::new(s)));
            }
            Some('{') => {
                self.pos += 2;
                let mut raw = String::new();
                let mut nested = Vec::new();
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated `${`")),
                        Some('}') if depth == 0 => {
                            self.pos += 1;
                            break;
                        }
                        Some('$')
                            if self.peek_at(1) == Some('(') && self.peek_at(2) != Some('(') =>
                        {
                            self.pos += 2;
                            self.enter()?;
                            let s = self.parse_list(&[])?;
                            self.leave();
                            if self.peek() != Some(')') {
                                return Err(self.err("unterminated `$(`"));
                            }
                            self.pos += 1;
                            nested.push(s);
                            raw.push_str("$(…)");
                        }
                        Some('`') => {
                            nested.push(self.parse_backtick()?);
                            raw.push_str("`…`");
                        }
                        Some('\\') => {
                            raw.push('\\');
                            if let Some(n) = self.peek_at(1) {
                                raw.push(n);
                            }
                            self.pos += 2;
                        }
                        Some(c) => {
                            if c == '{' {
                                depth += 1;
                            } else if c == '}' {
                                depth = depth.saturating_sub(1);
                            }
                            raw.push(c);
                            self.pos += 1;
                        }
                    }
                }
                let simple = !raw.is_empty()
                    && (raw.chars().all(is_name_char))
                    && raw
                        .chars()
                        .next()
                        .is_some_and(|c| is_name_start(c) || c.is_ascii_digit());
                if simple {
                    w.parts.push(WordPart::Param {
                        name: raw,
                        complex: None,
                        quoted,
                        nested,
                    });
                } else {
                    w.parts.push(WordPart::Param {
                        name: String::new(),
                        complex: Some(raw),
                        quoted,
                        nested,
                    });
                }
            }
            Some('\'') if !quoted => {
                self.pos += 2;
                let s = self.read_ansi_c()?;
                w.push_str(&s, true);
                if s.is_empty() {
                    w.parts.push(WordPart::Lit {
                        text: String::new(),
                        quoted: true,
                    });
                }
            }
            Some('"') if !quoted => {
                // $"…" (locale translation) behaves like "…".
                self.pos += 2;
                self.parse_double_quoted(w)?;
            }
            Some(c) if is_name_start(c) => {
                self.pos += 1;
                let mut name = String::new();
                while let Some(ch) = self.peek() {
                    if is_name_char(ch) {
                        name.push(ch);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                w.parts.push(WordPart::Param {
                    name,
                    complex: None,
                    quoted,
                    nested: Vec::new(),
                });
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.pos += 2;
                w.parts.push(WordPart::Param {
                    name: c.to_string(),
                    complex: None,
                    quoted,
                    nested: Vec::new(),
                });
            }
            _ => {
                w.push_lit('$', quoted);
                self.pos += 1;
            }
        }
        Ok(())
    }

    /// Reads a `$'…'` body (after the opening quote) and decodes its escapes.
    fn read_ansi_c(&mut self) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or_else(|| self.err("unterminated $'…'"))?;
            self.pos += 1;
            match c {
                '\'' => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or_else(|| self.err("unterminated $'…'"))?;
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'e' | 'E' => out.push('\u{1b}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '\\' | '\'' | '"' | '?' => out.push(e),
                        'x' => {
                            let v = self.read_radix(16, 2);
                            out.push(char::from_u32(v.unwrap_or(0)).unwrap_or('\u{fffd}'));
                        }
                        'u' | 'U' => {
                            let max = if e == 'u' { 4 } else { 8 };
                            let v = self.read_radix(16, max);
                            out.push(char::from_u32(v.unwrap_or(0)).unwrap_or('\u{fffd}'));
                        }
                        'c' => {
                            let ch = self.peek().unwrap_or('@');
                            self.pos += 1;
                            out.push(char::from_u32((ch as u32) & 0x1f).unwrap_or('\u{fffd}'));
                        }
                        '0'..='7' => {
                            self.pos -= 1;
                            let v = self.read_radix(8, 3);
                            out.push(char::from_u32(v.unwrap_or(0)).unwrap_or('\u{fffd}'));
                        }
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn read_radix(&mut self, radix: u32, max: usize) -> Option<u32> {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match self.peek().and_then(|c| c.to_digit(radix)) {
                Some(d) => {
                    v = v.saturating_mul(radix).saturating_add(d);
                    self.pos += 1;
                    n += 1;
                }
                None => break,
            }
        }
        if n == 0 {
            None
        } else {
            Some(v)
        }
    }
}

/// Replaces heredoc placeholders with the bodies that were read.
fn fill_script(s: &mut Script, bodies: &[Option<String>]) {
    for ao in &mut s.items {
        fill_pipeline(&mut ao.first, bodies);
        for (_, p) in &mut ao.rest {
            fill_pipeline(p, bodies);
        }
    }
}

fn fill_pipeline(p: &mut Pipeline, bodies: &[Option<String>]) {
    for c in &mut p.commands {
        fill_command(c, bodies);
    }
}

fn fill_word(w: &mut Word, bodies: &[Option<String>]) {
    for part in &mut w.parts {
        match part {
            WordPart::CommandSubst(s) | WordPart::ProcessSubst(s) => fill_script(s, bodies),
            WordPart::Param { nested, .. } => {
                for s in nested {
                    fill_script(s, bodies);
                }
            }
            _ => {}
        }
    }
}

fn fill_redirects(rs: &mut [Redirect], bodies: &[Option<String>]) {
    for r in rs {
        fill_word(&mut r.target, bodies);
        if let Some(h) = &mut r.heredoc {
            if let Some(slot) = h.body.strip_prefix("\u{0}slot") {
                if let Some(Some(b)) = slot.parse::<usize>().ok().and_then(|i| bodies.get(i)) {
                    h.body = b.clone();
                }
            }
        }
    }
}

fn fill_command(c: &mut Command, bodies: &[Option<String>]) {
    match c {
        Command::Simple(sc) => {
            for a in &mut sc.assignments {
                for v in &mut a.values {
                    fill_word(v, bodies);
                }
            }
            for w in &mut sc.words {
                fill_word(w, bodies);
            }
            fill_redirects(&mut sc.redirects, bodies);
        }
        Command::Subshell(s, r) | Command::Group(s, r) => {
            fill_script(s, bodies);
            fill_redirects(r, bodies);
        }
        Command::Compound(cp) => {
            for w in &mut cp.words {
                fill_word(w, bodies);
            }
            for b in &mut cp.bodies {
                fill_script(b, bodies);
            }
            fill_redirects(&mut cp.redirects, bodies);
        }
        Command::FunctionDef { body, .. } => fill_command(body, bodies),
    }
}

/// Parses command text, with heredoc bodies attached to their redirections.
pub fn parse_with_heredocs(input: &str, depth: usize) -> Result<Script, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError {
            message: "code nested too deeply".into(),
            offset: 0,
        });
    }
    if input.len() > MAX_INPUT {
        return Err(ParseError {
            message: format!("command is longer than {MAX_INPUT} bytes"),
            offset: 0,
        });
    }
    let mut p = Parser::new(input, depth);
    let mut script = p.parse_list(&[])?;
    p.skip_ws_nl()?;
    if p.pos < p.chars.len() {
        return Err(p.err(&format!("unexpected `{}`", p.rest_preview())));
    }
    if !p.pending.is_empty() {
        return Err(p.err("heredoc without its body"));
    }
    if p.bodies.iter().any(Option::is_none) {
        return Err(p.err("heredoc without its body"));
    }
    fill_script(&mut script, &p.bodies);
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(s: &Script, i: usize) -> &SimpleCommand {
        match &s.items[i].first.commands[0] {
            Command::Simple(sc) => sc,
            other => panic!("not simple: {other:?}"),
        }
    }

    #[test]
    fn quote_removal_gives_static_words() {
        for (src, want) in [
            ("r''m", "rm"),
            ("\\rm", "rm"),
            ("\"r\"m", "rm"),
            ("$'\\x72\\x6d'", "rm"),
            ("$'\\162m'", "rm"),
            ("'a b'\"c\"", "a bc"),
        ] {
            let s = parse(src).unwrap();
            assert_eq!(
                simple(&s, 0).words[0].literal().as_deref(),
                Some(want),
                "{src}"
            );
        }
    }

    #[test]
    fn dynamic_parts_are_not_literal() {
        for src in ["$(printf rm)", "`echo rm`", "$X", "${X:-rm}", "a$((1+1))"] {
            let s = parse(src).unwrap();
            assert_eq!(simple(&s, 0).words[0].literal(), None, "{src}");
        }
        let s = parse("/???/r?").unwrap();
        assert!(simple(&s, 0).words[0].has_glob());
        let s = parse("[").unwrap();
        assert!(!simple(&s, 0).words[0].has_glob());
    }

    #[test]
    fn heredoc_bodies_are_attached() {
        let s = parse("cat <<EOF | sh\nrm -rf /\nEOF\necho after").unwrap();
        let sc = simple(&s, 0);
        let h = sc.redirects[0].heredoc.as_ref().unwrap();
        assert_eq!(h.body, "rm -rf /\n");
        assert!(!h.quoted);
        assert_eq!(simple(&s, 1).text, "echo after");
        let s = parse("cat <<-'X'\n\tbody $HOME\n\tX").unwrap();
        let h = simple(&s, 0).redirects[0].heredoc.as_ref().unwrap();
        assert_eq!(h.body, "body $HOME\n");
        assert!(h.quoted);
    }

    #[test]
    fn structure_is_parsed() {
        let s = parse("a && b || c; d | e & f").unwrap();
        assert_eq!(s.items.len(), 3);
        assert_eq!(s.items[0].rest.len(), 2);
        assert_eq!(s.items[1].first.commands.len(), 2);
        let s = parse("for x in a b; do echo $x; done").unwrap();
        match &s.items[0].first.commands[0] {
            Command::Compound(c) => {
                assert_eq!(c.keyword, "for");
                assert_eq!(c.var.as_deref(), Some("x"));
                assert_eq!(c.words.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let s = parse("case $x in a|b) echo 1;; *) echo 2;; esac").unwrap();
        assert!(
            matches!(&s.items[0].first.commands[0], Command::Compound(c) if c.keyword == "case" && c.bodies.len() == 2)
        );
        assert!(matches!(
            &parse("f() { ls; }").unwrap().items[0].first.commands[0],
            Command::FunctionDef { name, .. } if name == "f"
        ));
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        for bad in [
            "echo 'x",
            "echo \"x",
            "$(ls",
            "`ls",
            "if true; then",
            "ls )",
            "cat <<EOF\nx",
            "${x",
            "case x in",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = "(".repeat(MAX_DEPTH + 5);
        assert!(parse(&deep).is_err());
    }
}
