//! Command classification: every simple command of a shell command line gets a
//! [`CommandClass`] and a reason.
//!
//! The classifier walks the syntax tree from [`crate::shell`] in execution order and keeps a
//! small static model of the shell state: variables assigned literal values (so
//! `IFS=,;cmd=rm,-rf,/;$cmd` resolves to `rm -rf /`), the current directory after a literal
//! `cd`, functions defined, and whether an earlier command downloaded something. Nested code is
//! classified where it is literal: `bash -c '…'`, `eval …`, `sh <<EOF`, `echo … | base64 -d | sh`,
//! `find -exec`, `xargs`, `sudo`, `env`, `timeout` and other wrappers. Anything computed at run
//! time (a command name from `$(…)`, code from a variable) is `Unknown`, which needs approval.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::{CommandContext, WriteKind};
use crate::shell::{self, Command, RedirOp, Redirect, Script, SimpleCommand, Word, WordPart};

/// The class of one command segment, from least to most severe (the derived order is the
/// severity order used for [`Classification::overall`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandClass {
    /// Reads or computes without changing anything.
    ReadOnly,
    /// Writes inside the workspace (or scratch space such as `/tmp`), builds, runs tests.
    WorkspaceWrite,
    /// Talks to the network.
    Network,
    /// Runs code in an interpreter (`python -c`, `perl -e`, `node -e`) that the kernel cannot
    /// fully analyse.
    InlineInterpreter,
    /// Cannot be classified (unknown program, code computed at run time, unparseable text).
    Unknown,
    /// Reads credentials, keys or private folders.
    SecretAccess,
    /// Installs software or runs downloaded code (`curl | sh`, `npm i -g`, `pip install URL`).
    Installer,
    /// Destroys data: recursive deletes, `dd`, `mkfs`, `git reset --hard`, `find -delete`, …
    Destructive,
    /// Gains or uses privileges: `sudo`, `su`, setuid, `chown`, system services, containers.
    Privilege,
    /// Changes start-up, persistence or security configuration (shell rc files, `~/.ssh`,
    /// `.git/hooks`, crontab) or touches Chela's own files.
    ConfigTamper,
}

impl CommandClass {
    /// Stable snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandClass::ReadOnly => "read_only",
            CommandClass::WorkspaceWrite => "workspace_write",
            CommandClass::Network => "network",
            CommandClass::InlineInterpreter => "inline_interpreter",
            CommandClass::Unknown => "unknown",
            CommandClass::SecretAccess => "secret_access",
            CommandClass::Installer => "installer",
            CommandClass::Destructive => "destructive",
            CommandClass::Privilege => "privilege",
            CommandClass::ConfigTamper => "config_tamper",
        }
    }

    /// Every class, least severe first.
    pub const ALL: [CommandClass; 10] = [
        CommandClass::ReadOnly,
        CommandClass::WorkspaceWrite,
        CommandClass::Network,
        CommandClass::InlineInterpreter,
        CommandClass::Unknown,
        CommandClass::SecretAccess,
        CommandClass::Installer,
        CommandClass::Destructive,
        CommandClass::Privilege,
        CommandClass::ConfigTamper,
    ];
}

impl std::fmt::Display for CommandClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One classified command of a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The command as written (or, for nested code, as resolved).
    pub text: String,
    /// The argument vector after static expansion; computed words are shown as `<dynamic:…>`.
    pub argv: Vec<String>,
    /// The class.
    pub class: CommandClass,
    /// Why it got this class.
    pub reason: String,
    /// Nesting: 0 for top-level commands, more inside substitutions and nested code.
    pub depth: usize,
    /// True when the segment touches Chela's own files (`$CHELA_HOME` outside the workspace,
    /// `/etc/chela`): the floor denies it.
    pub touches_chela: bool,
    /// Script or program files (absolute paths) this segment runs; approvals bind their hashes.
    pub scripts: Vec<String>,
}

/// The result of classifying a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// Every segment, in execution order (nested code after the command that runs it).
    pub segments: Vec<Segment>,
    /// The most severe class of all segments.
    pub overall: CommandClass,
    /// Set when the text could not be parsed (the overall class is then `Unknown`).
    pub parse_error: Option<String>,
}

impl Classification {
    /// True when any segment touches Chela's own files.
    pub fn touches_chela(&self) -> bool {
        self.segments.iter().any(|s| s.touches_chela)
    }

    /// All script/program files the command runs (for hashing before approval).
    pub fn script_files(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in &self.segments {
            for f in &s.scripts {
                if !v.contains(f) {
                    v.push(f.clone());
                }
            }
        }
        v
    }

    /// The first segment with the overall class.
    pub fn worst(&self) -> Option<&Segment> {
        self.segments.iter().find(|s| s.class == self.overall)
    }
}

/// Maximum segments produced for one command line; beyond it the line is `Unknown`.
const MAX_SEGMENTS: usize = 512;

/// Classifies a shell command line. Never panics; text that cannot be parsed is `Unknown`.
pub fn classify(command: &str, ctx: &CommandContext) -> Classification {
    classify_at(command, ctx, &ctx.cwd)
}

/// Classifies a command line that starts in `cwd` (absolute; relative paths are resolved
/// against the context's starting directory).
pub fn classify_at(command: &str, ctx: &CommandContext, cwd: &Path) -> Classification {
    let cwd = ctx.resolve(cwd);
    let mut w = Walker::new(ctx, &cwd);
    match shell::parse(command) {
        Ok(script) => w.walk_script(&script, 0),
        Err(e) => {
            return Classification {
                segments: vec![Segment {
                    text: command.to_string(),
                    argv: Vec::new(),
                    class: CommandClass::Unknown,
                    reason: format!("the command could not be parsed: {e}"),
                    depth: 0,
                    touches_chela: false,
                    scripts: Vec::new(),
                }],
                overall: CommandClass::Unknown,
                parse_error: Some(e.to_string()),
            }
        }
    }
    w.finish(command)
}

/// Classifies a command given as an argument vector (no shell involved), e.g. a tool call
/// `{"argv": ["git", "status"]}`.
pub fn classify_argv(argv: &[String], ctx: &CommandContext) -> Classification {
    let mut w = Walker::new(ctx, &ctx.cwd);
    let args: Vec<Arg> = argv.iter().map(|a| Arg::lit(a)).collect();
    let text = argv.join(" ");
    w.classify_args(args, &[], &Stdin::Terminal, &text, 0, false, &[]);
    w.finish(&text)
}

/// One expanded argument.
#[derive(Debug, Clone)]
struct Arg {
    text: String,
    dynamic: bool,
    glob: bool,
}

impl Arg {
    fn lit(s: &str) -> Arg {
        Arg {
            text: s.to_string(),
            dynamic: false,
            glob: false,
        }
    }
    fn s(&self) -> &str {
        &self.text
    }
}

/// Where a command's standard input comes from.
#[derive(Debug, Clone)]
enum Stdin {
    /// Not redirected.
    Terminal,
    /// Known text (heredoc, here-string, or a pipeline of static producers).
    Text(String),
    /// A pipe from commands whose output is not known statically.
    Pipe { network: bool, from: String },
    /// A file.
    File(String),
}

/// A redirection after expansion.
struct Redir {
    op: RedirOp,
    target: Arg,
}

/// Where nested code runs, which decides what happens to variables it assigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum CodeScope {
    /// A child process (`bash -c`): its assignments vanish.
    #[default]
    Child,
    /// The current shell (`eval`): its assignments persist.
    Current,
    /// Later, if at all (`trap`): its assignments make variables unknown.
    Later,
}

/// The outcome of a command rule.
#[derive(Default)]
struct Outcome {
    class: Option<CommandClass>,
    reason: String,
    /// Write targets (raw argument text).
    writes: Vec<Arg>,
    /// Whether the writes delete (rm): outside the workspace that is destructive.
    deletes: bool,
    /// Files run as scripts/programs.
    scripts: Vec<String>,
    /// Literal shell code to classify as nested.
    code: Vec<String>,
    /// Where that code runs: a child process (default), the current shell (`eval`) or later
    /// (`trap`).
    code_scope: CodeScope,
    /// Argument vectors run by this command (wrappers, `find -exec`, `xargs`).
    argvs: Vec<Vec<Arg>>,
    /// Whether nested argv commands get their arguments from input (`xargs`, `find -exec`).
    argv_from_input: bool,
    /// Non-shell code to scan (language, code).
    foreign: Vec<(&'static str, String)>,
}

impl Outcome {
    fn new(class: CommandClass, reason: impl Into<String>) -> Outcome {
        Outcome {
            class: Some(class),
            reason: reason.into(),
            ..Default::default()
        }
    }
    fn writes(mut self, w: Vec<Arg>) -> Outcome {
        self.writes = w;
        self
    }
}

struct Walker<'a> {
    ctx: &'a CommandContext,
    env: HashMap<String, Option<String>>,
    /// Undo log of variable changes: (name, previous entry).
    journal: Vec<(String, Option<Option<String>>)>,
    cwd: Option<PathBuf>,
    funcs: HashSet<String>,
    segments: Vec<Segment>,
    downloaded: bool,
    overflow: bool,
    /// Set once code we cannot see may have changed any variable (a sourced file, a function
    /// call, `eval` of computed text): from then on only variables assigned later are known.
    poisoned: bool,
}

fn dyn_arg(desc: &str) -> Arg {
    Arg {
        text: format!("<dynamic:{desc}>"),
        dynamic: true,
        glob: false,
    }
}

const SYSTEM_BIN_DIRS: &[&str] = &[
    "/bin",
    "/usr/bin",
    "/usr/local/bin",
    "/sbin",
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/libexec",
];

const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "rbash", "tcsh",
    "csh",
];

