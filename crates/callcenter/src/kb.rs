//! The knowledge base's search terms (the manual's 7.2): how a title, a
//! similar question or an answer is cut into the words a search matches, in
//! Chinese as in English.
//!
//! Chinese has no spaces between words, so a run of CJK characters is cut
//! into overlapping pairs ("退款申请" → 退款 款申 申请): a two-character
//! query, the usual length of a Chinese word, then matches wherever it
//! occurs, and a longer one matches the articles holding all or most of its
//! pairs first. Latin letters and digits make words, lowercased. The store
//! keeps the terms as space-separated text and lets the database's own
//! full-text index (SQLite FTS5, PostgreSQL tsvector) rank the matches, so
//! both backends cut text the same way: here.

/// Longest word kept (longer ones are cut: a pasted hash or URL).
const MAX_WORD: usize = 40;
/// Most terms taken from one query.
pub const MAX_QUERY_TERMS: usize = 32;

/// Whether `c` is written without spaces between words (Han, kana, Hangul).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF) // CJK Extensions B-F
}

/// The terms of `text`, in order and with repeats (the index counts them).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(word.chars().take(MAX_WORD).collect());
            word.clear();
        }
    };
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        match cjk.len() {
            0 => {}
            1 => out.push(cjk[0].to_string()),
            _ => out.extend(cjk.windows(2).map(|w| w.iter().collect::<String>())),
        }
        cjk.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

/// `text` as the index keeps it: its terms separated by spaces.
pub fn index_text(text: &str) -> String {
    terms(text).join(" ")
}

/// One term of a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryTerm {
    /// The term (lowercase word, CJK pair or single character).
    pub text: String,
    /// Whether it also matches longer terms that start with it: a single
    /// CJK character (it appears only inside pairs) and a Latin word of
    /// three letters or more ("refund" finds "refunds").
    pub prefix: bool,
}

/// The distinct terms of a query, at most [`MAX_QUERY_TERMS`].
pub fn query_terms(q: &str) -> Vec<QueryTerm> {
    let mut out: Vec<QueryTerm> = Vec::new();
    for t in terms(q) {
        if out.iter().any(|x| x.text == t) {
            continue;
        }
        let mut chars = t.chars();
        let first = chars.next();
        let single_cjk = first.is_some_and(is_cjk) && chars.next().is_none();
        let latin = !first.is_some_and(is_cjk) && t.chars().count() >= 3;
        out.push(QueryTerm {
            prefix: single_cjk || latin,
            text: t,
        });
        if out.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    out
}

/// The text of a rich-text answer without its markup, for the index: tags
/// dropped (a block-level tag leaves a space, so words of two paragraphs do
/// not run together) and the usual entities decoded.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        match rest[open..].find('>') {
            Some(close) => {
                out.push(' ');
                rest = &rest[open + close + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The similar questions (类似问题) of an article from what a user typed:
/// one per line, trimmed, empty lines and repeats dropped.
pub fn similar_questions(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in raw.lines() {
        let l = line.trim();
        if !l.is_empty() && !out.iter().any(|x| x == l) {
            out.push(l.to_string());
        }
    }
    out
}

/// Whether an article is valid at `now` (unix ms) given its validity window
/// (有效期; either end may be open).
pub fn is_valid(from: Option<i64>, to: Option<i64>, now: i64) -> bool {
    from.is_none_or(|f| f <= now) && to.is_none_or(|t| now <= t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_cut_into_overlapping_pairs_and_english_into_words() {
        assert_eq!(terms("退款申请"), vec!["退款", "款申", "申请"]);
        assert_eq!(
            terms("How do I get a Refund? 退款"),
            vec!["how", "do", "i", "get", "a", "refund", "退款"]
        );
        // A single character stays; punctuation separates runs.
        assert_eq!(terms("钱。VIP卡"), vec!["钱", "vip", "卡"]);
        assert_eq!(terms("4G套餐"), vec!["4g", "套餐"]);
        assert_eq!(terms("  ,.!  "), Vec::<String>::new());
        assert_eq!(index_text("退款申请"), "退款 款申 申请");
    }

    #[test]
    fn a_pasted_long_word_is_cut() {
        let t = terms(&"a".repeat(500));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].len(), MAX_WORD);
    }

    #[test]
    fn query_terms_are_distinct_and_prefix_where_a_word_may_go_on() {
        let q = query_terms("退 refund 退款 退款 on");
        let texts: Vec<&str> = q.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["退", "refund", "退款", "on"]);
        let prefix: Vec<bool> = q.iter().map(|t| t.prefix).collect();
        assert_eq!(prefix, vec![true, true, false, false]);
        let many = (0..100).map(|i| format!("w{i}x")).collect::<Vec<_>>();
        assert_eq!(query_terms(&many.join(" ")).len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn markup_is_dropped_from_the_indexed_text() {
        assert_eq!(
            terms(&plain_text(
                "<p>退款<b>申请</b></p><p>Refund&amp;return</p><br"
            )),
            vec!["退款", "申请", "refund", "return"]
        );
    }

    #[test]
    fn similar_questions_are_one_per_line_without_repeats() {
        assert_eq!(
            similar_questions("怎么退款\n\n  怎么退款 \r\nhow to refund\n"),
            vec!["怎么退款", "how to refund"]
        );
    }

    #[test]
    fn the_validity_window_is_inclusive_and_may_be_open() {
        assert!(is_valid(None, None, 5));
        assert!(is_valid(Some(5), Some(5), 5));
        assert!(!is_valid(Some(6), None, 5));
        assert!(!is_valid(None, Some(4), 5));
    }
}
