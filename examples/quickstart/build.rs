fn main() {
    // Writes `$OUT_DIR/events.rs` and rebuilds when events.yaml changes.
    herald_codegen::Config::new()
        .catalog("events.yaml")
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
