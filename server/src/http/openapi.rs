//! `GET /openapi.json`: the server's OpenAPI 3.1 document.
//!
//! The document is generated from the routes, not written beside them:
//! each handler carries a `#[utoipa::path]` (method, path, parameters,
//! responses), and [`Routes::route`] registers the handler at exactly
//! that method and path while adding the operation to the document. A
//! route cannot exist undocumented, nor be documented at another path.
//!
//! Three things are added once here rather than on every handler:
//! - the responses the layers around every route can give (`layer_responses`:
//!   a framework 400, the body timeout's 408, the head limits' 414/431, a
//!   caught panic's 500, the connection cap's 503, and on routes that need
//!   a key, 401/403/429);
//! - the API-key scheme (`Authorization: Bearer <key>`), asked for on every
//!   route but [`crate::auth::OPEN_PATHS`] when the server has keys;
//! - the event types, from the catalog: the handler set's [`Site`] holds
//!   the catalog's JSON Schema export (what `herald export jsonschema`
//!   writes, embedded by build.rs), and [`catalog_components`] turns its
//!   documents into components: `{type}` (an event type's `data`),
//!   `{type}.event` (a whole event of that type), `CloudEvent` (any event of
//!   the catalog) and `CloudEventBatch`. Without an export, each type's
//!   `data` schema comes from the registry, and `CloudEvent` is any event
//!   of one of its types;
//! - the lifecycle statuses a `status` filter takes.

use axum::body::Bytes;
use axum::handler::Handler;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Extension, Router};
use herald::EventCatalog;
use serde_json::{Map, Value, json};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Paths, Ref, ResponseBuilder};

use super::problem::PROBLEM_JSON;
use crate::catalog::Site;

/// The name of the security scheme in the document.
const API_KEY: &str = "api_key";

/// A router whose routes are documented as they are added (`T`: the
/// router's state).
pub struct Routes<T> {
    router: Router<T>,
    paths: Paths,
}

impl<T: Clone + Send + Sync + 'static> Routes<T> {
    /// No routes yet.
    pub fn new() -> Self {
        Routes { router: Router::new(), paths: Paths::new() }
    }

    /// Serve `handler` at the method(s) and path of its `#[utoipa::path]`
    /// (`doc` is the `__path_{handler}` type that attribute generates), and
    /// document it.
    pub fn route<P: utoipa::Path, H: Handler<X, T>, X: 'static>(mut self, _doc: P, handler: H) -> Self {
        let (path, methods) = (P::path(), P::methods());
        let on = methods.iter().fold(MethodRouter::new(), |on, m| on.on(method_filter(m), handler.clone()));
        self.router = self.router.route(&path, on);
        self.paths.add_path_operation(&path, methods, P::operation());
        self
    }

    /// The router, with `GET /openapi.json` serving the finished document
    /// (`keys_required`, `catalog`, `statuses`: see [`document`]).
    pub fn finish(mut self, keys_required: bool, catalog: Map<String, Value>, statuses: &[&str]) -> Router<T> {
        self.paths.add_path_operation("/openapi.json", vec![HttpMethod::Get], <__path_openapi_json as utoipa::Path>::operation());
        let document = Document(Bytes::from(document(self.paths, keys_required, catalog, statuses).to_string()));
        self.router.route("/openapi.json", axum::routing::get(openapi_json).layer(Extension(document)))
    }
}

impl<T: Clone + Send + Sync + 'static> Default for Routes<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn method_filter(method: &HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Trace => MethodFilter::TRACE,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Options => MethodFilter::OPTIONS,
    }
}

/// The serialized document, built once when the routes are.
#[derive(Clone)]
pub struct Document(Bytes);

