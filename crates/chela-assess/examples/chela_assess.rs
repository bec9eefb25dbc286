//! Stand-alone `chela assess` / `chela update` for trying the crate before the CLI mounts it:
//! `CHELA_HOME=… cargo run -p chela-assess --example chela_assess -- assess --format html -o r.html`.

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// `chela assess`.
    Assess(chela_assess::AssessArgs),
    /// `chela update`.
    Update(chela_assess::UpdateArgs),
    /// Record the baseline as `chela init` does.
    InitBaseline,
}

fn main() {
    let cli = Cli::parse();
    let home = std::env::var_os("CHELA_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".chela")))
        .unwrap_or_else(|| std::path::PathBuf::from(".chela"));
    let code = match cli.command {
        Cmd::Assess(a) => chela_assess::run_assess_cli(&home, a),
        Cmd::Update(a) => chela_assess::run_update_cli(&home, a),
        Cmd::InitBaseline => match chela_assess::record_baseline(&home) {
            Ok(b) => {
                println!("baseline: {} file(s)", b.files.len());
                0
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
    };
    std::process::exit(code);
}
