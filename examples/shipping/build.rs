//! Generates the catalog's Rust code from events.yaml into `$OUT_DIR/events.rs`,
//! and the catalog pages the server serves into `$OUT_DIR/events_site.rs`.
fn main() {
    // Rebuilds when events.yaml changes.
    herald_codegen::Config::new().catalog("events.yaml").site(true).compile().unwrap_or_else(|e| panic!("{e}"));
}
