//! Deterministic JSON instances from a JSON Schema: valid ones, and valid
//! ones with exactly one mutation applied.
//!
//! Only the subset of JSON Schema that Herald catalogs use is understood
//! (`type`, `enum`, `const`, `properties`/`required`/`additionalProperties`,
//! `items` and the array, string and number bounds, `format`, simple
//! `pattern`s, `$ref: #/$defs/…`). The generator does not have to be right
//! about *validity*: the tests compare Herald with the `jsonschema` oracle,
//! and check separately that the oracle accepts every "valid" instance.
//!
//! Deliberately never generated (documented deviations between serde's
//! typed decoding and JSON Schema, see `tests/differential.rs`):
//! integral floats (`1.0`) for `integer` fields, integers outside the
//! 64-bit range, duplicate object keys, lone UTF-16 surrogates.

use serde_json::{Map, Value, json};

/// SplitMix64: tiny, fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi` (`lo` when empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (u128::from(self.next_u64()) % span) as i128) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// A random hyphenated UUID (version 4 layout), lower-case.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0')).collect()
    }
}

/// The JSON types a schema's `type` allows (`None`: any).
pub fn allowed_types(schema: &Value) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// Whether a value's JSON type is one of `types`.
pub fn type_matches(value: &Value, types: &[&str]) -> bool {
    types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    })
}

/// Valid string values for the formats the generator knows.
fn format_value(format: &str, rng: &mut Rng) -> Option<String> {
    Some(match format {
        "uuid" => {
            let u = rng.uuid();
            if rng.chance(0.1) { u.to_uppercase() } else { u }
        }
        "date-time" => date_time(rng),
        "utc-date-time" => format!("{}T{}Z", date(rng), time(rng)),
        "date" => date(rng),
        "time" => format!("{}{}", time(rng), offset(rng)),
        "uri" => (*rng.pick(&[
            "https://example.com/runs/42?verbose=1#top",
            "http://localhost:8080/",
            "urn:isbn:0451450523",
            "mailto:ops@example.com",
            "s3://bucket/key%20with%20spaces",
            "file:///tmp/report.json",
            "http://[::1]:3000/api",
            "https://example.org",
        ]))
        .to_string(),
        "uri-reference" => (*rng.pick(&["/runs/42", "../up", "https://example.com/x", "#frag", "x?y=z"])).to_string(),
        "email" => (*rng.pick(&["user@example.com", "first.last+tag@sub.example.org", "ops@[127.0.0.1]", "a@b.co"])).to_string(),
        "hostname" => (*rng.pick(&["example.com", "a-b.example", "localhost"])).to_string(),
        "ipv4" => format!("{}.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256), rng.below(256)),
        "ipv6" => (*rng.pick(&["::1", "2001:db8::8a2e:370:7334", "fe80::1"])).to_string(),
        _ => return None,
    })
}

fn date(rng: &mut Rng) -> String {
    let year = rng.range(1970, 2099);
    let month = rng.range(1, 12);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    format!("{year:04}-{month:02}-{:02}", rng.range(1, days))
}

fn time(rng: &mut Rng) -> String {
    let mut t = format!("{:02}:{:02}:{:02}", rng.below(24), rng.below(60), rng.below(60));
    match rng.below(4) {
        0 => t.push_str(&format!(".{:03}", rng.below(1000))),
        1 => t.push_str(&format!(".{}", rng.below(10))),
        _ => {}
    }
    t
}

fn offset(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 | 1 => "Z".to_string(),
        2 => format!("+{:02}:{:02}", rng.below(15), rng.pick(&[0, 30, 45])),
        3 => format!("-{:02}:{:02}", rng.below(13), rng.pick(&[0, 30])),
        _ => "+00:00".to_string(),
    }
}

fn date_time(rng: &mut Rng) -> String {
    if rng.chance(0.02) {
        // A real leap second, as RFC 3339 allows it (23:59:60 UTC).
        return (*rng.pick(&["2016-12-31T23:59:60Z", "1998-12-31T15:59:60-08:00"])).to_string();
    }
    let sep = if rng.chance(0.05) { "t" } else { "T" };
    let off = offset(rng);
    let off = if off == "Z" && rng.chance(0.1) { "z".to_string() } else { off };
    format!("{}{sep}{}{off}", date(rng), time(rng))
}

