//! `POST /api/ingest/event` against a real server process: every mode,
//! every status, hostile input — on every backend (see `conformance!`).

#[macro_use]
mod support;

use serde_json::{Value, json};
use support::{Backend, Env, Server, event, run_id};

fn server(b: Backend, args: &[&str]) -> (Env, Server) {
    let env = Env::new(b);
    let s = env.start(args);
    (env, s)
}

async fn the_seed_curl_example_is_stored_and_applied(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    // Exactly the seed's request, with a real UUID and plain application/json.
    let body = format!(
        r#"{{
    "specversion": "1.0",
    "id": "test-event-001",
    "source": "test",
    "type": "ai.myfeature.started",
    "subject": "run/{run}",
    "time": "2024-01-01T00:00:00Z",
    "datacontenttype": "application/json",
    "data": {{
      "run_id": "{run}",
      "feature_name": "test_feature"
    }}
  }}"#
    );
    let (status, resp) = s.post("application/json", body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["status"], "applied");
    assert_eq!(resp["id"], "test-event-001");
    assert_eq!(resp["run_id"], run.as_str());

    let (status, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["current_feature"], json!({"name": "test_feature", "status": "running", "started_at": "2024-01-01T00:00:00Z"}));
    assert_eq!(doc["status"], "queued", "a feature starting does not move the run's status");
}

async fn structured_media_type_is_matched_case_insensitively_with_parameters(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let e = event("a-1", "ai.run.started", json!({"run_id": run}), None);
    let (status, resp) = s.post("Application/CloudEvents+JSON; charset=UTF-8", e.to_string()).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.1["status"], "running");
}

async fn binary_mode_reads_ce_headers_and_stores_the_same_envelope(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let resp = s
        .client
        .post(s.url("/api/ingest/event"))
        .header("content-type", "application/json")
        .header("ce-specversion", "1.0")
        .header("ce-id", "bin-1")
        .header("ce-source", "/workers/%E2%9C%93") // percent-encoded ✓
        .header("ce-type", "ai.run.progress")
        .header("ce-subject", format!("run/{run}"))
        .header("ce-time", "2024-05-01T12:00:00+02:00")
        .header("ce-seq", "1")
        .body(json!({"run_id": run, "progress": 0.25}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "applied", "{body}");
    assert_eq!(body["source"], "/workers/✓");

    let (_, events) = s.get(&format!("/api/runs/{run}/events")).await;
    let stored = &events["events"][0]["event"];
    assert_eq!(stored["id"], "bin-1");
    assert_eq!(stored["time"], "2024-05-01T12:00:00+02:00", "the offset is kept");
    assert_eq!(stored["seq"], 1, "ce-seq is a declared integer extension");
    assert_eq!(stored["data"]["progress"], 0.25);
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.1["progress"], 0.25);
}

async fn binary_mode_rejects_ce_datacontenttype_and_bad_headers(b: Backend) {
    let (_d, s) = server(b, &[]);
    let base = || {
        s.client
            .post(s.url("/api/ingest/event"))
            .header("content-type", "application/json")
            .header("ce-specversion", "1.0")
            .header("ce-id", "b")
            .header("ce-source", "/s")
            .header("ce-type", "ai.run.started")
            .body(json!({"run_id": run_id()}).to_string())
    };
    let resp = base().header("ce-datacontenttype", "application/json").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "datacontenttype_header");

    let resp = base().header("ce-seq", "\"unterminated").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // `ce-*` headers on plain JSON mean binary mode even without
    // `ce-specversion`: the sender is told what is missing, not answered
    // as if its headers were not there (the body here is a whole envelope
    // that structured mode would have accepted).
    let run = run_id();
    let envelope = event("looks-structured", "ai.run.started", json!({"run_id": run}), None);
    let resp = s
        .client
        .post(s.url("/api/ingest/event"))
        .header("content-type", "application/json")
        .header("ce-id", "h1")
        .header("ce-source", "/s")
        .header("ce-type", "ai.run.started")
        .body(envelope.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let p: Value = resp.json().await.unwrap();
    assert_eq!((p["code"].as_str(), p["attribute"].as_str()), (Some("missing_attribute"), Some("specversion")), "{p}");
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.0, 404, "nothing stored");
}

