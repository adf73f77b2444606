//! The attribute and argument names the macros understand.

/// `#[cloud_event(...)]` arguments after the type string.
pub(crate) const VERSION: &str = "version";
pub(crate) const SUBJECT: &str = "subject";
pub(crate) const STREAM_KEY: &str = "stream_key";
pub(crate) const CRATE: &str = "crate";
pub(crate) const CLOUD_EVENT_ARGS: &[&str] = &[VERSION, SUBJECT, STREAM_KEY, CRATE];

/// The field attribute.
pub(crate) const HERALD: &str = "herald";
/// `#[herald(range(min = …, max = …))]`.
pub(crate) const RANGE: &str = "range";
pub(crate) const UNIQUE_ITEMS: &str = "unique_items";

/// `#[herald(...)]` keys and the JSON Schema keyword each sets, grouped by
/// the JSON type they apply to.
pub(crate) const NUMBER_RULES: &[(&str, &str)] = &[
    ("minimum", "minimum"),
    ("maximum", "maximum"),
    ("exclusive_minimum", "exclusiveMinimum"),
    ("exclusive_maximum", "exclusiveMaximum"),
    ("multiple_of", "multipleOf"),
];
pub(crate) const STRING_RULES: &[(&str, &str)] =
    &[("min_length", "minLength"), ("max_length", "maxLength"), ("pattern", "pattern"), ("format", "format")];
pub(crate) const ARRAY_RULES: &[(&str, &str)] = &[("min_items", "minItems"), ("max_items", "maxItems"), (UNIQUE_ITEMS, "uniqueItems")];
pub(crate) const OBJECT_RULES: &[(&str, &str)] = &[("min_properties", "minProperties"), ("max_properties", "maxProperties")];

/// String formats a `String` field may declare (checked by `validate()`).
pub(crate) const FORMATS: &[&str] = &["date", "time", "email", "hostname", "ipv4", "ipv6", "uri", "uri-reference"];

/// serde attributes.
pub(crate) const SERDE: &str = "serde";
