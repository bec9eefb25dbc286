//! Tree tracking without building a tree: the stack of open elements with the scope rules,
//! implied end tags, foreign content and active formatting elements that decide which
//! element a piece of text ends up in. The output is a flat list of events.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use super::gum::{preprocess, Mode, Token, Tokenizer};

/// Deepest stack kept; deeper elements are not pushed (see [`Ev::Overflow`]).
pub const MAX_DEPTH: usize = 512;
const MAX_FORMATTING: usize = 64;

/// Namespace of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    Html,
    Svg,
    Math,
}

/// An element as the renderer sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct El {
    /// Lower-case tag name.
    pub name: String,
    /// Namespace.
    pub ns: Ns,
    /// Attributes, first of each name.
    pub attrs: Vec<(String, String)>,
    /// True while the element is on the stack of open elements.
    open: Cell<bool>,
    /// Set when a declarative shadow root (`<template shadowrootmode>`) is attached: its
    /// light-DOM children show only where slotted, so the whole element is treated as hidden.
    shadow_host: Cell<bool>,
}

impl El {
    /// A new element, not yet open.
    pub fn new(name: String, ns: Ns, attrs: Vec<(String, String)>) -> Rc<El> {
        Rc::new(El {
            name,
            ns,
            attrs,
            open: Cell::new(false),
            shadow_host: Cell::new(false),
        })
    }

    /// True when the element hosts a declarative shadow root.
    pub fn is_shadow_host(&self) -> bool {
        self.shadow_host.get()
    }

