//! Replays the parse events: decides what is hidden (tags, attributes, inline style, the
//! page's style sheets) and writes the rest as light Markdown.

use std::collections::HashMap;
use std::rc::Rc;

use super::css::{self, Comb, ElemView, Selector};
use super::tree::{El, Ev, Ns, Parsed};

/// Elements never shown, with everything inside them.
fn is_hidden_tags(n: &str) -> bool {
    matches!(
        n,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "iframe"
            | "object"
            | "embed"
            | "head"
            | "svg"
            | "canvas"
            | "select"
            | "button"
            | "title"
            | "datalist"
            | "noembed"
            | "noframes"
            | "rp"
            | "area"
            | "base"
            | "link"
            | "meta"
            | "param"
            | "frameset"
            | "frame"
            | "source"
            | "track"
            | "audio"
            | "video"
            | "map"
            | "applet"
            | "progress"
            | "meter"
    )
}

/// Work allowed for style matching, in selector-part checks; beyond it the rest of the page
/// is dropped (fail closed).
const MATCH_BUDGET: u64 = 100_000_000;

/// Longest line prefix (list indentation, quote marks); deeper nesting is not indented more.
const MAX_PREFIX: usize = 40;

/// One node of the selector trie: a compound, reached from its parent node through the
/// parent's combinator. Selectors sharing a prefix share nodes.
struct Node {
    comp: css::Compound,
    /// How this node's matches propagate: `None` ends a selector (the element is hidden).
    comb: Option<Comb>,
    /// Next nodes by the index key of their compound.
    children: HashMap<String, Vec<u32>>,
}

/// Style matching: the hiding selectors as a trie, and the trie nodes matched by open
/// elements ("states"). For an element, only the children of live states stored under one
/// of the element's keys (id, classes, tag, `*`) are examined.
struct Css {
    nodes: Vec<Node>,
    /// Live descendant-combinator states, in push order (for truncation).
    desc: Vec<u32>,
    active: Vec<bool>,
    /// Child-combinator states of the open elements (ranges per element).
    child: Vec<u32>,
    budget: u64,
}

/// Index key of a compound: its first id, else first class, else tag, else `*`.
fn key_of(c: &css::Compound) -> String {
    if let Some(id) = c.ids.first() {
        format!("#{id}")
    } else if let Some(cl) = c.classes.first() {
        format!(".{cl}")
    } else if let Some(t) = &c.tag {
        t.clone()
    } else {
        "*".to_string()
    }
}

/// The keys an element can be found under.
fn keys_of(e: &ElemView<'_>) -> Vec<String> {
    let mut k = Vec::with_capacity(e.classes.len() + 3);
    if let Some(id) = &e.id {
        k.push(format!("#{id}"));
    }
    k.extend(e.classes.iter().map(|c| format!(".{c}")));
    k.push(e.name.to_string());
    k.push("*".to_string());
    k.sort_unstable();
    k.dedup();
    k
}

const ROOT: u32 = 0;

impl Css {
    fn new(sels: Vec<Selector>) -> Css {
        let mut nodes = vec![Node {
            comp: css::Compound::default(),
            comb: Some(Comb::Descendant),
            children: HashMap::new(),
        }];
        let mut ids: HashMap<(u32, String, Option<Comb>), u32> = HashMap::new();
        for sel in sels {
            let last = sel.parts.len().saturating_sub(1);
            let mut at = ROOT;
            for (j, (comp, comb)) in sel.parts.into_iter().enumerate() {
                let comb = (j < last).then_some(comb);
                let id_key = (at, format!("{comp:?}"), comb);
                let next = match ids.get(&id_key) {
                    Some(&n) => n,
                    None => {
                        let n = nodes.len() as u32;
                        let key = key_of(&comp);
                        nodes.push(Node {
                            comp,
                            comb,
                            children: HashMap::new(),
                        });
                        nodes[at as usize].children.entry(key).or_default().push(n);
                        ids.insert(id_key, n);
                        n
                    }
                };
                at = next;
            }
        }
        let n = nodes.len();
        Css {
            nodes,
            desc: Vec::new(),
            active: vec![false; n],
            child: Vec::new(),
            budget: MATCH_BUDGET,
        }
    }

