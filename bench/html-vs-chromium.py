#!/usr/bin/env python3
"""Differential check of chela_net::html_to_text against headless Chromium (scripts off).

For each HTML file: Chromium loads it from file:// with JavaScript disabled and gives
`document.body.innerText` (which honours CSS visibility); our converter (the `html_to_text`
example binary) converts the same bytes. Word multisets are compared (NFKC, lower case, split
on non-alphanumerics, tokens of 3+ characters, our `](url)` link targets removed):

  LEAK = words we show that Chromium does not (security-relevant: text a browser hides)
  DROP = words Chromium shows that we do not

Known, deliberate or out-of-scope differences are measured in the same browser and
subtracted into their own categories instead of being counted as bugs:

  excluded (both directions): text inside <noscript> (browsers with JS off show it; we
      remove it); image alt text (we print it, innerText does not);
  excluded (DROP only): text inside aria-hidden="true" (visible in browsers, hidden by us
      on purpose);
  leak:external-css   hidden only by an external style sheet (<link> or @import other than
      data: URLs; we do not fetch sheets) -- innerText recomputed with those sheets disabled shows the word;
  leak:closed-details content of a closed <details> (we keep it on purpose) -- innerText
      recomputed with every <details> opened shows the word;
  leak:textarea       text inside a <textarea> (shown in its box on screen; innerText leaves
      form controls out, we print it);
  leak:word-boundary  the word is in Chromium's text, but split or glued differently
      ("Recommend0" there, "Recommend" and "0" here): found in Chromium's text with the
      non-alphanumerics removed, aligned to one of its word edges (drop:word-boundary is the
      same test the other way);
  drop:deliberate     text of elements we hide on purpose (button, select, svg, object,
      embed, iframe, canvas, audio, video, popover, input, closed dialog, template), and text
      in <option>: Chromium's innerText returns an option's text even where CSS hides it.

Everything else is "unexplained" and worth a look. For unexplained leaks, `--explain` asks
Chromium where the word sits (ancestor path and the ancestor whose computed style hides it).

No network: Chromium talks to us over --remote-debugging-pipe (no port at all), every host
name resolves to nothing and a dead loopback proxy is set, so only file:// and data: load.

Usage:
  cargo build -p chela-net --example html_to_text
  python3 bench/html-vs-chromium.py --default-corpus            # the corpus in BENCH_RESULTS.md
  python3 bench/html-vs-chromium.py page.html dir/ --explain    # files and directories
  python3 bench/html-vs-chromium.py --soup 0:600 --quiet         # generated tag soup
  python3 bench/html-vs-chromium.py --soup 30000:800 --soup-css --quiet
Options: --converter PATH (default $CARGO_TARGET_DIR or target/debug/examples/html_to_text),
  --chromium PATH, --top N (leaked words shown per file), --json FILE (full results),
  --quiet (summary only), --list (print the corpus and exit).
Python 3.11 standard library only.
"""

import argparse
import collections
import glob
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOME = os.path.expanduser("~")

WORD = re.compile(r"[^\W_]+")
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


def words(text):
    """Multiset of normalised words of `text`."""
    t = unicodedata.normalize("NFKC", text).lower()
    return collections.Counter(w for w in WORD.findall(t) if len(w) >= 3)


class Squashed:
    """A text as one string of its alphanumeric runs, with the run edges: a word found
    there aligned to a run edge was split or glued differently by the two sides."""

    def __init__(self, text):
        runs = WORD.findall(unicodedata.normalize("NFKC", text).lower())
        self.s = "".join(runs)
        self.edges = set()
        k = 0
        for r in runs:
            self.edges.add(k)
            k += len(r)
            self.edges.add(k)

    def has(self, w):
        i = self.s.find(w)
        while i >= 0:
            if i in self.edges or i + len(w) in self.edges:
                return True
            i = self.s.find(w, i + 1)
        return False


def boundary(counter, squashed):
    return collections.Counter({w: n for w, n in counter.items() if squashed.has(w)})


