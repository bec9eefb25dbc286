//! One check per guidance item: pure functions from [`Facts`] to a result with evidence,
//! remediation and safe fixes.

use std::path::Path;

use chela_guard::Confidence;

use crate::attest::{self, MANUAL_ITEMS};
use crate::facts::Facts;
use crate::guidance::{self, Item};
use crate::model::{Evidence, Fix, ItemResult, Status};
use crate::probe::ProbeOutcome;

/// A check's verdict before it is joined with the item's metadata.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Status.
    pub status: Status,
    /// One line.
    pub summary: String,
    /// Observations.
    pub evidence: Vec<Evidence>,
    /// Commands or config lines.
    pub remediation: Vec<String>,
    /// Safe fixes.
    pub fixes: Vec<Fix>,
}

impl Outcome {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Outcome {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            remediation: Vec::new(),
            fixes: Vec::new(),
        }
    }
    fn ev(mut self, label: &str, value: impl Into<String>) -> Self {
        self.evidence.push(Evidence::new(label, value));
        self
    }
    fn evs(mut self, e: Vec<Evidence>) -> Self {
        self.evidence.extend(e);
        self
    }
    fn fix(mut self, line: impl Into<String>) -> Self {
        self.remediation.push(line.into());
        self
    }
    /// Raises the status to `s` (never lowers it) and records why.
    /// At the same (non-pass) status the reason is appended.
    fn raise(&mut self, s: Status, why: impl Into<String>) {
        let why = why.into();
        if s > self.status {
            self.status = s;
            self.summary = why;
        } else if s == self.status && s != Status::Pass && !self.summary.contains(&why) {
            self.summary = format!("{}; {why}", self.summary);
        }
    }
}

/// Builds the results for every item of the embedded GUIDANCE.md.
pub fn evaluate(f: &Facts) -> Vec<ItemResult> {
    guidance::items()
        .into_iter()
        .map(|i| result(f, &i))
        .collect()
}

