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
    let _ = App;
}
