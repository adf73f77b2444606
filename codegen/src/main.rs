//! The `herald` CLI binary; everything lives in `herald_codegen::cli`.

use clap::Parser;

fn main() {
    let cli = herald_codegen::cli::Cli::parse();
    let code = herald_codegen::cli::run(cli, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
