//! HTML to readable text: html5gum's WHATWG tokenizer ([`gum`]), tree tracking with the
//! browser's scope rules ([`tree`]), the page's own hiding CSS rules ([`css`]) and a
//! light-Markdown renderer ([`render`]). Tag sets are `matches!` functions, not tables, so the
//! binary carries no pointer relocations for them.
//!
//! Security rule: when the structure is unclear, hide rather than show. Limits (stack depth,
//! style-matching work, element count) fail closed: what is past them is not shown.

mod css;
mod gum;
mod render;
mod tree;

/// Converts HTML to readable text with hidden content removed (see [`crate::fetch`]).
pub fn html_to_text(html: &str) -> String {
    render::render(&tree::parse(html))
}

/// The raw content of the first `<title>` (character references decoded) and the text.
pub(crate) fn title_and_text(html: &str) -> (Option<String>, String) {
    let parsed = tree::parse(html);
    let text = render::render(&parsed);
    (parsed.title, text)
}

/// The raw content of the first `<title>`.
#[cfg(test)]
pub(crate) fn raw_title(html: &str) -> Option<String> {
    tree::parse(html).title
}

#[cfg(test)]
mod tests;
