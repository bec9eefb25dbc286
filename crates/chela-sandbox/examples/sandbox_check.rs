//! Stand-in for `chela sandbox check`: prints `chela_sandbox::check()` (`--json` for JSON).

fn main() {
    let r = chela_sandbox::check();
    if std::env::args().any(|a| a == "--json") {
        match serde_json::to_string_pretty(&r) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("cannot serialize the report: {e}");
                std::process::exit(1);
            }
        }
    } else {
        print!("{r}");
    }
    std::process::exit(if r.ok() { 0 } else { 4 });
}
