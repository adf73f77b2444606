//! The marked YAML tree the catalog is read from.
//!
//! Why not `yaml_rust2::YamlLoader`: it forgets where nodes came from and
//! silently keeps the last of two equal keys, so a duplicated event type
//! would vanish without a word. Here every node and every key remembers its
//! line and column, and a repeated key is reported (the first one is kept).
//!
//! The parser's event stream is driven by hand instead of `Parser::load`,
//! which recurses once per nesting level (a hostile file could overflow the
//! stack, which no `catch_unwind` can stop). Nesting is capped at
//! [`MAX_DEPTH`], so every recursive walk over the tree afterwards is bounded.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; real catalogs use well under ten levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// A 1-based source position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mark {
    pub line: usize,
    pub column: usize,
}

impl From<Marker> for Mark {
    fn from(m: Marker) -> Self {
        // yaml-rust2 counts lines from 1 but columns from 0.
        Mark { line: m.line(), column: m.col() + 1 }
    }
}

/// A YAML value with resolved scalars (YAML 1.2 core schema).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub mark: Mark,
}

/// One `key: value` pair of a mapping, in source order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_mark: Mark,
    pub value: Node,
}

/// Something wrong with the YAML itself, before the catalog format is read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub mark: Mark,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProblemKind {
    /// The parser gave up; the text is its own.
    Syntax(String),
    /// `key` appeared twice; `path` holds the keys (or indices) leading to the mapping.
    DuplicateKey { key: String, first: Mark, path: Vec<String> },
    /// A scalar key that is not a string (`1:`, `true:`, `~:`); `kind` says what it is.
    NonStringKey { key: String, kind: &'static str },
    /// A sequence or mapping used as a key.
    ComplexKey,
    /// `*alias` references.
    Alias,
    /// A tag other than the core `!!str`, `!!int`, … ones.
    Tag(String),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A second `---` document.
    ExtraDocument,
}

/// The tree (when the YAML parsed) and every problem found on the way.
pub(crate) struct Parsed {
    pub root: Option<Node>,
    pub problems: Vec<Problem>,
}

/// Parse `text` into a marked tree. Never panics: a parser panic becomes a
/// syntax problem at the last position seen.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut last = Mark { line: 1, column: 1 };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut parser = Parser::new_from_str(text);
        let mut builder = Builder::default();
        loop {
            match parser.next_token() {
                Ok((Event::StreamEnd, _)) => break,
                Ok((event, marker)) => {
                    last = marker.into();
                    builder.on_event(event, last);
                }
                Err(e) => {
                    let mark = (*e.marker()).into();
                    builder.problems.push(Problem { mark, kind: ProblemKind::Syntax(e.info().to_string()) });
                    // A half-built tree would only produce follow-on noise.
                    builder.root = None;
                    break;
                }
            }
        }
        Parsed { root: builder.root, problems: builder.problems }
    }));
    outcome.unwrap_or_else(|_| Parsed {
        root: None,
        problems: vec![Problem { mark: last, kind: ProblemKind::Syntax("the YAML parser failed here".into()) }],
    })
}

enum KeySlot {
    Expecting,
    Have(String, Mark),
    /// The key was unusable (already reported): drop the value.
    Skip,
}

enum Frame {
    Seq { mark: Mark, items: Vec<Node> },
    Map { mark: Mark, entries: Vec<Entry>, key: KeySlot, seen: HashMap<String, Mark> },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    /// Nesting levels being skipped below the depth cap.
    skip: usize,
    /// Everything after the first document is ignored.
    done: bool,
    problems: Vec<Problem>,
}

