//! The site as a whole: links per target, escaping, the pages' content.

use super::*;

const CATALOG: &str = r#"
prefix: ai
extensions:
  seq: {type: integer, format: int64, description: Per-run sequence number.}
  attempt: {type: integer, description: Delivery attempt.}
events:
  ai.run.started:
    description: "A run began. It says <script>alert(1)</script> & more."
    version: 2
    subject: "run/{run_id}"
    fields:
      run_id: uuid
      progress?: {type: number, minimum: 0, maximum: 1}
    examples:
      - run_id: d4a4b7db-8a88-45c1-84bf-a633dab24a25
  ai.node.done:
    description: A node finished.
    version: 1
    fields:
      run_id: uuid
      result: {type: string, enum: [success, failure]}
    examples:
      - {run_id: d4a4b7db-8a88-45c1-84bf-a633dab24a25, result: success}
lifecycle:
  description: Status of a run.
  states: [queued, running]
  initial: queued
  terminal: [running]
  transitions:
    - {on: ai.run.started, from: [queued], to: running}
"#;

fn catalog() -> Catalog {
    crate::catalog::parse("events.yaml", CATALOG).unwrap_or_else(|d| panic!("{d:?}"))
}

#[test]
fn the_static_site_links_relatively_and_has_every_page() {
    let files = render(&catalog(), Target::Static);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["assets/filter.js", "assets/herald.css", "index.html", "types/ai.node.done.html", "types/ai.run.started.html"]);
    let index = &files["index.html"];
    assert!(index.contains("href=\"types/ai.run.started.html\""), "{index}");
    assert!(index.contains("href=\"assets/herald.css\""));
    assert!(!index.contains("href=\"/"), "no absolute link in a static page: {index}");
    let page = &files["types/ai.run.started.html"];
    assert!(page.contains("href=\"../assets/herald.css\""));
    assert!(page.contains("href=\"../index.html\""));
    assert!(!page.contains("href=\"/"), "{page}");
}

#[test]
fn served_pages_link_to_the_server_routes() {
    let files = render(&catalog(), Target::Served);
    let index = &files["index.html"];
    assert!(index.contains("href=\"/catalog/ai.run.started\""));
    assert!(index.contains("href=\"/runs\""));
    assert!(index.contains("src=\"/assets/filter.js\""));
}

#[test]
fn catalog_text_is_escaped() {
    let files = render(&catalog(), Target::Static);
    let page = &files["types/ai.run.started.html"];
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "{page}");
}

#[test]
fn the_index_groups_by_domain_and_draws_the_lifecycle() {
    let index = &render(&catalog(), Target::Static)["index.html"];
    assert!(index.contains("data-domain=\"node\"") && index.contains("data-domain=\"run\""));
    assert!(index.find("data-domain=\"node\"") < index.find("data-domain=\"run\""));
    assert!(index.contains("<svg") && index.contains("data-status=\"queued\""));
    assert!(index.contains("id=\"filter\""));
}

#[test]
fn a_type_page_shows_rules_in_words_examples_schema_transitions_and_extensions() {
    let files = render(&catalog(), Target::Static);
    let page = &files["types/ai.run.started.html"];
    assert!(page.contains("0 ≤ progress ≤ 1"), "{page}");
    assert!(page.contains("string (uuid)"));
    assert!(page.contains("run/{run_id}"));
    assert!(page.contains("d4a4b7db-8a88-45c1-84bf-a633dab24a25"));
    assert!(page.contains("https://json-schema.org/draft/2020-12/schema"), "the JSON Schema export is shown");
    assert!(page.contains("<span class=\"status\">queued</span> to <span class=\"status\">running</span>"), "{page}");
    assert!(page.contains("Per-run sequence number."));
    let node = &files["types/ai.node.done.html"];
    assert!(node.contains("one of success, failure"));
    assert!(node.contains("does not change a run"));
}

#[test]
fn extensions_show_their_integer_width() {
    let index = &render(&catalog(), Target::Static)["types/ai.node.done.html"];
    let row = |name: &str| {
        let at = index.find(&format!("<code>{name}</code>")).unwrap_or_else(|| panic!("{name} listed: {index}"));
        index[at..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(row("seq").contains("integer (64-bit)"), "{}", row("seq"));
    assert!(row("attempt").contains("integer (32-bit)"), "{}", row("attempt"));
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render(&catalog(), Target::Static), render(&catalog(), Target::Static));
}

#[test]
fn maud_splices_escape_markup_and_attribute_quotes() {
    let hostile = "\"><script>alert('x')</script>&";
    let out = maud::html! { p title=(hostile) { (hostile) } }.into_string();
    assert_eq!(
        out,
        "<p title=\"&quot;&gt;&lt;script&gt;alert('x')&lt;/script&gt;&amp;\">&quot;&gt;&lt;script&gt;alert('x')&lt;/script&gt;&amp;</p>"
    );
}
/// Pages speak the JSON names producers send (`tests/catalogs/payloads.yaml`:
/// camelCase, keywords, dashes), never the Rust fields they map to, and
/// say when an event belongs to no run.
#[test]
fn pages_show_json_property_names() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/catalogs/payloads.yaml");
    let catalog = crate::catalog::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let files = render(&catalog, Target::Static);
    let sent = &files["types/kit.names.sent.html"];
    for name in ["runId", "fooBar", "dash-name", "HTTPStatus", "innerValue", "kit/{runId}"] {
        assert!(sent.contains(name), "the page lost `{name}`:\n{sent}");
    }
    for field in ["foo_bar", "http_status", "inner_value", "dash_name"] {
        assert!(!sent.contains(field), "the page shows the Rust field `{field}`:\n{sent}");
    }
    let signed_up = &files["types/kit.user.signed_up.html"];
    assert!(signed_up.contains("userId") && signed_up.contains("none"), "{signed_up}");
}
