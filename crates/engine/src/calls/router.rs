//! Routing of dialled numbers, in this order:
//!
//! 1. the built-in numbers of `[apps]`: test extensions (echo, readback, tone,
//!    conference, dial-through), queue numbers and IVR numbers;
//! 2. the routing rules of `[[callcenter.routes]]` ([`callcenter::routing`]), if
//!    any: the first rule in effect decides; an inbound rule's internal number
//!    is routed again from step 1 (so it may be a built-in number, a rule's
//!    number or an extension);
//! 3. when no rule matches, the manual's basic rule: `^(\d{3,4})$` reaches a
//!    local extension.
//!
//! An outbound rule sends the call out through its gateways
//! ([`Route::Outbound`]); robots arrive in a later issue: a rule that sends
//! a call to one is logged and the call gets 404 for now.

use crate::base::config::{AppsConfig, Config};
use crate::base::directory::Directory;
use crate::calls::ports::App;
use callcenter::routing::{self, Action, RouteTable, MAX_HOPS};
use chrono::{DateTime, FixedOffset};
use std::fmt;
use std::sync::OnceLock;

/// Where a dialled number goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A local extension (it exists and is enabled).
    Extension(String),
    /// An application answers the call.
    App(App),
    /// An outbound rule sends the call out through a gateway.
    Outbound(Outbound),
    /// Nothing matches: 404.
    NotFound,
}

/// A call leaving through a gateway, as an outbound rule says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The rule's name.
    pub rule: String,
    /// Its gateways, tried in this order.
    pub gateways: Vec<String>,
    /// The number to send (after the rule's stripping and prefix; each
    /// gateway may strip and prefix again).
    pub dial: String,
    /// Give up after this many seconds without an answer.
    pub timeout_secs: u32,
    /// Record the call.
    pub record: bool,
    /// Reached through another rule's internal number (an inbound rule
    /// forwarding a DID outside), not dialled directly.
    pub forwarded: bool,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Extension(n) => write!(f, "ring extension {n}"),
            Route::App(App::Queue(q)) => write!(f, "queue {q:?}"),
            Route::App(App::Ivr(m)) => write!(f, "IVR menu {m:?}"),
            Route::App(App::Announce(p)) => write!(f, "play {p:?}, then hang up"),
            Route::App(app) => write!(f, "the {} application", app.name()),
            Route::Outbound(o) => write!(
                f,
                "dial {} through gateway {} (rule {:?})",
                o.dial,
                o.gateways.join(", then "),
                o.rule
            ),
            Route::NotFound => f.write_str("404 Not Found"),
        }
    }
}

/// Told each step of a routing decision: the server logs them,
/// `switchboard route test` prints them.
pub trait Trace {
    /// A step of the decision.
    fn step(&mut self, what: fmt::Arguments<'_>);
    /// A step that is a configuration or availability problem.
    fn problem(&mut self, what: fmt::Arguments<'_>) {
        self.step(what)
    }
}

/// Ignores every step.
pub struct Quiet;

impl Trace for Quiet {
    fn step(&mut self, _what: fmt::Arguments<'_>) {}
}

/// Steps to the debug log, problems to the warning log.
struct Log<'a> {
    number: &'a str,
}

impl Trace for Log<'_> {
    fn step(&mut self, what: fmt::Arguments<'_>) {
        tracing::debug!("routing {}: {what}", self.number);
    }

    fn problem(&mut self, what: fmt::Arguments<'_>) {
        tracing::warn!("routing {}: {what}", self.number);
    }
}

/// The basic rule's number pattern.
pub const BASIC_RULE: &str = r"^(\d{3,4})$";

fn basic_rule() -> &'static regex::Regex {
    static RULE: OnceLock<regex::Regex> = OnceLock::new();
    // A literal that cannot fail to compile; tested below.
    RULE.get_or_init(|| regex::Regex::new(BASIC_RULE).unwrap_or_else(|_| unreachable!()))
}

/// The number the caller dialled: the Request-URI user part.
pub fn dialled_number(req: &rsip::Request) -> String {
    sip::message::uri_user(&req.uri).unwrap_or_default()
}

