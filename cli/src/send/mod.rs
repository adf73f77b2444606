//! `herald send TYPE`: build a valid CloudEvents envelope from the catalog
//! and post it to a herald server; `herald send --file events.ndjson`:
//! replay a file of envelopes.
//!
//! The envelope gets a fresh UUID `id` (or `--id`), `time` now, the
//! subject from the type's template and, as `data`, the chosen example with
//! `--set` overrides, `--run` as the stream key and `--seq` as the `seq`
//! extension. The data is validated against the type's schema before
//! anything is sent. The server's status and body are printed; a 4xx or
//! 5xx exits 1, no answer at all exits 2. `https://` URLs talk TLS
//! ([`tls`]: rustls, the public roots, `--cacert` for a private CA).

pub mod http;
mod replay;
pub mod tls;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use herald_codegen::__private::catalog;
use herald_codegen::__private::ir::{Catalog, EventType};
use herald_codegen::__private::subject::{self, Piece};

/// Exit code when nothing could be sent (bad catalog, no server).
const CANNOT_RUN: i32 = 2;

/// How the envelope travels (the CloudEvents HTTP binding's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// The whole envelope as `application/cloudevents+json`.
    #[default]
    Structured,
    /// Attributes as `ce-*` headers, `data` as the body.
    Binary,
}

/// Arguments of `herald send`.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// The event type to send (`ai.run.started`).
    #[arg(required_unless_present = "file")]
    pub type_name: Option<String>,
    /// Which of the type's examples to start from (1 = the first).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub example: usize,
    /// Override a data field: `--set progress=0.5`, `--set metrics.items=3`
    /// (a value that parses as JSON is used as JSON, anything else is a
    /// string). Repeatable.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// The server, or its full ingest URL (`http://HOST:PORT` means
    /// `http://HOST:PORT/api/ingest/event`; `https://` talks TLS).
    #[arg(long, env = "HERALD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Structured (the envelope as JSON) or binary (`ce-*` headers).
    #[arg(long, value_enum, default_value_t = Mode::Structured)]
    pub mode: Mode,
    /// The `seq` extension: this event's place in its run.
    #[arg(long, value_name = "N")]
    pub seq: Option<i64>,
    /// The run: sets the stream key (`run_id`) of the data.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// The event `id` (default: a fresh UUID); resend an id to see the
    /// server's duplicate answer.
    #[arg(long)]
    pub id: Option<String>,
    /// The event `source`.
    #[arg(long, default_value = "herald-cli")]
    pub source: String,
    /// The catalog the event is built from.
    #[arg(long, value_name = "FILE", default_value = "events.yaml")]
    pub catalog: PathBuf,
    /// Replay a file of envelopes instead, one JSON envelope (or batch
    /// array) per line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["type_name", "set", "seq", "run", "id", "mode", "dry_run"])]
    pub file: Option<PathBuf>,
    /// Send even when the data does not match its schema (to see what the
    /// server answers).
    #[arg(long)]
    pub no_validate: bool,
    /// Print the envelope instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// Also trust the CA certificates in this PEM file for `https://`
    /// (a private CA; the public roots are always trusted).
    #[arg(long, env = "HERALD_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Seconds to wait for connecting, and for each read and write.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
}

/// What to put in an envelope.
#[derive(Debug, Clone, Default)]
pub struct Build<'a> {
    /// Which example (1-based).
    pub example: usize,
    /// `FIELD=VALUE` overrides.
    pub set: &'a [String],
    /// `seq` extension.
    pub seq: Option<i64>,
    /// Stream key value.
    pub run: Option<&'a str>,
    /// Event id; a fresh UUID when `None`.
    pub id: Option<&'a str>,
    /// Event source.
    pub source: &'a str,
    /// Skip the local schema check.
    pub no_validate: bool,
}

