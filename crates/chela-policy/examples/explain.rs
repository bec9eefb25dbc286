//! `cargo run -p chela-policy --example explain -- 'COMMAND'`: what the kernel decides and why
//! (the same text `chela policy explain` prints), with an optional policy file via
//! `CHELA_POLICY_USER=path` / `CHELA_POLICY_ORG=path`.

use chela_policy::{explain, CommandContext, Policy};

fn main() {
    let input = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/home/user".into());
    let chela_home = format!("{home}/.chela");
    let ctx = CommandContext::new(format!("{chela_home}/workspace"), &home, &chela_home);
    let read = |var: &str| {
        std::env::var(var)
            .ok()
            .map(|p| (p.clone(), std::fs::read_to_string(&p)))
    };
    let user = read("CHELA_POLICY_USER");
    let org = read("CHELA_POLICY_ORG");
    let user_t = match &user {
        Some((p, Ok(t))) => Some((p.as_str(), t.as_str())),
        Some((p, Err(e))) => {
            eprintln!("cannot read {p}: {e}");
            std::process::exit(2);
        }
        None => None,
    };
    let org_t = match &org {
        Some((p, Ok(t))) => Some((p.as_str(), t.as_str())),
        Some((p, Err(e))) => {
            eprintln!("cannot read {p}: {e}");
            std::process::exit(2);
        }
        None => None,
    };
    let policy = match Policy::load(user_t, org_t, ctx) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if input.trim() == "--show" {
        print!("{}", policy.render_show());
    } else {
        print!("{}", explain(&policy, &input));
    }
}