/// Characters for free text: ASCII, JSON escapes, and multi-byte text.
const TEXT: &[&str] = &["a", "b", "c", "x", "y", "z", "0", "7", "_", "-", " ", ".", "é", "ß", "日", "😀", "\"", "\\", "\n", "/"];

fn text(rng: &mut Rng, min: u64, max: u64) -> String {
    let len = rng.range(min as i64, max as i64) as usize;
    (0..len).map(|_| *rng.pick(TEXT)).collect()
}

/// A string matching one of the simple patterns catalogs use, if known.
fn pattern_value(pattern: &str, rng: &mut Rng) -> Option<String> {
    // `^[0-9a-f]{N}$`
    let n = pattern.strip_prefix("^[0-9a-f]{")?.strip_suffix("}$")?.parse::<usize>().ok()?;
    Some(rng.hex(n))
}

/// The schema in `root` that `schema` points to through `$ref`s.
pub fn resolve<'s>(root: &'s Value, mut schema: &'s Value) -> &'s Value {
    for _ in 0..32 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else { break };
        let Some(name) = r.strip_prefix("#/$defs/") else { break };
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(s) => schema = s,
            None => break,
        }
    }
    schema
}

fn num(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn uint(schema: &Value, key: &str) -> Option<u64> {
    schema.get(key).and_then(Value::as_u64)
}

/// Generates valid instances of one schema.
#[derive(Debug, Clone, Copy)]
pub struct Generator<'s> {
    root: &'s Value,
}

impl<'s> Generator<'s> {
    /// A generator for the schema `root` (its `$defs` resolve `$ref`s).
    pub fn new(root: &'s Value) -> Self {
        Generator { root }
    }

    /// A valid instance of the whole schema.
    pub fn valid(&self, rng: &mut Rng) -> Value {
        self.value(self.root, rng, 0)
    }

    /// A valid instance of a sub-schema of the root.
    pub fn value(&self, schema: &'s Value, rng: &mut Rng, depth: usize) -> Value {
        let schema = resolve(self.root, schema);
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(Value::Array(options)) = schema.get("enum")
            && !options.is_empty()
        {
            return rng.pick(options).clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = schema.get(key)
                && !branches.is_empty()
            {
                // A tagged union's branches exclude each other by their
                // tags: any one makes a valid instance.
                let any = key == "anyOf" || branches.iter().all(|b| !tags(b).is_empty());
                let i = if any { rng.below(branches.len() as u64) as usize } else { 0 };
                return self.value(&branches[i], rng, depth + 1);
            }
        }
        let types = allowed_types(schema);
        let ty = match &types {
            Some(ts) if !ts.is_empty() => {
                // Prefer a non-null type; `null` only now and then.
                let non_null: Vec<&str> = ts.iter().copied().filter(|t| *t != "null").collect();
                if non_null.is_empty() || (ts.contains(&"null") && rng.chance(0.2)) { "null" } else { *rng.pick(&non_null) }
            }
            _ if schema.get("properties").is_some() => "object",
            _ if schema.get("items").is_some() => "array",
            _ => return self.any(rng, depth),
        };
        match ty {
            "null" => Value::Null,
            "boolean" => Value::Bool(rng.chance(0.5)),
            "integer" => self.integer(schema, rng),
            "number" => self.number(schema, rng),
            "string" => Value::String(self.string(schema, rng)),
            "array" => self.array(schema, rng, depth),
            "object" => self.object(schema, rng, depth),
            _ => Value::Null,
        }
    }

