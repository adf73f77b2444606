fn main() {
    // Writes `$OUT_DIR/events.rs` (each domain's types in a file of
    // `$OUT_DIR/events/`) and rebuilds when events.yaml changes.
    herald_codegen::Config::new()
        .catalog("events.yaml")
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
