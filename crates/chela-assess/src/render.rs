//! Report renderers: a terminal table grouped by audience, Markdown, and a self-contained,
//! print-friendly HTML report a compliance officer can file.

use std::fmt::Write as _;

use crate::guidance::Audience;
use crate::model::{ItemResult, Report, Status};

fn color_of(s: Status) -> &'static str {
    match s {
        Status::Pass => "\x1b[32m",
        Status::Warn => "\x1b[33m",
        Status::Fail => "\x1b[1;31m",
        Status::Manual => "\x1b[36m",
    }
}

fn verdict(r: &Report) -> &'static str {
    if r.summary.fail > 0 {
        "NOT MET: at least one item fails"
    } else if r.summary.warn > 0 || r.summary.manual > 0 {
        "MET WITH OBSERVATIONS: no item fails"
    } else {
        "MET: every item passes"
    }
}

fn head_text(r: &Report) -> String {
    match &r.audit_head {
        Some(h) => format!(
            "seq {} hash {}{}",
            h.seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            h.hash.as_deref().unwrap_or("-"),
            if h.verified {
                " (verified)"
            } else {
                " (DAMAGED)"
            }
        ),
        None => "no verifiable audit log".into(),
    }
}

fn by_audience(r: &Report, a: Audience) -> Vec<&ItemResult> {
    r.items.iter().filter(|i| i.audience == a).collect()
}

