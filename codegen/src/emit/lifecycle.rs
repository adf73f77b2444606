//! The run status state machine: `RunStatus`, `RunTransition` and
//! `Event::transition()`, from the catalog's `lifecycle:`.
//!
//! `transition()` is one `match` over every event: events that move the
//! status return their transition, `when` conditions become match guards
//! on the event's data, and everything else returns `None`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;
use typify_impl::{TypeDetails, TypeEnumVariant};

use super::{EmitOptions, docs};
use crate::ident::state_variant;
use crate::ir::{Catalog, EventType, Lifecycle, Transition};
use crate::schema::GeneratedTypes;
use crate::text::one_of;

/// Everything the lifecycle generates; nothing when the catalog has none.
/// `generated` is typify's output for YAML-declared data types, which lets
/// `when` compare enum fields with their variants; without it (or for a
/// type it does not know) a field is compared by its serialized value.
/// The catalog's `RunLifecycle` impl comes with it either way: with no
/// lifecycle, its status type is `NoStatus` and no event moves a run.
pub(super) fn emit_lifecycle(catalog: &Catalog, generated: Option<&GeneratedTypes>, opts: &EmitOptions) -> TokenStream {
    let herald = opts.herald();
    let Some(lc) = &catalog.lifecycle else {
        return quote! {
            /// The catalog declares no `lifecycle`: no status, and no event
            /// moves a run.
            #[automatically_derived]
            impl #herald::lifecycle::RunLifecycle for Catalog {
                type Status = #herald::lifecycle::NoStatus;

                const STATUSES: &'static [#herald::lifecycle::NoStatus] = &[];
                const INITIAL: ::core::option::Option<#herald::lifecycle::NoStatus> = ::core::option::Option::None;

                fn transition(
                    _: &Event,
                ) -> ::core::option::Option<#herald::lifecycle::StatusMove<#herald::lifecycle::NoStatus>> {
                    ::core::option::Option::None
                }
            }
        };
    };
    let status = emit_status(catalog, lc, opts);
    let transition = emit_transition(catalog, lc, generated, opts);
    quote! {
        #status
        #transition

        #[automatically_derived]
        impl #herald::lifecycle::Status for RunStatus {
            fn as_str(self) -> &'static str {
                RunStatus::as_str(self)
            }
        }

        /// [`RunStatus`] and [`Event::transition`], for code that is
        /// generic over catalogs (the server).
        #[automatically_derived]
        impl #herald::lifecycle::RunLifecycle for Catalog {
            type Status = RunStatus;

            const STATUSES: &'static [RunStatus] = RunStatus::ALL;
            const INITIAL: ::core::option::Option<RunStatus> = ::core::option::Option::Some(RunStatus::INITIAL);

            fn transition(__event: &Event) -> ::core::option::Option<#herald::lifecycle::StatusMove<RunStatus>> {
                __event.transition().map(|__t| #herald::lifecycle::StatusMove { from: __t.from, to: __t.to })
            }
        }
    }
}

fn variant(state: &str) -> syn::Ident {
    format_ident!("{}", state_variant(state))
}

