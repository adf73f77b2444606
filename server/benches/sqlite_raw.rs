//! SQLite's own insert rate for herald's `events` rows: the ceiling for
//! any ingest path on the embedded store, which `bench/ingest.sh` reports
//! beside the server's figures.
//!
//! ```text
//! cargo bench -p herald-server --bench sqlite_raw -- --group 800 --seconds 10
//! ```
//!
//! One thread inserts rows shaped like the batch load's events (same
//! columns and envelope size, ids unique, 1000 runs) into a fresh store
//! created by `SqliteStore::open` (so the same settings: WAL,
//! `synchronous = FULL`), `--group` rows per transaction. The rows go to a
//! table of `events`' columns guarded the way plain SQLite would guard
//! CloudEvents identity, `UNIQUE (source, id)`, with `INSERT … ON CONFLICT
//! DO NOTHING`: the store's own guard is no longer a constraint
//! (`dedup_index.rs`), and the ceiling must not move with the code it
//! measures. Nothing else: no HTTP, no parsing, no run state, no run
//! index, no checkpoints — the database's share of the work alone.

use std::time::{Duration, Instant};

use herald_server::store::Store;
use herald_server::store::sqlite::SqliteStore;
use rusqlite::{Connection, params};

fn main() {
    let (mut group, mut seconds) = (800_usize, 10_u64);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes `--bench`; ignore flags that are not ours.
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--group" => group = value().parse().expect("--group: a number of rows"),
            "--seconds" => seconds = value().parse().expect("--seconds: a number"),
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), herald_server::orchestrator::rules()).expect("create the store");
    let path = store.path().to_owned();
    tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(store.close());

    let mut conn = Connection::open(&path).expect("open");
    conn.pragma_update(None, "synchronous", "FULL").expect("pragma");
    conn.execute_batch(
        "CREATE TABLE raw_events (
             pk INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
             run_id TEXT NOT NULL, seq INTEGER, received_at INTEGER NOT NULL, state TEXT NOT NULL,
             change TEXT, envelope TEXT NOT NULL,
             UNIQUE (source, id)
         );",
    )
    .expect("create raw_events");
    let envelope =
        format!(r#"{{"specversion":"1.0","source":"/bench/raw","type":"ai.run.progress","data":{{"pad":"{}"}}}}"#, "x".repeat(200));
    let (mut rows, mut commits) = (0_u64, 0_u64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        let tx = conn.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO raw_events (source, id, type, run_id, seq, received_at, state, envelope)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'applied', ?7)
                     ON CONFLICT (source, id) DO NOTHING",
                )
                .expect("prepare");
            for _ in 0..group {
                rows += 1;
                let run = format!("00000000-0000-4000-8000-{:012}", rows % 1000);
                insert
                    .execute(params!["/bench/raw", format!("r-{rows}"), "ai.run.progress", run, None::<i64>, 0, envelope])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
        commits += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("sqlite_raw: {rows} rows in {commits} commits of {group}, {secs:.1} s: {:.0} rows/s", rows as f64 / secs);
}