/// Routes a call to `number` now, with the routing rules in force: what
/// the engine does with a new call.
pub fn route_call(
    number: &str,
    directory: &Directory,
    cfg: &Config,
    settings: &crate::base::callcenter_settings::CallcenterSettings,
) -> Route {
    let table = settings.route_table();
    // Office hours are read in the machine's local offset; without rules the
    // moment plays no part.
    let now = match table {
        Some(_) => routing::local_now(),
        None => DateTime::UNIX_EPOCH.fixed_offset(),
    };
    route_at(
        number,
        directory,
        &cfg.apps,
        table,
        now,
        &mut Log { number },
    )
}

/// Routes `number` without the rule table: built-in numbers, then the basic
/// rule (connecting an application's caller to an extension).
pub fn route(number: &str, directory: &Directory, apps: &AppsConfig) -> Route {
    let epoch = DateTime::UNIX_EPOCH.fixed_offset();
    route_at(number, directory, apps, None, epoch, &mut Quiet)
}

/// Routes `number` at `now`: built-in numbers, then `table` if given, then
/// the basic rule (see the module documentation), telling `trace` each step.
pub fn route_at(
    number: &str,
    directory: &Directory,
    apps: &AppsConfig,
    table: Option<&RouteTable>,
    now: DateTime<FixedOffset>,
    trace: &mut dyn Trace,
) -> Route {
    let mut current = number.to_string();
    let mut routed: Vec<String> = Vec::new();
    loop {
        if let Some(app) = builtin(&current, apps) {
            let route = Route::App(app);
            trace.step(format_args!(
                "{current} is a built-in number of [apps]: {route}"
            ));
            return route;
        }
        let Some(decision) = table.and_then(|t| t.route(&current, now)) else {
            if table.is_some() {
                trace.step(format_args!("{current} matches no routing rule"));
            }
            return basic(&current, directory, trace);
        };
        trace.step(format_args!(
            "{current}: rule {:?} wins: {}",
            decision.rule_name, decision.action
        ));
        let next = match decision.action {
            Action::Internal(next) | Action::AfterHoursTarget(next) => next,
            action => {
                let forwarded = !routed.is_empty();
                return act(action, &decision.rule_name, forwarded, directory, trace);
            }
        };
        routed.push(std::mem::take(&mut current));
        if routed.contains(&next) || routed.len() >= MAX_HOPS {
            routed.push(next);
            trace.problem(format_args!(
                "routing loop or more than {MAX_HOPS} hops ({}): 404",
                routed.join(" -> ")
            ));
            return Route::NotFound;
        }
        current = next;
    }
}

/// What a rule's final action (not another number) does with the call.
fn act(
    action: Action,
    rule: &str,
    forwarded: bool,
    directory: &Directory,
    trace: &mut dyn Trace,
) -> Route {
    match action {
        Action::Extension(n) => extension(&n, directory, trace),
        Action::Queue(q) => Route::App(App::Queue(q)),
        Action::Ivr(m) => Route::App(App::Ivr(m)),
        Action::AfterHoursPrompt(p) => Route::App(App::Announce(p)),
        Action::Outbound {
            gateways,
            dial,
            timeout_secs,
            record,
        } => Route::Outbound(Outbound {
            rule: rule.to_string(),
            gateways,
            dial,
            timeout_secs,
            record,
            forwarded,
        }),
        Action::Robot { robot, .. } => {
            trace.problem(format_args!(
                "rule {rule:?} hands the call to robot {robot:?}, \
                 but robots are not available yet: 404"
            ));
            Route::NotFound
        }
        // Numbers are routed again by the caller of this function.
        Action::Internal(_) | Action::AfterHoursTarget(_) => Route::NotFound,
    }
}

