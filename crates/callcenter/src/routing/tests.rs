//! Behaviour of the routing table as a whole: validation, matching, office
//! hours, outbound rewriting, explanations and configuration parsing.

use super::*;
use chrono::{DateTime, FixedOffset};

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

/// A Monday morning in Beijing, inside the usual office hours.
fn monday_10am() -> DateTime<FixedOffset> {
    at("2025-03-03T10:00:00+08:00")
}

fn rule(id: i64, name: &str, order: i64, pattern: &str, kind: RuleKind) -> Rule {
    Rule {
        id,
        name: name.to_string(),
        order,
        pattern: Pattern::from_text(pattern),
        kind,
        enabled: true,
    }
}

fn basic(target: Option<&str>) -> RuleKind {
    RuleKind::Basic {
        target: target.map(String::from),
    }
}

fn queue(q: &str) -> RuleKind {
    RuleKind::Queue {
        queue: q.to_string(),
    }
}

fn outbound(strip_digits: usize, strip_prefix: Option<&str>, add_prefix: &str) -> RuleKind {
    RuleKind::Outbound {
        gateways: vec!["carrier".to_string()],
        strip_digits,
        strip_prefix: strip_prefix.map(String::from),
        add_prefix: add_prefix.to_string(),
        timeout_secs: 45,
        record: true,
    }
}

fn office_hours() -> Schedule {
    Schedule {
        weekly: vec![WeeklyHours {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            hours: vec!["09:00-12:00".into(), "13:30-18:00".into()],
        }],
        holidays: vec![],
    }
}

fn inbound(schedule: Option<Schedule>, after_hours: Option<AfterHours>) -> RuleKind {
    RuleKind::Inbound {
        target: "200".to_string(),
        schedule,
        after_hours,
    }
}

fn table(rules: Vec<Rule>) -> RouteTable {
    RouteTable::new(rules).unwrap()
}

fn action(t: &RouteTable, number: &str, now: DateTime<FixedOffset>) -> Option<Action> {
    t.route(number, now).map(|d| d.action)
}

fn error(rules: Vec<Rule>) -> RouteError {
    RouteTable::new(rules).unwrap_err()
}

// ---- literal and regex patterns --------------------------------------------

#[test]
fn digits_are_a_literal_that_must_equal_the_whole_number() {
    assert_eq!(Pattern::from_text(" 200 "), Pattern::Literal("200".into()));
    assert_eq!(
        Pattern::from_text("+8610*#"),
        Pattern::Literal("+8610*#".into())
    );
    assert_eq!(Pattern::from_text("^200$"), Pattern::Regex("^200$".into()));
    let t = table(vec![rule(1, "ivr", 1, "200", RuleKind::Ivr { menu: None })]);
    assert_eq!(
        action(&t, "200", monday_10am()),
        Some(Action::Ivr("200".into()))
    );
    assert_eq!(action(&t, "1200", monday_10am()), None);
    assert_eq!(action(&t, "2001", monday_10am()), None);
}

#[test]
fn regexes_are_not_anchored_for_the_admin() {
    let t = table(vec![
        rule(1, "loose", 1, r"20\d", queue("loose")),
        rule(2, "local", 2, r"^(\d{3,4})$", basic(None)),
    ]);
    // Unanchored: finds "201" inside the longer number.
    assert_eq!(
        action(&t, "92015", monday_10am()),
        Some(Action::Queue("loose".into()))
    );
    assert_eq!(
        action(&t, "1000", monday_10am()),
        Some(Action::Extension("1000".into()))
    );
    assert_eq!(action(&t, "10000", monday_10am()), None);
    assert_eq!(action(&t, "10", monday_10am()), None);
}

// ---- captures ----------------------------------------------------------------

