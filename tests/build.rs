//! Generates the project's event types from the workspace `events.yaml`,
//! for the integration tests and benchmarks.
fn main() {
    herald_codegen::Config::new()
        .catalog("../events.yaml")
        .compile()
        .unwrap_or_else(|e| panic!("\n{e}\n"));
}