    fn push_desc(&mut self, st: u32) {
        if let Some(a) = self.active.get_mut(st as usize) {
            if !*a {
                *a = true;
                self.desc.push(st);
            }
        }
    }

    /// Matches `e` (whose parent's child-combinator states are `parent_child`); records the
    /// states it opens for its descendants and returns whether a hiding rule matches it.
    /// `None` when the work budget is spent.
    fn visit(&mut self, e: &ElemView<'_>, parent_child: (usize, usize)) -> Option<bool> {
        if self.nodes.len() == 1 {
            return Some(false);
        }
        let keys = keys_of(e);
        let live: Vec<u32> = std::iter::once(ROOT)
            .chain(self.desc.iter().copied())
            .chain(self.child[parent_child.0..parent_child.1].iter().copied())
            .collect();
        let lookups = (live.len() as u64).saturating_mul(keys.len() as u64);
        self.budget = self.budget.checked_sub(lookups)?;
        let mut matched: Vec<u32> = Vec::new();
        let mut examined = 0u64;
        for &st in &live {
            let children = &self.nodes[st as usize].children;
            if children.is_empty() {
                continue;
            }
            for key in &keys {
                if let Some(list) = children.get(key) {
                    examined += list.len() as u64;
                    for &m in list {
                        if self.nodes[m as usize].comp.matches(e) {
                            matched.push(m);
                        }
                    }
                }
            }
        }
        let cost = examined.saturating_mul(1 + e.attrs.len() as u64 / 8);
        self.budget = self.budget.checked_sub(cost)?;
        let mut hidden = false;
        for m in matched {
            match self.nodes[m as usize].comb {
                None => hidden = true,
                Some(Comb::Descendant) => self.push_desc(m),
                Some(Comb::Child) => self.child.push(m),
            }
        }
        Some(hidden)
    }

    /// Turns the child-combinator states recorded from `from` on into descendant states.
    fn promote_children(&mut self, from: usize) {
        let moved: Vec<u32> = self.child.drain(from.min(self.child.len())..).collect();
        for st in moved {
            self.push_desc(st);
        }
    }

    fn truncate(&mut self, desc_len: usize, child_len: usize) {
        while self.desc.len() > desc_len {
            let Some(st) = self.desc.pop() else {
                break;
            };
            if let Some(a) = self.active.get_mut(st as usize) {
                *a = false;
            }
        }
        self.child.truncate(child_len);
    }
}

fn view(el: &El) -> ElemView<'_> {
    ElemView {
        name: &el.name,
        id: el.attr("id").map(str::to_lowercase),
        classes: el
            .attr("class")
            .map(|c| c.split_ascii_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default(),
        attrs: &el.attrs,
    }
}

/// Hidden by its tag or attributes (not style sheets).
fn hidden_by_markup(el: &El, vars: &css::Vars) -> bool {
    if el.ns == Ns::Html && is_hidden_tags(el.name.as_str()) || el.name == "svg" {
        return true;
    }
    if el.name == "dialog" && el.attr("open").is_none() || el.is_shadow_host() {
        return true;
    }
    if el.ns == Ns::Math && el.name == "mphantom" {
        // Takes room, draws nothing.
        return true;
    }
    el.attrs.iter().any(|(k, v)| match k.as_str() {
        "hidden" | "popover" => true,
        "aria-hidden" => v.trim().eq_ignore_ascii_case("true"),
        "style" => css::declarations_hide_with(v, vars),
        "type" => el.name == "input" && v.trim().eq_ignore_ascii_case("hidden"),
        _ => false,
    })
}

/// True for a MathML element that draws neither text nor HTML children: MathML draws those
/// only inside its token elements.
fn math_hides_content(el: &El) -> bool {
    el.ns == Ns::Math && !matches!(el.name.as_str(), "mi" | "mo" | "mn" | "ms" | "mtext")
}