fn is_python(n: &str) -> bool {
    n == "python"
        || n == "pypy"
        || n == "pypy3"
        || n.strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Environment variables whose values change which programs or code run.
const DANGEROUS_ENV: &[&str] = &[
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "PS4",
    "SHELLOPTS",
    "BASHOPTS",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EXEC_PATH",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_PARAMETERS",
    "GIT_EXTERNAL_DIFF",
    "GIT_PAGER",
    "PAGER",
    "EDITOR",
    "VISUAL",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "LESSOPEN",
    "DYLD_INSERT_LIBRARIES",
];

impl<'a> Walker<'a> {
    fn new(ctx: &'a CommandContext, cwd: &Path) -> Self {
        Walker {
            ctx,
            env: HashMap::new(),
            journal: Vec::new(),
            cwd: Some(cwd.to_path_buf()),
            funcs: HashSet::new(),
            segments: Vec::new(),
            downloaded: false,
            overflow: false,
            poisoned: false,
        }
    }

    /// Forgets every variable value and the directory (see `poisoned`).
    fn poison(&mut self) {
        self.poisoned = true;
        self.env.clear();
        self.cwd = None;
    }

    /// A variable's value: `Some(Some(v))` known, `Some(None)` set to something unknown, `None`
    /// never set here (then `HOME`, `CHELA_HOME`, `PWD` and `IFS` have their known values).
    fn var(&self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(v) => v.clone(),
            None if self.poisoned => None,
            None => match name {
                "HOME" => Some(self.ctx.home.to_string_lossy().into_owned()),
                "CHELA_HOME" => Some(self.ctx.chela_home.to_string_lossy().into_owned()),
                "PWD" => self.cwd.as_ref().map(|c| c.to_string_lossy().into_owned()),
                "IFS" => Some(" \t\n".to_string()),
                _ => None,
            },
        }
    }

    /// Sets a variable, remembering the old value so branches and subshells can be undone.
    fn set_var(&mut self, name: &str, value: Option<String>) {
        let old = self.env.insert(name.to_string(), value);
        self.journal.push((name.to_string(), old));
    }

    /// Restores variables to the state at journal position `mark`.
    fn undo_to(&mut self, mark: usize) {
        while self.journal.len() > mark {
            if let Some((k, old)) = self.journal.pop() {
                match old {
                    Some(v) => {
                        self.env.insert(k, v);
                    }
                    None => {
                        self.env.remove(&k);
                    }
                }
            }
        }
    }

    fn finish(mut self, command: &str) -> Classification {
        if self.overflow {
            self.segments.push(Segment {
                text: command.chars().take(200).collect(),
                argv: Vec::new(),
                class: CommandClass::Unknown,
                reason: format!(
                    "the command has more than {MAX_SEGMENTS} parts; not analysed further"
                ),
                depth: 0,
                touches_chela: false,
                scripts: Vec::new(),
            });
        }
        if self.segments.is_empty() {
            self.segments.push(Segment {
                text: command.trim().to_string(),
                argv: Vec::new(),
                class: CommandClass::ReadOnly,
                reason: "empty command (nothing runs)".into(),
                depth: 0,
                touches_chela: false,
                scripts: Vec::new(),
            });
        }
        let overall = self
            .segments
            .iter()
            .map(|s| s.class)
            .max()
            .unwrap_or(CommandClass::Unknown);
        Classification {
            segments: self.segments,
            overall,
            parse_error: None,
        }
    }

    fn push(&mut self, seg: Segment) {
        if self.segments.len() >= MAX_SEGMENTS {
            self.overflow = true;
            return;
        }
        self.segments.push(seg);
    }

    fn push_simple(
        &mut self,
        text: &str,
        class: CommandClass,
        reason: impl Into<String>,
        depth: usize,
    ) {
        self.push(Segment {
            text: text.to_string(),
            argv: Vec::new(),
            class,
            reason: reason.into(),
            depth,
            touches_chela: false,
            scripts: Vec::new(),
        });
    }

    // ----- tree walking -------------------------------------------------------------------

    fn walk_script(&mut self, s: &Script, depth: usize) {
        for ao in &s.items {
            self.walk_pipeline(&ao.first, depth, false);
            for (_, p) in &ao.rest {
                self.walk_pipeline(p, depth, true);
            }
        }
    }

    /// Runs `f` on a copy of the shell state; afterwards every variable it changed (and the
    /// directory, if changed) becomes unknown, because the branch may or may not have run.
    fn conditionally<F: FnOnce(&mut Self)>(&mut self, f: F) {
        let mark = self.journal.len();
        let cwd_before = self.cwd.clone();
        f(self);
        if self.journal.len() > mark {
            let mut changed: Vec<String> = self.journal[mark..]
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            // Deduplicate: nested branches would otherwise double the journal at every level.
            changed.sort_unstable();
            changed.dedup();
            for k in changed {
                self.set_var(&k, None);
            }
        }
        if self.cwd != cwd_before {
            self.cwd = None;
        }
    }

    fn walk_pipeline(&mut self, p: &shell::Pipeline, depth: usize, conditional: bool) {
        if conditional || p.commands.len() > 1 {
            self.conditionally(|w| w.walk_pipeline_inner(p, depth));
        } else {
            self.walk_pipeline_inner(p, depth);
        }
    }

    fn walk_pipeline_inner(&mut self, p: &shell::Pipeline, depth: usize) {
        let mut stdin = Stdin::Terminal;
        let mut network = false;
        for (i, cmd) in p.commands.iter().enumerate() {
            let before = self.segments.len();
            self.walk_command(cmd, &stdin, depth);
            if i + 1 < p.commands.len() {
                // Downloaded bytes stay downloaded through `tee`, `gunzip`, `cat`, …
                network |= self.segments[before..].iter().any(|s| {
                    s.class == CommandClass::Network || s.class == CommandClass::Installer
                });
                let from = command_name_of(cmd);
                stdin = match self.static_stdout(cmd, &stdin) {
                    Some(t) => Stdin::Text(t),
                    None => Stdin::Pipe { network, from },
                };
            }
        }
    }

    fn walk_command(&mut self, c: &Command, stdin: &Stdin, depth: usize) {
        match c {
            Command::Simple(sc) => self.walk_simple(sc, stdin, depth),
            Command::Subshell(s, r) => {
                self.check_redirects_only(r, depth, "( … )");
                let mark = self.journal.len();
                let cwd = self.cwd.clone();
                self.walk_script(s, depth);
                self.undo_to(mark);
                self.cwd = cwd;
            }
            Command::Group(s, r) => {
                self.check_redirects_only(r, depth, "{ … }");
                self.walk_script(s, depth);
            }
            Command::Compound(cp) => {
                self.check_redirects_only(&cp.redirects, depth, cp.keyword);
                for w in &cp.words {
                    for n in w.nested_scripts() {
                        self.walk_script(n, depth + 1);
                    }
                    if w.parts.iter().any(|p| {
                        matches!(
                            p,
                            WordPart::Arith {
                                has_subst: true,
                                ..
                            }
                        )
                    }) {
                        self.push_simple(
                            cp.keyword,
                            CommandClass::Unknown,
                            "command substitution inside arithmetic is not analysed",
                            depth,
                        );
                    }
                }
                for a in &cp.arith {
                    if a.contains("$(") || a.contains('`') {
                        self.push_simple(
                            &format!("(( {a} ))"),
                            CommandClass::Unknown,
                            "command substitution inside arithmetic is not analysed",
                            depth,
                        );
                    }
                }
                // A `for` loop variable takes values we do not track.
                self.conditionally(|w| {
                    if let Some(v) = &cp.var {
                        w.set_var(v, None);
                    }
                    for b in &cp.bodies {
                        w.walk_script(b, depth);
                    }
                });
                if cp.keyword == "[[" || cp.keyword == "((" {
                    self.push_simple(cp.keyword, CommandClass::ReadOnly, "test expression", depth);
                }
            }
            Command::FunctionDef { name, body } => {
                self.funcs.insert(name.clone());
                let before = self.segments.len();
                self.conditionally(|w| w.walk_command(body, &Stdin::Terminal, depth + 1));
                let recursive = self.segments[before..]
                    .iter()
                    .any(|s| s.argv.first().is_some_and(|a| a == name));
                if recursive {
                    self.push_simple(
                        &format!("{name}() {{ … }}"),
                        CommandClass::Destructive,
                        format!("function `{name}` calls itself (fork-bomb pattern exhausts the machine)"),
                        depth,
                    );
                }
            }
        }
    }

    fn check_redirects_only(&mut self, r: &[Redirect], depth: usize, what: &str) {
        if r.is_empty() {
            return;
        }
        let redirs = self.expand_redirects(r, depth);
        let mut out = Outcome::new(CommandClass::ReadOnly, format!("redirection of `{what}`"));
        self.finish_segment(what, vec![what.to_string()], &mut out, &redirs, depth, &[]);
    }

    fn expand_redirects(&mut self, rs: &[Redirect], depth: usize) -> Vec<Redir> {
        let mut out = Vec::new();
        for r in rs {
            for n in r.target.nested_scripts() {
                self.walk_script(n, depth + 1);
            }
            if r.op == RedirOp::Heredoc {
                continue;
            }
            let target = self.expand_word_single(&r.target);
            out.push(Redir { op: r.op, target });
        }
        out
    }

    fn walk_simple(&mut self, sc: &SimpleCommand, stdin: &Stdin, depth: usize) {
        // Command substitutions run first; they are segments of their own.
        let before = self.segments.len();
        for a in &sc.assignments {
            for v in &a.values {
                for n in v.nested_scripts() {
                    self.walk_script(n, depth + 1);
                }
            }
        }
        for w in &sc.words {
            for n in w.nested_scripts() {
                self.walk_script(n, depth + 1);
            }
        }
        let redirs = self.expand_redirects(&sc.redirects, depth);
        let nested_network = self.segments[before..]
            .iter()
            .any(|s| matches!(s.class, CommandClass::Network | CommandClass::Installer));
        let arith_subst = sc
            .words
            .iter()
            .chain(sc.assignments.iter().flat_map(|a| a.values.iter()))
            .any(|w| {
                w.parts.iter().any(|p| {
                    matches!(
                        p,
                        WordPart::Arith {
                            has_subst: true,
                            ..
                        }
                    )
                })
            });

        // Standard input from heredocs and here-strings on this command.
        let mut stdin = stdin.clone();
        for r in &sc.redirects {
            match r.op {
                RedirOp::Heredoc => {
                    if let Some(h) = &r.heredoc {
                        stdin = Stdin::Text(h.body.clone());
                    }
                }
                RedirOp::HereString => {
                    let a = self.expand_word_single(&r.target);
                    stdin = if a.dynamic {
                        Stdin::Pipe {
                            network: nested_network,
                            from: "a here-string computed at run time".into(),
                        }
                    } else {
                        Stdin::Text(format!("{}\n", a.text))
                    };
                }
                RedirOp::In => {
                    let a = self.expand_word_single(&r.target);
                    stdin = Stdin::File(a.text);
                }
                _ => {}
            }
        }

        // Assignments.
        let mut prefix_env: Vec<(String, Option<String>)> = Vec::new();
        let mut assign_notes = Vec::new();
        for a in &sc.assignments {
            let value = if a.array {
                None
            } else {
                a.values.first().and_then(|v| {
                    let e = self.expand_word_noglob(v);
                    if e.iter().any(|x| x.dynamic) {
                        None
                    } else {
                        Some(
                            e.iter()
                                .map(|x| x.text.clone())
                                .collect::<Vec<_>>()
                                .join(" "),
                        )
                    }
                })
            };
            let value = match (a.append, value) {
                (true, Some(v)) => self.var(&a.name).map(|old| format!("{old}{v}")),
                (_, v) => v,
            };
            assign_notes.push(a.name.clone());
            prefix_env.push((a.name.clone(), value));
        }

        if sc.words.is_empty() {
            // Assignment-only (persists in the shell) or redirection-only command.
            let mut cls = CommandClass::ReadOnly;
            let mut reason = if assign_notes.is_empty() {
                "redirection only".to_string()
            } else {
                format!("sets shell variable(s) {}", assign_notes.join(", "))
            };
            for (k, v) in &prefix_env {
                if DANGEROUS_ENV.contains(&k.as_str()) {
                    cls = CommandClass::Unknown;
                    reason = format!(
                        "sets {k}, which changes which programs or code later commands run"
                    );
                }
                self.set_var(k, v.clone());
            }
            if arith_subst {
                cls = CommandClass::Unknown;
                reason = "command substitution inside arithmetic is not analysed".into();
            }
            let mut out = Outcome::new(cls, reason);
            self.finish_segment(&sc.text, Vec::new(), &mut out, &redirs, depth, &[]);
            return;
        }

        let args = self.expand_words(&sc.words);
        self.classify_args(
            args,
            &redirs,
            &stdin,
            &sc.text,
            depth,
            nested_network,
            &prefix_env,
        );
        if arith_subst {
            self.push_simple(
                &sc.text,
                CommandClass::Unknown,
                "command substitution inside arithmetic is not analysed",
                depth,
            );
        }
        // Expanding a credential-named variable puts the secret into the output the model reads.
        let secret_var = sc
            .words
            .iter()
            .chain(sc.redirects.iter().map(|r| &r.target))
            .flat_map(|w| w.parts.iter())
            .find_map(|p| match p {
                WordPart::Param { name, .. } if secret_var_name(name) => Some(name.clone()),
                _ => None,
            })
            .or_else(|| {
                // `printenv NAME`
                let mut it = sc.words.iter().filter_map(Word::literal);
                match it.next().as_deref() {
                    Some("printenv") => it.find(|n| secret_var_name(n)),
                    _ => None,
                }
            });
        if let Some(name) = secret_var {
            self.push_simple(
                &sc.text,
                CommandClass::SecretAccess,
                format!("expands ${name}, which looks like a credential (CNCERT-M2)"),
                depth,
            );
        }
    }

    // ----- expansion ----------------------------------------------------------------------

    fn expand_words(&self, words: &[Word]) -> Vec<Arg> {
        let mut out = Vec::new();
        for w in words {
            out.extend(self.expand_word(w));
        }
        out
    }

    /// Expands a word where exactly one field is expected (redirect targets, here-strings).
    fn expand_word_single(&self, w: &Word) -> Arg {
        let v = self.expand_word_noglob(w);
        if v.len() == 1 {
            v.into_iter().next().unwrap_or_else(|| dyn_arg("empty"))
        } else {
            let text = v
                .iter()
                .map(|a| a.text.clone())
                .collect::<Vec<_>>()
                .join(" ");
            Arg {
                text,
                dynamic: true,
                glob: false,
            }
        }
    }

    fn expand_word_noglob(&self, w: &Word) -> Vec<Arg> {
        self.expand_word(w)
    }

    /// Static expansion of one word into fields.
    fn expand_word(&self, w: &Word) -> Vec<Arg> {
        // Fully literal words: brace expansion applies.
        if let [WordPart::Lit { text, quoted }] = w.parts.as_slice() {
            if *quoted || !text.contains('{') {
                return vec![Arg {
                    text: text.clone(),
                    dynamic: false,
                    glob: !quoted && w.has_glob(),
                }];
            }
        }
        if w.parts.iter().all(|p| matches!(p, WordPart::Lit { .. })) {
            let mut chars: Vec<(char, bool)> = Vec::new();
            for p in &w.parts {
                if let WordPart::Lit { text, quoted } = p {
                    chars.extend(text.chars().map(|c| (c, *quoted)));
                }
            }
            let glob = w.has_glob();
            let mut outs = Vec::new();
            brace_expand(&chars, &mut outs, 0);
            if outs.len() > 256 {
                return vec![Arg {
                    text: w.literal().unwrap_or_default(),
                    dynamic: true,
                    glob,
                }];
            }
            return outs
                .into_iter()
                .map(|t| Arg {
                    text: t,
                    dynamic: false,
                    glob,
                })
                .collect();
        }
        let ifs = self.var("IFS");
        let mut fields: Vec<Arg> = Vec::new();
        let mut cur = String::new();
        let mut cur_started = false;
        let mut dynamic = false;
        let mut glob = false;
        for p in &w.parts {
            match p {
                WordPart::Lit { text, quoted } => {
                    if !quoted
                        && (text.contains(['*', '?'])
                            || text.find('[').is_some_and(|i| text[i + 1..].contains(']')))
                    {
                        glob = true;
                    }
                    cur.push_str(text);
                    cur_started = true;
                }
                WordPart::Tilde(user) => {
                    if user.is_empty() {
                        cur.push_str(&self.ctx.home.to_string_lossy());
                    } else if user == "+" {
                        match &self.cwd {
                            Some(c) => cur.push_str(&c.to_string_lossy()),
                            None => {
                                dynamic = true;
                                cur.push_str("<dynamic:~+>");
                            }
                        }
                    } else if user == "root" {
                        cur.push_str("/root");
                    } else {
                        cur.push_str(&format!("/home/{user}"));
                    }
                    cur_started = true;
                }
                WordPart::Param {
                    name,
                    complex,
                    quoted,
                    ..
                } => {
                    let val = if complex.is_some() {
                        None
                    } else {
                        self.var(name)
                    };
                    match val {
                        Some(v) if *quoted => {
                            cur.push_str(&v);
                            cur_started = true;
                        }
                        Some(v) => match &ifs {
                            Some(ifs) => {
                                let pieces: Vec<&str> = v.split(|c| ifs.contains(c)).collect();
                                let n = pieces.len();
                                for (i, piece) in pieces.into_iter().enumerate() {
                                    if i > 0 {
                                        if cur_started || !cur.is_empty() {
                                            fields.push(Arg {
                                                text: std::mem::take(&mut cur),
                                                dynamic,
                                                glob,
                                            });
                                        }
                                        cur_started = false;
                                        glob = false;
                                    }
                                    if !piece.is_empty() {
                                        cur.push_str(piece);
                                        cur_started = true;
                                    }
                                    let _ = n;
                                }
                            }
                            None => {
                                dynamic = true;
                                cur.push_str(&format!("<dynamic:${name}>"));
                                cur_started = true;
                            }
                        },
                        None => {
                            dynamic = true;
                            let desc = complex
                                .clone()
                                .map(|c| format!("${{{c}}}"))
                                .unwrap_or_else(|| format!("${name}"));
                            cur.push_str(&format!("<dynamic:{desc}>"));
                            cur_started = true;
                        }
                    }
                }
                WordPart::CommandSubst(_) => {
                    dynamic = true;
                    cur.push_str("<dynamic:$(…)>");
                    cur_started = true;
                }
                WordPart::ProcessSubst(_) => {
                    dynamic = true;
                    cur.push_str("<dynamic:<(…)>");
                    cur_started = true;
                }
                WordPart::Arith { raw, .. } => {
                    dynamic = true;
                    cur.push_str(&format!("<dynamic:$(({raw}))>"));
                    cur_started = true;
                }
            }
        }
        if cur_started || !cur.is_empty() {
            fields.push(Arg {
                text: cur,
                dynamic,
                glob,
            });
        }
        if dynamic {
            for f in &mut fields {
                f.dynamic = true;
            }
        }
        fields
    }

    // ----- standard input of pipelines ------------------------------------------------------

    /// The output of `cmd` when it can be computed statically (echo, printf, base64 -d, …).
    fn static_stdout(&self, cmd: &Command, stdin: &Stdin) -> Option<String> {
        let sc = match cmd {
            Command::Simple(sc) => sc,
            _ => return None,
        };
        // Only a few producers have statically known output; avoid expanding anything else.
        match sc.words.first().map(|w| w.parts.as_slice()) {
            Some([WordPart::Lit { text, .. }])
                if matches!(
                    base_name(text),
                    "echo" | "printf" | "cat" | "base64" | "base32" | "xxd" | "rev" | "tr"
                ) => {}
            _ => return None,
        }
        let mut stdin_text = match stdin {
            Stdin::Text(t) => Some(t.clone()),
            _ => None,
        };
        for r in &sc.redirects {
            match r.op {
                RedirOp::Heredoc => stdin_text = r.heredoc.as_ref().map(|h| h.body.clone()),
                RedirOp::HereString => {
                    let a = self.expand_word_single(&r.target);
                    stdin_text = if a.dynamic {
                        None
                    } else {
                        Some(format!("{}\n", a.text))
                    };
                }
                RedirOp::In => stdin_text = None,
                _ => {}
            }
        }
        let args = self.expand_words(&sc.words);
        if args.iter().any(|a| a.dynamic) || args.is_empty() {
            return None;
        }
        let name = base_name(args[0].s());
        let rest: Vec<&str> = args[1..].iter().map(|a| a.s()).collect();
        match name {
            "echo" => {
                let mut newline = true;
                let mut i = 0;
                while let Some(a) = rest.get(i) {
                    match *a {
                        "-n" => newline = false,
                        "-e" | "-E" | "-ne" | "-en" => {
                            if a.contains('n') {
                                newline = false;
                            }
                            if a.contains('e') && rest[i + 1..].iter().any(|x| x.contains('\\')) {
                                return None;
                            }
                        }
                        _ => break,
                    }
                    i += 1;
                }
                let mut s = rest[i..].join(" ");
                if newline {
                    s.push('\n');
                }
                Some(s)
            }
            "printf" => {
                let fmt = rest.first()?;
                if *fmt == "%s" || *fmt == "%s\\n" {
                    let mut s = rest[1..].join("");
                    if fmt.ends_with("\\n") {
                        s.push('\n');
                    }
                    Some(s)
                } else if rest.len() == 1 && !fmt.contains(['%', '\\']) {
                    Some(fmt.to_string())
                } else {
                    None
                }
            }
            "cat" if rest.is_empty() || rest == ["-"] => stdin_text,
            "base64" | "base32"
                if rest
                    .iter()
                    .any(|a| matches!(*a, "-d" | "--decode" | "-D" | "-di" | "-id")) =>
            {
                if name == "base32" {
                    return None;
                }
                let t = stdin_text?;
                let bytes = base64_decode(&t)?;
                String::from_utf8(bytes).ok()
            }
            "xxd" if rest.contains(&"-r") && rest.contains(&"-p") => {
                let t = stdin_text?;
                let hex: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = hex::decode(hex).ok()?;
                String::from_utf8(bytes).ok()
            }
            "rev" if rest.is_empty() => {
                let t = stdin_text?;
                let mut out = String::new();
                for line in t.lines() {
                    out.extend(line.chars().rev());
                    out.push('\n');
                }
                Some(out)
            }
            "tr" if rest.len() == 2 && !rest[0].starts_with('-') => {
                let t = stdin_text?;
                let from: Vec<char> = rest[0].chars().collect();
                let to: Vec<char> = rest[1].chars().collect();
                if from
                    .iter()
                    .chain(to.iter())
                    .any(|c| *c == '-' || *c == '[' || *c == '\\')
                {
                    return None;
                }
                Some(
                    t.chars()
                        .map(|c| match from.iter().position(|f| *f == c) {
                            Some(i) => *to.get(i).or(to.last()).unwrap_or(&c),
                            None => c,
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    // ----- the per-command rules ----------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn classify_args(
        &mut self,
        args: Vec<Arg>,
        redirs: &[Redir],
        stdin: &Stdin,
        text: &str,
        depth: usize,
        nested_network: bool,
        prefix_env: &[(String, Option<String>)],
    ) {
        if self.overflow {
            return;
        }
        let Some(first) = args.first() else {
            let mut out = Outcome::new(CommandClass::ReadOnly, "empty command");
            self.finish_segment(text, Vec::new(), &mut out, redirs, depth, prefix_env);
            return;
        };
        let cwd_before = self.cwd.clone();
        let mut out = if first.dynamic {
            let mut o = Outcome::new(
                CommandClass::Unknown,
                format!(
                    "the command name is computed at run time ({}), so what runs cannot be known",
                    first.text
                ),
            );
            if nested_network {
                o = Outcome::new(
                    CommandClass::Installer,
                    "runs a program whose name comes from a network download",
                );
            }
            o
        } else if first.glob {
            Outcome::new(
                CommandClass::Unknown,
                format!(
                    "the command name `{}` is a glob pattern; what runs depends on the file system",
                    first.text
                ),
            )
        } else {
            self.rule(&args, stdin, nested_network)
        };
        let argv: Vec<String> = args.into_iter().map(|a| a.text).collect();
        let parent_argv = if out.foreign.is_empty() {
            Vec::new()
        } else {
            argv.clone()
        };
        // Arguments are resolved against the directory the command started in (`cd` moves it).
        if out.class == Some(CommandClass::Network)
            && redirs
                .iter()
                .any(|r| r.op.writes() && r.target.text != "/dev/null")
        {
            // `curl URL > file`: a download.
            self.downloaded = true;
        }
        let cwd_after = std::mem::replace(&mut self.cwd, cwd_before);
        self.finish_segment(text, argv, &mut out, redirs, depth, prefix_env);
        self.cwd = cwd_after;

        // Nested work.
        for code in std::mem::take(&mut out.code) {
            match out.code_scope {
                CodeScope::Child => self.walk_code(&code, depth + 1, text),
                CodeScope::Current => self.walk_code_here(&code, depth + 1, text),
                CodeScope::Later => {
                    self.conditionally(|w| w.walk_code_here(&code, depth + 1, text));
                }
            }
        }
        for (lang, code) in std::mem::take(&mut out.foreign) {
            self.scan_foreign(lang, &code, depth + 1, &parent_argv);
        }
        for inner in std::mem::take(&mut out.argvs) {
            let itext = inner
                .iter()
                .map(|a| a.text.clone())
                .collect::<Vec<_>>()
                .join(" ");
            let before = self.segments.len();
            let name = inner
                .first()
                .map(|a| base_name(a.s()).to_string())
                .unwrap_or_default();
            self.classify_args(
                inner,
                &[],
                &Stdin::Terminal,
                &itext,
                depth + 1,
                nested_network,
                &[],
            );
            if out.argv_from_input
                && matches!(
                    name.as_str(),
                    "rm" | "unlink" | "shred" | "rmdir" | "truncate" | "mv" | "dd" | "srm" | "wipe"
                )
            {
                if let Some(seg) = self.segments.get_mut(before) {
                    seg.class = seg.class.max(CommandClass::Destructive);
                    seg.reason = format!(
                        "`{name}` runs on every item the search or input produces (mass deletion)"
                    );
                }
            }
        }
    }

    /// Classifies literal code that runs in the current shell (`eval`): its assignments stay.
    fn walk_code_here(&mut self, code: &str, depth: usize, outer: &str) {
        match shell::parse_nested(code, depth) {
            Ok(s) => self.walk_script(&s, depth),
            Err(e) => self.push_simple(
                code,
                CommandClass::Unknown,
                format!(
                    "nested shell code run by `{}` could not be parsed: {e}",
                    truncate(outer, 60)
                ),
                depth,
            ),
        }
    }

    /// Classifies literal shell code found inside another command.
    fn walk_code(&mut self, code: &str, depth: usize, outer: &str) {
        match shell::parse_nested(code, depth) {
            Ok(s) => {
                let mark = self.journal.len();
                let cwd = self.cwd.clone();
                self.walk_script(&s, depth);
                self.undo_to(mark);
                self.cwd = cwd;
            }
            Err(e) => self.push_simple(
                code,
                CommandClass::Unknown,
                format!(
                    "nested shell code run by `{}` could not be parsed: {e}",
                    truncate(outer, 60)
                ),
                depth,
            ),
        }
    }

    /// Applies write targets, path checks and redirections, then records the segment.
    fn finish_segment(
        &mut self,
        text: &str,
        argv: Vec<String>,
        out: &mut Outcome,
        redirs: &[Redir],
        depth: usize,
        prefix_env: &[(String, Option<String>)],
    ) {
        let mut class = out.class.unwrap_or(CommandClass::Unknown);
        let mut reasons: Vec<String> = vec![std::mem::take(&mut out.reason)];
        let mut touches_chela = false;
        let bump =
            |class: &mut CommandClass, c: CommandClass, r: String, reasons: &mut Vec<String>| {
                if c > *class {
                    *class = c;
                    reasons.insert(0, r);
                } else if c == *class && c != CommandClass::ReadOnly {
                    reasons.push(r);
                }
            };

        for (k, _) in prefix_env {
            if DANGEROUS_ENV.contains(&k.as_str()) {
                bump(
                    &mut class,
                    CommandClass::Unknown,
                    format!("runs with {k} changed, which changes which programs or code run"),
                    &mut reasons,
                );
            }
        }

        // Every static argument that names Chela's files or secrets.
        for a in argv.iter() {
            for cand in path_candidates(a) {
                let Some(p) = self.resolve(cand) else {
                    continue;
                };
                if self.ctx.is_chela_path(&p) {
                    touches_chela = true;
                    bump(
                        &mut class,
                        CommandClass::ConfigTamper,
                        format!("touches Chela's own files ({})", p.display()),
                        &mut reasons,
                    );
                } else if self.ctx.is_secret_path(&p) {
                    bump(
                        &mut class,
                        CommandClass::SecretAccess,
                        format!("accesses credentials or private data ({})", p.display()),
                        &mut reasons,
                    );
                }
            }
        }

        // Write targets: the rule's and the redirections'.
        let mut writes: Vec<(Arg, bool)> = out
            .writes
            .iter()
            .map(|a| (a.clone(), out.deletes))
            .collect();
        for r in redirs {
            if r.op.writes() {
                writes.push((r.target.clone(), false));
            } else if r.op == RedirOp::In {
                for cand in path_candidates(&r.target.text) {
                    if let Some(p) = self.resolve(cand) {
                        if self.ctx.is_chela_path(&p) {
                            touches_chela = true;
                            bump(
                                &mut class,
                                CommandClass::ConfigTamper,
                                format!("reads Chela's own files ({})", p.display()),
                                &mut reasons,
                            );
                        } else if self.ctx.is_secret_path(&p) {
                            bump(
                                &mut class,
                                CommandClass::SecretAccess,
                                format!("reads credentials or private data ({})", p.display()),
                                &mut reasons,
                            );
                        } else if p.starts_with("/dev/tcp") || p.starts_with("/dev/udp") {
                            bump(
                                &mut class,
                                CommandClass::Network,
                                "reads from a raw network connection (/dev/tcp)".into(),
                                &mut reasons,
                            );
                        }
                    }
                }
            }
        }
        for (t, deletes) in writes {
            if t.dynamic {
                bump(
                    &mut class,
                    CommandClass::Unknown,
                    format!("writes to a path computed at run time ({})", t.text),
                    &mut reasons,
                );
                continue;
            }
            if t.text.starts_with('-') && t.text.len() > 1 {
                continue;
            }
            let Some(p) = self.resolve(&t.text) else {
                bump(
                    &mut class,
                    CommandClass::Unknown,
                    format!(
                        "writes to `{}` relative to a directory computed at run time",
                        t.text
                    ),
                    &mut reasons,
                );
                continue;
            };
            let glob_root = t.glob && (p.parent().is_none() || p.parent() == Some(Path::new("/")));
            match self.ctx.write_kind(&p) {
                WriteKind::Chela => {
                    touches_chela = true;
                    bump(
                        &mut class,
                        CommandClass::ConfigTamper,
                        format!("writes Chela's own files ({})", p.display()),
                        &mut reasons,
                    );
                }
                WriteKind::StartupOrPersistence(why) => bump(
                    &mut class,
                    CommandClass::ConfigTamper,
                    format!("writes {} ({why})", p.display()),
                    &mut reasons,
                ),
                WriteKind::Device => bump(
                    &mut class,
                    CommandClass::Destructive,
                    format!("writes a raw disk device ({})", p.display()),
                    &mut reasons,
                ),
                WriteKind::Network => bump(
                    &mut class,
                    CommandClass::Network,
                    "writes to a raw network connection (/dev/tcp)".into(),
                    &mut reasons,
                ),
                WriteKind::Scratch if p.starts_with("/dev") => {}
                WriteKind::Workspace | WriteKind::Scratch => {
                    if glob_root {
                        bump(
                            &mut class,
                            CommandClass::Destructive,
                            "targets every top-level directory".into(),
                            &mut reasons,
                        );
                    }
                    bump(
                        &mut class,
                        CommandClass::WorkspaceWrite,
                        format!("writes {}", p.display()),
                        &mut reasons,
                    )
                }
                WriteKind::Outside => {
                    if deletes || glob_root {
                        bump(
                            &mut class,
                            CommandClass::Destructive,
                            format!("deletes outside the workspace ({})", p.display()),
                            &mut reasons,
                        );
                    } else {
                        bump(
                            &mut class,
                            CommandClass::Unknown,
                            format!("writes outside the workspace ({})", p.display()),
                            &mut reasons,
                        );
                    }
                }
            }
        }
        // A shell or interpreter wired to /dev/tcp is a reverse shell.
        let raw_net = redirs.iter().any(|r| {
            let t = r.target.text.as_str();
            t.starts_with("/dev/tcp/") || t.starts_with("/dev/udp/")
        });
        if raw_net {
            if let Some(first) = argv.first() {
                let n = base_name(first);
                if SHELLS.contains(&n)
                    || is_python(n)
                    || matches!(n, "perl" | "ruby" | "php" | "nc" | "ncat")
                {
                    bump(
                        &mut class,
                        CommandClass::Privilege,
                        format!(
                            "connects `{n}` to a remote party through /dev/tcp (reverse shell)"
                        ),
                        &mut reasons,
                    );
                }
            }
        }
        let scripts = std::mem::take(&mut out.scripts)
            .into_iter()
            .map(|s| match self.resolve(&s) {
                Some(p) => p.to_string_lossy().into_owned(),
                None => s,
            })
            .collect::<Vec<_>>();
        reasons.dedup();
        let reason = if reasons.len() == 1 {
            reasons.pop().unwrap_or_default()
        } else {
            reasons
                .into_iter()
                .filter(|r| !r.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        };
        self.push(Segment {
            text: truncate(text, 400),
            argv,
            class,
            reason,
            depth,
            touches_chela,
            scripts,
        });
    }

    fn resolve(&self, s: &str) -> Option<PathBuf> {
        let p = Path::new(s);
        if p.is_absolute() {
            return Some(crate::paths::normalize(p));
        }
        self.cwd
            .as_ref()
            .map(|c| crate::paths::normalize(&c.join(p)))
    }

    /// The rule for a command with a static name.
    fn rule(&mut self, args: &[Arg], stdin: &Stdin, nested_network: bool) -> Outcome {
        let raw = args[0].s();
        let rest = &args[1..];
        use CommandClass::*;
        // Path to a program.
        let name: &str = if raw.contains('/') {
            let p = Path::new(raw);
            let parent = p
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            if SYSTEM_BIN_DIRS.contains(&parent.as_str()) {
                base_name(raw)
            } else {
                let class = if self.downloaded { Installer } else { Unknown };
                let mut o = Outcome::new(
                    class,
                    if self.downloaded {
                        format!("runs `{raw}` after downloading files in the same command (download-and-run)")
                    } else {
                        format!("runs the program or script `{raw}`, whose content the kernel cannot see (approval is bound to its hash)")
                    },
                );
                o.scripts.push(raw.to_string());
                return o;
            }
        } else {
            raw
        };
        if self.funcs.contains(name) {
            // The function body may assign variables or change directory.
            self.poison();
            return Outcome::new(ReadOnly, format!("calls the function `{name}` defined in this command (its body is classified separately)"));
        }
        let s: Vec<&str> = rest.iter().map(|a| a.s()).collect();
        let has = |f: &str| s.contains(&f);
        let has_short = |c: char| {
            s.iter().any(|a| {
                a.starts_with('-') && !a.starts_with("--") && a.len() > 1 && a[1..].contains(c)
            })
        };
        let operands = || -> Vec<Arg> {
            let mut v = Vec::new();
            let mut after_dd = false;
            for a in rest {
                if after_dd || !(a.text.starts_with('-') && a.text.len() > 1) {
                    v.push(a.clone());
                } else if a.text == "--" {
                    after_dd = true;
                }
            }
            v
        };

        match name {
            // --- shell builtins and plain readers -------------------------------------------
            "ls" | "cat" | "head" | "tail" | "less" | "more" | "grep" | "egrep" | "fgrep" | "rg"
            | "ag" | "ack" | "wc" | "uniq" | "cut" | "tr" | "echo" | "printf" | "pwd" | "whoami"
            | "id" | "groups" | "date" | "uname" | "which" | "whereis" | "type" | "file" | "stat"
            | "du" | "df" | "tree" | "diff" | "cmp" | "comm" | "jq" | "yq" | "basename" | "dirname"
            | "realpath" | "readlink" | "true" | "false" | "test" | "[" | "printenv" | "sleep"
            | "seq" | "md5sum" | "sha1sum" | "sha224sum" | "sha256sum" | "sha384sum" | "sha512sum"
            | "cksum" | "b2sum" | "nl" | "od" | "hexdump" | "strings" | "column" | "fold" | "fmt"
            | "paste" | "join" | "expand" | "unexpand" | "rev" | "tac" | "ps" | "free" | "uptime"
            | "lsblk" | "lscpu" | "nproc" | "locale" | "tty" | "man" | "info" | "help" | "cal"
            | "getconf" | "cd" | "pushd" | "popd" | "dirs" | "read" | "wait" | "jobs" | "shift"
            | "return" | "exit" | "break" | "continue" | ":" | "hash" | "ulimit" | "umask"
            | "getopts" | "let" | "expr" | "base64" | "base32" | "zcat" | "bzcat" | "xzcat"
            | "tput" | "clear" | "lsof" | "bc" | "dc" | "yes" | "unset" | "set" | "shopt-p"
            | "stty" | "look" | "cat-file" | "file-type" | "numfmt" | "tsort" | "pr" | "ptx"
            | "sum" | "logname" | "users" | "who" | "w" | "last" | "env-list" | "history"
            | "disown" | "fg" | "bg" | "times" | "caller" | "compgen" | "complete" | "mapfile"
            | "readarray" | "echo-n" | "vmstat" | "iostat" | "pgrep" | "pidof" | "top" | "htop"
            | "xxd" | "sort" | "unalias" | "zgrep" | "zless" | "bzgrep" | "xzgrep" | "iconv"
            | "nm" | "objdump" | "readelf" | "ldd" | "size" | "locate" | "apropos" | "whatis" => {
                self.rule_reader(name, rest, &s)
            }
            "export" | "declare" | "typeset" | "local" | "readonly" => {
                let mut o = Outcome::new(ReadOnly, "sets shell variables");
                if rest.iter().any(|a| {
                    a.dynamic || (a.text.starts_with('-') && a.text.contains('n'))
                }) {
                    // Name references (`declare -n`) or computed names: any variable may change.
                    self.poison();
                }
                for a in rest {
                    if let Some((k, v)) = a.text.split_once('=') {
                        if DANGEROUS_ENV.contains(&k) {
                            o = Outcome::new(Unknown, format!("sets {k}, which changes which programs or code later commands run"));
                        }
                        self.set_var(k, if a.dynamic { None } else { Some(v.to_string()) });
                    }
                }
                o
            }
            "alias" => {
                if rest.iter().any(|a| a.text.contains('=')) {
                    Outcome::new(Unknown, "defines an alias, which can make a harmless-looking name run something else")
                } else {
                    Outcome::new(ReadOnly, "lists aliases")
                }
            }
            "shopt" => {
                if has("expand_aliases") {
                    Outcome::new(Unknown, "enables alias expansion, which can make harmless-looking names run something else")
                } else {
                    Outcome::new(ReadOnly, "shell option")
                }
            }
            "trap" => {
                let mut o = Outcome::new(ReadOnly, "sets a signal handler (its code is classified separately)");
                if let Some(code) = rest.first() {
                    if code.dynamic {
                        o = Outcome::new(Unknown, "sets a signal handler whose code is computed at run time");
                    } else if !code.text.starts_with('-') && !code.text.is_empty() {
                        o.code.push(code.text.clone());
                        o.code_scope = CodeScope::Later;
                    }
                }
                o
            }
            "hostname" => {
                if operands().is_empty() {
                    Outcome::new(ReadOnly, "prints the host name")
                } else {
                    Outcome::new(Privilege, "changes the host name")
                }
            }
            "env" => self.rule_env(rest),
            "sed" => self.rule_sed(rest),
            "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => self.rule_awk(rest),
            "find" => self.rule_find(rest),
            "xargs" => self.rule_xargs(rest),
            "git" => self.rule_git(rest),

            // --- wrappers that run another command -----------------------------------------
            "sudo" | "doas" | "pkexec" | "runuser" | "su" | "sg" | "newgrp" | "run0" => self.rule_sudo(name, rest),
            "nohup" | "nice" | "time" | "timeout" | "stdbuf" | "setsid" | "ionice" | "taskset"
            | "chrt" | "unbuffer" | "command" | "builtin" | "exec" | "caffeinate" | "strace"
            | "ltrace" | "flock" | "watch" | "coproc" | "catchsegv" | "nsenter" | "unshare"
            | "chroot" | "firejail" | "bwrap" | "script" | "faketime" | "proot" | "torsocks"
            | "proxychains" | "proxychains4" | "tsocks" | "rlwrap" | "eatmydata" | "cpulimit"
            | "systemd-run" | "busybox" => self.rule_wrapper(name, rest),

            // --- interpreters ---------------------------------------------------------------
            n if SHELLS.contains(&n) => self.rule_shell(n, rest, stdin, nested_network),
            "eval" => {
                if rest.iter().any(|a| a.dynamic) {
                    self.poison();
                    if nested_network {
                        Outcome::new(Installer, "evaluates code produced by a network download")
                    } else {
                        Outcome::new(Unknown, "evaluates code computed at run time")
                    }
                } else {
                    let mut o = Outcome::new(ReadOnly, "evaluates literal code (classified separately)");
                    o.code.push(s.join(" "));
                    o.code_scope = CodeScope::Current;
                    o
                }
            }
            "source" | "." => {
                // The sourced file may set any variable or change directory.
                self.poison();
                match rest.first() {
                    None => Outcome::new(Unknown, "`source` without a file"),
                    Some(f) if f.dynamic => {
                        if nested_network {
                            Outcome::new(Installer, "sources code produced by a network download")
                        } else {
                            Outcome::new(Unknown, "sources a file computed at run time")
                        }
                    }
                    Some(f) => {
                        let mut o = Outcome::new(
                            if self.downloaded { Installer } else { Unknown },
                            format!("runs the shell script `{}` in the current shell (content not analysed; approval is bound to its hash)", f.text),
                        );
                        o.scripts.push(f.text.clone());
                        o
                    }
                }
            }
            n if is_python(n) => self.rule_interp("python", n, rest, stdin, nested_network),
            "perl" | "ruby" | "node" | "nodejs" | "php" | "lua" | "luajit" | "Rscript" | "R"
            | "osascript" | "pwsh" | "powershell" | "tclsh" | "wish" | "julia" | "deno"
            | "irb" | "jshell" | "groovy" | "scala" | "kotlin" | "swift" | "guile" | "racket"
            | "sbcl" | "clisp" | "ghci" | "runghc" | "elixir" | "erl" | "escript" => {
                self.rule_interp(lang_of(name), name, rest, stdin, nested_network)
            }

            // --- writers ------------------------------------------------------------------
            "rm" | "unlink" | "srm" => {
                let recursive = has_short('r') || has_short('R') || has("--recursive");
                let ops = operands();
                if recursive {
                    let mut o = Outcome::new(Destructive, "recursive delete (rm -r)");
                    o.writes = ops;
                    o.deletes = true;
                    o
                } else {
                    let mut o = Outcome::new(WorkspaceWrite, "deletes files");
                    o.writes = ops;
                    o.deletes = true;
                    o
                }
            }
            "rmdir" => Outcome::new(WorkspaceWrite, "removes empty directories").writes(operands()),
            "shred" | "wipe" => {
                let mut o = Outcome::new(Destructive, "overwrites files so they cannot be recovered");
                o.writes = operands();
                o.deletes = true;
                o
            }
            "truncate" => Outcome::new(Destructive, "truncates files (data is lost)").writes(operands()),
            "dd" => {
                let mut o = Outcome::new(Destructive, "dd copies raw blocks and can overwrite disks or files");
                for a in rest {
                    if let Some(t) = a.text.strip_prefix("of=") {
                        o.writes.push(Arg { text: t.to_string(), dynamic: a.dynamic, glob: a.glob });
                    }
                }
                o
            }
            n if n.starts_with("mkfs") || matches!(n, "mke2fs" | "mkswap" | "wipefs" | "fdisk" | "sfdisk" | "cfdisk" | "parted" | "gdisk" | "sgdisk" | "blkdiscard" | "badblocks" | "zpool" | "lvremove" | "vgremove" | "pvremove" | "cryptsetup" | "hdparm") => {
                Outcome::new(Destructive, "formats or repartitions disks")
            }
            "cp" | "install" | "ln" | "link" => {
                let ops = operands();
                let target_dir = rest.iter().enumerate().find_map(|(i, a)| {
                    if a.text == "-t" {
                        rest.get(i + 1).cloned()
                    } else {
                        a.text.strip_prefix("--target-directory=").map(|t| Arg { text: t.into(), dynamic: a.dynamic, glob: false })
                    }
                });
                let dest: Vec<Arg> = match target_dir {
                    Some(t) => vec![t],
                    None => ops.last().cloned().into_iter().collect(),
                };
                Outcome::new(WorkspaceWrite, format!("{name} writes files")).writes(dest)
            }
            "mv" => {
                let mut o = Outcome::new(WorkspaceWrite, "moves files").writes(operands());
                if o.writes.last().is_some_and(|a| a.text == "/dev/null") {
                    o = Outcome::new(Destructive, "moves files to /dev/null (deletes them)");
                    o.writes = operands();
                    o.deletes = true;
                } else {
                    o.deletes = true;
                }
                o
            }
            "touch" | "mkdir" | "mkfifo" | "mknod" | "tee" | "split" | "csplit" | "mktemp" => {
                let ops = if name == "mktemp" { Vec::new() } else { operands() };
                Outcome::new(WorkspaceWrite, format!("{name} creates or writes files")).writes(ops)
            }
            "patch" | "zip" | "gzip" | "gunzip" | "bzip2" | "bunzip2" | "xz" | "unxz" | "zstd"
            | "unzstd" | "7z" | "unrar" | "dos2unix" | "unix2dos" | "rename" | "ar" => {
                if name == "zip" && (has("-T") || has("--test")) && (has("-TT") || has("--unzip-command")) {
                    return Outcome::new(InlineInterpreter, "zip -TT runs a command");
                }
                let ops = if matches!(name, "patch" | "zip") { operands().into_iter().take(1).collect() } else { operands() };
                Outcome::new(WorkspaceWrite, format!("{name} writes files")).writes(ops)
            }
            "unzip" => {
                let mut o = Outcome::new(WorkspaceWrite, "extracts an archive");
                if let Some(i) = s.iter().position(|a| *a == "-d") {
                    if let Some(d) = rest.get(i + 1) {
                        o.writes.push(d.clone());
                    }
                }
                o
            }
            "tar" | "bsdtar" => self.rule_tar(rest, &s),
            "chmod" => {
                let ops = operands();
                let mode = ops.first().map(|a| a.text.clone()).unwrap_or_default();
                let setuid = mode.contains('s')
                    && (mode.contains('+') || mode.contains('='))
                    || (mode.len() == 4 && mode.chars().all(|c| c.is_ascii_digit()) && matches!(mode.chars().next(), Some('2'..='7')));
                let targets: Vec<Arg> = ops.into_iter().skip(1).collect();
                if setuid {
                    return Outcome::new(Privilege, format!("sets the setuid/setgid bit (chmod {mode})"));
                }
                let recursive = has_short('R') || has("--recursive");
                let outside = targets.iter().any(|t| {
                    t.dynamic || self.resolve(&t.text).is_none_or(|p| !self.ctx.in_workspace(&p) && !self.ctx.is_scratch(&p))
                });
                if recursive && outside {
                    return Outcome::new(Privilege, "changes permissions recursively outside the workspace");
                }
                Outcome::new(WorkspaceWrite, "changes file permissions").writes(targets)
            }
            "chown" | "chgrp" | "chattr" | "setfacl" | "setcap" | "capsh" | "setpriv" => {
                Outcome::new(Privilege, format!("{name} changes ownership, attributes or capabilities"))
            }

            // --- privilege and system ------------------------------------------------------
            "mount" | "umount" | "swapon" | "swapoff" | "modprobe" | "insmod" | "rmmod" | "iptables"
            | "ip6tables" | "nft" | "ufw" | "firewall-cmd" | "useradd" | "userdel" | "usermod"
            | "groupadd" | "groupdel" | "groupmod" | "adduser" | "deluser" | "passwd" | "chpasswd"
            | "chsh" | "chfn" | "visudo" | "vipw" | "shutdown" | "reboot" | "halt" | "poweroff"
            | "init" | "telinit" | "loginctl" | "sysctl" | "kexec" | "dmesg-c" | "auditctl"
            | "setenforce" | "aa-disable" | "apparmor_parser" | "update-alternatives"
            | "ldconfig" | "depmod" | "grub-install" | "update-grub" | "efibootmgr" => {
                if name == "sysctl" && !rest.iter().any(|a| a.text == "-w" || a.text.contains('=')) {
                    return Outcome::new(ReadOnly, "reads kernel parameters");
                }
                Outcome::new(Privilege, format!("{name} changes system, user or security configuration"))
            }
            "systemctl" | "service" | "journalctl" | "launchctl" => {
                let ro = ["status", "is-active", "is-enabled", "is-failed", "list-units", "list-unit-files", "show", "cat", "list-timers", "--version"];
                if name == "journalctl" || s.iter().any(|a| ro.contains(a)) && !s.iter().any(|a| ["start", "stop", "restart", "enable", "disable", "mask", "kill", "edit", "daemon-reload"].contains(a)) {
                    Outcome::new(ReadOnly, "reads service status or logs")
                } else if has("--user") {
                    Outcome::new(ConfigTamper, "changes user services (they keep running in the background)")
                } else {
                    Outcome::new(Privilege, "controls system services")
                }
            }
            "ip" => {
                if s.iter().any(|a| matches!(*a, "add" | "del" | "delete" | "set" | "flush" | "change" | "replace" | "append")) {
                    Outcome::new(Privilege, "changes network configuration")
                } else {
                    Outcome::new(ReadOnly, "reads network configuration")
                }
            }
            "crontab" => {
                if has("-l") {
                    Outcome::new(ReadOnly, "lists scheduled jobs")
                } else {
                    Outcome::new(ConfigTamper, "changes scheduled jobs (persistence)")
                }
            }
            "at" | "batch" => Outcome::new(ConfigTamper, "schedules a command to run later (persistence)"),
            "kill" => {
                if (s.len() > 1 && s[1..].contains(&"-1")) || s.contains(&"0") {
                    Outcome::new(Destructive, "signals every process")
                } else if has("-l") || has("-L") {
                    Outcome::new(ReadOnly, "lists signals")
                } else {
                    Outcome::new(Unknown, "signals processes")
                }
            }
            "killall" | "pkill" | "killall5" | "skill" => Outcome::new(Destructive, "kills processes by name"),
            "docker" | "podman" | "nerdctl" | "kubectl" | "ctr" | "crictl" | "lxc" | "virsh" => {
                let ro = ["ps", "images", "inspect", "logs", "version", "info", "get", "describe", "top", "stats", "history", "--version"];
                match s.iter().find(|a| !a.starts_with('-')) {
                    Some(sub) if ro.contains(sub) => Outcome::new(ReadOnly, format!("reads {name} state")),
                    _ => Outcome::new(Privilege, format!("{name} controls containers through a daemon with root-equivalent power")),
                }
            }
            "vi" | "vim" | "nvim" | "nano" | "emacs" | "ed" | "ex" | "pico" | "joe" | "mcedit" | "tmux" | "screen" => {
                Outcome::new(Unknown, format!("{name} is interactive and can run arbitrary commands"))
            }

            // --- network --------------------------------------------------------------------
            "curl" => self.rule_curl(rest, &s),
            "wget" => self.rule_wget(rest, &s),
            "nc" | "ncat" | "netcat" | "socat" | "telnet" => {
                if s.iter().any(|a| *a == "-e" || *a == "-c" || a.starts_with("--exec") || a.starts_with("--sh-exec") || a.contains("EXEC:") || a.contains("SYSTEM:")) {
                    Outcome::new(Privilege, "gives a remote party a shell on this machine (reverse/bind shell)")
                } else if has_short('l') || has("--listen") || s.iter().any(|a| a.starts_with("TCP-LISTEN") || a.starts_with("TCP4-LISTEN")) {
                    Outcome::new(Network, "listens for network connections")
                } else {
                    Outcome::new(Network, "opens a raw network connection")
                }
            }
            "ssh" | "scp" | "sftp" | "mosh" | "ssh-copy-id" => {
                let mut o = Outcome::new(Network, format!("{name} connects to another machine"));
                if name == "ssh" && s.iter().any(|a| a.contains("ProxyCommand") || a.contains("LocalCommand") || a.contains("PermitLocalCommand")) {
                    o = Outcome::new(InlineInterpreter, "ssh option runs a local command");
                }
                if name == "scp" {
                    o.writes = operands().last().filter(|a| !a.text.contains(':')).cloned().into_iter().collect();
                }
                o
            }
            "rsync" => {
                if s.iter().any(|a| a.starts_with("--rsync-path")) || (has("-e") && rest.iter().any(|a| a.text.contains(';') || a.text.contains('|'))) {
                    return Outcome::new(InlineInterpreter, "rsync option runs a command");
                }
                let ops = operands();
                let remote = ops.iter().any(|a| a.text.contains(':') || a.text.starts_with("rsync://"));
                let dest: Vec<Arg> = ops.last().filter(|a| !a.text.contains(':')).cloned().into_iter().collect();
                let mut o = if remote { Outcome::new(Network, "copies files to or from another machine") } else { Outcome::new(WorkspaceWrite, "copies files") };
                if has("--delete") || s.iter().any(|a| a.starts_with("--delete") || *a == "--remove-source-files") {
                    o.class = Some(o.class.unwrap_or(Unknown).max(Destructive));
                    o.reason = "rsync --delete removes files at the destination".into();
                    o.deletes = true;
                }
                o.writes = dest;
                o
            }
            "ping" | "ping6" | "traceroute" | "tracepath" | "mtr" | "dig" | "nslookup" | "host"
            | "whois" | "ftp" | "lftp" | "tftp" | "http" | "https" | "xh" | "aria2c" | "axel"
            | "httpie" | "grpcurl" | "websocat" | "gh" | "aws" | "gcloud" | "az" | "s3cmd"
            | "rclone" | "mail" | "mailx" | "sendmail" | "mutt" | "swaks" | "nmap" | "masscan"
            | "ssh-keyscan" | "smbclient" | "ldapsearch" | "redis-cli" | "psql" | "mysql"
            | "mongo" | "mongosh" | "sqlcmd" | "ngrok" | "cloudflared" | "frpc" | "autossh" => {
                if matches!(name, "ngrok" | "cloudflared" | "frpc" | "autossh") {
                    return Outcome::new(Privilege, format!("{name} opens a tunnel that exposes this machine (CN-D2)"));
                }
                Outcome::new(Network, format!("{name} talks to the network"))
            }
            "openssl" => match s.first() {
                Some(&"s_client") | Some(&"s_server") | Some(&"s_time") | Some(&"ocsp") => Outcome::new(Network, "openssl opens a network connection"),
                _ => {
                    let mut o = Outcome::new(ReadOnly, "openssl computes or converts");
                    if let Some(i) = s.iter().position(|a| *a == "-out") {
                        if let Some(t) = rest.get(i + 1) {
                            o.class = Some(WorkspaceWrite);
                            o.writes.push(t.clone());
                        }
                    }
                    o
                }
            },
            "ssh-keygen" => {
                let mut o = Outcome::new(WorkspaceWrite, "creates or inspects SSH keys");
                match s.iter().position(|a| *a == "-f") {
                    Some(i) => o.writes.extend(rest.get(i + 1).cloned()),
                    None => {
                        if !has("-l") && !has("-F") && !has("-y") {
                            o = Outcome::new(ConfigTamper, "creates SSH keys in ~/.ssh");
                        }
                    }
                }
                o
            }
            "ssh-add" | "ssh-agent" | "gpg" | "gpg2" | "pass" | "secret-tool" | "keyctl" | "security" | "vault" | "op" | "bw" | "keepassxc-cli" => {
                if name == "gpg" && s.iter().all(|a| matches!(*a, "--version" | "--list-keys" | "-k" | "--verify")) && !s.is_empty() {
                    return Outcome::new(ReadOnly, "gpg reads public key information");
                }
                Outcome::new(SecretAccess, format!("{name} reads or manages secret keys"))
            }

            // --- package managers and build tools -----------------------------------------
            "apt" | "apt-get" | "aptitude" | "dpkg" | "dnf" | "yum" | "zypper" | "pacman" | "apk"
            | "brew" | "snap" | "flatpak" | "port" | "nix-env" | "nix" | "emerge" | "rpm" | "xbps-install"
            | "pkg" | "choco" | "winget" | "scoop" | "add-apt-repository" | "yay" | "paru" => {
                let ro = ["search", "show", "list", "policy", "depends", "rdepends", "info", "-l", "-L", "-s", "--list", "-Q", "-Ss", "-Si", "-qa", "-q", "--version", "madison", "files"];
                if s.first().is_some_and(|a| ro.contains(a)) {
                    Outcome::new(ReadOnly, format!("{name} queries installed or available packages"))
                } else {
                    Outcome::new(Installer, format!("{name} installs or changes system software"))
                }
            }
            "pip" | "pip3" | "pip2" => self.rule_pip(rest, &s),
            "pipx" | "uvx" => Outcome::new(Installer, format!("{name} installs and runs a package (one-click install)")),
            "uv" => match s.first() {
                Some(&"pip") => self.rule_pip(&rest[1..], &s[1..]),
                Some(&"tool") | Some(&"self") | Some(&"python") => Outcome::new(Installer, "uv installs tools or interpreters"),
                Some(&"add") | Some(&"sync") | Some(&"lock") | Some(&"venv") => Outcome::new(Network, "uv downloads project dependencies"),
                Some(&"run") => Outcome::new(WorkspaceWrite, "uv runs a project command"),
                _ => Outcome::new(Unknown, "unrecognised uv command"),
            },
            "npm" | "pnpm" | "yarn" | "bun" | "cnpm" => self.rule_npm(name, rest, &s),
            "npx" | "pnpx" | "bunx" => Outcome::new(Installer, format!("{name} downloads and runs a package (one-click install)")),
            "cargo" => self.rule_cargo(&s),
            "rustup" => match s.first() {
                Some(&"show") | Some(&"--version") | Some(&"which") => Outcome::new(ReadOnly, "rustup shows toolchains"),
                _ => Outcome::new(Installer, "rustup installs or changes toolchains"),
            },
            "go" => match s.first() {
                Some(&"install") => Outcome::new(Installer, "go install builds and installs a program"),
                Some(&"get") | Some(&"mod") => Outcome::new(Network, "go downloads modules"),
                Some(&"run") if s.iter().any(|a| a.contains('@')) => Outcome::new(Installer, "go run of a remote module (download-and-run)"),
                Some(&"version") | Some(&"env") | Some(&"doc") | Some(&"list") => Outcome::new(ReadOnly, "go reads information"),
                _ => Outcome::new(WorkspaceWrite, "go builds or tests the project"),
            },
            "gem" | "composer" | "cpan" | "cpanm" | "conda" | "mamba" | "micromamba" | "poetry" | "pdm" | "hatch" | "pipenv" | "bundle" | "bundler" | "mix" | "dotnet" | "nuget" | "luarocks" | "opam" | "stack" | "cabal" => {
                let installs = s.iter().any(|a| matches!(*a, "install" | "add" | "global" | "update" | "upgrade" | "create" | "sync" | "lock" | "restore"));
                if s.iter().any(|a| *a == "global" || *a == "--global" || *a == "-g") || (matches!(name, "gem" | "cpan" | "cpanm" | "conda" | "mamba" | "micromamba" | "luarocks" | "opam") && installs) {
                    Outcome::new(Installer, format!("{name} installs software"))
                } else if installs {
                    Outcome::new(Network, format!("{name} downloads project dependencies"))
                } else {
                    Outcome::new(WorkspaceWrite, format!("{name} runs a project command"))
                }
            }
            "make" | "gmake" | "cmake" | "ninja" | "meson" | "gradle" | "gradlew" | "mvn" | "ant"
            | "bazel" | "bazelisk" | "just" | "task" | "scons" | "rustc" | "gcc" | "g++" | "cc"
            | "c++" | "clang" | "clang++" | "javac" | "java" | "kotlinc" | "tsc" | "zig" | "ld"
            | "as" | "pytest" | "py.test" | "tox" | "nox" | "jest" | "vitest" | "mocha" | "eslint"
            | "prettier" | "black" | "ruff" | "mypy" | "pyright" | "flake8" | "isort" | "pylint"
            | "rustfmt" | "shellcheck" | "shfmt" | "gofmt" | "golangci-lint" | "clang-format"
            | "ctest" | "autoreconf" | "automake" | "autoconf" | "pkg-config" | "webpack" | "vite"
            | "esbuild" | "rollup" | "parcel" | "swc" | "babel" | "hugo" | "mdbook" | "sphinx-build"
            | "protoc" | "cargo-nextest" | "valgrind" | "gdb" | "lldb" | "perf" => {
                Outcome::new(WorkspaceWrite, format!("{name} builds, formats or tests the project (runs project code in the sandbox)"))
            }
            _ => Outcome::new(Unknown, format!("`{name}` is not a command the kernel knows")),
        }
    }

    fn rule_reader(&mut self, name: &str, rest: &[Arg], s: &[&str]) -> Outcome {
        use CommandClass::*;
        match name {
            "read" | "mapfile" | "readarray" | "getopts" | "unset" | "let" | "printf" => {
                // Builtins that assign variables from input: those become unknown.
                let is_name = |t: &str| {
                    !t.is_empty()
                        && t.chars().all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
                        && !t.starts_with(|ch: char| ch.is_ascii_digit())
                };
                let mut names: Vec<String> = Vec::new();
                match name {
                    "printf" => {
                        if let Some(i) = s.iter().position(|a| *a == "-v") {
                            if let Some(n) = s.get(i + 1) {
                                names.push(n.to_string());
                            }
                        }
                    }
                    "getopts" => names.extend(s.get(1).map(|n| n.to_string())),
                    "let" => names.extend(
                        s.iter()
                            .filter_map(|a| a.split(['=', '+', '-', '*', '/']).next())
                            .map(str::to_string),
                    ),
                    "read" => {
                        names.push("REPLY".into());
                        names.extend(s.iter().filter(|a| is_name(a)).map(|a| a.to_string()));
                    }
                    "mapfile" | "readarray" => {
                        names.push("MAPFILE".into());
                        names.extend(s.iter().filter(|a| is_name(a)).map(|a| a.to_string()));
                    }
                    _ => names.extend(s.iter().filter(|a| is_name(a)).map(|a| a.to_string())),
                }
                for n in names {
                    if is_name(&n) {
                        self.set_var(&n, None);
                    }
                }
                if rest.iter().any(|a| a.dynamic) && matches!(name, "read" | "printf") {
                    // `read $x` / `printf -v $x`: which variable is set is unknown.
                    self.poison();
                }
                Outcome::new(
                    ReadOnly,
                    format!("{name} only reads, prints or sets shell variables"),
                )
            }
            "cd" | "pushd" => {
                match rest
                    .iter()
                    .find(|a| !a.text.starts_with('-') || a.text == "-")
                {
                    None => self.cwd = Some(self.ctx.home.clone()),
                    Some(a) if a.dynamic || a.text == "-" => self.cwd = None,
                    Some(a) => self.cwd = self.resolve(&a.text),
                }

                Outcome::new(ReadOnly, "changes directory")
            }
            "popd" => {
                self.cwd = None;
                Outcome::new(ReadOnly, "changes directory")
            }
            "sort" => {
                let mut o = Outcome::new(ReadOnly, "sorts text");
                for (i, a) in rest.iter().enumerate() {
                    if a.text == "-o" {
                        o.writes.extend(rest.get(i + 1).cloned());
                    } else if let Some(t) = a.text.strip_prefix("--output=") {
                        o.writes.push(Arg {
                            text: t.into(),
                            dynamic: a.dynamic,
                            glob: false,
                        });
                    }
                }
                if !o.writes.is_empty() {
                    o.class = Some(WorkspaceWrite);
                }
                o
            }
            "xxd" if s.contains(&"-r") => {
                let ops: Vec<Arg> = rest
                    .iter()
                    .filter(|a| !a.text.starts_with('-'))
                    .cloned()
                    .collect();
                let mut o = Outcome::new(ReadOnly, "converts hex");
                if ops.len() >= 2 {
                    o.class = Some(WorkspaceWrite);
                    o.writes = ops.into_iter().skip(1).collect();
                }
                o
            }
            "man"
                if s.iter().any(|a| {
                    a.starts_with("-P")
                        || a.starts_with("--pager")
                        || a.starts_with("-H")
                        || a.starts_with("--html")
                }) =>
            {
                Outcome::new(
                    InlineInterpreter,
                    "man option runs a program as the pager or browser",
                )
            }
            "history" if s.contains(&"-c") || s.contains(&"-d") => {
                Outcome::new(Unknown, "erases shell history (hides activity)")
            }
            _ => Outcome::new(ReadOnly, format!("{name} only reads or prints")),
        }
    }

    fn rule_env(&mut self, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let mut i = 0;
        let mut dangerous = None;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "-i" || t == "--ignore-environment" || t == "-0" || t == "--null" || t == "-" {
                i += 1;
            } else if t == "-u" || t == "--unset" || t == "-C" || t == "--chdir" {
                i += 2;
            } else if t == "-S" || t == "--split-string" {
                let mut o = Outcome::new(
                    ReadOnly,
                    "env -S runs a command line (classified separately)",
                );
                match rest.get(i + 1) {
                    Some(c) if !c.dynamic => o.code.push(c.text.clone()),
                    _ => o = Outcome::new(Unknown, "env -S with code computed at run time"),
                }
                return o;
            } else if let Some((k, _)) = t.split_once('=') {
                if !t.starts_with('-') {
                    if DANGEROUS_ENV.contains(&k) {
                        dangerous = Some(k.to_string());
                    }
                    i += 1;
                } else {
                    i += 1;
                }
            } else if t.starts_with('-') {
                i += 1;
            } else {
                break;
            }
        }
        if i >= rest.len() {
            return Outcome::new(ReadOnly, "prints the environment");
        }
        let mut o = match dangerous {
            Some(k) => Outcome::new(
                Unknown,
                format!(
                    "runs a command with {k} changed, which changes which programs or code run"
                ),
            ),
            None => Outcome::new(
                ReadOnly,
                "runs a command with a modified environment (classified separately)",
            ),
        };
        o.argvs.push(rest[i..].to_vec());
        o
    }

    fn rule_wrapper(&mut self, name: &str, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let s: Vec<&str> = rest.iter().map(|a| a.s()).collect();
        // Options that take a value, per wrapper.
        let takes_value: &[&str] = match name {
            "timeout" => &["-s", "--signal", "-k", "--kill-after"],
            "nice" => &["-n", "--adjustment"],
            "ionice" => &["-c", "-n", "-p", "-t"],
            "stdbuf" => &["-i", "-o", "-e"],
            "taskset" => &[],
            "chrt" => &[],
            "strace" | "ltrace" => &["-o", "-e", "-p", "-s", "-u", "-E", "-a", "-P", "-I", "-X"],
            "flock" => &["-w", "--timeout", "-E", "--conflict-exit-code"],
            "watch" => &["-n", "--interval", "-d", "-g"],
            "nsenter" => &["-t", "--target", "-S", "-G"],
            "systemd-run" => &[
                "-p",
                "--property",
                "--unit",
                "-u",
                "--slice",
                "-E",
                "--setenv",
                "--uid",
                "--gid",
            ],
            "firejail" | "bwrap" => &["--bind", "--ro-bind", "--chdir", "--setenv"],
            "cpulimit" => &["-l", "--limit", "-p", "--pid"],
            "faketime" => &["-f"],
            _ => &[],
        };
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "--" {
                i += 1;
                break;
            }
            if t.starts_with('-') && t.len() > 1 {
                if takes_value.contains(&t) {
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            break;
        }
        // Positional arguments before the command.
        match name {
            "timeout" | "taskset" | "chrt" | "faketime" => i += 1,
            "flock" => {
                if matches!(
                    rest.get(i + 1).map(|a| a.s()),
                    Some("-c") | Some("--command")
                ) {
                    let mut o = Outcome::new(
                        ReadOnly,
                        "flock runs a command line (classified separately)",
                    );
                    match rest.get(i + 2) {
                        Some(c) if !c.dynamic => o.code.push(c.text.clone()),
                        _ => o = Outcome::new(Unknown, "flock -c with code computed at run time"),
                    }
                    return o;
                }
                i += 1;
            }
            _ => {}
        }
        if name == "command" && (s.contains(&"-v") || s.contains(&"-V")) {
            return Outcome::new(ReadOnly, "looks up a command");
        }
        if name == "busybox" && rest.is_empty() {
            return Outcome::new(ReadOnly, "lists busybox applets");
        }
        let inner: Vec<Arg> = rest.get(i..).map(|r| r.to_vec()).unwrap_or_default();
        if inner.is_empty() {
            return match name {
                "exec" => Outcome::new(ReadOnly, "exec with redirections only"),
                "unshare" | "nsenter" | "chroot" => Outcome::new(
                    Privilege,
                    format!("{name} starts a shell in other namespaces or root"),
                ),
                "script" => Outcome::new(Unknown, "script records a terminal session"),
                _ => Outcome::new(ReadOnly, format!("{name} without a command")),
            };
        }
        let (class, reason) = match name {
            "nsenter" | "unshare" | "chroot" => (
                Privilege,
                format!("{name} changes namespaces or the root directory"),
            ),
            "strace" | "ltrace" => (
                Unknown,
                format!("{name} traces another program (can read its memory and secrets)"),
            ),
            "torsocks" | "proxychains" | "proxychains4" | "tsocks" => {
                (Network, format!("{name} routes a command through a proxy"))
            }
            "systemd-run" => (
                Privilege,
                "systemd-run starts a command as a service".to_string(),
            ),
            _ => (
                ReadOnly,
                format!("{name} runs another command (classified separately)"),
            ),
        };
        let mut o = Outcome::new(class, reason);
        if name == "watch" {
            // watch passes its arguments to `sh -c`.
            if inner.iter().any(|a| a.dynamic) {
                return Outcome::new(Unknown, "watch runs code computed at run time");
            }
            o.code.push(
                inner
                    .iter()
                    .map(|a| a.text.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        } else {
            o.argvs.push(inner);
        }
        o
    }

    fn rule_sudo(&mut self, name: &str, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let mut o = Outcome::new(
            Privilege,
            format!("{name} runs a command as another user (privilege)"),
        );
        if name == "su" || name == "runuser" && rest.iter().any(|a| a.text == "-c") {
            if let Some(i) = rest
                .iter()
                .position(|a| a.text == "-c" || a.text == "--command")
            {
                match rest.get(i + 1) {
                    Some(c) if !c.dynamic => o.code.push(c.text.clone()),
                    Some(_) => {
                        o.reason = format!("{name} runs code computed at run time as another user")
                    }
                    None => {}
                }
            }
            return o;
        }
        let takes_value = [
            "-u",
            "--user",
            "-g",
            "--group",
            "-C",
            "--close-from",
            "-h",
            "--host",
            "-p",
            "--prompt",
            "-r",
            "--role",
            "-t",
            "--type",
            "-U",
            "--other-user",
            "-D",
            "--chdir",
            "-T",
            "--command-timeout",
        ];
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "--" {
                i += 1;
                break;
            }
            if t.starts_with('-') {
                i += if takes_value.contains(&t) { 2 } else { 1 };
                continue;
            }
            if t.contains('=') && name == "sudo" {
                i += 1;
                continue;
            }
            break;
        }
        if let Some(inner) = rest.get(i..) {
            if !inner.is_empty() {
                o.argvs.push(inner.to_vec());
            }
        }
        o
    }

    fn rule_shell(
        &mut self,
        name: &str,
        rest: &[Arg],
        stdin: &Stdin,
        nested_network: bool,
    ) -> Outcome {
        use CommandClass::*;
        let mut i = 0;
        let mut code_flag = false;
        let mut read_stdin = false;
        let mut interactive = false;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "--" {
                i += 1;
                break;
            }
            if t == "-o"
                || t == "+o"
                || t == "-O"
                || t == "+O"
                || t == "--rcfile"
                || t == "--init-file"
            {
                i += 2;
                continue;
            }
            if (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 {
                if !t.starts_with("--") {
                    if t.contains('c') {
                        code_flag = true;
                    }
                    if t.contains('s') {
                        read_stdin = true;
                    }
                    if t.contains('i') {
                        interactive = true;
                    }
                }
                i += 1;
                continue;
            }
            break;
        }
        if code_flag {
            return match rest.get(i) {
                None => Outcome::new(Unknown, format!("{name} -c without code")),
                Some(c) if c.dynamic => {
                    if nested_network {
                        Outcome::new(Installer, format!("{name} runs code produced by a network download (one-click install)"))
                    } else {
                        Outcome::new(
                            Unknown,
                            format!("{name} -c runs code computed at run time ({})", c.text),
                        )
                    }
                }
                Some(c) => {
                    let mut o = Outcome::new(
                        ReadOnly,
                        format!("{name} -c runs literal code (classified separately)"),
                    );
                    o.code.push(c.text.clone());
                    o
                }
            };
        }
        if let (Some(f), false) = (rest.get(i), read_stdin) {
            if f.dynamic {
                return if nested_network {
                    Outcome::new(Installer, format!("{name} runs a script produced by a network download (one-click install)"))
                } else {
                    Outcome::new(
                        Unknown,
                        format!("{name} runs a script whose path is computed at run time"),
                    )
                };
            }
            let mut o = if self.downloaded {
                Outcome::new(Installer, format!("{name} runs `{}` after downloading files in the same command (download-and-run)", f.text))
            } else {
                Outcome::new(Unknown, format!("{name} runs the script `{}`, whose content the kernel cannot see (approval is bound to its hash)", f.text))
            };
            o.scripts.push(f.text.clone());
            return o;
        }
        self.code_from_stdin(name, stdin, interactive, "shell")
    }

    /// A program that reads code from its standard input.
    fn code_from_stdin(
        &mut self,
        name: &str,
        stdin: &Stdin,
        interactive: bool,
        lang: &'static str,
    ) -> Outcome {
        use CommandClass::*;
        match stdin {
            Stdin::Text(t) => {
                let mut o = Outcome::new(ReadOnly, format!("{name} runs code from its input, which is known text (classified separately)"));
                if lang == "shell" {
                    o.code.push(t.clone());
                } else {
                    o.class = Some(InlineInterpreter);
                    o.reason = format!("{name} runs code from its input");
                    o.foreign.push((lang, t.clone()));
                }
                o
            }
            Stdin::Pipe {
                network: true,
                from,
            } => Outcome::new(
                Installer,
                format!(
                    "{name} runs code downloaded by `{from}` (download-and-run, one-click install)"
                ),
            ),
            Stdin::Pipe {
                network: false,
                from,
            } => Outcome::new(
                Unknown,
                format!("{name} runs code produced at run time by `{from}`"),
            ),
            Stdin::File(f) => {
                let mut o = Outcome::new(
                    if self.downloaded { Installer } else { Unknown },
                    format!("{name} runs the script `{f}` from its input (content not analysed)"),
                );
                o.scripts.push(f.clone());
                o
            }
            Stdin::Terminal => {
                if interactive || lang == "shell" {
                    Outcome::new(Unknown, format!("{name} starts an interactive session"))
                } else {
                    Outcome::new(
                        InlineInterpreter,
                        format!("{name} starts an interactive interpreter"),
                    )
                }
            }
        }
    }

    fn rule_interp(
        &mut self,
        lang: &'static str,
        name: &str,
        rest: &[Arg],
        stdin: &Stdin,
        nested_network: bool,
    ) -> Outcome {
        use CommandClass::*;
        let s: Vec<&str> = rest.iter().map(|a| a.s()).collect();
        if s.iter()
            .any(|a| matches!(*a, "--version" | "-V" | "-v" | "--help" | "-h"))
            && s.len() == 1
        {
            return Outcome::new(ReadOnly, format!("{name} prints its version"));
        }
        // Code flags per language.
        let code_flags: &[&str] = match lang {
            "python" => &["-c"],
            "perl" => &["-e", "-E"],
            "ruby" => &["-e"],
            "node" | "nodejs" | "bun" => &["-e", "--eval", "-p", "--print"],
            "php" => &["-r"],
            "lua" | "luajit" => &["-e"],
            "Rscript" | "R" => &["-e"],
            "osascript" => &["-e"],
            "pwsh" | "powershell" => &[
                "-c",
                "-Command",
                "-command",
                "-EncodedCommand",
                "-e",
                "-enc",
            ],
            "julia" => &["-e", "--eval"],
            "deno" => &["eval"],
            "elixir" => &["-e"],
            "erl" => &["-eval"],
            _ => &["-e"],
        };
        let mut i = 0;
        let mut inplace = false;
        let mut codes: Vec<Arg> = Vec::new();
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "--" {
                i += 1;
                break;
            }
            if code_flags.contains(&t) {
                if let Some(c) = rest.get(i + 1) {
                    codes.push(c.clone());
                }
                i += 2;
                continue;
            }
            // perl -pe / -ne / -lne / -i -pe clusters
            if lang == "perl"
                && t.starts_with('-')
                && !t.starts_with("--")
                && (t.ends_with('e') || t.ends_with('E'))
            {
                if t.contains('i') {
                    inplace = true;
                }
                if let Some(c) = rest.get(i + 1) {
                    codes.push(c.clone());
                }
                i += 2;
                continue;
            }
            if lang == "python" && t == "-m" {
                return self.rule_python_module(rest.get(i + 1..).unwrap_or(&[]));
            }
            if lang == "python" && t.starts_with("-c") && t.len() > 2 {
                codes.push(Arg {
                    text: t[2..].to_string(),
                    dynamic: a.dynamic,
                    glob: false,
                });
                i += 1;
                continue;
            }
            if t.starts_with('-') && t.len() > 1 {
                if lang == "perl" && t.starts_with("-i") {
                    inplace = true;
                }
                i += 1;
                continue;
            }
            break;
        }
        if lang == "deno" || lang == "bun" {
            match s.first() {
                Some(&"run") if s.iter().any(|a| a.contains("://")) => {
                    return Outcome::new(
                        Installer,
                        format!("{name} runs code from a URL (download-and-run)"),
                    )
                }
                Some(&"x") | Some(&"install") | Some(&"add") => {
                    return Outcome::new(Installer, format!("{name} installs or runs a package"))
                }
                Some(&"test") | Some(&"fmt") | Some(&"lint") | Some(&"check") | Some(&"build") => {
                    return Outcome::new(
                        WorkspaceWrite,
                        format!("{name} builds or tests the project"),
                    )
                }
                _ => {}
            }
        }
        if !codes.is_empty() {
            let mut o = Outcome::new(InlineInterpreter, format!("{name} runs inline code"));
            for c in codes {
                if c.dynamic {
                    o = if nested_network {
                        Outcome::new(
                            Installer,
                            format!("{name} runs code produced by a network download"),
                        )
                    } else {
                        Outcome::new(Unknown, format!("{name} runs code computed at run time"))
                    };
                    return o;
                }
                o.foreign.push((lang, c.text));
            }
            if inplace {
                o.writes = rest.get(i..).map(|r| r.to_vec()).unwrap_or_default();
                o.reason.push_str(" and edits files in place");
            }
            return o;
        }
        match rest.get(i) {
            Some(f) if f.text == "-" => self.code_from_stdin(name, stdin, false, lang),
            Some(f) if f.dynamic => {
                if nested_network {
                    Outcome::new(
                        Installer,
                        format!("{name} runs a script produced by a network download"),
                    )
                } else {
                    Outcome::new(
                        Unknown,
                        format!("{name} runs a script whose path is computed at run time"),
                    )
                }
            }
            Some(f) => {
                if f.text.contains("://") {
                    return Outcome::new(
                        Installer,
                        format!("{name} runs code from a URL (download-and-run)"),
                    );
                }
                let mut o = if self.downloaded {
                    Outcome::new(Installer, format!("{name} runs `{}` after downloading files in the same command (download-and-run)", f.text))
                } else {
                    Outcome::new(Unknown, format!("{name} runs the script `{}`, whose content the kernel cannot see (approval is bound to its hash)", f.text))
                };
                o.scripts.push(f.text.clone());
                o
            }
            None => self.code_from_stdin(name, stdin, false, lang),
        }
    }

    fn rule_python_module(&mut self, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let s: Vec<&str> = rest.iter().map(|a| a.s()).collect();
        match s.first() {
            Some(&"pip") => self.rule_pip(&rest[1..], &s[1..]),
            Some(&"venv") | Some(&"virtualenv") | Some(&"pytest") | Some(&"unittest")
            | Some(&"compileall") | Some(&"black") | Some(&"ruff") | Some(&"mypy")
            | Some(&"build") | Some(&"coverage") | Some(&"doctest") => Outcome::new(
                WorkspaceWrite,
                format!("python -m {} works on the project", s[0]),
            ),
            Some(&"json.tool") | Some(&"tokenize") | Some(&"pydoc") | Some(&"site")
            | Some(&"platform") | Some(&"this") => {
                Outcome::new(ReadOnly, "python module only prints")
            }
            Some(&"http.server") | Some(&"smtpd") | Some(&"ftplib") | Some(&"webbrowser") => {
                Outcome::new(Network, "python module talks to the network")
            }
            Some(m) => Outcome::new(
                Unknown,
                format!("python -m {m} runs a module the kernel does not know"),
            ),
            None => Outcome::new(Unknown, "python -m without a module"),
        }
    }

    fn rule_pip(&mut self, rest: &[Arg], s: &[&str]) -> Outcome {
        use CommandClass::*;
        match s.first() {
            Some(&"install") | Some(&"download") | Some(&"wheel") => {
                let risky = s.iter().skip(1).find(|a| {
                    a.contains("://")
                        || a.starts_with("git+")
                        || a.starts_with("hg+")
                        || a.starts_with("svn+")
                        || a.ends_with(".tar.gz")
                        || a.ends_with(".zip")
                        || a.ends_with(".whl")
                        || a.ends_with(".tgz")
                        || matches!(
                            **a,
                            "--user"
                                | "--break-system-packages"
                                | "--target"
                                | "-t"
                                | "--prefix"
                                | "--root"
                                | "-i"
                                | "--index-url"
                                | "--extra-index-url"
                                | "--trusted-host"
                                | "-f"
                                | "--find-links"
                        )
                });
                match risky {
                    Some(r) => Outcome::new(Installer, format!("pip installs from `{r}` (URL, archive, other index or outside the project: one-click install)")),
                    None => {
                        let _ = rest;
                        Outcome::new(Network, "pip downloads packages from the configured index (their build scripts run in the sandbox)")
                    }
                }
            }
            Some(&"uninstall") => Outcome::new(WorkspaceWrite, "pip removes packages"),
            Some(&"config") => Outcome::new(
                ConfigTamper,
                "pip config changes the package index settings",
            ),
            Some(&"list") | Some(&"show") | Some(&"freeze") | Some(&"check")
            | Some(&"--version") | Some(&"help") | Some(&"inspect") => {
                Outcome::new(ReadOnly, "pip lists packages")
            }
            _ => Outcome::new(Unknown, "unrecognised pip command"),
        }
    }

    fn rule_npm(&mut self, name: &str, rest: &[Arg], s: &[&str]) -> Outcome {
        use CommandClass::*;
        let _ = rest;
        let global = s
            .iter()
            .any(|a| matches!(*a, "-g" | "--global" | "global" | "--location=global"));
        let sub = s
            .iter()
            .find(|a| !a.starts_with('-') && **a != "global")
            .copied()
            .unwrap_or("install");
        match sub {
            "install" | "i" | "add" | "ci" | "isntall" | "update" | "up" | "upgrade" => {
                if global {
                    return Outcome::new(
                        Installer,
                        format!("{name} installs packages globally (one-click install)"),
                    );
                }
                if let Some(r) = s.iter().find(|a| {
                    a.contains("://")
                        || a.starts_with("github:")
                        || a.starts_with("git+")
                        || a.ends_with(".tgz")
                        || a.ends_with(".tar.gz")
                        || a.starts_with("--registry")
                }) {
                    return Outcome::new(
                        Installer,
                        format!("{name} installs from `{r}` (URL, archive or other registry)"),
                    );
                }
                Outcome::new(Network, format!("{name} downloads project dependencies (install scripts run in the sandbox)"))
            }
            "exec" | "x" | "dlx" | "create" | "init" if sub != "init" || s.len() > 1 => {
                Outcome::new(
                    Installer,
                    format!("{name} {sub} downloads and runs a package (one-click install)"),
                )
            }
            "run" | "run-script" | "test" | "t" | "start" | "build" | "lint" | "rebuild"
            | "stop" | "restart" | "pack" | "prune" | "dedupe" | "init" => {
                Outcome::new(WorkspaceWrite, format!("{name} runs project scripts"))
            }
            "publish" | "login" | "adduser" | "logout" | "token" | "owner" | "access"
            | "deprecate" | "unpublish" => Outcome::new(
                Network,
                format!("{name} {sub} talks to the registry with your credentials"),
            ),
            "config" | "set" => {
                if s.iter().any(|a| *a == "get" || *a == "list" || *a == "ls") {
                    Outcome::new(ReadOnly, "reads npm configuration")
                } else {
                    Outcome::new(
                        ConfigTamper,
                        format!("{name} config changes registry settings (~/.npmrc)"),
                    )
                }
            }
            "ls" | "list" | "view" | "info" | "show" | "outdated" | "audit" | "why" | "explain"
            | "search" | "help" | "--version" | "-v" | "version" | "root" | "bin" | "prefix"
            | "doctor" => Outcome::new(ReadOnly, format!("{name} reads package information")),
            "link" | "uninstall" | "remove" | "rm" | "un" => {
                if global {
                    Outcome::new(Installer, format!("{name} changes global packages"))
                } else {
                    Outcome::new(
                        WorkspaceWrite,
                        format!("{name} changes project dependencies"),
                    )
                }
            }
            _ => {
                if name == "yarn" || name == "bun" || name == "pnpm" {
                    // `yarn foo` runs a package script.
                    Outcome::new(
                        WorkspaceWrite,
                        format!("{name} runs the project script `{sub}`"),
                    )
                } else {
                    Outcome::new(Unknown, format!("unrecognised {name} command `{sub}`"))
                }
            }
        }
    }

    fn rule_cargo(&mut self, s: &[&str]) -> Outcome {
        use CommandClass::*;
        let sub = s
            .iter()
            .find(|a| !a.starts_with('-') && !a.starts_with('+'))
            .copied()
            .unwrap_or("");
        match sub {
            "install" | "binstall" => Outcome::new(Installer, "cargo install builds and installs a program"),
            "uninstall" => Outcome::new(Installer, "cargo uninstall removes an installed program"),
            "publish" | "login" | "logout" | "owner" | "yank" | "search" => Outcome::new(Network, format!("cargo {sub} talks to the registry")),
            "fetch" | "update" | "add" | "generate-lockfile" | "vendor" => Outcome::new(Network, format!("cargo {sub} downloads dependencies")),
            "build" | "b" | "check" | "c" | "test" | "t" | "run" | "r" | "bench" | "doc" | "d" | "clippy" | "fmt" | "clean" | "new" | "init" | "remove" | "rm" | "fix" | "nextest" | "tree" | "metadata" | "pkgid" | "package" | "locate-project" | "verify-project" | "read-manifest" | "llvm-cov" | "tarpaulin" | "deny" | "audit" | "machete" | "expand" | "miri" => {
                Outcome::new(WorkspaceWrite, format!("cargo {sub} builds or inspects the project (build scripts run in the sandbox)"))
            }
            "" if s.iter().any(|a| *a == "--version" || *a == "-V" || *a == "--list") => Outcome::new(ReadOnly, "cargo prints information"),
            _ => Outcome::new(Unknown, format!("`cargo {sub}` is not a subcommand the kernel knows (it may be a plugin program)")),
        }
    }

    fn rule_curl(&mut self, rest: &[Arg], s: &[&str]) -> Outcome {
        use CommandClass::*;
        let mut o = Outcome::new(Network, "curl talks to the network");
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            match t {
                "-o" | "--output" => {
                    if let Some(f) = rest.get(i + 1) {
                        if f.text != "-" {
                            o.writes.push(f.clone());
                            self.downloaded = true;
                        }
                    }
                    i += 2;
                    continue;
                }
                "-O" | "--remote-name" | "--remote-name-all" | "-J" => {
                    self.downloaded = true;
                }
                "-K" | "--config" => {
                    o.reason.push_str("; reads options from a config file");
                }
                "--output-dir" => {
                    if let Some(f) = rest.get(i + 1) {
                        o.writes.push(f.clone());
                    }
                    i += 2;
                    continue;
                }
                _ => {
                    if let Some(f) = t
                        .strip_prefix("-o")
                        .filter(|f| !f.is_empty() && !t.starts_with("--"))
                    {
                        o.writes.push(Arg {
                            text: f.to_string(),
                            dynamic: a.dynamic,
                            glob: false,
                        });
                        self.downloaded = true;
                    }
                }
            }
            i += 1;
        }
        let _ = s;
        o
    }

    fn rule_wget(&mut self, rest: &[Arg], s: &[&str]) -> Outcome {
        let mut o = Outcome::new(CommandClass::Network, "wget downloads from the network");
        let mut to_stdout = false;
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "-O" || t == "--output-document" || t == "-P" || t == "--directory-prefix" {
                if let Some(f) = rest.get(i + 1) {
                    if f.text == "-" {
                        to_stdout = true;
                    } else {
                        o.writes.push(f.clone());
                    }
                }
                i += 2;
                continue;
            }
            if let Some(f) = t.strip_prefix("-O").filter(|f| !f.is_empty()) {
                if f == "-" {
                    to_stdout = true;
                } else {
                    o.writes.push(Arg {
                        text: f.to_string(),
                        dynamic: a.dynamic,
                        glob: false,
                    });
                }
            } else if let Some(f) = t.strip_prefix("--output-document=") {
                if f == "-" {
                    to_stdout = true;
                } else {
                    o.writes.push(Arg {
                        text: f.to_string(),
                        dynamic: a.dynamic,
                        glob: false,
                    });
                }
            }
            i += 1;
        }
        if s.contains(&"--spider") {
            to_stdout = true;
        }
        if !to_stdout {
            self.downloaded = true;
        }
        o
    }

    fn rule_tar(&mut self, rest: &[Arg], s: &[&str]) -> Outcome {
        use CommandClass::*;
        if s.iter().any(|a| {
            a.starts_with("--to-command")
                || a.starts_with("--checkpoint-action")
                || a.starts_with("--use-compress-program")
                || a.starts_with("--info-script")
                || a.starts_with("--new-volume-script")
                || *a == "-I"
                || *a == "-F"
        }) {
            return Outcome::new(InlineInterpreter, "tar option runs a command");
        }
        let first = s.first().copied().unwrap_or("");
        let mode_chars = if let Some(m) = first.strip_prefix('-') {
            m
        } else {
            first
        };
        let extract = s.iter().any(|a| matches!(*a, "-x" | "--extract" | "--get"))
            || (!first.starts_with("--") && mode_chars.contains('x'));
        let create = s.iter().any(|a| {
            matches!(
                *a,
                "-c" | "--create" | "-r" | "--append" | "-u" | "--update"
            )
        }) || (!first.starts_with("--")
            && (mode_chars.contains('c') || mode_chars.contains('r')));
        let mut o = Outcome::new(ReadOnly, "tar lists an archive");
        if extract {
            o = Outcome::new(WorkspaceWrite, "tar extracts an archive");
            let dir = rest.iter().enumerate().find_map(|(i, a)| {
                if a.text == "-C" || a.text == "--directory" {
                    rest.get(i + 1).cloned()
                } else {
                    a.text.strip_prefix("--directory=").map(|d| Arg {
                        text: d.into(),
                        dynamic: a.dynamic,
                        glob: false,
                    })
                }
            });
            o.writes.push(dir.unwrap_or_else(|| Arg::lit(".")));
        } else if create {
            o = Outcome::new(WorkspaceWrite, "tar creates an archive");
            let f = rest.iter().enumerate().find_map(|(i, a)| {
                if a.text == "-f"
                    || a.text == "--file"
                    || (a.text.starts_with('-')
                        && !a.text.starts_with("--")
                        && a.text.ends_with('f'))
                    || (i == 0 && !a.text.starts_with('-') && a.text.ends_with('f'))
                {
                    rest.get(i + 1).cloned()
                } else {
                    None
                }
            });
            if let Some(f) = f {
                if f.text != "-" {
                    o.writes.push(f);
                }
            }
        }
        o
    }

    fn rule_sed(&mut self, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let mut inplace = false;
        let mut scripts: Vec<Arg> = Vec::new();
        let mut files: Vec<Arg> = Vec::new();
        let mut i = 0;
        let mut has_e = false;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "-e" || t == "--expression" {
                if let Some(c) = rest.get(i + 1) {
                    scripts.push(c.clone());
                }
                has_e = true;
                i += 2;
                continue;
            }
            if t == "-f" || t == "--file" {
                return Outcome::new(Unknown, "sed runs a script file (content not analysed)");
            }
            if t.starts_with("-i")
                || t.starts_with("--in-place")
                || (t.starts_with('-') && !t.starts_with("--") && t.contains('i'))
            {
                inplace = true;
                i += 1;
                continue;
            }
            if t.starts_with('-') && t.len() > 1 {
                i += 1;
                continue;
            }
            if !has_e && scripts.is_empty() {
                scripts.push(a.clone());
            } else {
                files.push(a.clone());
            }
            i += 1;
        }
        for sc in &scripts {
            if sc.dynamic {
                return Outcome::new(Unknown, "sed script computed at run time");
            }
            if let Some(why) = sed_runs_or_writes(&sc.text) {
                return Outcome::new(InlineInterpreter, format!("sed script {why}"));
            }
        }
        if inplace {
            Outcome::new(WorkspaceWrite, "sed edits files in place").writes(files)
        } else {
            Outcome::new(ReadOnly, "sed filters text")
        }
    }

    fn rule_awk(&mut self, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let mut i = 0;
        let mut inplace = false;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "-f" || t.starts_with("--file") || t == "-E" {
                return Outcome::new(Unknown, "awk runs a program file (content not analysed)");
            }
            if t == "-v" || t == "-F" || t == "--assign" || t == "--field-separator" {
                i += 2;
                continue;
            }
            if t == "-i" {
                if rest.get(i + 1).is_some_and(|x| x.text == "inplace") {
                    inplace = true;
                }
                i += 2;
                continue;
            }
            if t.starts_with('-') && t.len() > 1 {
                i += 1;
                continue;
            }
            break;
        }
        let Some(prog) = rest.get(i) else {
            return Outcome::new(Unknown, "awk without a program");
        };
        if prog.dynamic {
            return Outcome::new(Unknown, "awk program computed at run time");
        }
        let p = &prog.text;
        if p.contains("system")
            || p.contains("| getline")
            || p.contains("|getline")
            || p.contains("print |")
            || p.contains("print|")
            || p.contains("printf |")
            || p.contains("/inet/")
        {
            let mut o = Outcome::new(
                InlineInterpreter,
                "awk program runs commands or opens network connections",
            );
            o.code.extend(shell_strings_in_calls(p));
            return o;
        }
        if inplace {
            return Outcome::new(WorkspaceWrite, "awk edits files in place")
                .writes(rest.get(i + 1..).map(|r| r.to_vec()).unwrap_or_default());
        }
        let writes_file = p.match_indices("print").any(|(i, _)| {
            let after = &p[i..];
            let stmt_end = after.find([';', '}', '\n']).unwrap_or(after.len());
            after[..stmt_end].find('>').is_some_and(|j| {
                let target = after[j + 1..stmt_end].trim_start_matches(['>', ' ']);
                target.starts_with(|ch: char| ch == '"' || ch.is_ascii_alphabetic())
            })
        });
        if writes_file {
            return Outcome::new(Unknown, "awk program may write files");
        }
        Outcome::new(ReadOnly, "awk filters text")
    }

    fn rule_find(&mut self, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let mut o = Outcome::new(ReadOnly, "find searches files");
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            match t {
                "-delete" => {
                    o.class = Some(o.class.unwrap_or(ReadOnly).max(Destructive));
                    o.reason = "find -delete removes every file it matches".into();
                }
                "-exec" | "-execdir" | "-ok" | "-okdir" => {
                    let mut inner = Vec::new();
                    let mut j = i + 1;
                    while let Some(b) = rest.get(j) {
                        if b.text == ";" || b.text == "+" {
                            break;
                        }
                        if b.text == "{}" {
                            inner.push(dyn_arg("{} (each match)"));
                        } else {
                            inner.push(b.clone());
                        }
                        j += 1;
                    }
                    if !inner.is_empty() {
                        o.argvs.push(inner);
                        o.argv_from_input = true;
                        o.reason = format!(
                            "find {t} runs a command on every match (classified separately)"
                        );
                    }
                    i = j;
                }
                "-fprint" | "-fprint0" | "-fprintf" | "-fls" => {
                    if let Some(f) = rest.get(i + 1) {
                        o.writes.push(f.clone());
                    }
                    i += 1;
                }
                _ => {}
            }
            i += 1;
        }
        o
    }

    fn rule_xargs(&mut self, rest: &[Arg]) -> Outcome {
        let takes_value = [
            "-d",
            "-E",
            "-e",
            "-I",
            "-i",
            "-L",
            "-l",
            "-n",
            "-P",
            "-s",
            "-a",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--arg-file",
            "--replace",
            "--max-lines",
            "--max-chars",
            "--eof",
            "--process-slot-var",
        ];
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            if t == "--" {
                i += 1;
                break;
            }
            if t.starts_with('-') && t.len() > 1 {
                i += if takes_value.contains(&t) { 2 } else { 1 };
                continue;
            }
            break;
        }
        let mut inner: Vec<Arg> = rest.get(i..).map(|r| r.to_vec()).unwrap_or_default();
        if inner.is_empty() {
            inner.push(Arg::lit("echo"));
        }
        inner.push(dyn_arg("items from input"));
        let mut o = Outcome::new(
            CommandClass::ReadOnly,
            "xargs runs a command on items from its input (classified separately)",
        );
        o.argvs.push(inner);
        o.argv_from_input = true;
        o
    }

    fn rule_git(&mut self, rest: &[Arg]) -> Outcome {
        use CommandClass::*;
        let mut i = 0;
        let mut danger_cfg: Option<String> = None;
        while let Some(a) = rest.get(i) {
            let t = a.s();
            match t {
                "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--super-prefix" => {
                    i += 2;
                    continue;
                }
                "-c" => {
                    if let Some(kv) = rest.get(i + 1) {
                        if let Some(k) = git_dangerous_key(&kv.text) {
                            danger_cfg = Some(k);
                        }
                    }
                    i += 2;
                    continue;
                }
                _ if t.starts_with("--exec-path=") || t.starts_with("--config-env") => {
                    danger_cfg = Some(t.to_string());
                }
                _ if t.starts_with('-') => {}
                _ => break,
            }
            i += 1;
        }
        if let Some(k) = danger_cfg {
            return Outcome::new(
                InlineInterpreter,
                format!("git setting `{k}` makes git run a command"),
            );
        }
        let sub = rest.get(i).map(|a| a.text.clone()).unwrap_or_default();
        let args: Vec<&str> = rest
            .get(i + 1..)
            .unwrap_or(&[])
            .iter()
            .map(|a| a.s())
            .collect();
        let has = |f: &str| args.contains(&f);
        let cluster = |c: char| {
            args.iter()
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(c))
        };
        match sub.as_str() {
            "status" | "log" | "diff" | "show" | "blame" | "grep" | "ls-files" | "ls-tree" | "rev-parse"
            | "rev-list" | "describe" | "shortlog" | "cat-file" | "whatchanged" | "version" | "help"
            | "count-objects" | "check-ignore" | "merge-base" | "name-rev" | "for-each-ref"
            | "show-ref" | "var" | "cherry" | "range-diff" | "annotate" | "verify-commit" | "verify-tag" | "fsck" | "" => {
                Outcome::new(ReadOnly, format!("git {sub} only reads the repository"))
            }
            "reflog" => {
                if has("expire") || has("delete") {
                    Outcome::new(Destructive, "git reflog expire/delete removes recovery points")
                } else {
                    Outcome::new(ReadOnly, "git reflog reads history")
                }
            }
            "config" => {
                let reads = args.iter().any(|a| matches!(*a, "--get" | "--get-all" | "--list" | "-l" | "--get-regexp" | "--show-origin")) || args.iter().filter(|a| !a.starts_with('-')).count() <= 1;
                if reads {
                    return Outcome::new(ReadOnly, "git config reads settings");
                }
                if let Some(k) = args.iter().find(|a| !a.starts_with('-')).and_then(|k| git_dangerous_key(&format!("{k}="))) {
                    return Outcome::new(ConfigTamper, format!("git config `{k}` makes git run commands"));
                }
                if has("--global") || has("--system") {
                    return Outcome::new(ConfigTamper, "git config --global/--system changes configuration outside the workspace");
                }
                Outcome::new(WorkspaceWrite, "git config changes repository settings")
            }
            "push" => {
                let force = args.iter().any(|a| matches!(*a, "--force" | "-f" | "--mirror" | "--delete" | "-d" | "--prune") || a.starts_with("--force-with-lease") || a.starts_with("--force-if-includes") || (a.starts_with('+') && a.len() > 1) || (a.starts_with(':') && a.len() > 1))
                    || cluster('f');
                if force {
                    Outcome::new(Destructive, "git push --force/--delete rewrites or deletes remote history")
                } else {
                    Outcome::new(Network, "git push uploads commits")
                }
            }
            "reset" => {
                if has("--hard") || has("--merge") || has("--keep") {
                    Outcome::new(Destructive, "git reset --hard discards uncommitted work")
                } else {
                    Outcome::new(WorkspaceWrite, "git reset moves the branch or unstages")
                }
            }
            "clean" => {
                if has("-n") || has("--dry-run") {
                    Outcome::new(ReadOnly, "git clean --dry-run lists files")
                } else if cluster('f') || has("--force") {
                    Outcome::new(Destructive, "git clean -f deletes untracked files")
                } else {
                    Outcome::new(WorkspaceWrite, "git clean (refuses without -f)")
                }
            }
            "checkout" | "restore" | "switch" => {
                let discard = has("-f") || has("--force") || has(".") || has(":/") || (has("--") && sub == "checkout") || (sub == "restore" && !has("--staged") && !has("-S"));
                if discard && sub != "switch" {
                    Outcome::new(Destructive, format!("git {sub} discards uncommitted changes"))
                } else {
                    Outcome::new(WorkspaceWrite, format!("git {sub} changes the working tree"))
                }
            }
            "branch" => {
                if has("-D") || (has("-d") && has("--force")) || has("--delete") && has("--force") || cluster('D') {
                    Outcome::new(Destructive, "git branch -D deletes an unmerged branch")
                } else if args.is_empty() || args.iter().all(|a| matches!(*a, "-a" | "-r" | "-v" | "-vv" | "--list" | "--show-current" | "--all" | "--remotes" | "--merged" | "--no-merged" | "--contains")) {
                    Outcome::new(ReadOnly, "git branch lists branches")
                } else {
                    Outcome::new(WorkspaceWrite, "git branch changes branches")
                }
            }
            "stash" => match args.first() {
                Some(&"drop") | Some(&"clear") => Outcome::new(Destructive, "git stash drop/clear deletes saved work"),
                Some(&"list") | Some(&"show") => Outcome::new(ReadOnly, "git stash lists saved work"),
                _ => Outcome::new(WorkspaceWrite, "git stash saves or restores work"),
            },
            "filter-branch" | "filter-repo" | "replace" | "update-ref" | "prune" | "gc" => {
                if sub == "gc" && !args.iter().any(|a| a.starts_with("--prune")) {
                    Outcome::new(WorkspaceWrite, "git gc compacts the repository")
                } else {
                    Outcome::new(Destructive, format!("git {sub} rewrites or removes history"))
                }
            }
            "clone" | "fetch" | "pull" | "ls-remote" | "submodule" | "remote" | "request-pull" | "send-email" | "archive" => {
                if sub == "remote" && (args.is_empty() || args.iter().all(|a| *a == "-v" || *a == "show" || *a == "get-url")) {
                    return Outcome::new(ReadOnly, "git remote lists remotes");
                }
                if sub == "remote" {
                    return Outcome::new(WorkspaceWrite, "git remote changes remotes");
                }
                if sub == "archive" && !args.iter().any(|a| a.starts_with("--remote")) {
                    return Outcome::new(WorkspaceWrite, "git archive writes an archive");
                }
                if args.iter().any(|a| a.starts_with("--upload-pack") || a.starts_with("--receive-pack") || a.starts_with("-u") && sub == "clone" || a.contains("ext::")) {
                    return Outcome::new(InlineInterpreter, format!("git {sub} option runs a command"));
                }
                if sub == "clone" || sub == "pull" || sub == "submodule" {
                    self.downloaded = true;
                }
                Outcome::new(Network, format!("git {sub} talks to a remote repository"))
            }
            "add" | "commit" | "mv" | "rm" | "merge" | "rebase" | "cherry-pick" | "revert" | "am"
            | "apply" | "init" | "worktree" | "notes" | "bisect" | "tag" | "format-patch" | "stage"
            | "sparse-checkout" | "lfs" | "mergetool" | "difftool" | "citool" | "maintenance" => {
                if matches!(sub.as_str(), "mergetool" | "difftool") {
                    return Outcome::new(Unknown, format!("git {sub} runs an external tool"));
                }
                if sub == "rebase" && args.iter().any(|a| *a == "-x" || a.starts_with("--exec")) {
                    return Outcome::new(InlineInterpreter, "git rebase --exec runs a command per commit");
                }
                Outcome::new(WorkspaceWrite, format!("git {sub} changes the repository"))
            }
            "hook" => Outcome::new(Unknown, "git hook runs repository hooks"),
            other => Outcome::new(Unknown, format!("`git {other}` is not a git command the kernel knows (it may be an alias or plugin)")),
        }
    }

    /// Scans code in another language for dangerous operations; shell commands found in string
    /// literals passed to `system(…)`-like calls are classified as nested shell code.
    /// The segment carries the interpreter's argv (`parent_argv`) so that allow rules written
    /// for the command (`exec:python3 -c *`) cover the code scan too.
    fn scan_foreign(
        &mut self,
        lang: &'static str,
        code: &str,
        depth: usize,
        parent_argv: &[String],
    ) {
        use CommandClass::*;
        let lower = code.to_lowercase();
        let mut class = InlineInterpreter;
        let mut found: Vec<&str> = Vec::new();
        const DESTRUCTIVE: &[&str] = &[
            "rmtree",
            "os.remove",
            "os.unlink",
            "unlink(",
            ".unlink",
            "os.rmdir",
            "removedirs",
            "rm_rf",
            "rm_r(",
            "fileutils.rm",
            "rmsync",
            "fs.rm(",
            "fs.rmdir",
            "rimraf",
            "shred",
            "remove_tree",
            "file.delete",
            "deletesync",
            "rmdir(",
        ];
        const EXEC: &[&str] = &[
            "os.system",
            "subprocess",
            "popen",
            "os.exec",
            "os.spawn",
            "pty.spawn",
            "child_process",
            "execsync",
            "spawnsync",
            "exec(",
            "eval(",
            "system(",
            "qx",
            "__import__",
            "importlib",
            "compile(",
            "shell_exec",
            "passthru",
            "proc_open",
            "%x",
            "kernel.spawn",
            "io.popen",
            "open3",
            "runtime.getruntime",
        ];
        const NETWORK: &[&str] = &[
            "socket",
            "urllib",
            "requests",
            "http.client",
            "httpx",
            "aiohttp",
            "ftplib",
            "smtplib",
            "net/http",
            "open-uri",
            "lwp",
            "io::socket",
            "fetch(",
            "require('http",
            "require(\"http",
            "https.get",
            "http.get",
            "net.connect",
            "websocket",
            "paramiko",
            "curl",
            "wget",
            "file_get_contents('http",
            "file_get_contents(\"http",
            "urlopen",
        ];
        if let Some(t) = DESTRUCTIVE.iter().find(|t| lower.contains(*t)) {
            class = class.max(Destructive);
            found.push(t);
        }
        if let Some(t) = NETWORK.iter().find(|t| lower.contains(*t)) {
            found.push(t);
        }
        let exec = EXEC.iter().find(|t| lower.contains(*t));
        if let Some(t) = exec {
            found.push(t);
            if lower.contains("socket") || lower.contains("/dev/tcp") {
                // A raw socket plus process spawning/dup2 is the reverse-shell pattern.
                class = class.max(Privilege);
                found.push("socket + process (reverse-shell pattern)");
            }
        }
        let reason = if found.is_empty() {
            format!("{lang} code runs in an interpreter the kernel cannot fully analyse")
        } else {
            format!("{lang} code uses {}", found.join(", "))
        };
        let mut seg = Segment {
            text: truncate(code, 200),
            argv: parent_argv.to_vec(),
            class,
            reason,
            depth,
            touches_chela: false,
            scripts: Vec::new(),
        };
        // Paths mentioned in string literals.
        for lit in string_literals(code) {
            for cand in path_candidates(&lit) {
                let cand = if let Some(r) = cand.strip_prefix("~/") {
                    self.ctx.home.join(r).to_string_lossy().into_owned()
                } else {
                    cand.to_string()
                };
                if !cand.starts_with('/') {
                    continue;
                }
                let p = crate::paths::normalize(Path::new(&cand));
                if self.ctx.is_chela_path(&p) {
                    seg.touches_chela = true;
                    seg.class = seg.class.max(ConfigTamper);
                    seg.reason = format!("{lang} code touches Chela's own files ({})", p.display());
                } else if self.ctx.is_secret_path(&p) {
                    seg.class = seg.class.max(SecretAccess);
                    seg.reason = format!(
                        "{lang} code accesses credentials or private data ({})",
                        p.display()
                    );
                } else if matches!(self.ctx.write_kind(&p), WriteKind::StartupOrPersistence(_))
                    && (lower.contains("write")
                        || lower.contains(">>")
                        || lower.contains("append")
                        || lower.contains("'a'")
                        || lower.contains("\"a\"")
                        || lower.contains("'w'")
                        || lower.contains("\"w\""))
                {
                    seg.class = seg.class.max(ConfigTamper);
                    seg.reason = format!("{lang} code writes {}", p.display());
                }
            }
        }
        self.push(seg);
        // Shell commands inside system()/popen()/exec… string arguments.
        if exec.is_some() {
            for cmd in shell_strings_in_calls(code) {
                self.walk_code(&cmd, depth + 1, lang);
            }
        }
    }
}

