//! Envelope building, and `herald send` against a real HTTP listener on
//! 127.0.0.1 that records the request and answers as herald-server does.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use super::*;

const CATALOG: &str = "\
prefix: ai
extensions:
  seq: {type: integer}
events:
  ai.run.progress:
    description: Progress.
    version: 1
    subject: \"run/{run_id}\"
    fields:
      run_id: uuid
      progress: {type: number, minimum: 0, maximum: 1}
      note?: string
    examples:
      - {run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, progress: 0.5}
      - {run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, progress: 1}
";

fn catalog() -> Catalog {
    catalog::parse("events.yaml", CATALOG).unwrap()
}

fn opts<'a>(set: &'a [String]) -> Build<'a> {
    Build { example: 1, set, source: "test", ..Build::default() }
}

#[test]
fn the_envelope_is_built_from_the_example_with_overrides() {
    let set = vec!["progress=0.75".to_string(), "note=half way".to_string()];
    let mut o = opts(&set);
    o.run = Some("641ef1c3-152e-45b3-ace7-a1f374add988");
    o.seq = Some(3);
    let e = build(&catalog(), "ai.run.progress", &o).unwrap();
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["type"], "ai.run.progress");
    assert_eq!(e["source"], "test");
    assert_eq!(e["subject"], "run/641ef1c3-152e-45b3-ace7-a1f374add988");
    assert_eq!(e["seq"], 3);
    assert_eq!(e["data"], json!({"run_id": "641ef1c3-152e-45b3-ace7-a1f374add988", "progress": 0.75, "note": "half way"}));
    assert!(uuid::Uuid::parse_str(e["id"].as_str().unwrap()).is_ok());
    let time = e["time"].as_str().unwrap();
    assert_eq!(time.len(), "2026-12-01T10:44:38.123Z".len());
    assert!(time.ends_with('Z'));
    let other = build(&catalog(), "ai.run.progress", &opts(&[])).unwrap();
    assert_ne!(other["id"], e["id"], "a fresh id each time");
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let c = catalog();
    let err = |t: &str, set: &[&str], example: usize| {
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        let mut o = opts(&set);
        o.example = example;
        build(&c, t, &o).unwrap_err().join("\n")
    };
    assert!(err("ai.run.progres", &[], 1).contains("did you mean `ai.run.progress`?"));
    assert_eq!(err("ai.run.progress", &[], 3), "`ai.run.progress` has 2 example(s); `--example` is 1 to 2");
    assert_eq!(err("ai.run.progress", &[], 0), "`ai.run.progress` has 2 example(s); `--example` is 1 to 2");
    assert_eq!(err("ai.run.progress", &["progress"], 1), "`--set progress` has no `=`; write `--set field=value`");
    assert!(err("ai.run.progress", &["=1"], 1).contains("the field name is empty"));
    assert!(err("ai.run.progress", &["progress.x=1"], 1).contains("`progress` is not an object"));
    let invalid = err("ai.run.progress", &["progress=2"], 1);
    assert!(invalid.starts_with("/data/progress: 2 is greater than the maximum of 1"), "{invalid}");
    assert!(invalid.contains("`--no-validate` sends it anyway"));
    let mut data = json!({});
    apply_set(&mut data, "a.b.c=[1,2]").unwrap();
    assert_eq!(data, json!({"a": {"b": {"c": [1, 2]}}}));
}

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_709_210_096_007)), "2024-02-29T12:34:56.007Z");
    assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_799)), "2099-12-31T23:59:59.000Z");
}