/// An HTML element placed directly in a MathML element that is not a token element.
/// Whether `el` is hidden: by an ancestor (`blocked`), MathML display rules, its own markup or
/// the page's style rules. `None` when the style-matching budget is spent (stop rendering).
fn element_hidden(
    blocked: bool,
    stack: &mut [Frame],
    el: &El,
    vars: &css::Vars,
    css: &mut Css,
) -> Option<bool> {
    if blocked || later_math_child(stack) || html_in_math(stack, el) || hidden_by_markup(el, vars) {
        return Some(true);
    }
    let parent = stack.last().map_or((0, 0), |f| f.child);
    css.visit(&view(el), parent)
}

fn html_in_math(stack: &[Frame], el: &El) -> bool {
    el.ns == Ns::Html && stack.last().is_some_and(|f| math_hides_content(&f.el))
}

/// Counts a new element child of the current element; true when that is a MathML
/// `semantics` or `maction` and the child is not its first (only the first is drawn).
fn later_math_child(stack: &mut [Frame]) -> bool {
    let Some(parent) = stack.last_mut() else {
        return false;
    };
    parent.kids = parent.kids.saturating_add(1);
    parent.kids > 1
        && parent.el.ns == Ns::Math
        && matches!(parent.el.name.as_str(), "semantics" | "maction")
}

struct Frame {
    el: Rc<El>,
    hidden: bool,
    /// Set when a hiding element could not be pushed (stack full): the rest is not shown.
    mute: bool,
    desc_len: usize,
    child: (usize, usize),
    indent: usize,
    /// Element children seen so far (MathML `semantics`/`maction` show only the first).
    kids: u32,
}

/// Output with CSS-like whitespace collapsing and block breaks.
struct Out {
    s: String,
    pending_break: u8,
    pending_space: bool,
    at_line_start: bool,
    prefix: String,
    marker: String,
    marker_cut: usize,
    pre: u32,
    cell: u32,
    items: u32,
    link: Option<(String, bool)>,
    link_depth: usize,
    lists: Vec<(bool, u64)>,
    row_cells: u32,
}

impl Out {
    fn block(&mut self, n: u8) {
        if self.cell > 0 && self.pre == 0 {
            self.pending_space = true;
            return;
        }
        let n = if self.items > 0 { n.min(1) } else { n };
        self.pending_break = self.pending_break.max(n);
    }

    fn newline(&mut self) {
        self.s.push('\n');
        self.s.push_str(&self.prefix);
        self.at_line_start = true;
    }

    /// Starts pending breaks, the list/heading marker and a collapsed space.
    fn flush(&mut self, space: bool) {
        if self.s.is_empty() {
            self.s.push_str(&self.prefix);
            self.at_line_start = true;
            self.pending_break = 0;
        }
        if self.pending_break > 0 {
            for _ in 0..self.pending_break {
                self.newline();
            }
            self.pending_break = 0;
            self.pending_space = false;
        }
        if !self.marker.is_empty() {
            if !self.at_line_start && !self.s.is_empty() {
                self.newline();
            }
            let keep = self.s.len().saturating_sub(self.marker_cut);
            if self.at_line_start
                && self.s.ends_with(&self.prefix)
                && self.prefix.len() >= self.marker_cut
                && self.s.is_char_boundary(keep)
            {
                self.s.truncate(keep);
            }
            let m = std::mem::take(&mut self.marker);
            self.s.push_str(&m);
            self.at_line_start = false;
            self.pending_space = false;
        }
        if space && self.pending_space && !self.at_line_start && !self.s.ends_with(' ') {
            self.s.push(' ');
        }
        self.pending_space = false;
        if let Some((_, opened)) = &mut self.link {
            if !*opened {
                *opened = true;
                self.s.push('[');
            }
        }
        self.at_line_start = false;
    }

