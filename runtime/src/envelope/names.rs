//! The member names the envelope rules treat specially, recognised by
//! length and first byte before one full comparison.
//!
//! Every member of every event goes through [`Name::of`], so it avoids the
//! chain of `memcmp`s a `match` on strings compiles to: names of different
//! lengths never compare bytes, each length has at most two candidates,
//! told apart by their first byte, and the one candidate is compared as two
//! 64-bit words (every name here is at most 16 bytes).

/// A member name with a meaning in CloudEvents (or Herald's legacy object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    /// `id`.
    Id,
    /// `source`.
    Source,
    /// `specversion`.
    Specversion,
    /// `type`.
    Type,
    /// `datacontenttype`.
    Datacontenttype,
    /// `dataschema`.
    Dataschema,
    /// `subject`.
    Subject,
    /// `time`.
    Time,
    /// `data`.
    Data,
    /// `data_base64`.
    DataBase64,
    /// `extensions` (the legacy object's name).
    Extensions,
    /// Anything else: an extension attribute.
    Other,
}

/// A name of 1 to 16 bytes as two little-endian words: its first eight
/// bytes and its last eight (overlapping, or zero-padded when shorter).
/// Two such names of the same length are equal when their words are.
fn words(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    let mut first = [0u8; 8];
    let mut last = [0u8; 8];
    if n >= 8 {
        first.copy_from_slice(&b[..8]);
        last.copy_from_slice(&b[n - 8..]);
    } else {
        first[..n].copy_from_slice(b);
        last = first;
    }
    (u64::from_le_bytes(first), u64::from_le_bytes(last))
}

/// [`words`] at compile time, for the names compared against (a loop,
/// which `const` allows; the test checks both agree).
const fn const_words(b: &[u8]) -> (u64, u64) {
    let mut first = [0u8; 8];
    let mut last = [0u8; 8];
    let n = b.len();
    let mut i = 0;
    while i < 8 && i < n {
        first[i] = b[i];
        last[i] = b[if n > 8 { n - 8 + i } else { i }];
        i += 1;
    }
    (u64::from_le_bytes(first), u64::from_le_bytes(last))
}

impl Name {
    /// Classify `name`.
    pub(crate) fn of(name: &str) -> Name {
        let b = name.as_bytes();
        let (candidate, text) = match (b.len(), b.first()) {
            (2, Some(b'i')) => (Name::Id, const { const_words(b"id") }),
            (4, Some(b't')) if b[1] == b'y' => (Name::Type, const { const_words(b"type") }),
            (4, Some(b't')) => (Name::Time, const { const_words(b"time") }),
            (4, Some(b'd')) => (Name::Data, const { const_words(b"data") }),
            (6, Some(b's')) => (Name::Source, const { const_words(b"source") }),
            (7, Some(b's')) => (Name::Subject, const { const_words(b"subject") }),
            (10, Some(b'd')) => (Name::Dataschema, const { const_words(b"dataschema") }),
            (10, Some(b'e')) => (Name::Extensions, const { const_words(b"extensions") }),
            (11, Some(b's')) => (Name::Specversion, const { const_words(b"specversion") }),
            (11, Some(b'd')) => (Name::DataBase64, const { const_words(b"data_base64") }),
            (15, Some(b'd')) => (Name::Datacontenttype, const { const_words(b"datacontenttype") }),
            _ => return Name::Other,
        };
        if words(b) == text { candidate } else { Name::Other }
    }

    /// One of the eight context attributes, which can never be extension
    /// names.
    pub(crate) fn is_context_attribute(self) -> bool {
        matches!(
            self,
            Name::Id
                | Name::Source
                | Name::Specversion
                | Name::Type
                | Name::Datacontenttype
                | Name::Dataschema
                | Name::Subject
                | Name::Time
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_its_near_misses() {
        let named = [
            ("id", Name::Id),
            ("source", Name::Source),
            ("specversion", Name::Specversion),
            ("type", Name::Type),
            ("datacontenttype", Name::Datacontenttype),
            ("dataschema", Name::Dataschema),
            ("subject", Name::Subject),
            ("time", Name::Time),
            ("data", Name::Data),
            ("data_base64", Name::DataBase64),
            ("extensions", Name::Extensions),
        ];
        for (text, name) in named {
            assert_eq!(Name::of(text), name, "{text}");
            // Same length and first byte, one other byte changed.
            let mut near = text.as_bytes().to_vec();
            let last = near.len() - 1;
            near[last] ^= 0x20;
            assert_eq!(Name::of(std::str::from_utf8(&near).unwrap()), Name::Other, "{text}");
        }
        // A difference in the middle of a long name.
        assert_eq!(Name::of("datacontentType"), Name::Other);
        assert_eq!(Name::of("datacOntenttype"), Name::Other);
        assert_eq!(Name::of("specvErsion"), Name::Other);
        for text in ["id", "type", "subject", "dataschema", "datacontenttype", "x", "abcdefgh", "abcdefghi"] {
            assert_eq!(words(text.as_bytes()), const_words(text.as_bytes()), "{text}");
        }
        for other in ["", "i", "ids", "seq", "tipe", "dat", "datum", "sourcE", "traceparent", "extension", "Data"] {
            assert_eq!(Name::of(other), Name::Other, "{other}");
        }
        let context: Vec<_> = named.iter().filter(|(_, n)| n.is_context_attribute()).map(|(t, _)| *t).collect();
        assert_eq!(context, super::super::ATTRIBUTES);
    }
}