def link_target(href):
    """The link target our converter prints for `href` (see safe_href in render.rs)."""
    h = "".join(c for c in href.strip() if c not in "\t\n\r")
    return h.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def strip_links(text, hrefs):
    """Removes our `](target)` link suffixes, only for targets that are real hrefs of the
    page (so Markdown written in the page's own text is kept)."""
    targets = {link_target(h) for h in hrefs}
    out = []  # pieces; the link's own "[" and "](target)" are dropped, so a link inside a
    # word ("<a>skip</a>s") stays one word, as in innerText
    last = 0
    for m in LINK_TARGET.finditer(text):
        if m.group(0)[2:-1] not in targets:
            continue
        piece = text[last : m.start()]
        depth, k = 0, len(piece) - 1
        while k >= 0:  # the "[" that opens this link text
            if piece[k] == "]":
                depth += 1
            elif piece[k] == "[":
                if depth == 0:
                    break
                depth -= 1
            k -= 1
        if k < 0 and out:  # the "[" is in an earlier piece: look there too
            joined = "".join(out)
            out = [joined]
            k2, depth2 = len(joined) - 1, depth
            while k2 >= 0:
                if joined[k2] == "]":
                    depth2 += 1
                elif joined[k2] == "[":
                    if depth2 == 0:
                        break
                    depth2 -= 1
                k2 -= 1
            if k2 >= 0:
                out = [joined[:k2] + joined[k2 + 1 :]]
        if k >= 0:
            piece = piece[:k] + piece[k + 1 :]
        out.append(piece)
        last = m.end()
    out.append(text[last:])
    return "".join(out)


# --- Chromium over --remote-debugging-pipe ------------------------------------------------


