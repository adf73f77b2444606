//! One Python module of pydantic v2 models for a catalog.
//!
//! Per event type (`ai.myfeature.started` → `MyfeatureStarted`): the data
//! model `MyfeatureStartedData` and the envelope model
//! `MyfeatureStartedEvent`; then `Event` (the union of the envelopes),
//! `EVENT_TYPES` and `DATA_MODELS` (by CloudEvents `type`),
//! `parse_event(bytes | str | dict)`, which returns the typed event or
//! raises `EventError` with the JSON pointer of the first failure
//! (`/data/progress`), and `build_event(data, source=…)`, which gives
//! producers a valid envelope (fresh `id`, `time` now, `subject` filled from
//! the type's template, extensions such as `seq` by keyword).
//!
//! Models are strict, as Herald's decoding is: `"1"` is not an integer,
//! `1.0` is not an integer, `0` is not a boolean, and an optional property
//! is left out, never `null`. Formatted strings stay `str` (checked as
//! Herald checks them), so a value round-trips exactly. The module passes
//! `mypy --strict`.

use std::fmt::Write as _;

use heck::ToUpperCamelCase;
use serde_json::Value;

use super::Options;
use super::shape::{Additional, DataShape, NumberRules, ObjectShape, Shape, StringRules, doc_line, quote};
use crate::ir::{Catalog, ExtensionKind};

/// The module's text.
pub fn export(catalog: &Catalog, options: &Options) -> String {
    let mut out = super::header("#", catalog, options);
    let _ = write!(out, "\"\"\"Pydantic v2 models of the `{}` event catalog and its CloudEvents envelope.\"\"\"\n\n", catalog.prefix);
    out.push_str(PRELUDE);
    let base_at = out.len();
    let mut unions = false;
    for event in &catalog.events {
        let name = event.rust_name();
        let data = DataShape::of(&event.schema);
        let mut w = Writer { prefix: name.clone(), classes: Vec::new(), unions: false };
        for (def, shape) in &data.defs {
            let ty = w.shape(shape, &format!("{name}{def}"), &format!("`{def}`, a definition of the data of `{}`.", event.type_name));
            if !matches!(shape, Shape::Object(o) if !o.is_map()) {
                w.classes.push(format!("{name}{def} = {ty}\n\"\"\"`{def}`, a definition of `{}`'s data.\"\"\"\n", event.type_name));
            }
        }
        let mut class = w.class(&format!("{name}Data"), &data.root, "EventData", &event.description);
        let subject = event.subject.as_deref().map_or_else(|| "None".to_string(), quote);
        let _ =
            write!(class, "\n    EVENT_TYPE: ClassVar[str] = {}\n    SUBJECT: ClassVar[str | None] = {subject}\n", quote(&event.type_name));
        w.classes.push(class);
        unions |= w.unions;
        for c in w.classes {
            out.push_str("\n\n");
            out.push_str(&c);
        }
    }
    if unions {
        out.insert_str(base_at, VARIANT_BASE);
    }
    envelope(catalog, &mut out);
    out
}

/// The base of a tagged union's branch models, in a module that has any.
const VARIANT_BASE: &str = r#"

class HeraldVariant(BaseModel):
    """A branch of a tagged union: strict as `HeraldModel`, its `null` check on the whole object (pydantic allows no field validator on the tag)."""

    model_config = ConfigDict(strict=True, extra="allow", serialize_by_alias=True, validate_by_name=True)
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if name not in cls.NULLABLE and value.get(key, 0) is None:
                    raise ValueError(f"{key}: null is not a value here; leave the property out instead")
        return value
"#;

/// Helpers every module has: the strict base models and the format checks.
const PRELUDE: &str = r#"from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal, Union, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)


class HeraldModel(BaseModel):
    """Strict, as Herald decodes: no coercion between JSON types, no `null` for a value."""

    model_config = ConfigDict(strict=True, extra="allow", serialize_by_alias=True, validate_by_name=True)
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("null is not a value here; leave the property out instead")
        return value


