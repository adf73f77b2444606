//! `GET /api/runs/{run_id}/stream` and `GET /api/stream`: Server-Sent
//! Events, one `change` event (a JSON [`Notice`]) per stored event that
//! did something to the run (or to any run).
//!
//! What it costs the server is fixed: subscribers share the feed's bounded
//! channel, and one that reads too slowly skips ahead and gets a `lagged`
//! event (`{"skipped": n}`: refetch the run) instead of a backlog. A
//! stream ends after [`MAX_STREAM`] (EventSource reconnects by itself) or
//! when the server shuts down, so it never holds a connection forever.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::App;
use crate::catalog::Handlers;
use crate::feed::{Feed, Notice};
use crate::store::Store;

/// Longest a stream stays open; the client reconnects after it.
pub const MAX_STREAM: Duration = Duration::from_secs(10 * 60);

/// How long clients wait before reconnecting (the `retry:` field).
const RETRY: Duration = Duration::from_secs(2);

/// Follow one run's changes (Server-Sent Events).
///
/// A `ready` event first, then a `change` event (JSON: `run_id`, `type`,
/// `seq`, `outcome`, `released`) per stored event that did something to
/// the run, or `lagged` (`{"skipped": n}`: refetch the run) when the
/// client read too slowly. The stream ends after 10 minutes; EventSource
/// reconnects by itself.
#[utoipa::path(get, path = "/api/runs/{run_id}/stream", tag = "runs",
    params(("run_id" = String, Path, description = "The run's id.")),
    responses((status = 200, description = "An event stream.", content_type = "text/event-stream", body = String)))]
pub async fn run_stream<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>, Path(run_id): Path<String>) -> Response {
    sse(&app.feed, Some(run_id))
}

/// Follow every run's changes (Server-Sent Events), as
/// `/api/runs/{run_id}/stream` does for one.
#[utoipa::path(get, path = "/api/stream", tag = "runs",
    responses((status = 200, description = "An event stream.", content_type = "text/event-stream", body = String)))]
pub async fn all_runs<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>) -> Response {
    sse(&app.feed, None)
}

fn sse(feed: &Feed, run_id: Option<String>) -> Response {
    Sse::new(notices(feed, run_id, MAX_STREAM)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// The events of a stream: a `ready` event first (so a client knows it is
/// subscribed), then the notices for `run_id`, until `max` passes or the
/// feed closes.
pub fn notices(feed: &Feed, run_id: Option<String>, max: Duration) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let (rx, closed) = feed.subscribe();
    let deadline = tokio::time::Instant::now() + max;
    let ready = Event::default().event("ready").retry(RETRY).data("{}");
    let first = stream::once(async move { Ok(ready) });
    let rest = stream::unfold((rx, closed, run_id), move |(mut rx, mut closed, run_id)| async move {
        loop {
            let event = tokio::select! {
                got = rx.recv() => match got {
                    Ok(notice) if notice.concerns(run_id.as_deref()) => change(&notice),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(format!("{{\"skipped\":{n}}}")),
                    Err(RecvError::Closed) => return None,
                },
                _ = closed.wait_for(|c| *c) => return None,
                () = tokio::time::sleep_until(deadline) => return None,
            };
            return Some((Ok(event), (rx, closed, run_id)));
        }
    });
    futures_util::StreamExt::chain(first, rest)
}

fn change(notice: &Notice) -> Event {
    Event::default().event("change").data(serde_json::to_string(notice).unwrap_or_default())
}
