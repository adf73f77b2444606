//! Procedural macros for Herald.
//!
//! The `#[cloud_event]` attribute, the `registry!` macro and
//! `include_events!` arrive with the struct front-end; each will parse its
//! input with syn, build the same IR as the YAML loader, and call the same
//! emitters in `herald-codegen`.
