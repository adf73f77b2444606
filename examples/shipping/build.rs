//! Generates the catalog's Rust code from events.yaml into `$OUT_DIR/events.rs`.
fn main() {
    // Rebuilds when events.yaml changes.
    herald_codegen::Config::new().catalog("events.yaml").compile().unwrap_or_else(|e| panic!("{e}"));
}
