//! The one intermediate representation of an event catalog.
//!
//! Both front-ends meet here: the YAML loader (`catalog` + `lint`) and the
//! `#[cloud_event]` derive in `herald-macros`. Emitters only ever read this
//! IR, so a YAML-declared event and a struct-declared event produce the same
//! registry, `Event` enum, dispatch and handler trait.

use std::collections::BTreeMap;

use crate::ident;

/// A whole catalog: every event type plus catalog-wide options.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// The file the catalog came from, as it should appear in diagnostics
    /// (`events.yaml`), or a description such as `<registry AppEvents>`.
    pub source_name: String,
    /// The type prefix declared once at the top (`ai`): every event type is
    /// `{prefix}.{domain}.{action}`.
    pub prefix: String,
    /// Envelope parsing options the catalog turns on.
    pub envelope: EnvelopeOptions,
    /// Extension attributes the catalog declares (`seq`, `traceparent`),
    /// sorted by name; codegen emits typed accessors for them.
    pub extensions: Vec<ExtensionDecl>,
    /// Event types, sorted by their CloudEvents `type` (deterministic output).
    pub events: Vec<EventType>,
    /// The run status state machine, when the catalog declares one
    /// (`lifecycle:`); codegen emits `RunStatus`, `RunTransition` and
    /// `Event::transition` from it.
    pub lifecycle: Option<Lifecycle>,
    /// The compatibility mode `herald check --baseline` holds changes to
    /// (`compatibility:` at the top of the catalog, default BACKWARD).
    pub compatibility: Compatibility,
    /// Per-type overrides of [`Catalog::compatibility`] (an event's own
    /// `compatibility:` key), by CloudEvents `type`.
    pub type_compatibility: BTreeMap<String, Compatibility>,
    /// Version of the catalog-wide rules (`version:` at the top, default
    /// 1): the envelope rules, declared extensions and lifecycle statuses,
    /// which belong to no one event type. Raising it is to those what
    /// raising an [`EventType::version`] is to a type's data: `herald check
    /// --baseline` then reports their breaking changes as allowed.
    pub version: u32,
    /// Base URI of the exported JSON Schema documents' `$id`s (`base_uri:`
    /// at the top of the catalog, ending in `/`); `herald export
    /// --base-uri` overrides it.
    pub base_uri: Option<String>,
}

/// Which changes to a catalog are allowed, as schema registries define the
/// modes, for events a server validates and stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Compatibility {
    /// The new catalog accepts every event the old one accepted: producers
    /// that have not upgraded keep working.
    #[default]
    Backward,
    /// [`Compatibility::Backward`] against every earlier version.
    BackwardTransitive,
    /// The old catalog accepts every event the new one produces: consumers
    /// that have not upgraded keep working.
    Forward,
    /// [`Compatibility::Forward`] against every earlier version.
    ForwardTransitive,
    /// Both backward and forward.
    Full,
    /// [`Compatibility::Full`] against every earlier version.
    FullTransitive,
    /// No check: every change is allowed (still reported, as notes).
    None,
}

impl Compatibility {
    /// Every mode, in the order of their names in [`Compatibility::NAMES`].
    pub const ALL: [Compatibility; 7] = [
        Compatibility::Backward,
        Compatibility::BackwardTransitive,
        Compatibility::Forward,
        Compatibility::ForwardTransitive,
        Compatibility::Full,
        Compatibility::FullTransitive,
        Compatibility::None,
    ];
    /// The spelling of every mode in a catalog (upper case, as Confluent's
    /// schema registry spells them).
    pub const NAMES: [&'static str; 7] =
        ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"];

    /// The mode's name as written in a catalog (`BACKWARD_TRANSITIVE`).
    pub fn as_str(self) -> &'static str {
        let i = Self::ALL.iter().position(|m| *m == self).unwrap_or(0);
        Self::NAMES[i]
    }

    /// The mode named `name` (exact, upper case), if any.
    pub fn from_name(name: &str) -> Option<Compatibility> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    /// Whether the mode breaks on changes that reject events the old catalog
    /// accepted.
    pub fn checks_backward(self) -> bool {
        matches!(self, Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive)
    }