class EventData(HeraldModel):
    """The data of an event type."""

    EVENT_TYPE: ClassVar[str]
    SUBJECT: ClassVar[str | None]


def _leap_year(y: int) -> bool:
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


def _is_date(s: str) -> bool:
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", s)
    if not m:
        return False
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    days = [31, 29 if _leap_year(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


def _is_time(s: str) -> bool:
    m = re.fullmatch(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))", s)
    if not m:
        return False
    hour, minute, second = int(m[1]), int(m[2]), int(m[3])
    oh, om = int(m[5] or 0), int(m[6] or 0)
    if hour > 23 or minute > 59 or second > 60 or oh > 23 or om > 59:
        return False
    offset = (-1 if m[4] == "-" else 1) * (oh * 60 + om)
    return second < 60 or (hour * 60 + minute - offset) % 1440 == 23 * 60 + 59


def _is_hostname(s: str) -> bool:
    label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    return 0 < len(s) <= 253 and all(re.fullmatch(label, part) for part in s.split("."))


def _is_ip(s: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(s)
    except ValueError:
        return False
    return address.version == version and "%" not in s


def _display_separator(s: str) -> int:
    """The last ` <` outside a quoted string: where a display name ends (-1: none)."""
    in_quote, escaped, found = False, False, -1
    for i, c in enumerate(s):
        if not in_quote and s.startswith(" <", i):
            found = i
        if escaped:
            escaped = False
        elif in_quote and c == "\\":
            escaped = True
        elif c == '"':
            in_quote = not in_quote
    return found


def _is_local_part(local: str) -> bool:
    size = len(local.encode())
    if size == 0 or size > 64:
        return False
    if size >= 2 and local.startswith('"') and local.endswith('"'):
        if size == 2:
            return False
        chars = iter(local[1:-1])
        for c in chars:
            if c == "\\":
                e = next(chars, None)
                if e is None or not "\x21" <= e <= "\x7e":
                    return False
            elif not (c in " \t" or ("\x21" <= c <= "\x7e" and c != '"') or c > "\x7f"):
                return False
        return True
    return all(re.fullmatch(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]+", atom) for atom in local.split("."))


def _is_email(s: str) -> bool:
    sep = _display_separator(s)
    email = s
    if sep >= 0:
        rest = s[sep + 2 :].strip()
        if not rest.endswith(">"):
            return False
        email = rest[:-1]
    display = s[:sep].strip() if sep >= 0 else ""
    local, at, domain = email.rpartition("@")
    if not at or (not display and local.startswith("<")) or not _is_local_part(local):
        return False
    if not domain or len(domain.encode()) > 254:
        return False
    if len(domain) >= 2 and domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        return _is_ip(literal[5:], 6) if literal.startswith("IPv6:") else _is_ip(literal, 4)
    return _is_hostname(domain)


_URI_CHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*"

_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": lambda s: len(s) > 11 and s[10] in "Tt" and _is_date(s[:10]) and _is_time(s[11:]),
    "date": _is_date,
    "time": _is_time,
    "uuid": lambda s: re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", s) is not None,
    "hostname": _is_hostname,
    "ipv4": lambda s: _is_ip(s, 4),
    "ipv6": lambda s: _is_ip(s, 6),
    "email": _is_email,
    "uri": lambda s: re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:" + _URI_CHARS, s) is not None,
    "uri-reference": lambda s: re.fullmatch(_URI_CHARS, s) is not None,
}
_FORMATS["utc-date-time"] = lambda s: _FORMATS["date-time"](s) and s[-1:] in ("Z", "z")
"""`offset: utc-only`: a date-time written in UTC with `Z`."""


def _format(name: str) -> AfterValidator:
    """A check of the string format `name`, as Herald's `validate()` does it."""
    check = _FORMATS[name]

    def validate(value: str) -> str:
        if not check(value):
            raise ValueError(f"not a valid {name}")
        return value

    return AfterValidator(validate)


def _unique(items: list[Any]) -> list[Any]:
    seen = [json.dumps(item, sort_keys=True) for item in items]
    if len(set(seen)) != len(seen):
        raise ValueError("items must be unique")
    return items
"#;

/// The envelope models and the functions over them.
fn envelope(catalog: &Catalog, out: &mut String) {
    out.push_str(ENVELOPE);
    let rules = &catalog.envelope;
    let mut declared = String::new();
    let mut params = String::new();
    let mut fields = String::new();
    let mut nullable: Vec<&str> = ["datacontenttype", "dataschema", "subject", "time"].into_iter().filter(|a| !rules.requires(a)).collect();
    for ext in &catalog.extensions {
        let (ty, plain) = match ext.kind {
            ExtensionKind::String => ("str", "str"),
            ExtensionKind::Boolean => ("BooleanExtension", "bool"),
            ExtensionKind::Integer if rules.is_int64(&ext.name) => ("Int64Extension", "int"),
            ExtensionKind::Integer => ("Int32Extension", "int"),
        };
        let _ = writeln!(declared, "    {}: {ty} | None = None\n    \"\"\"{}\"\"\"", ext.name, doc_line(&ext.description));
        let _ = writeln!(params, "    {}: {plain} | None = None,", ext.name);
        let _ = writeln!(fields, "        {}: {},", quote(&ext.name), ext.name);
        nullable.push(&ext.name);
    }
    let extension_names: Vec<String> = catalog.extensions.iter().map(|e| quote(&e.name)).collect();
    if catalog.envelope.legacy_extensions_object {
        out.push_str("\n\nclass LegacyExtensions(Attributes):\n");
        out.push_str(
            "    \"\"\"Extensions nested the legacy way (`\"extensions\": {…}`); read as if they were top-level attributes.\"\"\"\n\n",
        );
        out.push_str("    __pydantic_extra__: dict[str, ExtensionValue | None] = Field(init=False)\n");
        let _ = writeln!(out, "    NULLABLE: ClassVar[frozenset[str]] = frozenset({{{}}})\n", extension_names.join(", "));
        out.push_str(&declared);
        nullable.push("extensions");
    }
    nullable.sort_unstable();
    let nullable: Vec<String> = nullable.iter().map(|n| quote(n)).collect();
    out.push_str("\n\nclass CloudEventBase(Attributes):\n");
    out.push_str("    \"\"\"The CloudEvents v1.0 attributes shared by every event, with the catalog's extensions.\n\n");
    out.push_str("    `null` stands for an absent optional attribute, as in Herald.\n    \"\"\"\n\n");
    out.push_str("    __pydantic_extra__: dict[str, ExtensionValue | None] = Field(init=False)\n");
    let _ = writeln!(out, "    NULLABLE: ClassVar[frozenset[str]] = frozenset({{{}}})\n", nullable.join(", "));
    out.push_str("    specversion: Literal[\"1.0\"]\n");
    out.push_str("    id: Annotated[str, Field(min_length=1)]\n");
    out.push_str("    source: Annotated[str, Field(min_length=1)]\n");
    // `envelope.required` attributes have no default and take no `null`.
    let presence = |attribute: &str| if rules.requires(attribute) { "" } else { " | None = None" };
    let media = match &rules.datacontenttype {
        Some(ct) => format!("_media_type({})", quote(ct)),
        None => "_json_media_type".to_string(),
    };
    let _ = writeln!(out, "    subject: Annotated[str, Field(min_length=1)]{}", presence("subject"));
    let _ = writeln!(out, "    time: Annotated[str, _format(\"date-time\")]{}", presence("time"));
    let _ = writeln!(out, "    datacontenttype: Annotated[str, AfterValidator({media})]{}", presence("datacontenttype"));
    let _ = writeln!(out, "    dataschema: Annotated[str, _format(\"uri\")]{}", presence("dataschema"));
    out.push_str(&declared);
    if catalog.envelope.legacy_extensions_object {
        out.push_str("    extensions: LegacyExtensions | None = None\n");
    }
    if rules.subject_matches_template {
        out.push_str(SUBJECT_CHECK);
    }

    let mut names = Vec::new();
    for event in &catalog.events {
        let name = event.rust_name();
        let _ = write!(
            out,
            "\n\nclass {name}Event(CloudEventBase):\n    \"\"\"A whole `{}` event.\"\"\"\n\n    type: Literal[{}]\n    data: {name}Data\n",
            event.type_name,
            quote(&event.type_name)
        );
        names.push((event.type_name.clone(), name));
    }

    out.push_str("\n\nEvent = Union[\n");
    for (_, name) in &names {
        let _ = writeln!(out, "    {name}Event,");
    }
    out.push_str("]\n\"\"\"Any event of the catalog.\"\"\"\n\n");
    out.push_str("EVENT_TYPES: dict[str, type[CloudEventBase]] = {\n");
    for (ty, name) in &names {
        let _ = writeln!(out, "    {}: {name}Event,", quote(ty));
    }
    out.push_str("}\n\"\"\"The envelope model of every event type, by CloudEvents `type`.\"\"\"\n\n");
    out.push_str("DATA_MODELS: dict[str, type[EventData]] = {\n");
    for (ty, name) in &names {
        let _ = writeln!(out, "    {}: {name}Data,", quote(ty));
    }
    out.push_str("}\n\"\"\"The data model of every event type, by CloudEvents `type`.\"\"\"\n");
    out.push_str(FUNCTIONS);
    let _ = write!(
        out,
        r#"

def build_event(
    data: EventData,
    *,
    source: str,
    id: str | None = None,
    time: str | None = None,
    subject: str | None = None,
{params}) -> Event:
    """A valid event carrying `data`, for producers.

    `id` defaults to a fresh UUID, `time` to now (UTC), and `subject` to the
    type's template filled from `data` (`run/{{run_id}}`).
    """
    payload = data.model_dump(mode="json", exclude_unset=True)
    if subject is None and data.SUBJECT is not None:
        subject = data.SUBJECT.format_map(payload)
    fields: dict[str, Any] = {{
        "specversion": "1.0",
        "id": id if id is not None else str(uuid.uuid4()),
        "source": source,
        "type": data.EVENT_TYPE,
        "time": time if time is not None else datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "subject": subject,
{fields}        "data": payload,
    }}
    return parse_event({{k: v for k, v in fields.items() if v is not None}})
"#
    );
}

/// What the envelope models use.
const ENVELOPE: &str = r#"

def _int_text(value: Any) -> Any:
    """The canonical decimal text of an integer (as binary mode sends it), as the integer."""
    if isinstance(value, str):
        if not re.fullmatch(r"-?(0|[1-9][0-9]*)", value):
            raise ValueError("not an integer")
        return int(value)
    return value


def _bool_text(value: Any) -> Any:
    """`"true"` and `"false"` (as binary mode sends them), as booleans."""
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("not a boolean")
        return value == "true"
    return value


def _media_type(expected: str) -> Callable[[str], str]:
    """A check that a media type is `expected` (case-insensitive, parameters allowed)."""

    def validate(value: str) -> str:
        if value.split(";")[0].strip().lower() != expected:
            raise ValueError(f"expected {expected}")
        return value

    return validate


def _json_media_type(value: str) -> str:
    """A JSON media type (`application/json`, `text/json`, `...+json`), case-insensitive, parameters allowed."""
    essence = value.split(";")[0].strip().lower()
    if not (essence in ("application/json", "text/json") or essence.endswith("+json")):
        raise ValueError("not a JSON media type")
    return value


Int32Extension = Annotated[int, BeforeValidator(_int_text), Field(ge=-(2**31), le=2**31 - 1)]
"""A 32-bit integer extension: a JSON integer, or its canonical decimal text."""

BooleanExtension = Annotated[bool, BeforeValidator(_bool_text)]
"""A boolean extension: `true` or `false`, or their text."""

ExtensionValue = Union[str, bool, Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]]
"""An undeclared extension: a string, a boolean or a 32-bit integer."""

Int64Extension = Annotated[int, BeforeValidator(_int_text), Field(ge=-(2**63), le=2**63 - 1)]
"""A 64-bit integer extension (`format: int64`): a JSON integer, or its canonical decimal text."""


class SubjectMismatch(Exception):
    """`subject` is not the type's template filled from `data`.

    Not a `ValueError`, so pydantic lets it through and `parse_event` can
    point at `/subject`.
    """

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"subject {found!r} is not the template filled from data, {expected!r}")
        self.expected = expected
        self.found = found