/// The terminal table (ANSI colours when `color`).
pub fn table(r: &Report, color: bool) -> String {
    let (bold, dim, reset) = if color {
        ("\x1b[1m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{bold}Chela security assessment{reset} (CNCERT/CSAC OpenClaw guidance) · {} · host {} · uid {} ({}) · {} · chela {}",
        r.generated_at, r.host.hostname, r.host.euid, r.host.user, r.host.environment, r.chela_version
    );
    let _ = writeln!(
        o,
        "{dim}CHELA_HOME {} · audit head {}{reset}",
        r.chela_home,
        head_text(r)
    );
    for a in Audience::ALL {
        let items = by_audience(r, a);
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{bold}{}{reset}", a.heading());
        for i in items {
            let (c, e) = if color {
                (color_of(i.status), reset)
            } else {
                ("", "")
            };
            let _ = writeln!(
                o,
                "  {c}{:<6}{e}  {:<10} {}",
                i.status.label(),
                i.id,
                i.summary
            );
            if i.status != Status::Pass {
                for rem in &i.remediation {
                    for (n, line) in rem.lines().enumerate() {
                        let lead = if n == 0 { "fix:" } else { "    " };
                        let _ = writeln!(o, "  {:<6}  {:<10} {dim}{lead} {line}{reset}", "", "");
                    }
                }
            }
        }
    }
    let s = r.summary;
    let _ = writeln!(
        o,
        "\n{bold}{}{reset}: {} pass, {} warn, {} fail, {} manual (exit {}). Evidence: `chela assess --json` or `--format html -o report.html`.",
        verdict(r),
        s.pass,
        s.warn,
        s.fail,
        s.manual,
        r.exit_code
    );
    o
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown report.
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Chela security assessment report\n");
    let _ = writeln!(
        o,
        "Assessment against the CNCERT/CC and CSAC *OpenClaw Security Practice Guide* (22 March 2026) and the earlier CNCERT and NVDB alerts, with OWASP LLM Top 10 2025 and Agentic Top 10 2026 mapping.\n"
    );
    let _ = writeln!(o, "| | |\n|---|---|");
    for (k, v) in meta_rows(r) {
        let _ = writeln!(o, "| {} | {} |", k, md_escape(&v));
    }
    let s = r.summary;
    let _ = writeln!(
        o,
        "\n**Result: {}** — {} pass, {} warn, {} fail, {} manual (exit code {}).\n",
        verdict(r),
        s.pass,
        s.warn,
        s.fail,
        s.manual,
        r.exit_code
    );
    let _ = writeln!(
        o,
        "## Overview\n\n| ID | Audience | Status | Finding |\n|---|---|---|---|"
    );
    for i in &r.items {
        let _ = writeln!(
            o,
            "| {} | {} | **{}** | {} |",
            i.id,
            i.audience.label(),
            i.status.label(),
            md_escape(&i.summary)
        );
    }
    for a in Audience::ALL {
        let items = by_audience(r, a);
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n## {}\n", a.heading());
        for i in items {
            let _ = writeln!(o, "### {} — {}\n", i.id, i.status.label());
            let _ = writeln!(o, "*Requirement:* {}\n", i.requirement);
            let _ = writeln!(o, "*Finding:* {}\n", i.summary);
            if !i.owasp.is_empty() {
                let _ = writeln!(o, "*OWASP:* {}\n", owasp_text(i));
            }
            if let Some(at) = &i.attestation {
                let _ = writeln!(
                    o,
                    "*Attested:* by {} on {} (audit record {}): {}\n",
                    at.by,
                    at.at,
                    at.audit_seq
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    at.note
                );
            }
            let _ = writeln!(o, "Evidence:\n");
            for e in &i.evidence {
                let _ = writeln!(o, "- **{}**: `{}`", e.label, e.value.replace('`', "'"));
            }
            if !i.remediation.is_empty() {
                let _ = writeln!(o, "\nRemediation:\n\n```");
                for rem in &i.remediation {
                    let _ = writeln!(o, "{rem}");
                }
                let _ = writeln!(o, "```");
            }
            let _ = writeln!(o);
        }
    }
    let _ = writeln!(
        o,
        "---\nGenerated by `chela assess` (report schema {}). The audit head above can be checked with `chela audit verify`; attestations are records in that log.\n\nReviewed by: ______________________  Date: ____________  Signature: ______________________",
        r.schema_version
    );
    o
}

fn owasp_text(i: &ItemResult) -> String {
    i.owasp
        .iter()
        .map(|c| match crate::guidance::owasp_name(c) {
            Some(n) if !n.is_empty() => format!("{c} {n}"),
            _ => c.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn meta_rows(r: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("Generated", r.generated_at.clone()),
        (
            "Host",
            format!(
                "{} ({}, kernel {}, {})",
                r.host.hostname, r.host.environment, r.host.kernel, r.host.arch
            ),
        ),
        (
            "Assessed as",
            format!("{} (uid {})", r.host.user, r.host.euid),
        ),
        (
            "Chela version",
            format!(
                "{} ({} build)",
                r.chela_version,
                if r.release_build { "release" } else { "debug" }
            ),
        ),
        ("CHELA_HOME", r.chela_home.clone()),
        ("Audit log head", head_text(r)),
        (
            "Audit signing key",
            r.audit_head
                .as_ref()
                .and_then(|h| h.pubkey.clone())
                .unwrap_or_else(|| "-".into()),
        ),
        ("Report schema", r.schema_version.to_string()),
    ]
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root{--ink:#1d2430;--muted:#5b6675;--line:#d9dee5;--bg:#f5f7fa;--pass:#1f7a3d;--pass-bg:#e6f4ea;--warn:#8a5a00;--warn-bg:#fff4d6;--fail:#b3261e;--fail-bg:#fde7e5;--manual:#1a5f8a;--manual-bg:#e3f0f8;}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 "Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans CJK SC",sans-serif}
.page{max-width:1040px;margin:24px auto;background:#fff;border:1px solid var(--line);padding:40px 48px}
header{border-bottom:3px solid var(--ink);padding-bottom:16px;margin-bottom:20px}
.kicker{text-transform:uppercase;letter-spacing:.12em;font-size:11px;color:var(--muted);margin:0 0 6px}
h1{font-size:26px;margin:0 0 6px}
.sub{color:var(--muted);margin:0}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
table{border-collapse:collapse;width:100%}
.meta td{padding:4px 10px 4px 0;vertical-align:top;border-bottom:1px solid #eef1f4}
.meta td:first-child{color:var(--muted);width:170px;white-space:nowrap}
.mono,code{font-family:"SFMono-Regular",Consolas,"Liberation Mono",monospace;font-size:12px;word-break:break-all}
.result{display:flex;gap:12px;margin:18px 0 6px;align-items:stretch}
.verdict{flex:2;padding:14px 16px;border-radius:6px;font-weight:600;font-size:15px}
.verdict.ok{background:var(--pass-bg);color:var(--pass)}.verdict.obs{background:var(--warn-bg);color:var(--warn)}.verdict.bad{background:var(--fail-bg);color:var(--fail)}
.count{flex:1;border:1px solid var(--line);border-radius:6px;padding:10px;text-align:center}
.count b{display:block;font-size:22px}
.count.pass b{color:var(--pass)}.count.warn b{color:var(--warn)}.count.fail b{color:var(--fail)}.count.manual b{color:var(--manual)}
.badge{display:inline-block;min-width:64px;text-align:center;padding:2px 8px;border-radius:10px;font-size:11px;font-weight:700;letter-spacing:.04em}
.b-pass{background:var(--pass-bg);color:var(--pass)}.b-warn{background:var(--warn-bg);color:var(--warn)}.b-fail{background:var(--fail-bg);color:var(--fail)}.b-manual{background:var(--manual-bg);color:var(--manual)}
.overview th,.overview td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
.overview th{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);background:#fafbfc}
.overview td:first-child{white-space:nowrap;font-weight:600}.overview td:nth-child(2),.overview td:nth-child(3){white-space:nowrap}
.item{border:1px solid var(--line);border-left:5px solid var(--line);border-radius:4px;padding:12px 16px;margin:12px 0;page-break-inside:avoid;break-inside:avoid}
.item.s-pass{border-left-color:var(--pass)}.item.s-warn{border-left-color:var(--warn)}.item.s-fail{border-left-color:var(--fail)}.item.s-manual{border-left-color:var(--manual)}
.item h3{margin:0 0 4px;font-size:15px;display:flex;gap:10px;align-items:center}
.req{color:var(--muted);margin:0 0 6px;font-size:13px}
.finding{margin:4px 0 8px;font-weight:600}
.ev td{padding:3px 8px 3px 0;border-top:1px solid #f0f2f5;vertical-align:top;font-size:12.5px}
.ev td:first-child{color:var(--muted);width:210px}
.rem{background:#f6f8fa;border:1px solid var(--line);border-radius:4px;padding:8px 10px;margin:8px 0 0;white-space:pre-wrap}
.tags{margin-top:6px;font-size:12px;color:var(--muted)}
.att{margin-top:6px;font-size:12.5px;background:var(--manual-bg);padding:6px 8px;border-radius:4px}
.signoff{margin-top:36px;display:grid;grid-template-columns:1fr 1fr 1fr;gap:24px}
.signoff div{border-top:1px solid var(--ink);padding-top:4px;font-size:12px;color:var(--muted)}
footer{margin-top:24px;font-size:11.5px;color:var(--muted);border-top:1px solid var(--line);padding-top:10px}
@media print{body{background:#fff}.page{border:0;margin:0;max-width:none;padding:0}h2{page-break-after:avoid}.overview tr{page-break-inside:avoid}@page{size:A4;margin:16mm 14mm}}
"#;

/// A self-contained HTML report (inline CSS, no scripts, no external resources).
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Chela security assessment — {} — {}</title><style>{CSS}</style></head><body><div class=\"page\">",
        esc(&r.host.hostname),
        esc(&r.generated_at)
    );
    let _ = write!(
        o,
        "<header><p class=\"kicker\">Security compliance evidence</p><h1>Chela security assessment report</h1><p class=\"sub\">Against the CNCERT/CC &amp; CSAC <i>OpenClaw Security Practice Guide</i> (22 March 2026), the CNCERT alert of 10 March and the NVDB “six dos and six don’ts” of 11 March 2026, mapped to OWASP LLM Top 10 2025 and Agentic Top 10 2026.</p></header>"
    );
    let _ = write!(o, "<table class=\"meta\">");
    for (k, v) in meta_rows(r) {
        let cls = if k.starts_with("Audit") || k == "CHELA_HOME" {
            " class=\"mono\""
        } else {
            ""
        };
        let _ = write!(o, "<tr><td>{}</td><td{cls}>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = write!(o, "</table>");
    let s = r.summary;
    let vcls = if s.fail > 0 {
        "bad"
    } else if s.warn > 0 || s.manual > 0 {
        "obs"
    } else {
        "ok"
    };
    let _ = write!(
        o,
        "<div class=\"result\"><div class=\"verdict {vcls}\">{}<br><span style=\"font-weight:400;font-size:12px\">{} items assessed · exit code {}</span></div><div class=\"count pass\"><b>{}</b>pass</div><div class=\"count warn\"><b>{}</b>warn</div><div class=\"count fail\"><b>{}</b>fail</div><div class=\"count manual\"><b>{}</b>manual</div></div>",
        esc(verdict(r)),
        r.items.len(),
        r.exit_code,
        s.pass,
        s.warn,
        s.fail,
        s.manual
    );
    let _ = write!(o, "<h2>Overview</h2><table class=\"overview\"><tr><th>ID</th><th>Audience</th><th>Status</th><th>Finding</th></tr>");
    for i in &r.items {
        let _ = write!(
            o,
            "<tr><td><a href=\"#{id}\">{id}</a></td><td>{}</td><td><span class=\"badge b-{st}\">{}</span></td><td>{}</td></tr>",
            esc(i.audience.label()),
            i.status.label(),
            esc(&i.summary),
            id = esc(&i.id),
            st = i.status.as_str()
        );
    }
    let _ = write!(o, "</table>");
    for a in Audience::ALL {
        let items = by_audience(r, a);
        if items.is_empty() {
            continue;
        }
        let _ = write!(o, "<h2>{}</h2>", esc(a.heading()));
        for i in items {
            let st = i.status.as_str();
            let _ = write!(
                o,
                "<section class=\"item s-{st}\" id=\"{id}\"><h3><span class=\"badge b-{st}\">{}</span>{id}</h3><p class=\"req\">{}</p><p class=\"finding\">{}</p><table class=\"ev\">",
                i.status.label(),
                esc(&i.requirement),
                esc(&i.summary),
                id = esc(&i.id)
            );
            for e in &i.evidence {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td class=\"mono\">{}</td></tr>",
                    esc(&e.label),
                    esc(&e.value)
                );
            }
            let _ = write!(o, "</table>");
            if let Some(at) = &i.attestation {
                let _ =
                    write!(
                    o,
                    "<div class=\"att\">Attested by <b>{}</b> on {} (audit record {}): {}</div>",
                    esc(&at.by),
                    esc(&at.at),
                    at.audit_seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    esc(&at.note)
                );
            }
            if !i.remediation.is_empty() {
                let _ = write!(
                    o,
                    "<div class=\"rem mono\">{}</div>",
                    esc(&i.remediation.join("\n"))
                );
            }
            if !i.owasp.is_empty() {
                let _ = write!(
                    o,
                    "<div class=\"tags\">OWASP: {}</div>",
                    esc(&owasp_text(i))
                );
            }
            let _ = write!(o, "</section>");
        }
    }
    let _ = writeln!(
        o,
        "<div class=\"signoff\"><div>Reviewed by</div><div>Date</div><div>Signature</div></div><footer>Generated by <code>chela assess</code> {} (report schema {}) at {} on {}. Evidence was observed live on the host (sandbox escape probe, sockets, files, audit log). The audit log head identifies the log state at assessment time; verify it with <code>chela audit verify --pubkey &lt;key&gt;</code>. Attestations are signed-chain records in that log.</footer></div></body></html>",
        esc(&r.chela_version),
        r.schema_version,
        esc(&r.generated_at),
        esc(&r.host.hostname)
    );
    o
}