    fn text(&mut self, t: &str) {
        for c in t.chars() {
            if crate::fetch::is_invisible(c) {
                continue;
            }
            if self.pre > 0 {
                if c == '\n' {
                    self.flush(false);
                    self.newline();
                } else {
                    self.flush(false);
                    self.s.push(c);
                }
                continue;
            }
            if matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r') {
                self.pending_space = true;
                continue;
            }
            self.flush(true);
            self.s.push(if c == '\u{A0}' { ' ' } else { c });
        }
    }

    fn literal(&mut self, t: &str) {
        self.flush(false);
        self.s.push_str(t);
    }

    fn set_marker(&mut self, m: String, cut: usize) {
        self.marker = m;
        self.marker_cut = cut;
    }
}

fn safe_href(href: &str) -> Option<String> {
    let h: String = href
        .trim()
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if h.is_empty() {
        return None;
    }
    let scheme_end = h.find([':', '/', '?', '#']);
    if let Some(i) = scheme_end {
        if h[i..].starts_with(':') {
            let scheme = h[..i].to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return None;
            }
        }
    }
    Some(
        h.replace(' ', "%20")
            .replace('(', "%28")
            .replace(')', "%29"),
    )
}

fn open_actions(out: &mut Out, el: &El, indent: &mut usize) {
    let n = el.name.as_str();
    if el.ns == Ns::Math && n != "math" {
        // MathML tokens are separate boxes: not glued to their neighbours.
        out.pending_space = true;
    }
    match n {
        "p" | "div" | "section" | "article" | "aside" | "header" | "footer" | "main" | "nav"
        | "address" | "figure" | "figcaption" | "form" | "fieldset" | "details" | "summary"
        | "dialog" | "center" | "dl" | "hgroup" | "search" | "legend" | "caption" | "table"
        | "textarea" | "math" => out.block(2),
        "dt" | "dd" | "tr" | "option" => out.block(1),
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            out.block(2);
            let level = (n.as_bytes()[1] - b'0') as usize;
            out.set_marker(format!("{} ", "#".repeat(level)), 0);
        }
        "ul" | "ol" | "menu" | "dir" => {
            out.block(if out.lists.is_empty() { 2 } else { 1 });
            let start = el
                .attr("start")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(1);
            out.lists.push((n == "ol", start));
        }
        "li" => {
            out.block(1);
            let bullet = match out.lists.last_mut() {
                Some((true, k)) => {
                    let b = format!("{k}. ");
                    *k = k.saturating_add(1);
                    b
                }
                _ => "- ".to_string(),
            };
            out.items += 1;
            let cut = if out.prefix.len() < MAX_PREFIX {
                out.prefix.push_str("  ");
                *indent = 2;
                2
            } else {
                0
            };
            out.set_marker(bullet, cut);
        }
        "blockquote" => {
            out.block(2);
            if out.prefix.len() < MAX_PREFIX {
                out.prefix.push_str("> ");
                *indent = 2;
            }
        }
        "pre" | "listing" | "xmp" | "plaintext" => {
            out.block(2);
            // Inside a table cell the break is a space: keep it.
            out.flush(true);
            out.pre += 1;
        }
        "td" | "th" => {
            if out.row_cells > 0 && out.cell == 0 {
                out.literal(" | ");
            } else {
                // A cell of a table nested in a cell: at least a space between cells.
                out.pending_space = true;
            }
            out.row_cells += 1;
            out.cell += 1;
        }
        "a" => {
            if out.link.is_none() && out.link_depth == 0 {
                out.link = el.attr("href").and_then(safe_href).map(|h| (h, false));
            }
            out.link_depth += 1;
        }
        _ => {}
    }
    if n == "tr" {
        out.row_cells = 0;
    }
}