    /// Any JSON value (for schemas without a type, and free-form objects).
    fn any(&self, rng: &mut Rng, depth: usize) -> Value {
        let top = if depth > 3 { 5 } else { 7 };
        match rng.below(top) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(0.5)),
            2 => json!(rng.range(-1_000_000, 1_000_000)),
            3 => json!(((rng.unit() * 2000.0 - 1000.0) * 1000.0).round() / 1000.0),
            4 => Value::String(text(rng, 0, 8)),
            5 => Value::Array((0..rng.below(3)).map(|_| self.any(rng, depth + 1)).collect()),
            _ => Value::Object(self.free_object(rng, depth + 1)),
        }
    }

    fn free_object(&self, rng: &mut Rng, depth: usize) -> Map<String, Value> {
        (0..rng.below(4))
            .map(|i| (format!("{}{i}", rng.pick(&["key", "model", "ünï", "with space", "temperature"])), self.any(rng, depth)))
            .collect()
    }

    fn integer(&self, schema: &Value, rng: &mut Rng) -> Value {
        let lo = match (num(schema, "minimum"), num(schema, "exclusiveMinimum")) {
            (Some(m), Some(x)) => Some(m.ceil().max(x.floor() + 1.0)),
            (Some(m), None) => Some(m.ceil()),
            (None, Some(x)) => Some(x.floor() + 1.0),
            (None, None) => None,
        };
        let hi = match (num(schema, "maximum"), num(schema, "exclusiveMaximum")) {
            (Some(m), Some(x)) => Some(m.floor().min(x.ceil() - 1.0)),
            (Some(m), None) => Some(m.floor()),
            (None, Some(x)) => Some(x.ceil() - 1.0),
            (None, None) => None,
        };
        let (lo, hi) = match (lo, hi) {
            (Some(l), Some(h)) => (l, h),
            (Some(l), None) => (l, l + 100_000.0),
            (None, Some(h)) => (h - 100_000.0, h),
            (None, None) => (-100_000.0, 100_000.0),
        };
        let mut v = match rng.below(8) {
            0 => lo as i64,
            1 => hi as i64,
            _ => rng.range(lo as i64, hi as i64),
        };
        if let Some(m) = num(schema, "multipleOf").filter(|m| *m >= 1.0 && m.fract() == 0.0) {
            let m = m as i64;
            v = (v / m) * m;
            if (v as f64) < lo {
                v += m;
            }
        }
        json!(v)
    }

    fn number(&self, schema: &Value, rng: &mut Rng) -> Value {
        let min = num(schema, "minimum");
        let max = num(schema, "maximum");
        let xmin = num(schema, "exclusiveMinimum");
        let xmax = num(schema, "exclusiveMaximum");
        let lo = min.into_iter().chain(xmin).fold(f64::NEG_INFINITY, f64::max);
        let hi = max.into_iter().chain(xmax).fold(f64::INFINITY, f64::min);
        let (lo_f, hi_f) = match (lo.is_finite(), hi.is_finite()) {
            (true, true) => (lo, hi),
            (true, false) => (lo, lo + 10_000.0),
            (false, true) => (hi - 10_000.0, hi),
            (false, false) => (-10_000.0, 10_000.0),
        };
        let in_range =
            |v: f64| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m) && xmin.is_none_or(|m| v > m) && xmax.is_none_or(|m| v < m);
        if let Some(m) = num(schema, "multipleOf").filter(|m| *m > 0.0) {
            let k_lo = (lo_f / m).ceil() as i64;
            let k_hi = (hi_f / m).floor() as i64;
            for _ in 0..8 {
                let v = rng.range(k_lo, k_hi) as f64 * m;
                let v = (v * 1e9).round() / 1e9;
                if in_range(v) {
                    return number_value(v, rng);
                }
            }
            return number_value(k_lo as f64 * m, rng);
        }
        for _ in 0..8 {
            let v = match rng.below(10) {
                0 => lo_f,
                1 => hi_f,
                2 => (lo_f + hi_f) / 2.0,
                3 => ((lo_f + (hi_f - lo_f) * rng.unit()) * 100.0).round() / 100.0,
                _ => ((lo_f + (hi_f - lo_f) * rng.unit()) * 1e6).round() / 1e6,
            };
            if in_range(v) {
                return number_value(v, rng);
            }
        }
        number_value((lo_f + hi_f) / 2.0, rng)
    }

    fn string(&self, schema: &Value, rng: &mut Rng) -> String {
        // `offset: utc-only` (Herald's keyword): a date-time ending in `Z`.
        let utc_only = schema.get("offset").and_then(Value::as_str) == Some("utc-only");
        let format = schema.get("format").and_then(Value::as_str).map(|f| if utc_only && f == "date-time" { "utc-date-time" } else { f });
        if let Some(s) = format.and_then(|f| format_value(f, rng)) {
            return s;
        }
        if let Some(s) = schema.get("pattern").and_then(Value::as_str).and_then(|p| pattern_value(p, rng)) {
            return s;
        }
        let min = uint(schema, "minLength").unwrap_or(0);
        let max = uint(schema, "maxLength").unwrap_or(min + 24).max(min);
        text(rng, min, max.min(min + 40))
    }

    fn array(&self, schema: &'s Value, rng: &mut Rng, depth: usize) -> Value {
        let min = uint(schema, "minItems").unwrap_or(0);
        let max = uint(schema, "maxItems").unwrap_or(min + 4).max(min).min(min + 4);
        let len = rng.range(min as i64, max as i64) as usize;
        let unique = schema.get("uniqueItems") == Some(&Value::Bool(true));
        let mut items: Vec<Value> = Vec::with_capacity(len);
        let mut tries = 0;
        while items.len() < len && tries < len * 20 + 20 {
            tries += 1;
            let item = self.item(schema, rng, depth);
            if unique && items.iter().any(|i| json_eq(i, &item)) {
                continue;
            }
            items.push(item);
        }
        Value::Array(items)
    }

    /// A valid item of an array schema.
    pub fn item(&self, schema: &'s Value, rng: &mut Rng, depth: usize) -> Value {
        match schema.get("items") {
            Some(items) if items.is_object() => self.value(items, rng, depth + 1),
            _ => self.any(rng, depth + 1),
        }
    }

    fn object(&self, schema: &'s Value, rng: &mut Rng, depth: usize) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = match schema.get("required") {
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(props) = props {
            for (name, sub) in props {
                if required.contains(&name.as_str()) || rng.chance(0.6) {
                    out.insert(name.clone(), self.value(sub, rng, depth + 1));
                }
            }
        }
        match schema.get("additionalProperties") {
            Some(extra) if extra.is_object() && props.is_none() => {
                let min = uint(schema, "minProperties").unwrap_or(0);
                let max = uint(schema, "maxProperties").unwrap_or(min + 3).max(min).min(min + 4);
                let n = rng.range(min as i64, max as i64) as usize;
                let mut i = 0;
                while out.len() < n && i < n * 4 + 4 {
                    let key = format!("{}{}", rng.pick(&["env", "label", "k", "ünï", "with space", "a/b~c"]), rng.below(100));
                    out.insert(key, self.value(extra, rng, depth + 1));
                    i += 1;
                }
            }
            None | Some(Value::Bool(true)) if props.is_none() => {
                out = self.free_object(rng, depth + 1);
            }
            _ => {}
        }
        Value::Object(out)
    }
}