/// `GET /openapi.json`: this document (OpenAPI 3.1). Open like the health
/// checks: clients and tools read it before they have a key, and it says
/// nothing the catalog pages do not.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server.", content_type = "application/json", body = Object)))]
pub async fn openapi_json(Extension(Document(text)): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// The whole document: the routes' operations, the layers' responses, the
/// security scheme, the response schemas and the catalog's event types
/// (`catalog`, from [`catalog_components`]) and lifecycle `statuses`.
/// `keys_required`: the server checks API keys, so every route but
/// [`crate::auth::OPEN_PATHS`] asks for one (a server without keys asks
/// for none, and the document says so).
pub fn document(mut paths: Paths, keys_required: bool, catalog: Map<String, Value>, statuses: &[&str]) -> Value {
    for (path, item) in paths.paths.iter_mut() {
        let secured = keys_required && !crate::auth::OPEN_PATHS.contains(&path.as_str());
        let methods = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for op in methods.into_iter().flatten() {
            layer_responses(op, secured);
            // A route that takes a body needs one (without, ingest has no
            // media type to go by: 415).
            if let Some(body) = op.request_body.as_mut() {
                body.required = Some(utoipa::openapi::Required::True);
            }
        }
    }
    let mut api = <Schemas as utoipa::OpenApi>::openapi();
    api.paths = paths;
    api.info.title = "Herald".to_owned();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api.info.description = Some(
        "CloudEvents ingest and run-state queries. Events are validated against the catalog (`events.yaml`), \
         deduplicated on (source, id), stored durably before the answer, and applied in `seq` order. \
         Every error is an RFC 9457 problem document (`application/problem+json`)."
            .to_owned(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        API_KEY.to_owned(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key (`--keys-file` or `HERALD_KEYS`) as `Authorization: Bearer <key>`, or as the password of \
                     HTTP Basic credentials (any user name; what a browser sends when a page asks). Required on every route \
                     but /healthz, /readyz and /openapi.json when the server has keys (its operations then list this \
                     scheme); a server without keys (loopback only) asks for none.",
                ))
                .build(),
        ),
    );
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.extend(catalog);
        if let Some(filter) = schemas.get_mut("StatusFilter").and_then(Value::as_object_mut) {
            filter.insert("enum".to_owned(), json!(statuses));
        }
    }
    doc
}

/// The responses the layers around every route can give, added to `op`
/// where the handler did not document that status itself.
fn layer_responses(op: &mut Operation, secured: bool) {
    let mut add = |status: &str, description: &str, headers: &[(&str, &str)]| {
        let mut response =
            ResponseBuilder::new().description(description).content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))));
        for (name, what) in headers {
            response = response.header(*name, utoipa::openapi::Header::builder().description(Some(*what)).build());
        }
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| response.build().into());
    };
    add("400", "The path or query could not be decoded.", &[]);
    add("408", "The request body did not arrive within `--body-timeout`.", &[]);
    add("414", "The request target (path and query) is over 65534 bytes.", &[]);
    add("431", "The request head is over `--max-header-bytes`, or has more than `--max-headers` fields.", &[]);
    add("500", "A bug: the server failed while handling the request; nothing it carried was acknowledged.", &[]);
    add(
        "503",
        "The server is at `--max-connections`, or the store cannot take the request now; retry later.",
        &[("retry-after", "Seconds to wait before retrying.")],
    );
    if secured {
        add(
            "401",
            "No key, or an unknown one.",
            &[("www-authenticate", "`Bearer realm=\"herald\"`; on the pages and event streams also `Basic realm=\"herald\"`.")],
        );
        add("403", "The key does not grant this (reading, or ingesting these events).", &[]);
        add("429", "The key is over its rate limit.", &[("retry-after", "Seconds to wait before retrying.")]);
        op.security = Some(vec![SecurityRequirement::new(API_KEY, Vec::<String>::new())]);
    }
}

