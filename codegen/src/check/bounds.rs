//! Lower bounds above their upper bounds: no value could ever match.

/// Lower and upper bounds (JSON Schema keywords) that a schema must not
/// cross.
const BOUNDS: [(&str, &str); 5] = [
    ("minimum", "maximum"),
    ("exclusiveMinimum", "exclusiveMaximum"),
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
];

/// A lower bound above its upper bound: no value could ever match.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossedBounds {
    /// The lower bound's keyword (`minimum`).
    pub lower: &'static str,
    /// The upper bound's keyword (`maximum`).
    pub upper: &'static str,
    /// The lower bound.
    pub low: f64,
    /// The upper bound, below `low`.
    pub high: f64,
}

/// The bounds of one schema that cross, where `bound` reads the number a
/// keyword has. Each front-end words the problem for its own syntax (a
/// YAML keyword, or the `#[herald(range(…))]` rule that set it).
pub fn crossed_bounds(bound: impl Fn(&str) -> Option<f64>) -> Vec<CrossedBounds> {
    BOUNDS
        .iter()
        .filter_map(|&(lower, upper)| {
            let (low, high) = (bound(lower)?, bound(upper)?);
            (low > high).then_some(CrossedBounds { lower, upper, low, high })
        })
        .collect()
}
