//! Routing of dialled numbers. For now the built-in test extensions (echo,
//! readback, tone; see `[apps]` in the config), then the one basic rule of the
//! manual: `^(\d{3,4})$` reaches a local extension. The rule table (inbound,
//! outbound, queue, IVR, robot) arrives with the call-center applications.

use crate::apps::App;
use crate::config::AppsConfig;
use crate::directory::Directory;
use std::sync::OnceLock;

/// Where a dialled number goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A local extension (it exists and is enabled).
    Extension(String),
    /// An application answers the call.
    App(App),
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
pub fn route(number: &str, directory: &Directory, apps: &AppsConfig) -> Route {
    let is = |n: &str| !n.is_empty() && n == number;
    if is(&apps.echo) {
        return Route::App(App::Echo);
    }
    if is(&apps.readback) {
        return Route::App(App::Readback);
    }
    if is(&apps.tone) {
        return Route::App(App::Tone);
    }
    if is(&apps.conference) {
        return Route::App(App::Conference);
    }
    if is(&apps.dial) {
        return Route::App(App::Dial);
    }
    if let Some(queue) = apps.queues.get(number) {
        return Route::App(App::Queue(queue.clone()));
    }
    if let Some(root) = apps.ivr.get(number) {
        return Route::App(App::Ivr(root.clone()));
    }
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
        let apps = AppsConfig::default();
        assert_eq!(route("1000", &d, &apps), Route::NotFound);
        assert_eq!(route("abc", &d, &apps), Route::NotFound);
    }

    #[test]
    fn test_extensions_route_to_their_applications_unless_off() {
        let d = Directory::default();
        let mut apps = AppsConfig::default();
        assert_eq!(route("9196", &d, &apps), Route::App(App::Echo));
        assert_eq!(route("9197", &d, &apps), Route::App(App::Readback));
        assert_eq!(route("9198", &d, &apps), Route::App(App::Tone));
        assert_eq!(route("9300", &d, &apps), Route::App(App::Conference));
        assert_eq!(route("9199", &d, &apps), Route::App(App::Dial));
        apps.echo.clear();
        assert_eq!(route("9196", &d, &apps), Route::NotFound);
        assert_eq!(route("", &d, &apps), Route::NotFound);
    }
}
