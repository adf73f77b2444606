//! Generates the project's event types from the workspace `events.yaml`,
//! with the catalog pages the server serves under `/catalog` and the JSON
//! Schemas `/openapi.json` embeds (`$OUT_DIR/events_site.rs`, read by
//! `include_site!`).

fn main() {
    herald_codegen::Config::new().catalog("../events.yaml").site(true).compile().unwrap_or_else(|e| panic!("\n{e}\n"));
}
