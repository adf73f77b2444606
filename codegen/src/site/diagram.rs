//! The lifecycle state machine as an SVG: statuses as boxes, events as
//! labelled arrows, the initial status entered from a dot, terminal
//! statuses with a double border.
//!
//! Layout is computed, not hand-placed, so it follows `lifecycle:`: a
//! status's column is its longest distance from the initial status
//! (statuses no path reaches go last); statuses of one column stack vertically. An
//! arrow between neighbouring columns is straight; one that skips a column
//! or goes back dips below every box, so it never runs through one.
//!
//! Shapes are written with end tags (`<path …></path>`): inside HTML, an
//! SVG element without one swallows what follows, labels included.
//!
//! Colours are presentation attributes, so the file reads alone; the
//! pages' stylesheet overrides them through the classes (`node`,
//! `initial`, `terminal`, `current`, `edge`).

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::ir::Lifecycle;

const NODE_W: f64 = 150.0;
const NODE_H: f64 = 40.0;
const COL_GAP: f64 = 330.0;
const ROW_GAP: f64 = 72.0;
const MARGIN: f64 = 30.0;
const LINE: f64 = 14.0;

/// The diagram of `lifecycle`, with the status `current` (a run's) marked
/// `current` when given.
pub fn lifecycle_svg(lifecycle: &Lifecycle, current: Option<&str>) -> Markup {
    let columns = columns(lifecycle);
    let tallest = columns.values().map(Vec::len).max().unwrap_or(1) as f64;
    let body_h = tallest * ROW_GAP;
    // Centre of each status's box.
    let mut at: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (col, states) in &columns {
        let top = (body_h - states.len() as f64 * ROW_GAP) / 2.0;
        for (row, state) in states.iter().enumerate() {
            let x = MARGIN + 40.0 + NODE_W / 2.0 + *col as f64 * COL_GAP;
            let y = MARGIN + top + ROW_GAP * (row as f64 + 0.5);
            at.insert(state, (x, y));
        }
    }
    // One arrow per (from, to); events that make the same move share it.
    let mut edges: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for t in &lifecycle.transitions {
        let when: Vec<String> =
            t.when.iter().map(|(k, v)| format!("{k} = {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect();
        let label = if when.is_empty() { t.on.clone() } else { format!("{} [{}]", t.on, when.join(", ")) };
        for from in &t.from {
            edges.entry((from.as_str(), t.to.as_str())).or_default().push(label.clone());
        }
    }
    let col_of = |s: &str| columns.iter().find(|(_, v)| v.contains(&s)).map_or(0, |(c, _)| *c);
    let bottom = MARGIN + body_h;
    let mut lowest = bottom;
    let mut arrows = Vec::new();
    for ((from, to), labels) in &edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (at.get(from), at.get(to)) else { continue };
        let above = LINE * (labels.len() as f64 - 1.0);
        let (path, lx, ly) = if col_of(to) == col_of(from) + 1 {
            let (sx, ex) = (x1 + NODE_W / 2.0, x2 - NODE_W / 2.0);
            (format!("M{sx},{y1} L{ex},{y2}"), (sx + ex) / 2.0, (y1 + y2) / 2.0 - 6.0 - above)
        } else {
            // Out of the bottom of the source, along a lane under every
            // box, into the left side of the target from below-left (never
            // through a box of the target's column).
            let lane = lowest + 40.0 + above;
            lowest = lane;
            let (sy, ex, ey) = (y1 + NODE_H / 2.0, x2 - NODE_W / 2.0, y2 + NODE_H / 4.0);
            let cx = ex - 90.0;
            // The curve's point at t = 1/2, where its label goes.
            let (mx, my) = ((4.0 * x1 + 3.0 * cx + ex) / 8.0, (sy + 6.0 * lane + ey) / 8.0);
            // Labels sit under their curve, above the next lane's.
            (format!("M{x1},{sy} C{x1},{lane} {cx},{lane} {ex},{ey}"), mx, my + 14.0)
        };
        arrows.push((*from, *to, path, lx, ly, labels.clone()));
    }
    let width = MARGIN * 2.0 + 40.0 + NODE_W + (columns.len().max(1) - 1) as f64 * COL_GAP;
    let height = lowest + MARGIN / 2.0;
    let initial = at.get(lifecycle.initial.as_str()).copied();
    html! {
        svg xmlns="http://www.w3.org/2000/svg" class="lifecycle" viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height)
            role="img" aria-label="Run lifecycle: statuses and the events that move a run between them" {
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                    path d="M0,0 L10,5 L0,10 z" fill="#555" {}
                }
            }
            @if let Some((x, y)) = initial {
                g.start {
                    circle cx=(x - NODE_W / 2.0 - 30.0) cy=(y) r="6" fill="#333" {}
                    path.edge d=(format!("M{},{y} L{},{y}", x - NODE_W / 2.0 - 24.0, x - NODE_W / 2.0)) stroke="#555" fill="none" marker-end="url(#arrow)" {}
                }
            }
            @for (from, to, path, lx, ly, labels) in &arrows {
                g.edge data-from=(from) data-to=(to) {
                    path d=(path) stroke="#555" fill="none" marker-end="url(#arrow)" {}
                    @for (i, label) in labels.iter().enumerate() {
                        text x=(lx) y=(ly + i as f64 * LINE) text-anchor="middle" font-size="11" font-family="sans-serif" fill="#333" { (label) }
                    }
                }
            }
            @for state in &lifecycle.states {
                @if let Some(&(x, y)) = at.get(state.as_str()) {
                    @let terminal = lifecycle.is_terminal(state);
                    g.node.initial[*state == lifecycle.initial].terminal[terminal].current[current == Some(state.as_str())]
                        data-status=(state) id=(format!("status-{state}")) {
                        rect x=(x - NODE_W / 2.0) y=(y - NODE_H / 2.0) width=(NODE_W) height=(NODE_H) rx="8"
                            fill=(if current == Some(state.as_str()) { "#ffd54f" } else { "#fff" }) stroke="#333" stroke-width="1.5" {}
                        @if terminal {
                            rect x=(x - NODE_W / 2.0 + 4.0) y=(y - NODE_H / 2.0 + 4.0) width=(NODE_W - 8.0) height=(NODE_H - 8.0) rx="5"
                                fill="none" stroke="#333" stroke-width="1" {}
                        }
                        text x=(x) y=(y + 5.0) text-anchor="middle" font-size="14" font-family="sans-serif" fill="#111" { (state) }
                    }
                }
            }
        }
    }
}

