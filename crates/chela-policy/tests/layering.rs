//! Policy layering: built-in < user config.toml < organisation policy, which only tightens.

use chela_policy::{
    ApprovalMode, CommandContext, Effect, Gate, Policy, Profile, RuleSource, SessionState,
};
use chela_types::Verdict;

fn ctx() -> CommandContext {
    CommandContext::new("/home/u/proj", "/home/u", "/home/u/.chela")
}

const USER: &str = "/home/u/.chela/config.toml";
const ORG: &str = "/etc/chela/policy.toml";

#[test]
fn builtin_defaults() {
    let p = Policy::builtin(ctx());
    assert_eq!(p.profile.value, Profile::Coding);
    assert_eq!(p.profile.source, RuleSource::Builtin);
    assert_eq!(p.approval_mode.value, ApprovalMode::Ask);
    assert!(p.tool_allowed("exec"));
    assert!(p.tool_allowed("read"));
    assert!(!p.tool_allowed("web_fetch"));
    assert!(!p.tool_allowed("send_message"));
    assert!(p.warnings.is_empty());
}

#[test]
fn user_config_sets_values_with_file_and_line() {
    let user = "[provider]\nkind = \"openai\"\n\n[tools]\nprofile = \"full\"\ndeny = [\"send_message\"]\n\n[policy]\nexec_network = \"ask\"\n";
    let p = Policy::load(Some((USER, user)), None, ctx()).unwrap();
    assert_eq!(p.profile.value, Profile::Full);
    assert_eq!(
        p.profile.source,
        RuleSource::User {
            file: USER.into(),
            line: 5
        }
    );
    assert_eq!(p.exec_network.value, Gate::Ask);
    assert_eq!(
        p.exec_network.source,
        RuleSource::User {
            file: USER.into(),
            line: 9
        }
    );
    assert!(p.tool_allowed("web_fetch"));
    assert!(
        !p.tool_allowed("send_message"),
        "a deny always wins over the profile"
    );
    assert_eq!(
        p.filter_tools(&["read", "exec", "web_fetch", "send_message", "read_secret"]),
        vec!["read", "exec", "web_fetch", "read_secret"]
    );
}

#[test]
fn org_tightens_and_user_loosening_is_ignored_and_reported() {
    let user = r#"
[tools]
profile = "full"
allow = ["web_fetch"]

[policy]
approval = "ask"
exec_network = "allow"
allow_rules = ["exec:python3 -c *"]

[policy.taint]
enabled = false
exempt_hosts = ["evil.example"]

[policy.limits]
max_tool_calls = 5000
"#;
    let org = r#"
[tools]
profile = "coding"
deny = ["web_fetch"]

[policy]
approval = "deny"
exec_network = "ask"

[policy.taint]
enabled = true
exempt_hosts = ["docs.rs"]

[policy.limits]
max_tool_calls = 100
"#;
    let p = Policy::load(Some((USER, user)), Some((ORG, org)), ctx()).unwrap();
    assert_eq!(p.profile.value, Profile::Coding);
    assert!(matches!(p.profile.source, RuleSource::Org { .. }));
    assert!(!p.tool_allowed("web_fetch"));
    assert_eq!(p.approval_mode.value, ApprovalMode::Deny);
    assert_eq!(p.exec_network.value, Gate::Ask);
    assert!(p.allow_rules.is_empty());
    assert!(p.taint_enabled.value);
    assert_eq!(p.taint_exempt_hosts.len(), 1);
    assert_eq!(p.taint_exempt_hosts[0].value, "docs.rs");
    assert_eq!(p.max_tool_calls.value, 100);
    let keys: Vec<&str> = p.warnings.iter().map(|w| w.key.as_str()).collect();
    for k in [
        "tools.profile",
        "tools.allow",
        "policy.approval",
        "policy.exec_network",
        "policy.allow_rules",
        "policy.taint.enabled",
        "policy.taint.exempt_hosts",
        "policy.limits.max_tool_calls",
    ] {
        assert!(keys.contains(&k), "missing warning for {k}: {keys:?}");
    }
    // Every warning names the user file and a real line.
    for w in &p.warnings {
        assert_eq!(w.file, USER);
        assert!(w.line > 1, "{w}");
    }
    let show = p.render_show();
    assert!(show.contains("Ignored settings"), "{show}");
    assert!(show.contains(ORG));
    assert!(show.contains("floor.destructive"));
}

#[test]
fn user_can_tighten_below_org() {
    let user = "[tools]\nprofile = \"minimal\"\n[policy]\nexec_network = \"deny\"\n[policy.limits]\nmax_tool_calls = 10\n";
    let org = "[tools]\nprofile = \"coding\"\n[policy]\nexec_network = \"ask\"\n[policy.limits]\nmax_tool_calls = 100\n";
    let p = Policy::load(Some((USER, user)), Some((ORG, org)), ctx()).unwrap();
    assert_eq!(p.profile.value, Profile::Minimal);
    assert_eq!(p.exec_network.value, Gate::Deny);
    assert_eq!(p.max_tool_calls.value, 10);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(!p.tool_allowed("exec"));
}