/// Build the envelope of `type_name` from `catalog`. Every problem is
/// returned, one message each.
pub fn build(catalog: &Catalog, type_name: &str, opts: &Build<'_>) -> Result<Value, Vec<String>> {
    let event = catalog.event(type_name).ok_or_else(|| {
        let names: Vec<&str> = catalog.events.iter().map(|e| e.type_name.as_str()).collect();
        let help = match herald_codegen::__private::text::did_you_mean(type_name, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "`herald check events.yaml` lists nothing; see the `events:` of the catalog".to_string(),
        };
        vec![format!("`{type_name}` is not an event type of {}; {help}", catalog.source_name)]
    })?;
    let mut data = match opts.example.checked_sub(1).and_then(|i| event.examples.get(i)) {
        Some(d) => d.clone(),
        None if event.examples.is_empty() => json!({}),
        None => {
            return Err(vec![format!(
                "`{type_name}` has {} example(s); `--example` is 1 to {}",
                event.examples.len(),
                event.examples.len()
            )]);
        }
    };
    let mut problems = Vec::new();
    match (opts.run, &event.stream_key) {
        (Some(run), Some(key)) => data[key] = json!(run),
        (Some(_), None) => {
            return Err(vec![format!("`{type_name}` belongs to no run (`stream_key: none`); leave out `--run`")]);
        }
        (None, _) => {}
    }
    for s in opts.set {
        if let Err(e) = apply_set(&mut data, s) {
            problems.push(e);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if !opts.no_validate {
        check_data(event, &data)?;
    }
    let mut envelope = json!({
        "specversion": "1.0",
        "id": opts.id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string),
        "source": opts.source,
        "type": type_name,
        "time": rfc3339(SystemTime::now()),
        "datacontenttype": "application/json",
    });
    if let Some(template) = &event.subject {
        envelope["subject"] = json!(fill(template, &data));
    }
    if let Some(seq) = opts.seq {
        envelope["seq"] = json!(seq);
    }
    envelope["data"] = data;
    Ok(envelope)
}

/// Check `data` against the type's schema.
fn check_data(event: &EventType, data: &Value) -> Result<(), Vec<String>> {
    match herald_codegen::__private::lint::schema_errors(&event.schema, &[data]) {
        Ok(found) if found.is_empty() => Ok(()),
        Ok(found) => Err(found
            .into_iter()
            .map(|(_, pointer, message)| {
                format!("/data{pointer}: {message} (the schema of `{}`; `--no-validate` sends it anyway)", event.type_name)
            })
            .collect()),
        Err(e) => Err(vec![format!("cannot check the data of `{}`: {e}", event.type_name)]),
    }
}

/// `a.b=value`: set a (nested) field. The value is JSON when it parses as
/// JSON, else a string.
pub fn apply_set(data: &mut Value, spec: &str) -> Result<(), String> {
    let (path, raw) = spec.split_once('=').ok_or_else(|| format!("`--set {spec}` has no `=`; write `--set field=value`"))?;
    let path: Vec<&str> = path.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(format!("`--set {spec}`: the field name is empty; write `--set field=value` (`a.b=value` for a nested field)"));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let mut node = data;
    for (i, key) in path.iter().enumerate() {
        if !node.is_object() {
            let at = path[..i].join(".");
            return Err(format!("`--set {spec}`: `{at}` is not an object, so it has no field `{key}`"));
        }
        let map = node.as_object_mut().ok_or_else(|| format!("`--set {spec}`: not an object"))?;
        if i + 1 == path.len() {
            map.insert(key.to_string(), value);
            return Ok(());
        }
        node = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Fill a subject template's `{placeholders}` from the data.
fn fill(template: &str, data: &Value) -> String {
    let Ok(pieces) = subject::parse(template) else { return template.to_string() };
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(key) => match data.get(key) {
                Some(Value::String(s)) => out.push_str(s),
                Some(v) => out.push_str(&v.to_string()),
                None => out.push_str(&format!("{{{key}}}")),
            },
        }
    }
    out
}

/// `2026-12-01T10:44:38.123Z` (UTC, milliseconds).
fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, d.subsec_millis())
}

