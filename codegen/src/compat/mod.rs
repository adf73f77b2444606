//! Breaking-change check: compare two catalogs at the IR level.
//!
//! [`diff`] lists every change between an old and a new [`Catalog`] as a
//! [`Change`]: what changed, whether it rejects events the old catalog
//! accepted (it breaks *backward* compatibility) and whether it produces
//! events the old catalog rejects (it breaks *forward* compatibility).
//! [`judge`] then holds each change to the compatibility mode of its event
//! type ([`Compatibility`], set by `compatibility:` in the catalog) and says
//! whether it breaks, is allowed because the type's `version` was raised,
//! or is compatible. [`check`] does both against a baseline and, for the
//! `_TRANSITIVE` modes, against every earlier version of the file.
//!
//! The rules live by subject: `rules` for event types, the lifecycle and
//! extensions; `envelope` for the catalog's envelope rules and its own
//! settings (`compatibility:`, `version:`); `schema` for the JSON Schema
//! of `data`.
//!
//! # Which mode and which version govern a change
//!
//! A change that belongs to one event type ([`Scope::Type`]) is held to
//! that type's mode *in the new catalog* (its override, else the catalog's)
//! — the mode being changed in the same commit included, as schema
//! registries apply the mode in force when the new schema is registered; the
//! change of mode itself is reported as a compatible change, so a review
//! sees it. A raised type `version` allows its breaks. A change that belongs
//! to the catalog as a whole ([`Scope::Catalog`]: an envelope rule, a
//! declared extension, a lifecycle status) reaches every type, so it breaks
//! when the mode of *any* type breaks on it; the catalog's own `version:`
//! allows its breaks. Positions in the
//! new file come from [`locate`]; reading a catalog at a git revision from
//! [`baseline`]; text and JSON output from [`report`].

pub mod baseline;
mod envelope;
pub mod locate;
pub mod report;
mod rules;
mod schema;

use std::collections::BTreeSet;

use crate::ir::{Catalog, Compatibility};

pub use locate::Locator;
pub use report::Report;

/// What a change does to one direction of compatibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Impact {
    /// No effect in this direction.
    None,
    /// Some events may be rejected; Herald cannot tell for sure (a changed
    /// `pattern`). Treated as breaking.
    Possibly(String),
    /// Some events are rejected; the text says which.
    Breaks(String),
}

impl Impact {
    /// Some events are rejected, because `why`.
    pub fn breaks(why: impl Into<String>) -> Impact {
        Impact::Breaks(why.into())
    }

    /// [`Impact::Breaks`] when `cond` holds, else [`Impact::None`].
    pub fn breaks_if(cond: bool, why: impl FnOnce() -> String) -> Impact {
        if cond { Impact::Breaks(why()) } else { Impact::None }
    }

    /// Some events may be rejected, because `why`.
    pub fn possibly(why: impl Into<String>) -> Impact {
        Impact::Possibly(why.into())
    }

    /// Whether the change has an effect in this direction.
    pub fn is_some(&self) -> bool {
        !matches!(self, Impact::None)
    }

    fn why(&self) -> Option<&str> {
        match self {
            Impact::None => None,
            Impact::Possibly(w) | Impact::Breaks(w) => Some(w),
        }
    }
}

/// What a change belongs to, which decides the mode and the `version`
/// that govern it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One event type, named by [`Change::type_name`]: its mode, its
    /// `version`.
    Type,
    /// The whole catalog (envelope rules, extensions, lifecycle statuses,
    /// the catalog's settings): every type's mode, the catalog's `version`.
    Catalog,
}

/// One difference between two catalogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The event type the change belongs to (its mode and `version`
    /// decide the verdict), or a label such as `envelope`, `lifecycle` or
    /// `extension seq` for catalog-wide changes.
    pub type_name: String,
    /// Whether the change belongs to one type or to the whole catalog.
    pub scope: Scope,
    /// Property path inside `data` (`["metrics", "duration_ms"]`, `[]` for
    /// array items, `*` for map values); empty for the type itself.
    pub path: Vec<String>,
    /// The schema keyword that changed (`minimum`), for positions.
    pub keyword: Option<String>,
    /// What changed, e.g. ``field `priority` added as required``.
    pub what: String,
    /// Effect on backward compatibility (old events, new catalog).
    pub backward: Impact,
    /// Effect on forward compatibility (new events, old catalog).
    pub forward: Impact,
    /// How to make it compatible.
    pub fix: String,
}

