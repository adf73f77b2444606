//! The fuzz corpus on plain stable `cargo test`: every file under
//! `fuzz/corpus/{target}/` (the seeds, and each input a fuzzer ever crashed
//! on, named `regression-*`) goes through the same function its fuzz
//! target calls (`herald_tests::fuzz`), which panics on any finding.
//!
//! The seeds are written by `write_seed_corpus` (ignored; run it after the
//! catalog or the bench corpus changes):
//! `cargo test -p herald-tests --test fuzz_corpus -- --ignored write_seed_corpus`.

mod support;

use std::path::{Path, PathBuf};

use herald_tests::fuzz::TARGETS;
use serde_json::{Value, json};
use support::corpus;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

/// Each file of `dir`, sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; write the seeds with `write_seed_corpus`", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_passes_its_target() {
    for (target, run) in TARGETS {
        let inputs = files(&corpus_dir(target));
        assert!(inputs.len() >= 5, "{target}: only {} corpus inputs", inputs.len());
        for path in inputs {
            let data = std::fs::read(&path).expect("readable corpus file");
            // Name the input when its target panics.
            let result = std::panic::catch_unwind(|| run(&data));
            if let Err(panic) = result {
                let message = panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
                panic!("fuzz target `{target}` fails on {}: {}", path.display(), message.unwrap_or("(no message)"));
            }
        }
    }
}

/// The targets' corpus folders and `TARGETS` name the same targets, and each
/// has a fuzz binary.
#[test]
fn every_target_has_a_corpus_and_a_fuzz_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("corpus"))
        .expect("fuzz/corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    names.sort();
    assert_eq!(dirs, names);
    for name in names {
        let source = std::fs::read_to_string(root.join("fuzz_targets").join(format!("{name}.rs"))).expect("fuzz target source");
        assert!(source.contains(&format!("herald_tests::fuzz::{name}(data)")), "fuzz_targets/{name}.rs calls another function");
    }
}

/// A seed as a structured-mode envelope.
fn envelope(id: &str, ty: &str, data: &Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/fuzz/seed", "type": ty, "data": data})
}

