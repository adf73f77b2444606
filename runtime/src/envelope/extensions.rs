//! Extension attributes: names, values, the sorted collection, and the
//! legacy `extensions` object.
//!
//! CloudEvents v1.0 puts extensions at the top level, named with lower-case
//! ASCII letters and digits only, valued as a string, boolean or 32-bit
//! integer (a catalog may widen one to 64 bits: `{type: integer, format:
//! int64}`, as the orchestrator's `seq`). Older producers (and the seed orchestrator) nest them in an
//! `"extensions": {…}` object; with the catalog option
//! `envelope.legacy_extensions_object` those members are lifted to the top
//! level under the very same rules, so handlers never see the difference.

use std::borrow::Cow;
use std::fmt;

use super::names::Name;
use super::{Member, check_chars};
use crate::error::EnvelopeError;

/// The value of an extension attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtensionValue<'a> {
    /// A string (binary mode delivers every extension as a string).
    String(Cow<'a, str>),
    /// A JSON `true` or `false`.
    Boolean(bool),
    /// A JSON integer: in the 32-bit signed range, or the 64-bit one for an
    /// extension the catalog declares `format: int64`.
    Integer(i64),
}

impl ExtensionValue<'_> {
    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ExtensionValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean value: a boolean, or a string in the CloudEvents
    /// canonical encoding (`"true"` / `"false"`, case-sensitive).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ExtensionValue::Boolean(b) => Some(*b),
            ExtensionValue::String(s) => match s.as_ref() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            ExtensionValue::Integer(_) => None,
        }
    }

    /// The integer value: an integer, or a string in the CloudEvents
    /// canonical encoding (RFC 8259 `int`: optional `-`, then `0` or digits
    /// without a leading zero; no `+`, no spaces) within the i32 range.
    pub fn as_i32(&self) -> Option<i32> {
        self.as_i64().and_then(|i| i32::try_from(i).ok())
    }

    /// The integer value in the 64-bit range: an integer, or a string in
    /// the canonical encoding [`ExtensionValue::as_i32`] describes.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ExtensionValue::Integer(i) => Some(*i),
            ExtensionValue::String(s) => parse_canonical_i64(s),
            ExtensionValue::Boolean(_) => None,
        }
    }

    /// Copy any borrowed text so the value outlives the input buffer.
    pub fn into_owned(self) -> ExtensionValue<'static> {
        match self {
            ExtensionValue::String(s) => ExtensionValue::String(Cow::Owned(s.into_owned())),
            ExtensionValue::Boolean(b) => ExtensionValue::Boolean(b),
            ExtensionValue::Integer(i) => ExtensionValue::Integer(i),
        }
    }
}

/// The canonical string form; strings are shown as they are (no quotes).
impl fmt::Display for ExtensionValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionValue::String(s) => f.write_str(s),
            ExtensionValue::Boolean(b) => write!(f, "{b}"),
            ExtensionValue::Integer(i) => write!(f, "{i}"),
        }
    }
}

/// As the JSON value it was (string, boolean or number).
impl serde::Serialize for ExtensionValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ExtensionValue::String(v) => s.serialize_str(v),
            ExtensionValue::Boolean(v) => s.serialize_bool(*v),
            ExtensionValue::Integer(v) => s.serialize_i64(*v),
        }
    }
}

fn parse_canonical_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if canonical { s.parse().ok() } else { None }
}

/// One extension: its name and value.
type Entry<'a> = (Cow<'a, str>, ExtensionValue<'a>);

/// How many extensions are kept without allocating: events carry a few
/// (`seq`, `traceparent`…).
const INLINE: usize = 4;

/// A filler for unused inline slots (allocates nothing).
const EMPTY: Entry<'static> = (Cow::Borrowed(""), ExtensionValue::Boolean(false));

/// Extension attributes, kept sorted by name so lookups are a binary search
/// and serialisation is deterministic.
///
/// Up to `INLINE` (4) entries live in the struct itself, so parsing an event
/// allocates nothing for them; more move to the heap, all together. (A
/// plain array rather than a small-vector type keeps `Envelope<'a>`
/// covariant in `'a`.)
#[derive(Clone)]
pub struct Extensions<'a> {
    /// The first `len` are the entries while `heap` is empty.
    inline: [Entry<'a>; INLINE],
    len: usize,
    /// All the entries, once there are more than fit inline.
    heap: Vec<Entry<'a>>,
}