    /// Value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the renderer replays.
#[derive(Debug)]
pub enum Ev {
    /// Element pushed on the stack.
    Open(Rc<El>),
    /// Top element popped.
    Close,
    /// Element without content (void, self-closing foreign).
    Void(Rc<El>),
    /// Element not pushed because the stack is full; if it hides, the rest of the current
    /// element is hidden.
    Overflow(Rc<El>),
    /// Character data for the current element.
    Text(String),
    /// Attributes of `<html>` (false) or `<body>` (true).
    Root(bool, Vec<(String, String)>),
    /// Limits reached: nothing after this is shown (fail closed).
    HideRest,
}

/// Parse result.
pub struct Parsed {
    /// Events in document order.
    pub events: Vec<Ev>,
    /// Text of every `<style>` element.
    pub styles: Vec<String>,
    /// Content of the first `<title>` (HTML namespace).
    pub title: Option<String>,
}

struct Node {
    el: Rc<El>,
    /// In the spec's "special" category (HTML list or an integration point).
    special: bool,
}

fn is_void(n: &str) -> bool {
    matches!(
        n,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

fn is_special(n: &str) -> bool {
    matches!(
        n,
        "address"
            | "applet"
            | "area"
            | "article"
            | "aside"
            | "base"
            | "basefont"
            | "bgsound"
            | "blockquote"
            | "body"
            | "br"
            | "button"
            | "caption"
            | "center"
            | "col"
            | "colgroup"
            | "dd"
            | "details"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "embed"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "frame"
            | "frameset"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "iframe"
            | "img"
            | "input"
            | "keygen"
            | "li"
            | "link"
            | "listing"
            | "main"
            | "marquee"
            | "menu"
            | "meta"
            | "nav"
            | "noembed"
            | "noframes"
            | "noscript"
            | "object"
            | "ol"
            | "p"
            | "param"
            | "plaintext"
            | "pre"
            | "script"
            | "search"
            | "section"
            | "select"
            | "source"
            | "style"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "template"
            | "textarea"
            | "tfoot"
            | "th"
            | "thead"
            | "title"
            | "tr"
            | "track"
            | "ul"
            | "wbr"
            | "xmp"
    )
}

fn is_formatting(n: &str) -> bool {
    matches!(
        n,
        "a" | "b"
            | "big"
            | "code"
            | "em"
            | "font"
            | "i"
            | "nobr"
            | "s"
            | "small"
            | "strike"
            | "strong"
            | "tt"
            | "u"
    )
}

/// Start tags that close an open `p` (in button scope).
fn is_closes_p(n: &str) -> bool {
    matches!(
        n,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "header"
            | "hgroup"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "search"
            | "section"
            | "summary"
            | "ul"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "pre"
            | "listing"
            | "form"
            | "plaintext"
            | "hr"
            | "xmp"
            | "li"
            | "dd"
            | "dt"
    )
}

/// End tags handled with "has an element in scope".
fn is_scoped_end(n: &str) -> bool {
    matches!(
        n,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "button"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "header"
            | "hgroup"
            | "listing"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "pre"
            | "search"
            | "section"
            | "summary"
            | "ul"
            | "form"
            | "applet"
            | "marquee"
            | "object"
            | "dd"
            | "dt"
            | "td"
            | "th"
    )
}

fn is_headings(n: &str) -> bool {
    matches!(n, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

fn is_breakout(n: &str) -> bool {
    matches!(
        n,
        "b" | "big"
            | "blockquote"
            | "body"
            | "br"
            | "center"
            | "code"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "em"
            | "embed"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "hr"
            | "i"
            | "img"
            | "li"
            | "listing"
            | "menu"
            | "meta"
            | "nobr"
            | "ol"
            | "p"
            | "pre"
            | "ruby"
            | "s"
            | "small"
            | "span"
            | "strong"
            | "strike"
            | "sub"
            | "sup"
            | "table"
            | "tt"
            | "u"
            | "ul"
            | "var"
    )
}

fn is_in_head(n: &str) -> bool {
    matches!(
        n,
        "base"
            | "basefont"
            | "bgsound"
            | "link"
            | "meta"
            | "title"
            | "noscript"
            | "noframes"
            | "style"
            | "script"
            | "template"
    )
}

fn is_table_parts(n: &str) -> bool {
    matches!(
        n,
        "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr"
    )
}

fn is_boundary(ns: Ns, name: &str) -> bool {
    match ns {
        Ns::Html => matches!(
            name,
            "applet"
                | "caption"
                | "html"
                | "table"
                | "td"
                | "th"
                | "marquee"
                | "object"
                | "template"
                | "select"
        ),
        Ns::Svg => matches!(name, "foreignobject" | "desc" | "title"),
        Ns::Math => matches!(name, "mi" | "mo" | "mn" | "ms" | "mtext" | "annotation-xml"),
    }
}

fn is_integration_point(el: &El) -> bool {
    el.ns != Ns::Html && is_boundary(el.ns, &el.name)
}

struct Builder {
    stack: Vec<Node>,
    /// Names of elements opened past [`MAX_DEPTH`], innermost last. While any is open,
    /// nothing on the real stack is closed (closing early could reveal hidden content).
    phantoms: Vec<String>,
    phantom_count: HashMap<String, usize>,
    pos: HashMap<String, Vec<usize>>,
    bounds: Vec<usize>,
    bounds_tbl: Vec<usize>,
    specials: Vec<usize>,
    formatting: Vec<Option<Rc<El>>>,
    events: Vec<Ev>,
    styles: Vec<String>,
    title: Option<String>,
    capture: Option<&'static str>,
    skip_lf: bool,
    head_state: u8,
    budget: usize,
    dead: bool,
    /// Parsing the content of a `<noscript>`: no deeper noscript is read.
    nested: bool,
}

fn top_of(v: &[usize]) -> Option<usize> {
    v.last().copied()
}

impl Builder {
    fn top(&self) -> Option<&El> {
        self.stack.last().map(|n| &*n.el)
    }

    fn in_foreign(&self) -> bool {
        self.top()
            .is_some_and(|e| e.ns != Ns::Html && !is_integration_point(e))
    }

    /// The tokenizer's question for `<![CDATA[`: is the adjusted current node outside the HTML
    /// namespace (integration points such as `mi` or `foreignObject` included)?
    fn current_not_html(&self) -> bool {
        self.top().is_some_and(|e| e.ns != Ns::Html)
    }

    fn last_pos(&self, name: &str) -> Option<usize> {
        self.pos.get(name).and_then(|v| v.last().copied())
    }

    fn push(&mut self, el: Rc<El>) {
        let k = self.stack.len();
        if is_boundary(el.ns, &el.name) {
            self.bounds.push(k);
            if !(el.ns == Ns::Html && matches!(el.name.as_str(), "td" | "th")) {
                self.bounds_tbl.push(k);
            }
        }
        let special = if el.ns == Ns::Html {
            is_special(el.name.as_str())
        } else {
            is_integration_point(&el)
        };
        if special {
            self.specials.push(k);
        }
        if el.ns == Ns::Html {
            self.pos.entry(el.name.clone()).or_default().push(k);
            if matches!(
                el.name.as_str(),
                "applet" | "object" | "marquee" | "template" | "td" | "th" | "caption"
            ) {
                self.formatting.push(None);
            }
        }
        el.open.set(true);
        self.events.push(Ev::Open(el.clone()));
        self.stack.push(Node { el, special });
    }

    /// Pops the current node; refused (false) while phantom elements are open.
    fn pop(&mut self) -> bool {
        if !self.phantoms.is_empty() {
            return false;
        }
        let Some(node) = self.stack.pop() else {
            return false;
        };
        let k = self.stack.len();
        for v in [&mut self.bounds, &mut self.bounds_tbl, &mut self.specials] {
            if v.last() == Some(&k) {
                v.pop();
            }
        }
        let el = &node.el;
        el.open.set(false);
        if el.ns == Ns::Html {
            if let Some(v) = self.pos.get_mut(&el.name) {
                v.pop();
            }
        }
        self.events.push(Ev::Close);
        true
    }

    /// Name of the current node when it is an HTML element.
    fn top_html_name(&self) -> Option<String> {
        self.top()
            .filter(|e| e.ns == Ns::Html)
            .map(|e| e.name.clone())
    }

    /// Opens an element the table rules imply (`tbody` for a row, `tr` for a cell placed
    /// directly in a table), as browsers do.
    fn open_implied(&mut self, name: &str) {
        if self.stack.len() >= MAX_DEPTH || !self.phantoms.is_empty() {
            return;
        }
        if !self.spend(1) {
            self.kill();
            return;
        }
        self.push(El::new(name.to_string(), Ns::Html, Vec::new()));
    }

    /// Clears the active formatting elements up to the last marker. Browsers do this once per
    /// closing step (a cell, a caption, `</template>`, `</object>`), not for every marker
    /// element popped on the way: the markers of those stay in the list.
    fn clear_to_marker(&mut self) {
        while let Some(e) = self.formatting.pop() {
            if e.is_none() {
                break;
            }
        }
    }

    /// Pops elements until the one at stack index `k` has been popped.
    fn pop_to(&mut self, k: usize) {
        while self.stack.len() > k {
            if !self.pop() {
                return;
            }
        }
    }

    /// An element that does not fit on the stack.
    fn overflow(&mut self, el: Rc<El>) {
        *self.phantom_count.entry(el.name.clone()).or_default() += 1;
        self.phantoms.push(el.name.clone());
        self.events.push(Ev::Overflow(el));
    }

    /// Stack index of `el`, found through the positions of its name.
    fn find_open(&self, el: &Rc<El>) -> Option<usize> {
        if !el.open.get() {
            return None;
        }
        self.pos
            .get(&el.name)?
            .iter()
            .rev()
            .copied()
            .find(|&k| self.stack.get(k).is_some_and(|n| Rc::ptr_eq(&n.el, el)))
    }

    fn on_stack(&self, el: &Rc<El>) -> bool {
        el.open.get()
    }

    /// Reopens active formatting elements closed by other elements (so `<p><b hidden>x</p>y`
    /// keeps `y` inside a hidden `b`, as browsers do).
    fn reconstruct(&mut self) {
        let n = self.formatting.len();
        let mut first = n;
        while first > 0 {
            match &self.formatting[first - 1] {
                None => break,
                Some(e) if self.on_stack(e) => break,
                Some(_) => first -= 1,
            }
        }
        for i in first..n {
            let Some(Some(e)) = self.formatting.get(i).cloned() else {
                continue;
            };
            if self.stack.len() >= MAX_DEPTH || !self.spend(1) {
                self.kill();
                return;
            }
            let clone = El::new(e.name.clone(), e.ns, e.attrs.clone());
            self.formatting[i] = Some(clone.clone());
            self.push(clone);
        }
    }

    fn add_formatting(&mut self, el: Rc<El>) {
        let after_marker = self
            .formatting
            .iter()
            .rposition(Option::is_none)
            .map_or(0, |m| m + 1);
        let same: Vec<usize> = (after_marker..self.formatting.len())
            .filter(|&i| {
                self.formatting[i]
                    .as_ref()
                    .is_some_and(|e| e.name == el.name && e.attrs == el.attrs)
            })
            .collect();
        if same.len() >= 3 {
            self.formatting.remove(same[0]);
        }
        if self.formatting.len() - after_marker >= MAX_FORMATTING {
            self.kill();
            return;
        }
        self.formatting.push(Some(el));
    }

    fn spend(&mut self, n: usize) -> bool {
        if self.budget < n {
            return false;
        }
        self.budget -= n;
        true
    }

    fn kill(&mut self) {
        if !self.dead {
            self.dead = true;
            self.events.push(Ev::HideRest);
        }
    }

    fn close_p_in_button_scope(&mut self) {
        if let Some(p) = self.last_pos("p") {
            let blocked = top_of(&self.bounds).is_some_and(|b| b > p)
                || self.last_pos("button").is_some_and(|b| b > p);
            if !blocked {
                self.pop_to(p);
            }
        }
    }

    /// Closes the nearest element named in `names` (space-separated) when it is in scope (no boundary above it
    /// in `bounds`, the element itself may be one).
    /// Returns whether it was closed; closing a cell or caption clears the active formatting
    /// elements up to the last marker (once).
    fn close_nearest(&mut self, names: &str, table: bool) -> bool {
        let Some(t) = names.split(' ').filter_map(|n| self.last_pos(n)).max() else {
            return false;
        };
        let b = if table {
            top_of(&self.bounds_tbl)
        } else {
            top_of(&self.bounds)
        };
        if b.is_some_and(|b| b > t) {
            return false;
        }
        let cell = self.stack[t..]
            .iter()
            .any(|n| n.el.ns == Ns::Html && matches!(n.el.name.as_str(), "td" | "th" | "caption"));
        self.pop_to(t);
        if cell && self.stack.len() <= t {
            self.clear_to_marker();
        }
        true
    }

    /// `li`/`dd`/`dt` start: close an open item unless a special element (other than
    /// address, div, p) is in between.
    fn close_list_item(&mut self, names: &str) {
        for k in (0..self.stack.len()).rev().take(64) {
            let node = &self.stack[k];
            let el = &node.el;
            if el.ns == Ns::Html && names.split(' ').any(|x| x == el.name) {
                self.pop_to(k);
                return;
            }
            if node.special && !matches!(el.name.as_str(), "address" | "div" | "p") {
                return;
            }
        }
    }

    fn text(&mut self, mut t: String) {
        if self.dead {
            return;
        }
        if self.skip_lf {
            self.skip_lf = false;
            if t.starts_with('\n') {
                t.remove(0);
            }
        }
        if t.is_empty() {
            return;
        }
        if let Some(which) = self.capture.take() {
            if which == "title" && self.title.is_none() {
                self.title = Some(t.clone());
            } else if which == "style" {
                self.styles.push(t.clone());
            } else if which == "noscript" && !self.nested {
                // With scripts off (what we match) browsers parse the content as markup, so
                // its style sheets apply to the page; the content itself stays hidden.
                self.styles.extend(parse_inner(&t, true).styles);
            }
        }
        let blank = t
            .bytes()
            .all(|b| matches!(b, b'\t' | b'\n' | b'\x0c' | b' '));
        if !blank {
            if self.head_state == 1 && self.top().is_some_and(|e| e.name == "head") {
                self.pop();
                self.head_state = 2;
            }
            self.head_state = self.head_state.max(2);
        }
        if !self.in_foreign() {
            self.reconstruct();
        }
        if let Some(Ev::Text(prev)) = self.events.last_mut() {
            prev.push_str(&t);
        } else {
            self.events.push(Ev::Text(t));
        }
    }

    fn start(
        &mut self,
        name: String,
        attrs: Vec<(String, String)>,
        self_closing: bool,
        tok: &mut Tokenizer<'_>,
    ) {
        if self.dead {
            return;
        }
        if !self.spend(1) {
            self.kill();
            return;
        }
        self.skip_lf = false;
        let n = name.as_str();
        if self.in_foreign() {
            let breakout = is_breakout(n)
                || (n == "font"
                    && attrs
                        .iter()
                        .any(|(k, _)| matches!(k.as_str(), "color" | "face" | "size")));
            if !breakout {
                if n == "html" {
                    // Browsers may have closed the foreign content already where we did not
                    // (adoption agency with a furthest block): the attributes count for the
                    // root as well, which hides at least as much as either parse.
                    self.events.push(Ev::Root(false, attrs.clone()));
                }
                // Inside foreign content the namespace is the current node's, whatever the name.
                let ns = self.top().map_or(Ns::Svg, |e| e.ns);
                self.capture = (name == "style").then_some("style");
                let el = El::new(name, ns, attrs);
                if self_closing {
                    self.events.push(Ev::Void(el));
                } else if self.stack.len() >= MAX_DEPTH {
                    self.overflow(el);
                } else {
                    self.push(el);
                }
                return;
            }
            while self.in_foreign() {
                if !self.pop() {
                    break;
                }
            }
        }
        match n {
            "html" | "body" => {
                if n == "body" && self.top().is_some_and(|e| e.name == "head") {
                    self.pop();
                }
                self.head_state = 2;
                self.events.push(Ev::Root(n == "body", attrs));
                return;
            }
            "head" => {
                if self.head_state == 0 && self.stack.is_empty() {
                    self.head_state = 1;
                    self.push(El::new(name, Ns::Html, attrs));
                }
                return;
            }
            _ => {}
        }
        if self
            .top()
            .is_some_and(|e| e.name == "head" && e.ns == Ns::Html)
            && !is_in_head(n)
        {
            self.pop();
        }
        if !is_in_head(n) {
            self.head_state = 2;
        }
        if is_table_parts(n) {
            let Some(table) = self.last_pos("table") else {
                return;
            };
            // Then it closes what was foster-parented out of the table ("clear the stack
            // back to a table context").
            // Inside a cell or caption, a table part closes it first ("close the cell").
            let cell = ["td", "th", "caption"]
                .iter()
                .filter_map(|c| self.last_pos(c))
                .filter(|&c| c > table)
                .max();
            if let Some(c) = cell {
                self.pop_to(c);
                if self.stack.len() > c {
                    return;
                }
                self.clear_to_marker();
            }
            let context = ["tbody", "thead", "tfoot", "tr", "template"]
                .iter()
                .filter_map(|c| self.last_pos(c))
                .filter(|&c| c > table)
                .max()
                .unwrap_or(table);
            self.pop_to(context + 1);
        }
        if is_closes_p(n) {
            self.close_p_in_button_scope();
        }
        match n {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
                if self.top().is_some_and(|e| is_headings(e.name.as_str())) =>
            {
                self.pop();
            }
            "li" => self.close_list_item("li"),
            "dd" | "dt" => self.close_list_item("dd dt"),
            "option" | "optgroup" if self.top().is_some_and(|e| e.name == "option") => {
                self.pop();
            }
            "td" | "th" => {
                self.close_nearest("td th", false);
                match self.top_html_name().as_deref() {
                    Some("table") => {
                        self.open_implied("tbody");
                        self.open_implied("tr");
                    }
                    Some("tbody" | "thead" | "tfoot") => self.open_implied("tr"),
                    _ => {}
                }
            }
            "tr" => {
                self.close_nearest("tr", true);
                if self.top_html_name().as_deref() == Some("table") {
                    self.open_implied("tbody");
                }
            }
            "tbody" | "thead" | "tfoot" => {
                self.close_nearest("tbody thead tfoot", true);
            }
            "a" => {
                let open_a = self
                    .formatting
                    .iter()
                    .rev()
                    .map_while(|e| e.as_ref())
                    .find(|e| e.name == "a")
                    .cloned();
                if let Some(a) = open_a {
                    if let Some(k) = self.find_open(&a) {
                        if self.simple_adoption(k) {
                            self.pop_to(k);
                        }
                    }
                    self.formatting
                        .retain(|e| e.as_ref().is_none_or(|e| !Rc::ptr_eq(e, &a)));
                }
            }
            _ => {}
        }
        if !is_closes_p(n) && !is_table_parts(n) && !matches!(n, "table" | "head") {
            self.reconstruct();
            if self.dead {
                return;
            }
        }
        let n = if n == "image" { "img" } else { n };
        let ns = match n {
            "svg" => Ns::Svg,
            "math" => Ns::Math,
            _ => Ns::Html,
        };
        let el = El::new(n.to_string(), ns, attrs);
        if el.ns != Ns::Html {
            if self_closing {
                self.events.push(Ev::Void(el));
            } else if self.stack.len() >= MAX_DEPTH {
                self.overflow(el);
            } else {
                self.push(el);
            }
            return;
        }
        if el.name == "template"
            && (el.attr("shadowrootmode").is_some() || el.attr("shadowroot").is_some())
        {
            match self.stack.last() {
                Some(host) => host.el.shadow_host.set(true),
                None => self
                    .events
                    .push(Ev::Root(true, vec![("hidden".into(), String::new())])),
            }
        }
        if is_void(el.name.as_str()) {
            if el.name == "link" {
                if let Some(css) = stylesheet_data_url(&el) {
                    self.styles.push(css);
                }
            }
            self.events.push(Ev::Void(el));
            return;
        }
        let name = el.name.clone();
        if self.stack.len() >= MAX_DEPTH {
            self.overflow(el);
        } else {
            if is_formatting(name.as_str()) {
                self.add_formatting(el.clone());
            }
            self.push(el);
        }
        let mode = match name.as_str() {
            "title" | "textarea" => Mode::Rcdata,
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Mode::Rawtext,
            "script" => Mode::Script,
            "plaintext" => Mode::Plaintext,
            _ => Mode::Data,
        };
        tok.mode = mode;
        self.capture = match name.as_str() {
            "title" => Some("title"),
            "style" => Some("style"),
            "noscript" => Some("noscript"),
            _ => None,
        };
        self.skip_lf = matches!(name.as_str(), "pre" | "listing" | "textarea");
    }

    fn end(&mut self, name: String) {
        if self.dead {
            return;
        }
        self.capture = None;
        self.skip_lf = false;
        let n = name.as_str();
        if !self.phantoms.is_empty() {
            // Only phantoms can be closed until they are all gone.
            if self.phantom_count.get(n).is_some_and(|c| *c > 0) {
                while let Some(p) = self.phantoms.pop() {
                    if let Some(c) = self.phantom_count.get_mut(&p) {
                        *c -= 1;
                    }
                    if p == n {
                        break;
                    }
                }
            }
            return;
        }
        if matches!(n, "p" | "br") && self.in_foreign() {
            // Foreign content: `</p>` and `</br>` close the SVG/MathML elements up to an
            // HTML element or integration point, then count as HTML end tags.
            while self.in_foreign() {
                if !self.pop() {
                    return;
                }
            }
        }
        if self.top().is_some_and(|e| e.ns != Ns::Html) {
            let mut reached_html = false;
            for k in (0..self.stack.len()).rev().take(64) {
                let el = &self.stack[k].el;
                if el.ns == Ns::Html {
                    reached_html = true;
                    break;
                }
                if el.name == n {
                    self.pop_to(k);
                    return;
                }
            }
            if !reached_html {
                return;
            }
        }
        match n {
            "html" | "body" => {}
            "head" => {
                if self.top().is_some_and(|e| e.name == "head") {
                    self.pop();
                    self.head_state = 2;
                }
            }
            "br" => self
                .events
                .push(Ev::Void(El::new(name, Ns::Html, Vec::new()))),
            "p" => self.close_p_in_button_scope(),
            "template" => {
                if let Some(k) = self.last_pos("template") {
                    self.pop_to(k);
                    if self.stack.len() <= k {
                        self.clear_to_marker();
                    }
                }
            }
            "form" if self.last_pos("template").is_none() => {
                // Browsers take only the form off the stack (after implied end tags): what
                // was opened inside it stays open, inside it. We close it only when nothing
                // but implied-end-tag elements is above it; otherwise it stays open (hides
                // at least as much).
                if let Some(k) = self.last_pos("form") {
                    let in_scope = top_of(&self.bounds).is_none_or(|b| b <= k);
                    let implied = self.stack[k + 1..].iter().all(|n| {
                        n.el.ns == Ns::Html
                            && matches!(
                                n.el.name.as_str(),
                                "dd" | "dt"
                                    | "li"
                                    | "optgroup"
                                    | "option"
                                    | "p"
                                    | "rb"
                                    | "rp"
                                    | "rt"
                                    | "rtc"
                            )
                    });
                    if in_scope && implied {
                        self.pop_to(k);
                    }
                }
            }
            "applet" | "marquee" | "object" => {
                if self.close_nearest(n, false) {
                    self.clear_to_marker();
                }
            }
            "table" | "tbody" | "thead" | "tfoot" | "tr" | "caption" | "colgroup" => {
                self.close_nearest(n, true);
            }
            "li" => {
                if let Some(t) = self.last_pos("li") {
                    let b = [
                        top_of(&self.bounds),
                        self.last_pos("ul"),
                        self.last_pos("ol"),
                    ]
                    .into_iter()
                    .flatten()
                    .max();
                    if b.is_none_or(|b| b < t) {
                        self.pop_to(t);
                    }
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.close_nearest("h1 h2 h3 h4 h5 h6", false);
            }
            _ if is_formatting(n) => {
                let entry = self
                    .formatting
                    .iter()
                    .rposition(|e| e.as_ref().is_some_and(|e| e.name == n));
                let marker = self.formatting.iter().rposition(Option::is_none);
                match entry {
                    Some(i) if marker.is_none_or(|m| m < i) => {
                        let Some(Some(el)) = self.formatting.get(i).cloned() else {
                            return;
                        };
                        match self.find_open(&el) {
                            None => {
                                self.formatting.remove(i);
                            }
                            Some(k) => {
                                if self.simple_adoption(k) {
                                    self.pop_to(k);
                                    self.formatting.remove(i);
                                }
                            }
                        }
                    }
                    _ => self.any_other_end(n),
                }
            }
            _ if is_scoped_end(n) => {
                self.close_nearest(n, false);
            }
            _ => self.any_other_end(n),
        }
    }

    /// The adoption agency case we reproduce exactly: the formatting element at `k` is in
    /// scope and no special element (a "furthest block") is above it, so browsers just pop to
    /// it. With a furthest block, browsers keep that block (and special elements above it)
    /// open under the formatting element's parent; we then close nothing, which keeps every
    /// hiding ancestor in force (hides more, never less).
    fn simple_adoption(&self, k: usize) -> bool {
        top_of(&self.bounds).is_none_or(|b| b <= k) && top_of(&self.specials).is_none_or(|s| s < k)
    }

    /// "Any other end tag": the nearest element of that name, unless a special element is
    /// above it.
    fn any_other_end(&mut self, n: &str) {
        if let Some(t) = self.last_pos(n) {
            if top_of(&self.specials).is_none_or(|s| s <= t) {
                self.pop_to(t);
            }
        }
    }
}

/// The text of a `<link rel=stylesheet href="data:…">` (browsers apply those).
fn stylesheet_data_url(el: &El) -> Option<String> {
    let rel = el.attr("rel")?;
    if !rel
        .split_ascii_whitespace()
        .any(|r| r.eq_ignore_ascii_case("stylesheet"))
    {
        return None;
    }
    super::css::data_url_text(el.attr("href")?)
}

/// Tokenizes and tracks the tree of `html`.
pub fn parse(html: &str) -> Parsed {
    parse_inner(html, false)
}

fn parse_inner(html: &str, nested: bool) -> Parsed {
    let input = preprocess(html);
    let mut tok = Tokenizer::new(&input);
    let mut b = Builder {
        stack: Vec::new(),
        phantoms: Vec::new(),
        phantom_count: HashMap::new(),
        pos: HashMap::new(),
        bounds: Vec::new(),
        bounds_tbl: Vec::new(),
        specials: Vec::new(),
        formatting: Vec::new(),
        events: Vec::new(),
        styles: Vec::new(),
        title: None,
        capture: None,
        skip_lf: false,
        head_state: 0,
        budget: input.len() / 2 + 4096,
        dead: false,
        nested,
    };
    loop {
        tok.foreign = b.current_not_html();
        let Some(t) = tok.next_token() else {
            break;
        };
        match t {
            Token::Text(s) => b.text(s),
            Token::Start {
                name,
                attrs,
                self_closing,
            } => b.start(name, attrs, self_closing, &mut tok),
            Token::End(name) => b.end(name),
            Token::Ignored => {
                b.capture = None;
            }
        }
        if b.dead {
            break;
        }
    }
    Parsed {
        events: b.events,
        styles: b.styles,
        title: b.title,
    }
}
