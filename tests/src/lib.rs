//! Shared fixtures for Herald's cross-crate tests: the project catalog
//! (`events.yaml`) compiled by `build.rs`.

/// The project's generated event types, from the workspace `events.yaml`.
pub mod events {
    herald::include_generated!("events");
}