impl Default for Extensions<'_> {
    fn default() -> Self {
        Extensions { inline: [EMPTY; INLINE], len: 0, heap: Vec::new() }
    }
}

impl PartialEq for Extensions<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for Extensions<'_> {}

impl fmt::Debug for Extensions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions").field("entries", &self.entries()).finish()
    }
}

impl<'a> Extensions<'a> {
    /// No extensions.
    pub fn new() -> Self {
        Extensions::default()
    }

    /// The entries, sorted by name.
    fn entries(&self) -> &[Entry<'a>] {
        if self.heap.is_empty() { &self.inline[..self.len] } else { &self.heap }
    }

    fn entries_mut(&mut self) -> &mut [Entry<'a>] {
        if self.heap.is_empty() { &mut self.inline[..self.len] } else { &mut self.heap }
    }

    /// Move the inline entries to the heap, to make room.
    fn spill(&mut self) {
        if self.heap.is_empty() {
            self.heap.reserve(self.len + 1);
            self.heap.extend(self.inline[..self.len].iter_mut().map(|e| std::mem::replace(e, EMPTY)));
            self.len = 0;
        }
    }

    /// Put `entry` at index `i` of the entries.
    fn insert_at(&mut self, i: usize, entry: Entry<'a>) {
        if self.heap.is_empty() && self.len < INLINE {
            self.inline[self.len] = entry;
            self.inline[i..=self.len].rotate_right(1);
            self.len += 1;
        } else {
            self.spill();
            self.heap.insert(i, entry);
        }
    }

    /// Append an entry whose name the caller has checked is unique; call
    /// [`Extensions::sort`] once all are in.
    pub(crate) fn push_unique(&mut self, name: Cow<'a, str>, value: ExtensionValue<'a>) {
        let end = self.len();
        self.insert_at(end, (name, value));
    }

    /// Restore the order by name after [`Extensions::push_unique`].
    pub(crate) fn sort(&mut self) {
        self.entries_mut().sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries().binary_search_by(|(n, _)| n.as_ref().cmp(name))
    }

    /// The value of extension `name`.
    pub fn get(&self, name: &str) -> Option<&ExtensionValue<'a>> {
        self.position(name).ok().map(|i| &self.entries()[i].1)
    }

    /// All extensions, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ExtensionValue<'a>)> {
        self.entries().iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// How many extensions there are.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Add or replace an extension, under the rules parsing enforces (name
    /// `[a-z0-9]+` and not a context attribute, no forbidden characters).
    /// Returns the value it replaced.
    pub fn insert(
        &mut self,
        name: impl Into<Cow<'a, str>>,
        value: ExtensionValue<'a>,
    ) -> Result<Option<ExtensionValue<'a>>, EnvelopeError> {
        let name = name.into();
        check_name(&name)?;
        let known = Name::of(&name);
        if known.is_context_attribute() || known == Name::Data {
            return Err(EnvelopeError::InvalidExtensionName {
                reason: format!("`{name}` is a CloudEvents attribute, not an extension"),
                name: name.into_owned(),
            });
        }
        if let ExtensionValue::String(s) = &value {
            check_chars(&name, s)?;
        }
        Ok(match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries_mut()[i].1, value)),
            Err(i) => {
                self.insert_at(i, (name, value));
                None
            }
        })
    }

    /// Remove an extension, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<ExtensionValue<'a>> {
        let i = self.position(name).ok()?;
        if !self.heap.is_empty() {
            return Some(self.heap.remove(i).1);
        }
        self.inline[i..self.len].rotate_left(1);
        self.len -= 1;
        Some(std::mem::replace(&mut self.inline[self.len], EMPTY).1)
    }
}