class Attributes(HeraldModel):
    """CloudEvents attributes: their names are lower-case ASCII letters and digits."""

    @model_validator(mode="before")
    @classmethod
    def _attribute_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if not (isinstance(key, str) and re.fullmatch("[a-z0-9]+", key)):
                    raise ValueError(f"attribute name {key!r} is not lower-case letters and digits")
        return value
"#;

/// `envelope.subject_matches_template`: the check on every envelope.
const SUBJECT_CHECK: &str = r#"
    @model_validator(mode="after")
    def _subject_matches_template(self) -> CloudEventBase:
        """`subject`, when sent, is the type's template filled from `data`."""
        data = getattr(self, "data", None)
        if self.subject is not None and isinstance(data, EventData) and data.SUBJECT is not None:
            expected = data.SUBJECT.format_map(data.model_dump(mode="json", by_alias=True))
            if self.subject != expected:
                raise SubjectMismatch(expected, self.subject)
        return self
"#;

const FUNCTIONS: &str = r#"

class EventError(ValueError):
    """An event that is not valid; `pointer` is the JSON pointer of the first failure (`/data/progress`)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.message = message


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def _first_error(error: ValidationError, prefix: str) -> EventError:
    first = error.errors()[0]
    return EventError(prefix + _pointer(first["loc"]), first["msg"])


def parse_data(event_type: str, data: Any) -> EventData:
    """Validate the `data` of an event of type `event_type`; raises `EventError` (pointer under `/data`)."""
    model = DATA_MODELS.get(event_type)
    if model is None:
        raise EventError("/type", f"unknown event type {event_type!r}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _first_error(e, "/data") from None


def parse_event(raw: bytes | str | dict[str, Any]) -> Event:
    """Parse and validate a structured-mode event; raises `EventError` with the JSON pointer of the failure."""
    if isinstance(raw, (bytes, str)):
        try:
            value = json.loads(raw)
        except ValueError as e:
            raise EventError("", f"not JSON: {e}") from None
    else:
        value = raw
    if not isinstance(value, dict):
        raise EventError("", "an event is a JSON object")
    kind = value.get("type")
    model = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise EventError("/type", f"unknown event type {kind!r}")
    try:
        return cast(Event, model.model_validate(value))
    except ValidationError as e:
        raise _first_error(e, "") from None
    except SubjectMismatch as e:
        raise EventError("/subject", str(e)) from None
"#;

struct Writer {
    /// The class-name prefix of nested models (the event's name).
    prefix: String,
    /// Classes and aliases written so far, dependencies first.
    classes: Vec<String>,
    /// Whether a tagged union was written (its branches need `HeraldVariant`).
    unions: bool,
}

impl Writer {
    /// A model class for an object with properties.
    fn class(&mut self, name: &str, o: &ObjectShape, base: &str, doc: &str) -> String {
        let mut body = String::new();
        let mut nullable = Vec::new();
        for p in &o.properties {
            let (field, alias) = field_name(&p.name);
            let hint = self.shape(&p.shape, &format!("{name}{}", p.name.to_upper_camel_case()), &format!("The `{}` of `{name}`.", p.name));
            if matches!(p.shape, Shape::Any) {
                nullable.push(quote(&field));
            }
            let alias = alias.map(|a| format!("alias={a}"));
            let value = match (p.required, alias) {
                (true, None) => String::new(),
                (true, Some(a)) => format!(" = Field({a})"),
                (false, None) => " = None".to_string(),
                (false, Some(a)) => format!(" = Field(default=None, {a})"),
            };
            let hint = if p.required { hint } else { format!("{hint} | None") };
            let _ = writeln!(body, "    {field}: {hint}{value}");
            if let Some(d) = &p.description {
                let _ = writeln!(body, "    \"\"\"{}\"\"\"", doc_line(d).replace("\"\"\"", "\\\"\\\"\\\""));
            }
        }
        let mut class = format!("class {name}({base}):\n    \"\"\"{}\"\"\"\n\n", doc_line(doc).replace("\"\"\"", "'''"));
        let extra = match &o.additional {
            Additional::Any => None,
            Additional::Forbidden => Some("    model_config = ConfigDict(extra=\"forbid\")\n".to_string()),
            Additional::Schema(values) => {
                let hint = self.shape(values, &format!("{name}Value"), &format!("A value of an undeclared property of `{name}`."));
                Some(format!("    __pydantic_extra__: dict[str, {hint}] = Field(init=False)\n"))
            }
        };
        if let Some(extra) = extra {
            class.push_str(&extra);
        }
        if !nullable.is_empty() {
            let _ = writeln!(class, "    NULLABLE: ClassVar[frozenset[str]] = frozenset({{{}}})", nullable.join(", "));
        }
        class.push_str(&body);
        let count = match (o.min_properties, o.max_properties) {
            (Some(lo), Some(hi)) => Some(format!("{lo} <= len(value) <= {hi}")),
            (Some(lo), None) => Some(format!("len(value) >= {lo}")),
            (None, Some(hi)) => Some(format!("len(value) <= {hi}")),
            (None, None) => None,
        };
        if let Some(count) = count {
            let _ = write!(
                class,
                "\n    @model_validator(mode=\"before\")\n    @classmethod\n    def _property_count(cls, value: Any) -> Any:\n        if isinstance(value, dict) and not {count}:\n            raise ValueError(\"wrong number of properties ({count})\")\n        return value\n"
            );
        }
        if body.is_empty() && class.ends_with("\n\n") {
            class.push_str("    pass\n");
        }
        class
    }

    /// The type hint for `shape`; nested objects become classes named `name`.
    /// `what` describes the place, the doc of a class made for it.
    fn shape(&mut self, shape: &Shape, name: &str, what: &str) -> String {
        match shape {
            Shape::String(rules) => string(rules),
            Shape::Number(rules) => number(rules),
            Shape::Boolean => "bool".to_string(),
            Shape::Array { items, min_items, max_items, unique } => {
                let inner = self.shape(items, &format!("{name}Item"), &format!("An item of: {}", what.to_lowercase()));
                let mut args = Vec::new();
                if let Some(n) = min_items {
                    args.push(format!("min_length={n}"));
                }
                if let Some(n) = max_items {
                    args.push(format!("max_length={n}"));
                }
                let mut metadata = Vec::new();
                if !args.is_empty() {
                    metadata.push(format!("Field({})", args.join(", ")));
                }
                if *unique {
                    metadata.push("AfterValidator(_unique)".to_string());
                }
                annotated(format!("list[{inner}]"), metadata)
            }
            Shape::Object(o) if o.is_map() => match &o.additional {
                Additional::Schema(values) => {
                    format!("dict[str, {}]", self.shape(values, &format!("{name}Value"), &format!("A value of: {}", what.to_lowercase())))
                }
                Additional::Any => "dict[str, JsonValue]".to_string(),
                Additional::Forbidden => {
                    let class = self.class(name, o, "HeraldModel", what);
                    self.classes.push(class);
                    name.to_string()
                }
            },
            Shape::Object(o) => {
                let doc = o.description.clone().unwrap_or_else(|| what.to_string());
                let class = self.class(name, o, "HeraldModel", &doc);
                self.classes.push(class);
                name.to_string()
            }
            Shape::Const(v) => match v {
                Value::String(s) => format!("Literal[{}]", quote(s)),
                Value::Bool(b) => format!("Literal[{}]", if *b { "True" } else { "False" }),
                Value::Number(n) if n.is_i64() || n.is_u64() => format!("Literal[{n}]"),
                _ => "JsonValue".to_string(),
            },
            Shape::Any => "JsonValue".to_string(),
            Shape::Ref(def) => format!("{}{def}", self.prefix),
            // A model per branch (`{name}{Variant}`, the Rust variant's
            // name), told apart by pydantic on the tag.
            Shape::Union(u) => {
                self.unions = true;
                let variants: Vec<String> = u
                    .branches
                    .iter()
                    .map(|(value, o)| {
                        let class_name = format!("{name}{}", crate::ident::variant_name(value));
                        let doc = o.description.clone().unwrap_or_else(|| format!("{what} (`{}` = {})", u.tag, quote(value)));
                        let class = self.class(&class_name, o, "HeraldVariant", &doc);
                        self.classes.push(class);
                        class_name
                    })
                    .collect();
                let (tag, _) = field_name(&u.tag);
                format!("Annotated[Union[{}], Field(discriminator={})]", variants.join(", "), quote(&tag))
            }
        }
    }
}

fn string(rules: &StringRules) -> String {
    if let Some(values) = &rules.values {
        let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
        return format!("Literal[{}]", list.join(", "));
    }
    let mut args = Vec::new();
    if let Some(n) = rules.min_length {
        args.push(format!("min_length={n}"));
    }
    if let Some(n) = rules.max_length {
        args.push(format!("max_length={n}"));
    }
    if let Some(p) = &rules.pattern {
        args.push(format!("pattern={}", quote(p)));
    }
    let mut metadata = Vec::new();
    if !args.is_empty() {
        metadata.push(format!("Field({})", args.join(", ")));
    }
    if let Some(f) = &rules.format {
        let f = if rules.utc_only && f == "date-time" { "utc-date-time" } else { f };
        metadata.push(format!("_format({})", quote(f)));
    }
    annotated("str".to_string(), metadata)
}

fn number(rules: &NumberRules) -> String {
    let args: Vec<String> = rules.bounds(["ge", "le", "gt", "lt", "multiple_of"]).map(|(name, bound)| format!("{name}={bound}")).collect();
    let base = if rules.integer { "int" } else { "float" };
    if args.is_empty() { base.to_string() } else { annotated(base.to_string(), vec![format!("Field({})", args.join(", "))]) }
}

fn annotated(base: String, metadata: Vec<String>) -> String {
    if metadata.is_empty() { base } else { format!("Annotated[{base}, {}]", metadata.join(", ")) }
}

/// The Python attribute for a JSON property, and the alias when they differ.
fn field_name(name: &str) -> (String, Option<String>) {
    const RESERVED: &[&str] = &[
        "False",
        "None",
        "True",
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "yield",
        "json",
        "copy",
        "dict",
        "schema",
        "construct",
        "validate",
        "fields",
        "NULLABLE",
        "EVENT_TYPE",
        "SUBJECT",
    ];
    let mut ident: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) || ident.starts_with('_') {
        ident = format!("f_{ident}");
    }
    if RESERVED.contains(&ident.as_str()) || ident.starts_with("model_") {
        ident.push('_');
    }
    if ident == name { (ident, None) } else { (ident, Some(quote(name))) }
}
