//! Shared fixtures for Herald's cross-crate tests: the catalogs compiled by
//! `build.rs` (the project's `events.yaml`, the example's, and the
//! every-construct fixture of the export tests, and the property-names one).

/// The project's generated event types, from the workspace `events.yaml`.
pub mod events {
    herald::include_generated!("events");
}

/// The example crate's catalog (`examples/events.yaml`).
pub mod shop {
    herald::include_generated!("shop");
}

/// `tests/catalogs/constructs.yaml`: every construct the catalog format has.
pub mod constructs {
    herald::include_generated!("constructs");
}

/// `tests/catalogs/names.yaml`: JSON property names that are not Rust
/// field names (camelCase, keywords, dashes).
pub mod names {
    herald::include_generated!("names");
}
