//! JSON ↔ BSON for run documents, with field names escaped.
//!
//! Handler paths are literal keys (`stages["a.b"]` is one key), and user
//! data such as metric names may contain `.` or start with `$`, which
//! MongoDB treats specially in field names, or NUL, which no BSON field
//! name can hold (an event carrying one was refused by MongoDB on every
//! retry). Every key is therefore stored percent-escaped: `%` → `%25`,
//! `.` → `%2E`, `$` → `%24`, NUL → `%00`. Keys without those characters
//! (all the seed's) are stored unchanged, so documents stay readable in
//! the shell.

use mongodb::bson::{Bson, Document};
use serde_json::{Map, Number, Value};

/// Escape one field name.
pub(super) fn escape_key(key: &str) -> String {
    if !key.contains(['%', '.', '$', '\0']) {
        return key.to_owned();
    }
    let mut out = String::with_capacity(key.len() + 6);
    for c in key.chars() {
        match c {
            '%' => out.push_str("%25"),
            '.' => out.push_str("%2E"),
            '$' => out.push_str("%24"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// Undo [`escape_key`]. Sequences it never writes are kept as they are.
pub(super) fn unescape_key(key: &str) -> String {
    if !key.contains('%') {
        return key.to_owned();
    }
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (decoded, len) = match tail.get(..3) {
            Some("%25") => ('%', 3),
            Some("%2E") => ('.', 3),
            Some("%24") => ('$', 3),
            Some("%00") => ('\0', 3),
            _ => ('%', 1),
        };
        out.push(decoded);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// A JSON object as a BSON document with escaped keys.
pub(super) fn to_document(map: &Map<String, Value>) -> Document {
    map.iter().map(|(k, v)| (escape_key(k), to_bson(v))).collect()
}

/// A JSON value as BSON: integers that fit stay `Int64`, other numbers
/// are doubles.
pub(super) fn to_bson(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Bson::Int64(i),
            _ => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(to_bson).collect()),
        Value::Object(o) => Bson::Document(to_document(o)),
    }
}

/// A BSON document written by [`to_document`] back as JSON.
pub(super) fn to_map(doc: &Document) -> Map<String, Value> {
    doc.iter().map(|(k, v)| (unescape_key(k), to_json(v))).collect()
}

/// BSON back to JSON; types [`to_bson`] never writes (written by hand in
/// the shell) become their display string.
pub(super) fn to_json(b: &Bson) -> Value {
    match b {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(x) => Value::Bool(*x),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(d) => Number::from_f64(*d).map_or(Value::Null, Value::Number),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Bson::Document(d) => Value::Object(to_map(d)),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_round_trip_and_plain_keys_stay_plain() {
        for k in ["plain", "a.b", "$set", "100%", "%2E", "a.%.$", "", "é.ü", "nul\0key", "%00"] {
            let e = escape_key(k);
            assert!(!e.contains(['.', '$', '\0']), "{k} → {e}");
            assert_eq!(unescape_key(&e), k);
        }
        assert_eq!(escape_key("current_feature"), "current_feature");
    }

    #[test]
    fn documents_round_trip_with_numbers_kept_apart() {
        let v = json!({"stages": {"a.b": {"$x": 1, "y": [1.5, "s", null, true]}}, "metrics": {"f_items": 3, "f_ms": 2.0}});
        let map = v.as_object().unwrap();
        let d = to_document(map);
        assert!(d.get_document("stages").unwrap().contains_key("a%2Eb"));
        let back = Value::Object(to_map(&d));
        assert_eq!(back, v);
        assert!(back["metrics"]["f_ms"].is_f64());
        assert!(back["metrics"]["f_items"].is_i64());
    }
}