/// A number as JSON: integral values sometimes as integers (`1`), since
/// senders do that and `number` allows it.
fn number_value(v: f64, rng: &mut Rng) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 && rng.chance(0.5) {
        return json!(v as i64);
    }
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// JSON equality with numbers compared by value (JSON Schema's equality).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
        _ => a == b,
    }
}

/// One kind of single-point change to a valid instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutation {
    /// Remove a required property.
    RemoveRequired,
    /// Set an optional property (present or not) to `null`.
    NullOptional,
    /// Add a property the schema does not list.
    UnknownProperty,
    /// Replace a value with one of another JSON type.
    WrongType,
    /// A number just below its lower bound.
    BelowMinimum,
    /// A number just above its upper bound.
    AboveMaximum,
    /// An integer field given a fraction (`1.5`).
    Fraction,
    /// A number that is not a multiple of `multipleOf`.
    NotMultiple,
    /// A string outside its `enum`.
    UnknownEnum,
    /// A string that breaks its `format`.
    BadFormat,
    /// A string that breaks its `pattern`.
    BreakPattern,
    /// A string longer than `maxLength`.
    TooLong,
    /// A string shorter than `minLength`.
    TooShort,
    /// An array longer than `maxItems`.
    TooManyItems,
    /// An array shorter than `minItems`.
    TooFewItems,
    /// A duplicate item in a `uniqueItems` array.
    DuplicateItem,
}

