//! Run state over real HTTP: `seq` ordering and parking, gap timeout,
//! the status state machine, restart, and the query API — on every
//! backend (see `conformance!`).

#[macro_use]
mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, Env, Server, event, progress, run_id};

fn server(b: Backend, args: &[&str]) -> (Env, Server) {
    let env = Env::new(b);
    let s = env.start(args);
    (env, s)
}

async fn run_doc(s: &Server, run: &str) -> Value {
    let (status, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(status, 200, "run {run}: {doc}");
    doc
}

async fn out_of_order_events_are_parked_then_applied_in_seq_order(b: Backend) {
    let (_d, s) = server(b, &["--gap-timeout", "1h"]);
    let run = run_id();
    assert_eq!(s.send(&progress(&run, "p1", 1, 0.1)).await.1["status"], "applied");

    let (status, resp) = s.send(&progress(&run, "p3", 3, 0.3)).await;
    assert_eq!(status, 202, "{resp}");
    assert_eq!(resp["status"], "parked");
    assert_eq!(resp["expected_seq"], 2);
    let (status, resp) = s.send(&progress(&run, "p4", 4, 0.4)).await;
    assert_eq!(status, 202, "{resp}");

    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["progress"], 0.1, "parked events are not applied");
    assert_eq!(doc["parked_events"], 2);
    assert_eq!(doc["applied_events"], 1);

    let (status, resp) = s.send(&progress(&run, "p2", 2, 0.2)).await;
    assert_eq!(status, 200);
    assert_eq!(resp["status"], "applied");
    assert_eq!(resp["released"], json!([3, 4]), "the gap filled: 3 and 4 apply in the same commit");

    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["last_event_seq"], 4);
    assert_eq!(doc["progress"], 0.4);
    assert_eq!(doc["current_step"], "step-4");
    assert_eq!(doc["parked_events"], 0);
    assert_eq!(doc["applied_events"], 4);

    let (_, events) = s.get(&format!("/api/runs/{run}/events")).await;
    let seqs: Vec<i64> = events["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "stored events come back in seq order");
}

async fn a_late_or_repeated_seq_never_moves_state_backwards(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    for (i, p) in [(1, 0.1), (2, 0.2), (3, 0.3)] {
        s.send(&progress(&run, &format!("e{i}"), i, p)).await;
    }
    // A new event (new id) carrying an old seq: stored, not applied.
    let (status, resp) = s.send(&progress(&run, "late", 2, 0.9)).await;
    assert_eq!(status, 200, "stored, so the sender must not retry: {resp}");
    assert_eq!(resp["status"], "stale");
    assert_eq!(resp["last_event_seq"], 3);
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["progress"], 0.3);
    assert_eq!(doc["history"].as_array().unwrap().last().unwrap()["kind"], "stale_event");
}

async fn events_without_seq_apply_on_arrival_and_leave_the_sequence_alone(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    s.send(&progress(&run, "a", 1, 0.1)).await;
    let metric = event("m", "ai.run.metric", json!({"run_id": run, "metric_name": "tokens", "value": 10}), None);
    assert_eq!(s.send(&metric).await.1["status"], "applied");
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["metrics"]["tokens"], 10.0);
    assert_eq!(doc["last_event_seq"], 1);
}

