//! Validation errors and the checks generated `validate()` code calls.
//!
//! Typed deserialisation already enforces what Rust types can express
//! (required fields, JSON types, enums, uuid and date-time formats). The
//! generated [`Validate`] impls enforce the rest of the schema — numeric
//! bounds, `multipleOf`, string lengths and formats, array sizes and
//! uniqueness, property counts — through the functions in [`checks`].

use std::fmt;

use serde::Serialize;

/// One schema rule an instance broke.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationError {
    /// JSON pointer to the offending value, e.g. `/data/progress`.
    pub pointer: String,
    /// The JSON Schema keyword that failed (`maximum`, `format`, …).
    pub rule: &'static str,
    /// The offending value.
    pub value: serde_json::Value,
    /// What was wrong, for humans.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (rule `{}`)", self.pointer, self.message, self.rule)
    }
}

impl std::error::Error for ValidationError {}

/// A JSON pointer under construction while a value is walked.
///
/// Generated code pushes a segment before checking a member and pops it
/// after, so building a pointer costs nothing unless an error is recorded.
#[derive(Debug, Clone, Default)]
pub struct Pointer {
    path: String,
    marks: Vec<usize>,
}

impl Pointer {
    /// A pointer at `root` (`""` for the document, `"/data"` for event data).
    pub fn new(root: &str) -> Self {
        Pointer { path: root.to_string(), marks: Vec::new() }
    }

    /// Descend into an object member.
    pub fn push(&mut self, key: &str) {
        self.marks.push(self.path.len());
        self.path.push('/');
        // RFC 6901 escaping: `~` first, then `/`.
        for c in key.chars() {
            match c {
                '~' => self.path.push_str("~0"),
                '/' => self.path.push_str("~1"),
                c => self.path.push(c),
            }
        }
    }

    /// Descend into an array element.
    pub fn push_index(&mut self, index: usize) {
        use std::fmt::Write as _;
        self.marks.push(self.path.len());
        // Writing into the path itself: no temporary string per element.
        let _ = write!(self.path, "/{index}");
    }

    /// Start again at `root`, keeping the buffers.
    fn reset(&mut self, root: &str) {
        self.path.clear();
        self.path.push_str(root);
        self.marks.clear();
    }

    /// Go back up one level.
    pub fn pop(&mut self) {
        if let Some(len) = self.marks.pop() {
            self.path.truncate(len);
        }
    }

    /// The pointer as text.
    pub fn as_str(&self) -> &str {
        &self.path
    }
}

/// A box validates what it holds (a field `Box<Detail>` of a user's type).
impl<T: Validate + ?Sized> Validate for Box<T> {
    fn validate_into(&self, pointer: &mut Pointer, errors: &mut Vec<ValidationError>) {
        (**self).validate_into(pointer, errors);
    }
}

thread_local! {
    /// The pointer [`Validate::validate_at`] reuses.
    static SCRATCH: std::cell::Cell<Pointer> = std::cell::Cell::new(Pointer::default());
}

/// Implemented by generated data types: checks every schema rule that the
/// Rust type itself does not enforce.
pub trait Validate {
    /// Record every violation under `pointer` into `errors`.
    fn validate_into(&self, pointer: &mut Pointer, errors: &mut Vec<ValidationError>);

    /// Validate with pointers rooted at `root` (`""` or `"/data"`).
    fn validate_at(&self, root: &str) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        // One pointer per thread, reused: validating an event allocates
        // nothing unless it breaks a rule. (Taken, not borrowed, so a
        // nested call would simply get a fresh one.)
        SCRATCH.with(|cell| {
            let mut pointer = cell.take();
            pointer.reset(root);
            self.validate_into(&mut pointer, &mut errors);
            cell.set(pointer);
        });
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Validate with pointers relative to the value itself.
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        self.validate_at("")
    }
}

/// The checks generated code calls, one per JSON Schema keyword.
pub mod checks {
    use super::{Pointer, ValidationError};

    /// Numbers of every width, as generated code sees them.
    pub trait AsF64 {
        /// The value as `f64` (bounds are compared in `f64`, as in JSON).
        fn as_f64(&self) -> f64;
    }

    macro_rules! as_f64 {
        ($($t:ty),*) => {$(
            impl AsF64 for $t {
                #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
                fn as_f64(&self) -> f64 { *self as f64 }
            }
        )*};
    }
    as_f64!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