/// Where a mutation applies: a JSON pointer into the instance, the
/// (resolved) schema there, and for property mutations the key.
#[derive(Debug, Clone)]
struct Site<'s> {
    pointer: String,
    schema: &'s Value,
    key: Option<String>,
}

fn escape_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'s> Generator<'s> {
    /// Every mutation that applies to `instance`, with where it applies.
    fn sites(&self, instance: &Value) -> Vec<(Mutation, Site<'s>)> {
        let mut out = Vec::new();
        self.collect(self.root, instance, String::new(), &mut out);
        out
    }

    fn collect(&self, schema: &'s Value, value: &Value, pointer: String, out: &mut Vec<(Mutation, Site<'s>)>) {
        let schema = resolve(self.root, schema);
        // A tagged union: the mutations of the branch the value's tag names.
        if let Some(Value::Array(branches)) = schema.get("oneOf")
            && let Some(branch) = branches.iter().find(|b| {
                let t = tags(b);
                !t.is_empty() && t.iter().all(|(k, v)| value.get(k.as_str()) == Some(v))
            })
        {
            return self.collect(branch, value, pointer, out);
        }
        let site = |key: Option<String>| Site { pointer: pointer.clone(), schema, key };
        let types = allowed_types(schema);
        if types.is_some() {
            out.push((Mutation::WrongType, site(None)));
        }
        if schema.get("enum").is_some() {
            out.push((Mutation::UnknownEnum, site(None)));
        }
        match value {
            Value::Number(_) => {
                let integer = types.as_ref().is_some_and(|t| t.contains(&"integer") && !t.contains(&"number"));
                if schema.get("minimum").is_some() || schema.get("exclusiveMinimum").is_some() {
                    out.push((Mutation::BelowMinimum, site(None)));
                }
                if schema.get("maximum").is_some() || schema.get("exclusiveMaximum").is_some() {
                    out.push((Mutation::AboveMaximum, site(None)));
                }
                if integer {
                    out.push((Mutation::Fraction, site(None)));
                }
                if schema.get("multipleOf").is_some() {
                    out.push((Mutation::NotMultiple, site(None)));
                }
            }
            Value::String(_) => {
                if schema.get("format").is_some() {
                    out.push((Mutation::BadFormat, site(None)));
                }
                if schema.get("pattern").is_some() {
                    out.push((Mutation::BreakPattern, site(None)));
                }
                if schema.get("maxLength").is_some() {
                    out.push((Mutation::TooLong, site(None)));
                }
                if uint(schema, "minLength").is_some_and(|n| n > 0) {
                    out.push((Mutation::TooShort, site(None)));
                }
            }
            Value::Array(items) => {
                if schema.get("maxItems").is_some() {
                    out.push((Mutation::TooManyItems, site(None)));
                }
                if uint(schema, "minItems").is_some_and(|n| n > 0) {
                    out.push((Mutation::TooFewItems, site(None)));
                }
                if schema.get("uniqueItems") == Some(&Value::Bool(true)) && !items.is_empty() {
                    out.push((Mutation::DuplicateItem, site(None)));
                }
                if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                    for (i, item) in items.iter().enumerate() {
                        self.collect(item_schema, item, format!("{pointer}/{i}"), out);
                    }
                }
            }
            Value::Object(map) => {
                let required: Vec<&str> = match schema.get("required") {
                    Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let props = schema.get("properties").and_then(Value::as_object);
                if props.is_some() || schema.get("additionalProperties").is_some() {
                    out.push((Mutation::UnknownProperty, site(None)));
                }
                if let Some(props) = props {
                    for name in props.keys() {
                        if required.contains(&name.as_str()) {
                            if map.contains_key(name) {
                                out.push((Mutation::RemoveRequired, site(Some(name.clone()))));
                            }
                        } else {
                            out.push((Mutation::NullOptional, site(Some(name.clone()))));
                        }
                    }
                }
                for (k, v) in map {
                    let sub = props.and_then(|p| p.get(k)).or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                    if let Some(sub) = sub {
                        self.collect(sub, v, format!("{pointer}/{}", escape_token(k)), out);
                    }
                }
            }
            _ => {}
        }
    }

    /// `instance` with one randomly chosen mutation applied, and which.
    /// Mutation kinds are chosen uniformly among those that apply, so rare
    /// kinds are not drowned by common ones. `None` if nothing applies.
    pub fn mutate(&self, instance: &Value, rng: &mut Rng) -> Option<(Mutation, Value)> {
        let sites = self.sites(instance);
        let mut kinds: Vec<Mutation> = sites.iter().map(|(m, _)| *m).collect();
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            return None;
        }
        let kind = *rng.pick(&kinds);
        let of_kind: Vec<&Site<'s>> = sites.iter().filter(|(m, _)| *m == kind).map(|(_, s)| s).collect();
        let site = *rng.pick(&of_kind);
        let mut out = instance.clone();
        let target = out.pointer_mut(&site.pointer)?;
        self.apply(kind, site, target, rng);
        Some((kind, out))
    }

    fn apply(&self, kind: Mutation, site: &Site<'s>, target: &mut Value, rng: &mut Rng) {
        let schema = site.schema;
        match kind {
            Mutation::RemoveRequired => {
                if let (Value::Object(map), Some(key)) = (target, &site.key) {
                    map.remove(key);
                }
            }
            Mutation::NullOptional => {
                if let (Value::Object(map), Some(key)) = (target, &site.key) {
                    map.insert(key.clone(), Value::Null);
                }
            }
            Mutation::UnknownProperty => {
                if let Value::Object(map) = target {
                    let value = match schema.get("additionalProperties") {
                        Some(extra) if extra.is_object() => self.value(extra, rng, 1),
                        _ => json!(*rng.pick(&["surprise", "42"])),
                    };
                    map.insert(format!("zz_unknown_{}", rng.below(10)), value);
                }
            }
            Mutation::WrongType => {
                let types = allowed_types(schema).unwrap_or_default();
                let candidates = [json!("wrong"), json!(7), json!(7.5), json!(true), Value::Null, json!([1]), json!({"k": 1})];
                let wrong: Vec<&Value> = candidates.iter().filter(|c| !type_matches(c, &types)).collect();
                if !wrong.is_empty() {
                    *target = (*rng.pick(&wrong)).clone();
                }
            }
            Mutation::BelowMinimum => {
                let integer = is_integer(schema);
                *target = match (num(schema, "minimum"), num(schema, "exclusiveMinimum")) {
                    (_, Some(x)) if rng.chance(0.5) || num(schema, "minimum").is_none() => bound_value(x, integer),
                    (Some(m), _) => below(m, integer, rng),
                    (None, None) => return,
                    (None, Some(x)) => bound_value(x, integer),
                };
            }
            Mutation::AboveMaximum => {
                let integer = is_integer(schema);
                *target = match (num(schema, "maximum"), num(schema, "exclusiveMaximum")) {
                    (_, Some(x)) if rng.chance(0.5) || num(schema, "maximum").is_none() => bound_value(x, integer),
                    (Some(m), _) => above(m, integer, rng),
                    (None, None) => return,
                    (None, Some(x)) => bound_value(x, integer),
                };
            }
            Mutation::Fraction => {
                let v = target.as_f64().unwrap_or(0.0);
                // Stay inside the bounds so only the fraction is wrong.
                let v = if num(schema, "maximum").is_some_and(|m| v + 0.5 > m) { v - 0.5 } else { v + 0.5 };
                *target = json!(v);
            }
            Mutation::NotMultiple => {
                let m = num(schema, "multipleOf").unwrap_or(1.0);
                let v = target.as_f64().unwrap_or(0.0) + m / 2.0;
                *target = if is_integer(schema) && v.fract() == 0.0 { json!(v as i64) } else { json!(v) };
            }
            Mutation::UnknownEnum => {
                *target = json!(*rng.pick(&["definitely_not_a_member", "", "SUCCESS", "unknown"]));
            }
            Mutation::BadFormat => {
                let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
                let bad: &[&str] = match format {
                    "uuid" => &[
                        "not-a-uuid",
                        "0b7f6e0e5d2c4c1a9f3e2a1b3c4d5e6f",
                        "{0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f}",
                        "urn:uuid:0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
                        "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6g",
                        "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6",
                        "your-run-uuid",
                    ],
                    "date-time" => &[
                        "2024-13-01T00:00:00Z",
                        "2024-01-01T10:00:00",
                        "2024-01-01 10:00:00Z",
                        "2024-02-30T00:00:00Z",
                        "2023-02-29T00:00:00Z",
                        "2024-01-01T24:00:00Z",
                        "2024-01-01T10:00:00+25:00",
                        "2024-01-01T10:00:60Z",
                        "2024-01-01",
                        "yesterday",
                    ],
                    "date" => &["2024-13-01", "2023-02-29", "2024-1-01", "20240101", "2024-01-01T00:00:00Z"],
                    "time" => &["25:00:00Z", "10:00:00", "10:00Z"],
                    "uri" => &["not a uri", "/relative/path", "example.com", "http://exa mple.com", "https://example.com/%zz", ""],
                    "uri-reference" => &["http://exa mple.com", "%zz", "a b"],
                    "email" => &["no-at-sign", "a@b@c", "@example.com", "user@", "user@-bad-.com", "user@exa mple.com"],
                    "hostname" => &["-bad.com", "exa mple.com", "a..b"],
                    "ipv4" => &["256.1.1.1", "1.2.3"],
                    "ipv6" => &["1:2:3", "::g"],
                    _ => &["?"],
                };
                *target = json!(*rng.pick(bad));
            }
            Mutation::BreakPattern => {
                let s = target.as_str().unwrap_or("").to_string();
                let broken = match rng.below(6) {
                    5 => format!("{s}\n"),
                    0 => s.to_uppercase().replace(|c: char| c.is_ascii_digit(), "A"),
                    1 => s.chars().skip(1).collect(),
                    2 => format!("{s}0"),
                    3 => format!("g{}", s.chars().skip(1).collect::<String>()),
                    _ => String::new(),
                };
                *target = json!(broken);
            }
            Mutation::TooLong => {
                let n = uint(schema, "maxLength").unwrap_or(0) as usize + 1 + rng.below(3) as usize;
                *target = json!("é".repeat(n));
            }
            Mutation::TooShort => {
                let n = uint(schema, "minLength").unwrap_or(1) as usize - 1;
                *target = json!("x".repeat(n));
            }
            Mutation::TooManyItems => {
                let max = uint(schema, "maxItems").unwrap_or(0) as usize;
                let unique = schema.get("uniqueItems") == Some(&Value::Bool(true));
                if let Value::Array(items) = target {
                    let mut tries = 0;
                    while items.len() <= max && tries < 200 {
                        tries += 1;
                        let item = self.item(schema, rng, 1);
                        if unique && items.iter().any(|i| json_eq(i, &item)) {
                            continue;
                        }
                        items.push(item);
                    }
                }
            }
            Mutation::TooFewItems => {
                let min = uint(schema, "minItems").unwrap_or(1) as usize;
                if let Value::Array(items) = target {
                    items.truncate(min - 1);
                }
            }
            Mutation::DuplicateItem => {
                if let Value::Array(items) = target
                    && let Some(first) = items.first().cloned()
                {
                    let at = rng.below(items.len() as u64 + 1) as usize;
                    items.insert(at, first);
                }
            }
        }
    }
}

