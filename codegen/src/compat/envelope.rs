//! Catalog-wide rules: the envelope rules (`envelope:`), which every event
//! type's events must follow, and the catalog's own settings
//! (`compatibility:`, per type too, and `version:`).
//!
//! An envelope change reaches every event type at once, so it is one
//! [`Scope::Catalog`] change labelled `envelope`, allowed only by a raised
//! catalog `version:` (a type's `version` says nothing about the envelope).
//! The directions follow the modes' definitions, as for data fields: a
//! rule that refuses more (an attribute newly required, a media type
//! pinned, the subject checked) breaks BACKWARD, since producers that have
//! not upgraded are refused; a rule that refuses less breaks FORWARD, since
//! a server on the old catalog refuses what upgraded producers may now send
//! — dropping `time` from `required` is the envelope's "required field made
//! optional": the old catalog and every consumer built on it rely on it.

use super::rules::catalog_change;
use super::{Change, Impact, Scope};
use crate::ir::{Catalog, Compatibility};

/// Label of envelope-rule changes.
pub(crate) const ENVELOPE: &str = "envelope";
/// Label of changes to the catalog's own settings.
pub(crate) const CATALOG: &str = "catalog";

/// `change` located at `keyword` (under `envelope:` or at the top).
fn at(keyword: &str, change: Change) -> Change {
    Change { keyword: Some(keyword.to_string()), ..change }
}

/// The catalog's `compatibility:` (and the types' overrides) and its
/// `version:`. A changed mode is only noted: the new file's mode governs
/// the check (see [`super`]).
pub(crate) fn settings(old: &Catalog, new: &Catalog, out: &mut Vec<Change>) {
    let governs = "this check holds changes to the new mode, as schema registries apply the mode in force when a schema is registered";
    if old.compatibility != new.compatibility {
        out.push(at(
            "compatibility",
            catalog_change(
                CATALOG,
                format!("`compatibility` changed from {} to {} ({governs})", old.compatibility, new.compatibility),
                Impact::None,
                Impact::None,
                "nothing to do",
            ),
        ));
    }
    for n in &new.events {
        let Some(o) = old.event(&n.type_name) else { continue };
        let (was, is) = (old.type_compatibility.get(&o.type_name), new.type_compatibility.get(&n.type_name));
        if was == is {
            continue;
        }
        let show = |m: Option<&Compatibility>, c: &Catalog| match m {
            Some(m) => m.to_string(),
            None => format!("the catalog's ({})", c.compatibility),
        };
        out.push(Change {
            type_name: n.type_name.clone(),
            scope: Scope::Type,
            path: Vec::new(),
            keyword: Some("compatibility".into()),
            what: format!("`compatibility` changed from {} to {} ({governs})", show(was, old), show(is, new)),
            backward: Impact::None,
            forward: Impact::None,
            fix: "nothing to do".into(),
        });
    }
    if new.version < old.version {
        out.push(at(
            "version",
            catalog_change(
                CATALOG,
                format!("the catalog's `version` lowered from {} to {}", old.version, new.version),
                Impact::breaks("catalog-wide rules of the higher version are read as an older one"),
                Impact::breaks("consumers already on the higher version receive events that claim an older one"),
                &format!("versions only go up: set `version: {}` or higher", old.version),
            ),
        ));
    } else if new.version > old.version {
        out.push(at(
            "version",
            catalog_change(
                CATALOG,
                format!("the catalog's `version` raised from {} to {}", old.version, new.version),
                Impact::None,
                Impact::None,
                "nothing to do",
            ),
        ));
    }
}

