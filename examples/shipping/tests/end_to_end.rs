//! The shipping example end to end: its binary (the server library over
//! this crate's catalog) on 127.0.0.1:0 with a fresh SQLite store; events
//! go in over HTTP and come back out of the query API, ordered by `seq`
//! and moved through the order lifecycle.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The running example; killed when dropped.
struct Shop {
    child: Child,
    base: String,
    client: reqwest::Client,
    _data: tempfile::TempDir,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Shop {
    fn start() -> Shop {
        let data = tempfile::tempdir().expect("a data dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald-shipping"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start herald-shipping");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the listen line");
        let base = line.trim().strip_prefix("herald-server listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_owned();
        Shop { child, base, client: reqwest::Client::new(), _data: data }
    }

    async fn send(&self, event: &Value) -> (u16, Value) {
        let resp = self.client.post(format!("{}/api/ingest/event", self.base)).json(event).send().await.expect("POST");
        (resp.status().as_u16(), resp.json().await.expect("a JSON answer"))
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("GET");
        (resp.status().as_u16(), resp.text().await.expect("a text answer"))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("GET");
        (resp.status().as_u16(), resp.json().await.expect("a JSON answer"))
    }
}

/// An event of this catalog about `order`, with its `seq`.
fn event(id: &str, ty: &str, seq: i64, data: Value) -> Value {
    let order = data["order_id"].as_str().expect("order_id").to_owned();
    json!({"specversion": "1.0", "id": id, "source": "/shop/tests", "type": ty, "subject": format!("order/{order}"), "seq": seq, "data": data})
}

#[tokio::test]
async fn orders_are_stored_ordered_and_moved_through_their_lifecycle() {
    let shop = Shop::start();
    let order = "A-1001";

    let (status, types) = shop.get("/api/event-types").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = types["event_types"].as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(names, ["shop.order.canceled", "shop.order.delivered", "shop.order.packed", "shop.order.placed", "shop.order.shipped"]);
    assert!(types["event_types"].as_array().unwrap().iter().all(|t| t["stream_key"] == "order_id"), "{types}");

    let placed = event("e1", "shop.order.placed", 1, json!({"order_id": order, "customer": "ada", "total_cents": 4200}));
    let (status, ack) = shop.send(&placed).await;
    assert_eq!((status, ack["status"].as_str()), (200, Some("applied")), "{ack}");
    assert_eq!(ack["run_id"], order, "the stream is the order");
    let (_, doc) = shop.get(&format!("/api/runs/{order}")).await;
    assert_eq!(doc["status"], "placed", "a new order starts in the lifecycle's initial status: {doc}");

    // Shipped (seq 3) before packed (seq 2): parked until the gap fills.
    let shipped = event("e3", "shop.order.shipped", 3, json!({"order_id": order, "carrier": "dhl", "tracking": "JD0001"}));
    let (status, ack) = shop.send(&shipped).await;
    assert_eq!((status, ack["status"].as_str(), ack["expected_seq"].as_i64()), (202, Some("parked"), Some(2)), "{ack}");
    let packed = event("e2", "shop.order.packed", 2, json!({"order_id": order, "parcels": 2}));
    let (status, ack) = shop.send(&packed).await;
    assert_eq!((status, ack["released"].clone()), (200, json!([3])), "{ack}");

    let (_, doc) = shop.get(&format!("/api/runs/{order}")).await;
    assert_eq!(doc["status"], "shipped", "placed → packed → shipped: {doc}");
    assert_eq!((doc["customer"].as_str(), doc["parcels"].as_i64(), doc["carrier"].as_str()), (Some("ada"), Some(2), Some("dhl")));
    assert_eq!(doc["last_event_seq"], 3);

    // A duplicate is stored once; a shipped order can no longer be canceled.
    assert_eq!(shop.send(&packed).await.1["status"], "duplicate");
    let cancel = event("e4", "shop.order.canceled", 4, json!({"order_id": order, "reason": "too late"}));
    let (status, ack) = shop.send(&cancel).await;
    assert_eq!((status, ack["status"].as_str(), ack["from"].as_str()), (200, Some("illegal_transition"), Some("shipped")), "{ack}");
    let (_, doc) = shop.get(&format!("/api/runs/{order}")).await;
    assert_eq!(doc["status"], "shipped", "{doc}");

    // Read back: every stored event in `seq` order.
    let (_, events) = shop.get(&format!("/api/runs/{order}/events")).await;
    let ids: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["event"]["id"].as_str().unwrap_or("?")).collect();
    assert_eq!(ids, ["e1", "e2", "e3", "e4"], "{events}");

    // The status filter knows this catalog's statuses, not the orchestrator's.
    let (status, page) = shop.get("/api/runs?status=shipped").await;
    assert_eq!((status, page["runs"][0]["run_id"].as_str()), (200, Some(order)), "{page}");
    let (status, problem) = shop.get("/api/runs?status=running").await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("placed, packed, shipped, delivered, canceled"), "{problem}");

    // Data is checked against this catalog's schema.
    let bad = event("e5", "shop.order.packed", 5, json!({"order_id": order, "parcels": 0}));
    let (status, problem) = shop.send(&bad).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/data/parcels")), "{problem}");
}

#[tokio::test]
async fn the_catalog_pages_build_rs_rendered_are_served() {
    let shop = Shop::start();
    let (status, index) = shop.page("/catalog").await;
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("/catalog/shop.order.shipped"), "the index links every type: {index}");
    let (status, page) = shop.page("/catalog/shop.order.shipped").await;
    assert!(status == 200 && page.contains("A carrier picked an order up."), "{status}: {page}");
    let (status, css) = shop.page("/assets/herald.css").await;
    assert!(status == 200 && !css.is_empty(), "{status}");

    // The run page marks the order's status on this catalog's lifecycle.
    let placed = event("e1", "shop.order.placed", 1, json!({"order_id": "A-7", "customer": "ada", "total_cents": 1}));
    assert_eq!(shop.send(&placed).await.0, 200);
    let (status, run) = shop.page("/runs/A-7").await;
    assert!(status == 200 && run.contains("<svg") && run.contains("delivered"), "{status}: {run}");

    // The OpenAPI document embeds the catalog's JSON Schema export (the
    // envelope of each type, which the registry alone does not give).
    let (status, openapi) = shop.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(openapi["components"]["schemas"]["shop.order.placed.event"].is_object(), "{}", openapi["components"]["schemas"]);
}