/// The required properties of an object schema that hold a constant
/// (`const`, or a one-value `enum`): a tagged union branch's tag.
fn tags(branch: &Value) -> Vec<(String, Value)> {
    let required: Vec<&str> = branch.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let props = branch.get("properties").and_then(Value::as_object).into_iter().flatten();
    props
        .filter(|(k, _)| required.contains(&k.as_str()))
        .filter_map(|(k, p)| match (p.get("const"), p.get("enum").and_then(Value::as_array)) {
            (Some(c), _) => Some((k.clone(), c.clone())),
            (None, Some(values)) if values.len() == 1 => Some((k.clone(), values[0].clone())),
            _ => None,
        })
        .collect()
}

fn is_integer(schema: &Value) -> bool {
    allowed_types(schema).is_some_and(|t| t.contains(&"integer") && !t.contains(&"number"))
}

/// Exactly an exclusive bound (as an integer for integer fields).
fn bound_value(x: f64, integer: bool) -> Value {
    if integer && x.fract() == 0.0 { json!(x as i64) } else { json!(x) }
}

fn below(m: f64, integer: bool, rng: &mut Rng) -> Value {
    if integer { json!(m.ceil() as i64 - 1 - rng.below(3) as i64) } else { json!(m - *rng.pick(&[1e-6, 0.01, 0.5, 1.0, 1000.0])) }
}

