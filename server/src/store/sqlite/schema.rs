//! Tables, indexes and connection settings of the SQLite store.

use rusqlite::Connection;

use crate::runstate::Layout;

/// The columns of `events`, one copy for [`SCHEMA`] and the migration
/// that rebuilds the table.
macro_rules! events_columns {
    () => {
        "
    pk          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,       -- '' for an event of no run (apply.rs NO_RUN)
    seq         INTEGER,
    received_at INTEGER NOT NULL,       -- ms since the Unix epoch
    state       TEXT    NOT NULL,       -- applied | parked | stale | illegal_transition
    change      TEXT,                   -- the handler's RunChange, kept while parked
    envelope    TEXT    NOT NULL
"
    };
}

/// Created on open when missing (`IF NOT EXISTS`), so opening an existing
/// data directory is the same call as creating one.
const SCHEMA: &str = concat!(
    "CREATE TABLE IF NOT EXISTS events (",
    events_columns!(),
    ");
-- No UNIQUE (source, id): the dedup guard is event_ids (dedup_index.rs).
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

-- A run's own fields; its items (nodes, papers, ...) are in run_items.
CREATE TABLE IF NOT EXISTS runs (
    run_id         TEXT PRIMARY KEY,
    status         TEXT    NOT NULL,
    last_event_seq INTEGER,
    updated_at     INTEGER NOT NULL,
    doc            TEXT    NOT NULL,    -- JSON object: the fields handlers wrote outside collections
    applied_events INTEGER NOT NULL DEFAULT 0,
    parked_events  INTEGER NOT NULL DEFAULT 0,
    through_pk     INTEGER NOT NULL DEFAULT 0   -- the row holds the run's events up to this pk (runs.rs)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, run_id);

-- The items of runs' keyed collections, one row each, written by key.
CREATE TABLE IF NOT EXISTS run_items (
    run_id TEXT NOT NULL,
    coll   TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,               -- JSON
    PRIMARY KEY (run_id, coll, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS run_history (
    pk     INTEGER PRIMARY KEY,
    run_id TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    detail TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS run_history_by_run ON run_history (run_id, pk);

-- Run state is written behind the event log (see runs.rs): replay on open
-- starts after through_pk, skipping each run's events up to its own.
CREATE TABLE IF NOT EXISTS run_materialized (
    id         INTEGER PRIMARY KEY CHECK (id = 0),
    through_pk INTEGER NOT NULL
);
INSERT OR IGNORE INTO run_materialized VALUES (0, 0);

-- The dedup guard (dedup_index.rs): each stored event's CloudEvents
-- identity (source, id) as a keyed 64-bit hash, filled in deferred passes;
-- per shard of hashes, every event with pk <= through_pk is in it.
CREATE TABLE IF NOT EXISTS event_ids (
    hash INTEGER NOT NULL,
    pk   INTEGER NOT NULL,
    PRIMARY KEY (hash, pk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_ids_watermarks (
    shard      INTEGER PRIMARY KEY,
    through_pk INTEGER NOT NULL
);
-- The SipHash key of event_ids, made with the store.
CREATE TABLE IF NOT EXISTS event_ids_key (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    k0 INTEGER NOT NULL,
    k1 INTEGER NOT NULL
);
"
);

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
    // 8 MiB of page cache (the default is 2 MiB): the hot pages of `runs`
    // and the indexes stay in process instead of being re-read through
    // syscalls on every commit. 16 MiB measured no faster on the worker
    // load and held 6–7 MB more RSS (BENCHMARKS.md): with run index and
    // dedup written in sorted passes, few pages are hot at once.
    conn.pragma_update(None, "cache_size", -8 * 1024)?;
    // No checkpoint inside a commit: copying the WAL into the database
    // file (and fsyncing it) would stall every request queued behind that
    // commit. The `checkpoint` thread does it beside the writer instead.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(())
}

/// The schema version this code writes (`PRAGMA user_version`).
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// A step from one schema version to the next. Each runs in its own
/// transaction with the version bump, so a crash leaves either version.
type Migration = fn(&Connection, &Layout) -> rusqlite::Result<()>;

/// Steps from version `i` to `i + 1`, in order. A new store is created at
/// [`VERSION`] directly; an older one runs the steps it has not run.
const MIGRATIONS: [Migration; 5] = [legacy, split_runs, write_behind, deferred_dedup, no_seq_last];

/// Create the tables if this is a new store, or bring an older one to
/// [`VERSION`].
pub(super) fn migrate(conn: &mut Connection, layout: &Layout) -> rusqlite::Result<()> {
    let fresh: bool = conn.query_row("SELECT COUNT(*) = 0 FROM sqlite_master WHERE name = 'runs'", [], |r| r.get(0))?;
    let mut version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Err(rusqlite::Error::ToSqlConversionFailure(
            format!(
                "this data dir was written by a newer herald-server (schema {version}, this one knows up to {VERSION}); \
             run the newer server, or point --data-dir elsewhere"
            )
            .into(),
        ));
    }
    if fresh {
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", VERSION)?;
        return tx.commit();
    }
    while version < VERSION {
        let tx = conn.transaction()?;
        MIGRATIONS[usize::try_from(version).unwrap_or_default()](&tx, layout)?;
        version += 1;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

/// 0 → 1: stores from before versions were numbered, in whichever of
/// their shapes.
fn legacy(conn: &Connection, _: &Layout) -> rusqlite::Result<()> {
    // `run_event_keys` was briefly keyed by the run id itself: rebuild it
    // (the watermarks going with it), `RunIndex::open` refills it.
    let keyed_by_id = has_column(conn, "run_event_keys", "run_id")?;
    if keyed_by_id {
        conn.execute_batch("DROP TABLE run_event_keys; DELETE FROM run_index_watermarks;")?;
    }
    // Tables an old store lacks; its existing ones are left as they are.
    conn.execute_batch(SCHEMA)?;
    if !has_column(conn, "runs", "applied_events")? {
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
    conn.execute_batch("DROP INDEX IF EXISTS events_by_run;")
}

/// 1 → 2: runs stored whole become their fields plus keyed items, and
/// count their parked events.
fn split_runs(conn: &Connection, layout: &Layout) -> rusqlite::Result<()> {
    if !has_column(conn, "runs", "parked_events")? {
        conn.execute_batch("ALTER TABLE runs ADD COLUMN parked_events INTEGER NOT NULL DEFAULT 0;")?;
    }
    conn.execute_batch(
        "UPDATE runs SET parked_events =
             (SELECT COUNT(*) FROM events e WHERE e.run_id = runs.run_id AND e.state = 'parked');",
    )?;
    conn.execute_batch(SCHEMA)?;
    // Ids first: rows are rewritten while we go, which an open SELECT on
    // the same table must not see.
    let ids: Vec<String> = conn.prepare("SELECT run_id FROM runs")?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for run_id in ids {
        let doc: String = conn.query_row("SELECT doc FROM runs WHERE run_id = ?1", [&run_id], |r| r.get(0))?;
        let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&doc).map_err(|e| {
            rusqlite::Error::ToSqlConversionFailure(format!("run {run_id}: its stored document is not a JSON object ({e})").into())
        })?;
        let (fields, items) = layout.split(doc);
        if items.is_empty() && !layout.collections().iter().any(|c| fields.contains_key(c)) {
            continue;
        }
        for (item, value) in items {
            conn.execute(
                "INSERT OR REPLACE INTO run_items (run_id, coll, key, value) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![run_id, item.collection, item.key, value.to_string()],
            )?;
        }
        conn.execute(
            "UPDATE runs SET doc = ?2 WHERE run_id = ?1",
            rusqlite::params![run_id, serde_json::Value::Object(fields).to_string()],
        )?;
    }
    Ok(())
}

/// 2 → 3: run state written behind the event log. Everything an older
/// store holds is already in `runs` and `run_items`.
fn write_behind(conn: &Connection, _: &Layout) -> rusqlite::Result<()> {
    if !has_column(conn, "runs", "through_pk")? {
        conn.execute_batch("ALTER TABLE runs ADD COLUMN through_pk INTEGER NOT NULL DEFAULT 0;")?;
    }
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch("INSERT OR REPLACE INTO run_materialized SELECT 0, COALESCE(MAX(pk), 0) FROM events;")
}

/// 4 → 5: `seq` became 64-bit, so events without one sort at `i64::MAX`
/// instead of 2^31 in the run index (else a `seq` of 2^31 or more would
/// list among them).
fn no_seq_last(conn: &Connection, _: &Layout) -> rusqlite::Result<()> {
    // Unambiguous: no `seq` could be 2^31 while it was 32-bit.
    conn.execute("UPDATE run_event_keys SET ord = ?1 WHERE ord = ?2", [crate::store::NO_SEQ, crate::store::NO_SEQ_32]).map(drop)
}

/// 3 → 4: the dedup guard moves from `UNIQUE (source, id)` on `events`
/// to `event_ids`. SQLite cannot drop a table's constraint, so `events` is
/// copied into a table without it (the `pk`s stay); `DedupIndex::open`
/// then fills `event_ids` from it (its watermarks start at 0).
fn deferred_dedup(conn: &Connection, _: &Layout) -> rusqlite::Result<()> {
    conn.execute_batch(concat!(
        "CREATE TABLE events_v4 (",
        events_columns!(),
        ");
         INSERT INTO events_v4 (pk, source, id, type, run_id, seq, received_at, state, change, envelope)
             SELECT pk, source, id, type, run_id, seq, received_at, state, change, envelope FROM events;
         DROP TABLE events;
         ALTER TABLE events_v4 RENAME TO events;"
    ))?;
    conn.execute_batch(SCHEMA)
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2", [table, column], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layout() -> Layout {
        Layout::new(["nodes", "metrics"])
    }

    fn reopen(conn: &mut Connection, version: i64) {
        conn.pragma_update(None, "user_version", version).unwrap();
        migrate(conn, &layout()).unwrap();
    }

    #[test]
    fn a_new_store_starts_at_the_current_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &layout()).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, VERSION);
        assert!(has_column(&conn, "runs", "parked_events").unwrap());
        migrate(&mut conn, &layout()).unwrap();
    }

    #[test]
    fn a_newer_store_is_refused_with_a_clear_message() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &layout()).unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1).unwrap();
        let err = migrate(&mut conn, &layout()).unwrap_err().to_string();
        assert!(err.contains("newer herald-server"), "{err}");
    }

    #[test]
    fn an_older_store_gets_applied_events_counted_from_its_events() {
        let mut conn = Connection::open_in_memory().unwrap();
        // The `runs` table as stores before the counter created it.
        conn.execute_batch(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, last_event_seq INTEGER,
                 updated_at INTEGER NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;
             INSERT INTO runs VALUES ('r', 'running', 2, 0, '{}');",
        )
        .unwrap();
        migrate(&mut conn, &layout()).unwrap();
        conn.execute_batch(
            "INSERT INTO events (source, id, type, run_id, seq, received_at, state, envelope) VALUES
                 ('/s', '1', 't', 'r', 1, 0, 'applied', '{}'),
                 ('/s', '2', 't', 'r', 2, 0, 'applied', '{}'),
                 ('/s', '4', 't', 'r', 4, 0, 'parked', '{}');
             ALTER TABLE runs DROP COLUMN applied_events;
             ALTER TABLE runs DROP COLUMN parked_events;",
        )
        .unwrap();
        reopen(&mut conn, 0);
        let n: (i64, i64) = conn
            .query_row("SELECT applied_events, parked_events FROM runs WHERE run_id = 'r'", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(n, (2, 1), "applied and parked events counted");
        migrate(&mut conn, &layout()).unwrap();
        let n: i64 = conn.query_row("SELECT applied_events FROM runs WHERE run_id = 'r'", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "migrating again changes nothing");
    }

    #[test]
    fn whole_run_documents_are_split_into_fields_and_items() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &layout()).unwrap();
        let doc = json!({"progress": 0.5, "nodes": {"n.1": {"status": "done"}, "n2": {"status": "x"}}, "metrics": {"loss": 0.1}});
        conn.execute_batch(&format!(
            "ALTER TABLE runs DROP COLUMN parked_events; DROP TABLE run_items;
             INSERT INTO runs (run_id, status, updated_at, doc) VALUES ('r', 'running', 0, '{doc}');"
        ))
        .unwrap();
        reopen(&mut conn, 1);
        let fields: String = conn.query_row("SELECT doc FROM runs WHERE run_id = 'r'", [], |r| r.get(0)).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&fields).unwrap(), json!({"progress": 0.5}));
        let items: Vec<(String, String, String)> = conn
            .prepare("SELECT coll, key, value FROM run_items WHERE run_id = 'r' ORDER BY coll, key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected = [("metrics", "loss", "0.1"), ("nodes", "n.1", r#"{"status":"done"}"#), ("nodes", "n2", r#"{"status":"x"}"#)];
        let items: Vec<(&str, &str, &str)> = items.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
        assert_eq!(items, expected);
    }

    #[test]
    fn a_run_index_keyed_by_run_id_is_rebuilt() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &layout()).unwrap();
        conn.execute_batch(
            "DROP TABLE run_event_keys;
             CREATE TABLE run_event_keys (run_id TEXT NOT NULL, ord INTEGER NOT NULL, pk INTEGER NOT NULL,
                 PRIMARY KEY (run_id, ord, pk)) WITHOUT ROWID;
             INSERT INTO run_event_keys VALUES ('r', 1, 1);
             INSERT INTO run_index_watermarks VALUES (0, 1);
             ALTER TABLE runs DROP COLUMN parked_events;",
        )
        .unwrap();
        reopen(&mut conn, 0);
        let (keys, marks): (i64, i64) = conn
            .query_row("SELECT (SELECT COUNT(*) FROM run_event_keys), (SELECT COUNT(*) FROM run_index_watermarks)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((keys, marks), (0, 0), "emptied, so the next open indexes every event again");
        assert!(has_column(&conn, "run_event_keys", "run_key").unwrap());
    }

    #[test]
    fn events_under_a_unique_constraint_move_to_a_table_without_it_and_keep_their_pks() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A version 3 store: the dedup guard was UNIQUE (source, id).
        conn.execute_batch(concat!("CREATE TABLE events (", events_columns!(), ", UNIQUE (source, id));")).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO events (pk, source, id, type, run_id, seq, received_at, state, change, envelope) VALUES
                 (7, '/s', 'a', 't', 'r', 1, 5, 'applied', NULL, '{}'),
                 (9, '/s', 'b', 't', 'r', NULL, 6, 'parked', '{\"c\":1}', '{\"x\":2}');",
        )
        .unwrap();
        let before: Vec<String> = rows(&conn);
        reopen(&mut conn, 3);
        assert_eq!(rows(&conn), before, "every column of every event, pks included");
        let unique: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'events' AND name LIKE 'sqlite_autoindex%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(unique, 0, "the UNIQUE index is gone");
        let parked: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_parked'", [], |r| r.get(0)).unwrap();
        assert_eq!(parked, 1, "the table's other index is back");
        // The guard is filled from the moved events when the store opens.
        let index = super::super::dedup_index::DedupIndex::open(&mut conn).unwrap();
        let hash = index.hash("/s", "b");
        assert_eq!(index.find(&conn, hash, "/s", "b").unwrap(), Some("r".to_owned()));
    }

    #[test]
    fn events_without_seq_move_past_every_64_bit_seq() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        // A version 4 store: `seq` 7, and an event without one at 2^31.
        conn.execute("INSERT INTO run_event_keys (run_key, ord, pk) VALUES (1, 7, 1), (1, ?1, 2)", [crate::store::NO_SEQ_32]).unwrap();
        reopen(&mut conn, 4);
        let ords: Vec<i64> = conn
            .prepare("SELECT ord FROM run_event_keys ORDER BY pk")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ords, [7, i64::MAX]);
    }

    fn rows(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT pk, source, id, type, run_id, seq, received_at, state, change, envelope FROM events ORDER BY pk")
            .unwrap()
            .query_map([], |r| {
                let cols: Vec<String> = (0..10).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
                Ok(cols.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}