#[test]
fn captures_fill_targets() {
    let t = table(vec![
        rule(1, "prefixed ext", 1, r"^9(\d{3})$", basic(Some("$1"))),
        rule(2, "queues", 2, r"^3(\d)(\d)$", queue("q$2-${1}0")),
        rule(
            3,
            "did",
            3,
            r"^6262(\d{4})$",
            RuleKind::Inbound {
                target: "8$1".into(),
                schedule: None,
                after_hours: None,
            },
        ),
        rule(
            4,
            "robots",
            4,
            r"^7(\d+)$",
            RuleKind::Robot {
                robot: Some("bot$1".into()),
                voice_threshold: 150,
                silence_threshold: 250,
            },
        ),
        rule(5, "menus", 5, r"^5\d\d$", RuleKind::Ivr { menu: None }),
    ]);
    let now = monday_10am();
    assert_eq!(
        action(&t, "9123", now),
        Some(Action::Extension("123".into()))
    );
    assert_eq!(action(&t, "312", now), Some(Action::Queue("q2-10".into())));
    assert_eq!(
        action(&t, "62620668", now),
        Some(Action::Internal("80668".into()))
    );
    assert_eq!(
        action(&t, "742", now),
        Some(Action::Robot {
            robot: "bot42".into(),
            voice_threshold: 150,
            silence_threshold: 250
        })
    );
    // No menu given: the dialled number, as the manual's "automatic" IVR.
    assert_eq!(action(&t, "501", now), Some(Action::Ivr("501".into())));
}

// ---- order, first match, disabled ------------------------------------------

#[test]
fn lowest_order_wins_whatever_the_list_position() {
    let t = table(vec![
        rule(1, "local", 100, r"^(\d{3,4})$", basic(None)),
        rule(2, "queue 301", 1, "301", queue("sales")),
        rule(3, "callout", 90, r"^(\d{5,13})$", outbound(0, None, "")),
    ]);
    let names: Vec<_> = t.rules().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["queue 301", "callout", "local"]);
    let d = t.route("301", monday_10am()).unwrap();
    assert_eq!((d.rule_id, d.rule_name.as_str()), (2, "queue 301"));
    assert_eq!(d.action, Action::Queue("sales".into()));
    // The later basic rule still gets the other three-digit numbers.
    assert_eq!(
        action(&t, "302", monday_10am()),
        Some(Action::Extension("302".into()))
    );
}

#[test]
fn disabled_rules_are_skipped() {
    let mut off = rule(1, "queue 301", 1, "301", queue("sales"));
    off.enabled = false;
    let t = table(vec![
        off,
        rule(2, "local", 100, r"^(\d{3,4})$", basic(None)),
    ]);
    assert_eq!(
        action(&t, "301", monday_10am()),
        Some(Action::Extension("301".into()))
    );
    let only_disabled = {
        let mut r = rule(1, "queue 301", 1, "301", queue("sales"));
        r.enabled = false;
        table(vec![r])
    };
    assert_eq!(only_disabled.route("301", monday_10am()), None);
}

#[test]
fn an_empty_table_routes_nothing() {
    let t = RouteTable::default();
    assert_eq!(t.route("200", monday_10am()), None);
    assert!(t
        .explain("200", monday_10am())
        .to_string()
        .contains("there are no rules"));
}

// ---- inbound office hours ---------------------------------------------------

fn callin(schedule: Schedule, after_hours: Option<AfterHours>) -> RouteTable {
    table(vec![
        rule(
            1,
            "callin",
            1,
            "62620668",
            inbound(Some(schedule), after_hours),
        ),
        rule(2, "ivr", 2, "200", RuleKind::Ivr { menu: None }),
    ])
}

fn closed_prompt() -> Option<AfterHours> {
    Some(AfterHours::Prompt("closed.wav".into()))
}

#[test]
fn inbound_without_schedule_is_always_in_effect() {
    let t = table(vec![rule(1, "callin", 1, "62620668", inbound(None, None))]);
    let sunday_night = at("2025-03-09T23:00:00+08:00");
    assert_eq!(
        action(&t, "62620668", sunday_night),
        Some(Action::Internal("200".into()))
    );
}

#[test]
fn inbound_inside_weekday_hours_goes_to_its_target() {
    let t = callin(office_hours(), closed_prompt());
    let d = t
        .route("62620668", at("2025-03-05T14:00:00+08:00"))
        .unwrap();
    assert_eq!(d.action, Action::Internal("200".into()));
}

#[test]
fn inbound_outside_weekday_hours_plays_the_after_hours_prompt() {
    let t = callin(office_hours(), closed_prompt());
    for closed in [
        "2025-03-05T12:30:00+08:00", // lunch break between the two ranges
        "2025-03-05T18:00:00+08:00", // end of a range is excluded
        "2025-03-05T08:59:59+08:00",
        "2025-03-08T10:00:00+08:00", // Saturday
    ] {
        assert_eq!(
            action(&t, "62620668", at(closed)),
            Some(Action::AfterHoursPrompt("closed.wav".into())),
            "{closed}"
        );
    }
}

