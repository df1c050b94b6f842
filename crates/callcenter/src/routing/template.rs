//! Targets that quote the pattern's capture groups: `$1` (digits are read
//! greedily, so `$12` is group 12), `${1}` when a digit follows, `$0` for the
//! whole match and `$$` for a dollar sign. Parsed once when the table is built
//! so that a group the pattern does not have is a configuration error, not a
//! silently empty target at call time.

use regex::Captures;

/// A parsed target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Group(usize),
}

/// What the pattern matched, as the groups a template can quote.
pub(crate) enum Captured<'a> {
    /// A literal pattern: only `$0`, the number itself.
    Literal(&'a str),
    /// A regex match with its groups.
    Regex(Captures<'a>),
}

impl Captured<'_> {
    /// Text of group `i`; empty for a group that took no part in the match.
    fn group(&self, i: usize) -> &str {
        match self {
            Captured::Literal(number) if i == 0 => number,
            Captured::Literal(_) => "",
            Captured::Regex(caps) => caps.get(i).map_or("", |m| m.as_str()),
        }
    }
}

impl Template {
    /// The whole match (`$0`), used when a target is left to default.
    pub(crate) fn whole_match() -> Template {
        Template {
            parts: vec![Part::Group(0)],
        }
    }

    /// Parses `text`; the error says what is wrong with a `$`.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                literal.push(c);
                continue;
            }
            let group =
                match chars.peek().copied() {
                    Some('$') => {
                        chars.next();
                        literal.push('$');
                        continue;
                    }
                    Some('{') => {
                        chars.next();
                        let mut digits = String::new();
                        loop {
                            match chars.next() {
                                Some('}') => break,
                                Some(d) => digits.push(d),
                                None => return Err("\"${\" is not closed by \"}\"".to_string()),
                            }
                        }
                        digits
                    }
                    Some(d) if d.is_ascii_digit() => {
                        let mut digits = String::new();
                        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                            digits.push(d);
                            chars.next();
                        }
                        digits
                    }
                    _ => return Err(
                        "\"$\" must be followed by a group number, \"{number}\" or another \"$\""
                            .to_string(),
                    ),
                };
            let index = match group.parse::<usize>() {
                Ok(i) if group.chars().all(|c| c.is_ascii_digit()) => i,
                _ => return Err(format!("\"{group}\" is not a capture group number")),
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Group(index));
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The highest group quoted, if any.
    pub(crate) fn highest_group(&self) -> Option<usize> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Group(i) => Some(*i),
                Part::Text(_) => None,
            })
            .max()
    }

    /// The target for one match.
    pub(crate) fn expand(&self, captured: &Captured<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group(i) => out.push_str(captured.group(*i)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_with(pattern: &str, number: &str, template: &str) -> String {
        let re = regex::Regex::new(pattern).unwrap();
        let caps = re.captures(number).unwrap();
        Template::parse(template)
            .unwrap()
            .expand(&Captured::Regex(caps))
    }

    #[test]
    fn groups_dollar_braces_and_escaped_dollar_expand() {
        assert_eq!(expand_with(r"^9(\d)(\d+)$", "9123", "x$2-$1"), "x23-1");
        assert_eq!(expand_with(r"^9(\d)(\d+)$", "9123", "${1}0"), "10");
        assert_eq!(expand_with(r"^9(\d)(\d+)$", "9123", "$0"), "9123");
        assert_eq!(expand_with(r"^9(\d)(\d+)$", "9123", "$$1"), "$1");
        assert_eq!(expand_with(r"^9(x)?(\d+)$", "91", "[$1]"), "[]");
    }

    #[test]
    fn digits_after_dollar_are_one_group_number() {
        let t = Template::parse("$12").unwrap();
        assert_eq!(t.highest_group(), Some(12));
        assert_eq!(Template::parse("plain").unwrap().highest_group(), None);
    }

    #[test]
    fn literal_captures_only_the_whole_number() {
        let t = Template::parse("<$0>").unwrap();
        assert_eq!(t.expand(&Captured::Literal("200")), "<200>");
        assert_eq!(
            Template::whole_match().expand(&Captured::Literal("200")),
            "200"
        );
    }

    #[test]
    fn malformed_dollars_are_errors() {
        assert!(Template::parse("$").is_err());
        assert!(Template::parse("$x").is_err());
        assert!(Template::parse("${1").is_err());
        assert!(Template::parse("${a}").is_err());
        assert!(Template::parse("${}").is_err());
        assert!(Template::parse("${+1}").is_err());
    }
}
