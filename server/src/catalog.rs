//! What the server needs from a generated catalog and its handler set.
//!
//! The server is generic over one type, a [`Handlers`] implementation: the
//! handler set of some catalog, which names that catalog
//! ([`Handlers::Catalog`], the `Catalog` that `herald-codegen` generates).
//! Everything the server knows about the catalog comes from the traits the
//! codegen implements on it: which run an event belongs to
//! ([`herald::EventCatalog::stream_key`]), the lifecycle and the status move
//! an event requests ([`herald::lifecycle::RunLifecycle`]), and the route to
//! the handler method for each event ([`herald::Dispatch`]). A handler set
//! only says what each event does to its run; it cannot put an event in
//! another run, or move a run's status, other than its catalog says.
//!
//! The orchestrator's handlers ([`crate::orchestrator::Orchestrator`]) are
//! one such set; a team with its own `events.yaml` writes another, declares
//! it with [`crate::handlers!`] and serves it with [`crate::Server`].
//!
//! Why a trait with a type parameter rather than an object-safe trait
//! behind `dyn`: every route is monomorphised for the handler set, so the
//! ingest path calls the generated one-pass parser and `dispatch` directly
//! (no boxed future, no virtual call per event), exactly as when the
//! server only knew the orchestrator.

use std::future::Future;

use herald::lifecycle::{RunLifecycle, Status};
use herald::{Envelope, EventCatalog, EventContext};

use crate::change::RunChange;
use crate::runstate::{Layout, Rules};

/// The decoded event type of a handler set's catalog.
pub type EventOf<H> = <<H as Handlers>::Catalog as EventCatalog>::Event;

/// A handler set the server can serve: what each event of its catalog does
/// to its run, and what the server should know besides the catalog.
///
/// Write it with [`crate::handlers!`] for a type that implements the
/// generated `Handler` trait (whose `Output` is [`RunChange`]); implement
/// it by hand only for a handler set that is not one (a test double).
pub trait Handlers: Send + Sync + Sized + 'static {
    /// The generated catalog (`events::Catalog`): its registry, one-pass
    /// parser, envelope options, stream keys and lifecycle.
    type Catalog: RunLifecycle;

    /// Why a handler refused an event: answered 422 with its text, and
    /// nothing is stored (`Infallible` for pure handlers).
    type Error: std::fmt::Display + Send;

    /// The extension attribute that orders a run's events (`seq`), as the
    /// catalog declares it under `extensions:` (a 64-bit integer); `None`
    /// when the catalog declares none, and events are applied as they come.
    const SEQUENCE: Option<&'static str>;

    /// What `event` does to its run: the generated `dispatch(self, ctx,
    /// event)`. The server files the change under the event's run, the
    /// value of its type's `stream_key`, and adds the status move the
    /// catalog's lifecycle gives the event. An event of a type with
    /// `stream_key: none` is handled too (an `Err` refuses it), but it has
    /// no run: its change is dropped, and the event only stored.
    fn handle(&self, ctx: &EventContext<'_>, event: EventOf<Self>) -> impl Future<Output = Result<RunChange, Self::Error>> + Send;

    /// Which run fields are keyed collections, stored and paged item by
    /// item (a run gains one entry per node, order line, reading, …).
    /// None by default.
    fn layout() -> Layout {
        Layout::default()
    }

    /// The catalog's pages, assets, lifecycle diagrams and JSON Schemas,
    /// rendered at build time (see [`Site`]). Empty by default.
    fn site() -> Site {
        Site::EMPTY
    }

    /// What the server prints under `try:` when it starts, given its base
    /// URL (`http://127.0.0.1:8080`): commands that show the catalog at
    /// work, one a line. By default, listing the event types.
    fn try_commands(base: &str) -> String {
        format!("curl -sS {base}/api/event-types")
    }

    /// What the stores need: [`Handlers::layout`] and the initial status.
    fn rules() -> Rules {
        Rules { layout: Self::layout(), initial_status: Lifecycle::of::<Self::Catalog>().initial.to_owned() }
    }
}