fn close_actions(out: &mut Out, el: &El, indent: usize) {
    let n = el.name.as_str();
    if el.ns == Ns::Math && n != "math" {
        out.pending_space = true;
    }
    out.prefix.truncate(out.prefix.len().saturating_sub(indent));
    match n {
        "p" | "div" | "section" | "article" | "aside" | "header" | "footer" | "main" | "nav"
        | "address" | "figure" | "figcaption" | "form" | "fieldset" | "details" | "summary"
        | "dialog" | "center" | "dl" | "hgroup" | "search" | "legend" | "caption" | "table"
        | "textarea" | "blockquote" | "math" => out.block(2),
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            out.marker.clear();
            out.block(2);
        }
        "dt" | "dd" | "tr" | "option" => out.block(1),
        "ul" | "ol" | "menu" | "dir" => {
            out.lists.pop();
            out.block(if out.lists.is_empty() { 2 } else { 1 });
        }
        "li" => {
            out.items = out.items.saturating_sub(1);
            out.marker.clear();
            out.block(1);
        }
        "pre" | "listing" | "xmp" | "plaintext" => {
            out.pre = out.pre.saturating_sub(1);
            out.block(2);
        }
        "td" | "th" => {
            out.cell = out.cell.saturating_sub(1);
            out.pending_space = true;
        }
        "a" => {
            out.link_depth = out.link_depth.saturating_sub(1);
            if out.link_depth == 0 {
                if let Some((href, true)) = out.link.take() {
                    out.s.push_str("](");
                    out.s.push_str(&href);
                    out.s.push(')');
                }
                out.link = None;
            }
        }
        _ => {}
    }
}

fn void_actions(out: &mut Out, el: &El) {
    match el.name.as_str() {
        "br" => {
            out.flush(false);
            out.newline();
        }
        "hr" => {
            out.block(2);
            out.literal("---");
            out.block(2);
        }
        "img" => {
            if let Some(alt) = el.attr("alt").filter(|a| !a.trim().is_empty()) {
                // The image is its own inline box: its alt text is not glued to the words
                // around it.
                out.pending_space = true;
                out.text(alt);
                out.pending_space = true;
            }
        }
        _ => {}
    }
}

/// Most sheets a page may import from `data:` URLs, and most bytes they may hold in all; a
/// page asking for more is not shown (fail closed).
const MAX_IMPORTS: usize = 64;
const MAX_IMPORT_BYTES: usize = 4 << 20;

/// `styles` followed by the sheets they import from `data:` URLs, at any depth; `None` past
/// [`MAX_IMPORTS`] or [`MAX_IMPORT_BYTES`].
fn with_imports(styles: &[String]) -> Option<Vec<std::borrow::Cow<'_, str>>> {
    let mut sheets: Vec<std::borrow::Cow<'_, str>> =
        styles.iter().map(|s| s.as_str().into()).collect();
    let (mut next, mut count, mut bytes) = (0, 0, 0);
    while next < sheets.len() {
        let found = if sheets[next].contains("@") {
            css::data_imports(&sheets[next])
        } else {
            Vec::new()
        };
        for sheet in found {
            count += 1;
            bytes += sheet.len();
            if count > MAX_IMPORTS || bytes > MAX_IMPORT_BYTES {
                return None;
            }
            sheets.push(sheet.into());
        }
        next += 1;
    }
    Some(sheets)
}