async fn batch_mode_reports_per_event_results(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let batch = json!([
        event("b-1", "ai.run.started", json!({"run_id": run}), Some(1)),
        {"specversion": "1.0", "source": "/s", "type": "ai.run.progress"},            // no id
        event("b-3", "ai.run.progress", json!({"run_id": run, "progress": 7}), Some(2)), // out of range
        event("b-4", "ai.nope.happened", json!({"run_id": run}), None),              // unknown type
        event("b-5", "ai.run.progress", json!({"run_id": run, "progress": 0.5}), Some(2)),
        event("b-1", "ai.run.started", json!({"run_id": run}), Some(1)),             // repeat within batch
    ]);
    let (status, resp) = s.post("application/cloudevents-batch+json", batch.to_string()).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["accepted"], 3);
    assert_eq!(resp["rejected"], 3);
    let r = resp["results"].as_array().unwrap();
    assert_eq!(r.len(), 6);
    assert_eq!(r[0]["status"], "applied");
    assert_eq!(r[1]["status"], "invalid");
    assert_eq!(r[1]["problem"]["code"], "missing_attribute");
    assert_eq!(r[1]["problem"]["status"], 400);
    assert_eq!(r[2]["problem"]["status"], 422);
    assert_eq!(r[2]["problem"]["errors"][0]["pointer"], "/data/progress");
    assert_eq!(r[3]["problem"]["code"], "unknown_type");
    assert_eq!(r[4]["status"], "applied");
    assert_eq!(r[5]["status"], "duplicate");
    for (i, item) in r.iter().enumerate() {
        assert_eq!(item["index"], i);
    }
    let doc = s.get(&format!("/api/runs/{run}")).await.1;
    assert_eq!(doc["last_event_seq"], 2);
    assert_eq!(doc["progress"], 0.5);
}

