//! Codegen's modules import each other in one direction only: syntax →
//! reader and lints → IR → checks → emit, with the exports and the tools
//! on top (the `herald` CLI is a crate of its own, `cli/`). A cycle would tie two layers together again (as `catalog`
//! ⇄ `lint` once did), so this test reads the sources and fails on one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its non-test code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.parent() == Some(&src) && path.ends_with("lib.rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            let module = relative.iter().next().and_then(|c| c.to_str()).expect("utf-8 path").trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).expect("read source");
            let uses = graph.entry(module.clone()).or_default();
            uses.extend(crate_uses(&text).into_iter().filter(|m| *m != module));
        }
    }
    graph
}

/// The modules `crate::x` and `crate::{x, y::z}` name outside comments and
/// `#[cfg(test)]` code (tests may build a catalog from YAML anywhere).
fn crate_uses(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or_default().split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let name: String = name.trim().chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
                if !name.is_empty() && name != "self" {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// A cycle of `graph`, as the path around it, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(graph: &Graph, node: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten().filter(|n| graph.contains_key(*n)) {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn codegen_modules_import_each_other_in_one_direction() {
    let graph = graph();
    assert!(graph.contains_key("catalog") && graph.contains_key("lint"), "{graph:?}");
    if let Some(cycle) = cycle(&graph) {
        let edges: Vec<String> =
            graph.iter().map(|(m, uses)| format!("{m} -> {}", uses.iter().cloned().collect::<Vec<_>>().join(" "))).collect();
        panic!("module cycle: {}\n{}", cycle.join(" -> "), edges.join("\n"));
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(
        crate_uses("use crate::{check, lint::x};\n// crate::no\nlet y = crate::ir::X;"),
        BTreeSet::from(["check".into(), "ir".into(), "lint".into()])
    );
}