/// Declare `$handlers`, a type that implements the generated `Handler`
/// trait of `$catalog` (with `Output = RunChange`), as a handler set the
/// server serves, its runs ordered by the extension `$sequence`:
///
/// ```ignore
/// herald_server::handlers!(Shipping: events::Catalog, sequence = Some("seq"));
/// ```
///
/// Everything else comes from the generated catalog. The optional block
/// holds the [`Handlers`] methods to override (`layout`, `site`,
/// `try_commands`):
///
/// ```ignore
/// herald_server::handlers!(Orchestrator: events::Catalog, sequence = Some("seq"), {
///     fn layout() -> Layout { Layout::new(["nodes", "stages"]) }
/// });
/// ```
#[macro_export]
macro_rules! handlers {
    ($handlers:ty : $catalog:ty, sequence = $sequence:expr $(, { $($item:item)* })? $(,)?) => {
        impl $crate::Handlers for $handlers {
            type Catalog = $catalog;
            type Error = <$catalog as ::herald::Dispatch<$handlers>>::Error;
            const SEQUENCE: ::core::option::Option<&'static str> = $sequence;

            fn handle(
                &self,
                ctx: &::herald::EventContext<'_>,
                event: $crate::catalog::EventOf<Self>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<$crate::RunChange, Self::Error>> + ::core::marker::Send {
                <$catalog as ::herald::Dispatch<$handlers>>::dispatch(self, ctx, event)
            }

            $($($item)*)?
        }
    };
}

/// The [`Site`] that `herald-codegen` rendered into `$OUT_DIR` from the
/// catalog `$name` (`"events"` for `events.yaml`) when the build script
/// asked for it with `Config::site(true)`:
///
/// ```ignore
/// // build.rs
/// herald_codegen::Config::new().catalog("events.yaml").site(true).compile().unwrap();
/// // src/main.rs
/// herald_server::handlers!(Shipping: events::Catalog, sequence = Some("seq"), {
///     fn site() -> herald_server::Site { herald_server::include_site!("events") }
/// });
/// ```
#[macro_export]
macro_rules! include_site {
    ($name:literal) => {{
        mod site {
            include!(concat!(env!("OUT_DIR"), "/", $name, "_site.rs"));
        }
        $crate::Site { files: site::FILES, lifecycle_svg: site::LIFECYCLE_SVG, schemas: site::SCHEMAS }
    }};
}

/// A catalog's run lifecycle, as the server shows and checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// Every status, in the order the catalog declares them.
    pub statuses: Vec<&'static str>,
    /// The status a new run starts in.
    pub initial: &'static str,
}

impl Lifecycle {
    /// The lifecycle with `statuses` (in catalog order) starting at
    /// `initial`.
    pub fn new(statuses: impl IntoIterator<Item = &'static str>, initial: &'static str) -> Self {
        Lifecycle { statuses: statuses.into_iter().collect(), initial }
    }

    /// The lifecycle `C` declares (its generated `RunStatus`), or
    /// [`Lifecycle::none`] when it declares none.
    pub fn of<C: RunLifecycle>() -> Self {
        match C::INITIAL {
            Some(initial) => Lifecycle::new(C::STATUSES.iter().map(|s| s.as_str()), initial.as_str()),
            None => Lifecycle::none(),
        }
    }

    /// For a catalog without a `lifecycle`: every run has the one status
    /// `active`, and no event moves it.
    pub fn none() -> Self {
        Lifecycle { statuses: vec!["active"], initial: "active" }
    }

    /// Whether `status` is one of the lifecycle's statuses.
    pub fn knows(&self, status: &str) -> bool {
        self.statuses.contains(&status)
    }
}

/// What `herald-codegen` renders from a catalog at build time for the
/// server to serve as they are: the catalog pages and assets (`/catalog`,
/// `/assets/…`), the lifecycle diagram per status (the run page), and the
/// catalog's JSON Schema export (embedded in `/openapi.json`).
///
/// A build script renders them with `herald_codegen::Config::site` and
/// [`crate::include_site!`] serves them; a handler set that does not serves
/// no catalog pages and documents each event type by the schema of its
/// `data` alone.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// Files by path under the site root (`index.html`,
    /// `types/{type}.html`, `assets/herald.css`, …).
    pub files: &'static [(&'static str, &'static str)],
    /// The lifecycle diagram (SVG) by the status it marks (`""`: none).
    pub lifecycle_svg: &'static [(&'static str, &'static str)],
    /// The JSON Schema export (`herald export jsonschema`), file name →
    /// document, as one JSON object; `""` when not rendered.
    pub schemas: &'static str,
}

impl Site {
    /// No pages, diagrams or schema export.
    pub const EMPTY: Site = Site { files: &[], lifecycle_svg: &[], schemas: "" };

