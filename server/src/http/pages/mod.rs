//! The web pages: the root, the catalog (rendered by `herald-codegen` at
//! build time and handed over as the handler set's [`Site`]), the runs
//! table and a run's page.
//!
//! Plain HTML and CSS, with one script (`live.js`) that refreshes a page
//! when its run changes; every page works without it. Every string that
//! comes from events, run ids or queries enters a page through a maud
//! splice, escaped by one function (maud's). Each page is sent with a
//! Content-Security-Policy that allows only this server's own scripts,
//! styles and fetches, so markup that slipped through still could not run.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::catalog::{Handlers, Site};

pub mod run;
pub mod runs;

/// The page script: follows the stream named by `main[data-stream]`.
const LIVE_JS: &str = include_str!("live.js");

/// Only this server's own scripts, styles, images and fetches; no inline
/// script or style, no frames, no plugins, no `<base>`, forms post back here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether a browser opens `path` by itself: the pages, their assets, and
/// the event streams the pages follow. With API keys, these 401s also ask
/// for HTTP Basic credentials, so a browser prompts for the key.
pub fn opened_by_browsers(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
    path == "/"
        || under("/catalog")
        || under("/runs")
        || under("/assets")
        || path == "/api/stream"
        || (path.starts_with("/api/runs/") && path.ends_with("/stream"))
}

/// An HTML answer with the headers every page carries.
pub fn html_page(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A page of the server's own (the catalog pages carry theirs): the same
/// head and navigation as the catalog. `stream`: the URL of the
/// Server-Sent Events `live.js` follows to refresh the page.
pub fn layout(title: &str, stream: Option<&str>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Herald" }
                link rel="stylesheet" href="/assets/herald.css";
                @if stream.is_some() { script src="/assets/live.js" defer {} }
            }
            body {
                header.site {
                    nav {
                        a.brand href="/" { "Herald" }
                        a href="/catalog" { "Catalog" }
                        a href="/runs" { "Runs" }
                        @if stream.is_some() { span.live #live { "updates on reload" } }
                    }
                }
                main data-stream=[stream] { (body) }
            }
        }
    }
    .into_string()
}

/// An HTML error page (404, 400, 503) in the site's layout.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    html_page(status, layout(title, None, html! { h1 { (title) } p { (message) } p { a href="/" { "Start page" } } }))
}

/// The start page.
#[utoipa::path(get, path = "/", tag = "pages", responses((status = 200, description = "HTML.", content_type = "text/html; charset=utf-8", body = String)))]
pub async fn home() -> Response {
    let body = html! {
        h1 { "Herald" }
        p.lead { "CloudEvents declared once in " code { "events.yaml" } ", validated, stored and applied to runs." }
        div.cards {
            div.card {
                h3 { a href="/catalog" { "Event catalog" } }
                p { "Every event type: fields and their rules, examples, JSON Schema, and the run lifecycle." }
            }
            div.card {
                h3 { a href="/runs" { "Runs" } }
                p { "Every run: its status, current feature, progress, events and what waits for a " code { "seq" } " gap." }
            }
            div.card {
                h3 { "API" }
                p { code { "POST /api/ingest/event" } ", " code { "GET /api/runs" } ", " code { "GET /api/event-types" } "; see the README." }
            }
        }
    };
    html_page(StatusCode::OK, layout("Herald", None, body))
}

fn catalog_file(site: &Site, path: &str) -> Response {
    match site.file(path) {
        Some(text) => html_page(StatusCode::OK, text.to_owned()),
        None if site.files.is_empty() => {
            error_page(StatusCode::NOT_FOUND, "this server has no catalog pages; GET /api/event-types lists the event types")
        }
        None => error_page(StatusCode::NOT_FOUND, "no such event type in the catalog; the catalog page lists them"),
    }
}

/// The catalog: every event type.
#[utoipa::path(get, path = "/catalog", tag = "pages", responses((status = 200, description = "HTML.", content_type = "text/html; charset=utf-8", body = String)))]
pub async fn catalog_index<H: Handlers>() -> Response {
    catalog_file(&H::site(), "index.html")
}

/// `GET /catalog/` and `GET /runs/`: people type the slash; the pages
/// live without it (their relative links are written for that), so send
/// them there permanently, keeping the query.
pub async fn to_without_slash(uri: axum::http::Uri) -> Response {
    let path = uri.path().trim_end_matches('/');
    let target = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    axum::response::Redirect::permanent(&target).into_response()
}

/// `/catalog/` → `/catalog` (query kept).
#[utoipa::path(get, path = "/catalog/", tag = "pages",
    responses((status = 308, description = "To `/catalog`.", headers(("location" = String, description = "`/catalog`, with the query.")))))]
pub async fn catalog_slash(uri: axum::http::Uri) -> Response {
    to_without_slash(uri).await
}

/// `/runs/` → `/runs` (query kept).
#[utoipa::path(get, path = "/runs/", tag = "pages",
    responses((status = 308, description = "To `/runs`.", headers(("location" = String, description = "`/runs`, with the query.")))))]
pub async fn runs_slash(uri: axum::http::Uri) -> Response {
    to_without_slash(uri).await
}

/// One event type's page.
#[utoipa::path(get, path = "/catalog/{type}", tag = "pages",
    params(("type" = String, Path, description = "A CloudEvents `type` of the catalog.")),
    responses((status = 200, description = "HTML.", content_type = "text/html; charset=utf-8", body = String), (status = 404, description = "Not in the catalog (HTML).", content_type = "text/html; charset=utf-8", body = String)))]
pub async fn catalog_type<H: Handlers>(Path(type_name): Path<String>) -> Response {
    // A table lookup: a hostile name finds nothing, it never reaches a path.
    catalog_file(&H::site(), &format!("types/{type_name}.html"))
}

/// The pages' stylesheet and scripts.
#[utoipa::path(get, path = "/assets/{file}", tag = "pages",
    params(("file" = String, Path, description = "`herald.css`, `filter.js`, `live.js`.", example = "herald.css")),
    responses(
        (status = 200, description = "The file.", content(("text/css; charset=utf-8"), ("text/javascript; charset=utf-8"))),
        (status = 404, description = "No such asset (HTML).", content_type = "text/html; charset=utf-8", body = String),
    ))]
pub async fn asset<H: Handlers>(Path(name): Path<String>) -> Response {
    let text = match name.as_str() {
        "live.js" => Some(LIVE_JS),
        _ => H::site().files.iter().find(|(p, _)| p.strip_prefix("assets/") == Some(name.as_str())).map(|(_, t)| *t),
    };
    match text {
        Some(text) => {
            let ct = if name.ends_with(".css") { "text/css; charset=utf-8" } else { "text/javascript; charset=utf-8" };
            ([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], text)
                .into_response()
        }
        None => error_page(StatusCode::NOT_FOUND, "no such asset"),
    }
}

/// A path segment with everything but unreserved characters
/// percent-encoded, for links that carry a run id.
pub fn path_segment(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}