/// CloudEvents v1.0: names consist of lower-case letters `a`–`z` and digits
/// `0`–`9` only.
pub(crate) fn check_name(name: &str) -> Result<(), EnvelopeError> {
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        return Ok(());
    }
    let fixed: String = name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    let reason = if name.is_empty() {
        "the name is empty; extension names are 1 or more lower-case letters `a`-`z` and digits `0`-`9`".to_owned()
    } else if fixed.is_empty() {
        "extension names may only contain lower-case letters `a`-`z` and digits `0`-`9`".to_owned()
    } else {
        format!(
            "extension names may only contain lower-case letters `a`-`z` and digits `0`-`9`; \
             rename it, for example to `{fixed}`"
        )
    };
    Err(EnvelopeError::InvalidExtensionName { name: name.to_owned(), reason })
}

/// An extension's value: `null` is absent (`Ok(None)`); strings, booleans
/// and i32 integers (i64 when `int64`: the catalog declares the extension
/// so) are kept; anything else is rejected with the fix.
pub(crate) fn value<'a>(name: &str, member: Member<'a>, int64: bool) -> Result<Option<ExtensionValue<'a>>, EnvelopeError> {
    let invalid = |reason: String| EnvelopeError::InvalidExtensionValue { name: name.to_owned(), reason };
    match member {
        Member::Null => Ok(None),
        Member::Bool(b) => Ok(Some(ExtensionValue::Boolean(b))),
        Member::Str(s) => check_chars(name, &s).map(|()| Some(ExtensionValue::String(s))),
        Member::Int(i) if int64 || i32::try_from(i).is_ok() => Ok(Some(ExtensionValue::Integer(i))),
        Member::Int(i) => Err(out_of_range(name, i, false)),
        Member::BigInt(u) => Err(out_of_range(name, u, int64)),
        Member::Float => Err(invalid(
            "numbers with a fraction or exponent (`1.5`, `1.0`, `1e3`) are not allowed; \
             send a whole number such as `3`, or a string"
                .to_owned(),
        )),
        Member::Object if name == "extensions" => Err(invalid(
            "a nested `extensions` object is the pre-v1.0 layout; put each extension at the top level, \
             or turn on the catalog option `envelope.legacy_extensions_object`"
                .to_owned(),
        )),
        other => Err(invalid(format!("found {}; an extension value must be a string, a boolean or a 32-bit integer", other.kind()))),
    }
}

/// The error for an integer extension beyond 32 bits (64 for an `int64`
/// one).
fn out_of_range(name: &str, i: impl fmt::Display, int64: bool) -> EnvelopeError {
    let range = if int64 { "64-bit range -9223372036854775808..=9223372036854775807" } else { "32-bit range -2147483648..=2147483647" };
    EnvelopeError::InvalidExtensionValue {
        name: name.to_owned(),
        reason: format!("the integer {i} is outside the {range}; send it as a string"),
    }
}

/// The legacy `extensions` objects of one event, as the reader meets them
/// (it lifts their members in place): only the first fault counts, in
/// input order, as for any attribute.
#[derive(Default)]
pub(crate) struct Legacy {
    seen: bool,
    fault: Option<EnvelopeError>,
}

impl Legacy {
    /// One more `extensions` member: `Ok` if it was an object or `null`,
    /// else the JSON type it was.
    pub(crate) fn saw(&mut self, shape: Result<(), &'static str>) {
        if self.fault.is_none() {
            self.fault = if self.seen {
                // The object's own name vanishes once its members are
                // lifted, so the duplicate check after cannot see it twice.
                Some(EnvelopeError::DuplicateAttribute { attribute: "extensions".into() })
            } else {
                shape.err().map(|found| EnvelopeError::InvalidExtensionValue {
                    name: "extensions".into(),
                    reason: format!(
                        "found {found}; with the catalog option `envelope.legacy_extensions_object` on, \
                         `extensions` must be an object of extension attributes"
                    ),
                })
            };
        }
        self.seen = true;
    }

