//! Helpers shared by the integration tests (not a test crate of its own).

#![allow(dead_code)] // Each test crate uses a different part.

pub mod corpus;
pub mod instances;
pub mod toolchain;