async fn a_gap_that_never_fills_is_skipped_after_the_timeout_and_recorded(b: Backend) {
    let (_d, s) = server(b, &["--gap-timeout", "300ms"]);
    let run = run_id();
    s.send(&progress(&run, "g1", 1, 0.1)).await;
    assert_eq!(s.send(&progress(&run, "g4", 4, 0.4)).await.0, 202);
    assert_eq!(s.send(&progress(&run, "g5", 5, 0.5)).await.0, 202);

    let mut doc = run_doc(&s, &run).await;
    for _ in 0..100 {
        if doc["last_event_seq"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        doc = run_doc(&s, &run).await;
    }
    assert_eq!(doc["last_event_seq"], 5, "{doc}");
    assert_eq!(doc["progress"], 0.5);
    let gap = doc["history"].as_array().unwrap().iter().find(|h| h["kind"] == "gap_skipped").expect("gap in history");
    assert_eq!(gap["detail"], json!({"missing_from_seq": 2, "missing_to_seq": 3}));

    // The missing events arriving now are stale: the run moved on.
    let (status, resp) = s.send(&progress(&run, "g2", 2, 0.2)).await;
    assert_eq!((status, resp["status"].as_str()), (200, Some("stale")));
    assert_eq!(run_doc(&s, &run).await["progress"], 0.5);
}

async fn run_status_follows_the_catalog_state_machine(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let started = |id: &str| event(id, "ai.run.started", json!({"run_id": run}), None);
    let completed = |id: &str, result: &str| event(id, "ai.run.completed", json!({"run_id": run, "result": result}), None);

    assert_eq!(run_doc_after(&s, &started("s1"), &run).await["status"], "running");
    assert_eq!(run_doc_after(&s, &completed("c1", "success"), &run).await["status"], "completed");

    // Terminal states are final: a second start is stored, not applied.
    let (status, resp) = s.send(&started("s2")).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["status"], "illegal_transition");
    assert_eq!(resp["from"], "completed");
    assert_eq!(resp["to"], "running");
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["status"], "completed");
    let h = doc["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(h["kind"], "illegal_transition");
    assert_eq!(h["detail"]["id"], "s2");
    let (_, events) = s.get(&format!("/api/runs/{run}/events")).await;
    assert_eq!(events["events"].as_array().unwrap().iter().filter(|e| e["state"] == "illegal_transition").count(), 1);
}

async fn run_doc_after(s: &Server, e: &Value, run: &str) -> Value {
    let (status, resp) = s.send(e).await;
    assert_eq!(status, 200, "{resp}");
    run_doc(s, run).await
}

async fn a_failed_result_moves_the_run_to_failed_and_records_the_error(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    s.send(&event("s", "ai.run.started", json!({"run_id": run}), None)).await;
    let done = event(
        "c",
        "ai.run.completed",
        json!({"run_id": run, "result": "failure", "error_message": "boom", "metrics": {"duration_ms": 5, "items_processed": 2}}),
        None,
    );
    let doc = run_doc_after(&s, &done, &run).await;
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["error_message"], "boom");
    assert_eq!(doc["metrics"]["duration_ms"], 5.0);
}

async fn the_seed_feature_handlers_fill_current_feature_and_metrics(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    s.send(&event("f1", "ai.myfeature.started", json!({"run_id": run, "feature_name": "summarize"}), Some(1))).await;
    s.send(&event(
        "f2",
        "ai.myfeature.progress",
        json!({"run_id": run, "feature_name": "summarize", "progress": 0.5, "current_step": "reading"}),
        Some(2),
    ))
    .await;
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["current_feature"]["status"], "running");
    assert_eq!(doc["current_feature"]["progress"], 0.5);
    assert_eq!(doc["current_feature"]["current_step"], "reading");
    assert_eq!(doc["current_feature"]["started_at"], "2024-05-01T12:00:00Z", "progress keeps started_at");

    s.send(&event(
        "f3",
        "ai.myfeature.completed",
        json!({"run_id": run, "feature_name": "summarize", "result": "failure", "error_message": "timeout",
               "metrics": {"duration_ms": 1200, "items_processed": 7}}),
        Some(3),
    ))
    .await;
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["current_feature"]["status"], "failed");
    assert_eq!(doc["current_feature"]["completed_at"], "2024-05-01T12:00:00Z");
    assert_eq!(doc["metrics"]["summarize_duration_ms"], 1200.0);
    assert_eq!(doc["metrics"]["summarize_items"], 7.0);
    assert_eq!(doc["error_message"], "timeout");
    assert_eq!(doc["last_event_seq"], 3);
}

