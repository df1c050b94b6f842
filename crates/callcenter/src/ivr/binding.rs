//! Entry bindings: literal digits that must equal the whole input, or a
//! regex between slashes whose captures fill `$1`..`$9` in the target.

use regex::Regex;

/// The keys a caller can press (terminator `#` included).
pub(crate) const DTMF_KEYS: &str = "0123456789*#ABCD";

/// A parsed binding.
#[derive(Clone, Debug)]
pub enum Binding {
    /// Matches exactly these digits.
    Literal(String),
    /// Matches when the regex finds a match anywhere in the input (anchor it
    /// with ^...$ to match the whole input, as FreeSWITCH does).
    Regex(Regex),
}

impl Binding {
    /// Parses `digits` from an entry: "/.../" is a regex, anything else literal.
    pub fn parse(digits: &str) -> Result<Binding, String> {
        let Some(body) = digits.strip_prefix('/') else {
            return Ok(Binding::Literal(digits.to_string()));
        };
        let Some(pattern) = body.strip_suffix('/') else {
            return Err(format!(
                "regex binding {digits:?} must end with '/', like /^(\\d{{4}})$/"
            ));
        };
        if pattern.is_empty() {
            return Err("regex binding // is empty".into());
        }
        Regex::new(pattern)
            .map(Binding::Regex)
            .map_err(|e| format!("invalid regex {digits:?}: {e}"))
    }

    /// The capture groups the target may use ($0 is the whole match).
    pub fn groups(&self) -> usize {
        match self {
            Binding::Literal(_) => 0,
            Binding::Regex(re) => re.captures_len() - 1,
        }
    }

    /// If `input` matches: the captures, $0 first (the whole input for a
    /// literal); an unmatched optional group is "".
    pub fn matches(&self, input: &str) -> Option<Vec<String>> {
        match self {
            Binding::Literal(d) => (d == input).then(|| vec![input.to_string()]),
            Binding::Regex(re) => re.captures(input).map(|c| {
                c.iter()
                    .map(|g| g.map_or(String::new(), |m| m.as_str().to_string()))
                    .collect()
            }),
        }
    }
}

/// Replaces `$N` (one digit) in `target` with capture N; a capture that does
/// not exist becomes "". Only single digits are references, so "$12" is
/// capture 1 followed by "2", as in FreeSWITCH.
pub fn substitute(target: &str, captures: &[String]) -> String {
    let mut out = String::with_capacity(target.len());
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if let Some(n) = chars.peek().and_then(|d| d.to_digit(10)) {
                chars.next();
                out.push_str(captures.get(n as usize).map_or("", String::as_str));
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Checks the `$N` references of `target` against a binding with `groups`
/// capture groups: a `$` must be followed by a digit naming a group.
pub fn check_references(target: &str, groups: usize) -> Result<(), String> {
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            continue;
        }
        match chars.next().and_then(|d| d.to_digit(10)) {
            None => {
                return Err(format!(
                    "{target:?}: '$' must be followed by a group number"
                ))
            }
            Some(0) => {}
            Some(n) if n as usize > groups => {
                return Err(if groups == 0 {
                    format!("{target:?} uses ${n} but the binding has no capture group")
                } else {
                    format!("{target:?} uses ${n} but the binding has {groups} capture group(s)")
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// True if `target` refers to captures (then it is checked only for syntax).
pub fn has_references(target: &str) -> bool {
    target.contains('$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_binding_matches_the_whole_input_only() {
        let b = Binding::parse("10").unwrap();
        assert_eq!(b.matches("10"), Some(vec!["10".to_string()]));
        assert_eq!(b.matches("1"), None);
        assert_eq!(b.matches("100"), None);
        assert_eq!(b.groups(), 0);
    }

    #[test]
    fn regex_binding_captures() {
        let b = Binding::parse(r"/^(\d)(\d{3})$/").unwrap();
        assert_eq!(b.groups(), 2);
        let caps = b.matches("1234").unwrap();
        assert_eq!(caps, vec!["1234", "1", "234"]);
        assert_eq!(b.matches("12345"), None);
        let unanchored = Binding::parse("/5/").unwrap();
        assert!(unanchored.matches("151").is_some());
    }

    #[test]
    fn optional_group_that_did_not_match_is_empty() {
        let b = Binding::parse(r"/^(\d)(\*)?$/").unwrap();
        assert_eq!(b.matches("7").unwrap(), vec!["7", "7", ""]);
    }

    #[test]
    fn malformed_regex_bindings_are_refused() {
        assert!(Binding::parse(r"/^(\d$/")
            .unwrap_err()
            .contains("invalid regex"));
        assert!(Binding::parse(r"/^\d")
            .unwrap_err()
            .contains("must end with '/'"));
        assert!(Binding::parse("//").unwrap_err().contains("empty"));
    }

    #[test]
    fn substitution_replaces_single_digit_references() {
        let caps = vec!["91234".to_string(), "1234".to_string()];
        assert_eq!(substitute("$1", &caps), "1234");
        assert_eq!(substitute("8$1#", &caps), "81234#");
        assert_eq!(substitute("$12", &caps), "12342");
        assert_eq!(substitute("$0", &caps), "91234");
        assert_eq!(substitute("$5x", &caps), "x");
        assert_eq!(substitute("cost$", &caps), "cost$");
    }

    #[test]
    fn reference_syntax_is_checked_against_the_groups() {
        assert!(check_references("$1", 1).is_ok());
        assert!(check_references("pre$0", 0).is_ok());
        assert!(check_references("$2", 1)
            .unwrap_err()
            .contains("1 capture group"));
        assert!(check_references("$1", 0)
            .unwrap_err()
            .contains("no capture group"));
        assert!(check_references("a$", 1)
            .unwrap_err()
            .contains("group number"));
        assert!(check_references("$x", 1)
            .unwrap_err()
            .contains("group number"));
    }
}
