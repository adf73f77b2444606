//! `herald-server`: see `herald-server --help`.

use clap::Parser;
use herald_server::config::{Command, Config};

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime").block_on(serve())
}

/// glibc gives every thread that allocates its own malloc arena (up to 8
/// per core), and memory freed in one arena is not reused by the others:
/// the writer, tokio's workers and the blocking read threads each kept
/// their own high-water mark. Four clients paging through a 100k-event
/// run took the server from 31 to 69 MB; with one arena, to 42 MB
/// (`tests/answer_memory.rs`, BENCHMARKS.md "malloc arenas" for the
/// ingest rates). Set before any thread starts. `MALLOC_ARENA_MAX` in the
/// environment still wins, for measuring.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; no other thread
        // exists yet.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// See [`limit_malloc_arenas`].
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 1;

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
    herald_server::init_tracing(config.log_format);
    match herald_server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