#[test]
fn inbound_after_hours_target_replaces_the_prompt() {
    let t = callin(office_hours(), Some(AfterHours::Target("8000".into())));
    let evening = at("2025-03-05T20:00:00+08:00");
    assert_eq!(
        action(&t, "62620668", evening),
        Some(Action::AfterHoursTarget("8000".into()))
    );
    assert_eq!(
        action(&t, "62620668", monday_10am()),
        Some(Action::Internal("200".into()))
    );
}

#[test]
fn inbound_closed_without_after_hours_action_falls_through_to_the_next_rule() {
    let t = table(vec![
        rule(
            1,
            "day desk",
            1,
            "62620668",
            inbound(Some(office_hours()), None),
        ),
        rule(
            2,
            "night desk",
            2,
            "62620668",
            RuleKind::Inbound {
                target: "300".into(),
                schedule: None,
                after_hours: None,
            },
        ),
    ]);
    assert_eq!(
        action(&t, "62620668", monday_10am()),
        Some(Action::Internal("200".into()))
    );
    let night = at("2025-03-03T22:00:00+08:00");
    assert_eq!(
        action(&t, "62620668", night),
        Some(Action::Internal("300".into()))
    );
    let e = t.explain("62620668", night);
    assert!(matches!(e.checks[0].verdict, Verdict::Closed(_)));
    assert!(e.checks[1].wins);
}

#[test]
fn an_overnight_shift_is_two_ranges_on_two_days() {
    // Ranges cannot cross midnight (see the validation test); split instead.
    let schedule = Schedule {
        weekly: vec![
            WeeklyHours {
                days: vec!["monday".into()],
                hours: vec!["22:00-24:00".into()],
            },
            WeeklyHours {
                days: vec!["tuesday".into()],
                hours: vec!["00:00-06:00".into()],
            },
        ],
        holidays: vec![],
    };
    let t = callin(schedule, closed_prompt());
    let open = Some(Action::Internal("200".into()));
    let closed = Some(Action::AfterHoursPrompt("closed.wav".into()));
    assert_eq!(
        action(&t, "62620668", at("2025-03-03T23:59:00+08:00")),
        open
    );
    assert_eq!(
        action(&t, "62620668", at("2025-03-04T00:00:00+08:00")),
        open
    );
    assert_eq!(
        action(&t, "62620668", at("2025-03-04T05:59:00+08:00")),
        open
    );
    assert_eq!(
        action(&t, "62620668", at("2025-03-04T06:00:00+08:00")),
        closed
    );
    assert_eq!(
        action(&t, "62620668", at("2025-03-03T21:59:00+08:00")),
        closed
    );
}

#[test]
fn a_holiday_closes_a_working_day() {
    let mut s = office_hours();
    // 2025-10-01 is a Wednesday.
    s.holidays.push(Holiday {
        date: "2025-10-01".into(),
        hours: vec![],
    });
    let t = callin(s, closed_prompt());
    let d = t
        .route("62620668", at("2025-10-01T10:00:00+08:00"))
        .unwrap();
    assert_eq!(d.action, Action::AfterHoursPrompt("closed.wav".into()));
    // The next Wednesday keeps its weekday hours.
    let d = t
        .route("62620668", at("2025-10-08T10:00:00+08:00"))
        .unwrap();
    assert_eq!(d.action, Action::Internal("200".into()));
}

#[test]
fn a_holiday_with_its_own_hours_uses_them_even_on_a_weekend() {
    let mut s = office_hours();
    s.holidays.push(Holiday {
        date: "2025-10-07".into(), // Tuesday, short day
        hours: vec!["10:00-12:00".into()],
    });
    s.holidays.push(Holiday {
        date: "2025-10-11".into(), // Saturday worked as a make-up day
        hours: vec!["09:00-17:00".into()],
    });
    let t = callin(s, closed_prompt());
    let open = Some(Action::Internal("200".into()));
    let closed = Some(Action::AfterHoursPrompt("closed.wav".into()));
    assert_eq!(
        action(&t, "62620668", at("2025-10-07T11:00:00+08:00")),
        open
    );
    // 09:30 is inside the Tuesday hours but not the holiday's own.
    assert_eq!(
        action(&t, "62620668", at("2025-10-07T09:30:00+08:00")),
        closed
    );
    assert_eq!(
        action(&t, "62620668", at("2025-10-07T14:00:00+08:00")),
        closed
    );
    assert_eq!(
        action(&t, "62620668", at("2025-10-11T16:00:00+08:00")),
        open
    );
    assert_eq!(
        action(&t, "62620668", at("2025-10-18T16:00:00+08:00")),
        closed
    );
}

