//! One TypeScript module of Zod 4 schemas for a catalog.
//!
//! Per event type (`ai.myfeature.started` → `MyfeatureStarted`): the data
//! schema `MyfeatureStartedDataZ`, its inferred type `MyfeatureStartedData`,
//! and the envelope schema `MyfeatureStartedEventZ`. Then the
//! `EVENT_TYPE_DATA_SCHEMAS` map, the `EventType` union, `CloudEventZ` (a
//! discriminated union on `type`) and its type `CloudEvent`. The module
//! imports only `zod` and type-checks under `tsc --strict`.
//!
//! Herald's rules map to Zod as written by hand, with three helpers where
//! Zod counts or checks differently: string lengths in code points (Zod
//! counts UTF-16 units), RFC 3339 dates and times as Herald reads them
//! (`t`/`z`, leap seconds), and `uniqueItems` by JSON value.

use std::fmt::Write as _;

use serde_json::Value;

use super::Options;
use super::shape::{Additional, DataShape, NumberRules, ObjectShape, Shape, StringRules, doc_line, quote};
use crate::ir::{Catalog, ExtensionKind};
use crate::subject::Piece;

/// The module's text.
pub fn export(catalog: &Catalog, options: &Options) -> String {
    let mut body = String::new();
    let mut used = Helpers::default();
    for event in &catalog.events {
        let name = event.rust_name();
        let data = DataShape::of(&event.schema);
        let mut w = Writer { used: &mut used, defs_prefix: name.clone() };
        for (def, shape) in &data.defs {
            let _ = writeln!(body, "/** `{def}`, a definition of `{}`'s data. */", event.type_name);
            let _ = writeln!(body, "export const {name}{def}Z = {};", w.shape(shape, 0));
            let _ = writeln!(body, "export type {name}{def} = z.infer<typeof {name}{def}Z>;\n");
        }
        let _ = writeln!(body, "/** Data of `{}`: {} */", event.type_name, doc_line(&event.description));
        let _ = writeln!(body, "export const {name}DataZ = {};", w.object(&data.root, 0));
        let _ = writeln!(body, "/** Data of `{}`: {} */", event.type_name, doc_line(&event.description));
        let _ = writeln!(body, "export type {name}Data = z.infer<typeof {name}DataZ>;\n");
    }

    let mut out = super::header("//", catalog, options);
    out.push_str("//\n// Zod 4 schemas of every event type, and of the CloudEvents envelope.\n\n");
    out.push_str("import { z } from \"zod\";\n\n");
    out.push_str(&used.render());
    out.push_str(&body);
    envelope(catalog, &mut out);
    out
}

