//! Tagged union rules (`tagged.rs`): branches added or removed, the tag
//! property changed, and each branch kept compared by the object rules,
//! under the path segment `[kind=file]`.

use serde_json::Value;

use super::{Impact, Walk, display_path};
use crate::tagged::TaggedUnion;

/// The path segment of the branch whose tag `tag` is `value`.
pub(crate) fn branch_segment(tag: &str, value: &str) -> String {
    format!("[{tag}={value}]")
}

/// The tag and value a [`branch_segment`] names.
pub(crate) fn parse_branch_segment(seg: &str) -> Option<(&str, &str)> {
    seg.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

impl Walk<'_> {
    pub(super) fn union(&mut self, old: &Value, new: &Value, path: &mut Vec<String>, depth: usize) {
        let subject = Self::subject(path);
        let (o, n) = match (TaggedUnion::of(old), TaggedUnion::of(new)) {
            (None, None) => return,
            (Some(o), Some(n)) => (o, n),
            (_, n) => {
                let (what, fix) = if n.is_some() {
                    (format!("{subject} became a tagged union"), "add a new field for the union instead, or raise `version`")
                } else {
                    (format!("{subject} is no longer a tagged union"), "keep the union, or raise `version`")
                };
                self.push(
                    path,
                    Some("oneOf"),
                    what,
                    Impact::possibly("old events may not match any branch of the new schema"),
                    Impact::possibly("new events may not match the old schema"),
                    fix,
                );
                return;
            }
        };
        if o.tag != n.tag {
            // The same JSON reads as another branch, or none: both ways.
            self.push(
                path,
                Some("oneOf"),
                format!("{subject}: the union's tag changed from `{}` to `{}`", o.tag, n.tag),
                Impact::breaks(format!("old events tell their branch by `{}`, which the new catalog does not read", o.tag)),
                Impact::breaks(format!("new events tell their branch by `{}`, which the old catalog does not read", n.tag)),
                "keep the tag property, or raise `version`",
            );
            return;
        }
        let tag = o.tag;
        for branch in &o.branches {
            path.push(branch_segment(tag, branch.value));
            match n.branch(branch.value) {
                Some(kept) => self.node(branch.schema, kept.schema, path, depth + 1),
                None => self.push(
                    path,
                    Some("oneOf"),
                    format!("field `{}` removed: the union no longer has the branch `{tag}` = `{}`", display_path(path), branch.value),
                    Impact::breaks(format!("old events with `{tag}` = `{}` are rejected", branch.value)),
                    Impact::None,
                    "keep the branch, or raise `version`",
                ),
            }
            path.pop();
        }
        for branch in n.branches.iter().filter(|b| o.branch(b.value).is_none()) {
            path.push(branch_segment(tag, branch.value));
            self.push(
                path,
                Some("oneOf"),
                format!("field `{}` added: the union has a new branch `{tag}` = `{}`", display_path(path), branch.value),
                Impact::None,
                Impact::breaks(format!("new events with `{tag}` = `{}` are rejected by the old catalog", branch.value)),
                "upgrade the consumers first, or raise `version`",
            );
            path.pop();
        }
    }
}