async fn restart_on_the_same_store_loses_nothing_and_reapplies_nothing(b: Backend) {
    let env = Env::new(b);
    let run = run_id();
    let events: Vec<Value> = (1..=5).map(|i| progress(&run, &format!("r{i}"), i, i as f64 / 10.0)).collect();
    let parked = progress(&run, "r7", 7, 0.7);
    let before = {
        let s = env.start(&["--gap-timeout", "1h"]);
        for e in &events {
            assert_eq!(s.send(e).await.0, 200);
        }
        assert_eq!(s.send(&parked).await.0, 202);
        let doc = run_doc(&s, &run).await;
        s.terminate();
        doc
    };
    let s = env.start(&["--gap-timeout", "1h"]);
    let after = run_doc(&s, &run).await;
    assert_eq!(after, before, "the run reads the same after a restart");
    // Senders retrying after the restart get duplicates, not re-applies.
    for e in events.iter().chain([&parked]) {
        let (status, resp) = s.send(e).await;
        assert_eq!((status, resp["status"].as_str()), (200, Some("duplicate")), "{resp}");
    }
    // The parked event survived the restart and still waits for seq 6.
    let (status, resp) = s.send(&progress(&run, "r6", 6, 0.6)).await;
    assert_eq!(status, 200);
    assert_eq!(resp["released"], json!([7]));
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["last_event_seq"], 7);
    assert_eq!(doc["applied_events"], 7, "retries after the restart applied nothing again");
    let (_, stored) = s.get(&format!("/api/runs/{run}/events?limit=1000")).await;
    assert_eq!(stored["events"].as_array().unwrap().len(), 7, "each event stored exactly once");
}

async fn runs_are_listed_filtered_and_paged(b: Backend) {
    let (_d, s) = server(b, &[]);
    let mut running: Vec<String> = (0..3).map(|_| run_id()).collect();
    running.sort();
    for (i, r) in running.iter().enumerate() {
        s.send(&event(&format!("s{i}"), "ai.run.started", json!({"run_id": r}), None)).await;
    }
    let queued = run_id();
    s.send(&progress(&queued, "q", 1, 0.5)).await;

    let (status, page) = s.get("/api/runs?status=running&limit=2").await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["runs"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![running[0].as_str(), running[1].as_str()]);
    let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, page2) = s.get(&format!("/api/runs?status=running&limit=2&cursor={cursor}")).await;
    assert_eq!(page2["runs"][0]["run_id"], running[2].as_str());
    assert!(page2.get("next_cursor").is_none(), "last page: {page2}");

    let (_, all) = s.get("/api/runs?limit=1000").await;
    assert_eq!(all["runs"].as_array().unwrap().len(), 4);
    let (_, q) = s.get("/api/runs?status=queued").await;
    assert_eq!(q["runs"][0]["run_id"], queued.as_str());
}

async fn bad_query_parameters_get_400_problems(b: Backend) {
    let (_d, s) = server(b, &[]);
    for path in
        ["/api/runs?limit=0", "/api/runs?limit=abc", "/api/runs?limit=5000", "/api/runs?status=sleeping", "/api/runs/x/events?after_seq=x"]
    {
        let resp = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json", "{path}");
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["code"], "invalid_query", "{path}: {p}");
    }
    let (status, p) = s.get(&format!("/api/runs/{}", run_id())).await;
    assert_eq!(status, 404);
    assert_eq!(p["code"], "not_found");
}

