//! Reads HTML on stdin and prints what `web_fetch` would return as text:
//! `cargo run -p chela-net --example html_to_text < page.html`

use std::io::Read;

fn main() {
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("html_to_text: cannot read stdin: {e}");
        std::process::exit(1);
    }
    let html = chela_net::fetch::decode(&raw, "", true);
    println!("{}", chela_net::html_to_text(&html));
}
