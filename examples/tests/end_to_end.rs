//! Both front-ends end to end: envelope → registry lookup → typed,
//! validated data → `dispatch` → the handler method for the type.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use herald::{DataError, Envelope, EventCatalog, EventContext, EventData};
use herald_examples::shop::{self, Catalog, Event, Handler};
use herald_examples::struct_events::{RefundPaid, RefundRequested, refunds};
use herald_examples::yaml_only;

const RUN: &str = "7d3c2a8e-0f51-4b8e-9a57-2f5a8b1c9d00";

fn envelope(ty: &str, data: &str) -> Vec<u8> {
    format!(r#"{{"specversion":"1.0","id":"e-1","source":"/shop","type":"{ty}","seq":3,"data":{data}}}"#).into_bytes()
}

/// Records which method handled what.
struct Shop;

impl Handler for Shop {
    type Output = String;
    type Error = String;

    async fn on_order_placed(&self, _: &EventContext<'_>, data: shop::OrderPlaced) -> Result<String, String> {
        Ok(format!("placed {} cents", data.total_cents))
    }

    async fn on_order_shipped(&self, _: &EventContext<'_>, data: shop::OrderShipped) -> Result<String, String> {
        Ok(format!("shipped by {}", data.carrier))
    }

    async fn on_refund_requested(&self, ctx: &EventContext<'_>, data: RefundRequested) -> Result<String, String> {
        let seq = ctx.extension("seq").and_then(|v| v.as_i32());
        Ok(format!("refund {} cents ({}), seq {seq:?}", data.amount_cents, data.reason))
    }

    async fn on_refund_paid(&self, _: &EventContext<'_>, data: RefundPaid) -> Result<String, String> {
        Ok(format!("paid {}", data.reference))
    }
}

fn handle(body: &[u8]) -> Result<String, DataError> {
    let env = Envelope::parse(body, Catalog::ENVELOPE).expect("valid envelope");
    let event = Catalog::decode(&env)?;
    let ctx = EventContext::new(&env);
    Ok(block_on(shop::dispatch(&Shop, &ctx, event)).expect("handler never fails"))
}

#[test]
fn yaml_and_struct_events_share_one_registry() {
    let types: Vec<&str> = Catalog::TYPES.iter().map(|t| t.type_name).collect();
    assert_eq!(types, ["shop.order.placed", "shop.order.shipped", "shop.refund.paid", "shop.refund.requested"]);
    let info = Catalog::lookup("shop.refund.requested").expect("registered");
    assert_eq!(info.version, 2);
    assert_eq!(info.handler_method, "on_refund_requested");
    assert_eq!(info.subject, Some("order/{run_id}"));
    assert_eq!(info.description, "A refund was requested for an order.");
    assert_eq!(info.schema, RefundRequested::SCHEMA);
    // The YAML-only module and the combined one agree on the YAML types.
    assert_eq!(yaml_only::Catalog::lookup("shop.order.placed").map(|i| i.schema), Catalog::lookup("shop.order.placed").map(|i| i.schema));
    assert_eq!(refunds::Catalog::TYPES.len(), 2);
}

#[test]
fn dispatch_reaches_yaml_and_struct_handlers() {
    let placed = format!(r#"{{"run_id":"{RUN}","customer_email":"ada@example.com","total_cents":4200,"items":["book"]}}"#);
    assert_eq!(handle(&envelope("shop.order.placed", &placed)).unwrap(), "placed 4200 cents");

    let refund =
        format!(r#"{{"run_id":"{RUN}","amount_cents":500,"reason":"broken","share":0.25,"requested_at":"2024-05-01T10:00:00+02:00"}}"#);
    assert_eq!(handle(&envelope("shop.refund.requested", &refund)).unwrap(), "refund 500 cents (broken), seq Some(3)");

    let paid = format!(r#"{{"run_id":"{RUN}","ref":"pp-77"}}"#);
    assert_eq!(handle(&envelope("shop.refund.paid", &paid)).unwrap(), "paid pp-77");
}

#[test]
fn struct_constraints_are_validated_with_pointers() {
    let bad = format!(r#"{{"run_id":"{RUN}","amount_cents":0,"reason":"no","share":1.5}}"#);
    let err = handle(&envelope("shop.refund.requested", &bad)).unwrap_err();
    let mut pointers = err.pointers();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/data/amount_cents", "/data/reason", "/data/share"], "{err}");

    // Optional means absent, not null; uuids are strict like the schema.
    for data in [
        format!(r#"{{"run_id":"{RUN}","ref":"x","details":null}}"#),
        r#"{"run_id":"{7d3c2a8e-0f51-4b8e-9a57-2f5a8b1c9d00}","ref":"x"}"#.to_string(),
        format!(r#"{{"run_id":"{RUN}","reference":"x"}}"#),
    ] {
        assert!(matches!(handle(&envelope("shop.refund.paid", &data)), Err(DataError::Shape { .. })), "{data}");
    }
}

#[test]
fn unknown_types_are_rejected() {
    let err = handle(&envelope("shop.order.lost", "{}")).unwrap_err();
    assert!(matches!(err, DataError::UnknownType { .. }), "{err:?}");
}

#[test]
fn struct_events_serialize_to_their_schema_shape() {
    let e = RefundPaid { run_id: RUN.parse().unwrap(), reference: "pp-1".into(), details: None };
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json, serde_json::json!({"run_id": RUN, "ref": "pp-1"}));
    let _: Event = Event::RefundPaid(e);
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