/// `RunStatus`, its inherent API, `Display`/`FromStr` and the parse error.
fn emit_status(catalog: &Catalog, lc: &Lifecycle, opts: &EmitOptions) -> TokenStream {
    let herald = opts.herald();
    let serde_crate = format!("{}::__private::serde", opts.herald_path);
    let variants = lc.states.iter().map(|s| {
        let ident = variant(s);
        let mut text = format!("`{s}`");
        if *s == lc.initial {
            text.push_str(" (initial)");
        }
        if lc.is_terminal(s) {
            text.push_str(" (terminal)");
        }
        let entered: Vec<String> = lc
            .transitions
            .iter()
            .filter(|t| t.to == *s)
            .map(|t| format!("`{}`{}", t.on, when_text(t).map_or(String::new(), |w| format!(" with {w}"))))
            .collect();
        if !entered.is_empty() {
            text.push_str(&format!(": entered on {}", entered.join(", ")));
        }
        text.push('.');
        let doc = docs::doc(&text);
        quote! { #doc #[serde(rename = #s)] #ident }
    });
    let all = lc.states.iter().map(|s| variant(s));
    let initial = variant(&lc.initial);
    let as_str_arms = lc.states.iter().map(|s| {
        let ident = variant(s);
        quote! { RunStatus::#ident => #s }
    });
    let from_str_arms = lc.states.iter().map(|s| {
        let ident = variant(s);
        quote! { #s => ::core::result::Result::Ok(RunStatus::#ident) }
    });
    let is_terminal = if lc.terminal.is_empty() {
        quote! { let _ = self; false }
    } else {
        let terminal = lc.terminal.iter().map(|s| variant(s));
        quote! { ::core::matches!(self, #(RunStatus::#terminal)|*) }
    };
    let names: Vec<&str> = lc.states.iter().map(String::as_str).collect();
    let message = format!("unknown run status `{{}}`; expected {}", one_of(&names));

    let quoted = |items: &[String]| {
        let names: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
        match names.split_last() {
            Some((last, init)) if !init.is_empty() => format!("{} and {last}", init.join(", ")),
            _ => names.concat(),
        }
    };
    let mut summary = format!("Generated from the `lifecycle` of `{}`. A run starts `{}`", catalog.source_name, lc.initial);
    match lc.terminal.as_slice() {
        [] => summary.push('.'),
        [one] => summary.push_str(&format!("; `{one}` is terminal: no event moves a run out of it.")),
        many => summary.push_str(&format!("; {} are terminal: no event moves a run out of them.", quoted(many))),
    }
    let mut table = vec![
        lc.description.clone(),
        String::new(),
        summary,
        String::new(),
        "| event | when | from | to |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    for t in &lc.transitions {
        let from: Vec<String> = t.from.iter().map(|s| format!("`{s}`")).collect();
        table.push(format!("| `{}` | {} | {} | `{}` |", t.on, when_text(t).unwrap_or_default().replace('|', "\\|"), from.join(", "), t.to));
    }
    let doc = docs::doc(&table.join("\n"));

    quote! {
        #doc
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            #herald::__private::serde::Serialize,
            #herald::__private::serde::Deserialize
        )]
        #[serde(crate = #serde_crate)]
        pub enum RunStatus {
            #(#variants,)*
        }

        impl RunStatus {
            /// The status of a run before any event has moved it.
            pub const INITIAL: RunStatus = RunStatus::#initial;

            /// Every status, in the order the catalog declares them.
            pub const ALL: &'static [RunStatus] = &[#(RunStatus::#all),*];

            /// The status as it is written on the wire and in the catalog.
            pub fn as_str(self) -> &'static str {
                match self {
                    #(#as_str_arms,)*
                }
            }

            /// Whether the status is final: no event moves a run out of it.
            pub fn is_terminal(self) -> bool {
                #is_terminal
            }

            /// Whether `transition` is legal for a run in this status, i.e.
            /// whether this status is one of its `from` statuses. An event
            /// whose transition is not accepted must not be applied.
            pub fn accepts(self, transition: &RunTransition) -> bool {
                transition.from.contains(&self)
            }
        }

        impl ::core::fmt::Display for RunStatus {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for RunStatus {
            type Err = ParseRunStatusError;

            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                match s {
                    #(#from_str_arms,)*
                    _ => ::core::result::Result::Err(ParseRunStatusError {
                        input: ::std::string::ToString::to_string(s),
                    }),
                }
            }
        }

        /// The error of parsing a [`RunStatus`] from text that names no status.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        pub struct ParseRunStatusError {
            input: ::std::string::String,
        }

        impl ParseRunStatusError {
            /// The text that was parsed.
            pub fn input(&self) -> &str {
                &self.input
            }
        }

        impl ::core::fmt::Display for ParseRunStatusError {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::write!(f, #message, self.input)
            }
        }

        impl ::std::error::Error for ParseRunStatusError {}
    }
}

/// "`result` = `success`", for docs; `None` without `when`.
fn when_text(t: &Transition) -> Option<String> {
    if t.when.is_empty() {
        return None;
    }
    let parts: Vec<String> = t
        .when
        .iter()
        .map(|(field, value)| match value {
            Value::String(s) => format!("`{field}` = `{s}`"),
            other => format!("`{field}` = `{other}`"),
        })
        .collect();
    Some(parts.join(" and "))
}

/// `RunTransition` and `impl Event { fn transition }`.
fn emit_transition(catalog: &Catalog, lc: &Lifecycle, generated: Option<&GeneratedTypes>, opts: &EmitOptions) -> TokenStream {
    let mut arms = Vec::new();
    // Events that move nothing share one `None` arm.
    let mut none = Vec::new();
    for event in &catalog.events {
        let ev = format_ident!("{}", event.rust_name());
        let (guarded, unguarded): (Vec<&Transition>, Vec<&Transition>) =
            lc.transitions_on(&event.type_name).partition(|t| !t.when.is_empty());
        // The lints allow at most one transition per event to match any
        // data, so an unguarded one never comes with others; if the IR was
        // built by hand, the first unguarded one is the fallback.
        let fallback = match unguarded.first() {
            Some(t) => transition_value(t),
            None => quote!(::core::option::Option::None),
        };
        if guarded.is_empty() {
            match unguarded.first() {
                Some(_) => arms.push(quote! { Event::#ev(_) => #fallback }),
                None => none.push(quote! { Event::#ev(_) }),
            }
            continue;
        }
        let branches = guarded.iter().map(|t| {
            let conditions = t.when.iter().map(|(field, expected)| condition(event, field, expected, generated, opts));
            let value = transition_value(t);
            quote! { if #(#conditions)&&* { #value } }
        });
        arms.push(quote! {
            Event::#ev(__data) => {
                #(#branches)else* else { #fallback }
            }
        });
    }
    if !none.is_empty() {
        arms.push(quote! { #(#none)|* => ::core::option::Option::None });
    }
    let body = if catalog.events.is_empty() {
        quote! { match *self {} }
    } else {
        quote! { match self { #(#arms,)* } }
    };
    quote! {
        /// A change of [`RunStatus`] that an event makes: legal for a run in
        /// any of the `from` statuses, it moves the run to `to`.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash
        )]
        pub struct RunTransition {
            /// The statuses the transition is legal from.
            pub from: &'static [RunStatus],
            /// The status the transition moves a run to.
            pub to: RunStatus,
        }

        impl Event {
            /// The [`RunStatus`] transition this event makes, or `None` when
            /// it does not move the status (or its data matches no `when`
            /// of the catalog's transitions for it).
            ///
            /// Whether the transition is legal depends on the run's current
            /// status: ask [`RunStatus::accepts`].
            pub fn transition(&self) -> ::core::option::Option<RunTransition> {
                #body
            }
        }
    }
}

/// `Some(RunTransition { from, to })`.
fn transition_value(t: &Transition) -> TokenStream {
    let from = t.from.iter().map(|s| variant(s));
    let to = variant(&t.to);
    quote! {
        ::core::option::Option::Some(RunTransition {
            from: &[#(RunStatus::#from),*],
            to: RunStatus::#to,
        })
    }
}

/// `__data.<field>` has the value `expected` (a string or a boolean);
/// `property` is the field's JSON name.
fn condition(event: &EventType, property: &str, expected: &Value, generated: Option<&GeneratedTypes>, opts: &EmitOptions) -> TokenStream {
    let field = crate::ident::field_name(property);
    let ident = format_ident!("{}", field);
    let place = quote!(__data.#ident);
    if let Some(typed) = generated.and_then(|g| typed_condition(g, event, property, expected, &place)) {
        return typed;
    }
    // A type we know nothing about: compare what it serializes to.
    let herald = opts.herald();
    let test = match expected {
        Value::Bool(b) => quote!(__v == #b),
        Value::String(s) => quote!(__v == #s),
        // The lints allow only strings and booleans; compare JSON text.
        other => {
            let text = other.to_string();
            quote!(::std::string::ToString::to_string(&__v) == #text)
        }
    };
    quote! {
        #herald::__private::serde_json::to_value(&#place).is_ok_and(|__v| #test)
    }
}

/// The comparison for a field whose typify type is a plain `String`,
/// `bool` or a string enum; `property` is its JSON name.
fn typed_condition(
    generated: &GeneratedTypes,
    event: &EventType,
    property: &str,
    expected: &Value,
    place: &TokenStream,
) -> Option<TokenStream> {
    let space = &generated.space;
    let root = space.get_type(generated.roots.get(&event.type_name)?).ok()?;
    let TypeDetails::Struct(data) = root.details() else { return None };
    let field = crate::ident::field_name(property);
    let (_, prop_id) = data.properties().find(|(name, _)| *name == field)?;
    let prop = space.get_type(&prop_id).ok()?;
    match (prop.details(), expected) {
        (TypeDetails::String, Value::String(s)) => Some(quote! { #place == #s }),
        (TypeDetails::Builtin("bool"), Value::Bool(true)) => Some(quote! { #place }),
        (TypeDetails::Builtin("bool"), Value::Bool(false)) => Some(quote! { !#place }),
        (TypeDetails::Enum(e), Value::String(s)) => {
            // typify makes one unit variant per `enum` value, in order.
            let values = enum_values(event, property)?;
            let variants: Vec<_> = e.variants_info().collect();
            let simple = variants.iter().all(|v| matches!(v.details, TypeEnumVariant::Simple));
            if !simple || variants.len() != values.len() {
                return None;
            }
            let index = values.iter().position(|v| v == s)?;
            let ty = prop.ident();
            let variant: syn::Ident = syn::parse_str(variants[index].name).ok()?;
            Some(quote! { #place == #ty::#variant })
        }
        _ => None,
    }
}

/// The `enum` of a data property, through a `$ref` into `$defs`.
fn enum_values<'e>(event: &'e EventType, field: &str) -> Option<Vec<&'e str>> {
    let schema = crate::defs::resolve(&event.schema, event.schema.get("properties")?.get(field)?)?;
    schema.get("enum")?.as_array()?.iter().map(Value::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::DataSource;

    const CATALOG: &str = "prefix: ai
events:
  ai.run.completed:
    description: d
    version: 1
    fields: {run_id: uuid, result: {type: string, enum: [success, failure]}}
    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, result: success}]
  ai.run.canceled:
    description: d
    version: 1
    fields: {run_id: uuid, by: string}
    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, by: user}]
  ai.run.failed:
    description: d
    version: 1
    fields: {run_id: uuid, retryable: boolean}
    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, retryable: false}]
  ai.run.progress:
    description: d
    version: 1
    fields: {run_id: uuid}
    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}]
lifecycle:
  states: [queued, in_review, done, failed]
  initial: queued
  terminal: [done, failed]
  transitions:
    - {on: ai.run.completed, when: {result: success}, from: [queued], to: in_review}
    - {on: ai.run.completed, when: {result: failure}, from: [queued, in_review], to: failed}
    - {on: ai.run.canceled, when: {by: user}, from: [queued, in_review], to: failed}
    - {on: ai.run.failed, when: {retryable: false}, from: [in_review], to: failed}
    - {on: ai.run.failed, when: {retryable: true}, from: [in_review], to: done}
";

    fn render(tokens: TokenStream) -> String {
        crate::write::render(tokens, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whitespace-insensitive `contains`, since prettyplease decides the breaks.
    fn has(code: &str, needle: &str) -> bool {
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        squash(code).contains(&squash(needle))
    }

    #[test]
    fn when_compares_enums_strings_and_booleans_like_hand_written_code() {
        let catalog = crate::catalog::parse("t.yaml", CATALOG).unwrap_or_else(|e| panic!("{e}"));
        let code = render(super::super::emit_catalog(&catalog, &EmitOptions::default()).unwrap());
        for needle in [
            "if __data.result == RunCompletedResult::Success {",
            "} else if __data.result == RunCompletedResult::Failure {",
            "Event::RunCanceled(__data) => { if __data.by == \"user\" {",
            "if !__data.retryable {",
            "} else if __data.retryable {",
            "Event::RunProgress(_) => ::core::option::Option::None",
            "#[serde(rename = \"in_review\")] InReview,",
            "from: &[RunStatus::Queued, RunStatus::InReview], to: RunStatus::Failed,",
            "pub fn is_terminal(self) -> bool { ::core::matches!(self, RunStatus::Done | RunStatus::Failed) }",
        ] {
            assert!(has(&code, needle), "missing `{needle}` in:\n{code}");
        }
        // Guarded events whose data may match no `when` fall through to `None`.
        assert!(has(&code, "} else { ::core::option::Option::None }"), "{code}");
    }

    #[test]
    fn unknown_data_types_are_compared_by_their_serialized_value() {
        let mut catalog = crate::catalog::parse("t.yaml", CATALOG).unwrap_or_else(|e| panic!("{e}"));
        for event in &mut catalog.events {
            event.data = DataSource::External(event.rust_name());
        }
        let code = render(super::super::emit_catalog(&catalog, &EmitOptions::default()).unwrap_or_else(|d| panic!("{d}")));
        for needle in [
            "::herald::__private::serde_json::to_value(&__data.result).is_ok_and(|__v| __v == \"success\")",
            "::herald::__private::serde_json::to_value(&__data.retryable).is_ok_and(|__v| __v == false)",
        ] {
            assert!(has(&code, needle), "missing `{needle}` in:\n{code}");
        }
    }

    #[test]
    fn no_lifecycle_emits_no_status_type() {
        let mut catalog = crate::catalog::parse("t.yaml", CATALOG).unwrap_or_else(|e| panic!("{e}"));
        catalog.lifecycle = None;
        let code = render(super::super::emit_catalog(&catalog, &EmitOptions::default()).unwrap());
        assert!(!code.contains("RunStatus") && !code.contains("RunTransition"), "{code}");
        assert!(has(&code, "type Status = ::herald::lifecycle::NoStatus;"), "{code}");
    }

    #[test]
    fn a_custom_herald_path_reaches_serde() {
        let catalog = crate::catalog::parse("t.yaml", CATALOG).unwrap_or_else(|e| panic!("{e}"));
        let opts = EmitOptions { herald_path: "::facade::herald".to_string() };
        let code = render(emit_lifecycle(&catalog, None, &opts));
        assert!(has(&code, "::facade::herald::__private::serde::Serialize"), "{code}");
        assert!(has(&code, "#[serde(crate = \"::facade::herald::__private::serde\")]"), "{code}");
    }
}