/// The envelope, the type map and the unions.
fn envelope(catalog: &Catalog, out: &mut String) {
    out.push_str(ENVELOPE);
    let rules = &catalog.envelope;
    if rules.int64_extensions.iter().any(|n| catalog.extensions.iter().any(|e| &e.name == n)) {
        out.push_str(INT64);
    }
    let mut declared = String::new();
    for ext in &catalog.extensions {
        let schema = match ext.kind {
            ExtensionKind::String => "z.string()",
            ExtensionKind::Boolean => "BooleanExtensionZ",
            ExtensionKind::Integer if rules.is_int64(&ext.name) => "Int64ExtensionZ",
            ExtensionKind::Integer => "Int32ExtensionZ",
        };
        let _ = writeln!(declared, "  /** {} */\n  {}: {schema}.nullish(),", doc_line(&ext.description), ext.name);
    }
    out.push_str("/**\n * The CloudEvents v1.0 attributes shared by every event, with the catalog's extensions.\n");
    out.push_str(" * `null` stands for an absent optional attribute, as in Herald.\n */\n");
    out.push_str("export const CloudEventBaseZ = z.object({\n");
    out.push_str("  specversion: z.literal(\"1.0\"),\n");
    out.push_str("  id: z.string().min(1),\n");
    out.push_str("  source: z.string().min(1),\n");
    out.push_str("  type: z.string().min(1),\n");
    // `envelope.required` attributes are neither optional nor `null`.
    let presence = |attribute: &str| if rules.requires(attribute) { "" } else { ".nullish()" };
    let media = match &rules.datacontenttype {
        Some(ct) => format!("z.string().refine((s) => mediaEssence(s) === {}, {})", quote(ct), quote(&format!("expected {ct}"))),
        None => "z.string().refine(isJsonMediaType, \"expected a JSON media type\")".to_string(),
    };
    let _ = writeln!(out, "  subject: z.string().min(1){},", presence("subject"));
    let _ = writeln!(out, "  time: z.string().refine(isDateTime, \"expected an RFC 3339 date-time\"){},", presence("time"));
    let _ = writeln!(out, "  datacontenttype: {media}{},", presence("datacontenttype"));
    let _ = writeln!(out, "  dataschema: z.string().refine(isUri, \"expected an absolute URI\"){},", presence("dataschema"));
    out.push_str(&declared);
    if catalog.envelope.legacy_extensions_object {
        out.push_str("  /** Extensions nested the legacy way; read as if they were top-level attributes. */\n");
        out.push_str("  extensions: z\n    .object({\n");
        for line in declared.lines() {
            let _ = writeln!(out, "    {line}");
        }
        out.push_str("    })\n    .catchall(ExtensionValueZ)\n    .refine(hasAttributeNames, \"extension names are lower-case letters and digits\")\n    .nullish(),\n");
    }
    out.push_str("  data: z.unknown(),\n}).catchall(ExtensionValueZ);\n\n");

    for event in &catalog.events {
        let name = event.rust_name();
        let _ = writeln!(out, "/** A whole `{}` event. */", event.type_name);
        let _ = writeln!(out, "export const {name}EventZ = CloudEventBaseZ.extend({{");
        let _ = write!(out, "  type: z.literal({}),\n  data: {name}DataZ,\n}})", quote(&event.type_name));
        match event.subject.as_deref().filter(|_| rules.subject_matches_template) {
            Some(template) => {
                let _ = writeln!(
                    out,
                    ".refine((e) => e.subject == null || e.subject === {}, {{\n  message: {},\n  path: [\"subject\"],\n}});",
                    subject_expression(template),
                    quote(&format!("expected the subject `{template}` filled from data"))
                );
            }
            None => out.push_str(";\n"),
        }
        let _ = writeln!(out, "export type {name}Event = z.infer<typeof {name}EventZ>;\n");
    }

    out.push_str("/** The data schema of every event type, by CloudEvents `type`. */\n");
    out.push_str("export const EVENT_TYPE_DATA_SCHEMAS = {\n");
    for event in &catalog.events {
        let _ = writeln!(out, "  {}: {}DataZ,", quote(&event.type_name), event.rust_name());
    }
    out.push_str("} as const;\n\n");
    out.push_str("/** Every CloudEvents `type` of the catalog. */\n");
    out.push_str("export type EventType = keyof typeof EVENT_TYPE_DATA_SCHEMAS;\n\n");
    out.push_str("/** Every CloudEvents `type` of the catalog, as a list. */\n");
    out.push_str("export const EVENT_TYPES = Object.keys(EVENT_TYPE_DATA_SCHEMAS) as EventType[];\n\n");
    out.push_str("/** The data of each event type. */\n");
    out.push_str("export type EventDataMap = {\n  [K in EventType]: z.infer<(typeof EVENT_TYPE_DATA_SCHEMAS)[K]>;\n};\n\n");
    out.push_str("/** Any event of the catalog, told apart by `type`; attribute names are checked too. */\n");
    out.push_str("export const CloudEventZ = z\n  .discriminatedUnion(\"type\", [\n");
    for event in &catalog.events {
        let _ = writeln!(out, "    {}EventZ,", event.rust_name());
    }
    out.push_str("  ])\n  .refine(hasAttributeNames, \"attribute names are lower-case letters and digits\");\n");
    out.push_str("/** Any event of the catalog. */\n");
    out.push_str("export type CloudEvent = z.infer<typeof CloudEventZ>;\n");
}

