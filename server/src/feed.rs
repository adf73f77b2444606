//! The feed of applied changes that live pages and `GET /api/runs/{id}/stream`
//! follow: one [`Notice`] per stored event that did something to its run.
//!
//! A `tokio::sync::broadcast` channel of fixed capacity: publishing never
//! waits and never allocates per subscriber, and a subscriber that falls
//! [`CAPACITY`] notices behind is told it lagged (it refetches the run)
//! instead of making the server hold its backlog. So a slow or stalled
//! client costs a fixed amount of memory, whatever it does.

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::store::Outcome;

/// Notices the channel holds; a subscriber further behind skips to the
/// newest and gets a `lagged` event.
pub const CAPACITY: usize = 256;

/// Something happened to a run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notice {
    /// The run, or `None` when the change is not tied to one event's run
    /// (parked events released by the gap timeout: every page refreshes).
    pub run_id: Option<String>,
    /// The event's CloudEvents `type`, when one event caused it.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// The event's `seq`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// `applied`, `parked`, `stale`, `illegal_transition`, or
    /// `gaps_released`.
    pub outcome: &'static str,
    /// Parked events the event released (their `seq`s), applied with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<i64>,
}

impl Notice {
    /// The notice for an ingested event's outcome; `None` for a duplicate,
    /// which changed nothing, and for an event of no run, which changed no
    /// run.
    pub fn of(type_name: &str, outcome: &Outcome) -> Option<Notice> {
        let (outcome_name, seq, released) = match outcome {
            Outcome::Applied { seq, released, .. } => ("applied", *seq, released.clone()),
            Outcome::Parked { seq, .. } => ("parked", Some(*seq), Vec::new()),
            Outcome::Stale { seq, .. } => ("stale", Some(*seq), Vec::new()),
            Outcome::IllegalTransition { .. } => ("illegal_transition", None, Vec::new()),
            Outcome::Duplicate { .. } | Outcome::Stored { .. } => return None,
        };
        Some(Notice {
            run_id: outcome.run_id().map(str::to_owned),
            type_name: Some(type_name.to_owned()),
            seq,
            outcome: outcome_name,
            released,
        })
    }

    /// Parked events of some runs were applied because their gap timed out.
    pub fn gaps_released() -> Notice {
        Notice { run_id: None, type_name: None, seq: None, outcome: "gaps_released", released: Vec::new() }
    }

    /// Whether a subscriber to `run_id` (`None`: every run) wants this notice.
    pub fn concerns(&self, run_id: Option<&str>) -> bool {
        match (run_id, &self.run_id) {
            (None, _) | (_, None) => true,
            (Some(want), Some(got)) => want == got,
        }
    }
}

/// The sending side, shared by every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct Feed {
    tx: broadcast::Sender<Notice>,
    closed: watch::Sender<bool>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    /// A feed with no subscribers.
    pub fn new() -> Self {
        Feed { tx: broadcast::channel(CAPACITY).0, closed: watch::channel(false).0 }
    }

    /// Tell every subscriber; nobody listening is fine.
    pub fn publish(&self, notice: Notice) {
        let _ = self.tx.send(notice);
    }

    /// Whether any page or stream is listening: ingest builds no notice
    /// (three allocations per event) when nobody would read it.
    pub fn is_watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// A new subscriber, seeing notices published from now on.
    pub fn subscribe(&self) -> (broadcast::Receiver<Notice>, watch::Receiver<bool>) {
        (self.tx.subscribe(), self.closed.subscribe())
    }

    /// End every stream (graceful shutdown waits for open responses, and a
    /// stream would otherwise never end).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(run: &str, seq: i64) -> Notice {
        Notice::of("ai.run.progress", &Outcome::Applied { run_id: run.into(), seq: Some(seq), released: vec![] }).unwrap()
    }

    #[tokio::test]
    async fn a_slow_subscriber_lags_instead_of_growing_a_backlog() {
        let feed = Feed::new();
        let (mut rx, _) = feed.subscribe();
        for i in 0..(CAPACITY as i64 * 4) {
            feed.publish(applied("r", i));
        }
        // The channel kept only the newest CAPACITY; the rest is reported as lag.
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, CAPACITY as u64 * 3),
            other => panic!("expected a lag, got {other:?}"),
        }
        assert_eq!(rx.recv().await.unwrap().seq, Some(CAPACITY as i64 * 3));
    }

    #[test]
    fn a_feed_is_watched_only_while_someone_subscribes() {
        let feed = Feed::new();
        assert!(!feed.is_watched());
        let subscriber = feed.subscribe();
        assert!(feed.is_watched());
        drop(subscriber);
        assert!(!feed.is_watched());
    }

    #[test]
    fn duplicates_are_not_news_and_notices_are_filtered_by_run() {
        assert!(Notice::of("t", &Outcome::Duplicate { run_id: Some("r".into()) }).is_none());
        let n = applied("r1", 1);
        assert!(n.concerns(Some("r1")) && n.concerns(None) && !n.concerns(Some("r2")));
        assert!(Notice::gaps_released().concerns(Some("r2")));
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            serde_json::json!({"run_id": "r1", "type": "ai.run.progress", "seq": 1, "outcome": "applied"})
        );
    }
}