#[test]
fn office_hours_are_read_in_the_offset_of_the_time_given() {
    let t = callin(office_hours(), closed_prompt());
    // One instant: Monday 02:00 UTC is 10:00 in Beijing.
    let utc = at("2025-03-03T02:00:00+00:00");
    let beijing = utc.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
    assert_eq!(utc, beijing);
    assert_eq!(
        action(&t, "62620668", utc),
        Some(Action::AfterHoursPrompt("closed.wav".into()))
    );
    assert_eq!(
        action(&t, "62620668", beijing),
        Some(Action::Internal("200".into()))
    );
    // Monday 03:00 UTC is still Sunday evening in New York (-05:00): the
    // weekday changes with the offset too.
    let new_york =
        at("2025-03-03T03:00:00+00:00").with_timezone(&FixedOffset::west_opt(5 * 3600).unwrap());
    let e = t.explain("62620668", new_york);
    match &e.checks[0].verdict {
        Verdict::Matched { hours: Some(h), .. } => {
            assert_eq!(h.basis, HoursBasis::Weekday(chrono::Weekday::Sun));
            assert!(!h.open);
        }
        other => panic!("{other:?}"),
    }
}

// ---- outbound ----------------------------------------------------------------

#[test]
fn outbound_strips_digits_and_adds_a_prefix() {
    let t = table(vec![rule(
        1,
        "callout",
        90,
        r"^9(\d{5,13})$",
        outbound(1, None, "0086"),
    )]);
    assert_eq!(
        action(&t, "913800138000", monday_10am()),
        Some(Action::Outbound {
            gateways: vec!["carrier".into()],
            dial: "008613800138000".into(),
            timeout_secs: 45,
            record: true,
        })
    );
}

#[test]
fn outbound_strip_prefix_only_when_present() {
    let t = table(vec![rule(
        1,
        "callout",
        90,
        r"^\+?[\d]{5,13}$",
        outbound(0, Some("+86"), ""),
    )]);
    let dial = |n: &str| match action(&t, n, monday_10am()) {
        Some(Action::Outbound { dial, .. }) => dial,
        other => panic!("{other:?}"),
    };
    assert_eq!(dial("+8613800138000"), "13800138000");
    assert_eq!(dial("13800138000"), "13800138000");
    // Only at the start: the zeros later in the number stay.
    let t = table(vec![rule(
        1,
        "callout",
        90,
        r"^9",
        outbound(1, Some("0"), "00"),
    )]);
    let dial = |n: &str| match action(&t, n, monday_10am()) {
        Some(Action::Outbound { dial, .. }) => dial,
        other => panic!("{other:?}"),
    };
    assert_eq!(dial("9013800138000"), "0013800138000");
    assert_eq!(dial("91380000138"), "001380000138");
}

#[test]
fn outbound_with_nothing_left_after_stripping_is_not_in_effect() {
    let t = table(vec![
        rule(1, "callout", 1, r"^9\d*$", outbound(1, None, "0")),
        rule(2, "local", 2, r"^(\d{1,4})$", basic(None)),
    ]);
    assert_eq!(
        action(&t, "9", monday_10am()),
        Some(Action::Extension("9".into()))
    );
    let e = t.explain("9", monday_10am());
    assert_eq!(e.checks[0].verdict, Verdict::NothingLeftToDial);
}

// ---- resolving internal numbers ----------------------------------------------

#[test]
fn resolve_follows_the_inbound_target_to_its_own_rule() {
    let t = callin(office_hours(), Some(AfterHours::Target("200".into())));
    let hops = t.resolve("62620668", monday_10am()).unwrap();
    let actions: Vec<_> = hops.iter().map(|d| d.action.clone()).collect();
    assert_eq!(
        actions,
        [Action::Internal("200".into()), Action::Ivr("200".into())]
    );
    let evening = at("2025-03-03T20:00:00+08:00");
    let hops = t.resolve("62620668", evening).unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[0].action, Action::AfterHoursTarget("200".into()));
}