/// The catalog's JSON Schema documents as OpenAPI components. Each
/// document keeps its content; what changes is how it is addressed: its
/// `$id` and `$schema` go (the document is a component now), references
/// to another document's `$id` become references to that component, and
/// references inside a document (`#/$defs/…`) are anchored at its
/// component.
pub fn catalog_components<C: EventCatalog>(site: &Site) -> Map<String, Value> {
    if site.schemas.is_empty() {
        return registry_components::<C>();
    }
    let docs: Map<String, Value> = serde_json::from_str(site.schemas).unwrap_or_default();
    let component_name = |file: &str| match file.strip_suffix(".json") {
        Some("index") => "CloudEvent".to_owned(),
        Some(name) => name.replace(".envelope", ".event"),
        None => file.to_owned(),
    };
    let by_id: Vec<(String, String)> =
        docs.iter().filter_map(|(file, doc)| Some((doc.get("$id")?.as_str()?.to_owned(), component_name(file)))).collect();
    let mut out = Map::new();
    for (file, mut doc) in docs {
        let name = component_name(&file);
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("$id");
            obj.remove("$schema");
        }
        relocate_refs(&mut doc, &format!("#/components/schemas/{name}"), &by_id);
        out.insert(name, doc);
    }
    out.insert("CloudEventBatch".to_owned(), batch_component());
    out
}

/// Without the catalog's export: each type's `data` schema as the
/// registry holds it, and `CloudEvent` as any CloudEvents v1.0 event of
/// one of the catalog's types.
fn registry_components<C: EventCatalog>() -> Map<String, Value> {
    let mut out = Map::new();
    for info in C::TYPES {
        let mut schema: Value = serde_json::from_str(info.schema).unwrap_or_else(|_| json!({}));
        relocate_refs(&mut schema, &format!("#/components/schemas/{}", info.type_name), &[]);
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("description".to_owned(), json!(info.description));
        }
        out.insert(info.type_name.to_owned(), schema);
    }
    let types: Vec<&str> = C::TYPES.iter().map(|t| t.type_name).collect();
    out.insert(
        "CloudEvent".to_owned(),
        json!({
            "type": "object",
            "description": "A CloudEvents v1.0 event of one of the catalog's types; its `data` follows the schema named by its `type`.",
            "required": ["specversion", "id", "source", "type"],
            "properties": {
                "specversion": {"const": "1.0"},
                "id": {"type": "string", "minLength": 1},
                "source": {"type": "string", "minLength": 1},
                "type": {"enum": types},
            },
        }),
    );
    out.insert("CloudEventBatch".to_owned(), batch_component());
    out
}

/// `CloudEventBatch`: an array of `CloudEvent`s.
fn batch_component() -> Value {
    json!({
        "type": "array",
        "description": "A batch (`application/cloudevents-batch+json`): events of the catalog. An element that is not \
                        an object, or not CloudEvents v1.0, refuses the whole batch (400); any other fault of an element \
                        is answered at its index in the 200 answer, so an element only needs to be an object here.",
        "items": {"anyOf": [{"$ref": "#/components/schemas/CloudEvent"}, {"type": "object"}]},
    })
}

/// Rewrite every `$ref` in `schema`: a document's `$id` → its component,
/// a local `#/…` → the same place under `base`.
fn relocate_refs(schema: &mut Value, base: &str, by_id: &[(String, String)]) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref") {
                if let Some(local) = target.strip_prefix('#') {
                    *target = format!("{base}{local}");
                } else if let Some((_, name)) = by_id.iter().find(|(id, _)| id == target) {
                    *target = format!("#/components/schemas/{name}");
                }
            }
            map.values_mut().for_each(|v| relocate_refs(v, base, by_id));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| relocate_refs(v, base, by_id)),
        _ => {}
    }
}