#[test]
fn binary_mode_puts_attributes_in_headers() {
    let e = json!({"specversion": "1.0", "id": "a b", "type": "t", "seq": 2, "datacontenttype": "application/json", "data": {"x": 1}});
    let (headers, body) = request(&e, Mode::Binary);
    assert!(headers.contains(&("ce-id".to_string(), "a%20b".to_string())));
    assert!(headers.contains(&("ce-seq".to_string(), "2".to_string())));
    assert!(!headers.iter().any(|(n, _)| n == "ce-data" || n == "ce-datacontenttype"));
    assert_eq!(body, br#"{"x":1}"#);
}

/// A request as the listener saw it.
struct Seen {
    head: String,
    body: String,
}

/// Answer `answers.len()` requests on a fresh port, one per connection,
/// each with the next canned response; report what was received.
fn listener(answers: Vec<(u16, &'static str, &'static str)>) -> (String, mpsc::Receiver<Seen>) {
    listen(answers, None)
}

/// [`listener`], over TLS when `tls` is given (`https://` URL).
fn listen(
    answers: Vec<(u16, &'static str, &'static str)>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> (String, mpsc::Receiver<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (status, content_type, body) in answers {
            let Ok((stream, _)) = l.accept() else { return };
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let stream: Box<dyn tls::Conn + Send> = match &tls {
                Some(config) => Box::new(rustls::StreamOwned::new(rustls::ServerConnection::new(config.clone()).unwrap(), stream)),
                None => Box::new(stream),
            };
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
            }
            let mut buf = vec![0; length];
            reader.read_exact(&mut buf).unwrap();
            let _ = tx.send(Seen { head, body: String::from_utf8(buf).unwrap() });
            let reason = if status == 200 { "OK" } else { "Unprocessable Entity" };
            let answer =
                format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}", body.len());
            let mut stream = reader.into_inner();
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.flush();
        }
    });
    (url, rx)
}

fn temp_catalog(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-send-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.yaml");
    std::fs::write(&path, CATALOG).unwrap();
    path
}

fn args(url: &str, catalog: PathBuf) -> SendArgs {
    SendArgs {
        type_name: Some("ai.run.progress".into()),
        example: 1,
        set: vec![],
        url: url.into(),
        mode: Mode::Structured,
        seq: None,
        run: None,
        id: None,
        source: "herald-cli".into(),
        catalog,
        file: None,
        no_validate: false,
        dry_run: false,
        cacert: None,
        timeout: 5,
    }
}