#[test]
fn resolve_reports_a_loop_and_a_missing_route() {
    let to = |target: &str| RuleKind::Inbound {
        target: target.into(),
        schedule: None,
        after_hours: None,
    };
    let t = table(vec![
        rule(1, "a", 1, "1", to("2")),
        rule(2, "b", 2, "2", to("1")),
    ]);
    assert_eq!(
        t.resolve("1", monday_10am()),
        Err(ResolveError::Loop {
            numbers: vec!["1".into(), "2".into(), "1".into()]
        })
    );
    let t = table(vec![rule(1, "a", 1, "1", to("2"))]);
    match t.resolve("1", monday_10am()) {
        Err(ResolveError::NoRoute { number, hops }) => {
            assert_eq!(number, "2");
            assert_eq!(hops.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    // A long chain without repeats is cut at MAX_HOPS.
    let chain: Vec<_> = (0..20)
        .map(|i| {
            rule(
                i,
                &format!("r{i}"),
                i,
                &i.to_string(),
                to(&(i + 1).to_string()),
            )
        })
        .collect();
    match table(chain).resolve("0", monday_10am()) {
        Err(ResolveError::Loop { numbers }) => assert_eq!(numbers.len(), MAX_HOPS + 1),
        other => panic!("{other:?}"),
    }
}

// ---- validation: every error names the rule ----------------------------------

fn assert_names(e: &RouteError, name: &str) {
    assert_eq!(e.rule.name, name);
    assert!(e.to_string().contains(&format!("\"{name}\"")), "{e}");
}

#[test]
fn invalid_regex_names_the_rule_and_the_regex_error() {
    let e = error(vec![rule(7, "broken", 1, r"^(\d{3,4}$", basic(None))]);
    assert_names(&e, "broken");
    assert!(matches!(e.problem, Problem::InvalidRegex { .. }));
    let text = e.to_string();
    assert!(text.contains(r"^(\d{3,4}$"), "{text}");
    assert!(text.contains("unclosed group"), "{text}");
}

#[test]
fn duplicate_order_name_and_id_are_rejected() {
    let e = error(vec![
        rule(1, "first", 5, "301", queue("a")),
        rule(2, "second", 5, "302", queue("b")),
    ]);
    assert_names(&e, "second");
    assert_eq!(
        e.problem,
        Problem::DuplicateOrder {
            order: 5,
            other: "first".into()
        }
    );
    assert!(e
        .to_string()
        .contains("order 5 is already used by rule \"first\""));

    let e = error(vec![
        rule(1, "same", 1, "301", queue("a")),
        rule(2, "same", 2, "302", queue("b")),
    ]);
    assert_names(&e, "same");
    assert_eq!(e.problem, Problem::DuplicateName { other_id: 1 });

    let e = error(vec![
        rule(4, "one", 1, "301", queue("a")),
        rule(4, "two", 2, "302", queue("b")),
    ]);
    assert_names(&e, "two");
    assert!(matches!(e.problem, Problem::DuplicateId { id: 4, .. }));
}

#[test]
fn empty_pattern_and_empty_name_are_rejected() {
    let e = error(vec![rule(1, "nothing", 1, "  ", queue("a"))]);
    assert_names(&e, "nothing");
    assert_eq!(e.problem, Problem::EmptyPattern);
    let e = error(vec![rule(9, " ", 1, "301", queue("a"))]);
    assert_eq!(e.problem, Problem::EmptyName);
    assert!(e.to_string().contains("id 9"), "{e}");
}

#[test]
fn bad_time_ranges_are_rejected() {
    let with_hours = |hours: &str| {
        let mut s = office_hours();
        s.weekly[0].hours = vec![hours.to_string()];
        error(vec![rule(
            1,
            "callin",
            1,
            "62620668",
            inbound(Some(s), closed_prompt()),
        )])
    };
    let e = with_hours("18:00-09:00");
    assert_names(&e, "callin");
    assert!(matches!(e.problem, Problem::BadTimeRange { .. }));
    assert!(e.to_string().contains("18:00-09:00"), "{e}");
    assert!(e.to_string().contains("cannot cross midnight"), "{e}");
    let e = with_hours("08:00-25:00");
    assert_names(&e, "callin");
    assert!(e.to_string().contains("out of range"), "{e}");
    let e = with_hours("nine to five");
    assert_names(&e, "callin");
    assert!(matches!(e.problem, Problem::BadTimeRange { .. }));

    let mut s = office_hours();
    s.holidays.push(Holiday {
        date: "2025-10-01".into(),
        hours: vec!["12:00-11:00".into()],
    });
    let e = error(vec![rule(
        1,
        "callin",
        1,
        "62620668",
        inbound(Some(s), None),
    )]);
    assert_names(&e, "callin");
    assert!(matches!(e.problem, Problem::BadTimeRange { .. }));
}

#[test]
fn unknown_weekday_bad_date_and_duplicate_holiday_are_rejected() {
    let mut s = office_hours();
    s.weekly[0].days.push("Funday".into());
    let e = error(vec![rule(
        1,
        "callin",
        1,
        "62620668",
        inbound(Some(s), None),
    )]);
    assert_names(&e, "callin");
    assert_eq!(e.problem, Problem::UnknownWeekday("Funday".into()));
    assert!(e.to_string().contains("Funday"));

    let mut s = office_hours();
    s.holidays.push(Holiday {
        date: "2025-02-30".into(),
        hours: vec![],
    });
    let e = error(vec![rule(
        1,
        "callin",
        1,
        "62620668",
        inbound(Some(s), None),
    )]);
    assert_names(&e, "callin");
    assert_eq!(e.problem, Problem::BadDate("2025-02-30".into()));

    let mut s = office_hours();
    let day = Holiday {
        date: "2025-10-01".into(),
        hours: vec![],
    };
    s.holidays = vec![day.clone(), day];
    let e = error(vec![rule(
        1,
        "callin",
        1,
        "62620668",
        inbound(Some(s), None),
    )]);
    assert_names(&e, "callin");
    assert_eq!(e.problem, Problem::DuplicateHoliday("2025-10-01".into()));
}

#[test]
fn a_capture_the_pattern_does_not_have_is_rejected() {
    let e = error(vec![rule(1, "ext", 1, r"^9(\d{3})$", basic(Some("$2")))]);
    assert_names(&e, "ext");
    assert!(matches!(
        e.problem,
        Problem::UnknownCapture {
            group: 2,
            groups: 1,
            ..
        }
    ));
    assert!(e.to_string().contains("uses $2"), "{e}");
    assert!(e.to_string().contains("only 1 capture group"), "{e}");

    // A literal has only $0.
    let e = error(vec![rule(
        1,
        "did",
        1,
        "62620668",
        RuleKind::Inbound {
            target: "200".into(),
            schedule: None,
            after_hours: Some(AfterHours::Target("$1".into())),
        },
    )]);
    assert_names(&e, "did");
    assert!(e.to_string().contains("after-hours target"), "{e}");
    assert!(e.to_string().contains("no capture groups"), "{e}");
    assert!(RouteTable::new(vec![rule(1, "did", 1, "62620668", basic(Some("$0")))]).is_ok());

    let e = error(vec![rule(1, "q", 1, r"^3(\d\d)$", queue("q${1"))]);
    assert_names(&e, "q");
    assert!(matches!(
        e.problem,
        Problem::BadTemplate { field: "queue", .. }
    ));
}

#[test]
fn required_fields_and_timeout_are_checked() {
    let e = error(vec![rule(1, "out", 1, r"^\d+$", {
        let mut k = outbound(0, None, "");
        if let RuleKind::Outbound { gateways, .. } = &mut k {
            gateways.clear();
        }
        k
    })]);
    assert_names(&e, "out");
    assert_eq!(e.problem, Problem::EmptyField { field: "gateway" });

    let e = error(vec![rule(1, "out", 1, r"^\d+$", {
        let mut k = outbound(0, None, "");
        if let RuleKind::Outbound { timeout_secs, .. } = &mut k {
            *timeout_secs = 0;
        }
        k
    })]);
    assert_names(&e, "out");
    assert_eq!(e.problem, Problem::ZeroTimeout);

    let e = error(vec![rule(1, "q", 1, "301", queue(" "))]);
    assert_names(&e, "q");
    assert_eq!(e.problem, Problem::EmptyField { field: "queue" });

    let e = error(vec![rule(
        1,
        "did",
        1,
        "62620668",
        inbound(None, Some(AfterHours::Prompt(String::new()))),
    )]);
    assert_names(&e, "did");
    assert_eq!(
        e.problem,
        Problem::EmptyField {
            field: "after-hours prompt"
        }
    );
}

// ---- explanation ---------------------------------------------------------------

#[test]
fn explain_shows_why_the_first_two_rules_lose_and_the_third_wins() {
    let mut old = rule(2, "old callin", 2, "62620668", inbound(None, None));
    old.enabled = false;
    let t = table(vec![
        rule(1, "queue 301", 1, "301", queue("sales")),
        old,
        rule(
            3,
            "callin",
            3,
            "62620668",
            inbound(Some(office_hours()), closed_prompt()),
        ),
        rule(4, "callout", 90, r"^(\d{5,13})$", outbound(0, None, "0")),
    ]);
    let evening = at("2025-03-03T20:15:00+08:00");
    let e = t.explain("62620668", evening);
    let verdicts: Vec<_> = e
        .checks
        .iter()
        .map(|c| (c.rule_name.as_str(), c.wins))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("queue 301", false),
            ("old callin", false),
            ("callin", true),
            ("callout", false)
        ]
    );
    assert_eq!(e.checks[0].verdict, Verdict::PatternMismatch);
    assert_eq!(e.checks[1].verdict, Verdict::Disabled);
    assert_eq!(e.winner().map(|w| w.rule_id), Some(3));
    assert_eq!(
        e.action(),
        Some(&Action::AfterHoursPrompt("closed.wav".into()))
    );
    // The explanation agrees with route().
    assert_eq!(
        t.route("62620668", evening).map(|d| d.action),
        e.action().cloned()
    );
    let expected = "\
Number 62620668 at 2025-03-03 20:15 +08:00 (Monday): rule \"callin\" wins: play after-hours prompt \"closed.wav\".
  order 1 \"queue 301\" (queue, 301): number rule does not match
  order 2 \"old callin\" (inbound, 62620668): disabled
  order 3 \"callin\" (inbound, 62620668): matches outside office hours (Monday 20:15 is outside 09:00-12:00, 13:30-18:00): play after-hours prompt \"closed.wav\"  <- wins
  order 90 \"callout\" (outbound, ^(\\d{5,13})$): matches: dial 062620668 through gateway \"carrier\", timeout 45 s, recorded  (shadowed by the winner)
";
    assert_eq!(e.to_string(), expected);
}

#[test]
fn explain_says_when_no_rule_matches() {
    let t = table(vec![rule(1, "queue 301", 1, "301", queue("sales"))]);
    let e = t.explain("999", monday_10am());
    assert!(e.winner().is_none());
    assert_eq!(
        e.to_string(),
        "Number 999 at 2025-03-03 10:00 +08:00 (Monday): no rule matches.\n  \
         order 1 \"queue 301\" (queue, 301): number rule does not match\n"
    );
}

#[test]
fn explain_shows_the_closed_and_holiday_reasons() {
    let mut s = office_hours();
    s.holidays.push(Holiday {
        date: "2025-10-01".into(),
        hours: vec![],
    });
    let t = table(vec![rule(
        1,
        "callin",
        1,
        "62620668",
        inbound(Some(s), None),
    )]);
    let text = t
        .explain("62620668", at("2025-10-01T10:00:00+08:00"))
        .to_string();
    assert!(
        text.contains("outside office hours (holiday 2025-10-01 10:00 (closed all day)) and no after-hours action, so not in effect"),
        "{text}"
    );
    assert!(text.contains("no rule matches"), "{text}");
    let text = t.explain("62620668", monday_10am()).to_string();
    assert!(
        text.contains("matches in office hours (Monday 10:00 is within 09:00-12:00, 13:30-18:00): route internal number 200  <- wins"),
        "{text}"
    );
}

// ---- configuration -------------------------------------------------------------

#[test]
fn rules_parse_from_toml_with_defaults() {
    #[derive(serde::Deserialize)]
    struct File {
        rule: Vec<Rule>,
    }
    let text = r#"
        [[rule]]
        id = 1
        name = "Callin"
        order = 1
        pattern = "62620668"
        [rule.kind]
        type = "inbound"
        target = "200"
        after_hours = { prompt = "closed.wav" }
        [rule.kind.schedule]
        weekly = [{ days = ["mon", "tue", "wed", "thu", "fri"], hours = ["09:00-12:00", "13:30-18:00"] }]
        holidays = [{ date = "2025-10-01" }]

        [[rule]]
        id = 2
        name = "Callout"
        order = 90
        pattern = '^(\d{5,13})$'
        kind = { type = "outbound", gateway = "carrier" }

        [[rule]]
        id = 3
        name = "robot1"
        order = 5
        pattern = "201"
        enabled = false
        kind = { type = "robot" }
    "#;
    let file: File = toml::from_str(text).unwrap();
    assert_eq!(file.rule[0].pattern, Pattern::Literal("62620668".into()));
    assert_eq!(file.rule[1].pattern, Pattern::Regex(r"^(\d{5,13})$".into()));
    assert!(file.rule[0].enabled);
    assert!(!file.rule[2].enabled);
    assert_eq!(
        file.rule[1].kind,
        RuleKind::Outbound {
            gateways: vec!["carrier".into()],
            strip_digits: 0,
            strip_prefix: None,
            add_prefix: String::new(),
            timeout_secs: 60,
            record: false,
        }
    );
    assert_eq!(
        file.rule[2].kind,
        RuleKind::Robot {
            robot: None,
            voice_threshold: 200,
            silence_threshold: 200
        }
    );
    let t = RouteTable::new(file.rule).unwrap();
    let holiday = at("2025-10-01T10:00:00+08:00");
    assert_eq!(
        action(&t, "62620668", holiday),
        Some(Action::AfterHoursPrompt("closed.wav".into()))
    );
}

#[test]
fn unknown_fields_are_rejected_and_json_round_trips() {
    let typo = r#"{"name":"x","pattern":"1","kind":{"type":"queue","queue":"q","qeueu":1}}"#;
    assert!(serde_json::from_str::<Rule>(typo).is_err());
    let typo = r#"{"name":"x","pattern":"1","kind":{"type":"basic"},"enbled":true}"#;
    assert!(serde_json::from_str::<Rule>(typo).is_err());

    let r = rule(4, "ext", 100, r"^(\d{3,4})$", basic(Some("$1")));
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""pattern":"^(\\d{3,4})$""#), "{json}");
    assert!(json.contains(r#""type":"basic""#), "{json}");
    assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), r);
}

// ---- outbound gateway lists -------------------------------------------------

#[test]
fn outbound_rules_read_the_old_single_gateway_as_a_list_of_one() {
    let old = r#"{"name":"out","order":90,"pattern":"^9(\\d+)$",
        "kind":{"type":"outbound","gateway":"carrier","strip_digits":1}}"#;
    let r: Rule = serde_json::from_str(old).unwrap();
    assert_eq!(r.gateways(), ["carrier"]);
    // Several names in the old string are a list too.
    let old = r#"{"name":"out","pattern":"1","kind":{"type":"outbound","gateway":"a, b"}}"#;
    let r: Rule = serde_json::from_str(old).unwrap();
    assert_eq!(r.gateways(), ["a", "b"]);
    // Written back, it is the new list.
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""gateways":["a","b"]"#), "{json}");
    assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), r);
    // Other types have none.
    assert!(rule(1, "q", 1, "301", queue("q")).gateways().is_empty());
    // TOML config files: a list or a string.
    #[derive(serde::Deserialize)]
    struct File {
        kind: RuleKind,
    }
    let f: File = toml::from_str(r#"kind = { type = "outbound", gateways = ["a", "b"] }"#).unwrap();
    assert!(matches!(f.kind, RuleKind::Outbound { ref gateways, .. } if gateways == &["a", "b"]));
}

