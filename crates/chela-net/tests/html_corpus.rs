//! The adversarial pages in `tests/html_corpus/` against a real browser, without needing one in
//! CI. `tests/html_corpus/chromium/<page>.txt` is headless Chromium's `document.body.innerText`
//! for each page with scripts off, the mode `web_fetch` matches, recorded by the differential
//! checker:
//!
//! ```text
//! python3 bench/html-vs-chromium.py crates/chela-net/tests/html_corpus --dump /tmp/dump
//! for f in /tmp/dump/*.chromium.txt; do b=$(basename "$f" .html.chromium.txt); \
//!   cp "$f" "crates/chela-net/tests/html_corpus/chromium/${b#*-}.txt"; done
//! ```
//!
//! Every word `html_to_text` shows must be a word Chromium shows: text a browser hides (the
//! hiding place of a prompt injection) never reaches the model. The deliberate exceptions are
//! listed in [`SHOWN_ON_PURPOSE`]. (The other direction, text we hide and a browser shows, is
//! allowed: hiding more is the safe side.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Words we show although Chromium's innerText does not, each for a stated reason.
const SHOWN_ON_PURPOSE: &[(&str, &str, &str)] = &[
    (
        "interactive.html",
        "closeddetailscontent",
        "closed <details> content is one click away; README steps and FAQ answers live there",
    ),
    (
        "script_comment_tricks.html",
        "textareavisible",
        "a textarea's text is on screen in its box; innerText leaves form controls out",
    ),
];

/// Lower-cased words of 3 or more characters, split on anything not alphanumeric.
fn words(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_owned)
        .collect()
}

/// Our output without the `(href)` of `[text](href)` links: the address is not page text.
fn without_link_targets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 2..];
        match rest.find(')') {
            Some(j) => rest = &rest[j + 1..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html_corpus")
}

/// What `web_fetch` makes of a corpus page (charset detection included).
fn convert(page: &Path) -> String {
    let raw = std::fs::read(page).expect("corpus page");
    chela_net::html_to_text(&chela_net::fetch::decode(&raw, "", true))
}

/// Chromium's recorded innerText for the page named `name` (`x.html`).
fn recorded(name: &str) -> String {
    let path = corpus_dir()
        .join("chromium")
        .join(format!("{}.txt", name.trim_end_matches(".html")));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (record it, see the module docs)", path.display()))
}

#[test]
fn nothing_chromium_hides_is_shown() {
    let dir = corpus_dir();
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    pages.sort();
    assert!(pages.len() >= 17, "corpus pages missing: {pages:?}");
    let mut failures = Vec::new();
    for page in &pages {
        let name = page
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let chromium = recorded(name);
        let ours = without_link_targets(&convert(page));
        let allowed: BTreeSet<&str> = SHOWN_ON_PURPOSE
            .iter()
            .filter(|(p, _, _)| *p == name)
            .map(|(_, w, _)| *w)
            .collect();
        let browser = words(&chromium);
        let leaked: Vec<String> = words(&ours)
            .into_iter()
            .filter(|w| !browser.contains(w) && !allowed.contains(w.as_str()))
            .collect();
        if !leaked.is_empty() {
            failures.push(format!("{name}: shown but hidden by Chromium: {leaked:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_exceptions_are_still_needed() {
    // An exception that no longer applies would silently widen the check.
    for (page, word, why) in SHOWN_ON_PURPOSE {
        let ours = words(&convert(&corpus_dir().join(page)));
        let chromium = recorded(page);
        assert!(
            ours.contains(*word) && !words(&chromium).contains(*word),
            "{page}: `{word}` ({why}) is no longer a difference; remove the exception"
        );
    }
}