/// Renders parsed HTML as text with hidden content removed.
pub fn render(p: &Parsed) -> String {
    // The page's sheets and the `data:` sheets they import.
    let Some(sheets) = with_imports(&p.styles) else {
        return String::new();
    };
    // Custom properties from every sheet and inline style, for `var()`.
    let mut vars = css::Vars::new();
    for sheet in &sheets {
        css::collect_vars(sheet, &mut vars);
    }
    for e in &p.events {
        if let Ev::Open(el) | Ev::Void(el) | Ev::Overflow(el) = e {
            if let Some(st) = el.attr("style") {
                css::collect_vars(st, &mut vars);
            }
        }
    }
    let mut sels = Vec::new();
    for sheet in &sheets {
        if css::hiding_selectors(sheet, &vars, &mut sels).is_err() {
            return String::new();
        }
    }
    let mut css = Css::new(sels);
    let mut out = Out {
        s: String::new(),
        pending_break: 0,
        pending_space: false,
        at_line_start: true,
        prefix: String::new(),
        marker: String::new(),
        marker_cut: 0,
        pre: 0,
        cell: 0,
        items: 0,
        link: None,
        link_depth: 0,
        lists: Vec::new(),
        row_cells: 0,
    };
    // The document element and body, with every attribute given to them anywhere.
    let mut roots: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
    for e in &p.events {
        if let Ev::Root(body, attrs) = e {
            let r = &mut roots[usize::from(*body)];
            for (k, v) in attrs {
                if !r.iter().any(|(rk, _)| rk == k) {
                    r.push((k.clone(), v.clone()));
                }
            }
        }
    }
    let mut stack: Vec<Frame> = Vec::new();
    let [html_attrs, body_attrs] = roots;
    for (name, attrs) in [("html", html_attrs), ("body", body_attrs)] {
        let el = El::new(name.to_string(), Ns::Html, attrs);
        let parent_hidden = stack.last().is_some_and(|f: &Frame| f.hidden);
        let child = stack.last().map_or((0, 0), |f| f.child);
        let (desc_len, child_start) = (css.desc.len(), css.child.len());
        let Some(by_css) = css.visit(&view(&el), child) else {
            return String::new();
        };
        let hidden = parent_hidden || by_css || hidden_by_markup(&el, &vars);
        stack.push(Frame {
            el,
            hidden,
            mute: false,
            desc_len,
            child: (child_start, css.child.len()),
            indent: 0,
            kids: 0,
        });
    }
    for e in &p.events {
        let top_hidden = stack.last().is_none_or(|f| f.hidden || f.mute);
        match e {
            Ev::Root(..) => {}
            Ev::HideRest => break,
            Ev::Text(t) => {
                if !top_hidden && !stack.last().is_some_and(|f| math_hides_content(&f.el)) {
                    out.text(t);
                }
            }
            Ev::Open(el) => {
                let (desc_len, child_start) = (css.desc.len(), css.child.len());
                let blocked = stack.last().is_none_or(|f| f.hidden || f.mute);
                let Some(hidden) = element_hidden(blocked, &mut stack, el, &vars, &mut css) else {
                    break;
                };
                let mut indent = 0;
                if !hidden {
                    open_actions(&mut out, el, &mut indent);
                }
                stack.push(Frame {
                    el: el.clone(),
                    hidden,
                    mute: false,
                    desc_len,
                    child: (child_start, css.child.len()),
                    indent,
                    kids: 0,
                });
            }
            Ev::Close => {
                if stack.len() <= 2 {
                    continue;
                }
                if let Some(f) = stack.pop() {
                    css.truncate(f.desc_len, f.child.0);
                    if !f.hidden {
                        close_actions(&mut out, &f.el, f.indent);
                    }
                }
            }
            Ev::Void(el) | Ev::Overflow(el) => {
                if top_hidden {
                    continue;
                }
                let (desc_len, child_start) = (css.desc.len(), css.child.len());
                let Some(hidden) = element_hidden(false, &mut stack, el, &vars, &mut css) else {
                    break;
                };
                if matches!(e, Ev::Overflow(_)) {
                    // What follows may be inside it: keep its states (child ones widened to
                    // descendant ones) until the current element closes.
                    css.promote_children(child_start);
                } else {
                    css.truncate(desc_len, child_start);
                }
                if matches!(e, Ev::Overflow(_)) {
                    if hidden {
                        if let Some(f) = stack.last_mut() {
                            f.mute = true;
                        }
                    }
                } else if !hidden {
                    void_actions(&mut out, el);
                }
            }
        }
    }
    if let Some((href, true)) = out.link.take() {
        out.s.push_str("](");
        out.s.push_str(&href);
        out.s.push(')');
    }
    finish(&out.s)
}

/// Trims lines, keeps at most one blank line in a row, trims the whole.
fn finish(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        let is_blank = line.is_empty() || line.chars().all(|c| c == '>' || c == ' ');
        if is_blank {
            blank += 1;
            if blank > 1 {
                continue;
            }
            out.push('\n');
            continue;
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}