/// `template` filled from `e.data` as a TypeScript expression:
/// `run/{run_id}` → `"run/" + e.data.run_id` (the placeholders are string
/// properties, as the catalog's lint makes sure).
fn subject_expression(template: &str) -> String {
    let mut parts: Vec<String> = crate::subject::parse(template)
        .unwrap_or_else(|_| vec![Piece::Text(template)])
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => quote(text),
            Piece::Placeholder(name) if key(name) == name => format!("e.data.{name}"),
            Piece::Placeholder(name) => format!("e.data[{}]", quote(name)),
        })
        .collect();
    if parts.is_empty() {
        parts.push(quote(""));
    }
    if parts.len() == 1 && !parts[0].starts_with('"') {
        // One placeholder alone: make sure the comparison is of strings.
        return format!("String({})", parts[0]);
    }
    if parts[0].starts_with('"') { parts.join(" + ") } else { format!("\"\" + {}", parts.join(" + ")) }
}

/// Which helper functions the module needs (each written once, on top).
#[derive(Default)]
struct Helpers {
    code_points: bool,
    unique: bool,
    formats: std::collections::BTreeSet<&'static str>,
}

impl Helpers {
    fn render(&self) -> String {
        let mut out = String::new();
        if self.code_points {
            out.push_str("/** Length in Unicode code points, as JSON Schema counts it. */\n");
            out.push_str("const codePoints = (s: string): number => [...s].length;\n\n");
        }
        if self.unique {
            out.push_str("/** JSON text with sorted keys: equal values give equal keys. */\n");
            out.push_str("const canonical = (v: unknown): string =>\n");
            out.push_str("  JSON.stringify(v, (_k, x: unknown) =>\n");
            out.push_str("    x !== null && typeof x === \"object\" && !Array.isArray(x)\n");
            out.push_str("      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))\n");
            out.push_str("      : x,\n  );\n");
            out.push_str("const allUnique = (xs: unknown[]): boolean => new Set(xs.map(canonical)).size === xs.length;\n\n");
        }
        // The date-time and URI checks are always there: the envelope's
        // `time` and `dataschema` use them.
        out.push_str(DATE_TIME);
        for f in self.formats.iter().chain(["uri"].iter()).collect::<std::collections::BTreeSet<_>>() {
            if let Some(code) = FORMAT_CODE.iter().find(|(n, _)| n == f).map(|(_, c)| *c) {
                out.push_str(code);
            }
        }
        out
    }
}

const DATE_TIME: &str = r#"const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** RFC 3339 `full-date`, a real calendar day. */
function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const days = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days;
}