/// Every change from `old` to `new`, in a stable order (by type, then as
/// the schemas are walked).
pub fn diff(old: &Catalog, new: &Catalog) -> Vec<Change> {
    let mut out = Vec::new();
    envelope::settings(old, new, &mut out);
    envelope::rules(old, new, &mut out);
    rules::event_types(old, new, &mut out);
    rules::lifecycle(old, new, &mut out);
    rules::extensions(old, new, &mut out);
    out
}

/// How a change stands under its type's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// It breaks the mode: the check fails.
    Breaking,
    /// It would break the mode, but the type's `version` (the catalog's,
    /// for a catalog-wide change) was raised.
    Allowed,
    /// The mode allows it.
    Compatible,
}

/// A change judged against the mode that holds for it, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// File name as diagnostics show it.
    pub file: String,
    /// 1-based line in the new file, 0 when unknown.
    pub line: usize,
    /// 1-based column in the new file, 0 when unknown.
    pub column: usize,
    /// The change.
    pub change: Change,
    /// The mode it was held to.
    pub mode: Compatibility,
    /// The outcome.
    pub verdict: Verdict,
    /// Which mode it breaks and why, or why it is allowed.
    pub reason: String,
    /// The version it was compared against (`HEAD~1`, a short commit),
    /// when not the baseline itself.
    pub against: Option<String>,
    /// Where the changed node was in the old file, when the new file no
    /// longer has it (a removed field, type, keyword or extension).
    pub was: Option<Position>,
}

/// A place in a catalog file as messages show it: `FILE:LINE:COL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file (`HEAD~1:events.yaml` for a version in git).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl Finding {
    /// The fix to show: the change's own for a break, the migration path
    /// for an allowed break, "nothing to do" for a compatible change.
    pub fn fix(&self) -> &str {
        match self.verdict {
            // One envelope for every type: there are no two versions to
            // serve side by side, only an order to upgrade in.
            Verdict::Allowed if self.change.scope == Scope::Catalog => {
                if self.mode.checks_backward() && self.change.backward.is_some() {
                    "migrate: upgrade every producer to follow the new rule first, then the servers"
                } else {
                    "migrate: upgrade the servers and consumers first, then the producers"
                }
            }
            Verdict::Allowed => "migrate: serve both versions side by side, or upgrade the producers first, then the consumers",
            // What the other direction would need is in the reason.
            Verdict::Compatible => "nothing to do",
            Verdict::Breaking => &self.change.fix,
        }
    }
}

/// Hold each change to the mode that governs it in `new` (see the module
/// documentation).
pub fn judge(old: &Catalog, new: &Catalog, changes: Vec<Change>, locator: &Locator, against: Option<&str>) -> Vec<Finding> {
    changes
        .into_iter()
        .map(|change| {
            let (mode, whose) = mode_of(old, new, &change);
            let (verdict, mut reason) = verdict(old, new, &change, mode);
            if let Some(whose) = whose {
                reason = format!("{reason} (the mode of `{whose}`, which a catalog-wide change reaches too)");
            }
            let (line, column) = locator.locate(new, &change);
            Finding {
                file: locator.file().to_string(),
                line,
                column,
                change,
                mode,
                verdict,
                reason,
                against: against.map(str::to_string),
                was: None,
            }
        })
        .collect()
}

/// Whether `mode` breaks on `change`.
fn breaks_under(change: &Change, mode: Compatibility) -> bool {
    (mode.checks_backward() && change.backward.is_some()) || (mode.checks_forward() && change.forward.is_some())
}

/// The mode `change` is held to, and the type whose override it is when a
/// catalog-wide change is held to a type's mode rather than the catalog's.
fn mode_of<'c>(old: &Catalog, new: &'c Catalog, change: &Change) -> (Compatibility, Option<&'c str>) {
    match change.scope {
        // A removed type keeps the override it had.
        Scope::Type => (
            new.type_compatibility
                .get(&change.type_name)
                .or(old.type_compatibility.get(&change.type_name))
                .copied()
                .unwrap_or(new.compatibility),
            None,
        ),
        // Every type is reached: the catalog's mode when a type has it and
        // it breaks, else the first override that breaks.
        Scope::Catalog => {
            let catalog_mode_used = new.events.iter().any(|e| !new.type_compatibility.contains_key(&e.type_name));
            if catalog_mode_used && breaks_under(change, new.compatibility) {
                return (new.compatibility, None);
            }
            let strict = new.events.iter().find_map(|e| {
                let mode = *new.type_compatibility.get(&e.type_name)?;
                breaks_under(change, mode).then_some((mode, Some(e.type_name.as_str())))
            });
            strict.unwrap_or((new.compatibility, None))
        }
    }
}