async fn run_events_page_by_seq(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    for i in 1..=5 {
        s.send(&progress(&run, &format!("e{i}"), i, 0.1)).await;
    }
    let (_, page) = s.get(&format!("/api/runs/{run}/events?after_seq=2&limit=2")).await;
    let seqs: Vec<i64> = page["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![3, 4]);
    assert_eq!(page["events"][0]["event"]["id"], "e3");
    assert_eq!(page["events"][0]["state"], "applied");
}

/// Every stored event can be listed: events without `seq` come after the
/// others, after a `seq` too, and any number of them is reached by
/// following `next_cursor`; a page of large events stops at its byte cap.
async fn every_stored_event_can_be_listed_page_by_page(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    for i in 1..=3 {
        s.send(&progress(&run, &format!("p{i}"), i, 0.1)).await;
    }
    for i in 1..=5 {
        let metric = event(&format!("m{i}"), "ai.run.metric", json!({"run_id": run, "metric_name": format!("m{i}"), "value": 1.0}), None);
        assert_eq!(s.send(&metric).await.0, 200);
    }
    let list = |query: String| {
        let s = &s;
        let run = run.clone();
        async move {
            let mut ids = Vec::new();
            let mut cursor = String::new();
            loop {
                let (status, page) = s.get(&format!("/api/runs/{run}/events?limit=2{query}{cursor}")).await;
                assert_eq!(status, 200, "{page}");
                ids.extend(page["events"].as_array().unwrap().iter().map(|e| e["event"]["id"].as_str().unwrap().to_owned()));
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => return ids,
                }
            }
        }
    };
    assert_eq!(list(String::new()).await, ["p1", "p2", "p3", "m1", "m2", "m3", "m4", "m5"]);
    assert_eq!(list("&after_seq=2".into()).await, ["p3", "m1", "m2", "m3", "m4", "m5"]);
    // `seq` is 64-bit: one past 2^31 still lists before the events without.
    let wide = run_id();
    let plain = event("w-none", "ai.run.metric", json!({"run_id": wide, "metric_name": "m", "value": 1.0}), None);
    assert_eq!(s.send(&plain).await.0, 200);
    assert!(matches!(s.send(&progress(&wide, "w-big", (1_i64 << 31) + 1, 0.5)).await.0, 200 | 202));
    let (_, page) = s.get(&format!("/api/runs/{wide}/events")).await;
    let ids: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["event"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["w-big", "w-none"], "{page}");

    let (status, p) = s.get(&format!("/api/runs/{run}/events?cursor=nonsense")).await;
    assert_eq!((status, p["code"].as_str()), (400, Some("invalid_query")), "{p}");

    // Large events: a page stops at 512 KiB of envelopes, whatever `limit`
    // (one 900 KB event per page), and the cursor walks them all.
    let big = run_id();
    let traceback = "t".repeat(900_000);
    for i in 1..=6 {
        let e = event(
            &format!("big{i}"),
            "ai.run.error",
            json!({"run_id": big, "error_type": "E", "error_message": "m", "traceback": traceback}),
            None,
        );
        assert_eq!(s.send(&e).await.0, 200);
    }
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = s.get(&format!("/api/runs/{big}/events?limit=50{cursor}")).await;
        pages.push(page["events"].as_array().unwrap().len());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(pages, [1, 1, 1, 1, 1, 1], "one 900 KB event per page (the first event of a page always fits)");
}

async fn the_registry_and_health_endpoints(b: Backend) {
    let (_d, s) = server(b, &[]);
    let (status, types) = s.get("/api/event-types").await;
    assert_eq!(status, 200);
    let list = types["event_types"].as_array().unwrap();
    // Every type the compiled catalog registers, each once.
    assert_eq!(list.len(), <herald_server::events::Catalog as herald::EventCatalog>::TYPES.len());
    let progress = list.iter().find(|t| t["type"] == "ai.myfeature.progress").unwrap();
    assert_eq!(progress["schema"]["properties"]["progress"]["maximum"], 1.0);
    assert_eq!(progress["handler"], "on_myfeature_progress");

    let (status, one) = s.get("/api/event-types/ai.run.started").await;
    assert_eq!(status, 200);
    assert_eq!(one["version"], 1);
    assert_eq!(s.get("/api/event-types/ai.nope").await.0, 404);
    assert_eq!(s.get("/healthz").await.0, 200);
    let (status, ready) = s.get("/readyz").await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ok")), "{ready}");
    assert!(ready.get("reason").is_none(), "no reason while ready: {ready}");
    assert_eq!(s.get("/no/such/route").await.0, 404);
}

/// Many requests at once, each run's `seq`s arriving in reverse: the
/// server stores them in shared commits (SQLite) or groups (MongoDB),
/// where events parked earlier in a group are released later in it. Every
/// event must end applied exactly once, in `seq` order.
async fn concurrent_reversed_events_of_a_few_runs_all_apply_once(b: Backend) {
    const PER_RUN: i64 = 30;
    let (_d, s) = server(b, &["--gap-timeout", "1h"]);
    let runs: Vec<String> = (0..4).map(|_| run_id()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for seq in (1..=PER_RUN).rev() {
        for run in &runs {
            let (client, url) = (s.client.clone(), s.url("/api/ingest/event"));
            let body = progress(run, &format!("{run}-{seq}"), seq, seq as f64 / 100.0).to_string();
            // A retry of every fifth event, racing its original.
            let copies = if seq % 5 == 0 { 2 } else { 1 };
            for _ in 0..copies {
                let (client, url, body) = (client.clone(), url.clone(), body.clone());
                tasks.spawn(async move {
                    let resp = client.post(url).header("content-type", "application/cloudevents+json").body(body).send().await;
                    resp.expect("request").status().as_u16()
                });
            }
        }
    }
    while let Some(status) = tasks.join_next().await {
        let status = status.unwrap();
        assert!(status == 200 || status == 202, "status {status}");
    }
    for run in &runs {
        let doc = run_doc(&s, run).await;
        assert_eq!(doc["last_event_seq"], PER_RUN, "{doc}");
        assert_eq!(doc["applied_events"], PER_RUN, "each event applied once: {doc}");
        assert_eq!(doc["parked_events"], 0, "{doc}");
        assert_eq!(doc["progress"], PER_RUN as f64 / 100.0);
        let (_, events) = s.get(&format!("/api/runs/{run}/events?limit=1000")).await;
        let events = events["events"].as_array().unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=PER_RUN).collect::<Vec<_>>(), "each stored once");
        assert!(events.iter().all(|e| e["state"] == "applied"), "{events:?}");
    }
}