/** RFC 3339 `full-time` with its offset; a leap second only at 23:59:60 UTC. */
function isTime(s: string): boolean {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return false;
  const [hour, minute, second] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [oh, om] = [Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (hour > 23 || minute > 59 || second > 60 || oh > 23 || om > 59) return false;
  if (second < 60) return true;
  const offset = (m[4] === "-" ? -1 : 1) * (oh * 60 + om);
  return (((hour * 60 + minute - offset) % 1440) + 1440) % 1440 === 23 * 60 + 59;
}

/** RFC 3339 `date-time`: `T` or `t` between date and time, offset required. */
function isDateTime(s: string): boolean {
  return s.length > 11 && (s[10] === "T" || s[10] === "t") && isDate(s.slice(0, 10)) && isTime(s.slice(11));
}

/** A `date-time` in UTC, written with `Z` (`offset: utc-only`; what `z.iso.datetime()` means). */
const isUtcDateTime = (s: string): boolean => isDateTime(s) && /[Zz]$/.test(s);

"#;

/// What the envelope schemas use.
const ENVELOPE: &str = r#"/** An extension value: a string, a boolean or a 32-bit integer; `null` is absent. */
const ExtensionValueZ = z.union([z.string(), z.boolean(), z.int32()]).nullish();

/** A 32-bit integer extension: a JSON integer, or its canonical decimal text (as binary mode sends it). */
const Int32ExtensionZ = z.union([z.int32(), z.string().regex(/^-?(0|[1-9][0-9]*)$/).transform(Number).pipe(z.int32())]);

/** A boolean extension: `true` or `false`, or their text. */
const BooleanExtensionZ = z.union([z.boolean(), z.enum(["true", "false"]).transform((s) => s === "true")]);

/** CloudEvents attribute names: lower-case ASCII letters and digits. */
const hasAttributeNames = (o: object): boolean => Object.keys(o).every((k) => /^[a-z0-9]+$/.test(k));

/** A media type's `type/subtype`: parameters stripped, ASCII lower-cased. */
const mediaEssence = (s: string): string => (s.split(";")[0] ?? "").trim().replace(/[A-Z]/g, (c) => c.toLowerCase());

/** A JSON media type (`application/json`, `text/json`, `…+json`), case-insensitive, parameters allowed. */
function isJsonMediaType(s: string): boolean {
  const essence = mediaEssence(s);
  return essence === "application/json" || essence === "text/json" || essence.endsWith("+json");
}

"#;

/// The 64-bit integer extensions (`format: int64`).
const INT64: &str = r#"/**
 * A 64-bit integer extension: a JSON integer, or its canonical decimal text (as binary mode sends it).
 * The text is checked exactly (with BigInt); a JSON number past 2^53 is not exact in JavaScript.
 */
const Int64ExtensionZ = z.union([
  z.number().refine((n) => Number.isInteger(n) && n >= -(2 ** 63) && n <= 2 ** 63, "expected a 64-bit integer"),
  z
    .string()
    .refine((s) => /^-?(0|[1-9][0-9]*)$/.test(s) && BigInt(s) >= -(2n ** 63n) && BigInt(s) < 2n ** 63n, "expected a 64-bit integer")
    .transform(Number),
]);

"#;

/// Checks for the formats Zod has no matching built-in for.
const FORMAT_CODE: &[(&str, &str)] = &[
    (
        "hostname",
        r#"/** RFC 1123 host name: labels of letters, digits and `-`, at most 253 characters. */
const isHostname = (s: string): boolean =>
  s.length > 0 && s.length <= 253 && s.split(".").every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));

"#,
    ),
    (
        "email",
        r#"const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/** The last ` <` outside a quoted string: where a display name ends (-1: none). */
function displaySeparator(s: string): number {
  let [inQuote, escaped, found] = [false, false, -1];
  for (let i = 0; i < s.length; i++) {
    if (!inQuote && s.startsWith(" <", i)) found = i;
    const c = s[i];
    if (escaped) escaped = false;
    else if (inQuote && c === "\\") escaped = true;
    else if (c === '"') inQuote = !inQuote;
  }
  return found;
}

/** A dot-atom or quoted-string local part of at most 64 bytes. */
function isLocalPart(local: string): boolean {
  const bytes = utf8Length(local);
  if (bytes === 0 || bytes > 64) return false;
  if (bytes >= 2 && local.startsWith('"') && local.endsWith('"')) {
    if (bytes === 2) return false;
    const chars = [...local.slice(1, -1)];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] ?? "";
      if (c === "\\") {
        const e = chars[++i];
        if (e === undefined || e < "\x21" || e > "\x7e") return false;
      } else if (!(c === " " || c === "\t" || (c >= "\x21" && c <= "\x7e" && c !== '"') || c > "\x7f")) {
        return false;
      }
    }
    return true;
  }
  return local.split(".").every((atom) => /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u.test(atom));
}

/** A host name of at most 254 bytes, or a bracketed IPv4 / `IPv6:` literal. */
function isEmailDomain(domain: string): boolean {
  if (domain.length === 0 || utf8Length(domain) > 254) return false;
  const literal = /^\[(.*)\]$/s.exec(domain)?.[1];
  if (literal === undefined) return isHostname(domain);
  return literal.startsWith("IPv6:") ? z.ipv6().safeParse(literal.slice(5)).success : z.ipv4().safeParse(literal).success;
}

