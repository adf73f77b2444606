//! Catalog problems surface through `include_events!` with the YAML file
//! and line, all of them at once.

mod events {
    herald::include_events!("ui-fixtures/broken.yaml");
}

fn main() {}