/// Statuses by column: the longest way from the initial status along the
/// transitions (so a run reads left to right and final statuses come
/// last), with cycles cut at the number of statuses; statuses no path
/// reaches go in one last column; each column in declared order.
fn columns(lifecycle: &Lifecycle) -> BTreeMap<usize, Vec<&str>> {
    let cap = lifecycle.states.len();
    let mut dist: BTreeMap<&str, usize> = BTreeMap::from([(lifecycle.initial.as_str(), 0)]);
    for _ in 0..cap {
        let mut moved = false;
        for t in &lifecycle.transitions {
            for from in &t.from {
                let Some(&d) = dist.get(from.as_str()) else { continue };
                let to = dist.entry(t.to.as_str()).or_insert(0);
                if t.to != lifecycle.initial && *to < d + 1 && d + 1 < cap {
                    *to = d + 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let last = dist.values().max().map_or(0, |d| d + 1);
    let mut columns: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for state in &lifecycle.states {
        columns.entry(dist.get(state.as_str()).copied().unwrap_or(last)).or_default().push(state);
    }
    columns
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::ir::Transition;

    fn lifecycle() -> Lifecycle {
        let t = |on: &str, when: Option<(&str, &str)>, from: &[&str], to: &str| Transition {
            on: on.into(),
            when: when.map(|(k, v)| BTreeMap::from([(k.to_owned(), json!(v))])).unwrap_or_default(),
            from: from.iter().map(|s| (*s).to_owned()).collect(),
            to: to.into(),
        };
        Lifecycle {
            description: "status".into(),
            states: ["queued", "running", "completed", "failed"].map(String::from).to_vec(),
            initial: "queued".into(),
            terminal: vec!["completed".into(), "failed".into()],
            transitions: vec![
                t("ai.run.started", None, &["queued"], "running"),
                t("ai.run.completed", Some(("result", "success")), &["running"], "completed"),
                t("ai.run.failed", None, &["queued", "running"], "failed"),
            ],
        }
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let mut l = lifecycle();
        l.terminal.clear();
        l.transitions.push(Transition {
            on: "ai.run.retried".into(),
            when: BTreeMap::new(),
            from: vec!["failed".into()],
            to: "running".into(),
        });
        let cols = columns(&l);
        assert_eq!(cols.values().map(Vec::len).sum::<usize>(), 4);
        assert_eq!(cols[&0], ["queued"]);
    }

    #[test]
    fn columns_follow_distance_from_the_initial_status() {
        let l = lifecycle();
        let cols = columns(&l);
        assert_eq!(cols[&0], ["queued"]);
        assert_eq!(cols[&1], ["running"]);
        assert_eq!(cols[&2], ["completed", "failed"]);
    }

    #[test]
    fn every_status_is_a_node_and_every_move_a_labelled_edge() {
        let svg = lifecycle_svg(&lifecycle(), None).into_string();
        for s in ["queued", "running", "completed", "failed"] {
            assert!(svg.contains(&format!("data-status=\"{s}\"")), "{s} missing: {svg}");
        }
        assert_eq!(svg.matches("<g class=\"edge\"").count(), 4, "{svg}");
        assert!(svg.contains("ai.run.completed [result = success]"), "{svg}");
        assert!(svg.contains("class=\"node initial\""), "{svg}");
        assert_eq!(svg.matches("class=\"node terminal\"").count(), 2, "{svg}");
        assert!(!svg.contains("current"));
        // The skip edge queued → failed dips below the boxes (a curve), the neighbour edges are straight.
        assert!(svg.contains("data-from=\"queued\" data-to=\"failed\""));
        assert_eq!(svg.matches(" C").count(), 1, "{svg}");
    }

    #[test]
    fn the_current_status_is_marked() {
        let svg = lifecycle_svg(&lifecycle(), Some("running")).into_string();
        assert!(svg.contains("class=\"node current\" data-status=\"running\""), "{svg}");
        assert_eq!(svg.matches("current").count(), 1);
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        assert_eq!(lifecycle_svg(&lifecycle(), None).into_string(), lifecycle_svg(&lifecycle(), None).into_string());
    }
}