fn result(f: &Facts, item: &Item) -> ItemResult {
    let mut o = check(f, &item.id);
    let manual = MANUAL_ITEMS.contains(&item.id.as_str());
    let attestation = attest::current(&f.attestations, &item.id, f.now).cloned();
    if manual {
        match &attestation {
            Some(a) if o.status <= Status::Manual => {
                o.status = Status::Pass;
                o.summary = format!("attested by {} on {}: {}", a.by, a.at, a.note);
                o.remediation.clear();
            }
            Some(_) => {}
            None => {
                let expired = f.attestations.iter().any(|a| a.id == item.id);
                o.remediation.push(format!(
                    "chela assess attest {} --note \"<document or exercise that evidences it, with date>\"{}",
                    item.id,
                    if expired {
                        " (the last attestation is older than 365 days)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    if o.status == Status::Pass && !manual {
        o.remediation.clear();
    }
    ItemResult {
        id: item.id.clone(),
        audience: item.audience,
        requirement: item.requirement.clone(),
        status: o.status,
        summary: o.summary,
        evidence: o.evidence,
        remediation: o.remediation,
        owasp: item.owasp.clone(),
        manual,
        attestation,
        fixes: o.fixes,
    }
}

fn check(f: &Facts, id: &str) -> Outcome {
    match id {
        "CN-A1" => a1_dedicated(f),
        "CN-A2" => exposure(f, "CN-A2"),
        "CN-A3" => a3_privilege(f),
        "CN-A4" => a4_private_data(f),
        "CN-A5" | "CN-D5" | "CNCERT-M3" | "NVDB-4" => skills(f, id),
        "CN-A6" | "CNCERT-M4" => version(f, false),
        "NVDB-1" => version(f, true),
        "CN-B1" => b1_isolation(f),
        "CN-B2" => b2_least_privilege(f),
        "CN-B3" => b3_audit(f),
        "CN-B4" => b4_rules(f),
        "CN-B5" => b5_patch_rotate(f),
        "CN-B6" => b6_incident(f),
        "CN-C1" => c1_host_baseline(f),
        "CN-C2" => c2_detection(f),
        "CN-C3" => c3_data_protection(f),
        "CN-D1" => d1_token(f),
        "CN-D2" | "NVDB-2" => exposure(f, id),
        "CN-D3" => d3_sandbox_view(f),
        "CN-D4" => d4_tools(f),
        "CN-D6" => d6_floor(f),
        "CN-D7" => d7_baseline(f),
        "CN-D8" => d8_regular(f),
        "CNCERT-M1" => m1(f),
        "CNCERT-M2" => m2_keys_and_log(f),
        "NVDB-3" => nvdb3(f),
        "NVDB-5" => nvdb5_untrusted(f),
        "NVDB-6" => nvdb6_logging(f),
        other => Outcome::new(
            Status::Fail,
            format!("no check is implemented for {other}; this build of chela-assess is out of date with GUIDANCE.md"),
        ),
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

// ----- environment and isolation --------------------------------------------------------------

fn sandbox_evidence(f: &Facts) -> Vec<Evidence> {
    let Some(sb) = &f.sandbox else {
        return vec![Evidence::new("sandbox probe", "not run (--no-probe)")];
    };
    let k = &sb.kernel;
    let mut e = vec![
        Evidence::new("kernel", format!("{} ({})", k.kernel, k.arch)),
        Evidence::new(
            "user namespaces",
            if k.user_namespaces.available {
                "available"
            } else {
                "MISSING"
            },
        ),
        Evidence::new(
            "Landlock",
            match k.landlock_abi {
                Some(abi) if k.landlock.available => format!("available, ABI v{abi}"),
                _ => format!("MISSING ({})", k.landlock.detail),
            },
        ),
        Evidence::new(
            "seccomp",
            if k.seccomp.available {
                "available"
            } else {
                "MISSING"
            },
        ),
    ];
    match &sb.outcome {
        ProbeOutcome::Ran(r) => {
            e.push(Evidence::new("enforced layers", r.level.clone()));
            e.push(Evidence::new(
                "probe: write outside workspace",
                format!(
                    "{} (target {})",
                    if r.write_outside_blocked { "blocked" } else { "NOT BLOCKED" },
                    r.outside_target.display()
                ),
            ));
            e.push(Evidence::new(
                "probe: write to /usr",
                if r.write_system_blocked { "blocked (read-only system view)" } else { "NOT BLOCKED" },
            ));
            e.push(Evidence::new(
                "probe: TCP to host loopback",
                format!(
                    "{} (listener 127.0.0.1:{} on the host)",
                    if !r.connect_attempted {
                        "not attempted"
                    } else if r.loopback_blocked {
                        "blocked, listener received nothing"
                    } else {
                        "NOT BLOCKED"
                    },
                    r.port
                ),
            ));
            e.push(Evidence::new(
                "probe: control write inside workspace",
                if r.control_ok { "succeeded" } else { "FAILED (probe inconclusive)" },
            ));
            e.push(Evidence::new(
                "probe transcript",
                format!("{} ({} ms)", r.transcript, r.duration_ms),
            ));
        }
        ProbeOutcome::Skipped => {
            e.push(Evidence::new(
                "enforced layers",
                k.enforced
                    .clone()
                    .unwrap_or_else(|| format!("NONE: {}", k.refused.join("; "))),
            ));
            e.push(Evidence::new("sandbox probe", "not run (--no-probe)"));
        }
        ProbeOutcome::Root => e.push(Evidence::new(
            "sandbox probe",
            "not run: the sandbox refuses uid 0 (as Chela does); run `chela assess` as the Chela user for the probe",
        )),
        ProbeOutcome::Unavailable { reason } => {
            e.push(Evidence::new("sandbox", format!("UNAVAILABLE: {reason}")))
        }
    }
    e
}

/// Status of the isolation probe: pass when contained, fail when unavailable or escaped.
fn probe_status(f: &Facts, need: fn(&crate::probe::ProbeRun) -> bool) -> (Status, String) {
    match f.sandbox.as_ref().map(|s| &s.outcome) {
        None | Some(ProbeOutcome::Skipped) => (
            Status::Warn,
            "isolation probe not run (--no-probe): isolation is not demonstrated".into(),
        ),
        Some(ProbeOutcome::Root) => (
            Status::Warn,
            "isolation probe not run as root; run it as the Chela user".into(),
        ),
        Some(ProbeOutcome::Unavailable { reason }) => (
            Status::Fail,
            format!("the sandbox is unavailable, so tools cannot be isolated: {reason}"),
        ),
        Some(ProbeOutcome::Ran(r)) if !r.control_ok || !r.connect_attempted => (
            Status::Warn,
            "isolation probe inconclusive (its control step failed)".into(),
        ),
        Some(ProbeOutcome::Ran(r)) if need(r) => (
            Status::Pass,
            "a live escape probe (write outside the workspace, write to /usr, TCP to host loopback) was contained".into(),
        ),
        Some(ProbeOutcome::Ran(_)) => (
            Status::Fail,
            "the isolation probe ESCAPED the sandbox".into(),
        ),
    }
}

fn a1_dedicated(f: &Facts) -> Outcome {
    let env = &f.environment;
    let mut o = Outcome::new(
        Status::Pass,
        format!("runs in a {} with no daily-use data", env.kind),
    )
    .ev(
        "host type",
        format!("{}: {}", env.kind, env.signs.join("; ")),
    );
    let home = f
        .user_home
        .as_ref()
        .map(|h| p(h))
        .unwrap_or_else(|| "(HOME not set)".into());
    if f.daily_signs.is_empty() {
        o = o.ev(
            "daily-use signs",
            format!("none found under {home} (browser profiles, password managers)"),
        );
    } else {
        let list: Vec<String> = f
            .daily_signs
            .iter()
            .map(|(l, path)| format!("{l}: {}", p(path)))
            .collect();
        o = o.ev("daily-use signs", list.join("; "));
    }
    let (ps, _) = probe_status(f, |r| r.contained());
    o = o.ev("tool isolation", format!("sandbox probe: {}", ps.as_str()));
    let isolated = env.kind == "vm" || env.kind == "container";
    if !f.daily_signs.is_empty() && !isolated {
        o.raise(
            Status::Fail,
            format!(
                "a {} host with daily-use data ({} sign(s)): this looks like a personal or office machine",
                env.kind,
                f.daily_signs.len()
            ),
        );
    } else if !f.daily_signs.is_empty() {
        o.raise(
            Status::Warn,
            format!("a {} that also holds daily-use data", env.kind),
        );
    } else if !isolated {
        o.raise(
            Status::Warn,
            format!("{} host: cannot confirm it is dedicated to Chela", env.kind),
        );
    }
    o.fix("run Chela in a VM or container used for nothing else, e.g. `podman run -it --rm -v chela:/home/chela debian:stable` or a `multipass launch --name chela` VM")
        .fix("keep browser profiles and password managers out of the account that runs Chela (create one: `sudo useradd --create-home chela`)")
}

fn a3_privilege(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "unprivileged user; tools see only the workspace; sensitive home folders are denied",
    )
    .ev("effective uid", format!("{} ({})", f.euid, f.user));
    if let Ok(pol) = &f.policy.policy {
        let private: Vec<String> = pol.context.private_paths.iter().map(|x| p(x)).collect();
        o = o.ev(
            "deny/approval list (private paths)",
            format!("{} path(s): {}", private.len(), private.join(", ")),
        );
        if !pol.deny_paths.is_empty() {
            o = o.ev(
                "deny_paths",
                pol.deny_paths
                    .iter()
                    .map(|d| d.value.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
    o = o.evs(
        sandbox_evidence(f)
            .into_iter()
            .filter(|e| e.label.contains("outside") || e.label == "sandbox probe")
            .collect(),
    );
    if let Some(ProbeOutcome::Ran(r)) = f.sandbox.as_ref().map(|s| &s.outcome) {
        if r.control_ok && !r.write_outside_blocked {
            o.raise(
                Status::Fail,
                "a sandboxed program wrote outside the workspace",
            );
        }
    }
    if f.euid == 0 {
        o.raise(
            Status::Fail,
            "this session runs as root (uid 0); Chela itself refuses root, run it as an unprivileged user",
        );
        o = o
            .fix("sudo useradd --create-home --shell /bin/bash chela && sudo -iu chela chela init");
    }
    o
}

fn a4_private_data(f: &Facts) -> Outcome {
    let s = &f.scan;
    if let Some(e) = &s.error {
        return Outcome::new(Status::Fail, format!("the guard could not be built: {e}"));
    }
    let mut o = Outcome::new(
        Status::Pass,
        "no bank cards, ID numbers, mnemonics, private keys or API keys in the workspace",
    )
    .ev(
        "scanned",
        format!(
            "{} file(s), {} bytes in {}{}",
            s.files,
            s.bytes,
            s.paths.iter().map(|x| p(x)).collect::<Vec<_>>().join(", "),
            if s.skipped > 0 {
                format!(" ({} skipped: binary or too large)", s.skipped)
            } else {
                String::new()
            }
        ),
    );
    if s.paths.is_empty() {
        o = o.ev("scanned", "no workspace or memory directory exists");
    }
    let high: Vec<&String> = s
        .findings
        .iter()
        .filter(|(c, _)| *c == Confidence::High)
        .map(|(_, t)| t)
        .collect();
    let other: Vec<&String> = s
        .findings
        .iter()
        .filter(|(c, _)| *c != Confidence::High)
        .map(|(_, t)| t)
        .collect();
    for t in high.iter().chain(other.iter()).take(20) {
        o = o.ev("finding", (*t).clone());
    }
    if s.findings.len() > 20 {
        o = o.ev("finding", format!("… and {} more", s.findings.len() - 20));
    }
    if !high.is_empty() {
        o.raise(
            Status::Fail,
            format!(
                "{} high-confidence private item(s) in the workspace",
                high.len()
            ),
        );
    } else if !other.is_empty() {
        o.raise(
            Status::Warn,
            format!("{} possible private item(s) in the workspace", other.len()),
        );
    }
    if o.status != Status::Pass {
        o = o
            .fix(format!(
                "review with `chela scan {}`, then move key files, mnemonics and ID or card data out of the workspace",
                p(&f.home.join("workspace"))
            ))
            .fix("rotate any API key or private key that was stored there");
    }
    o
}

fn skills(f: &Facts, id: &str) -> Outcome {
    let what = match id {
        "CNCERT-M3" => "extensions",
        _ => "skills",
    };
    if f.skills_dir {
        Outcome::new(
            Status::Warn,
            format!(
                "{} exists but this build has no skill support to verify it",
                p(&f.home.join("skills"))
            ),
        )
        .ev("skills directory", p(&f.home.join("skills")))
        .fix(format!(
            "remove unverified files: `rm -r {}`",
            p(&f.home.join("skills"))
        ))
    } else {
        Outcome::new(
            Status::Pass,
            format!("{what} not installed: this build cannot load {what}, so none can be installed or auto-updated"),
        )
        .ev("skills", "not installed (no skills directory, no skill loader in this build)")
    }
}

fn version(f: &Facts, official: bool) -> Outcome {
    let cur = crate::feed::CURRENT_VERSION;
    let mut o = Outcome::new(
        Status::Pass,
        format!("version {cur} has no known advisories"),
    )
    .ev(
        "version",
        format!(
            "{cur} ({} build)",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        ),
    );
    let check_cmd = "chela update check --feed <URL or FILE> --pubkey <release key file>";
    match &f.feed.last {
        Some(last) => {
            let age_days = f.now.saturating_sub(last.checked_at_unix) / 86_400;
            o = o
                .ev(
                    "advisory feed",
                    format!("{} (issued {}, key {})", last.feed, last.issued, last.key),
                )
                .ev(
                    "last successful check",
                    format!("{} ({age_days} day(s) ago)", last.checked_at),
                )
                .ev("latest official release", last.latest.clone());
            if !last.affecting.is_empty() {
                let ids: Vec<String> = last
                    .affecting
                    .iter()
                    .map(|a| {
                        format!(
                            "{} [{}] {} (fixed in {})",
                            a.id,
                            a.severity,
                            a.summary,
                            a.fixed.as_deref().unwrap_or("no fix yet")
                        )
                    })
                    .collect();
                o = o.ev("advisories affecting this version", ids.join("; "));
                o.raise(
                    Status::Fail,
                    format!(
                        "version {cur} is affected by {} advisory(ies)",
                        last.affecting.len()
                    ),
                );
                o = o.fix(format!(
                    "update to {} or later from the official release channel",
                    last.affecting
                        .iter()
                        .filter_map(|a| a.fixed.clone())
                        .max()
                        .unwrap_or_else(|| last.latest.clone())
                ));
            }
            let newer = match (
                crate::feed::Version::parse(&last.latest),
                crate::feed::Version::parse(cur),
            ) {
                (Ok(l), Ok(c)) => l > c,
                _ => false,
            };
            if newer {
                o.raise(
                    Status::Warn,
                    format!("a newer official release ({}) exists", last.latest),
                );
                o = o.fix(format!(
                    "update to {} from the official release channel",
                    last.latest
                ));
            }
            if age_days > 7 {
                o.raise(
                    Status::Warn,
                    format!(
                        "last successful advisory check was {age_days} days ago ({})",
                        last.checked_at
                    ),
                );
                o = o.fix(check_cmd);
            }
        }
        None => {
            o.raise(
                Status::Warn,
                "no advisory check has succeeded yet: the version cannot be compared with known vulnerabilities",
            );
            o = o.ev("last successful check", "never").fix(check_cmd);
        }
    }
    if let Some(e) = &f.feed.error {
        o = o.ev(
            "last failed attempt",
            format!("{} {}: {}", e.at, e.feed, e.error),
        );
        if f.feed.refreshed {
            o.raise(
                Status::Warn,
                format!(
                    "the advisory feed is unreachable; last success {}",
                    f.feed
                        .last
                        .as_ref()
                        .map(|l| l.checked_at.as_str())
                        .unwrap_or("never")
                ),
            );
        }
    }
    if official && cfg!(debug_assertions) {
        o.raise(
            Status::Warn,
            "this is a debug build, not an official release",
        );
        o = o.fix("install the official release build (cargo build --release, or the signed release package)");
    }
    o
}

fn b1_isolation(f: &Facts) -> Outcome {
    let (st, why) = probe_status(f, |r| r.contained());
    let mut o = Outcome::new(Status::Pass, why.clone()).evs(sandbox_evidence(f));
    o.raise(st, why);
    o = o.ev(
        "sandbox egress",
        if f.config.allow_domains.is_empty() {
            "no network for tools (no [sandbox] allow_domains)".to_string()
        } else {
            format!(
                "only through Chela's audited proxy to: {}",
                f.config.allow_domains.join(", ")
            )
        },
    );
    if o.status != Status::Pass {
        if let Some(sb) = &f.sandbox {
            for r in &sb.kernel.refused {
                o = o.fix(r.clone());
            }
        }
        o = o.fix(
            "`chela sandbox check` shows which kernel feature is missing and how to enable it",
        );
    }
    o
}

fn policy_evidence(f: &Facts) -> Vec<Evidence> {
    let mut e = Vec::new();
    match &f.policy.policy {
        Ok(pol) => {
            e.push(Evidence::new(
                "tool profile",
                format!("{} ({})", pol.profile.value.as_str(), pol.profile.source),
            ));
            let enabled = pol.filter_tools(chela_policy::KNOWN_TOOLS);
            e.push(Evidence::new("tools enabled", enabled.join(", ")));
            e.push(Evidence::new(
                "approval mode",
                format!(
                    "{} ({})",
                    pol.approval_mode.value.as_str(),
                    pol.approval_mode.source
                ),
            ));
            e.push(Evidence::new(
                "pre-approval rules",
                format!("{}", pol.allow_rules.len()),
            ));
            e.push(Evidence::new("policy layers", pol.layers.join(" < ")));
        }
        Err(err) => e.push(Evidence::new("policy", format!("CANNOT LOAD: {err}"))),
    }
    e.push(Evidence::new(
        "organisation policy",
        if f.policy.org_present {
            format!("present: {}", p(&f.org_policy))
        } else {
            format!("absent ({})", p(&f.org_policy))
        },
    ));
    e
}

fn floor_evidence(f: &Facts) -> (bool, Vec<Evidence>) {
    let mut ok = !f.policy.floor.is_empty();
    let mut e = Vec::new();
    for (what, verdict, rule, held) in &f.policy.floor {
        ok &= held;
        e.push(Evidence::new(
            "floor probe",
            format!(
                "{what} -> {verdict} ({rule}){}",
                if *held { "" } else { " BROKEN" }
            ),
        ));
    }
    (ok, e)
}

fn b2_least_privilege(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "tool allowlist, approval gates and the non-bypassable floor are in force",
    )
    .evs(policy_evidence(f));
    let (floor_ok, fe) = floor_evidence(f);
    o = o.evs(fe);
    match &f.policy.policy {
        Err(e) => {
            o.raise(Status::Fail, format!("the policy cannot be loaded: {e}"));
            o = o.fix(format!(
                "fix the file and key named above, then `chela policy show`; ({})",
                p(&f.config.path)
            ));
        }
        Ok(pol) => {
            if !floor_ok {
                o.raise(
                    Status::Fail,
                    "the policy floor did not hold for every probe",
                );
                o = o.fix("reinstall the official build: the floor is compiled in and no setting can lift it");
            }
            if pol.profile.value == chela_policy::Profile::Full {
                o.raise(Status::Warn, "tool profile `full` enables every tool");
                o = o.fix("[tools]\nprofile = \"coding\"   # or \"minimal\"");
            }
        }
    }
    if !f.policy.org_present {
        o = o.ev(
            "note",
            "enterprises: deploy /etc/chela/policy.toml ([tools]/[policy]); users cannot loosen it",
        );
    }
    o
}

fn b3_audit(f: &Facts) -> Outcome {
    let a = &f.audit;
    let mut o = Outcome::new(Status::Pass, "tamper-evident audit log verifies end to end")
        .ev("audit directory", p(&a.dir));
    match &a.verify {
        Ok(r) => {
            o = o
                .ev(
                    "verify",
                    format!(
                        "{}: {} records, {} segment(s), {} signed checkpoint(s)",
                        if r.ok { "OK" } else { "DAMAGED" },
                        r.records,
                        r.segments,
                        r.checkpoints
                    ),
                )
                .ev(
                    "head",
                    format!(
                        "seq {} hash {}",
                        r.last_seq
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.last_hash.as_deref().unwrap_or("-")
                    ),
                )
                .ev("signing key", r.pubkey.clone());
            if let Some(d) = &r.damage {
                o.raise(Status::Fail, format!("the audit log is damaged: {d}"));
                o = o.fix(format!(
                    "chela audit verify   # inspect; keep {} for investigation",
                    p(&a.dir)
                ));
            }
        }
        Err(e) if a.no_log => {
            o.raise(Status::Warn, "the audit log has no records yet");
            o = o
                .ev("verify", e.clone())
                .fix("chela assess baseline   # creates the log and records the baseline");
        }
        Err(e) => {
            o.raise(
                Status::Fail,
                format!("the audit log cannot be verified: {e}"),
            );
            o = o.ev("verify", e.clone());
            if !a.dir_exists {
                o.fixes.push(Fix::EnableAuditLog { dir: a.dir.clone() });
                o = o
                    .fix("chela assess --fix   # recreates the audit directory (0700) and the log");
            }
        }
    }
    o.ev(
        "SIEM export",
        "`chela audit export` (JSON lines, CEF, syslog) for central analysis",
    )
}

fn b4_rules(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Manual,
        "internal usage rules and an approval process are documents: attest them",
    )
    .evs(policy_evidence(f));
    let n = f.audit.approvals.len();
    let mut approvers: Vec<&String> = f.audit.approvals.iter().collect();
    approvers.sort();
    approvers.dedup();
    o = o.ev(
        "approvals in the audit log",
        format!(
            "{n} granted, by: {}",
            if approvers.is_empty() {
                "-".to_string()
            } else {
                approvers
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    );
    o
}

fn vault_evidence(f: &Facts) -> (Vec<Evidence>, Vec<String>) {
    let v = &f.vault;
    let mut e = Vec::new();
    let mut old = Vec::new();
    if !v.exists {
        e.push(Evidence::new(
            "vault",
            format!("none ({} absent)", p(&v.path)),
        ));
    } else {
        for (name, age) in &v.entries {
            if *age > 90 {
                old.push(format!("{name} ({age} days)"));
            }
        }
        e.push(Evidence::new(
            "vault credentials",
            format!(
                "{} entr(y/ies): {}{}",
                v.entries.len(),
                v.entries
                    .iter()
                    .map(|(n, a)| format!("{n} {a}d"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if v.authenticated {
                    " (read with the passphrase)"
                } else {
                    " (from the file's clear-text metadata; use --unlock-vault to authenticate)"
                }
            ),
        ));
        if let Some(err) = &v.error {
            e.push(Evidence::new("vault note", err.clone()));
        }
    }
    (e, old)
}

fn b5_patch_rotate(f: &Facts) -> Outcome {
    let v = version(f, false);
    let (ve, old) = vault_evidence(f);
    let mut o = Outcome::new(
        Status::Pass,
        "version tracked against advisories; credentials younger than 90 days",
    )
    .evs(v.evidence.clone())
    .evs(ve);
    if let Some(env) = &f.config.api_key_env {
        o = o.ev(
            "provider key",
            format!("from ${env}: age unknown (store it in the vault to track rotation)"),
        );
    }
    o.raise(v.status, v.summary.clone());
    o.remediation.extend(v.remediation);
    if !old.is_empty() {
        o.raise(
            Status::Warn,
            format!("credential(s) older than 90 days: {}", old.join(", ")),
        );
        o = o.fix("chela secrets rotate <NAME>   # after issuing a new key at the provider, then revoke the old one");
    }
    o
}

fn b6_incident(f: &Facts) -> Outcome {
    Outcome::new(
        Status::Manual,
        "incident response plan, staff training and drills are documents: attest them",
    )
    .ev(
        "investigation records",
        match &f.audit.verify {
            Ok(r) => format!(
                "audit log with {} records available for investigation",
                r.records
            ),
            Err(e) => format!("audit log not verifiable: {e}"),
        },
    )
    .ev(
        "containment",
        "stopping chela ends every sandboxed tool (each run's process tree dies with the sandbox)",
    )
}

fn c1_host_baseline(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "host hardening settings and credentials meet the baseline",
    );
    let mut weak = Vec::new();
    for (name, val, want) in &f.hardening {
        let shown = val
            .map(|v| v.to_string())
            .unwrap_or_else(|| "unreadable".into());
        o = o.ev("sysctl", format!("{name} = {shown} (want >= {want})"));
        if let Some(v) = val {
            if v < want {
                weak.push(format!("sysctl -w {name}={want}"));
            }
        }
    }
    if !weak.is_empty() {
        o.raise(
            Status::Warn,
            format!(
                "{} kernel hardening setting(s) below the baseline",
                weak.len()
            ),
        );
        for w in &weak {
            o = o.fix(w.clone());
        }
        o = o.fix("persist them in /etc/sysctl.d/90-chela.conf");
    }
    match &f.config.gateway {
        Some(g) => {
            if let (Some(k), Some(bits)) = (&g.token_key, g.token_bits) {
                o = o.ev("gateway token", format!("{k}: ~{bits} bits"));
                if bits < 128 {
                    o.raise(Status::Fail, "the gateway token is weak or a default value");
                    o.fixes.push(Fix::RegenerateGatewayToken {
                        config: f.config.path.clone(),
                    });
                    o = o.fix("chela assess --fix   # replaces it with a random 256-bit token");
                }
            }
        }
        None => {
            o = o.ev(
                "default credentials",
                "none: no gateway installed, no default passwords exist",
            )
        }
    }
    o
}

fn c2_detection(f: &Facts) -> Outcome {
    Outcome::new(
        Status::Manual,
        "host and instance intrusion and malicious-traffic detection is the operator's: attest it",
    )
    .ev(
        "egress records",
        format!("{} egress event(s) in the audit log (every connection of Chela and its tools is recorded)", f.audit.egress_events),
    )
    .ev("component installs", "skills not installed; tools cannot install into the host (read-only system view)")
}

fn c3_data_protection(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "no plaintext credentials in the configuration; secrets at rest are encrypted",
    );
    let c = &f.config;
    o = o.ev(
        "plaintext credentials in config",
        if c.inline_secret_keys.is_empty() && c.guard_findings.is_empty() {
            format!("none in {}", p(&c.path))
        } else {
            c.inline_secret_keys
                .iter()
                .chain(c.guard_findings.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        },
    );
    if !c.inline_secret_keys.is_empty() || !c.guard_findings.is_empty() {
        o.raise(
            Status::Fail,
            "credentials are stored in plaintext in config.toml",
        );
        o = o.fix("chela secrets set provider-key   # then in config.toml: api_key_vault = \"provider-key\" and delete the plaintext key");
    }
    if f.vault.exists {
        let mode = crate::util::mode_of(&f.vault.path).unwrap_or(0);
        o = o.ev(
            "vault",
            format!(
                "{} mode {:o} (XChaCha20-Poly1305 under Argon2id)",
                p(&f.vault.path),
                mode
            ),
        );
    }
    o.ev(
        "DLP",
        if f.scan.error.is_none() {
            "guard active on prompts, tool output and outgoing requests"
        } else {
            "guard unavailable"
        },
    )
}

fn d1_token(f: &Facts) -> Outcome {
    let Some(g) = &f.config.gateway else {
        return Outcome::new(
            Status::Pass,
            "gateway and chat channels not installed: no console, no token, no pairing to secure",
        )
        .ev("gateway", "not installed (no [gateway] section)")
        .ev("channels", "not installed");
    };
    let mut o = Outcome::new(Status::Pass, "the gateway requires a strong token").ev(
        "gateway bind",
        g.bind
            .clone()
            .unwrap_or_else(|| "(default 127.0.0.1)".into()),
    );
    match (&g.token_key, g.token_bits, &g.token_ref) {
        _ if g.auth_disabled => {
            o.raise(Status::Fail, "gateway authentication is disabled");
            o = o.fix("remove `auth = \"none\"` from [gateway] and set auth_token_vault = \"gateway-token\"");
        }
        (Some(k), Some(bits), _) => {
            o = o.ev("token", format!("{k}: ~{bits} bits"));
            if bits < 128 {
                o.raise(
                    Status::Fail,
                    format!("the gateway token is weak (~{bits} bits, need 128)"),
                );
                o.fixes.push(Fix::RegenerateGatewayToken {
                    config: f.config.path.clone(),
                });
                o = o.fix("chela assess --fix   # replaces it with a random 256-bit token");
            }
        }
        (_, _, Some(r)) => o = o.ev("token", format!("from {r} (strength not measurable here)")),
        _ => {
            let s = if g.loopback {
                Status::Warn
            } else {
                Status::Fail
            };
            o.raise(s, "the gateway has no token or password");
            o = o.fix("[gateway]\nauth_token_vault = \"gateway-token\"   # after `chela secrets set gateway-token`");
        }
    }
    o.ev("channels", "not installed (pairing is never open)")
}

fn exposure(f: &Facts, id: &str) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "nothing of this user listens beyond loopback; no tunnels",
    );
    match &f.config.gateway {
        None => {
            o = o.ev(
                "gateway",
                "not installed (no [gateway] section); would bind 127.0.0.1",
            )
        }
        Some(g) => {
            let bind = g
                .bind
                .clone()
                .unwrap_or_else(|| "(default 127.0.0.1)".into());
            o = o.ev(
                "gateway bind",
                format!(
                    "{bind} ({}), auth: {}",
                    if g.loopback {
                        "loopback"
                    } else {
                        "BEYOND LOOPBACK"
                    },
                    if g.has_auth() { "configured" } else { "NONE" }
                ),
            );
            if !g.loopback && !g.has_auth() {
                o.raise(
                    Status::Fail,
                    format!("the gateway binds {bind} without authentication: anyone who can reach it controls the agent"),
                );
                o = o.fix("[gateway]\nbind = \"127.0.0.1:18789\"   # loopback only; reach it over SSH or a VPN");
            } else if !g.loopback {
                o.raise(
                    Status::Warn,
                    format!("the gateway binds {bind}; expose it only on a VPN interface with strong auth"),
                );
                o = o.fix("[gateway]\nbind = \"127.0.0.1:18789\"   # and use `ssh -L 18789:127.0.0.1:18789 host`");
            }
        }
    }
    // The Chela user's sockets (the owner of $CHELA_HOME; the same as this process normally).
    let uid = f.home_owner.unwrap_or(f.euid);
    let mine: Vec<String> = f
        .listeners
        .iter()
        .filter(|l| l.uid == uid && !l.loopback)
        .map(|l| l.addr.clone())
        .collect();
    let loop_count = f
        .listeners
        .iter()
        .filter(|l| l.uid == uid && l.loopback)
        .count();
    o = o.ev(
        &format!("listening sockets of uid {uid} (/proc/net/tcp, tcp6)"),
        if mine.is_empty() {
            format!("none beyond loopback ({loop_count} on loopback)")
        } else {
            format!(
                "beyond loopback: {}; {loop_count} on loopback",
                mine.join(", ")
            )
        },
    );
    if !mine.is_empty() {
        o.raise(
            Status::Warn,
            format!(
                "uid {} listens on {} non-loopback address(es): {}",
                f.euid,
                mine.len(),
                mine.join(", ")
            ),
        );
        o = o.fix("bind these services to 127.0.0.1 or stop them (`ss -ltnp` shows the programs)");
    }
    if !f.tunnels.is_empty() {
        let t: Vec<String> = f
            .tunnels
            .iter()
            .map(|(n, pid)| format!("{n} (pid {pid})"))
            .collect();
        o = o.ev("tunnel programs", t.join(", "));
        o.raise(
            Status::Warn,
            format!("tunnel or port-mapping program running: {}", t.join(", ")),
        );
        o = o.fix("stop the tunnel (`kill <pid>`); reach Chela over SSH or a VPN instead");
    } else {
        o = o.ev("tunnel programs", "none (ngrok, frpc, cloudflared, …)");
    }
    if id == "CN-A2" {
        o = o.ev("chat channels", "not installed (no channel can be open)");
    }
    o
}

fn d3_sandbox_view(f: &Facts) -> Outcome {
    let (st, why) = probe_status(f, |r| r.write_system_blocked && r.write_outside_blocked);
    let mut o = Outcome::new(
        Status::Pass,
        "tools run sandboxed with a read-only system view and no host home",
    )
    .evs(sandbox_evidence(f));
    if st != Status::Pass {
        o.raise(st, why);
        o = o.fix("`chela sandbox check` names the missing kernel feature and the fix");
    }
    o
}

fn d4_tools(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "only the tools of a minimal profile are enabled",
    )
    .evs(policy_evidence(f).into_iter().take(2).collect());
    match &f.policy.policy {
        Ok(pol) => {
            o.summary = format!(
                "tool profile `{}` with an allowlist",
                pol.profile.value.as_str()
            );
            if pol.profile.value == chela_policy::Profile::Full {
                o.raise(Status::Warn, "tool profile `full` enables every tool");
                o = o.fix("[tools]\nprofile = \"coding\"   # enable only what you need; add single tools with allow = [\"fetch\"]");
            }
            if !pol.tool_allow.is_empty() {
                o = o.ev(
                    "added tools",
                    pol.tool_allow
                        .iter()
                        .map(|t| t.value.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
        }
        Err(e) => o.raise(Status::Fail, format!("the policy cannot be loaded: {e}")),
    }
    o
}

fn d6_floor(f: &Facts) -> Outcome {
    let (ok, fe) = floor_evidence(f);
    let mut o = Outcome::new(
        Status::Pass,
        "the non-bypassable floor held for every probe (deletes, installers, privilege, config, secret egress)",
    )
    .evs(fe)
    .ev("DLP on outbound paths", if f.scan.error.is_none() { "guard active" } else { "guard UNAVAILABLE" });
    if let Err(e) = &f.policy.policy {
        o.raise(Status::Fail, format!("the policy cannot be loaded: {e}"));
    } else if !ok {
        o.raise(
            Status::Fail,
            "the policy floor did not hold for every probe",
        );
        o = o.fix(
            "reinstall the official build: the floor is compiled in and no setting can lift it",
        );
    }
    if f.scan.error.is_some() {
        o.raise(Status::Fail, "the guard (DLP) cannot be built");
    }
    o
}

fn d7_baseline(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "configuration matches its hash baseline; core files are private",
    );
    // File modes.
    let mut bad = Vec::new();
    for m in &f.modes {
        let owner_ok = f.home_owner.is_none_or(|h| h == m.owner);
        o = o.ev(
            "mode",
            format!(
                "{} {:o} (want {:o}), owner uid {}",
                p(&m.path),
                m.mode,
                m.want,
                m.owner
            ),
        );
        if m.too_open() {
            bad.push(m.clone());
            o.fixes.push(Fix::Chmod {
                path: m.path.clone(),
                mode: m.want,
            });
            o.remediation
                .push(format!("chmod {:o} {}", m.want, p(&m.path)));
        }
        if !owner_ok {
            o.raise(
                Status::Fail,
                format!(
                    "{} is owned by uid {}, not by the owner of $CHELA_HOME",
                    p(&m.path),
                    m.owner
                ),
            );
            o.remediation.push(format!(
                "chown {} {}",
                f.home_owner.unwrap_or(0),
                p(&m.path)
            ));
        }
    }
    if !f.modes.iter().any(|m| m.path == f.home) {
        o.raise(
            Status::Fail,
            format!("{} does not exist; run `chela init`", p(&f.home)),
        );
    }
    if !bad.is_empty() {
        o.raise(
            Status::Fail,
            format!(
                "{} core path(s) readable by group or others: {}",
                bad.len(),
                bad.iter()
                    .map(|m| p(&m.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    // Private keys handed to the agent (the workspace is what the agent sees).
    if f.scan.key_material.is_empty() {
        o = o.ev("private keys in the workspace", "none");
    } else {
        o = o.ev(
            "private keys in the workspace",
            f.scan.key_material.join(", "),
        );
        o.raise(
            Status::Fail,
            format!(
                "private key material is in the agent's workspace: {}",
                f.scan.key_material.join(", ")
            ),
        );
        o.remediation.push(
            "move the key out of the workspace (and rotate it: the agent could read it)".into(),
        );
    }
    // Baseline.
    match &f.baseline {
        Err(e) => {
            o.raise(Status::Warn, format!("the baseline cannot be read: {e}"));
            o.fixes.push(Fix::RecordBaseline);
        }
        Ok(None) => {
            o = o.ev(
                "baseline",
                format!(
                    "none recorded ({} absent)",
                    p(&f.home.join(crate::baseline::BASELINE_FILE))
                ),
            );
            o.raise(
                Status::Warn,
                "no configuration hash baseline has been recorded",
            );
            o.fixes.push(Fix::RecordBaseline);
            o.remediation.push("chela assess baseline".into());
        }
        Ok(Some(b)) => {
            o = o.ev(
                "baseline",
                format!(
                    "recorded {} by {} ({} file(s))",
                    b.recorded_at,
                    b.recorded_by,
                    b.files.len()
                ),
            );
            for h in &f.current_hashes {
                o = o.ev("sha256", format!("{} {}", h.sha256, h.path));
            }
            for d in &f.drift {
                o = o.ev(
                    "drift",
                    format!(
                        "{} {} (baseline {}, now {})",
                        d.kind,
                        d.path,
                        d.old
                            .as_deref()
                            .map(|h| &h[..12.min(h.len())])
                            .unwrap_or("-"),
                        d.new
                            .as_deref()
                            .map(|h| &h[..12.min(h.len())])
                            .unwrap_or("-")
                    ),
                );
            }
            if !f.drift.is_empty() {
                o.raise(
                    Status::Warn,
                    format!(
                        "{} file(s) differ from the baseline: {}",
                        f.drift.len(),
                        f.drift
                            .iter()
                            .map(|d| format!("{} ({})", d.path, d.kind))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                o.remediation.push("review the change (`chela audit show --kind config_changed`); if intended: chela assess baseline".into());
            }
        }
    }
    o
}

fn d8_regular(f: &Facts) -> Outcome {
    let mut o = Outcome::new(Status::Pass, "the security assessment runs regularly");
    o = o.ev(
        "previous run",
        f.last_run
            .map(|t| {
                format!(
                    "{} ({} day(s) ago)",
                    crate::util::rfc3339(t),
                    f.now.saturating_sub(t) / 86_400
                )
            })
            .unwrap_or_else(|| "none recorded".into()),
    );
    o = o.ev(
        "schedule",
        if f.schedules.is_empty() {
            "no cron entry or systemd timer running `chela assess` found".to_string()
        } else {
            f.schedules.join(", ")
        },
    );
    let recent = f
        .last_run
        .is_some_and(|t| f.now.saturating_sub(t) <= 7 * 86_400);
    if f.schedules.is_empty() && !recent {
        o.raise(Status::Warn, "no schedule and no run in the last 7 days");
        o = o.fix("crontab -e   # add: 0 8 * * 1 chela assess --json > $HOME/.chela/assess/weekly.json")
            .fix("or a systemd user timer: ~/.config/systemd/user/chela-assess.timer with OnCalendar=weekly");
    }
    o
}

fn m1(f: &Facts) -> Outcome {
    let a = exposure(f, "CNCERT-M1");
    let b = b1_isolation(f);
    let mut o = Outcome::new(
        Status::Pass,
        "management port not exposed, authentication enforced, tools isolated",
    )
    .evs(a.evidence.clone())
    .evs(
        b.evidence
            .iter()
            .filter(|e| e.label.starts_with("probe") || e.label == "enforced layers")
            .cloned()
            .collect(),
    );
    o.raise(a.status, a.summary);
    o.raise(b.status, b.summary);
    o.remediation.extend(a.remediation);
    o.remediation.extend(b.remediation);
    o
}

fn m2_keys_and_log(f: &Facts) -> Outcome {
    let c = &f.config;
    let mut o = Outcome::new(
        Status::Pass,
        "provider key from the encrypted vault; no plaintext keys; audit log complete",
    );
    if !c.inline_secret_keys.is_empty() || !c.guard_findings.is_empty() {
        o = o.ev(
            "plaintext keys in config",
            c.inline_secret_keys
                .iter()
                .chain(c.guard_findings.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
        );
        o.raise(
            Status::Fail,
            "API keys are stored in plaintext in config.toml",
        );
        o = o.fix("chela secrets set provider-key   # then: api_key_vault = \"provider-key\" and delete the key from config.toml");
    }
    match (&c.api_key_vault, &c.api_key_env) {
        (Some(v), _) => o = o.ev("provider key", format!("vault entry `{v}`")),
        (None, Some(env)) => {
            o = o.ev(
                "provider key",
                format!(
                    "environment variable ${env} ({})",
                    if c.api_key_env_set {
                        "set in this environment"
                    } else {
                        "not set here"
                    }
                ),
            );
            o.raise(
                Status::Warn,
                format!("the provider key comes from the plaintext environment variable ${env}"),
            );
            o = o.fix(format!(
                "chela secrets set provider-key   # paste the key; then in [provider]: api_key_vault = \"provider-key\" and remove api_key_env = \"{env}\""
            ));
        }
        (None, None) => o = o.ev("provider key", "none configured (keyless local server)"),
    }
    if !f.secret_env_vars.is_empty() {
        o = o.ev(
            "credential-like environment variables",
            f.secret_env_vars.join(", "),
        );
        o.raise(
            Status::Warn,
            format!(
                "credentials in environment variables: {}",
                f.secret_env_vars.join(", ")
            ),
        );
        o = o.fix("unset these variables in the shell that runs Chela; keep the keys in the vault");
    }
    let l = b3_audit(f);
    o = o.evs(
        l.evidence
            .into_iter()
            .filter(|e| e.label == "verify" || e.label == "head")
            .collect(),
    );
    if l.status == Status::Fail {
        o.raise(Status::Fail, l.summary);
        o.remediation.extend(l.remediation);
    }
    o
}

fn nvdb3(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "unprivileged account; important operations need human approval",
    )
    .ev("effective uid", format!("{} ({})", f.euid, f.user))
    .evs(
        policy_evidence(f)
            .into_iter()
            .filter(|e| e.label == "approval mode" || e.label == "tool profile")
            .collect(),
    );
    let (ok, fe) = floor_evidence(f);
    o = o.evs(fe);
    if f.euid == 0 {
        o.raise(Status::Fail, "running as root (uid 0)");
        o = o.fix("run chela as an unprivileged user: sudo -iu chela");
    }
    if f.policy.policy.is_err() || !ok {
        o.raise(Status::Fail, "the approval floor is not in force");
    }
    if let Ok(pol) = &f.policy.policy {
        if pol.profile.value == chela_policy::Profile::Full {
            o.raise(Status::Warn, "tool profile `full` enables every tool");
            o = o.fix("[tools]\nprofile = \"coding\"");
        }
    }
    o
}

fn nvdb5_untrusted(f: &Facts) -> Outcome {
    let mut o = Outcome::new(
        Status::Pass,
        "untrusted content taints the session; risky follow-up actions need approval",
    );
    match &f.policy.policy {
        Ok(pol) => {
            o = o.ev(
                "taint (rule of two)",
                format!(
                    "{} ({})",
                    if pol.taint_enabled.value {
                        "enabled"
                    } else {
                        "DISABLED"
                    },
                    pol.taint_enabled.source
                ),
            );
            if !pol.taint_enabled.value {
                o.raise(
                    Status::Warn,
                    "the taint rule is disabled: injected web content can drive egress unchecked",
                );
                o = o.fix("[policy.taint]\nenabled = true");
            }
        }
        Err(e) => o.raise(Status::Fail, format!("the policy cannot be loaded: {e}")),
    }
    o.ev(
        "injection screening",
        if f.scan.error.is_none() {
            "untrusted tool output is screened and wrapped before the model sees it"
        } else {
            "guard UNAVAILABLE"
        },
    )
}

fn nvdb6_logging(f: &Facts) -> Outcome {
    let a = &f.audit;
    let mut o = Outcome::new(Status::Pass, "detailed audit logging is on and verifies");
    let mode = crate::util::mode_of(&a.dir);
    o = o.ev(
        "audit directory",
        match mode {
            Some(m) => format!("{} mode {:o}", p(&a.dir), m),
            None => format!("{} MISSING", p(&a.dir)),
        },
    );
    let key = a.dir.join(chela_audit::KEY_FILE);
    if let Some(m) = crate::util::mode_of(&key) {
        o = o.ev("signing key", format!("{} mode {:o}", p(&key), m));
        if m & 0o077 != 0 {
            o.raise(Status::Fail, "the audit signing key is readable by others");
            o.fixes.push(Fix::Chmod {
                path: key.clone(),
                mode: 0o600,
            });
            o = o.fix(format!("chmod 600 {}", p(&key)));
        }
    }
    if f.config.audit_disabled {
        o.raise(Status::Fail, "config.toml sets [audit] enabled = false");
        o = o.fix(
            "delete `enabled = false` from [audit] in config.toml (Chela records every operation)",
        );
    }
    if !a.dir_exists {
        o.raise(
            Status::Fail,
            "the audit directory is missing: effects are refused until it exists",
        );
        o.fixes.push(Fix::EnableAuditLog { dir: a.dir.clone() });
        o = o.fix("chela assess --fix   # recreates it (0700) and reopens the log");
    } else if let Some(m) = mode {
        if m & 0o077 != 0 {
            o.raise(Status::Fail, "the audit directory is readable by others");
            o.fixes.push(Fix::Chmod {
                path: a.dir.clone(),
                mode: 0o700,
            });
            o = o.fix(format!("chmod 700 {}", p(&a.dir)));
        }
    }
    let b = b3_audit(f);
    o = o.evs(
        b.evidence
            .into_iter()
            .filter(|e| e.label == "verify" || e.label == "head")
            .collect(),
    );
    o.raise(b.status, b.summary);
    o
}
