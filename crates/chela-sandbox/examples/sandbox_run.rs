//! Stand-in for `chela sandbox run` until the CLI wires it: calls `chela_sandbox::run_cli`.
//!
//! Usage: `sandbox_run [--workspace DIR] [--timeout SECS] [--allow-domain D]... -- CMD [ARGS...]`

use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut workspace = PathBuf::from(".");
    let mut timeout = Duration::from_secs(60);
    let mut domains = Vec::new();
    let mut argv = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workspace" => workspace = args.next().map(PathBuf::from).unwrap_or(workspace),
            "--timeout" => {
                let Some(s) = args.next().and_then(|s| s.parse::<f64>().ok()) else {
                    eprintln!("--timeout needs a number of seconds");
                    std::process::exit(2);
                };
                timeout = Duration::from_secs_f64(s);
            }
            "--allow-domain" => domains.extend(args.next()),
            "--" => {
                argv.extend(args.by_ref());
            }
            _ => {
                argv.push(a);
                argv.extend(args.by_ref());
            }
        }
    }
    std::process::exit(chela_sandbox::run_cli(&workspace, timeout, domains, argv));
}
