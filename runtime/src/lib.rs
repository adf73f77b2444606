//! # Herald runtime
//!
//! What Herald-generated code and its users depend on:
//!
//! - [`envelope`]: a zero-copy CloudEvents v1.0 envelope parser (structured,
//!   batch and binary mode) that enforces the spec's rules exactly;
//! - [`validate`]: the error type and helpers used by generated `validate()`;
//! - [`registry`](mod@registry), [`handler`] and [`lifecycle`]: the traits generated catalogs
//!   implement;
//! - `derive` (default feature): the `#[cloud_event]`, `registry!` and
//!   `include_events!` macros, re-exported as serde re-exports its derives.
//!
//! Nothing here knows HTTP: transports call into [`envelope`] and the
//! registry.

extern crate self as herald;

#[doc(hidden)]
pub mod de;
pub mod envelope;
pub mod error;
pub mod formats;
pub mod handler;
pub mod lifecycle;
pub mod registry;
#[doc(hidden)]
pub mod strict;
pub mod types;
pub mod validate;

pub use envelope::{Envelope, EnvelopeOptions, ExtensionValue};
pub use error::EnvelopeError;
pub use handler::{Dispatch, EventContext};
pub use registry::{DataError, EventCatalog, EventData, EventTypeInfo, Parsed};
pub use validate::{Validate, ValidationError};

#[cfg(feature = "derive")]
pub use herald_macros::*;

/// Include the Rust code that `herald_codegen::Config` generated into
/// `OUT_DIR` from a build script.
///
/// ```ignore
/// mod events {
///     herald::include_generated!("events");
/// }
/// ```
#[macro_export]
macro_rules! include_generated {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}

/// The only door generated code uses into Herald's dependencies, so that a
/// user's crate needs no direct dependency on serde, uuid or chrono.
/// Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use chrono;
    pub use regress;
    pub use serde;
    pub use serde_json;
    pub use serde_json::value::RawValue;
    pub use uuid;

    pub use crate::validate::checks;

    /// The `Deserialize` impls of generated structs and string enums.
    pub use crate::de;

    /// Strict `deserialize_with` helpers for `#[cloud_event]` fields.
    pub use crate::strict;

    /// Deserialises an optional property that is *present*: `T` or an error.
    ///
    /// serde turns `null` into `None` for any `Option<T>` field, but a JSON
    /// Schema property that is merely not `required` still rejects `null`
    /// (`"current_step": null` is not a string). Generated structs put
    /// `#[serde(default, deserialize_with = "…some_not_null")]` on their
    /// optional fields: `default` covers the absent case, and this function
    /// only ever sees a present value, which must be a valid `T`.
    pub fn some_not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: serde::Deserializer<'de>,
        T: serde::Deserialize<'de>,
    {
        T::deserialize(deserializer).map(Some)
    }

    /// Implemented by `#[herald::data]` types and `#[cloud_event]` structs:
    /// the types a struct-declared event's fields may name besides the
    /// built-in ones (their schemas reach the event through the macros).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a `#[herald::data]` type (or `#[cloud_event]`): add `#[herald::data]` to it",
        label = "a field of this type names `{Self}`"
    )]
    pub trait Data: crate::Validate {}

    /// A boxed data type is one (`Option<Box<Detail>>` holds a `Detail`).
    impl<T: Data + ?Sized> Data for Box<T> {}

    /// Validates a field holding a type the user declared: the call a
    /// struct-declared type's `validate()` makes for it, bounded by
    /// [`Data`] so that a type without the attribute is one error saying so.
    #[inline]
    pub fn validate_data<T: Data + ?Sized>(value: &T, pointer: &mut crate::validate::Pointer, errors: &mut Vec<crate::ValidationError>) {
        value.validate_into(pointer, errors);
    }
}