conformance!(
    out_of_order_events_are_parked_then_applied_in_seq_order,
    a_late_or_repeated_seq_never_moves_state_backwards,
    events_without_seq_apply_on_arrival_and_leave_the_sequence_alone,
    a_gap_that_never_fills_is_skipped_after_the_timeout_and_recorded,
    run_status_follows_the_catalog_state_machine,
    a_failed_result_moves_the_run_to_failed_and_records_the_error,
    the_seed_feature_handlers_fill_current_feature_and_metrics,
    restart_on_the_same_store_loses_nothing_and_reapplies_nothing,
    runs_are_listed_filtered_and_paged,
    bad_query_parameters_get_400_problems,
    run_events_page_by_seq,
    the_registry_and_health_endpoints,
    concurrent_reversed_events_of_a_few_runs_all_apply_once,
    small_collections_show_whole_and_large_ones_are_paged,
    every_stored_event_can_be_listed_page_by_page,
);

fn node(run: &str, id: &str, node: &str) -> Value {
    event(id, "ai.node.created", json!({"run_id": run, "node_id": node, "node_type": "step"}), None)
}

fn batch(events: Vec<Value>) -> String {
    Value::Array(events).to_string()
}

/// A run's growing collections are stored item by item: a small one shows
/// inside the run document as before, a large one is counted there and
/// paged through its own endpoint.
async fn small_collections_show_whole_and_large_ones_are_paged(b: Backend) {
    let (_d, s) = server(b, &[]);
    let (small, large) = (run_id(), run_id());
    for i in 0..3 {
        s.send(&node(&small, &format!("s{i}"), &format!("n{i}"))).await;
    }
    let done = event("done", "ai.node.completed", json!({"run_id": small, "node_id": "n1", "result": "success", "score": 0.5}), None);
    assert_eq!(s.send(&done).await.0, 200);
    let doc = run_doc(&s, &small).await;
    assert_eq!(doc["item_counts"], json!({"nodes": 3}));
    assert_eq!(doc["nodes"]["n1"]["status"], "success", "{doc}");
    assert_eq!(doc["nodes"]["n1"]["node_type"], "step", "a later event merges into the item");
    assert_eq!(doc["nodes"]["n1"]["score"], 0.5);

    let n = 250;
    let events: Vec<Value> = (0..n).map(|i| node(&large, &format!("l{i}"), &format!("node-{i:04}"))).collect();
    for chunk in events.chunks(100) {
        let (status, _) = s.post("application/cloudevents-batch+json", batch(chunk.to_vec())).await;
        assert_eq!(status, 200);
    }
    let doc = run_doc(&s, &large).await;
    assert_eq!(doc["item_counts"]["nodes"], n);
    assert!(doc.get("nodes").is_none(), "too many to show whole: {}", doc["nodes"]);

    let mut keys = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = s.get(&format!("/api/runs/{large}/items/nodes?limit=100&cursor={cursor}")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["collection"], "nodes");
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["value"]["status"], "created");
            keys.push(item["key"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = (0..n).map(|i| format!("node-{i:04}")).collect();
    assert_eq!(keys, expected, "every item once, in key order");

    let (status, body) = s.get(&format!("/api/runs/{large}/items/widgets")).await;
    assert_eq!(status, 404);
    assert!(body["detail"].as_str().unwrap().contains("nodes"), "{body}");
    let (status, _) = s.get(&format!("/api/runs/{large}/items/nodes?limit=0")).await;
    assert_eq!(status, 400);
}