impl Builder {
    fn on_event(&mut self, event: Event, mark: Mark) {
        if self.done {
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.problem(mark, ProblemKind::ExtraDocument);
                    self.done = true;
                }
            }
            Event::Alias(_) if self.skip == 0 => {
                self.problem(mark, ProblemKind::Alias);
                self.complete(Node { value: Value::Null, mark });
            }
            Event::Scalar(text, style, _anchor, tag) if self.skip == 0 => self.scalar(text, style, tag, mark),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if self.skip > 0 {
                    self.skip += 1;
                } else if self.stack.len() >= MAX_DEPTH {
                    self.problem(mark, ProblemKind::TooDeep);
                    self.skip = 1;
                } else if matches!(event, Event::SequenceStart(..)) {
                    self.stack.push(Frame::Seq { mark, items: Vec::new() });
                } else {
                    let key = KeySlot::Expecting;
                    self.stack.push(Frame::Map { mark, entries: Vec::new(), key, seen: HashMap::new() });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if self.skip > 0 {
                    self.skip -= 1;
                    if self.skip == 0 {
                        self.complete(Node { value: Value::Null, mark });
                    }
                } else if let Some(frame) = self.stack.pop() {
                    let node = match frame {
                        Frame::Seq { mark, items } => Node { value: Value::Seq(items), mark },
                        Frame::Map { mark, entries, .. } => {
                            // The scanner notices a block mapping only at its
                            // first `:`; point at the first key instead.
                            let mark = match entries.first() {
                                Some(e) if (e.key_mark.line, e.key_mark.column) < (mark.line, mark.column) => e.key_mark,
                                _ => mark,
                            };
                            Node { value: Value::Map(entries), mark }
                        }
                    };
                    self.complete(node);
                }
            }
            _ => {}
        }
    }

    fn problem(&mut self, mark: Mark, kind: ProblemKind) {
        // One depth report is enough; the rest would point into the same blob.
        if kind == ProblemKind::TooDeep && self.problems.iter().any(|p| p.kind == ProblemKind::TooDeep) {
            return;
        }
        self.problems.push(Problem { mark, kind });
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, tag: Option<Tag>, mark: Mark) {
        if let Some(tag) = &tag
            && core_tag(tag).is_none()
        {
            self.problem(mark, ProblemKind::Tag(format!("{}{}", tag.handle, tag.suffix)));
        }
        let value = resolve(text.clone(), style, tag.as_ref().and_then(core_tag));
        if let Some(Frame::Map { key: key @ KeySlot::Expecting, .. }) = self.stack.last_mut() {
            let kind = match value {
                Value::Str(_) => None,
                Value::Null => Some("null"),
                Value::Bool(_) => Some("a boolean"),
                Value::Int(_) => Some("an integer"),
                Value::Float(_) => Some("a number"),
                Value::Seq(_) | Value::Map(_) => None,
            };
            *key = KeySlot::Have(text.clone(), mark);
            if let Some(kind) = kind {
                self.problem(mark, ProblemKind::NonStringKey { key: text, kind });
            }
            return;
        }
        self.complete(Node { value, mark });
    }

    /// Attach a finished node to its parent.
    fn complete(&mut self, node: Node) {
        // The path is only needed (and only built) for a duplicate key.
        let duplicate = match self.stack.last() {
            Some(Frame::Map { key: KeySlot::Have(name, _), seen, .. }) => seen.contains_key(name),
            _ => false,
        };
        let path = if duplicate { self.path() } else { Vec::new() };
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, seen, .. }) => match std::mem::replace(key, KeySlot::Expecting) {
                KeySlot::Expecting => {
                    *key = KeySlot::Skip;
                    self.problems.push(Problem { mark: node.mark, kind: ProblemKind::ComplexKey });
                }
                KeySlot::Have(name, key_mark) => {
                    if let Some(first) = seen.get(&name) {
                        let kind = ProblemKind::DuplicateKey { key: name, first: *first, path };
                        self.problems.push(Problem { mark: key_mark, kind });
                    } else {
                        seen.insert(name.clone(), key_mark);
                        entries.push(Entry { key: name, key_mark, value: node });
                    }
                }
                KeySlot::Skip => {}
            },
        }
    }

    /// Keys and indices leading to the innermost open collection.
    fn path(&self) -> Vec<String> {
        let open = self.stack.len().saturating_sub(1);
        self.stack[..open]
            .iter()
            .map(|f| match f {
                Frame::Seq { items, .. } => items.len().to_string(),
                Frame::Map { key: KeySlot::Have(k, _), .. } => k.clone(),
                Frame::Map { .. } => "?".to_string(),
            })
            .collect()
    }
}

/// The suffix of a core-schema tag (`!!str` → `str`).
fn core_tag(tag: &Tag) -> Option<&str> {
    let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
    let known = matches!(tag.suffix.as_str(), "str" | "int" | "float" | "bool" | "null");
    (core && known).then_some(tag.suffix.as_str())
}

/// Resolve a scalar the way YAML 1.2's core schema (and yaml-rust2) does:
/// only plain scalars can be anything but strings.
fn resolve(text: String, style: TScalarStyle, tag: Option<&str>) -> Value {
    if tag == Some("str") || (style != TScalarStyle::Plain && tag.is_none()) {
        return Value::Str(text);
    }
    let int = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = text.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else {
        text.strip_prefix('+').unwrap_or(&text).parse::<i64>().ok()
    };
    match (text.as_str(), int) {
        ("" | "~" | "null" | "Null" | "NULL", _) => Value::Null,
        ("true" | "True" | "TRUE", _) => Value::Bool(true),
        ("false" | "False" | "FALSE", _) => Value::Bool(false),
        (_, Some(i)) => Value::Int(i),
        _ => match parse_float(&text) {
            Some(f) => Value::Float(f),
            None => Value::Str(text),
        },
    }
}

fn parse_float(v: &str) -> Option<f64> {
    match v {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        // Rust also parses `inf` and `NaN`; YAML wants a digit in a number.
        _ if v.bytes().any(|b| b.is_ascii_digit()) => v.parse().ok(),
        _ => None,
    }
}