    /// Whether the mode breaks on changes that produce events the old
    /// catalog rejects.
    pub fn checks_forward(self) -> bool {
        matches!(self, Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive)
    }

    /// Whether the mode checks against every earlier version, not only the
    /// latest.
    pub fn is_transitive(self) -> bool {
        matches!(self, Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive)
    }
}

impl std::fmt::Display for Compatibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The run status state machine: which statuses a run can be in, and which
/// event moves it from which statuses to which.
///
/// The YAML loader guarantees what the emitter relies on: states are unique
/// lower snake case names, every state named elsewhere is declared, every
/// `on` is an event type of the catalog, no transition leaves a terminal
/// state, and no two transitions for one event can match the same data.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// What the status means (doc comment of the generated enum).
    pub description: String,
    /// Every status, in declared order (the order of `RunStatus::ALL`).
    pub states: Vec<String>,
    /// The status of a run before any event moved it.
    pub initial: String,
    /// Final statuses: no transition leaves them.
    pub terminal: Vec<String>,
    /// The transitions, in declared order.
    pub transitions: Vec<Transition>,
}

/// One transition: the event `on` (when its data matches `when`) moves a
/// run from any of `from` to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The CloudEvents `type` of the event that makes the transition.
    pub on: String,
    /// Conditions on the event's data, all of which must hold: required
    /// top-level property → the JSON value it must have (a string or a
    /// boolean). Empty means "always".
    pub when: BTreeMap<String, serde_json::Value>,
    /// The statuses the transition is legal from.
    pub from: Vec<String>,
    /// The status it moves the run to.
    pub to: String,
}

impl Lifecycle {
    /// Whether `state` is terminal (final).
    pub fn is_terminal(&self, state: &str) -> bool {
        self.terminal.iter().any(|t| t == state)
    }

    /// The transitions made by the event type `type_name`, in declared order.
    pub fn transitions_on<'a>(&'a self, type_name: &'a str) -> impl Iterator<Item = &'a Transition> + 'a {
        self.transitions.iter().filter(move |t| t.on == type_name)
    }
}

/// A declared CloudEvents extension attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionDecl {
    /// Attribute name: lower-case ASCII letters and digits only.
    pub name: String,
    /// The CloudEvents type of its value.
    pub kind: ExtensionKind,
    /// Human description (doc comment of the accessor).
    pub description: String,
}

/// CloudEvents extension value types Herald supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionKind {
    /// A string.
    String,
    /// A signed 32-bit integer.
    Integer,
    /// A boolean.
    Boolean,
}

/// Catalog-level switches that change how envelopes are parsed, and the
/// catalog's envelope rules (`envelope:`), which the runtime enforces and
/// every export states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// Accept the legacy nested `"extensions": {"seq": 1, "traceparent": "…"}`
    /// object and normalise it into top-level extension attributes.
    pub legacy_extensions_object: bool,
    /// Optional CloudEvents attributes every event must carry
    /// (`envelope.required`), sorted: a subset of [`REQUIRABLE`].
    pub required: Vec<String>,
    /// The one media type `data` may be sent as (`envelope.datacontenttype`,
    /// a JSON media type such as `application/json`), compared as media
    /// types are: ASCII case ignored, parameters stripped.
    pub datacontenttype: Option<String>,
    /// `subject` must equal the type's `subject:` template filled from
    /// `data` (`envelope.subject_matches_template`); checked for every type
    /// that has a template.
    pub subject_matches_template: bool,
    /// Declared extensions whose integers are 64-bit (`{type: integer,
    /// format: int64}`), sorted.
    pub int64_extensions: Vec<String>,
}

/// The optional CloudEvents attributes `envelope.required` may name.
pub const REQUIRABLE: [&str; 4] = ["datacontenttype", "dataschema", "subject", "time"];

impl EnvelopeOptions {
    /// Whether every event must carry `attribute`.
    pub fn requires(&self, attribute: &str) -> bool {
        self.required.iter().any(|a| a == attribute)
    }