fn run_to_strings(a: &SendArgs) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(a, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn sends_and_prints_the_answer() {
    let (url, seen) = listener(vec![(200, "application/json", r#"{"status":"applied","run_id":"r","id":"x","source":"herald-cli"}"#)]);
    let (code, out, err) = run_to_strings(&args(&url, temp_catalog("ok")));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("200 OK"), "{out}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");
    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(req.head.starts_with("POST /api/ingest/event HTTP/1.1\r\n"), "{}", req.head);
    assert!(req.head.contains("Content-Type: application/cloudevents+json"), "{}", req.head);
    let sent: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(sent["type"], "ai.run.progress");
    assert_eq!(sent["data"]["progress"], 0.5);
}

/// The server's test certificate (for 127.0.0.1 and localhost) and the
/// CA that signed it.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/fixtures/tls").join(name)
}

fn tls_server_config() -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(fixture("server.pem")).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    std::sync::Arc::new(config)
}

#[test]
fn sends_over_https_trusting_the_cacert() {
    let (url, seen) = listen(vec![(200, "application/json", r#"{"status":"applied"}"#)], Some(tls_server_config()));
    let mut a = args(&url, temp_catalog("tls"));
    a.cacert = Some(fixture("ca.pem"));
    let (code, out, err) = run_to_strings(&a);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with(&format!("POST {url}/api/ingest/event (structured)")), "{out}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");
    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(req.head.starts_with("POST /api/ingest/event HTTP/1.1\r\n"), "{}", req.head);
    assert_eq!(serde_json::from_str::<Value>(&req.body).unwrap()["type"], "ai.run.progress");
}

#[test]
fn an_untrusted_certificate_exits_2_and_names_cacert() {
    let (url, _seen) = listen(vec![(200, "application/json", "{}")], Some(tls_server_config()));
    let (code, out, err) = run_to_strings(&args(&url, temp_catalog("untrusted")));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("invalid peer certificate: UnknownIssuer"), "{err}");
    assert!(err.contains("pass that CA's PEM file with `--cacert FILE`"), "{err}");
    assert!(err.ends_with("; nothing was sent\n"), "{err}");
    // A CA file that is not one.
    let mut a = args(&url, temp_catalog("badca"));
    a.cacert = Some(fixture("missing.pem"));
    let (code, _, err) = run_to_strings(&a);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the CA certificates in"), "{err}");
    a.cacert = Some(temp_catalog("notpem"));
    let (code, _, err) = run_to_strings(&a);
    assert_eq!(code, 2);
    assert!(err.contains("holds no certificate"), "{err}");
}

#[test]
fn a_problem_answer_exits_1_and_says_what_was_wrong() {
    let problem = r#"{"type":"urn:herald:problem:invalid-data","title":"Event data does not match its schema","status":422,"detail":"data of ai.run.progress failed validation","code":"schema_violation","errors":[{"pointer":"/data/progress","message":"must be at most 1"}]}"#;
    let (url, seen) = listener(vec![(422, "application/problem+json", problem)]);
    let mut a = args(&url, temp_catalog("problem"));
    a.set = vec!["progress=2".into()];
    a.no_validate = true;
    a.mode = Mode::Binary;
    let (code, out, err) = run_to_strings(&a);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("422 Unprocessable Entity"), "{out}");
    assert!(
        err.contains("error: the server answered 422 Unprocessable Entity: Event data does not match its schema: data of ai.run.progress failed validation\n  /data/progress: must be at most 1"),
        "{err}"
    );
    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(req.head.contains("ce-type: ai.run.progress"), "{}", req.head);
    assert_eq!(serde_json::from_str::<Value>(&req.body).unwrap()["progress"], 2);
}

#[test]
fn an_unreachable_server_exits_2_with_what_to_do() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, err) = run_to_strings(&args(&format!("http://127.0.0.1:{port}"), temp_catalog("down")));
    assert_eq!(code, 2);
    assert!(err.contains(&format!("cannot connect to 127.0.0.1:{port}")), "{err}");
    assert!(err.contains("is herald-server running there?"), "{err}");
    let (code, _, err) = run_to_strings(&args("ftp://example.invalid", temp_catalog("down")));
    assert_eq!(code, 2);
    assert!(err.contains("unsupported scheme `ftp`"), "{err}");
}

#[test]
fn a_file_is_replayed_with_a_summary() {
    let (url, seen) = listener(vec![
        (200, "application/json", r#"{"status":"applied"}"#),
        (422, "application/problem+json", r#"{"status":422,"detail":"bad data"}"#),
    ]);
    let path = temp_catalog("replay").with_file_name("events.ndjson");
    std::fs::write(&path, "{\"specversion\":\"1.0\"}\n\nnot json\n[{\"specversion\":\"1.0\"}]\n").unwrap();
    let mut a = args(&url, PathBuf::from("unused.yaml"));
    a.type_name = None;
    a.file = Some(path.clone());
    let (code, out, err) = run_to_strings(&a);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("3 line(s): 200 ×1, 422 ×1, not sent ×1"), "{out}");
    assert!(out.contains("line 3: not JSON"), "{out}");
    assert!(out.contains("line 4: 422 Unprocessable Entity: bad data"), "{out}");
    assert!(err.contains("3/3 sent"), "{err}");
    let first = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(first.head.contains("application/cloudevents+json"));
    let batch = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(batch.head.contains("application/cloudevents-batch+json"));
}

proptest::proptest! {
    /// The hand-written parsers answer any input without panicking.
    #[test]
    fn parsers_never_panic(text in ".{0,60}", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let _ = http::Url::parse(&text);
        let _ = http::parse_response(&bytes);
        let mut framed = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = http::parse_response(&framed);
        let _ = apply_set(&mut json!({"a": 1}), &text);
    }
}
