//! `herald-server`: see `herald-server --help`.

use clap::Parser;
use herald_server::config::{Command, Config};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    if let Some(Command::HashKey { new }) = config.command {
        return match herald_server::auth::hash_key_command(new) {
            Ok(out) => {
                use std::io::Write;
                let _ = std::io::stdout().write_all(out.as_bytes());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("herald-server hash-key: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    herald_server::init_tracing(config.log_format);
    match herald_server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