/// Writes the seed corpus of every target (`seed-*` files; regressions
/// are kept): the bench corpus's worker-like events and batches, the
/// catalog's examples as envelopes, binary-mode requests and `data`, and
/// every catalog the repository holds.
#[test]
#[ignore = "writes fuzz/corpus; run by hand when the seeds should change"]
fn write_seed_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ir = herald_codegen::__private::catalog::load(&root.join("events.yaml")).expect("events.yaml loads");
    let examples: Vec<(&str, &Value)> = ir.events.iter().flat_map(|e| e.examples.iter().map(move |x| (e.type_name.as_str(), x))).collect();
    let bench = corpus::build(48);

    let mut structured: Vec<Vec<u8>> = bench.events.clone();
    for (i, (ty, data)) in examples.iter().enumerate() {
        structured.push(envelope(&format!("ex-{i}"), ty, data).to_string().into_bytes());
    }
    let (ty, data) = examples[0];
    structured.extend(
        [
            // Every optional attribute, extensions of each kind, nested legacy extensions.
            json!({"specversion": "1.0", "id": "a", "source": "urn:x", "type": ty, "subject": "s", "time": "2024-05-01T12:30:00.123+02:00",
                   "dataschema": "https://example.com/s.json", "datacontenttype": "application/json", "seq": 3, "flag": true,
                   "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "data": data}),
            json!({"specversion": "1.0", "id": "b", "source": "s", "type": ty, "extensions": {"seq": 4, "traceparent": "t"}, "data": data}),
            json!({"specversion": "1.0", "id": "c", "source": "s", "type": ty, "datacontenttype": "application/octet-stream", "data_base64": "aGVyYWxk"}),
            json!({"specversion": "1.0", "id": "d", "source": "s", "type": "ai.unknown.event", "data": null}),
            json!({"specversion": "0.3", "id": "e", "source": "s", "type": ty}),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes()),
    );
    // Nesting past serde_json's recursion limit, in `data` and as the envelope.
    structured.push(
        format!(r#"{{"specversion":"1.0","id":"n","source":"s","type":"{ty}","data":{}{}}}"#, "[".repeat(200), "]".repeat(200))
            .into_bytes(),
    );
    structured.push("[{".repeat(150).into_bytes());
    // `data` before `type` (the two-pass path), with escapes.
    structured.push(br#"{"data":{"run_id":"d4a4b7db-8a88-45c1-84bf-a633dab24a25"},"type":"ai.run.started","id":"\u0066","source":"s","specversion":"1.0"}"#.to_vec());

    let mut batch = corpus::batches(&bench.events, 6);
    batch.extend([b"[]".to_vec(), b" [ 1 ] ".to_vec(), b"[[]]".to_vec(), b"{}".to_vec()]);
    let good = envelope("g", ty, data).to_string();
    batch.push(format!("[{good},{}]", good.replace("1.0", "0.3")).into_bytes());
    batch.push(format!("[{}]", vec![good.as_str(); 17].join(",")).into_bytes());

    let mut binary: Vec<Vec<u8>> = Vec::new();
    for (i, (ty, data)) in examples.iter().enumerate().step_by(3) {
        binary.push(
            format!("ce-specversion: 1.0\nce-id: b{i}\nce-source: /fuzz\nce-type: {ty}\ncontent-type: application/json\n\n{data}")
                .into_bytes(),
        );
    }
    binary.extend([
        b"ce-specversion: 1.0\nce-id: \"q%20\\\"x\\\"\"\nce-source: s\nce-type: ai.run.started\nce-seq: 7\nce-time: 2024-05-01T12:30:00Z\nContent-Type: text/plain\n\nhello".to_vec(),
        b"ce-specversion: 1.0\nce-id: 1\nce-source: s\nce-type: ai.run.started\nce-datacontenttype: application/json\n\n{}".to_vec(),
        b"ce-specversion: 1.0\nce-id: %E2%82%AC\nce-source: s\nce-type: ai.run.started\nce-traceparent: 00-x\n".to_vec(),
        b"ce-specversion: 0.3\nce-id: 1\n\n".to_vec(),
        b"CE-SPECVERSION: 1.0\nCE-ID: 1\nCE-SOURCE: s\nCE-TYPE: ai.run.canceled\n\n{\"run_id\": 1}".to_vec(),
    ]);

    let mut decode: Vec<Vec<u8>> = examples.iter().map(|(ty, data)| format!("{ty}\n{data}").into_bytes()).collect();
    decode.push(
        b"ai.run.metric\n{\"run_id\":\"d4a4b7db-8a88-45c1-84bf-a633dab24a25\",\"name\":\"m\",\"value\":1,\"tags\":{\"x[\":1}}".to_vec(),
    );

    let mut yaml_files = vec![root.join("events.yaml"), root.join("examples/events.yaml")];
    for dir in [root.join("tests/catalogs"), root.join("codegen/tests/catalogs")] {
        yaml_files.extend(files(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")));
    }
    let mut catalog_yaml: Vec<Vec<u8>> = yaml_files.iter().map(|p| std::fs::read(p).expect("catalog")).collect();
    // Nesting past the loader's limits: in a flow mapping, and in a schema.
    let deep = |n: usize| "{type: object, properties: {a: ".repeat(n) + "{type: string}" + &"}}".repeat(n);
    catalog_yaml.push(format!("prefix: ai\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    data:\n      type: object\n      properties:\n        a: {}\n", deep(70)).into_bytes());
    catalog_yaml.push(
        format!("prefix: ai\nevents:\n  ai.x.y:\n    fields:\n      a: {}string{}\n", "{b: ".repeat(300), "}".repeat(300)).into_bytes(),
    );

    for (target, seeds) in [
        ("structured", &structured),
        ("parse_event", &structured),
        ("batch", &batch),
        ("binary", &binary),
        ("decode", &decode),
        ("catalog_yaml", &catalog_yaml),
    ] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for old in files(&dir) {
            if old.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-")) {
                std::fs::remove_file(old).expect("old seed removed");
            }
        }
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), seed).expect("seed written");
        }
    }
    // The seeds must pass their targets as they are.
    every_corpus_input_passes_its_target();
}
