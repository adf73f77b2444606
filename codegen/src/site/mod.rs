//! The catalog as web pages: an index grouped by domain (with a filter
//! box), a page per event type (fields and their rules in words, examples,
//! JSON Schema, lifecycle transitions, extensions) and the lifecycle as an
//! SVG diagram.
//!
//! One renderer, two places: a server's build script renders the pages
//! ([`crate::Config::site`], [`served`]) and `herald-server` serves them
//! under `/catalog` ([`Target::Served`]);
//! `herald docs -o DIR` writes them as a static site that works from
//! `file://` ([`Target::Static`], relative links only). Pages are plain
//! HTML and CSS; the only script filters the index and the pages work
//! without it.
//!
//! Every string from the catalog goes into the page through a maud splice,
//! so it is escaped by one function (maud's); nothing is concatenated into
//! markup by hand.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::ir::Catalog;

pub mod diagram;
mod pages;
pub mod served;
pub mod words;

pub use diagram::lifecycle_svg;

/// The pages' stylesheet (also used by the server's run pages).
pub const STYLE: &str = include_str!("herald.css");
/// The index's filter box: hides rows that do not match what is typed.
pub const FILTER_JS: &str = include_str!("filter.js");

/// Where the pages will live, which decides their links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Served by `herald-server`: `/catalog`, `/catalog/{type}`,
    /// `/assets/{file}`, with links to `/` and `/runs`.
    Served,
    /// A directory opened from disk: `index.html`, `types/{type}.html`,
    /// `assets/{file}`, every link relative.
    Static,
}

impl Target {
    /// `../` repeated `depth` times: from a page `depth` folders down back to the root.
    fn up(depth: usize) -> String {
        "../".repeat(depth)
    }

    /// Link to the index from a page `depth` folders down.
    pub(crate) fn index(self, depth: usize) -> String {
        match self {
            Target::Served => "/catalog".to_owned(),
            Target::Static => format!("{}index.html", Self::up(depth)),
        }
    }

    /// Link to the page of `type_name`.
    pub(crate) fn type_page(self, depth: usize, type_name: &str) -> String {
        match self {
            Target::Served => format!("/catalog/{type_name}"),
            Target::Static => format!("{}types/{type_name}.html", Self::up(depth)),
        }
    }

    /// Link to an asset (`herald.css`).
    pub(crate) fn asset(self, depth: usize, name: &str) -> String {
        match self {
            Target::Served => format!("/assets/{name}"),
            Target::Static => format!("{}assets/{name}", Self::up(depth)),
        }
    }
}

/// The file of `type_name`'s page, relative to the site root.
pub fn type_file(type_name: &str) -> String {
    format!("types/{type_name}.html")
}

/// Every file of the site: path relative to its root (`index.html`,
/// `types/{type}.html`, `assets/herald.css`) → contents. Deterministic:
/// the same catalog gives the same bytes.
pub fn render(catalog: &Catalog, target: Target) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    files.insert("index.html".to_owned(), pages::index(catalog, target));
    for event in &catalog.events {
        files.insert(type_file(&event.type_name), pages::event_type(catalog, event, target));
    }
    files.insert("assets/herald.css".to_owned(), STYLE.to_owned());
    files.insert("assets/filter.js".to_owned(), FILTER_JS.to_owned());
    files
}

/// The content type of a site file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// A whole page: head, the site's navigation, `body`, and `scripts`
/// (files under `assets/`, loaded deferred).
pub(crate) fn page(target: Target, depth: usize, title: &str, scripts: &[&str], body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Herald" }
                link rel="stylesheet" href=(target.asset(depth, "herald.css"));
                @for script in scripts {
                    script src=(target.asset(depth, script)) defer {}
                }
            }
            body {
                header.site {
                    nav {
                        @match target {
                            Target::Served => {
                                a.brand href="/" { "Herald" }
                                a href="/catalog" { "Catalog" }
                                a href="/runs" { "Runs" }
                            }
                            Target::Static => {
                                a.brand href=(target.index(depth)) { "Herald catalog" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
    .into_string()
}

/// Pretty JSON for a `<pre>` block (escaped by the splice like any text).
pub(crate) fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Trusted markup made here (the diagram) spliced without escaping again.
pub(crate) fn trusted(markup: Markup) -> PreEscaped<String> {
    PreEscaped(markup.into_string())
}

#[cfg(test)]
mod tests;
