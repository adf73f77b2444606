//! What the server needs from a generated catalog and its handler set.
//!
//! The server is generic over one type, a [`Handlers`] implementation: the
//! handler set of some catalog, which names that catalog
//! ([`Handlers::Catalog`], the `Catalog` that `herald-codegen` generates)
//! and bridges the items the codegen emits per catalog — the `dispatch`
//! function, `Event::transition`, the lifecycle's status enum, the
//! extension accessors — to the server. The orchestrator's handlers
//! ([`crate::orchestrator::Orchestrator`]) are one such set; a team with
//! its own `events.yaml` writes another and serves it with
//! [`crate::Server`].
//!
//! Why a trait with a type parameter rather than an object-safe trait
//! behind `dyn`: every route is monomorphised for the handler set, so the
//! ingest path calls the generated one-pass parser and `dispatch` directly
//! (no boxed future, no virtual call per event), exactly as when the
//! server only knew the orchestrator. The bridge is a handful of
//! one-line methods because the generated `Handler` trait, `dispatch` and
//! the status enum are items of the user's crate, which a library cannot
//! name generically.

use std::future::Future;

use herald::{Envelope, EventCatalog, EventContext};

use crate::change::{RunChange, Transition};
use crate::runstate::{Layout, Rules};

/// The decoded event type of a handler set's catalog.
pub type EventOf<H> = <<H as Handlers>::Catalog as EventCatalog>::Event;

/// A handler set the server can serve: what each event of its catalog does
/// to its run, and the catalog facts the stores and routes need.
///
/// Implement it on the type that implements the generated `Handler` trait
/// (whose `Output` is [`RunChange`]); each method is one line over the
/// generated items:
///
/// ```ignore
/// impl herald_server::Handlers for Shipping {
///     type Catalog = events::Catalog;
///     type Error = std::convert::Infallible;
///     const SEQUENCE: Option<&'static str> = Some("seq");
///
///     fn handle(&self, ctx: &EventContext<'_>, event: events::Event) -> impl Future<Output = Result<RunChange, Infallible>> + Send {
///         events::dispatch(self, ctx, event)
///     }
///     fn transition(event: &events::Event) -> Option<Transition> {
///         event.transition().map(|t| Transition::new(t.from.iter().map(|s| s.as_str()), t.to.as_str()))
///     }
///     fn lifecycle() -> Lifecycle {
///         Lifecycle::new(events::RunStatus::ALL.iter().map(|s| s.as_str()), events::RunStatus::INITIAL.as_str())
///     }
/// }
/// ```
pub trait Handlers: Send + Sync + 'static {
    /// The generated catalog (`events::Catalog`): its registry, one-pass
    /// parser and envelope options.
    type Catalog: EventCatalog;

    /// Why a handler refused an event: answered 422 with its text, and
    /// nothing is stored (`Infallible` for pure handlers).
    type Error: std::fmt::Display + Send;

    /// The extension attribute that orders a run's events (`seq`), as the
    /// catalog declares it under `extensions:` (a 64-bit integer); `None`
    /// when the catalog declares none, and events are applied as they come.
    const SEQUENCE: Option<&'static str>;

    /// What `event` does to its run: the generated `dispatch(self, ctx,
    /// event)`. The change names the run, from the field the catalog
    /// declares as the event type's `stream_key`.
    fn handle(&self, ctx: &EventContext<'_>, event: EventOf<Self>) -> impl Future<Output = Result<RunChange, Self::Error>> + Send;

    /// The status move `event` requests, from the catalog's `lifecycle`
    /// (`event.transition()`, as strings); `None` for a catalog without
    /// one.
    fn transition(event: &EventOf<Self>) -> Option<Transition>;

    /// The catalog's run lifecycle: its statuses and the initial one.
    fn lifecycle() -> Lifecycle;

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
        Rules { layout: Self::layout(), initial_status: Self::lifecycle().initial.to_owned() }
    }
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
    /// `initial`: `Lifecycle::new(RunStatus::ALL.iter().map(|s| s.as_str()),
    /// RunStatus::INITIAL.as_str())` over the generated status enum.
    pub fn new(statuses: impl IntoIterator<Item = &'static str>, initial: &'static str) -> Self {
        Lifecycle { statuses: statuses.into_iter().collect(), initial }
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
/// `server/build.rs` shows how to render them; a handler set that does not
/// serves no catalog pages and documents each event type by the schema of
/// its `data` alone.
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
/// silently), and its lifecycle must start in one of its statuses.
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
    let lifecycle = H::lifecycle();
    if !lifecycle.knows(lifecycle.initial) {
        return Err(format!(
            "the lifecycle starts in `{}`, which is not one of its statuses ({})",
            lifecycle.initial,
            lifecycle.statuses.join(", ")
        ));
    }
    Ok(())
}

/// The `seq` of `envelope` under the handler set's sequence extension.
pub(crate) fn sequence_of<H: Handlers>(envelope: &Envelope<'_>) -> Option<i64> {
    H::SEQUENCE.and_then(|name| envelope.extension(name)).and_then(|v| v.as_i64())
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::Future;

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
        fn transition(event: &Event) -> Option<Transition> {
            Orchestrator::transition(event)
        }
        fn lifecycle() -> Lifecycle {
            Lifecycle::none()
        }
    }

    #[test]
    fn the_sequence_extension_must_be_an_integer_the_catalog_declares() {
        assert_eq!(check::<Orchestrator>(), Ok(()));
        let e = check::<Misnamed>().unwrap_err();
        assert!(e.contains("extension `sequence`") && e.contains("does not declare it"), "{e}");
    }

    #[test]
    fn the_orchestrator_lifecycle_comes_from_the_catalog() {
        let l = Orchestrator::lifecycle();
        assert_eq!((l.initial, l.statuses.as_slice()), ("queued", &["queued", "running", "completed", "failed", "canceled"][..]));
        assert_eq!(Orchestrator::rules().initial_status, "queued");
    }
}