/// The built-in application of `number`, if it is one of `[apps]`.
fn builtin(number: &str, apps: &AppsConfig) -> Option<App> {
    let is = |n: &str| !n.is_empty() && n == number;
    if is(&apps.echo) {
        return Some(App::Echo);
    }
    if is(&apps.readback) {
        return Some(App::Readback);
    }
    if is(&apps.tone) {
        return Some(App::Tone);
    }
    if is(&apps.conference) {
        return Some(App::Conference);
    }
    if is(&apps.dial) {
        return Some(App::Dial);
    }
    if let Some(queue) = apps.queues.get(number) {
        return Some(App::Queue(queue.clone()));
    }
    if let Some(root) = apps.ivr.get(number) {
        return Some(App::Ivr(root.clone()));
    }
    if !apps.group_pickup.is_empty() && number == apps.group_pickup {
        return Some(App::Pickup(String::new()));
    }
    let digits = |t: &str| t.len() >= 3 && t.chars().all(|c| c.is_ascii_digit());
    if let Some(target) = number.strip_prefix(apps.pickup.as_str()) {
        if !apps.pickup.is_empty() && digits(target) {
            return Some(App::Pickup(target.to_string()));
        }
    }
    // Supervisor monitoring: prefix + extension (who may use it is checked
    // by the application, which knows the caller).
    let target = number.strip_prefix(apps.eavesdrop.as_str())?;
    (!apps.eavesdrop.is_empty() && target.len() >= 3 && target.chars().all(|c| c.is_ascii_digit()))
        .then(|| App::Eavesdrop(target.to_string()))
}

/// The basic rule: a 3-4 digit number is a local extension.
fn basic(number: &str, directory: &Directory, trace: &mut dyn Trace) -> Route {
    match basic_rule().captures(number).and_then(|c| c.get(1)) {
        Some(ext) => {
            trace.step(format_args!(
                "{number} matches the basic rule {BASIC_RULE}: extension {}",
                ext.as_str()
            ));
            extension(ext.as_str(), directory, trace)
        }
        None => {
            trace.step(format_args!(
                "{number} does not match the basic rule {BASIC_RULE}: 404"
            ));
            Route::NotFound
        }
    }
}

