//! `herald-server`: see `herald-server --help`. The server library serving
//! the workspace's `events.yaml` with the orchestrator's handlers.

use clap::Parser;
use herald_server::Server;
use herald_server::config::{Command, Config};
use herald_server::events::Catalog;
use herald_server::orchestrator::Orchestrator;

fn main() -> std::process::ExitCode {
    fix_mmap_threshold();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime").block_on(serve())
}

/// glibc serves a large block from the heap once a block that size was
/// freed (its mmap threshold rises with each free, up to 32 MiB), and
/// keeps the freed pages: answering four 1 MiB event pages at once left
/// the server at 63–69 MB after a 100k-event run was paged through
/// (`tests/answer_memory.rs`). With the threshold fixed at 128 KiB, blocks
/// that large are mapped and unmapped on their own (56–63 MB);
/// ingest allocates few of them and measured the same rate (BENCHMARKS.md,
/// "malloc settings"). Fewer malloc arenas held memory lower still but
/// cost 13–30% of the ingest rate. Set before any thread starts;
/// `MALLOC_MMAP_THRESHOLD_` in the environment still wins, for measuring.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; no other thread
        // exists yet.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

/// See [`fix_mmap_threshold`]: glibc's initial value, kept.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

async fn serve() -> std::process::ExitCode {
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
    let telemetry = match herald_server::telemetry::init(config.log_format, config.otlp_endpoint.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("herald-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = match Server::new(Catalog, Orchestrator).config(config).run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-server: {e}");
            std::process::ExitCode::FAILURE
        }
    };
    // Sends the spans still queued (bounded by the export timeout); it
    // blocks, so off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}