    /// The first fault, if any.
    pub(crate) fn fault(self) -> Option<EnvelopeError> {
        self.fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_string_encodings() {
        let s = |v: &'static str| ExtensionValue::String(Cow::Borrowed(v));
        assert_eq!(s("42").as_i32(), Some(42));
        assert_eq!(s("-7").as_i32(), Some(-7));
        assert_eq!(s("0").as_i32(), Some(0));
        assert_eq!(s("-0").as_i32(), Some(0));
        assert_eq!(s("2147483647").as_i32(), Some(i32::MAX));
        assert_eq!(s("-2147483648").as_i32(), Some(i32::MIN));
        for bad in ["042", "+1", " 1", "1 ", "2147483648", "", "-", "1.0", "1e3", "0x10", "٣"] {
            assert_eq!(s(bad).as_i32(), None, "{bad:?}");
        }
        assert_eq!(s("true").as_bool(), Some(true));
        assert_eq!(s("false").as_bool(), Some(false));
        assert_eq!(s("True").as_bool(), None);
        assert_eq!(s("1").as_bool(), None);
        assert_eq!(ExtensionValue::Integer(3).as_str(), None);
        assert_eq!(ExtensionValue::Integer(3).as_bool(), None);
        assert_eq!(ExtensionValue::Boolean(true).as_i32(), None);
        assert_eq!(s("x").as_str(), Some("x"));
        assert_eq!(ExtensionValue::Integer(-3).to_string(), "-3");
        // 64-bit: the text form too; `as_i32` says when a value does not fit.
        assert_eq!(s("9223372036854775807").as_i64(), Some(i64::MAX));
        assert_eq!(s("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(s("9223372036854775808").as_i64(), None);
        assert_eq!(s("2147483648").as_i64(), Some(2_147_483_648));
        assert_eq!(ExtensionValue::Integer(2_147_483_648).as_i32(), None);
        assert_eq!(ExtensionValue::Integer(-5).as_i32(), Some(-5));
    }

    #[test]
    fn names() {
        for ok in ["seq", "traceparent", "a1", "0", "abc123"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Seq", "trace_parent", "trace-parent", "naïve", "a b"] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_extension_name", "{bad}");
        }
        assert!(check_name("Trace_Parent").unwrap_err().to_string().contains("`traceparent`"));
    }

    /// Past the inline slots the entries move to the heap; order, lookups,
    /// removal and equality do not notice.
    #[test]
    fn collection_spills_past_inline_slots() {
        let names = ["f", "b", "e", "a", "d", "c"];
        let mut ext = Extensions::new();
        for (i, name) in names.iter().enumerate() {
            assert!(ext.insert(*name, ExtensionValue::Integer(i as i64)).unwrap().is_none());
            let mut sorted: Vec<&str> = names[..=i].to_vec();
            sorted.sort_unstable();
            assert_eq!(ext.iter().map(|(n, _)| n).collect::<Vec<_>>(), sorted, "after {name}");
            assert_eq!(ext.len(), i + 1);
        }
        assert_eq!(ext.get("d"), Some(&ExtensionValue::Integer(4)));
        assert_eq!(ext.remove("a"), Some(ExtensionValue::Integer(3)));
        assert_eq!(ext.remove("e"), Some(ExtensionValue::Integer(2)));
        assert_eq!(ext.remove("zz"), None);
        let mut inline = Extensions::new();
        for name in ["b", "c", "d", "f"] {
            inline.insert(name, ext.get(name).unwrap().clone()).unwrap();
        }
        assert_eq!(ext, inline, "the same entries, one on the heap, one inline");
        assert_eq!(format!("{ext:?}"), format!("{inline:?}"));
        assert_eq!(inline.remove("b"), Some(ExtensionValue::Integer(1)));
        assert_eq!(inline.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["c", "d", "f"]);
    }

    #[test]
    fn collection_is_sorted_and_checked() {
        let mut ext = Extensions::new();
        assert!(ext.insert("zeta", ExtensionValue::Integer(1)).unwrap().is_none());
        assert!(ext.insert("alpha", ExtensionValue::Boolean(true)).unwrap().is_none());
        assert_eq!(ext.insert("zeta", ExtensionValue::Integer(2)).unwrap(), Some(ExtensionValue::Integer(1)));
        assert_eq!(ext.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["alpha", "zeta"]);
        assert_eq!(ext.len(), 2);
        assert_eq!(ext.get("zeta"), Some(&ExtensionValue::Integer(2)));
        assert!(ext.insert("Bad", ExtensionValue::Integer(1)).is_err());
        assert!(ext.insert("id", ExtensionValue::Integer(1)).is_err());
        assert!(ext.insert("x", ExtensionValue::String("\u{7}".into())).is_err());
        assert_eq!(ext.remove("alpha"), Some(ExtensionValue::Boolean(true)));
        assert!(!ext.is_empty());
    }
}