fn above(m: f64, integer: bool, rng: &mut Rng) -> Value {
    if integer { json!(m.floor() as i64 + 1 + rng.below(3) as i64) } else { json!(m + *rng.pick(&[1e-6, 0.01, 0.5, 1.0, 1000.0])) }
}

/// The pointer of the first `null` in `instance` that sits in an optional
/// object property whose schema does not allow `null`, if any.
pub fn null_in_optional_property(root: &Value, instance: &Value) -> Option<String> {
    fn walk(root: &Value, schema: &Value, value: &Value, pointer: &str) -> Option<String> {
        let schema = resolve(root, schema);
        match value {
            Value::Object(map) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let required: Vec<&str> = match schema.get("required") {
                    Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                for (k, v) in map {
                    let Some(sub) = props.and_then(|p| p.get(k)) else { continue };
                    let here = format!("{pointer}/{}", escape_token(k));
                    let sub_resolved = resolve(root, sub);
                    let allows_null = allowed_types(sub_resolved).is_none_or(|t| t.contains(&"null"));
                    if v.is_null() && !required.contains(&k.as_str()) && !allows_null {
                        return Some(here);
                    }
                    if let Some(p) = walk(root, sub, v, &here) {
                        return Some(p);
                    }
                }
                None
            }
            Value::Array(items) => {
                let sub = schema.get("items").filter(|s| s.is_object())?;
                items.iter().enumerate().find_map(|(i, v)| walk(root, sub, v, &format!("{pointer}/{i}")))
            }
            _ => None,
        }
    }
    walk(root, root, instance, "")
}

