//! Tables, indexes and connection settings of the SQLite store.

use rusqlite::Connection;

/// Created on open when missing (`IF NOT EXISTS`), so opening an existing
/// data directory is the same call as creating one.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    pk          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    seq         INTEGER,
    received_at INTEGER NOT NULL,       -- ms since the Unix epoch
    state       TEXT    NOT NULL,       -- applied | parked | stale | illegal_transition
    change      TEXT,                   -- the handler's RunChange, kept while parked
    envelope    TEXT    NOT NULL,
    UNIQUE (source, id)                 -- the dedup guard: CloudEvents identity
);
CREATE INDEX IF NOT EXISTS events_parked ON events (run_id, seq) WHERE state = 'parked';

-- The events of each run in `seq` order, filled in deferred passes
-- (see run_index.rs): `run_key` is a hash of the run id, `ord` the
-- event's seq, or 2^31 for an event without one.
CREATE TABLE IF NOT EXISTS run_event_keys (
    run_key INTEGER NOT NULL,
    ord     INTEGER NOT NULL,
    pk      INTEGER NOT NULL,
    PRIMARY KEY (run_key, ord, pk)
) WITHOUT ROWID;
-- Per shard of runs: every event with pk <= through_pk is in run_event_keys.
CREATE TABLE IF NOT EXISTS run_index_watermarks (
    shard      INTEGER PRIMARY KEY,
    through_pk INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    run_id         TEXT PRIMARY KEY,
    status         TEXT    NOT NULL,
    last_event_seq INTEGER,
    updated_at     INTEGER NOT NULL,
    doc            TEXT    NOT NULL,    -- JSON object written by handlers
    applied_events INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, run_id);

CREATE TABLE IF NOT EXISTS run_history (
    pk     INTEGER PRIMARY KEY,
    run_id TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    detail TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS run_history_by_run ON run_history (run_id, pk);
";

/// Settings every connection gets.
///
/// WAL lets the query API read while the writer commits. `synchronous =
/// FULL` makes each commit durable before it returns: we acknowledge only
/// after commit, so anything weaker could lose acknowledged events on
/// power loss. Group commit (see `writer`) is what keeps that affordable.
pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    // 16 MiB of page cache (the default is 2 MiB): the hot pages of `runs`
    // and the indexes stay in process instead of being re-read through
    // syscalls on every commit.
    conn.pragma_update(None, "cache_size", -16 * 1024)?;
    // No checkpoint inside a commit: copying the WAL into the database
    // file (and fsyncing it) would stall every request queued behind that
    // commit. The `checkpoint` thread does it beside the writer instead.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(())
}

/// Create the tables if this is a new store, and add the columns later
/// versions introduced to an older one.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    // `run_event_keys` was briefly keyed by the run id itself: rebuild it
    // (the watermarks going with it), `RunIndex::open` refills it.
    let keyed_by_id: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('run_event_keys') WHERE name = 'run_id'",
        [],
        |r| r.get(0),
    )?;
    if keyed_by_id {
        conn.execute_batch("DROP TABLE run_event_keys; DELETE FROM run_index_watermarks;")?;
    }
    conn.execute_batch(SCHEMA)?;
    let has_applied_events: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('runs') WHERE name = 'applied_events'",
        [],
        |r| r.get(0),
    )?;
    if !has_applied_events {
        // Stores written before the counter existed: count what they applied.
        conn.execute_batch(
            "ALTER TABLE runs ADD COLUMN applied_events INTEGER NOT NULL DEFAULT 0;
             UPDATE runs SET applied_events =
                 (SELECT COUNT(*) FROM events e WHERE e.run_id = runs.run_id AND e.state = 'applied');",
        )?;
    }
    // Stores written before `run_event_keys` kept an ordinary index, which
    // cost a page write per event; `RunIndex::open` fills the table from
    // `events` (its watermarks start at 0), after which the index goes.
    conn.execute_batch("DROP INDEX IF EXISTS events_by_run;")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_store_gets_applied_events_counted_from_its_events() {
        let conn = Connection::open_in_memory().unwrap();
        // The `runs` table as stores before the counter created it.
        conn.execute_batch(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, last_event_seq INTEGER,
                 updated_at INTEGER NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;
             INSERT INTO runs VALUES ('r', 'running', 2, 0, '{}');",
        )
        .unwrap();
        migrate(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO events (source, id, type, run_id, seq, received_at, state, envelope) VALUES
                 ('/s', '1', 't', 'r', 1, 0, 'applied', '{}'),
                 ('/s', '2', 't', 'r', 2, 0, 'applied', '{}'),
                 ('/s', '4', 't', 'r', 4, 0, 'parked', '{}');
             ALTER TABLE runs DROP COLUMN applied_events;",
        )
        .unwrap();
        migrate(&conn).unwrap();
        let n: i64 = conn.query_row("SELECT applied_events FROM runs WHERE run_id = 'r'", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "applied events counted, the parked one not");
        migrate(&conn).unwrap();
        let n: i64 = conn.query_row("SELECT applied_events FROM runs WHERE run_id = 'r'", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "migrating again changes nothing");
    }

    #[test]
    fn a_run_index_keyed_by_run_id_is_rebuilt() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        conn.execute_batch(
            "DROP TABLE run_event_keys;
             CREATE TABLE run_event_keys (run_id TEXT NOT NULL, ord INTEGER NOT NULL, pk INTEGER NOT NULL,
                 PRIMARY KEY (run_id, ord, pk)) WITHOUT ROWID;
             INSERT INTO run_event_keys VALUES ('r', 1, 1);
             INSERT INTO run_index_watermarks VALUES (0, 1);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        let (keys, marks): (i64, i64) = conn
            .query_row("SELECT (SELECT COUNT(*) FROM run_event_keys), (SELECT COUNT(*) FROM run_index_watermarks)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((keys, marks), (0, 0), "emptied, so the next open indexes every event again");
        let by_key: bool =
            conn.query_row("SELECT COUNT(*) > 0 FROM pragma_table_info('run_event_keys') WHERE name = 'run_key'", [], |r| r.get(0)).unwrap();
        assert!(by_key);
    }
}
