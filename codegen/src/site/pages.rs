//! The catalog's two kinds of page: the index and one page per type.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::{Target, page, pretty, trusted, words};
use crate::export::{Options, jsonschema};
use crate::ir::{Catalog, EventType, ExtensionKind};

/// The `{domain}` of `{prefix}.{domain}.{action}`.
fn domain(type_name: &str) -> &str {
    type_name.split('.').nth(1).unwrap_or(type_name)
}

/// The first sentence of a description, for one-line lists.
fn summary(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.find(". ") {
        Some(i) => &line[..=i],
        None => line,
    }
}

/// The index: the lifecycle diagram, then every type grouped by domain.
pub(super) fn index(catalog: &Catalog, target: Target) -> String {
    let mut by_domain: BTreeMap<&str, Vec<&EventType>> = BTreeMap::new();
    for e in &catalog.events {
        by_domain.entry(domain(&e.type_name)).or_default().push(e);
    }
    let body = html! {
        h1 { "Event catalog" }
        p.lead {
            (catalog.events.len()) " event types, named " code { (catalog.prefix) ".{domain}.{action}" }
            ", declared in " code { (source_file(catalog)) } "."
        }
        @if let Some(lifecycle) = &catalog.lifecycle {
            section.lifecycle #lifecycle {
                h2 { "Run lifecycle" }
                p { (lifecycle.description) }
                figure.diagram { (trusted(super::lifecycle_svg(lifecycle, None))) }
            }
        }
        h2 { "Event types" }
        // Revealed by filter.js: without scripts every type is listed and
        // the box would do nothing.
        input #filter type="search" placeholder="Filter types: run progress, node…" aria-label="Filter event types" hidden;
        @for (domain, events) in &by_domain {
            section.domain data-domain=(domain) {
                h3 { (domain) }
                table.types {
                    thead { tr { th { "type" } th { "version" } th { "description" } } }
                    tbody {
                        @for e in events {
                            tr data-search=(format!("{} {}", e.type_name, e.description).to_lowercase()) {
                                td { a href=(target.type_page(0, &e.type_name)) { code { (e.type_name) } } }
                                td.num { (e.version) }
                                td { (summary(&e.description)) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(target, 0, "Event catalog", &["filter.js"], body)
}

fn source_file(catalog: &Catalog) -> String {
    std::path::Path::new(&catalog.source_name).file_name().map_or_else(|| catalog.source_name.clone(), |n| n.to_string_lossy().into_owned())
}

/// An extension's type in words; `wide`: declared `format: int64`.
fn extension_kind(kind: ExtensionKind, wide: bool) -> &'static str {
    match kind {
        ExtensionKind::String => "string",
        ExtensionKind::Integer if wide => "integer (64-bit)",
        ExtensionKind::Integer => "integer (32-bit)",
        ExtensionKind::Boolean => "boolean",
    }
}

/// A type's page.
pub(super) fn event_type(catalog: &Catalog, event: &EventType, target: Target) -> String {
    let depth = 1;
    let rows = words::fields(&event.schema);
    let schema = jsonschema::data_schema(event, &Options::default());
    let transitions: Vec<_> = catalog.lifecycle.iter().flat_map(|l| l.transitions_on(&event.type_name)).collect();
    let body: Markup = html! {
        p.crumbs { a href=(target.index(depth)) { "Catalog" } " / " (domain(&event.type_name)) }
        h1 { code { (event.type_name) } }
        @for para in event.description.split("\n\n") {
            p.description { (para) }
        }
        dl.meta {
            dt { "version" } dd { (event.version) }
            dt { "subject" } dd { @match &event.subject { Some(s) => { code { (s) } } None => { "—" } } }
            dt { "stream key" } dd {
                @match &event.stream_key {
                    Some(key) => code { (key) },
                    None => "none: the event belongs to no run",
                }
            }
            dt { "handler" } dd { code { (event.handler_method()) } }
            dt { "compatibility" } dd { (catalog.compatibility_of(&event.type_name).as_str()) }
        }
        h2 { "Fields" }
        @if rows.is_empty() {
            p { "No fields." }
        } @else {
            table.fields {
                thead { tr { th { "name" } th { "type" } th { "required" } th { "rules" } th { "description" } } }
                tbody {
                    @for row in &rows {
                        tr {
                            td { code { (row.name) } }
                            td { (row.ty) }
                            td { @if row.required { "yes" } @else { "no" } }
                            td.rules { @for (i, c) in row.constraints.iter().enumerate() { @if i > 0 { "; " } (c) } }
                            td { (row.description.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        h2 { "Lifecycle" }
        @if transitions.is_empty() {
            p { "This event does not change a run's status." }
        } @else {
            ul.transitions {
                @for t in &transitions {
                    li {
                        "from " @for (i, f) in t.from.iter().enumerate() { @if i > 0 { ", " } span.status { (f) } }
                        " to " span.status { (t.to) }
                        @if !t.when.is_empty() {
                            " when "
                            @for (i, (k, v)) in t.when.iter().enumerate() {
                                @if i > 0 { " and " }
                                code { (k) " = " (v.as_str().map_or_else(|| v.to_string(), str::to_owned)) }
                            }
                        }
                    }
                }
            }
            p { a href=(format!("{}#lifecycle", target.index(depth))) { "The whole lifecycle" } }
        }
        @if !catalog.extensions.is_empty() {
            h2 { "Extensions" }
            p { "CloudEvents extension attributes the catalog declares; any event may carry them." }
            table.fields {
                thead { tr { th { "name" } th { "type" } th { "description" } } }
                tbody {
                    @for x in &catalog.extensions {
                        tr { td { code { (x.name) } } td { (extension_kind(x.kind, catalog.envelope.is_int64(&x.name))) } td { (x.description) } }
                    }
                }
            }
        }
        h2 { "Examples" }
        @for (i, example) in event.examples.iter().enumerate() {
            h3 { "Example " (i + 1) }
            pre.json { (pretty(example)) }
        }
        h2 { "JSON Schema" }
        p { "The schema of " code { "data" } " (JSON Schema 2020-12, as " code { "herald export jsonschema" } " writes it)." }
        pre.json { (pretty(&schema)) }
    };
    page(target, depth, &event.type_name, &[], body)
}
