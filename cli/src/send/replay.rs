//! `herald send --file events.ndjson`: post each line, one progress line
//! while it runs, a summary of statuses at the end.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::{CANNOT_RUN, http, unreachable_help};

/// Post each line of `file` (a JSON envelope, or a batch array), with one
/// progress line on stderr and a summary of statuses at the end.
pub(super) fn replay(
    file: &std::path::Path,
    url: &http::Url,
    tls: &super::tls::Tls,
    timeout: Duration,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: cannot read {}: {e}", file.display());
            return CANNOT_RUN;
        }
    };
    let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty()).collect();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (n, (line_no, line)) in lines.iter().enumerate() {
        let outcome = match serde_json::from_str::<Value>(line) {
            Err(e) => Err(format!("not JSON: {e}")),
            Ok(v) if !(v.is_object() || v.is_array()) => Err("not an envelope object or a batch array".to_string()),
            Ok(v) => {
                let media = if v.is_array() { "application/cloudevents-batch+json" } else { "application/cloudevents+json" };
                let headers = vec![("Content-Type".to_string(), format!("{media}; charset=utf-8"))];
                match http::post(url, tls, &headers, line.as_bytes(), timeout) {
                    Ok(resp) => Ok(resp),
                    Err(failure) => {
                        let _ = writeln!(err);
                        let _ = writeln!(err, "error: {}", unreachable_help(url, &failure));
                        let _ = writeln!(err, "stopped at line {line_no} of {}; {n} line(s) were sent before", file.display());
                        return CANNOT_RUN;
                    }
                }
            }
        };
        let key = match &outcome {
            Ok(resp) => resp.status.to_string(),
            Err(_) => "not sent".to_string(),
        };
        *statuses.entry(key).or_default() += 1;
        match outcome {
            Ok(resp) if (200..300).contains(&resp.status) => {}
            Ok(resp) => {
                let detail = serde_json::from_str::<Value>(&resp.body)
                    .ok()
                    .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or(resp.body);
                failures.push(format!("line {line_no}: {} {}: {detail}", resp.status, resp.reason));
            }
            Err(why) => failures.push(format!("line {line_no}: {why}")),
        }
        let _ = write!(err, "\r{}: {}/{} sent — {}", file.display(), n + 1, lines.len(), summary(&statuses));
        let _ = err.flush();
    }
    let _ = writeln!(err);
    let _ = writeln!(out, "{}: {} line(s): {}", file.display(), lines.len(), summary(&statuses));
    const SHOWN: usize = 20;
    for f in failures.iter().take(SHOWN) {
        let _ = writeln!(out, "  {f}");
    }
    if failures.len() > SHOWN {
        let _ = writeln!(out, "  … and {} more", failures.len() - SHOWN);
    }
    i32::from(!failures.is_empty())
}

fn summary(statuses: &BTreeMap<String, usize>) -> String {
    statuses.iter().map(|(s, n)| format!("{s} ×{n}")).collect::<Vec<_>>().join(", ")
}
