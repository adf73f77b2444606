//! Parsing an event allocates nothing beyond its typed data: a counting
//! global allocator (this test binary's own) counts the allocations one
//! thread makes while `EventCatalog::parse_event` (and the two-pass
//! `Envelope::parse` + `Catalog::decode`) read valid events.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use herald::{Envelope, EventCatalog};
use herald_tests::events::Catalog;

struct Counting;

thread_local! {
    /// Allocations made by this thread while counting is on (`None`: off).
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a const-initialised thread local, which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or_default()
}

const RUN: &str = "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f";

fn envelope(extensions: &str, data: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"5b1c2a4e-0f3d-4c55-9a7e-1d2c3b4a5f60","source":"//orchestrator.example.com/workers/7","type":"ai.run.progress","subject":"run/{RUN}","time":"2024-05-01T12:30:00.250+02:00","datacontenttype":"application/json","dataschema":"https://schemas.example.com/ai/run/progress/v1.json",{extensions},"data":{data}}}"#
    )
}

#[test]
fn the_accept_path_allocates_only_typed_data() {
    let no_strings = format!(r#"{{"run_id":"{RUN}","progress":0.25,"iteration":3,"max_iterations":10}}"#);
    let one_string = format!(r#"{{"run_id":"{RUN}","progress":0.25,"current_step":"drafting"}}"#);
    let top = r#""seq":12,"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01""#;
    let legacy = r#""extensions":{"seq":12,"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
    for (extensions, data, typed_allocations) in
        [(top, &no_strings, 0), (legacy, &no_strings, 0), (top, &one_string, 1), (legacy, &one_string, 1)]
    {
        let text = envelope(extensions, data);
        // Warm up: thread-local scratch space is made on first use.
        let parsed = Catalog::parse_event(text.as_bytes()).expect("valid envelope");
        assert!(parsed.event.is_ok(), "{:?}", parsed.event);
        drop(parsed);

        let n = allocations(|| {
            let parsed = Catalog::parse_event(text.as_bytes()).expect("valid envelope");
            assert!(parsed.event.is_ok());
            std::hint::black_box(&parsed);
        });
        assert_eq!(n, typed_allocations, "one pass: {text}");

        let n = allocations(|| {
            let envelope = Envelope::parse(text.as_bytes(), Catalog::ENVELOPE).expect("valid envelope");
            let event = Catalog::decode(&envelope);
            assert!(event.is_ok());
            std::hint::black_box((&envelope, &event));
        });
        assert_eq!(n, typed_allocations, "two passes: {text}");
    }
}

#[test]
fn the_counter_counts() {
    assert_eq!(allocations(|| drop(std::hint::black_box(String::from("x")))), 1);
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8; 3]))), 1);
}
