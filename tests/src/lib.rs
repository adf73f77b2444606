//! Shared fixtures for Herald's cross-crate tests: the catalogs compiled by
//! `build.rs` (the project's `events.yaml`, the example's, and the
//! every-construct fixture of the export tests, the payloads one and the
//! tagged unions one);
//! and the fuzz targets ([`fuzz`]), shared by `fuzz/` and the corpus replay
//! test.

pub mod fuzz;

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

/// `tests/catalogs/payloads.yaml`: payloads as producers already send
/// them: JSON property names that are not Rust field names (camelCase,
/// keywords, dashes) and an event that belongs to no run.
pub mod payloads {
    herald::include_generated!("payloads");
}

/// `tests/catalogs/unions.yaml`: tagged unions, inline and under `$defs`.
pub mod unions {
    herald::include_generated!("unions");
}