/// The language name (static) for an interpreter program name.
fn lang_of(name: &str) -> &'static str {
    match name {
        "perl" => "perl",
        "ruby" | "irb" => "ruby",
        "node" | "nodejs" => "node",
        "php" => "php",
        "lua" | "luajit" => "lua",
        "Rscript" | "R" => "Rscript",
        "osascript" => "osascript",
        "pwsh" | "powershell" => "pwsh",
        "julia" => "julia",
        "deno" => "deno",
        "elixir" => "elixir",
        "erl" | "escript" => "erl",
        "tclsh" | "wish" => "tcl",
        _ => "code",
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn base_name(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn command_name_of(c: &Command) -> String {
    match c {
        Command::Simple(sc) => truncate(&sc.text, 80),
        Command::Subshell(..) => "( … )".into(),
        Command::Group(..) => "{ … }".into(),
        Command::Compound(cp) => cp.keyword.to_string(),
        Command::FunctionDef { name, .. } => format!("{name}()"),
    }
}

/// Strings inside an argument that may be paths: the argument, the part after `=`, after a
/// leading `@` (curl data files) and after `:` (rsync/scp `host:path` is remote, skipped).
fn path_candidates(a: &str) -> Vec<&str> {
    let mut v = Vec::new();
    if !a.contains('/') && !a.starts_with('.') {
        return v;
    }
    fn push<'a>(v: &mut Vec<&'a str>, s: &'a str) {
        let s = s.trim_matches(|c| c == '\'' || c == '"');
        if (s.starts_with('.') || s.contains('/'))
            && !s.contains("://")
            && !s.starts_with("<dynamic")
        {
            v.push(s);
        }
    }
    if a.starts_with('-') {
        if let Some((_, val)) = a.split_once('=') {
            push(&mut v, val);
        }
        // -o/path style
        if a.len() > 2 && !a.starts_with("--") {
            if let Some(rest) = a.get(2..) {
                push(&mut v, rest);
            }
        }
    } else {
        push(&mut v, a);
        if let Some(r) = a.strip_prefix('@') {
            push(&mut v, r);
        }
        if let Some((k, val)) = a.split_once('=') {
            if !k.contains('/') {
                push(&mut v, val);
            }
        }
    }
    v
}

/// Whether an environment variable name looks like it holds a credential.
fn secret_var_name(name: &str) -> bool {
    let u = name.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "PRIVATE",
        "MNEMONIC",
    ]
    .iter()
    .any(|s| u.contains(s))
        && !matches!(u.as_str(), "KEYMAP" | "KEYTIMEOUT")
        || u.starts_with("AWS_")
}

