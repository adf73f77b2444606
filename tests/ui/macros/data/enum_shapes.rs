//! Enums Herald cannot give a schema: each refusal says what is supported.

/// No tag on the wire.
#[herald::data]
#[serde(untagged)]
pub enum Untagged {
    A { a: u8 },
    B { b: String },
}

/// Adjacently tagged.
#[herald::data]
#[serde(tag = "t", content = "c")]
pub enum Adjacent {
    A { a: u8 },
    B { b: String },
}

/// A tuple variant.
#[herald::data]
#[serde(tag = "kind")]
pub enum Tuple {
    A(u8),
    B { b: String },
}

/// Externally tagged with data.
#[herald::data]
pub enum External {
    A,
    B { b: String },
}

fn main() {}
