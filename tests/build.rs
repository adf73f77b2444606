//! Generates the project's event types from the workspace `events.yaml`,
//! for the integration tests and benchmarks; and those of the example's
//! catalog and of the every-construct fixture, for the export tests; and
//! those of the fixture of payloads as producers send them (`payloads.yaml`);
//! and those of the tagged unions fixture (`unions.yaml`).
//!
//! Also writes `for_each_event.rs`: a `for_each_event!` macro listing the
//! project catalog's handler methods and data types, so the tests that
//! implement the whole `Handler` trait follow `events.yaml` instead of
//! holding a copy of its list.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    for (catalog, name) in [
        ("../events.yaml", "events"),
        ("../examples/events.yaml", "shop"),
        ("catalogs/constructs.yaml", "constructs"),
        ("catalogs/payloads.yaml", "payloads"),
        ("catalogs/unions.yaml", "unions"),
    ] {
        herald_codegen::Config::new().catalog(catalog).file_name(name).compile().unwrap_or_else(|e| panic!("\n{e}\n"));
    }
    let project = herald_codegen::__private::catalog::load("../events.yaml".as_ref()).unwrap_or_else(|e| panic!("\n{e}\n"));
    let mut pairs = String::new();
    for event in &project.events {
        let _ = writeln!(pairs, "            {}({}),", event.handler_method(), event.rust_name());
    }
    let list = format!(
        "/// Calls `$m! {{ method(Type), … }}` with every handler method of the\n\
         /// project catalog and the data type it takes (also the `Event`\n\
         /// variant's name), in the catalog's order. Written by `build.rs`.\n\
         macro_rules! for_each_event {{\n    ($m:ident) => {{\n        $m! {{\n{pairs}        }}\n    }};\n}}\n"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("for_each_event.rs");
    if std::fs::read_to_string(&out).ok().as_deref() != Some(list.as_str()) {
        std::fs::write(&out, list).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    }
}
