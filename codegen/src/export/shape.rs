//! A typed view of an event's data schema (Herald's JSON Schema subset), so
//! the TypeScript and Python exporters read the same structure instead of
//! each walking `serde_json::Value`s.

use serde_json::{Map, Number, Value};

/// One schema node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// `type: string`, with its rules.
    String(StringRules),
    /// `type: number` or `type: integer`.
    Number(NumberRules),
    /// `type: boolean`.
    Boolean,
    /// `type: array`.
    Array { items: Box<Shape>, min_items: Option<u64>, max_items: Option<u64>, unique: bool },
    /// `type: object`.
    Object(ObjectShape),
    /// `const`: exactly this JSON value.
    Const(Value),
    /// `{}`: any JSON value.
    Any,
    /// `$ref: "#/$defs/Name"`.
    Ref(String),
    /// A tagged union (`tagged.rs`): a `oneOf` of objects told apart by
    /// their tag property.
    Union(UnionShape),
}

/// A tagged union's branches, each an object whose tag property is its
/// constant value ([`Shape::Const`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnionShape {
    /// The tag property's JSON name.
    pub(crate) tag: String,
    /// Tag value → the branch's object, in declared order.
    pub(crate) branches: Vec<(String, ObjectShape)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StringRules {
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) pattern: Option<String>,
    pub(crate) format: Option<String>,
    /// `offset: utc-only` on a `date-time`: only `Z` (or `z`) as the offset.
    pub(crate) utc_only: bool,
    /// `enum` values (Herald's enums are of strings).
    pub(crate) values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NumberRules {
    pub(crate) integer: bool,
    pub(crate) minimum: Option<Number>,
    pub(crate) maximum: Option<Number>,
    pub(crate) exclusive_minimum: Option<Number>,
    pub(crate) exclusive_maximum: Option<Number>,
    pub(crate) multiple_of: Option<Number>,
}

impl NumberRules {
    /// The rules that are set, each with the name `names` gives it, in the
    /// order minimum, maximum, exclusive minimum, exclusive maximum,
    /// `multipleOf` (each language names them its own way).
    pub(crate) fn bounds<'r>(&'r self, names: [&'static str; 5]) -> impl Iterator<Item = (&'static str, &'r Number)> + 'r {
        let values = [&self.minimum, &self.maximum, &self.exclusive_minimum, &self.exclusive_maximum, &self.multiple_of];
        names.into_iter().zip(values).filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ObjectShape {
    /// Declared properties, sorted by name.
    pub(crate) properties: Vec<Property>,
    pub(crate) additional: Additional,
    pub(crate) min_properties: Option<u64>,
    pub(crate) max_properties: Option<u64>,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Property {
    pub(crate) name: String,
    pub(crate) required: bool,
    pub(crate) description: Option<String>,
    pub(crate) shape: Shape,
}

/// What `additionalProperties` says about undeclared keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Additional {
    /// Absent or `true`: any value.
    Any,
    /// `false`: none allowed.
    Forbidden,
    /// A schema every undeclared value must match.
    Schema(Box<Shape>),
}

/// An event's data schema: the root object and its `$defs`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataShape {
    pub(crate) root: ObjectShape,
    /// `$defs`, in an order where each definition comes after the ones it
    /// refers to (so both languages can define them top to bottom).
    pub(crate) defs: Vec<(String, Shape)>,
}

impl DataShape {
    /// Read the data schema of an event (an object schema, as the loader
    /// guarantees; anything else reads as an object without properties).
    pub(crate) fn of(schema: &Value) -> DataShape {
        let root = match Shape::of(schema) {
            Shape::Object(o) => o,
            _ => ObjectShape::from_map(&Map::new()),
        };
        let defs: Vec<(String, Shape)> = crate::defs::defs(schema).map(|(k, v)| (k.to_string(), Shape::of(v))).collect();
        DataShape { root, defs: dependency_order(defs) }
    }
}

impl Shape {
    pub(crate) fn of(schema: &Value) -> Shape {
        let Some(map) = schema.as_object() else { return Shape::Any };
        if let Some(name) = crate::defs::ref_name(schema) {
            return Shape::Ref(name.to_string());
        }
        if let Some(union) = crate::tagged::TaggedUnion::of(schema) {
            let branches = union
                .branches
                .iter()
                .map(|branch| {
                    let mut object = ObjectShape::from_map(branch.schema.as_object().unwrap_or(&Map::new()));
                    for p in object.properties.iter_mut().filter(|p| p.name == union.tag) {
                        p.shape = Shape::Const(Value::String(branch.value.to_string()));
                    }
                    (branch.value.to_string(), object)
                })
                .collect();
            return Shape::Union(UnionShape { tag: union.tag.to_string(), branches });
        }
        if let Some(c) = map.get("const") {
            return Shape::Const(c.clone());
        }
        let ty = map.get("type").and_then(Value::as_str).or_else(|| {
            if map.contains_key("properties") || map.contains_key("additionalProperties") {
                Some("object")
            } else if map.contains_key("enum") {
                Some("string")
            } else {
                None
            }
        });
        let uint = |k: &str| map.get(k).and_then(Value::as_u64);
        let num = |k: &str| map.get(k).and_then(|v| v.as_number().cloned());
        match ty {
            Some("string") => Shape::String(StringRules {
                min_length: uint("minLength"),
                max_length: uint("maxLength"),
                pattern: map.get("pattern").and_then(Value::as_str).map(str::to_string),
                format: map.get("format").and_then(Value::as_str).map(str::to_string),
                utc_only: map.get("offset").and_then(Value::as_str) == Some("utc-only"),
                values: map.get("enum").and_then(Value::as_array).map(|v| v.iter().filter_map(Value::as_str).map(str::to_string).collect()),
            }),
            Some(t @ ("number" | "integer")) => Shape::Number(NumberRules {
                integer: t == "integer",
                minimum: num("minimum"),
                maximum: num("maximum"),
                exclusive_minimum: num("exclusiveMinimum"),
                exclusive_maximum: num("exclusiveMaximum"),
                multiple_of: num("multipleOf"),
            }),
            Some("boolean") => Shape::Boolean,
            Some("array") => Shape::Array {
                items: Box::new(map.get("items").map_or(Shape::Any, Shape::of)),
                min_items: uint("minItems"),
                max_items: uint("maxItems"),
                unique: map.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false),
            },
            Some("object") => Shape::Object(ObjectShape::from_map(map)),
            _ => Shape::Any,
        }
    }

    /// The `$defs` names this shape refers to.
    fn refs(&self, out: &mut Vec<String>) {
        match self {
            Shape::Ref(name) => out.push(name.clone()),
            Shape::Array { items, .. } => items.refs(out),
            Shape::Object(o) => o.refs(out),
            Shape::Union(u) => {
                for (_, o) in &u.branches {
                    o.refs(out);
                }
            }
            _ => {}
        }
    }
}

impl ObjectShape {
    fn from_map(map: &Map<String, Value>) -> ObjectShape {
        let required: Vec<&str> =
            map.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let properties = map
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, schema)| Property {
                        name: name.clone(),
                        required: required.contains(&name.as_str()),
                        description: schema.get("description").and_then(Value::as_str).map(str::to_string),
                        shape: Shape::of(schema),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let additional = match map.get("additionalProperties") {
            None | Some(Value::Bool(true)) => Additional::Any,
            Some(Value::Bool(false)) => Additional::Forbidden,
            Some(schema) => Additional::Schema(Box::new(Shape::of(schema))),
        };
        ObjectShape {
            properties,
            additional,
            min_properties: map.get("minProperties").and_then(Value::as_u64),
            max_properties: map.get("maxProperties").and_then(Value::as_u64),
            description: map.get("description").and_then(Value::as_str).map(str::to_string),
        }
    }