/// `number` if it is an existing, enabled extension; an IVR or queue
/// extension (T4 types) leads to its menu or queue.
fn extension(number: &str, directory: &Directory, trace: &mut dyn Trace) -> Route {
    match directory.get(number) {
        Some(e) if e.enabled => match e.kind.as_str() {
            "ivr" => Route::App(App::Ivr(e.target.clone())),
            "queue" => Route::App(App::Queue(e.target.clone())),
            "robot" => {
                trace.problem(format_args!(
                    "extension {number} is a robot extension ({}), but robots are not available yet: 404",
                    e.target
                ));
                Route::NotFound
            }
            _ => Route::Extension(number.to_string()),
        },
        Some(_) => {
            trace.step(format_args!("extension {number} is disabled: 404"));
            Route::NotFound
        }
        None => {
            trace.step(format_args!("extension {number} does not exist: 404"));
            Route::NotFound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcenter::routing::{AfterHours, Rule, RuleKind, Schedule, WeeklyHours};

    /// Extensions 1001 and 1002, and 1003 disabled.
    async fn directory() -> Directory {
        let store = store::Store::open("sqlite::memory:").await.unwrap();
        let ext = |number: &str, enabled| store::Extension {
            number: number.into(),
            password: "secret".into(),
            display_name: String::new(),
            enabled,
            ..Default::default()
        };
        store
            .add_extensions(&[ext("1001", true), ext("1002", true), ext("1003", false)])
            .await
            .unwrap();
        let d = Directory::default();
        d.refresh(&store).await.unwrap();
        d
    }

    fn rule(order: i64, name: &str, pattern: &str, kind: RuleKind) -> Rule {
        Rule {
            id: order,
            name: name.into(),
            order,
            pattern: callcenter::routing::Pattern::from_text(pattern),
            kind,
            enabled: true,
        }
    }

    /// Monday 2025-06-02 10:00 +08:00.
    fn monday_10am() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2025-06-02T10:00:00+08:00").unwrap()
    }

    /// Open Monday to Friday 09:00-18:00.
    fn weekdays() -> Schedule {
        Schedule {
            weekly: vec![WeeklyHours {
                days: ["mon", "tue", "wed", "thu", "fri"]
                    .map(String::from)
                    .to_vec(),
                hours: vec!["09:00-18:00".into()],
            }],
            holidays: Vec::new(),
        }
    }

    /// A table of every kind of rule.
    fn table() -> RouteTable {
        RouteTable::new(vec![
            rule(
                10,
                "ext8",
                r"^8(\d{4})$",
                RuleKind::Basic {
                    target: Some("$1".into()),
                },
            ),
            rule(
                20,
                "callin",
                "62620668",
                RuleKind::Inbound {
                    target: "200".into(),
                    schedule: Some(weekdays()),
                    after_hours: Some(AfterHours::Prompt("closed".into())),
                },
            ),
            rule(
                30,
                "night",
                "62620669",
                RuleKind::Inbound {
                    target: "1001".into(),
                    schedule: Some(weekdays()),
                    after_hours: Some(AfterHours::Target("9300".into())),
                },
            ),
            rule(
                40,
                "menu",
                "200",
                RuleKind::Ivr {
                    menu: Some("main".into()),
                },
            ),
            rule(
                50,
                "sales",
                "300",
                RuleKind::Queue {
                    queue: "sales".into(),
                },
            ),
            rule(
                60,
                "shadow-echo",
                "9196",
                RuleKind::Queue {
                    queue: "never".into(),
                },
            ),
            rule(
                70,
                "out",
                r"^0(\d{5,})$",
                RuleKind::Outbound {
                    gateways: vec!["carrier".into()],
                    strip_digits: 1,
                    strip_prefix: None,
                    add_prefix: String::new(),
                    timeout_secs: 60,
                    record: false,
                },
            ),
            rule(
                80,
                "bot",
                "201",
                RuleKind::Robot {
                    robot: None,
                    voice_threshold: 200,
                    silence_threshold: 200,
                },
            ),
            rule(
                90,
                "loop-a",
                "7001",
                RuleKind::Inbound {
                    target: "7002".into(),
                    schedule: None,
                    after_hours: None,
                },
            ),
            rule(
                91,
                "loop-b",
                "7002",
                RuleKind::Inbound {
                    target: "7001".into(),
                    schedule: None,
                    after_hours: None,
                },
            ),
            rule(
                95,
                "vip",
                "1002",
                RuleKind::Queue {
                    queue: "vip".into(),
                },
            ),
        ])
        .unwrap()
    }

    /// Collects every step, problems marked with "!".
    #[derive(Default)]
    struct Steps(Vec<String>);

    impl Trace for Steps {
        fn step(&mut self, what: fmt::Arguments<'_>) {
            self.0.push(what.to_string());
        }

        fn problem(&mut self, what: fmt::Arguments<'_>) {
            self.0.push(format!("! {what}"));
        }
    }

    fn at(d: &Directory, t: &RouteTable, number: &str, now: DateTime<FixedOffset>) -> Route {
        route_at(number, d, &AppsConfig::default(), Some(t), now, &mut Quiet)
    }

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

    #[tokio::test]
    async fn without_rules_the_basic_rule_reaches_enabled_extensions_only() {
        let d = directory().await;
        let apps = AppsConfig::default();
        let now = monday_10am();
        let plain = |n: &str| route_at(n, &d, &apps, None, now, &mut Quiet);
        assert_eq!(plain("1001"), Route::Extension("1001".into()));
        assert_eq!(plain("1003"), Route::NotFound, "disabled");
        assert_eq!(plain("1004"), Route::NotFound, "missing");
        assert_eq!(plain("81001"), Route::NotFound, "no rule for 8XXXX");
        assert_eq!(plain("1001"), route("1001", &d, &apps));
        // An empty table is the same as none.
        let empty = RouteTable::default();
        let r = route_at("1001", &d, &apps, Some(&empty), now, &mut Quiet);
        assert_eq!(r, Route::Extension("1001".into()));
    }

    #[tokio::test]
    async fn built_in_numbers_come_before_the_rules() {
        let d = directory().await;
        let t = table();
        let mut apps = AppsConfig::default();
        apps.queues.insert("300".into(), "support".into());
        let now = monday_10am();
        // Rule "shadow-echo" matches 9196, but the echo test wins.
        let r = route_at("9196", &d, &apps, Some(&t), now, &mut Quiet);
        assert_eq!(r, Route::App(App::Echo));
        // A queue number of [apps] wins over rule "sales".
        let r = route_at("300", &d, &apps, Some(&t), now, &mut Quiet);
        assert_eq!(r, Route::App(App::Queue("support".into())));
        // With the test extension off, the rule applies.
        apps.echo.clear();
        let r = route_at("9196", &d, &apps, Some(&t), now, &mut Quiet);
        assert_eq!(r, Route::App(App::Queue("never".into())));
    }

    #[tokio::test]
    async fn rules_come_before_the_basic_rule_which_takes_what_they_leave() {
        let d = directory().await;
        let t = table();
        let now = monday_10am();
        // 1002 is an extension, but rule "vip" sends its calls to a queue.
        assert_eq!(
            at(&d, &t, "1002", now),
            Route::App(App::Queue("vip".into()))
        );
        // 1001 matches no rule: the basic rule rings the extension.
        assert_eq!(at(&d, &t, "1001", now), Route::Extension("1001".into()));
        assert_eq!(at(&d, &t, "1004", now), Route::NotFound);
        assert_eq!(at(&d, &t, "12", now), Route::NotFound);
    }

    #[tokio::test]
    async fn a_basic_rule_rings_its_target_extension_if_it_exists_and_is_enabled() {
        let d = directory().await;
        let t = table();
        let now = monday_10am();
        assert_eq!(at(&d, &t, "81001", now), Route::Extension("1001".into()));
        assert_eq!(at(&d, &t, "81003", now), Route::NotFound, "disabled");
        assert_eq!(at(&d, &t, "81009", now), Route::NotFound, "missing");
    }

    #[tokio::test]
    async fn queue_and_ivr_rules_start_their_applications() {
        let d = directory().await;
        let t = table();
        let now = monday_10am();
        assert_eq!(
            at(&d, &t, "300", now),
            Route::App(App::Queue("sales".into()))
        );
        assert_eq!(at(&d, &t, "200", now), Route::App(App::Ivr("main".into())));
    }

    #[tokio::test]
    async fn inbound_numbers_are_routed_again_from_the_built_ins() {
        let d = directory().await;
        let t = table();
        let monday = monday_10am();
        let sunday = DateTime::parse_from_rfc3339("2025-06-01T10:00:00+08:00").unwrap();
        // In office hours: DID -> 200 -> IVR menu "main".
        assert_eq!(
            at(&d, &t, "62620668", monday),
            Route::App(App::Ivr("main".into()))
        );
        // Closed: the after-hours prompt is played.
        assert_eq!(
            at(&d, &t, "62620668", sunday),
            Route::App(App::Announce("closed".into()))
        );
        // In hours: 1001 by the basic rule; closed: the conference built-in.
        assert_eq!(
            at(&d, &t, "62620669", monday),
            Route::Extension("1001".into())
        );
        assert_eq!(at(&d, &t, "62620669", sunday), Route::App(App::Conference));
    }

    #[tokio::test]
    async fn an_outbound_rule_sends_the_number_out_through_its_gateways() {
        let d = directory().await;
        let t = table();
        let r = route_at(
            "013800138000",
            &d,
            &AppsConfig::default(),
            Some(&t),
            monday_10am(),
            &mut Quiet,
        );
        let Route::Outbound(o) = r else {
            panic!("{r:?}")
        };
        assert_eq!(o.gateways, vec!["carrier".to_string()]);
        assert!(!o.forwarded, "dialled directly");
        assert!(o.dial.ends_with("13800138000"), "{o:?}");
    }

    #[tokio::test]
    async fn robots_and_loops_are_not_found_and_say_why() {
        let d = directory().await;
        let t = table();
        let apps = AppsConfig::default();
        let now = monday_10am();
        for (number, why) in [("201", "robot \"201\""), ("7001", "7001 -> 7002 -> 7001")] {
            let mut steps = Steps::default();
            let r = route_at(number, &d, &apps, Some(&t), now, &mut steps);
            assert_eq!(r, Route::NotFound, "{number}");
            let problem = steps.0.iter().find(|s| s.starts_with('!'));
            assert!(
                problem.is_some_and(|p| p.contains(why)),
                "{number}: {:?}",
                steps.0
            );
        }
    }

    #[tokio::test]
    async fn the_trace_tells_each_step() {
        let d = directory().await;
        let t = table();
        let mut steps = Steps::default();
        let r = route_at(
            "62620669",
            &d,
            &AppsConfig::default(),
            Some(&t),
            monday_10am(),
            &mut steps,
        );
        assert_eq!(r, Route::Extension("1001".into()));
        assert_eq!(
            steps.0,
            [
                "62620669: rule \"night\" wins: route internal number 1001",
                "1001 matches no routing rule",
                "1001 matches the basic rule ^(\\d{3,4})$: extension 1001",
            ]
        );
        assert_eq!(r.to_string(), "ring extension 1001");
        assert_eq!(
            Route::App(App::Announce("closed".into())).to_string(),
            "play \"closed\", then hang up"
        );
        assert_eq!(Route::App(App::Echo).to_string(), "the echo application");
    }

    #[test]
    fn the_commented_example_of_the_shipped_config_is_valid() {
        let text = include_str!("../../../../conf/switchboard.toml");
        let example: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# [[callcenter.routes]]"))
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{}\n", l.trim_start_matches('#')))
            .collect();
        assert!(example.contains("hotline"), "{example}");
        let cfg = format!("[[callcenter.queues]]\nname = \"support\"\n{example}");
        let cfg = Config::from_toml(&cfg).unwrap();
        let t = cfg.callcenter.route_table().unwrap();
        let d = Directory::default();
        let apps = AppsConfig::default();
        let holiday = DateTime::parse_from_rfc3339("2025-10-01T10:00:00+08:00").unwrap();
        let r = route_at("62620668", &d, &apps, Some(t), holiday, &mut Quiet);
        assert_eq!(r, Route::App(App::Announce("goodbye".into())));
        let r = route_at("400", &d, &apps, Some(t), holiday, &mut Quiet);
        assert_eq!(r, Route::App(App::Queue("support".into())));
    }

    #[test]
    fn routes_are_read_from_the_callcenter_section_and_checked() {
        let ok = r#"
            [[callcenter.queues]]
            name = "support"

            [[callcenter.routes]]
            name = "ext8"
            pattern = '^8(\d{4})$'
            kind = { type = "basic", target = "$1" }

            [[callcenter.routes]]
            name = "support line"
            pattern = "400"
            kind = { type = "queue", queue = "support" }
        "#;
        let cfg = Config::from_toml(ok).unwrap();
        let t = cfg.callcenter.route_table().expect("rules configured");
        assert_eq!(t.len(), 2);
        // Without id and order, rules are numbered in list order.
        let numbered: Vec<(i64, i64)> = t.rules().map(|r| (r.id, r.order)).collect();
        assert_eq!(numbered, [(1, 10), (2, 20)]);
        assert!(Config::default().callcenter.route_table().is_none());

        let bad_regex = r#"
            [[callcenter.routes]]
            name = "broken"
            pattern = '^8(\d{4}$'
            kind = { type = "basic" }
        "#;
        let e = format!("{:#}", Config::from_toml(bad_regex).unwrap_err());
        assert!(e.contains("routing rule \"broken\""), "{e}");
        assert!(e.contains("not a valid regex"), "{e}");

        let unknown_queue = ok.replace("queue = \"support\" }", "queue = \"sales\" }");
        let e = format!("{:#}", Config::from_toml(&unknown_queue).unwrap_err());
        assert!(
            e.contains("routing rule \"support line\", queue: goes to unknown queue 'sales'"),
            "{e}"
        );

        let unknown_menu = r#"
            [[callcenter.routes]]
            name = "menu"
            pattern = "200"
            kind = { type = "ivr", menu = "main" }
        "#;
        let e = format!("{:#}", Config::from_toml(unknown_menu).unwrap_err());
        assert!(
            e.contains("routing rule \"menu\", menu: goes to unknown IVR menu 'main'"),
            "{e}"
        );
    }
}