    macro_rules! nonzero_as_f64 {
        ($($t:ty),*) => {$(
            impl AsF64 for $t {
                #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
                fn as_f64(&self) -> f64 { self.get() as f64 }
            }
        )*};
    }
    nonzero_as_f64!(
        std::num::NonZeroU8,
        std::num::NonZeroU16,
        std::num::NonZeroU32,
        std::num::NonZeroU64,
        std::num::NonZeroI8,
        std::num::NonZeroI16,
        std::num::NonZeroI32,
        std::num::NonZeroI64
    );

    fn number_value(v: f64) -> serde_json::Value {
        // Integral values print as integers, as they were most likely sent.
        if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
            serde_json::Value::from(v as i64)
        } else {
            serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
    }

    fn push(p: &Pointer, errors: &mut Vec<ValidationError>, rule: &'static str, value: serde_json::Value, message: String) {
        errors.push(ValidationError { pointer: p.as_str().to_string(), rule, value, message });
    }

    /// `minimum`.
    pub fn minimum(p: &Pointer, e: &mut Vec<ValidationError>, v: &impl AsF64, min: f64) {
        let v = v.as_f64();
        if v < min {
            push(p, e, "minimum", number_value(v), format!("{v} is less than the minimum {min}"));
        }
    }

    /// `maximum`.
    pub fn maximum(p: &Pointer, e: &mut Vec<ValidationError>, v: &impl AsF64, max: f64) {
        let v = v.as_f64();
        if v > max {
            push(p, e, "maximum", number_value(v), format!("{v} is greater than the maximum {max}"));
        }
    }

    /// `exclusiveMinimum` (draft 2020-12: a number).
    pub fn exclusive_minimum(p: &Pointer, e: &mut Vec<ValidationError>, v: &impl AsF64, min: f64) {
        let v = v.as_f64();
        if v <= min {
            push(p, e, "exclusiveMinimum", number_value(v), format!("{v} must be greater than {min}"));
        }
    }

    /// `exclusiveMaximum` (draft 2020-12: a number).
    pub fn exclusive_maximum(p: &Pointer, e: &mut Vec<ValidationError>, v: &impl AsF64, max: f64) {
        let v = v.as_f64();
        if v >= max {
            push(p, e, "exclusiveMaximum", number_value(v), format!("{v} must be less than {max}"));
        }
    }

    /// `multipleOf`.
    pub fn multiple_of(p: &Pointer, e: &mut Vec<ValidationError>, v: &impl AsF64, m: f64) {
        let v = v.as_f64();
        if !is_multiple_of(v, m) {
            push(p, e, "multipleOf", number_value(v), format!("{v} is not a multiple of {m}"));
        }
    }

    /// Whether `v` is a multiple of `m`, tolerant of binary float error
    /// (`0.3` is a multiple of `0.1`).
    pub fn is_multiple_of(v: f64, m: f64) -> bool {
        if m.fract() == 0.0 && v.fract() == 0.0 {
            return v % m == 0.0;
        }
        let q = v / m;
        (q - q.round()).abs() < 1e-9 * q.abs().max(1.0)
    }

    /// `minLength` (in Unicode code points, as JSON Schema counts).
    pub fn min_length(p: &Pointer, e: &mut Vec<ValidationError>, s: &str, n: u64) {
        let len = s.chars().count() as u64;
        if len < n {
            push(p, e, "minLength", s.into(), format!("string of {len} characters is shorter than the minimum length {n}"));
        }
    }

    /// `maxLength`.
    pub fn max_length(p: &Pointer, e: &mut Vec<ValidationError>, s: &str, n: u64) {
        let len = s.chars().count() as u64;
        if len > n {
            push(p, e, "maxLength", s.into(), format!("string of {len} characters is longer than the maximum length {n}"));
        }
    }

    /// `pattern` (ECMA 262 regular expression, unanchored).
    pub fn pattern(p: &Pointer, e: &mut Vec<ValidationError>, s: &str, re: &regress::Regex, source: &str) {
        if re.find(s).is_none() {
            push(p, e, "pattern", s.into(), format!("string does not match the pattern `{source}`"));
        }
    }

    /// `format` for the formats Herald checks; unknown formats pass, as
    /// JSON Schema says they should.
    pub fn format(p: &Pointer, e: &mut Vec<ValidationError>, s: &str, format: &str) {
        if crate::formats::check(format, s) == Some(false) {
            push(p, e, "format", s.into(), format!("string is not a valid `{format}`"));
        }
    }

