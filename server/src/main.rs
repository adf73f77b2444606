//! `herald-server`: see `herald-server --help`.

use clap::Parser;
use herald_server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    herald_server::init_tracing(config.log_format);
    match herald_server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
