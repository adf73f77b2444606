//! `include_events!` alone, and a registry combining a YAML catalog with a
//! struct event, compile without warnings; the combined registry has both.

#![deny(warnings)]

use herald::EventCatalog;

mod yaml_only {
    herald::include_events!("ui-fixtures/small.yaml");
}

/// A run finished.
#[herald::cloud_event("ai.run.finished")]
pub struct Finished {
    /// The run.
    pub run_id: uuid::Uuid,
    /// Items processed.
    #[herald(minimum = 0)]
    pub items: i64,
}

herald::registry! {
    pub mod all {
        include_events!("ui-fixtures/small.yaml"),
        Finished,
    }
}

fn main() {
    assert_eq!(yaml_only::Catalog::TYPES.len(), 1);
    let types: Vec<&str> = all::Catalog::TYPES.iter().map(|t| t.type_name).collect();
    assert_eq!(types, ["ai.run.finished", "ai.run.started"]);
    let _ = |e: all::Event| match e {
        all::Event::RunStarted(d) => d.run_id.to_string(),
        all::Event::Finished(d) => d.items.to_string(),
    };
}