#[test]
fn org_deny_wins_over_user_allow() {
    let user = "[tools]\nallow = [\"web_fetch\", \"send_message\"]\n";
    let org = "[tools]\ndeny = [\"send_message\"]\n";
    let p = Policy::load(Some((USER, user)), Some((ORG, org)), ctx()).unwrap();
    assert!(p.tool_allowed("web_fetch"));
    assert!(!p.tool_allowed("send_message"));
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].message.contains("send_message"));
}

#[test]
fn org_allow_rules_are_the_ceiling() {
    let user = "[policy]\nallow_rules = [\"exec:make *\", \"exec:python3 -c *\"]\n";
    let org = "[policy]\nallow_rules = [\"exec:make *\"]\n";
    let p = Policy::load(Some((USER, user)), Some((ORG, org)), ctx()).unwrap();
    let rules: Vec<String> = p.allow_rules.iter().map(|r| r.value.to_text()).collect();
    assert_eq!(rules, vec!["exec:make *"]);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].message.contains("python3"));
}

#[test]
fn runtime_mode_only_tightens() {
    let p = Policy::builtin(ctx()).with_approval_mode(ApprovalMode::Deny, "no terminal");
    assert_eq!(p.approval_mode.value, ApprovalMode::Deny);
    let q = p
        .clone()
        .with_approval_mode(ApprovalMode::Ask, "try to loosen");
    assert_eq!(q.approval_mode.value, ApprovalMode::Deny);
    // deny mode turns "needs approval" into deny.
    let d = q.decide(
        &Effect::exec("frobnicate", "/home/u/proj"),
        &SessionState::new(),
    );
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.rule, "exec.unknown");
    assert!(
        d.reason.contains("approval mode is \"deny\""),
        "{}",
        d.reason
    );
}

#[test]
fn errors_name_file_line_and_key() {
    let bad_value = "[tools]\nprofile = \"coding\"\n\n[policy]\nexec_network = \"sometimes\"\n";
    let e = Policy::load(Some((USER, bad_value)), None, ctx()).unwrap_err();
    assert_eq!(e.file, USER);
    assert_eq!(e.line, 5);
    assert_eq!(e.key, "policy.exec_network");
    assert!(
        e.to_string()
            .starts_with("/home/u/.chela/config.toml:5: `policy.exec_network`"),
        "{e}"
    );

    let unknown_key = "[policy]\napproval = \"ask\"\nfloor = false\n";
    let e = Policy::load(Some((USER, unknown_key)), None, ctx()).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.key, "policy.floor");
    assert!(e.message.contains("floor"), "{e}");

    let org_extra = "[provider]\nkind = \"openai\"\n";
    let e = Policy::load(None, Some((ORG, org_extra)), ctx()).unwrap_err();
    assert_eq!(e.file, ORG);
    assert_eq!(e.line, 1);

    let zero = "[policy.limits]\nmax_tool_calls = 0\n";
    let e = Policy::load(None, Some((ORG, zero)), ctx()).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (2, "policy.limits.max_tool_calls")
    );

    let bad_rule = "[policy]\nallow_rules = [\n  \"exec:ls *\",\n  \"*\",\n]\n";
    let e = Policy::load(Some((USER, bad_rule)), None, ctx()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (4, "policy.allow_rules"));

    let bad_path = "[policy]\ndeny_paths = [\"Documents\"]\n";
    let e = Policy::check_text(USER, bad_path, false).unwrap_err();
    assert_eq!(e.key, "policy.deny_paths");

    let syntax = "[policy\nx = 1\n";
    let e = Policy::load(Some((USER, syntax)), None, ctx()).unwrap_err();
    assert_eq!(e.line, 1);
}

#[test]
fn deny_paths_are_layered_and_enforced() {
    let user = "[policy]\ndeny_paths = [\"~/Finance\"]\n";
    let org = "[policy]\ndeny_paths = [\"/srv/hr\"]\n";
    let p = Policy::load(Some((USER, user)), Some((ORG, org)), ctx()).unwrap();
    let s = SessionState::new();
    for path in ["/home/u/Finance/2025.xlsx", "/srv/hr/salaries.csv"] {
        let d = p.decide(
            &Effect::ReadFile {
                path: path.into(),
                inside_workspace: false,
            },
            &s,
        );
        assert_eq!(d.verdict, Verdict::Deny, "{path}");
        assert_eq!(d.rule, "path.denied");
    }
    // Exec sees them as private paths.
    let d = p.decide(&Effect::exec("cat ~/Finance/2025.xlsx", "/home/u/proj"), &s);
    assert_eq!(d.rule, "path.secret_read");
    assert!(!d.auto_approvable);
}