    /// `minItems`.
    pub fn min_items(p: &Pointer, e: &mut Vec<ValidationError>, len: usize, n: u64) {
        if (len as u64) < n {
            push(p, e, "minItems", len.into(), format!("array has {len} items, fewer than the minimum {n}"));
        }
    }

    /// `maxItems`.
    pub fn max_items(p: &Pointer, e: &mut Vec<ValidationError>, len: usize, n: u64) {
        if (len as u64) > n {
            push(p, e, "maxItems", len.into(), format!("array has {len} items, more than the maximum {n}"));
        }
    }

    /// `minProperties`.
    pub fn min_properties(p: &Pointer, e: &mut Vec<ValidationError>, len: usize, n: u64) {
        if (len as u64) < n {
            push(p, e, "minProperties", len.into(), format!("object has {len} properties, fewer than the minimum {n}"));
        }
    }

    /// `maxProperties`.
    pub fn max_properties(p: &Pointer, e: &mut Vec<ValidationError>, len: usize, n: u64) {
        if (len as u64) > n {
            push(p, e, "maxProperties", len.into(), format!("object has {len} properties, more than the maximum {n}"));
        }
    }

    /// `uniqueItems`: items are compared as JSON values, so `1` and `1.0`
    /// are equal, as JSON Schema requires.
    pub fn unique_items<'a, T: serde::Serialize + 'a>(p: &Pointer, e: &mut Vec<ValidationError>, items: impl IntoIterator<Item = &'a T>) {
        let values: Vec<serde_json::Value> =
            items.into_iter().map(|i| serde_json::to_value(i).unwrap_or(serde_json::Value::Null)).collect();
        for i in 0..values.len() {
            for j in (i + 1)..values.len() {
                if json_eq(&values[i], &values[j]) {
                    push(p, e, "uniqueItems", values[j].clone(), format!("items {i} and {j} are equal; items must be unique"));
                    return;
                }
            }
        }
    }

    /// `const`: the value must equal the constant (given as JSON text).
    pub fn constant<T: serde::Serialize + ?Sized>(p: &Pointer, e: &mut Vec<ValidationError>, v: &T, expected: &str) {
        let value = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        let want: serde_json::Value = serde_json::from_str(expected).unwrap_or(serde_json::Value::Null);
        if !json_eq(&value, &want) {
            push(p, e, "const", value, format!("value must be {expected}"));
        }
    }

    /// JSON equality with numbers compared by value.
    fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) => x.as_f64() == y.as_f64(),
            (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
            (V::Object(x), V::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
            _ => a == b,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn bounds_record_pointer_rule_and_value() {
            let mut p = Pointer::new("/data");
            p.push("progress");
            let mut e = Vec::new();
            maximum(&p, &mut e, &1.5f64, 1.0);
            minimum(&p, &mut e, &0.5f64, 0.0);
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].pointer, "/data/progress");
            assert_eq!(e[0].rule, "maximum");
            assert_eq!(e[0].value, serde_json::json!(1.5));
            p.pop();
            assert_eq!(p.as_str(), "/data");
        }

        #[test]
        fn pointer_escapes_segments() {
            let mut p = Pointer::new("");
            p.push("a/b~c");
            p.push_index(3);
            assert_eq!(p.as_str(), "/a~1b~0c/3");
        }

        #[test]
        fn multiple_of_tolerates_float_error() {
            assert!(is_multiple_of(0.3, 0.1));
            assert!(is_multiple_of(10.0, 2.5));
            assert!(!is_multiple_of(0.35, 0.1));
            assert!(!is_multiple_of(7.0, 2.0));
        }

        #[test]
        fn unique_items_compares_numbers_by_value() {
            let p = Pointer::new("");
            let mut e = Vec::new();
            unique_items(&p, &mut e, &[serde_json::json!(1), serde_json::json!(1.0)]);
            assert_eq!(e.len(), 1);
            let mut e = Vec::new();
            unique_items(&p, &mut e, ["a", "b"].iter());
            assert!(e.is_empty());
        }

        #[test]
        fn lengths_count_code_points() {
            let p = Pointer::new("");
            let mut e = Vec::new();
            max_length(&p, &mut e, "ééé", 3);
            min_length(&p, &mut e, "😀", 1);
            assert!(e.is_empty());
            max_length(&p, &mut e, "ééé", 2);
            assert_eq!(e[0].rule, "maxLength");
        }
    }
}