async fn batch_edge_cases(b: Backend) {
    let (_d, s) = server(b, &[]);
    let (status, resp) = s.post("application/cloudevents-batch+json", "[]").await;
    assert_eq!(status, 200);
    assert_eq!(resp, json!({"accepted": 0, "rejected": 0, "results": []}));

    let (status, p) = s.post("application/cloudevents-batch+json", r#"{"specversion":"1.0"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(p["code"], "not_a_batch");

    let (status, p) = s.post("application/cloudevents-batch+json", r#"[{"specversion":"1.0","#).await;
    assert_eq!(status, 400);
    assert_eq!(p["code"], "invalid_json");

    // Not an event object, a nested array, another CloudEvents version: the
    // whole batch is refused (a client that checks only the status must not
    // see success), and nothing of it is stored.
    let run = run_id();
    let good = event("b-good", "ai.run.started", json!({"run_id": run}), None);
    let old = json!({"specversion": "0.3", "id": "b-old", "source": "/t", "type": "ai.run.started", "data": {"run_id": run}});
    for bad in [json!(42), json!([good.clone()]), old] {
        let body = Value::Array(vec![good.clone(), bad.clone()]).to_string();
        let (status, p) = s.post("application/cloudevents-batch+json", body).await;
        assert_eq!((status, p["code"].as_str()), (400, Some("malformed_batch")), "{bad}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("element 1"), "{p}");
    }
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.0, 404, "nothing of a refused batch is stored");

    // More events than a batch may carry: 413 before any is read.
    let tiny = format!("[{}0]", "0,".repeat(200_000));
    let (status, p) = s.post("application/cloudevents-batch+json", tiny).await;
    assert_eq!((status, p["code"].as_str()), (413, Some("batch_too_large")), "{p}");
}

async fn duplicates_are_acknowledged_and_applied_once(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let metric = |id: &str, source: &str, v: f64| {
        let mut e = event(id, "ai.run.metric", json!({"run_id": run, "metric_name": "loss", "value": v}), None);
        e["source"] = json!(source);
        e
    };
    assert_eq!(s.send(&metric("m-1", "/a", 1.0)).await.1["status"], "applied");
    // Same (source, id), different payload: a retry, not a new event.
    let (status, resp) = s.send(&metric("m-1", "/a", 99.0)).await;
    assert_eq!((status, resp["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.1["metrics"]["loss"], 1.0);
    // Same id from another source is another event (identity is source + id).
    assert_eq!(s.send(&metric("m-1", "/b", 2.0)).await.1["status"], "applied");
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.1["metrics"]["loss"], 2.0);
    let events = s.get(&format!("/api/runs/{run}/events")).await.1;
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.1["applied_events"], 2, "the retry was not applied");
}

async fn malformed_envelopes_get_400_with_a_code(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let good = event("g", "ai.run.started", json!({"run_id": run}), None);
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "invalid_json"),
        (good.to_string()[..40].to_owned(), "invalid_json"), // truncated
        ("[1,2]".into(), "not_an_object"),
        (json!({"specversion": "0.3", "id": "x", "source": "/s", "type": "ai.run.started"}).to_string(), "unsupported_specversion"),
        (json!({"specversion": "1.0", "source": "/s", "type": "ai.run.started"}).to_string(), "missing_attribute"),
        (json!({"specversion": "1.0", "id": "", "source": "/s", "type": "ai.run.started"}).to_string(), "empty_attribute"),
        (r#"{"specversion":"1.0","id":"a","id":"b","source":"/s","type":"t"}"#.into(), "duplicate_attribute"),
        (json!({"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "time": "yesterday"}).to_string(), "invalid_time"),
        (json!({"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "Bad-Name": 1}).to_string(), "invalid_extension_name"),
        (
            json!({"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "data": {}, "data_base64": "AA=="}).to_string(),
            "data_and_data_base64",
        ),
    ];
    for (body, code) in cases {
        let (status, p) = s.post("application/cloudevents+json", body.clone()).await;
        assert_eq!(status, 400, "{body} → {p}");
        assert_eq!(p["code"], code, "{body} → {p}");
        assert_eq!(p["status"], 400);
        assert!(p["type"].as_str().unwrap().starts_with("urn:herald:problem:"));
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
    assert_eq!(s.get("/api/runs").await.1["runs"], json!([]), "nothing was stored");
}

/// events.yaml's envelope rules (the seed's envelope): `subject`, `time`
/// and `datacontenttype` required (400), the media type pinned (400), and
/// the subject the template filled from the data (422, pointer `/subject`);
/// `seq` is a 64-bit integer.
async fn the_catalog_envelope_rules_are_enforced(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let good = event("r-good", "ai.run.started", json!({"run_id": run}), Some(1));
    for attribute in ["subject", "time", "datacontenttype"] {
        let mut e = good.clone();
        e.as_object_mut().unwrap().remove(attribute);
        let (status, p) = s.post("application/cloudevents+json", e.to_string()).await;
        assert_eq!((status, p["code"].as_str(), p["attribute"].as_str()), (400, Some("missing_attribute"), Some(attribute)), "{p}");
    }
    let mut e = good.clone();
    e["datacontenttype"] = json!("text/json");
    let (status, p) = s.post("application/cloudevents+json", e.to_string()).await;
    assert_eq!((status, p["code"].as_str()), (400, Some("invalid_datacontenttype")), "{p}");

    let mut e = good.clone();
    e["subject"] = json!(format!("run/{}", run_id()));
    let (status, p) = s.post("application/cloudevents+json", e.to_string()).await;
    assert_eq!((status, p["code"].as_str(), p["attribute"].as_str()), (422, Some("subject_mismatch"), Some("subject")), "{p}");
    assert_eq!(p["errors"][0]["pointer"], "/subject", "{p}");
    assert_eq!(p["errors"][0]["expected"], format!("run/{run}"), "{p}");
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.0, 404, "nothing was stored");

    // A `seq` past 32 bits is sequenced like any other.
    let (status, resp) = s.post("application/cloudevents+json", good.to_string()).await;
    assert_eq!((status, resp["status"].as_str()), (200, Some("applied")), "{resp}");
    let big = event("r-big", "ai.run.progress", json!({"run_id": run, "progress": 0.5}), Some(1_i64 << 40));
    let (status, resp) = s.post("application/cloudevents+json", big.to_string()).await;
    assert!(status == 200 || status == 202, "{resp}");
    let (_, events) = s.get(&format!("/api/runs/{run}/events")).await;
    assert!(events["events"].as_array().unwrap().iter().any(|e| e["event"]["seq"] == json!(1_i64 << 40)), "{events}");
}

async fn problem_responses_use_the_problem_media_type(b: Backend) {
    let (_d, s) = server(b, &[]);
    let resp = s.client.post(s.url("/api/ingest/event")).header("content-type", "application/json").body("{").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // Errors the framework answers itself are problem documents too.
    let resp = s.client.delete(s.url("/api/runs")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(resp.headers()["allow"].to_str().unwrap().contains("GET"));
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "method_not_allowed", "{p}");
    let resp = s.client.get(s.url("/api/runs/%FF%FE")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "bad_request", "{p}");
}

async fn unknown_types_and_bad_data_get_422_with_pointers(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let (status, p) = s.send(&event("u", "ai.unknown.thing", json!({"run_id": run}), None)).await;
    assert_eq!(status, 422);
    assert_eq!(p["code"], "unknown_type");
    assert_eq!(p["type"], "urn:herald:problem:unknown-type");

    let (status, p) =
        s.send(&event("v", "ai.myfeature.progress", json!({"run_id": run, "feature_name": "f", "progress": 1.5}), None)).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["errors"][0]["pointer"], "/data/progress");
    assert_eq!(p["errors"][0]["rule"], "maximum");

    let (status, p) = s.send(&event("w", "ai.run.started", json!({"run_id": "not-a-uuid"}), None)).await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["pointer"], "/data/run_id");

    let (status, p) = s.send(&event("x", "ai.run.started", json!({"run_id": run, "pipeline": null}), None)).await;
    assert_eq!(status, 422, "an optional field sent as null is not a string: {p}");

    let mut e = event("y", "ai.run.started", json!({"run_id": run}), None);
    e["seq"] = json!("three");
    let (status, p) = s.send(&e).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["attribute"], "seq");
}

async fn oversized_bodies_get_413_and_unknown_media_types_415(b: Backend) {
    let (_d, s) = server(b, &["--body-limit", "65536"]);
    let run = run_id();
    let mut e = event("big", "ai.run.error", json!({"run_id": run, "error_type": "x", "error_message": "m"}), None);
    e["data"]["traceback"] = json!("x".repeat(70_000));
    let (status, p) = s.send(&e).await;
    assert_eq!(status, 413, "{p}");
    assert_eq!(p["code"], "body_too_large");
    // Just under the limit is fine.
    e["data"]["traceback"] = json!("x".repeat(60_000));
    assert_eq!(s.send(&e).await.0, 200);

    let (status, p) = s.post("text/plain", "hello").await;
    assert_eq!(status, 415);
    assert_eq!(p["code"], "unsupported_media_type");
    let resp = s.client.post(s.url("/api/ingest/event")).body("{}").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 415, "no Content-Type and no ce-* headers");
}

async fn a_chunked_body_over_the_limit_is_refused_while_reading(b: Backend) {
    use std::io::{Read, Write};
    let (_d, s) = server(b, &["--body-limit", "65536"]);
    // Chunked encoding has no Content-Length, so the limit must hold while
    // reading. Raw HTTP/1.1, so nothing in a client library sets a length.
    let addr = s.base.trim_start_matches("http://");
    // Blocking I/O is fine here: the server is another process.
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let head = "POST /api/ingest/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    conn.write_all(head.as_bytes()).unwrap();
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    for _ in 0..100 {
        if conn.write_all(chunk.as_bytes()).is_err() {
            break; // the server may stop reading once over the limit
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n");
    let mut response = Vec::new();
    let _ = conn.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
}

async fn hostile_input_never_crashes_the_server(b: Backend) {
    let (_d, s) = server(b, &[]);
    let deep = "[".repeat(100_000);
    let nested_data = format!(
        r#"{{"specversion":"1.0","id":"d","source":"/s","type":"ai.run.started","data":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        nested_data.into_bytes(),
        b"\xff\xfe\x00garbage".to_vec(),
        br#"{"specversion":"1.0","id":"\ud800","source":"/s","type":"t"}"#.to_vec(), // lone surrogate
        b"{\"specversion\":\"1.0\",\"id\":\"a\x01b\",\"source\":\"/s\",\"type\":\"t\"}".to_vec(), // control char
        br#"{"specversion":"1.0","id":"x","source":"/s","type":"t","seq":99999999999999999999}"#.to_vec(),
        Vec::new(),
        b"null".to_vec(),
    ];
    for body in bodies {
        let (status, p) = s.post("application/cloudevents+json", body.clone()).await;
        assert!((400..500).contains(&status), "{:?} → {status} {p}", String::from_utf8_lossy(&body[..body.len().min(60)]));
    }
    assert_eq!(s.get("/healthz").await.0, 200, "still up");
}

/// Keys no store can take as they are (NUL, `.`, `$`) are stored and read
/// back exactly: never a 503 the sender would retry forever, never a
/// failure of the group the event was coalesced with.
async fn odd_keys_in_data_are_stored_and_read_back(b: Backend) {
    let (_d, s) = server(b, &[]);
    let run = run_id();
    let config = json!({"nul\u{0}key": 1, "a.b": 2, "$set": 3, "%00": 4});
    let odd = event("odd-keys", "ai.run.started", json!({"run_id": run, "config": config}), None);
    let neighbour_run = run_id();
    let neighbour = event("odd-neighbour", "ai.run.started", json!({"run_id": neighbour_run}), None);
    let (status, resp) = s.post("application/cloudevents-batch+json", json!([odd, neighbour]).to_string()).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["results"][0]["status"], "applied", "{resp}");
    assert_eq!(resp["results"][1]["status"], "applied", "{resp}");
    let (_, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(doc["config"], config, "{doc}");
}

conformance!(
    odd_keys_in_data_are_stored_and_read_back,
    the_seed_curl_example_is_stored_and_applied,
    structured_media_type_is_matched_case_insensitively_with_parameters,
    binary_mode_reads_ce_headers_and_stores_the_same_envelope,
    binary_mode_rejects_ce_datacontenttype_and_bad_headers,
    batch_mode_reports_per_event_results,
    batch_edge_cases,
    duplicates_are_acknowledged_and_applied_once,
    malformed_envelopes_get_400_with_a_code,
    the_catalog_envelope_rules_are_enforced,
    problem_responses_use_the_problem_media_type,
    unknown_types_and_bad_data_get_422_with_pointers,
    oversized_bodies_get_413_and_unknown_media_types_415,
    a_chunked_body_over_the_limit_is_refused_while_reading,
    hostile_input_never_crashes_the_server,
);