    /// The `$defs` names this object's properties refer to.
    fn refs(&self, out: &mut Vec<String>) {
        for p in &self.properties {
            p.shape.refs(out);
        }
        if let Additional::Schema(s) = &self.additional {
            s.refs(out);
        }
    }

    /// An object with neither declared properties nor rules: a free-form
    /// map (`object`, `map<T>` in the shorthand).
    pub(crate) fn is_map(&self) -> bool {
        self.properties.is_empty() && self.min_properties.is_none() && self.max_properties.is_none()
    }
}

/// Definitions sorted so that each comes after those it refers to
/// (alphabetical otherwise; a cycle keeps its alphabetical order).
fn dependency_order(defs: Vec<(String, Shape)>) -> Vec<(String, Shape)> {
    fn visit(i: usize, defs: &[(String, Shape)], state: &mut [u8], out: &mut Vec<usize>) {
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        let mut refs = Vec::new();
        defs[i].1.refs(&mut refs);
        for r in refs {
            if let Some(j) = defs.iter().position(|(n, _)| *n == r) {
                visit(j, defs, state, out);
            }
        }
        state[i] = 2;
        out.push(i);
    }
    let mut state = vec![0u8; defs.len()];
    let mut order = Vec::new();
    for i in 0..defs.len() {
        visit(i, &defs, &mut state, &mut order);
    }
    order.into_iter().map(|i| defs[i].clone()).collect()
}

/// Text safe inside a one-line doc comment of either language.
pub(crate) fn doc_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace("*/", "*\\/")
}

/// A JSON string literal, valid in TypeScript and Python alike.
pub(crate) fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_subset() {
        let shape = DataShape::of(&json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer", "minimum": 1},
                "m": {"$ref": "#/$defs/M"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "required": ["a"],
            "$defs": {"M": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}, "N": {"type": "boolean"}}
        }));
        assert_eq!(shape.root.properties.len(), 3);
        assert!(shape.root.properties[0].required);
        assert!(matches!(&shape.root.properties[0].shape, Shape::Number(n) if n.integer && n.minimum == Some(1.into())));
        // N before M: M refers to N.
        let names: Vec<&str> = shape.defs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["N", "M"]);
    }
}
