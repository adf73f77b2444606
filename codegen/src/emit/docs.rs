//! Doc comments for generated items, from the catalog's descriptions.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::EventType;

/// `#[doc]` lines for an event-level item: description, then the type and
/// version, so rustdoc and IDE hovers show where the item came from.
pub(crate) fn event_doc(event: &EventType) -> TokenStream {
    let mut lines: Vec<String> = escape(&event.description).lines().map(|l| format!(" {l}")).collect();
    if lines.is_empty() {
        lines.push(format!(" `{}`", event.type_name));
    }
    lines.push(String::new());
    lines.push(format!(" CloudEvents type `{}`, version {}.", event.type_name, event.version));
    quote! { #( #[doc = #lines] )* }
}

/// A single doc line.
pub(crate) fn doc(text: &str) -> TokenStream {
    let lines: Vec<String> = escape(text).lines().map(|l| format!(" {l}")).collect();
    quote! { #( #[doc = #lines] )* }
}

/// Keep rustdoc quiet about user text: bare URLs and brackets would be
/// read as links (the same escaping prost applies to proto comments).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        if (trimmed.starts_with("http://") || trimmed.starts_with("https://")) && !trimmed.contains('<') {
            out.push('<');
            out.push_str(trimmed);
            out.push('>');
            out.push_str(&word[trimmed.len()..]);
        } else {
            out.push_str(&word.replace('[', "\\[").replace(']', "\\]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn urls_and_brackets_are_escaped() {
        assert_eq!(escape("see https://x.io/a now"), "see <https://x.io/a> now");
        assert_eq!(escape("a [b] c"), "a \\[b\\] c");
    }
}
