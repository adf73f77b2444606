//! Herald's two front-ends, end to end.
//!
//! - [`yaml_only`]: `events.yaml` compiled in place with
//!   `herald::include_events!` (the build.rs route without a build.rs);
//! - [`struct_events`]: event types declared on Rust structs with
//!   `#[herald::cloud_event]`, gathered by `herald::registry!`;
//! - [`shop`]: one registry combining the YAML catalog with struct events.
//!
//! All three produce the same kind of module: an `Event` enum, a `Catalog`
//! (the registry table), a `Handler` trait with one required method per
//! event type, and `dispatch`. See `tests/end_to_end.rs` for them in use.

/// The YAML catalog alone.
pub mod yaml_only {
    herald::include_events!("events.yaml");
}

/// Event types declared in Rust.
pub mod struct_events {
    /// A refund was requested for an order.
    #[herald::cloud_event("shop.refund.requested", version = 2, subject = "order/{run_id}")]
    pub struct RefundRequested {
        /// The order (the per-run stream key).
        pub run_id: uuid::Uuid,
        /// How much to refund, in cents.
        #[herald(minimum = 1)]
        pub amount_cents: u64,
        /// Why, in the customer's words.
        #[herald(min_length = 3, max_length = 500)]
        pub reason: String,
        /// Share of the order refunded, from 0 to 1.
        #[herald(range(min = 0, max = 1))]
        pub share: f64,
        /// When the customer asked.
        pub requested_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// A refund was paid out.
    #[herald::cloud_event("shop.refund.paid")]
    pub struct RefundPaid {
        /// The order.
        pub run_id: uuid::Uuid,
        /// The payment provider's reference.
        #[serde(rename = "ref")]
        pub reference: String,
        /// Provider details, passed through.
        pub details: Option<serde_json::Map<String, serde_json::Value>>,
    }

    herald::registry! {
        /// Only the struct-declared refund events.
        pub mod refunds {
            RefundRequested,
            RefundPaid,
        }
    }
}

herald::registry! {
    /// Everything the shop handles: the YAML catalog plus the refund
    /// events declared in Rust. Declaring a type in both is a compile error.
    pub mod shop {
        include_events!("events.yaml"),
        struct_events::RefundRequested,
        crate::struct_events::RefundPaid,
    }
}
