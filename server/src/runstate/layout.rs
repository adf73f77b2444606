//! Which parts of a run are keyed collections, and where a write lands.
//!
//! A run is its own fields (status, progress, the current feature: a small
//! object rewritten whole) plus named collections of items (nodes, papers,
//! artifacts, …) that grow with the run. Items are stored and updated one
//! by one, keyed by `(collection, key)`, so the cost of an event does not
//! grow with the size of its run. Handlers keep writing plain paths
//! (`["nodes", node_id, "status"]`); the layout says which first segments
//! name a collection.

use serde_json::Value;

/// One item of a run's collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    /// The collection (`nodes`).
    pub collection: String,
    /// The item's key within it (a node id).
    pub key: String,
}

impl ItemKey {
    /// The item `key` of `collection`.
    pub fn new(collection: impl Into<String>, key: impl Into<String>) -> Self {
        ItemKey { collection: collection.into(), key: key.into() }
    }
}

/// Where one write of a change lands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'p> {
    /// A field of the run: the path from the run's root.
    Field(&'p [String]),
    /// A whole collection, replaced by the written object (or emptied by
    /// `null`): rare, and it costs one delete of the collection.
    Collection(&'p str),
    /// One item: its collection and key, and the path inside it (empty:
    /// the whole item is replaced).
    Item {
        /// The collection.
        collection: &'p str,
        /// The item's key.
        key: &'p str,
        /// The path inside the item.
        path: &'p [String],
    },
    /// An empty path: writes nothing.
    Nowhere,
}

/// The collections of a handler set's runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    collections: Vec<String>,
}

impl Layout {
    /// A layout whose runs keep `collections` as keyed items; every other
    /// top-level field is a field of the run itself.
    pub fn new<I, S>(collections: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut collections: Vec<String> = collections.into_iter().map(Into::into).collect();
        collections.sort();
        collections.dedup();
        Layout { collections }
    }

    /// The collection names, sorted.
    pub fn collections(&self) -> &[String] {
        &self.collections
    }

    /// Whether `name` is a collection.
    pub fn is_collection(&self, name: &str) -> bool {
        self.collections.iter().any(|c| c == name)
    }

    /// Where a write to `path` (from the run's root) lands.
    pub fn target<'p>(&self, path: &'p [String]) -> Target<'p> {
        match path {
            [] => Target::Nowhere,
            [first, rest @ ..] if self.is_collection(first) => match rest {
                [] => Target::Collection(first),
                [key, inner @ ..] => Target::Item { collection: first, key, path: inner },
            },
            _ => Target::Field(path),
        }
    }

    /// Split a whole run document (as older stores kept it) into its own
    /// fields and its items.
    pub fn split(&self, mut doc: serde_json::Map<String, Value>) -> (serde_json::Map<String, Value>, Vec<(ItemKey, Value)>) {
        let mut items = Vec::new();
        for collection in &self.collections {
            // Not an object: nothing keyed to keep; a scalar here was
            // never something a reader could page through.
            if let Some(Value::Object(map)) = doc.remove(collection) {
                items.extend(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (ItemKey::new(collection, k), v)));
            }
        }
        (doc, items)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn first_segment_decides_where_a_write_lands() {
        let l = Layout::new(["nodes", "metrics"]);
        assert_eq!(l.target(&path(&["progress"])), Target::Field(&path(&["progress"])));
        assert_eq!(l.target(&path(&["current_feature", "name"])), Target::Field(&path(&["current_feature", "name"])));
        assert_eq!(l.target(&path(&["nodes"])), Target::Collection("nodes"));
        let p = path(&["nodes", "n.1", "status"]);
        assert_eq!(l.target(&p), Target::Item { collection: "nodes", key: "n.1", path: &p[2..] });
        let p = path(&["metrics", "loss"]);
        assert_eq!(l.target(&p), Target::Item { collection: "metrics", key: "loss", path: &[] });
        assert_eq!(l.target(&[]), Target::Nowhere);
    }

    #[test]
    fn split_moves_collections_out_of_an_old_document() {
        let l = Layout::new(["nodes", "papers"]);
        let doc = json!({"progress": 0.5, "nodes": {"a": {"status": "x"}, "b": null}, "papers": 3});
        let (fields, items) = l.split(doc.as_object().cloned().unwrap());
        assert_eq!(serde_json::Value::Object(fields), json!({"progress": 0.5}));
        assert_eq!(items, vec![(ItemKey::new("nodes", "a"), json!({"status": "x"}))]);
    }
}
