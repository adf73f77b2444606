//! Mistakes inside `#[herald::data]` types are refused like an event's.

/// Bounds no value meets.
#[herald::data]
pub struct Detail {
    #[herald(range(min = 10, max = 1))]
    pub level: u8,
}

/// A field with the tag's JSON name.
#[herald::data]
#[serde(tag = "kind")]
pub enum Target {
    File { kind: String },
    Url { url: String },
}

/// A tree.
#[herald::data]
pub struct Node {
    pub children: Vec<Node>,
}

/// A rule on a field that holds a data type.
#[herald::data]
pub struct Holder {
    #[herald(min_length = 1)]
    pub detail: Detail,
}

fn main() {}
