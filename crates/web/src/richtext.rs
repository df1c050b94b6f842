//! Rich text from users (ticket bodies and replies, knowledge answers):
//! sanitised to a small set of formatting tags before it is stored, so what
//! any page shows later cannot run script, load a tracker or restyle the
//! page. Plain text (from the API, or a browser without the editor) is
//! escaped and its line breaks kept.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The sanitiser: formatting, lists, quotes, code, links (http, https,
/// mailto, tel; opened without the referrer and without access to us).
fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let tags: HashSet<&str> = [
            "p",
            "br",
            "div",
            "b",
            "strong",
            "i",
            "em",
            "u",
            "s",
            "ul",
            "ol",
            "li",
            "blockquote",
            "pre",
            "code",
            "h1",
            "h2",
            "h3",
            "h4",
            "a",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
        ]
        .into_iter()
        .collect();
        let schemes: HashSet<&str> = ["http", "https", "mailto", "tel"].into_iter().collect();
        let mut b = ammonia::Builder::empty();
        b.tags(tags)
            .add_tag_attributes("a", ["href"])
            .url_schemes(schemes)
            .link_rel(Some("noopener noreferrer nofollow"))
            .add_generic_attributes(std::iter::empty::<&str>());
        b
    })
}

/// Whether `text` looks like HTML (a tag of ours), not plain text.
fn looks_like_html(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('<') && t.contains('>')
}

/// `text` as safe HTML: HTML is sanitised; plain text is escaped, its
/// paragraphs and line breaks kept.
pub fn clean(text: &str) -> String {
    if looks_like_html(text) {
        return cleaner().clean(text).to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.replace("\r\n", "\n").split('\n').enumerate() {
        if line.0 > 0 {
            out.push_str("<br>");
        }
        for c in line.1.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                '\r' => out.push_str("<br>"),
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn script_handlers_and_styles_are_removed() {
        let dirty = "<p onclick=\"x()\" style=\"color:red\">Hi<script>alert(1)</script>\
                     <img src=x onerror=alert(2)><a href=\"javascript:alert(3)\">x</a>\
                     <a href=\"https://example.com/a\">ok</a></p><iframe src=//e></iframe>";
        let c = clean(dirty);
        for bad in [
            "script",
            "onclick",
            "style",
            "img",
            "onerror",
            "javascript",
            "iframe",
        ] {
            assert!(!c.contains(bad), "{bad} in {c}");
        }
        assert!(c.contains("<p>Hi"), "{c}");
        assert!(
            c.contains(
                "<a href=\"https://example.com/a\" rel=\"noopener noreferrer nofollow\">ok</a>"
            ),
            "{c}"
        );
    }

    #[test]
    fn plain_text_is_escaped_with_its_line_breaks() {
        assert_eq!(clean("a < b & c\n第二行"), "a &lt; b &amp; c<br>第二行");
        assert_eq!(clean("<b>粗体</b>"), "<b>粗体</b>");
        // Text that merely contains a tag-like piece later is still text.
        assert_eq!(clean("2 < 3 <b>"), "2 &lt; 3 &lt;b&gt;");
    }
}
