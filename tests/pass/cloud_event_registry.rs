//! Struct-declared events and a registry: the `Event` enum, the registry
//! table, `dispatch` and a complete `Handler` compile without warnings.

#![deny(warnings)]

use std::convert::Infallible;

use herald::{EventCatalog, EventContext, EventData};

/// A feature began running inside a run.
#[herald::cloud_event("ai.myfeature.started", version = 2, subject = "run/{run_id}")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
    /// Which feature.
    pub feature_name: String,
    /// How far along, from 0 to 1.
    #[herald(range(min = 0, max = 1))]
    pub progress: f64,
    /// Free-form settings.
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
}

mod more {
    /// A feature finished.
    ///
    /// `#[cloud_event]` goes above the user's own derives, so it sees them.
    #[herald::cloud_event("ai.myfeature.completed")]
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    pub struct Completed {
        #[serde(rename = "run_id")]
        pub run_id: uuid::Uuid,
        pub items_done: u32,
        #[serde(default)]
        pub note: String,
    }
}

/// A user signed up: no run involved.
#[herald::cloud_event("ai.user.signed_up", stream_key = none)]
pub struct UserSignedUp {
    /// The new user.
    pub user_id: String,
}

herald::registry! {
    /// The app's events.
    pub mod app_events {
        MyFeatureStarted,
        more::Completed,
        UserSignedUp,
    }
}

struct App;

impl app_events::Handler for App {
    type Output = &'static str;
    type Error = Infallible;

    async fn on_myfeature_started(&self, _: &EventContext<'_>, data: MyFeatureStarted) -> Result<&'static str, Infallible> {
        let _ = data.progress;
        Ok("started")
    }

    async fn on_myfeature_completed(&self, _: &EventContext<'_>, _: more::Completed) -> Result<&'static str, Infallible> {
        Ok("completed")
    }

    async fn on_user_signed_up(&self, _: &EventContext<'_>, _: UserSignedUp) -> Result<&'static str, Infallible> {
        Ok("signed up")
    }
}

fn main() {
    assert_eq!(MyFeatureStarted::TYPE, "ai.myfeature.started");
    assert_eq!(MyFeatureStarted::VERSION, 2);
    assert_eq!(app_events::Catalog::TYPES.len(), 3);
    assert_eq!(app_events::Catalog::TYPES[0].type_name, "ai.myfeature.completed");
    assert_eq!(app_events::Catalog::TYPES[0].stream_key, Some("run_id"));
    let signed_up = app_events::Catalog::lookup("ai.user.signed_up").expect("registered");
    assert_eq!(signed_up.stream_key, None);

    // The run an event belongs to, read from its data by the catalog.
    let run = uuid::Uuid::from_u128(7);
    let started = MyFeatureStarted { run_id: run, feature_name: "f".into(), progress: 0.5, config: None };
    let event = app_events::Event::MyFeatureStarted(started);
    assert_eq!(app_events::Catalog::stream_key(&event).map(|k| k.to_string()), Some(run.to_string()));
    let event = app_events::Event::UserSignedUp(UserSignedUp { user_id: "u".into() });
    assert!(event.stream_key().is_none());

    // A library reaches `dispatch` for any handler set through `Dispatch`.
    let envelope = herald::Envelope::parse(br#"{"specversion":"1.0","id":"1","source":"/t","type":"ai.user.signed_up"}"#, Default::default())
        .expect("a valid envelope");
    let ctx = EventContext::new(&envelope);
    let handled = <app_events::Catalog as herald::Dispatch<App>>::dispatch(&App, &ctx, event);
    assert_eq!(block_on(handled), Ok("signed up"));
}

/// Polls `f` to completion: the handlers here never wait.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