/// `value` as JSON text, spelled the many ways senders spell the same
/// value: `\uXXXX` and `\/` escapes in strings, whitespace between tokens,
/// exponents in floats. Parsing the text gives back `value` exactly, so
/// both sides of a comparison see the same instance; what varies is the
/// path the bytes take through the parsers (borrowed vs. unescaped strings).
pub fn write_json(value: &Value, rng: &mut Rng) -> String {
    let mut out = String::new();
    let style = Style { escapes: rng.chance(0.3), spaces: rng.chance(0.2), exponents: rng.chance(0.2) };
    write_value(value, rng, style, &mut out);
    out
}

#[derive(Clone, Copy)]
struct Style {
    escapes: bool,
    spaces: bool,
    exponents: bool,
}

fn ws(rng: &mut Rng, style: Style, out: &mut String) {
    const SPACES: [&str; 4] = [" ", "\n  ", "\t", "\r\n"];
    if style.spaces && rng.chance(0.5) {
        out.push_str(SPACES[rng.below(4) as usize]);
    }
}

fn write_value(value: &Value, rng: &mut Rng, style: Style, out: &mut String) {
    match value {
        Value::String(s) => write_string(s, rng, style, out),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && style.exponents && rng.chance(0.5) && f != 0.0 => out.push_str(&format!("{f:e}")),
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, style, out);
                write_value(item, rng, style, out);
                ws(rng, style, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, style, out);
                write_string(k, rng, style, out);
                ws(rng, style, out);
                out.push(':');
                ws(rng, style, out);
                write_value(v, rng, style, out);
                ws(rng, style, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, rng: &mut Rng, style: Style, out: &mut String) {
    if !style.escapes {
        out.push_str(&Value::String(s.to_string()).to_string());
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if rng.chance(0.5) => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if rng.chance(0.1) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