/// The response schemas the handlers' `#[utoipa::path]`s refer to by name.
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(
        super::problem::Problem,
        crate::runstate::Outcome,
        super::ingest::Ingested,
        super::ingest::Acknowledged,
        super::ingest::BatchAnswer,
        super::ingest::BatchItem,
        crate::store::RunPage,
        crate::store::RunView,
        crate::store::HistoryEntry,
        super::query::RunDetail,
        super::query::RunEvents,
        crate::store::StoredEvent,
        super::query::RunItems,
        crate::store::Item,
        super::query::EventTypes,
        super::query::EventTypeInfo,
        super::query::Health,
        super::query::Readiness,
        super::query::StatusFilter,
    )),
    tags(
        (name = "ingest", description = "Send events: structured, binary or batch mode."),
        (name = "runs", description = "Read runs, their events and collections; follow their changes."),
        (name = "catalog", description = "The event types this server accepts."),
        (name = "operations", description = "Health, readiness and metrics."),
        (name = "pages", description = "HTML pages for people."),
        (name = "meta", description = "This document."),
    )
)]
struct Schemas;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `doc` names something that exists in `doc`.
    fn dangling_refs(doc: &Value) -> Vec<String> {
        fn walk(v: &Value, root: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').unwrap_or(target);
                        let pointer = pointer.replace("~1", "/").replace("~0", "~");
                        if root.pointer(&pointer).is_none() {
                            out.push(target.clone());
                        }
                    }
                    map.values().for_each(|v| walk(v, root, out));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, root, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(doc, doc, &mut out);
        out
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let doc = document(Paths::new(), true, orchestrator_components(), &["queued", "running"]);
        assert_eq!(doc["components"]["schemas"]["StatusFilter"]["enum"], json!(["queued", "running"]));
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(dangling_refs(&doc), Vec::<String>::new());
    }

    fn orchestrator_components() -> Map<String, Value> {
        use crate::catalog::Handlers;
        catalog_components::<crate::events::Catalog>(&crate::orchestrator::Orchestrator::site())
    }

    #[test]
    fn without_an_export_the_registry_documents_each_type() {
        let doc = document(Paths::new(), false, catalog_components::<crate::events::Catalog>(&Site::EMPTY), &[]);
        assert_eq!(dangling_refs(&doc), Vec::<String>::new());
        let schemas = &doc["components"]["schemas"];
        for info in crate::events::Catalog::TYPES {
            let registered: Value = serde_json::from_str(info.schema).unwrap();
            assert_eq!(schemas[info.type_name]["properties"], relocated(&registered["properties"], info.type_name), "{}", info.type_name);
        }
        assert_eq!(schemas["CloudEvent"]["properties"]["type"]["enum"].as_array().unwrap().len(), crate::events::Catalog::TYPES.len());
    }

    #[test]
    fn every_catalog_type_has_its_data_and_event_schema() {
        let components = orchestrator_components();
        for info in crate::events::Catalog::TYPES {
            let data = &components[info.type_name];
            let registered: Value = serde_json::from_str(info.schema).unwrap();
            // The data schema is the catalog's, annotated (title, examples), not rewritten.
            assert_eq!(data["properties"], relocated(&registered["properties"], info.type_name), "{}", info.type_name);
            let event = &components[&format!("{}.event", info.type_name)];
            assert_eq!(event["properties"]["type"]["const"], info.type_name);
            assert_eq!(event["properties"]["data"]["$ref"], format!("#/components/schemas/{}", info.type_name));
        }
        let any: Vec<&str> = components["CloudEvent"]["oneOf"].as_array().unwrap().iter().map(|r| r["$ref"].as_str().unwrap()).collect();
        assert_eq!(any.len(), crate::events::Catalog::TYPES.len());
    }

    fn relocated(schema: &Value, type_name: &str) -> Value {
        let mut schema = schema.clone();
        relocate_refs(&mut schema, &format!("#/components/schemas/{type_name}"), &[]);
        schema
    }

    #[test]
    fn local_and_cross_document_refs_are_relocated() {
        let mut schema = json!({"a": {"$ref": "#/$defs/x"}, "b": [{"$ref": "https://h/t.json"}]});
        relocate_refs(&mut schema, "#/components/schemas/t.event", &[("https://h/t.json".into(), "t".into())]);
        assert_eq!(schema, json!({"a": {"$ref": "#/components/schemas/t.event/$defs/x"}, "b": [{"$ref": "#/components/schemas/t"}]}));
    }
}