class Chromium:
    def __init__(self, path, timeout):
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="html-vs-chromium-")
        r3, w3 = os.pipe()  # Chromium reads commands on fd 3
        r4, w4 = os.pipe()  # and writes replies on fd 4

        def child_fds():
            a, b = os.dup(r3), os.dup(w4)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            path,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            "--blink-settings=scriptEnabled=false",
            "--user-data-dir=" + self.profile.name,
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--window-size=1280,1000",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            preexec_fn=child_fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(r3)
        os.close(w4)
        self.w = w3
        self.r = r4
        self.buf = b""
        self.next_id = 0

    def close(self):
        try:
            self.proc.terminate()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
        os.close(self.w)
        os.close(self.r)
        self.profile.cleanup()

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def recv(self, deadline):
        import select

        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            data = os.read(self.r, 1 << 20)
            if not data:
                raise EOFError("Chromium closed the pipe")
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=None):
        i = self.send(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self.recv(deadline)
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def evaluate(self, session, expr):
        r = self.call(
            "Runtime.evaluate", {"expression": expr, "returnByValue": True}, session
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate: {r['exceptionDetails']}")
        return r["result"].get("value")

    def open(self, path):
        """Loads `path` in a new tab; returns the session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.call("Emulation.setScriptExecutionDisabled", {"value": True}, s)
        self.call("Page.enable", None, s)
        url = pathlib.Path(os.path.abspath(path)).as_uri()
        self.call("Page.navigate", {"url": url}, s)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                m = self.recv(deadline)
                if m.get("method") == "Page.loadEventFired" and m.get("sessionId") == s:
                    break
        except TimeoutError:
            self.call("Page.stopLoading", None, s)
        return target, s

    def close_tab(self, target):
        self.call("Target.closeTarget", {"targetId": target})


# Runs in the page (DevTools evaluation works with page scripts disabled). Returns the
# innerText passes and the texts of the excluded/deliberate categories.
MEASURE_JS = r"""
(() => {
  const b = document.body;
  const r = {};
  if (!b) { return JSON.stringify({url: location.href, full: "", noext: "", open: "", noscript: "", aria: "",
                                   alt: "", deliberate: "", nobody: true}); }
  // Text of elements, both glued (as textContent) and split at node boundaries.
  const texts = (els) => Array.from(els).map(e => {
    const parts = [];
    const w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    let n;
    while ((n = w.nextNode())) parts.push(n.data);
    return e.textContent + "\n" + parts.join(" ");
  }).join("\n");
  // innerText of an element that is not rendered is its textContent: a hidden body or
  // document element shows nothing.
  const shown = () => !["html", "body"].some(t => {
    const e = t === "html" ? document.documentElement : b;
    return getComputedStyle(e).display === "none";
  });
  const inner = () => shown() ? b.innerText : "";
  r.url = location.href;
  r.hrefs = Array.from(document.querySelectorAll("a[href]")).map(e => e.getAttribute("href"));
  r.full = inner();
  r.noscript = texts(document.querySelectorAll("noscript"));
  r.aria = texts(Array.from(document.querySelectorAll("[aria-hidden]"))
                 .filter(e => e.getAttribute("aria-hidden").trim().toLowerCase() === "true"));
  r.alt = Array.from(document.querySelectorAll("img[alt], area[alt], input[alt]"))
          .map(e => e.getAttribute("alt")).join("\n");
  r.deliberate = texts(document.querySelectorAll(
      "button, select, option, optgroup, svg, object, embed, applet, iframe, canvas, audio," +
      " video, [popover]," +
      " input, dialog:not([open]), template, map, datalist"));
  r.textarea = texts(document.querySelectorAll("textarea"));
  let ext = 0;
  for (const s of Array.from(document.styleSheets)) {
    const n = s.ownerNode;
    if (n && n.localName === "link" && !(n.getAttribute("href") || "").trim().toLowerCase().startsWith("data:")) {
      s.disabled = true; ext++;
    } else {
      try {
        for (let i = s.cssRules.length - 1; i >= 0; i--) {
          const rule = s.cssRules[i];
          if (rule instanceof CSSImportRule && !rule.href.trim().toLowerCase().startsWith("data:")) {
            s.deleteRule(i); ext++;
          }
        }
      } catch (e) {}
    }
  }
  r.external_sheets = ext;
  r.noext = inner();
  document.querySelectorAll("details:not([open])").forEach(d => { d.open = true; });
  r.open = inner();
  return JSON.stringify(r);
})()
"""

# Where does a word sit? For each text node containing it: the ancestor path and the first
# ancestor whose computed style hides it (with all sheets on).
EXPLAIN_JS = r"""
((ws) => {
  const out = {};
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  const desc = (e) => e.localName + (e.id ? "#" + e.id : "") +
      (e.classList && e.classList.length ? "." + Array.from(e.classList).join(".") : "");
  let n;
  while ((n = walker.nextNode())) {
    const t = n.data.toLowerCase();
    for (const w of ws) {
      if ((out[w] || []).length >= 2 || !t.includes(w)) continue;
      const path = [];
      let hider = null;
      for (let e = n.parentElement; e; e = e.parentElement) {
        path.unshift(desc(e));
        const cs = getComputedStyle(e);
        if (!hider && (cs.display === "none" || cs.visibility === "hidden" ||
                       cs.visibility === "collapse" || cs.contentVisibility === "hidden" ||
                       cs.opacity === "0")) {
          hider = desc(e) + " {display:" + cs.display + "; visibility:" + cs.visibility + "}";
        }
      }
      (out[w] = out[w] || []).push({path: path.slice(-6).join(" > "), hider: hider,
                                    text: n.data.trim().slice(0, 80)});
    }
  }
  return JSON.stringify(out);
})
"""


# --- comparison -------------------------------------------------------------------------


def sub(a, b):
    """Multiset a - b."""
    return a - b


def take(a, b):
    """The part of multiset `a` also in `b` (min counts)."""
    return a & b


def context(text, word, width=40):
    m = re.search(re.escape(word), unicodedata.normalize("NFKC", text).lower())
    if not m:
        return ""
    s = text[max(0, m.start() - width) : m.end() + width]
    return " ".join(s.split())


def compare(m, ours_text):
    ours_text = strip_links(ours_text, m.get("hrefs", []))
    ours = words(ours_text)
    full = words(m["full"])
    noext = words(m["noext"])
    opened = words(m["open"])
    noscript = words(m["noscript"])
    aria = words(m["aria"])
    alt = words(m["alt"])
    deliberate = words(m["deliberate"])

    leaks = sub(sub(sub(ours, full), noscript), alt)
    ext = take(leaks, sub(noext, full))
    leaks = sub(leaks, ext)
    details = take(leaks, sub(opened, noext))
    leaks = sub(leaks, details)
    textarea = take(leaks, words(m.get("textarea", "")))
    leaks = sub(leaks, textarea)
    leak_boundary = boundary(leaks, Squashed(m["open"] + "\n" + m["alt"] + "\n" + m["textarea"]))
    leaks = sub(leaks, leak_boundary)

    drops = sub(sub(sub(full, ours), noscript), aria)
    dropped_deliberate = take(drops, deliberate)
    drops = sub(drops, dropped_deliberate)
    drop_boundary = boundary(drops, Squashed(ours_text))
    drops = sub(drops, drop_boundary)
    return {
        "words_chromium": sum(full.values()),
        "words_ours": sum(ours.values()),
        "leak": leaks,
        "leak_external_css": ext,
        "leak_closed_details": details,
        "leak_textarea": textarea,
        "leak_word_boundary": leak_boundary,
        "drop": drops,
        "drop_deliberate": dropped_deliberate,
        "drop_word_boundary": drop_boundary,
        "excluded_noscript": sum(take(ours | full, noscript).values()),
        "excluded_alt": sum(take(ours, alt).values()),
        "excluded_aria_hidden": sum(take(sub(full, ours), aria).values()),
    }


# --- corpus -----------------------------------------------------------------------------


def spread(files, n):
    """`n` files spread evenly over the sorted list."""
    files = sorted(files)
    if len(files) <= n:
        return files
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def default_corpus():
    """The corpus described in crates/chela-net/BENCH_RESULTS.md (deterministic)."""
    out = []
    out += sorted(glob.glob(os.path.join(REPO, "crates/chela-net/tests/html_corpus/*.html")))
    out += sorted(
        glob.glob(os.path.join(HOME, ".cargo/registry/src/*/html5gum-0.9.0/benches/files/*.html"))
    )
    out += sorted(
        glob.glob(os.path.join(HOME, ".cargo/registry/src/*/html5ever-*/data/bench/*.html"))
    )
    docs = sorted(glob.glob(os.path.join(HOME, ".rustup/toolchains/*/share/doc/rust/html")))
    if docs:
        root = docs[0]
        quota = {
            "book": 20,
            "std": 35,
            "core": 10,
            "alloc": 5,
            "reference": 20,
            "rustdoc": 10,
            "rust-by-example": 10,
            "nomicon": 8,
            "cargo": 10,
            "edition-guide": 6,
            "rustc": 6,
            "error_codes": 5,
            "proc_macro": 3,
            "embedded-book": 2,
        }
        for d, n in quota.items():
            files = [
                f
                for f in glob.glob(os.path.join(root, d, "**/*.html"), recursive=True)
                if "/src/" not in f  # source views are huge <pre> blocks; a few below
            ]
            out += spread(files, n)
        out += spread(glob.glob(os.path.join(root, "src/**/*.html"), recursive=True), 2)
        out += [os.path.join(root, f) for f in ("index.html", "error-index.html")]
    other = {
        "/usr/lib/node_modules/npm/docs/output": 8,
        "/usr/share/doc/nodejs/api": 8,
        "/usr/share/doc/valgrind/html": 5,
        "/usr/share/doc/libxslt1-dev": 5,
        "/usr/share/doc/libffi8/html": 3,
        "/usr/share/gtk-doc/html": 3,
        "/usr/share/doc/shared-mime-info": 1,
        "/usr/share/doc/qemu-utils": 2,
        "/usr/share/doc/python3": 2,
        "/usr/share/doc/libexpat1-dev": 1,
    }
    for d, n in other.items():
        out += spread(glob.glob(os.path.join(d, "**/*.html"), recursive=True), n)
    seen, uniq = set(), []
    for f in out:
        try:
            with open(f, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            continue
        if h not in seen:
            seen.add(h)
            uniq.append(f)
    return uniq


SOUP_TAGS = (
    "div p b i a table tbody tr td th caption colgroup col li ul ol dl dt dd span form h1 h2 "
    "pre em strong font nobr button select option optgroup template svg math mi mtext "
    "foreignobject desc title textarea xmp section address center listing details summary hr "
    "br img input frameset body html head applet object marquee ruby rt rp label fieldset "
    "legend sub code s u tt big small dialog search menu plaintext noembed iframe image"
).split()
SOUP_RARE = {"plaintext": 0.05, "frameset": 0.2, "iframe": 0.3, "noembed": 0.3, "xmp": 0.3,
             "textarea": 0.3, "title": 0.5}


SOUP_CSS = (
    "<style>.h{display:none}.v{visibility:hidden}.c>p{display:none}.d b{display:none}"
    ".e>*>i{visibility:hidden}#x{display:none}div.c+span{display:none}"
    "table.d td:first-child{display:none}</style>"
)
SOUP_CSS_ATTRS = [' class="c"', ' class="d"', ' class="e"', ' id="x"',
                  ' style="display:none"', ' class="h"', ' class="v"', ""]


def soup_page(seed, n=80, css=False):
    """Random tag soup: misnested start/end tags, some hidden by class or attribute, and a
    unique word per text node (w<seed>x<k>), to find tree-building differences. With `css`,
    more hiding rules (child, descendant, sibling, id, inline style) and 120 tokens."""
    import random

    r = random.Random(seed)
    if css:
        out, n, text = ["<!DOCTYPE html>", SOUP_CSS], 120, 0.33
    else:
        out = ["<!DOCTYPE html>" if r.random() < 0.8 else "",
               "<style>.h{display:none}.v{visibility:hidden}</style>"]
        text = 0.35
    k = 0
    for _ in range(n):
        x = r.random()
        if x < text:
            k += 1
            out.append(f" w{seed}x{k} ")
        elif x < 0.8:
            t = r.choice(SOUP_TAGS)
            if r.random() > SOUP_RARE.get(t, 1.0):
                t = "div"
            if css:
                attr = r.choice(SOUP_CSS_ATTRS) if r.random() < 0.5 else ""
            else:
                y = r.random()
                attr = (' class="h"' if y < 0.25 else ' class="v"' if y < 0.3
                        else " hidden" if y < 0.33 else "")
            out.append(f"<{t}{attr}>")
        else:
            out.append(f"</{r.choice(SOUP_TAGS)}>")
    return "".join(out)


def soup_corpus(spec, tmp, css=False):
    """Writes the pages of `--soup FIRST:COUNT` into `tmp` and returns their paths."""
    first, count = (int(x) for x in spec.split(":"))
    paths = []
    for seed in range(first, first + count):
        p = os.path.join(tmp, f"soup{seed:05}.html")
        with open(p, "w") as fh:
            fh.write(soup_page(seed, css=css))
        paths.append(p)
    return paths


def expand(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(glob.glob(os.path.join(p, "**/*.htm*"), recursive=True))
        else:
            out.append(p)
    return out


# --- main -------------------------------------------------------------------------------


def top(counter, n):
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--default-corpus", action="store_true")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    ap.add_argument("--converter", default=os.path.join(target, "debug/examples/html_to_text"))
    ap.add_argument("--chromium", default="/usr/lib/chromium/chromium")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--soup", metavar="FIRST:COUNT", help="also check COUNT generated tag-soup pages")
    ap.add_argument("--soup-css", action="store_true", help="tag soup with more page CSS rules")
    ap.add_argument("--dump", help="write each page's texts (chromium, ours) into this directory")
    a = ap.parse_args()

    files = (default_corpus() if a.default_corpus else []) + expand(a.paths)
    soup_dir = None
    if a.soup:
        soup_dir = tempfile.TemporaryDirectory(prefix="html-soup-")
        files += soup_corpus(a.soup, soup_dir.name, a.soup_css)
    if a.list:
        print("\n".join(files))
        return 0
    if not files:
        ap.error("no input: give files/directories or --default-corpus")
    if not os.access(a.converter, os.X_OK):
        sys.exit(
            f"converter {a.converter} not found: run `cargo build -p chela-net --example "
            "html_to_text` (with the same CARGO_TARGET_DIR) or pass --converter"
        )
    if not os.access(a.chromium, os.X_OK):
        sys.exit(f"Chromium {a.chromium} not found: `apt-get install chromium` or pass --chromium")

    browser = Chromium(a.chromium, a.timeout)
    cats = [
        "leak",
        "leak_external_css",
        "leak_closed_details",
        "leak_textarea",
        "leak_word_boundary",
        "drop",
        "drop_deliberate",
        "drop_word_boundary",
    ]
    totals = collections.Counter()
    files_with = collections.Counter()
    all_leaks = collections.Counter()
    all_drops = collections.Counter()
    results = []
    try:
        for f in files:
            target_id = None
            try:
                with open(f, "rb") as fh:
                    raw = fh.read()
                conv = subprocess.run(
                    [a.converter], input=raw, capture_output=True, timeout=a.timeout
                )
                if conv.returncode != 0:
                    raise RuntimeError(f"converter failed: {conv.stderr.decode(errors='replace')}")
                ours_text = conv.stdout.decode("utf-8", errors="replace")
                target_id, s = browser.open(f)
                m = json.loads(browser.evaluate(s, MEASURE_JS))
                if m.get("url", "").split("#")[0] != pathlib.Path(os.path.abspath(f)).as_uri():
                    # A <meta http-equiv=refresh> took Chromium elsewhere: not comparable.
                    browser.close_tab(target_id)
                    totals["skipped_redirect"] += 1
                    if not a.quiet:
                        print(f"{f}\n  skipped: meta refresh to {m.get('url')}")
                    continue
                if a.dump:
                    os.makedirs(a.dump, exist_ok=True)
                    base = os.path.join(a.dump, f"{totals['files']:03}-{os.path.basename(f)}")
                    for suffix, text in ((".chromium.txt", m["full"]), (".ours.txt", ours_text)):
                        with open(base + suffix, "w") as fh:
                            fh.write(text)
                r = compare(m, ours_text)
                explain = {}
                if a.explain and r["leak"]:
                    ws = [w for w, _ in top(r["leak"], a.top)]
                    explain = json.loads(browser.evaluate(s, EXPLAIN_JS + f"({json.dumps(ws)})"))
                browser.close_tab(target_id)
            except RuntimeError as e:
                if target_id:
                    try:
                        browser.close_tab(target_id)
                    except (RuntimeError, TimeoutError):
                        pass
                if "navigated" in str(e):  # a meta refresh fired while we measured
                    totals["skipped_redirect"] += 1
                    print(f"{f}\n  skipped: meta refresh while measuring", file=sys.stderr)
                    continue
                print(f"!! {f}: {e}", file=sys.stderr)
                totals["errors"] += 1
                continue
            except Exception as e:  # one bad file does not stop the run
                print(f"!! {f}: {e}", file=sys.stderr)
                totals["errors"] += 1
                continue
            totals["files"] += 1
            totals["words_chromium"] += r["words_chromium"]
            totals["words_ours"] += r["words_ours"]
            for k in ("excluded_noscript", "excluded_alt", "excluded_aria_hidden"):
                totals[k] += r[k]
            for c in cats:
                n = sum(r[c].values())
                totals[c] += n
                if n:
                    files_with[c] += 1
            all_leaks.update(r["leak"])
            all_drops.update(r["drop"])
            results.append(
                {"file": f, **{k: (dict(v) if isinstance(v, collections.Counter) else v)
                               for k, v in r.items()}, "explain": explain}
            )
            if a.quiet:
                continue
            counts = "  ".join(f"{c}={sum(r[c].values())}" for c in cats)
            print(f"{f}\n  chromium={r['words_chromium']} ours={r['words_ours']}  {counts}")
            for w, n in top(r["leak"], a.top):
                print(f"    LEAK {w!r} x{n}: …{context(ours_text, w)}…")
                for where in explain.get(w, []):
                    print(f"         in {where['path']}  hidden by: {where['hider']}")
            for w, n in top(r["drop"], min(a.top, 5)):
                print(f"    DROP {w!r} x{n}: …{context(m['full'], w)}…")
            for label, c in (("ext-css", "leak_external_css"), ("details", "leak_closed_details")):
                if r[c]:
                    ws = ", ".join(w for w, _ in top(r[c], 6))
                    print(f"    ({label} leaks: {ws})")
    finally:
        browser.close()

    print("\n== Summary ==")
    print(
        f"files compared: {totals['files']}  errors: {totals['errors']}  "
        f"skipped (meta refresh): {totals['skipped_redirect']}"
    )
    print(f"words: chromium {totals['words_chromium']}  ours {totals['words_ours']}")
    for c in cats:
        print(f"{c:22} {totals[c]:8} words in {files_with[c]} files")
    print(
        f"excluded: noscript {totals['excluded_noscript']}, alt {totals['excluded_alt']}, "
        f"aria-hidden {totals['excluded_aria_hidden']}"
    )
    print("top unexplained leaks:", ", ".join(f"{w}×{n}" for w, n in top(all_leaks, 15)))
    print("top unexplained drops:", ", ".join(f"{w}×{n}" for w, n in top(all_drops, 15)))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"totals": totals, "files": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