/** An email address, optionally with a display name (`Ops <ops@example.com>`). */
function isEmail(s: string): boolean {
  const sep = displaySeparator(s);
  let email = s;
  if (sep >= 0) {
    const rest = s.slice(sep + 2).trim();
    if (!rest.endsWith(">")) return false;
    email = rest.slice(0, -1);
  }
  const display = sep >= 0 ? s.slice(0, sep).trim() : "";
  const at = email.lastIndexOf("@");
  if (at < 0) return false;
  const [local, domain] = [email.slice(0, at), email.slice(at + 1)];
  if (display === "" && local.startsWith("<")) return false;
  return isLocalPart(local) && isEmailDomain(domain);
}

"#,
    ),
    (
        "uri",
        r#"/** RFC 3986 characters of a URI or reference: ASCII, `%` with two hex digits. */
const URI_CHARS = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#[\]]|%[0-9A-Fa-f]{2})*$/;
/** An absolute RFC 3986 URI: a scheme, then URI characters. */
const isUri = (s: string): boolean => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) && URI_CHARS.test(s);

"#,
    ),
    (
        "uri-reference",
        r#"/** An RFC 3986 URI reference (absolute or relative). */
const isUriReference = (s: string): boolean =>
  /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#[\]]|%[0-9A-Fa-f]{2})*$/.test(s);

"#,
    ),
];

struct Writer<'h> {
    used: &'h mut Helpers,
    /// Rust name of the event, the prefix of its definitions' names.
    defs_prefix: String,
}

impl Writer<'_> {
    fn shape(&mut self, shape: &Shape, indent: usize) -> String {
        match shape {
            Shape::String(rules) => self.string(rules),
            Shape::Number(rules) => number(rules),
            Shape::Boolean => "z.boolean()".to_string(),
            Shape::Array { items, min_items, max_items, unique } => {
                let mut s = format!("z.array({})", self.shape(items, indent));
                if let Some(n) = min_items {
                    let _ = write!(s, ".min({n})");
                }
                if let Some(n) = max_items {
                    let _ = write!(s, ".max({n})");
                }
                if *unique {
                    self.used.unique = true;
                    s.push_str(".refine(allUnique, \"items must be unique\")");
                }
                s
            }
            Shape::Object(o) => self.object(o, indent),
            Shape::Const(v) => match v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => format!("z.literal({v})"),
                other => format!("z.json().refine((v) => JSON.stringify(v) === {}, \"expected the constant\")", quote(&other.to_string())),
            },
            Shape::Any => "z.json()".to_string(),
            Shape::Ref(name) => format!("{}{name}Z", self.defs_prefix),
            Shape::Union(u) => {
                let pad = "  ".repeat(indent + 1);
                let mut branches = String::new();
                for (_, o) in &u.branches {
                    if let Some(d) = &o.description {
                        let _ = writeln!(branches, "{pad}/** {} */", doc_line(d));
                    }
                    let _ = writeln!(branches, "{pad}{},", self.object(o, indent + 1));
                }
                format!("z.discriminatedUnion({}, [\n{branches}{}])", quote(&u.tag), "  ".repeat(indent))
            }
        }
    }

    fn string(&mut self, rules: &StringRules) -> String {
        if let Some(values) = &rules.values {
            let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
            return format!("z.enum([{}])", list.join(", "));
        }
        let mut s = match rules.format.as_deref() {
            Some("uuid") => "z.guid()".to_string(),
            Some("ipv4") => "z.ipv4()".to_string(),
            Some("ipv6") => "z.ipv6()".to_string(),
            Some(f @ ("date-time" | "date" | "time" | "hostname" | "email" | "uri" | "uri-reference")) => {
                let (func, what) = match f {
                    "date-time" if rules.utc_only => ("isUtcDateTime", "an RFC 3339 date-time in UTC, ending in Z"),
                    "date-time" => ("isDateTime", "an RFC 3339 date-time"),
                    "date" => ("isDate", "an RFC 3339 date"),
                    "time" => ("isTime", "an RFC 3339 time"),
                    "hostname" => ("isHostname", "a host name"),
                    "email" => {
                        self.used.formats.insert("hostname");
                        ("isEmail", "an email address")
                    }
                    "uri" => ("isUri", "an absolute URI"),
                    _ => ("isUriReference", "a URI reference"),
                };
                if let Some((name, _)) = FORMAT_CODE.iter().find(|(n, _)| *n == f) {
                    self.used.formats.insert(name);
                }
                format!("z.string().refine({func}, \"expected {what}\")")
            }
            _ => "z.string()".to_string(),
        };
        if rules.min_length.is_some() || rules.max_length.is_some() {
            self.used.code_points = true;
        }
        if let Some(n) = rules.min_length {
            let _ = write!(s, ".refine((s) => codePoints(s) >= {n}, \"at least {}\")", count(n, "character"));
        }
        if let Some(n) = rules.max_length {
            let _ = write!(s, ".refine((s) => codePoints(s) <= {n}, \"at most {}\")", count(n, "character"));
        }
        if let Some(p) = &rules.pattern {
            let _ = write!(s, ".regex({})", regex_literal(p));
        }
        s
    }

    fn object(&mut self, o: &ObjectShape, indent: usize) -> String {
        let pad = "  ".repeat(indent + 1);
        if o.is_map() {
            return match &o.additional {
                Additional::Schema(values) => format!("z.record(z.string(), {})", self.shape(values, indent)),
                Additional::Forbidden => "z.strictObject({})".to_string(),
                Additional::Any => "z.record(z.string(), z.json())".to_string(),
            };
        }
        let mut fields = String::new();
        for p in &o.properties {
            if let Some(d) = &p.description {
                let _ = writeln!(fields, "{pad}/** {} */", doc_line(d));
            }
            let optional = if p.required { "" } else { ".optional()" };
            let _ = writeln!(fields, "{pad}{}: {}{optional},", key(&p.name), self.shape(&p.shape, indent + 1));
        }
        let close = "  ".repeat(indent);
        let mut s = match &o.additional {
            Additional::Any => format!("z.looseObject({{\n{fields}{close}}})"),
            Additional::Forbidden => format!("z.strictObject({{\n{fields}{close}}})"),
            Additional::Schema(values) => {
                format!("z.object({{\n{fields}{close}}}).catchall({})", self.shape(values, indent))
            }
        };
        if let Some(n) = o.min_properties {
            let _ = write!(s, ".refine((o) => Object.keys(o).length >= {n}, \"at least {}\")", count(n, "property"));
        }
        if let Some(n) = o.max_properties {
            let _ = write!(s, ".refine((o) => Object.keys(o).length <= {n}, \"at most {}\")", count(n, "property"));
        }
        s
    }
}