impl Node {
    /// What the node is, for messages ("found a mapping").
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(e) => Some(e),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(i) => Some(i),
            _ => None,
        }
    }

    /// The entry for `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|e| e.key == key)
    }

    /// The node as JSON; `Err` carries the position of a number JSON cannot
    /// hold (`.inf`, `.nan`).
    pub fn to_json(&self) -> Result<serde_json::Value, Mark> {
        use serde_json::Value as J;
        Ok(match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => J::Number(serde_json::Number::from_f64(*f).ok_or(self.mark)?),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?),
            Value::Map(entries) => {
                J::Object(entries.iter().map(|e| Ok::<_, Mark>((e.key.clone(), e.value.to_json()?))).collect::<Result<_, _>>()?)
            }
        })
    }

    /// The node at a JSON pointer (`/metrics/duration_ms`), or the deepest
    /// node on the way there.
    pub fn at_pointer(&self, pointer: &str) -> &Node {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            let next = match &node.value {
                Value::Map(entries) => entries.iter().find(|e| e.key == seg).map(|e| &e.value),
                Value::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let parsed = parse(text);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.root.expect("a document")
    }

    #[test]
    fn marks_are_one_based_lines_and_columns() {
        let node = root("a: 1\nb:\n  c: [x, 'y']\n");
        let b = node.get("b").unwrap();
        assert_eq!(b.key_mark, Mark { line: 2, column: 1 });
        assert_eq!(node.mark, Mark { line: 1, column: 1 });
        assert_eq!(b.value.mark, Mark { line: 3, column: 3 });
        let c = b.value.get("c").unwrap();
        assert_eq!(c.key_mark, Mark { line: 3, column: 3 });
        let items = c.value.items().unwrap();
        assert_eq!(items[1].mark, Mark { line: 3, column: 10 });
        assert_eq!(items[1].value, Value::Str("y".into()));
    }

    #[test]
    fn scalars_resolve_like_yaml_1_2() {
        let node = root("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 0b7f6e0e-1\ng: .inf\nh: 2024-01-01T00:00:00Z\ni: !!str 5\n");
        let v = |k: &str| node.get(k).unwrap().value.value.clone();
        assert_eq!(v("a"), Value::Int(1));
        assert_eq!(v("b"), Value::Float(1.5));
        assert_eq!(v("c"), Value::Bool(true));
        assert_eq!(v("d"), Value::Null);
        assert_eq!(v("e"), Value::Str("1".into()));
        assert_eq!(v("f"), Value::Str("0b7f6e0e-1".into()));
        assert_eq!(v("g"), Value::Float(f64::INFINITY));
        assert_eq!(v("h"), Value::Str("2024-01-01T00:00:00Z".into()));
        assert_eq!(v("i"), Value::Str("5".into()));
        assert!(node.get("g").unwrap().value.to_json().is_err());
    }

    #[test]
    fn duplicate_keys_are_reported_at_every_level_and_the_first_kept() {
        let parsed = parse("x: 1\nevents:\n  a: {k: 1, k: 2}\n  a: 3\nx: 4\n");
        let kinds: Vec<_> = parsed.problems.iter().map(|p| (p.mark.line, p.mark.column, p.kind.clone())).collect();
        let dup = |key: &str, line, column, path: &[&str]| ProblemKind::DuplicateKey {
            key: key.into(),
            first: Mark { line, column },
            path: path.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            kinds,
            vec![(3, 13, dup("k", 3, 7, &["events", "a"])), (4, 3, dup("a", 3, 3, &["events"])), (5, 1, dup("x", 1, 1, &[])),]
        );
        let root = parsed.root.unwrap();
        assert_eq!(root.get("x").unwrap().value.value, Value::Int(1));
        assert_eq!(root.get("events").unwrap().value.entries().unwrap().len(), 1);
    }

    #[test]
    fn odd_keys_aliases_and_syntax_errors_are_problems() {
        let parsed = parse("1: a\n? [x]\n: b\nc: &anchor d\ne: *anchor\n");
        let kinds: Vec<_> = parsed.problems.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![ProblemKind::NonStringKey { key: "1".into(), kind: "an integer" }, ProblemKind::ComplexKey, ProblemKind::Alias,]
        );
        let parsed = parse("a: [1, 2\nb: 3\n");
        assert!(parsed.root.is_none());
        assert!(matches!(parsed.problems[0].kind, ProblemKind::Syntax(_)), "{:?}", parsed.problems);
    }

    #[test]
    fn deep_nesting_is_cut_off_without_recursion() {
        let text = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        let parsed = parse(&text);
        assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
        assert_eq!(parsed.problems[0].kind, ProblemKind::TooDeep);
        assert_eq!(parsed.root.unwrap().get("a").unwrap().value.kind(), "a sequence");
        // Past the scanner's own limit it is a syntax error, still no crash.
        let parsed = parse(&"[".repeat(100_000));
        assert!(parsed.problems.iter().any(|p| matches!(p.kind, ProblemKind::Syntax(_))));
    }

    #[test]
    fn pointers_find_nodes() {
        let node = root("a:\n  b: [x, {c/d: 1}]\n");
        assert_eq!(node.at_pointer("/a/b/1/c~1d").mark, Mark { line: 2, column: 16 });
        assert_eq!(node.at_pointer("/a/missing").mark, node.get("a").unwrap().value.mark);
    }
}
