//! Where tracing goes: log lines to stderr, and with `--otlp-endpoint`,
//! each request's span to an OpenTelemetry collector over OTLP/HTTP
//! (protobuf).
//!
//! The exporter is the opentelemetry ecosystem's own (`opentelemetry-otlp`
//! with its blocking HTTP client, plain HTTP only: no TLS stack is built in
//! for it; put a collector on the host or next to it). Spans are handed to
//! a batch processor whose queue is bounded ([`QUEUE_SPANS`]): it runs on
//! a thread of its own, so a slow or dead collector costs that thread its
//! time, never a request; once the queue is full, new spans are dropped
//! rather than held.
//!
//! Which spans: the request span of [`crate::http::trace`] (and any other
//! span of this crate at INFO or above), whatever `RUST_LOG` says about log
//! lines. A caller's `traceparent` makes the request span a child of the
//! caller's span ([`set_remote_parent`]).
//!
//! Behind the default cargo feature `otlp`; without it `--otlp-endpoint`
//! is refused at start with a message saying so.

use axum::http::Uri;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Most spans waiting for export; past it, new spans are dropped.
pub const QUEUE_SPANS: usize = 2048;

/// The longest one export request may take before it is abandoned.
#[cfg(feature = "otlp")]
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long spans wait for more to fill a batch.
#[cfg(feature = "otlp")]
const BATCH_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// The OTLP/HTTP path of traces under a collector's base URL.
const TRACES_PATH: &str = "/v1/traces";

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("--otlp-endpoint: {0}")]
pub struct TelemetryError(String);

/// What must be shut down at exit: the span exporter, which sends what is
/// still queued (bounded by its export timeout).
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Send the spans still queued and stop the exporter. Blocks for at
    /// most the export timeout; call it outside async code.
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "the OTLP exporter did not shut down cleanly; the last spans may be lost");
        }
    }
}

/// The URL spans are posted to for the collector at `endpoint`: its base
/// URL plus `/v1/traces`, unless it already ends so. Only `http://`: the
/// exporter has no TLS stack.
pub fn traces_url(endpoint: &str) -> Result<String, String> {
    let uri: Uri = endpoint.parse().map_err(|e| format!("`{endpoint}` is not a URL ({e}); use e.g. http://127.0.0.1:4318"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "`{endpoint}`: https is not supported by the built-in exporter; use a collector reachable over plain \
                 http (e.g. an agent on this host at http://127.0.0.1:4318) that forwards over TLS"
            ));
        }
        _ => return Err(format!("`{endpoint}` has no http:// scheme; use e.g. http://127.0.0.1:4318")),
    }
    if uri.authority().is_none() {
        return Err(format!("`{endpoint}` has no host; use e.g. http://127.0.0.1:4318"));
    }
    let base = endpoint.trim_end_matches('/');
    Ok(if base.ends_with(TRACES_PATH) { base.to_owned() } else { format!("{base}{TRACES_PATH}") })
}

/// Log to stderr in `format` (filtered by `RUST_LOG`, default `info`), and
/// with `otlp_endpoint`, export request spans there. Call once, inside the
/// tokio runtime; keep the returned [`Telemetry`] until exit.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
    };
    let mut layers = vec![logs];
    let telemetry = match otlp_endpoint {
        None => Telemetry::default(),
        Some(endpoint) => {
            let url = traces_url(endpoint).map_err(TelemetryError)?;
            let (spans, telemetry) = otlp::layer(&url)?;
            layers.push(spans);
            telemetry
        }
    };
    // `try_init` fails only when a subscriber is already set (a second
    // server in one process): the first one's stays.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, queue = QUEUE_SPANS, "exporting request spans over OTLP/HTTP");
    }
    Ok(telemetry)
}

/// Make `span` a child of the caller's span named by `traceparent`, for
/// the exporter (a no-op without one, or without the `otlp` feature).
pub fn set_remote_parent(span: &tracing::Span, traceparent: &crate::http::trace::TraceParent<'_>) {
    #[cfg(feature = "otlp")]
    otlp::set_remote_parent(span, traceparent);
    #[cfg(not(feature = "otlp"))]
    let _ = (span, traceparent);
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider};
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::{Layer, Registry};

    use super::{BATCH_DELAY, EXPORT_TIMEOUT, QUEUE_SPANS, Telemetry, TelemetryError};

    /// The span layer exporting to `url`, and its provider to shut down.
    pub(super) fn layer(url: &str) -> Result<(Box<dyn Layer<Registry> + Send + Sync>, Telemetry), TelemetryError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TelemetryError(format!("cannot set up the OTLP exporter: {e}")))?;
        let batches = BatchConfigBuilder::default().with_max_queue_size(QUEUE_SPANS).with_scheduled_delay(BATCH_DELAY).build();
        let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batches).build();
        let resource = opentelemetry_sdk::Resource::builder().with_service_name("herald-server").build();
        let provider = SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource).build();
        let tracer = provider.tracer("herald-server");
        // This crate's spans only, at INFO and above, whatever RUST_LOG
        // says about log lines (the exporter's HTTP client logs through
        // tracing too; its spans must not be exported in turn).
        let ours = Targets::new().with_target(env!("CARGO_CRATE_NAME"), LevelFilter::INFO);
        let layer = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(ours).boxed();
        Ok((layer, Telemetry { provider: Some(provider) }))
    }

    pub(super) fn set_remote_parent(span: &tracing::Span, tp: &crate::http::trace::TraceParent<'_>) {
        let (Ok(trace_id), Ok(span_id)) = (TraceId::from_hex(tp.trace_id), SpanId::from_hex(tp.parent_id)) else { return };
        let remote = SpanContext::new(trace_id, span_id, TraceFlags::new(tp.flags), true, TraceState::default());
        // Fails only when no exporter is set up (the span is then not
        // exported anyway) or the span has already started.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
}

#[cfg(not(feature = "otlp"))]
mod otlp {
    use tracing_subscriber::{Layer, Registry};

    use super::{Telemetry, TelemetryError};

    pub(super) fn layer(_url: &str) -> Result<(Box<dyn Layer<Registry> + Send + Sync>, Telemetry), TelemetryError> {
        Err(TelemetryError(
            "this herald-server was built without the `otlp` feature; rebuild with default features to export spans".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn endpoints_are_http_base_urls() {
        assert_eq!(traces_url("http://127.0.0.1:4318").unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/").unwrap(), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/v1/traces").unwrap(), "http://c:4318/v1/traces");
        assert!(traces_url("https://c:4318").unwrap_err().contains("https is not supported"));
        assert!(traces_url("c:4318").is_err());
        assert!(traces_url("not a url").is_err());
        assert!(traces_url("/v1/traces").is_err());
    }
}