fn number(rules: &NumberRules) -> String {
    // `z.int()` is limited to safe integers; Herald's are 64-bit, and no
    // JavaScript number beyond 2^53 is exact anyway.
    let mut s = if rules.integer { "z.int()" } else { "z.number()" }.to_string();
    for (method, bound) in rules.bounds(["min", "max", "gt", "lt", "multipleOf"]) {
        let _ = write!(s, ".{method}({bound})");
    }
    s
}

/// An object key: bare when it is an identifier, else quoted.
fn key(name: &str) -> String {
    let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident { name.to_string() } else { quote(name) }
}

/// A regular expression literal with the `u` flag (`/^[0-9a-f]{64}$/u`),
/// or `new RegExp(…)` when the pattern holds a line break.
fn regex_literal(pattern: &str) -> String {
    if pattern.is_empty() || pattern.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return format!("new RegExp({}, \"u\")", quote(pattern));
    }
    let mut out = String::from("/");
    let (mut escaped, mut in_class) = (false, false);
    for c in pattern.chars() {
        match c {
            '/' if !escaped && !in_class => out.push_str("\\/"),
            _ => out.push(c),
        }
        if !escaped {
            match c {
                '[' => in_class = true,
                ']' => in_class = false,
                _ => {}
            }
        }
        escaped = !escaped && c == '\\';
    }
    out.push_str("/u");
    out
}

/// `1 character`, `2 characters`, `1 property`, `3 properties`.
fn count(n: u64, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}