    /// The file at `path` (`index.html`, `assets/herald.css`).
    pub fn file(&self, path: &str) -> Option<&'static str> {
        self.files.iter().find(|(p, _)| *p == path).map(|(_, text)| *text)
    }

    /// The lifecycle diagram with `status` marked (unmarked for a status
    /// the catalog does not know; `""` without diagrams).
    pub fn lifecycle_svg(&self, status: &str) -> &'static str {
        let find = |s: &str| self.lifecycle_svg.iter().find(|(k, _)| *k == s).map(|(_, v)| *v);
        find(status).or_else(|| find("")).unwrap_or("")
    }
}

impl Default for Site {
    fn default() -> Self {
        Site::EMPTY
    }
}

/// Check what the handler set says about its catalog against the
/// catalog: its [`Handlers::SEQUENCE`] extension must be one the catalog
/// declares as an integer (else every event would be applied unordered,
/// silently). Event types that belong to no run (`stream_key: none`) are
/// fine: they are stored and handled, and applied to no run.
pub fn check<H: Handlers>() -> Result<(), String> {
    if let Some(name) = H::SEQUENCE {
        // The catalog's own extension check refuses a non-integer value of
        // an extension it declares as an integer, and nothing else.
        let probe = format!(r#"{{"specversion":"1.0","id":"probe","source":"probe","type":"probe","{name}":"not a number"}}"#);
        let declared = match Envelope::parse(probe.as_bytes(), herald::EnvelopeOptions::default()) {
            Ok(envelope) => H::Catalog::check_extensions(&envelope).is_err(),
            Err(_) => false,
        };
        if !declared {
            return Err(format!(
                "the handler set orders events by the extension `{name}`, but the catalog does not declare it as an integer; \
                 declare it under `extensions:` (`{name}: {{type: integer, format: int64}}`) or set `SEQUENCE` to `None`"
            ));
        }
    }
    Ok(())
}

/// The `seq` of `envelope` under the handler set's sequence extension.
pub(crate) fn sequence_of<H: Handlers>(envelope: &Envelope<'_>) -> Option<i64> {
    H::SEQUENCE.and_then(|name| envelope.extension(name)).and_then(|v| v.as_i64())
}

/// Handler sets for tests, here and in `pipeline`.
#[cfg(test)]
pub(crate) mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::events::{Catalog, Event};
    use crate::orchestrator::Orchestrator;

    /// The orchestrator's handlers, but ordered by an extension the
    /// catalog does not declare.
    struct Misnamed;

    impl Handlers for Misnamed {
        type Catalog = Catalog;
        type Error = Infallible;
        const SEQUENCE: Option<&'static str> = Some("sequence");

        fn handle(&self, ctx: &EventContext<'_>, event: Event) -> impl Future<Output = Result<RunChange, Infallible>> + Send {
            Orchestrator.handle(ctx, event)
        }
    }

    /// A user signed up: no run involved.
    #[herald::cloud_event("test.user.signed_up", stream_key = none)]
    pub struct SignedUp {
        /// The new user.
        pub user_id: String,
    }

    herald::registry! {
        /// A catalog whose one event belongs to no run, and no lifecycle.
        pub mod runless {
            SignedUp,
        }
    }

    /// Handles `test.user.signed_up` (pub for the pipeline's tests).
    pub(crate) struct Runless;

    impl runless::Handler for Runless {
        type Output = RunChange;
        type Error = Infallible;

        async fn on_user_signed_up(&self, _: &EventContext<'_>, _: SignedUp) -> Result<RunChange, Infallible> {
            Ok(RunChange::new())
        }
    }

    crate::handlers!(Runless: runless::Catalog, sequence = None);

    #[test]
    fn the_sequence_extension_must_be_an_integer_the_catalog_declares() {
        assert_eq!(check::<Orchestrator>(), Ok(()));
        let e = check::<Misnamed>().unwrap_err();
        assert!(e.contains("extension `sequence`") && e.contains("does not declare it"), "{e}");
    }

    #[test]
    fn a_catalog_with_events_of_no_run_is_served() {
        assert_eq!(check::<Runless>(), Ok(()));
    }

    #[test]
    fn the_lifecycle_comes_from_the_catalog() {
        let l = Lifecycle::of::<Catalog>();
        assert_eq!((l.initial, l.statuses.as_slice()), ("queued", &["queued", "running", "completed", "failed", "canceled"][..]));
        assert_eq!(Orchestrator::rules().initial_status, "queued");
        assert_eq!(Lifecycle::of::<runless::Catalog>(), Lifecycle::none());
        assert_eq!(Runless::rules().initial_status, "active");
    }
}
