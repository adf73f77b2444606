//! The HTTP surface: routes, shared state, problem responses.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use herald::EnvelopeOptions;

use crate::runstate::Layout;
use crate::store::Store;

pub mod ingest;
pub mod problem;
pub mod query;

/// What every handler shares.
pub struct App<S> {
    /// The storage backend.
    pub store: Arc<S>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Envelope parsing options from the catalog.
    pub envelope: EnvelopeOptions,
    /// Which run fields are keyed collections (paged by
    /// `GET /api/runs/{run_id}/items/{collection}`).
    pub layout: Arc<Layout>,
}

// Manual: `derive(Clone)` would demand `S: Clone`, but only the `Arc` is cloned.
impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App { store: self.store.clone(), body_limit: self.body_limit, envelope: self.envelope, layout: self.layout.clone() }
    }
}

/// All routes.
pub fn router<S: Store>(app: App<S>) -> Router {
    Router::new()
        .route("/api/ingest/event", post(ingest::ingest::<S>))
        .route("/api/runs", get(query::runs::<S>))
        .route("/api/runs/{run_id}", get(query::run::<S>))
        .route("/api/runs/{run_id}/events", get(query::run_events::<S>))
        .route("/api/runs/{run_id}/items/{collection}", get(query::run_items::<S>))
        .route("/api/event-types", get(query::event_types))
        .route("/api/event-types/{type}", get(query::event_type))
        .route("/healthz", get(query::healthz))
        .route("/readyz", get(query::readyz::<S>))
        .fallback(|uri: axum::http::Uri| async move {
            problem::Problem::not_found(format!("no route for {uri}; see README for the API"))
        })
        .with_state(app)
}
