//! The MongoDB driver's own insert rate against a server: the baseline the
//! ingest benchmark compares `herald-server --store mongodb` to
//! (`bench/mongo.sh` runs both in one go).
//!
//! ```text
//! cargo bench -p herald-server --bench mongo_raw -- \
//!     --uri mongodb://127.0.0.1:27017 --concurrency 64 --seconds 15 --mode one
//! ```
//!
//! `--mode one`: each of `--concurrency` tasks loops `insert_one`;
//! `--mode many`: each loops `insert_many` of `--batch` documents.
//! `--mode count --db NAME`: no load; print `stored=N`, the documents in
//! herald's `events` collection of database NAME (`bench/mongo.sh` checks
//! each run's acknowledged events against it).
//! Documents look like herald's `events` documents (same fields, same
//! envelope size) and go into a fresh collection with herald's indexes
//! (unique `(source, id)`, `(run_id, seq)`) under herald's default write
//! concern (`w: majority`, `journal: true`), so the two rates compare the
//! same work on the database side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mongodb::bson::{Document, doc, oid::ObjectId};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, IndexModel};

struct Args {
    uri: String,
    concurrency: usize,
    seconds: u64,
    mode: String,
    batch: usize,
    db: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args { uri: "mongodb://127.0.0.1:27017".into(), concurrency: 64, seconds: 15, mode: "one".into(), batch: 100, db: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes `--bench`; ignore flags that are not ours.
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--uri" => args.uri = value(),
            "--concurrency" => args.concurrency = value().parse().expect("--concurrency N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds S"),
            "--mode" => args.mode = value(),
            "--batch" => args.batch = value().parse().expect("--batch N"),
            "--db" => args.db = Some(value()),
            _ => {}
        }
    }
    assert!(matches!(args.mode.as_str(), "one" | "many" | "count"), "--mode is `one`, `many` or `count`");
    assert!(args.mode != "count" || args.db.is_some(), "--mode count needs --db NAME");
    args
}

/// One event document, shaped like herald's (envelope of ~330 bytes).
fn event(worker: usize, n: u64) -> Document {
    let id = format!("raw-{worker}-{n}");
    let run_id = format!("00000000-0000-4000-8000-{:012}", n % 1000);
    let envelope = format!(
        r#"{{"specversion":"1.0","id":"{id}","source":"/bench/raw","type":"ai.run.progress","time":"2024-05-01T12:00:00Z","datacontenttype":"application/json","data":{{"run_id":"{run_id}","progress":0.5,"current_step":"step"}}}}"#
    );
    doc! {
        "_id": ObjectId::new(),
        "source": "/bench/raw",
        "id": id,
        "type": "ai.run.progress",
        "run_id": run_id,
        "seq": mongodb::bson::Bson::Null,
        "received_at": 0_i64,
        "state": "applied",
        "envelope": envelope,
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let mut options = ClientOptions::parse(&args.uri).await.expect("a valid --uri");
    options.write_concern = Some(WriteConcern::builder().w(Acknowledgment::Majority).journal(true).build());
    options.max_pool_size = Some(u32::try_from(args.concurrency).unwrap_or(u32::MAX).max(10));
    let client = Client::with_options(options).expect("client");
    if let (Some(name), "count") = (&args.db, args.mode.as_str()) {
        let events: Collection<Document> = client.database(name).collection("events");
        println!("stored={}", events.count_documents(doc! {}).await.expect("count events"));
        return;
    }
    let db = client.database(&format!("herald_raw_bench_{}", ObjectId::new()));
    let events: Collection<Document> = db.collection("events");
    let unique = IndexOptions::builder().unique(true).build();
    events.create_index(IndexModel::builder().keys(doc! {"source": 1, "id": 1}).options(unique).build()).await.expect("index");
    events.create_index(IndexModel::builder().keys(doc! {"run_id": 1, "seq": 1}).build()).await.expect("index");

    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (events, done, stop, mode, batch) = (events.clone(), done.clone(), stop.clone(), args.mode.clone(), args.batch);
        tasks.push(tokio::spawn(async move {
            let mut n = 0_u64;
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if mode == "one" {
                    events.insert_one(event(worker, n)).await.expect("insert_one");
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    let docs: Vec<Document> = (0..batch as u64).map(|i| event(worker, n + i)).collect();
                    events.insert_many(docs).await.expect("insert_many");
                    n += batch as u64;
                    done.fetch_add(batch as u64, Ordering::Relaxed);
                }
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
    let total = done.load(Ordering::Relaxed);
    println!(
        "raw insert_{}: {} docs in {elapsed:.1} s = {:.0} docs/s ({} calls, concurrency {}, p50 {:?}, p99 {:?})",
        args.mode,
        total,
        total as f64 / elapsed,
        latencies.len(),
        args.concurrency,
        pct(0.50).copied().unwrap_or_default(),
        pct(0.99).copied().unwrap_or_default(),
    );
    db.drop().await.expect("drop the bench database");
}
