//! Generates the project's event types from the workspace `events.yaml`,
//! for the integration tests and benchmarks; and those of the example's
//! catalog and of the every-construct fixture, for the export tests; and
//! those of the fixture of payloads as producers send them (`payloads.yaml`).
fn main() {
    for (catalog, name) in [
        ("../events.yaml", "events"),
        ("../examples/events.yaml", "shop"),
        ("catalogs/constructs.yaml", "constructs"),
        ("catalogs/payloads.yaml", "payloads"),
    ] {
        herald_codegen::Config::new().catalog(catalog).file_name(name).compile().unwrap_or_else(|e| panic!("\n{e}\n"));
    }
}