/// Headers and body of the request carrying `envelope` in `mode`.
pub fn request(envelope: &Value, mode: Mode) -> (Vec<(String, String)>, Vec<u8>) {
    match mode {
        Mode::Structured => {
            (vec![("Content-Type".into(), "application/cloudevents+json; charset=utf-8".into())], envelope.to_string().into_bytes())
        }
        Mode::Binary => {
            let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
            for (name, value) in envelope.as_object().into_iter().flatten() {
                if name == "data" || name == "datacontenttype" {
                    continue;
                }
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // Header values must be visible ASCII; percent-encode the rest
                // as the CloudEvents HTTP binding says.
                headers.push((format!("ce-{name}"), percent_encode(&text)));
            }
            let body = envelope.get("data").map_or_else(Vec::new, |d| d.to_string().into_bytes());
            (headers, body)
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if (0x21..0x7f).contains(&b) && b != b'%' && b != b'"' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The answer as the user sees it: status line, then the body (pretty
/// when JSON). For a problem document, also its detail and field errors.
fn show_answer(resp: &http::Response, out: &mut dyn Write, err: &mut dyn Write) {
    let _ = writeln!(out, "{} {}", resp.status, resp.reason);
    let json: Option<Value> = serde_json::from_str(&resp.body).ok();
    match &json {
        Some(v) => {
            let _ = writeln!(out, "{v:#}");
        }
        None if !resp.body.is_empty() => {
            let _ = writeln!(out, "{}", resp.body);
        }
        None => {}
    }
    if resp.status >= 400 {
        let detail = json.as_ref().map_or_else(
            || resp.body.trim().to_string(),
            |v| {
                let mut s = format!(
                    "{}: {}",
                    v.get("title").and_then(Value::as_str).unwrap_or("error"),
                    v.get("detail").and_then(Value::as_str).unwrap_or_default()
                );
                for e in v.get("errors").and_then(Value::as_array).into_iter().flatten() {
                    let pointer = e.get("pointer").and_then(Value::as_str).unwrap_or_default();
                    let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
                    s.push_str(&format!("\n  {pointer}: {message}"));
                }
                s
            },
        );
        let _ = writeln!(err, "error: the server answered {} {}: {detail}", resp.status, resp.reason);
    }
}

fn unreachable_help(url: &http::Url, failure: &http::Failure) -> String {
    match failure {
        http::Failure::Unreachable(why) => format!(
            "{why} — is herald-server running there? Start it with `cargo run -p herald-server`, or pass `--url http://HOST:PORT` (or set HERALD_URL); nothing was sent to {}",
            url.path
        ),
        http::Failure::Handshake(why) => format!("{why}; nothing was sent"),
        http::Failure::Exchange(why) => format!("{why}; the event may or may not have been stored (resending the same id is safe)"),
    }
}

/// `herald send`: returns the exit code.
pub fn run(args: &SendArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let url = match http::Url::parse(&args.url) {
        Ok(u) => u,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return CANNOT_RUN;
        }
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    let tls = match tls::Tls::new(args.cacert.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return CANNOT_RUN;
        }
    };
    if let Some(file) = &args.file {
        return replay::replay(file, &url, &tls, timeout, out, err);
    }
    let Some(type_name) = &args.type_name else {
        let _ = writeln!(err, "error: name the event type to send (`herald send ai.run.started`), or replay a file with `--file`");
        return CANNOT_RUN;
    };
    let catalog = match catalog::load(&args.catalog) {
        Ok(c) => c,
        Err(diags) => {
            let _ = writeln!(err, "{diags}");
            let _ = writeln!(err, "error: cannot build an event from {}; pass `--catalog PATH`", args.catalog.display());
            return CANNOT_RUN;
        }
    };
    let opts = Build {
        example: args.example,
        set: &args.set,
        seq: args.seq,
        run: args.run.as_deref(),
        id: args.id.as_deref(),
        source: &args.source,
        no_validate: args.no_validate,
    };
    let envelope = match build(&catalog, type_name, &opts) {
        Ok(e) => e,
        Err(problems) => {
            for p in problems {
                let _ = writeln!(err, "error: {p}");
            }
            let _ = writeln!(err, "error: nothing was sent");
            return 1;
        }
    };
    if args.dry_run {
        let _ = writeln!(out, "{envelope:#}");
        return 0;
    }
    let (headers, body) = request(&envelope, args.mode);
    let _ = writeln!(
        out,
        "POST {}://{}{} ({}) {type_name} id={}",
        url.scheme(),
        url.authority(),
        url.path,
        match args.mode {
            Mode::Structured => "structured",
            Mode::Binary => "binary",
        },
        envelope["id"].as_str().unwrap_or_default()
    );
    match http::post(&url, &tls, &headers, &body, timeout) {
        Ok(resp) => {
            show_answer(&resp, out, err);
            i32::from(!(200..300).contains(&resp.status))
        }
        Err(failure) => {
            let _ = writeln!(err, "error: {}", unreachable_help(&url, &failure));
            CANNOT_RUN
        }
    }
}

#[cfg(test)]
mod tests;
