//! The `herald` CLI binary; every command lives in the `herald_cli` library.

use clap::Parser;

fn main() {
    let cli = herald_cli::Cli::parse();
    let code = herald_cli::run(cli, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
