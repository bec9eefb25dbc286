//! Architecture test (DESIGN.md "one owner per effect").
//!
//! Reads `cargo metadata` and fails when a crate other than the owner depends on the crates that
//! perform an owned effect (HTTP client, SQLite, process spawning / isolation, AEAD/KDF, listening
//! sockets), and scans library sources for process spawning outside `chela-sandbox`.
//! Dev-dependencies and the test-only `chela-testkit` are exempt: they never ship.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// (dependency, owners allowed to depend on it, effect).
const OWNED: &[(&str, &[&str], &str)] = &[
    ("reqwest", &["chela-net"], "outbound HTTP"),
    ("hyper", &["chela-net"], "outbound HTTP"),
    ("hyper-util", &["chela-net"], "outbound HTTP"),
    ("ureq", &["chela-net"], "outbound HTTP"),
    ("isahc", &["chela-net"], "outbound HTTP"),
    ("curl", &["chela-net"], "outbound HTTP"),
    ("attohttpc", &["chela-net"], "outbound HTTP"),
    ("rusqlite", &["chela-store"], "SQLite"),
    ("libsqlite3-sys", &["chela-store"], "SQLite"),
    ("sqlx", &["chela-store"], "SQLite"),
    ("nix", &["chela-sandbox"], "processes"),
    ("rustix", &["chela-sandbox"], "processes"),
    ("landlock", &["chela-sandbox"], "sandboxing"),
    ("seccompiler", &["chela-sandbox"], "sandboxing"),
    ("libseccomp", &["chela-sandbox"], "sandboxing"),
    ("command-group", &["chela-sandbox"], "processes"),
    ("duct", &["chela-sandbox"], "processes"),
    ("subprocess", &["chela-sandbox"], "processes"),
    ("chacha20poly1305", &["chela-vault"], "key material"),
    ("aes-gcm", &["chela-vault"], "key material"),
    ("argon2", &["chela-vault"], "key material"),
    ("scrypt", &["chela-vault"], "key material"),
    ("pbkdf2", &["chela-vault"], "key material"),
    ("keyring", &["chela-vault"], "key material"),
    ("axum", &["chela-gateway"], "listening sockets"),
    ("warp", &["chela-gateway"], "listening sockets"),
    ("actix-web", &["chela-gateway"], "listening sockets"),
];

/// Test-only crates that may use anything (they are never a dependency of product code).
const TEST_ONLY: &[&str] = &["chela-testkit"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// Normal and build dependencies of each workspace crate: name -> [(dep, features)].
fn product_deps(meta: &Value) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let mut out = BTreeMap::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        let name = pkg["name"].as_str().unwrap_or_default().to_string();
        let deps = pkg["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .map(|d| {
                let features = d["features"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect();
                (d["name"].as_str().unwrap_or_default().to_string(), features)
            })
            .collect();
        out.insert(name, deps);
    }
    out
}

fn violations(deps: &BTreeMap<String, Vec<(String, Vec<String>)>>) -> Vec<String> {
    let mut bad = Vec::new();
    for (krate, list) in deps {
        if TEST_ONLY.contains(&krate.as_str()) {
            continue;
        }
        for (dep, features) in list {
            if TEST_ONLY.contains(&dep.as_str()) {
                bad.push(format!(
                    "{krate} depends on the test-only crate {dep} outside [dev-dependencies]"
                ));
            }
            for (owned, owners, effect) in OWNED {
                if dep == owned && !owners.contains(&krate.as_str()) {
                    bad.push(format!(
                        "{krate} depends on {dep} ({effect}); only {} may",
                        owners.join(", ")
                    ));
                }
            }
            if dep == "tokio"
                && features.iter().any(|f| f == "process" || f == "full")
                && krate != "chela-sandbox"
            {
                bad.push(format!(
                    "{krate} enables tokio's process feature (processes); only chela-sandbox may"
                ));
            }
        }
    }
    bad
}

#[test]
fn only_owners_depend_on_effect_crates() {
    let meta = metadata();
    let deps = product_deps(&meta);
    assert!(
        deps.contains_key("chela-net") && deps.contains_key("chela-store"),
        "workspace crates missing from metadata"
    );
    let bad = violations(&deps);
    assert!(
        bad.is_empty(),
        "architecture violations:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn the_rule_catches_a_violation() {
    let mut deps = BTreeMap::new();
    deps.insert(
        "chela-agent".to_string(),
        vec![
            ("reqwest".to_string(), vec![]),
            ("tokio".to_string(), vec!["process".to_string()]),
        ],
    );
    deps.insert(
        "chela-net".to_string(),
        vec![("reqwest".to_string(), vec![])],
    );
    let bad = violations(&deps);
    assert_eq!(bad.len(), 2, "{bad:?}");
}

/// Library sources outside chela-sandbox must not start processes.
#[test]
fn no_process_spawning_outside_the_sandbox() {
    let root = workspace_root().join("crates");
    let mut bad = Vec::new();
    for entry in std::fs::read_dir(&root).expect("crates dir") {
        let dir = entry.expect("entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name == "chela-sandbox" || TEST_ONLY.contains(&name.as_str()) {
            continue;
        }
        scan(&dir.join("src"), &mut bad);
    }
    assert!(
        bad.is_empty(),
        "process spawning outside chela-sandbox:\n  {}",
        bad.join("\n  ")
    );
}

fn scan(dir: &Path, bad: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan(&path, bad);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Only code before a `#[cfg(test)]` module counts as product code.
            let product = text.split("#[cfg(test)]").next().unwrap_or("");
            for needle in [
                "process::Command",
                "tokio::process",
                "libc::fork",
                "libc::vfork",
                "libc::execv",
                "libc::clone",
                "posix_spawn",
            ] {
                if product.contains(needle) {
                    bad.push(format!("{} uses {needle}", path.display()));
                }
            }
            // `use std::process::{Command, …}`
            for (i, _) in product.match_indices("std::process::{") {
                let group = product[i..].split('}').next().unwrap_or("");
                if group.contains("Command") {
                    bad.push(format!("{} imports std::process::Command", path.display()));
                }
            }
        }
    }
}
