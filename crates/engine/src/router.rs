//! Routing of dialled numbers. For now the one basic rule of the manual:
//! `^(\d{3,4})$` reaches a local extension. The rule table (inbound, outbound,
//! queue, IVR, robot) arrives with the call-center applications.

use crate::directory::Directory;
use std::sync::OnceLock;

/// Where a dialled number goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A local extension (it exists and is enabled).
    Extension(String),
    /// Nothing matches: 404.
    NotFound,
}

fn basic_rule() -> &'static regex::Regex {
    static RULE: OnceLock<regex::Regex> = OnceLock::new();
    // A literal that cannot fail to compile; tested below.
    RULE.get_or_init(|| regex::Regex::new(r"^(\d{3,4})$").unwrap_or_else(|_| unreachable!()))
}

/// The number the caller dialled: the Request-URI user part.
pub fn dialled_number(req: &rsip::Request) -> String {
    sip::message::uri_user(&req.uri).unwrap_or_default()
}

/// Route a dialled number.
pub fn route(number: &str, directory: &Directory) -> Route {
    let Some(caps) = basic_rule().captures(number) else {
        return Route::NotFound;
    };
    let ext = caps.get(1).map(|m| m.as_str()).unwrap_or(number);
    match directory.get(ext) {
        Some(e) if e.enabled => Route::Extension(ext.to_string()),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_rule_matches_three_and_four_digits_only() {
        for ok in ["100", "1000", "9999"] {
            assert!(basic_rule().is_match(ok), "{ok}");
        }
        for bad in ["10", "10000", "1a00", "", "+1000"] {
            assert!(!basic_rule().is_match(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_extension_is_not_found() {
        let d = Directory::default();
        assert_eq!(route("1000", &d), Route::NotFound);
        assert_eq!(route("abc", &d), Route::NotFound);
    }
}