/// Git configuration keys that make git run commands.
fn git_dangerous_key(kv: &str) -> Option<String> {
    let key = kv.split('=').next().unwrap_or("").to_lowercase();
    let bad = key.starts_with("alias.")
        || key.starts_with("filter.")
        || key.starts_with("credential")
        || key.starts_with("url.")
        || key.starts_with("include")
        || key.ends_with(".textconv")
        || key.ends_with(".command")
        || key.ends_with(".cmd")
        || key.ends_with(".pager")
        || key.ends_with(".tool")
        || matches!(
            key.as_str(),
            "core.hookspath"
                | "core.fsmonitor"
                | "core.sshcommand"
                | "core.pager"
                | "core.editor"
                | "core.gitproxy"
                | "core.askpass"
                | "sequence.editor"
                | "diff.external"
                | "gpg.program"
                | "gpg.ssh.program"
                | "uploadpack.packobjectshook"
                | "http.proxy"
                | "protocol.ext.allow"
        );
    if bad {
        Some(key)
    } else {
        None
    }
}

/// Whether a sed script executes commands (`e`) or writes files (`w`).
fn sed_runs_or_writes(script: &str) -> Option<&'static str> {
    for cmd in script.split([';', '\n']) {
        let c = cmd.trim_start();
        // Strip an address: digits, $, /re/, commas.
        let mut rest = c;
        loop {
            let t = rest.trim_start_matches(|ch: char| {
                ch.is_ascii_digit() || ch == '$' || ch == ',' || ch == '!' || ch == ' ' || ch == '~'
            });
            if let Some(after) = t.strip_prefix('/') {
                match after.find('/') {
                    Some(i) => rest = &after[i + 1..],
                    None => return None,
                }
                continue;
            }
            rest = t;
            break;
        }
        let mut chars = rest.chars();
        match chars.next() {
            Some('e') => return Some("executes a command (e)"),
            Some('w') | Some('W') => return Some("writes to a file (w)"),
            Some('s') => {
                let Some(delim) = chars.next() else { continue };
                let body: String = chars.collect();
                let parts: Vec<&str> = body.split(delim).collect();
                if parts.len() >= 3 {
                    let flags = parts[parts.len() - 1];
                    if flags.contains('e') {
                        return Some("executes the substitution result (s///e)");
                    }
                    if flags.contains('w') {
                        return Some("writes to a file (s///w)");
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Quoted string literals in code (single or double quotes).
fn string_literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' || c == '`' {
            let mut s = String::new();
            let mut closed = false;
            while let Some(d) = chars.next() {
                if d == '\\' {
                    if let Some(e) = chars.next() {
                        s.push(e);
                    }
                    continue;
                }
                if d == c {
                    closed = true;
                    break;
                }
                s.push(d);
            }
            if closed {
                out.push(s);
            }
        }
    }
    out
}

/// String literals passed to `system(`, `popen(`, `run(`, `call(`, `check_output(`, `exec(`,
/// `execSync(`, `spawn(`, backticks: likely shell commands.
fn shell_strings_in_calls(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let calls = [
        "system(",
        "popen(",
        "run(",
        "call(",
        "check_output(",
        "check_call(",
        "execsync(",
        "exec(",
        "spawnsync(",
        "shell_exec(",
        "passthru(",
        "getoutput(",
        "getstatusoutput(",
    ];
    let lower = code.to_lowercase();
    for call in calls {
        let mut from = 0;
        while let Some(i) = lower.get(from..).and_then(|s| s.find(call)) {
            let start = from + i + call.len();
            from = start;
            let rest = code.get(start..).unwrap_or("").trim_start();
            let rest = rest.trim_start_matches('[');
            if let Some(lit) = string_literals(rest).into_iter().next() {
                // Only the literal right at the start of the argument list.
                let first = rest.chars().next();
                if matches!(first, Some('\'') | Some('"') | Some('`')) {
                    out.push(lit);
                }
            }
        }
    }
    // Perl/Ruby backticks.
    if code.contains('`') {
        let mut parts = code.split('`');
        parts.next();
        while let (Some(inner), _) = (parts.next(), parts.next()) {
            out.push(inner.to_string());
        }
    }
    out.truncate(16);
    out
}

/// Bash brace expansion over characters that carry their quoting.
fn brace_expand(chars: &[(char, bool)], out: &mut Vec<String>, depth: usize) {
    if depth > 8 || out.len() > 256 {
        out.push(chars.iter().map(|c| c.0).collect());
        return;
    }
    // Find an unquoted `{` with a matching `}` and a top-level comma.
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ('{', false) {
            let mut d = 0;
            let mut commas = Vec::new();
            let mut end = None;
            for (j, &(c, q)) in chars.iter().enumerate().skip(i) {
                if q {
                    continue;
                }
                match c {
                    '{' => d += 1,
                    '}' => {
                        d -= 1;
                        if d == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    ',' if d == 1 => commas.push(j),
                    _ => {}
                }
            }
            if let (Some(e), false) = (end, commas.is_empty()) {
                let prefix = &chars[..i];
                let suffix = &chars[e + 1..];
                let mut bounds = vec![i];
                bounds.extend(commas.iter().copied());
                bounds.push(e);
                for w in bounds.windows(2) {
                    let alt = &chars[w[0] + 1..w[1]];
                    let mut v: Vec<(char, bool)> = prefix.to_vec();
                    v.extend_from_slice(alt);
                    v.extend_from_slice(suffix);
                    brace_expand(&v, out, depth + 1);
                }
                return;
            }
        }
        i += 1;
    }
    out.push(chars.iter().map(|c| c.0).collect());
}

/// Decodes standard or URL-safe base64, ignoring whitespace. `None` when invalid.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut buf = 0u32;
    let mut bits = 0u32;
    let mut out = Vec::new();
    for c in s.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            '=' => break,
            c if c.is_whitespace() => continue,
            _ => return None,
        };
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CommandContext {
        CommandContext::new("/home/u/proj", "/home/u", "/home/u/.chela")
    }

    #[test]
    fn base64_roundtrip() {
        assert_eq!(
            base64_decode("cm0gLXJmIC8=").as_deref(),
            Some(&b"rm -rf /"[..])
        );
        assert_eq!(base64_decode("!!"), None);
    }

    #[test]
    fn brace_expansion() {
        let chars: Vec<(char, bool)> = "{rm,-rf,/}".chars().map(|c| (c, false)).collect();
        let mut out = Vec::new();
        brace_expand(&chars, &mut out, 0);
        assert_eq!(out, vec!["rm", "-rf", "/"]);
    }

    #[test]
    fn ifs_trick_resolves() {
        let c = classify("IFS=,;cmd=rm,-rf,/;$cmd", &ctx());
        assert_eq!(c.overall, CommandClass::Destructive, "{c:#?}");
    }

    #[test]
    fn sed_e_flag() {
        assert!(sed_runs_or_writes("s/x/id/e").is_some());
        assert!(sed_runs_or_writes("1e rm -rf /").is_some());
        assert!(sed_runs_or_writes("s/a/b/g").is_none());
        assert!(sed_runs_or_writes("/foo/d").is_none());
    }
}