    /// Whether the declared extension `name` is a 64-bit integer.
    pub fn is_int64(&self, name: &str) -> bool {
        self.int64_extensions.iter().any(|a| a == name)
    }
}

/// One event type, keyed by its CloudEvents `type`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    /// The CloudEvents `type` attribute, e.g. `ai.myfeature.started`.
    pub type_name: String,
    /// Human description; becomes the doc comment of everything generated
    /// for this type.
    pub description: String,
    /// Schema version of the event's data (starts at 1).
    pub version: u32,
    /// Optional `subject` template such as `run/{run_id}`.
    pub subject: Option<String>,
    /// The data property that keys the per-run stream (`run_id` by
    /// default; a required property), or `None` for an event that belongs
    /// to no run (`stream_key: none`): such events are validated,
    /// deduplicated, stored and dispatched, but not sequenced per run and
    /// never part of a lifecycle transition.
    pub stream_key: Option<String>,
    /// The JSON Schema of `data`: always an object schema, `$defs` inlined
    /// under its own `$defs` key, `$ref`s only of the form `#/$defs/Name`.
    /// Shorthand `fields:` have already been desugared into this.
    pub schema: serde_json::Value,
    /// Example `data` payloads (at least one for YAML-declared events).
    pub examples: Vec<serde_json::Value>,
    /// Where the data type comes from.
    pub data: DataSource,
    /// Where this event was declared, for diagnostics.
    pub origin: Origin,
}

/// Where the Rust type of an event's `data` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// Generate the struct from [`EventType::schema`] (YAML front-end).
    Generated,
    /// The user wrote the struct (derive front-end); the string is the
    /// path to it as seen from the generated code (e.g. `MyFeatureStarted`
    /// or `crate::events::MyFeatureStarted`).
    External(String),
}

/// Source location of a declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Declared in a YAML file.
    Yaml {
        /// File name as shown in diagnostics.
        file: String,
        /// 1-based line of the event's key.
        line: usize,
        /// 1-based column of the event's key.
        column: usize,
    },
    /// Declared on a Rust struct with `#[cloud_event]`.
    Rust {
        /// The struct's name.
        ident: String,
    },
    /// Built in code (tests, programmatic use).
    Synthetic,
}

impl EventType {
    /// The Rust name of the data struct and of the `Event` enum variant:
    /// the type with its prefix removed, in UpperCamelCase
    /// (`ai.run.stage_started` → `RunStageStarted`).
    pub fn rust_name(&self) -> String {
        match &self.data {
            DataSource::External(path) => path.rsplit("::").next().unwrap_or(path.as_str()).trim().to_string(),
            DataSource::Generated => ident::type_rust_name(&self.type_name),
        }
    }

    /// The handler trait method for this type (`ai.myfeature.started` →
    /// `on_myfeature_started`).
    pub fn handler_method(&self) -> String {
        ident::handler_method_name(&self.type_name)
    }
}

impl Catalog {
    /// An empty catalog with the given source name and prefix.
    pub fn new(source_name: impl Into<String>, prefix: impl Into<String>) -> Self {
        Catalog {
            source_name: source_name.into(),
            prefix: prefix.into(),
            envelope: EnvelopeOptions::default(),
            extensions: Vec::new(),
            events: Vec::new(),
            lifecycle: None,
            compatibility: Compatibility::default(),
            type_compatibility: BTreeMap::new(),
            version: 1,
            base_uri: None,
        }
    }

    /// The compatibility mode that holds for the event type `type_name`:
    /// its own override, else the catalog's.
    pub fn compatibility_of(&self, type_name: &str) -> Compatibility {
        self.type_compatibility.get(type_name).copied().unwrap_or(self.compatibility)
    }

    /// Sort events by type so that every emitter sees the same order.
    pub fn normalize(&mut self) {
        self.events.sort_by(|a, b| a.type_name.cmp(&b.type_name));
        self.extensions.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// Look up an event type by its CloudEvents `type`.
    pub fn event(&self, type_name: &str) -> Option<&EventType> {
        self.events.iter().find(|e| e.type_name == type_name)
    }
}