/// The envelope rules: `legacy_extensions_object`, `required`,
/// `datacontenttype` and `subject_matches_template`.
pub(crate) fn rules(old: &Catalog, new: &Catalog, out: &mut Vec<Change>) {
    let (o, n) = (&old.envelope, &new.envelope);
    let push = |out: &mut Vec<Change>, keyword: &str, what: String, backward: Impact, forward: Impact, fix: &str| {
        out.push(at(keyword, catalog_change(ENVELOPE, what, backward, forward, fix)));
    };
    match (o.legacy_extensions_object, n.legacy_extensions_object) {
        (true, false) => push(
            out,
            "legacy_extensions_object",
            "`legacy_extensions_object` turned off".into(),
            Impact::breaks(
                "producers that have not upgraded may still nest their extensions in `\"extensions\": {…}`, which the new catalog refuses, for every event type",
            ),
            Impact::None,
            "keep it on until no producer nests its extensions, or raise the catalog's `version`",
        ),
        (false, true) => push(
            out,
            "legacy_extensions_object",
            "`legacy_extensions_object` turned on".into(),
            Impact::None,
            Impact::breaks(
                "upgraded producers may nest their extensions in `\"extensions\": {…}`, which a server on the old catalog refuses",
            ),
            "upgrade the servers (consumers) before a producer nests its extensions, or raise the catalog's `version`",
        ),
        _ => {}
    }
    for attribute in n.required.iter().filter(|a| !o.requires(a)) {
        push(
            out,
            "required",
            format!("`required` now lists `{attribute}`"),
            Impact::breaks(format!(
                "producers that have not upgraded may send events of any type without `{attribute}` (CloudEvents makes it optional), which the new catalog refuses"
            )),
            Impact::None,
            &format!("leave `{attribute}` out of `envelope.required` until every producer sends it, or raise the catalog's `version`"),
        );
    }
    for attribute in o.required.iter().filter(|a| !n.requires(a)) {
        push(
            out,
            "required",
            format!("`required` no longer lists `{attribute}`"),
            Impact::None,
            Impact::breaks(format!(
                "upgraded producers may leave `{attribute}` out, which a server on the old catalog, and every consumer that relies on it being there, refuses"
            )),
            &format!("keep `{attribute}` in `envelope.required` until every consumer has upgraded, or raise the catalog's `version`"),
        );
    }
    match (o.datacontenttype.as_deref(), n.datacontenttype.as_deref()) {
        (None, Some(b)) => push(
            out,
            "datacontenttype",
            format!("`datacontenttype` restricted to `{b}`"),
            Impact::breaks(format!(
                "producers that have not upgraded may send `data` as another JSON media type than `{b}`, which the new catalog refuses"
            )),
            Impact::None,
            &format!("drop the restriction until every producer sends `{b}`, or raise the catalog's `version`"),
        ),
        (Some(a), None) => push(
            out,
            "datacontenttype",
            format!("`datacontenttype` no longer restricted to `{a}`"),
            Impact::None,
            Impact::breaks(format!("upgraded producers may send another media type than `{a}`, which a server on the old catalog refuses")),
            &format!("keep `datacontenttype: {a}` until every consumer has upgraded, or raise the catalog's `version`"),
        ),
        (Some(a), Some(b)) if a != b => push(
            out,
            "datacontenttype",
            format!("`datacontenttype` changed from `{a}` to `{b}`"),
            Impact::breaks(format!("producers that have not upgraded send `{a}`, which the new catalog refuses")),
            Impact::breaks(format!("upgraded producers send `{b}`, which a server on the old catalog refuses")),
            &format!("keep `datacontenttype: {a}`, or raise the catalog's `version`"),
        ),
        _ => {}
    }
    // The check only reaches types with a `subject:` template.
    let templated = |c: &Catalog| c.events.iter().filter(|e| e.subject.is_some()).count();
    match (o.subject_matches_template, n.subject_matches_template) {
        (false, true) => push(
            out,
            "subject_matches_template",
            "`subject_matches_template` turned on".into(),
            Impact::breaks_if(templated(new) > 0, || {
                format!(
                    "producers that have not upgraded may send a `subject` that is not the template filled from `data`, which the new catalog refuses with 422 (for the {} type(s) with a `subject:` template)",
                    templated(new)
                )
            }),
            Impact::None,
            "leave it off until every producer sends the templated subject, or raise the catalog's `version`",
        ),
        (true, false) => push(
            out,
            "subject_matches_template",
            "`subject_matches_template` turned off".into(),
            Impact::None,
            Impact::breaks_if(templated(old) > 0, || {
                "upgraded producers may send a `subject` that is not the template filled from `data`, which a server on the old catalog refuses with 422".to_string()
            }),
            "keep it on until every consumer has upgraded, or raise the catalog's `version`",
        ),
        _ => {}
    }
}