#[test]
fn outbound_actions_carry_the_gateways_in_failover_order() {
    let mut k = outbound(0, None, "");
    if let RuleKind::Outbound { gateways, .. } = &mut k {
        *gateways = vec![" primary ".into(), "backup".into()];
    }
    let t = table(vec![rule(1, "out", 1, r"^\d{5,}$", k)]);
    let a = action(&t, "13800138000", monday_10am());
    assert_eq!(
        a,
        Some(Action::Outbound {
            gateways: vec!["primary".into(), "backup".into()],
            dial: "13800138000".into(),
            timeout_secs: 45,
            record: true,
        })
    );
    assert_eq!(
        a.map(|a| a.to_string()).unwrap_or_default(),
        "dial 13800138000 through gateways \"primary\", \"backup\" (in that order), \
         timeout 45 s, recorded"
    );
}

#[test]
fn an_outbound_rule_needs_distinct_non_empty_gateways() {
    for list in [vec![], vec!["a".to_string(), " ".to_string()]] {
        let mut k = outbound(0, None, "");
        if let RuleKind::Outbound { gateways, .. } = &mut k {
            *gateways = list;
        }
        let e = error(vec![rule(1, "out", 1, r"^\d+$", k)]);
        assert_eq!(e.problem, Problem::EmptyField { field: "gateway" });
    }
    let mut k = outbound(0, None, "");
    if let RuleKind::Outbound { gateways, .. } = &mut k {
        *gateways = vec!["a".into(), "b".into(), " a".into()];
    }
    let e = error(vec![rule(1, "out", 1, r"^\d+$", k)]);
    assert_eq!(e.problem, Problem::DuplicateGateway("a".into()));
    assert_eq!(
        e.to_string(),
        "routing rule \"out\" (id 1): gateway \"a\" is listed twice"
    );
}