fn verdict(old: &Catalog, new: &Catalog, change: &Change, mode: Compatibility) -> (Verdict, String) {
    let directions = [("backward", &change.backward, mode.checks_backward()), ("forward", &change.forward, mode.checks_forward())];
    let broken: Vec<(&str, &Impact)> = directions.iter().filter(|(_, i, on)| *on && i.is_some()).map(|(d, i, _)| (*d, *i)).collect();
    let other: Vec<(&str, &Impact)> = directions.iter().filter(|(_, i, on)| !*on && i.is_some()).map(|(d, i, _)| (*d, *i)).collect();
    let whys = |list: &[(&str, &Impact)]| list.iter().filter_map(|(_, i)| i.why()).collect::<Vec<_>>().join("; ");
    if broken.is_empty() {
        let base =
            if mode == Compatibility::None { "allowed: compatibility is NONE".to_string() } else { format!("compatible with {mode}") };
        let reason = match other.as_slice() {
            [] => base,
            list => {
                let dirs: Vec<String> = list.iter().map(|(d, _)| d.to_ascii_uppercase()).collect();
                format!("{base} (it would break {}: {})", dirs.join(" and "), whys(list))
            }
        };
        return (Verdict::Compatible, reason);
    }
    let possibly = broken.iter().all(|(_, i)| matches!(i, Impact::Possibly(_)));
    let breaks = if possibly { "may break" } else { "breaks" };
    let reason = format!("{breaks} {mode}: {}", whys(&broken));
    let (versions, whose) = match change.scope {
        Scope::Type => ((old.event(&change.type_name).map(|e| e.version), new.event(&change.type_name).map(|e| e.version)), "`version`"),
        Scope::Catalog => ((Some(old.version), Some(new.version)), "the catalog's `version`"),
    };
    match versions {
        (Some(a), Some(b)) if b > a => (Verdict::Allowed, format!("allowed because {whose} was raised from {a} to {b} (it {reason})")),
        _ => (Verdict::Breaking, reason),
    }
}

/// One earlier version of a catalog to compare against.
#[derive(Debug, Clone)]
pub struct Version {
    /// How to name it in messages (`HEAD~1`, `3f2a1c9`, a file name).
    pub label: String,
    /// The catalog as it was.
    pub catalog: Catalog,
    /// Positions in its text (named `HEAD~1:events.yaml`, `3f2a1c9:events.yaml`),
    /// to say where a removed node was; `None` when the text is not at hand.
    pub locator: Option<Locator>,
}

/// Say where each change that the new file no longer holds was in `old`.
fn place_removed(findings: &mut [Finding], new: &Locator, old: &Version) {
    let Some(old_locator) = &old.locator else {
        return;
    };
    for f in findings {
        if new.exact(&f.change).is_some() {
            continue;
        }
        if let Some((line, column)) = old_locator.exact(&f.change) {
            f.was = Some(Position { file: old_locator.file().to_string(), line, column });
        }
    }
}

/// Compare `new` with `baseline` under every type's mode, and with each of
/// `history` (older versions, newest first) for the types whose mode is
/// `_TRANSITIVE`. A change already reported is not repeated.
pub fn check(new: &Catalog, locator: &Locator, baseline: &Version, history: &[Version]) -> Vec<Finding> {
    let mut findings = judge(&baseline.catalog, new, diff(&baseline.catalog, new), locator, None);
    place_removed(&mut findings, locator, baseline);
    let mut seen: BTreeSet<(String, String)> = findings.iter().map(|f| (f.change.type_name.clone(), f.change.what.clone())).collect();
    for version in history {
        let mut found = judge(&version.catalog, new, diff(&version.catalog, new), locator, Some(&version.label));
        place_removed(&mut found, locator, version);
        for f in found {
            if !f.mode.is_transitive() || f.verdict == Verdict::Compatible {
                continue;
            }
            if seen.insert((f.change.type_name.clone(), f.change.what.clone())) {
                findings.push(f);
            }
        }
    }
    findings
}

/// Whether any of `catalog`'s modes (catalog-wide or per type) is
/// `_TRANSITIVE`, so older versions must be read too.
pub fn needs_history(catalog: &Catalog) -> bool {
    catalog.compatibility.is_transitive() || catalog.type_compatibility.values().any(|m| m.is_transitive())
}

#[cfg(test)]
mod tests;
