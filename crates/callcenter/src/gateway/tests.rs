//! GatewayClient registration and ping tests on a virtual clock (a base `Instant`
//! plus offsets); nothing sleeps.

use super::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn cfg() -> RegConfig {
    RegConfig::default()
}

fn www(nonce: &str) -> String {
    format!("Digest realm=\"carrier\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"")
}

/// The REGISTER the machine sends now; fails the test if it sends anything
/// else or nothing, or if it would send a second request at once.
fn expect_register(r: &mut Registration, now: Instant) -> (RequestId, u32, Vec<ChallengeToAnswer>) {
    match r.poll(now) {
        Some(RegAction::Register {
            id,
            expires,
            answers,
        }) => {
            assert_eq!(r.poll(now), None, "one request at a time");
            assert_eq!(r.state(), RegState::Trying);
            (id, expires, answers)
        }
        other => panic!("expected a REGISTER, got {other:?} in {}", r.state()),
    }
}

fn expect_unregister(r: &mut Registration, now: Instant) -> (RequestId, Vec<ChallengeToAnswer>) {
    match r.poll(now) {
        Some(RegAction::Unregister { id, answers }) => {
            assert_eq!(r.poll(now), None, "one request at a time");
            assert_eq!(r.state(), RegState::Unregister);
            (id, answers)
        }
        other => panic!("expected an unREGISTER, got {other:?} in {}", r.state()),
    }
}

/// A registration that got a 200 granting `granted` at t0, polled into REGED.
fn registered(cfg: RegConfig, granted: Option<u32>) -> (Registration, Instant) {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg, t0);
    let (id, _, _) = expect_register(&mut r, t0);
    assert!(r.on_response(t0, id, &RegResponse::ok(granted)));
    assert_eq!(r.state(), RegState::Register);
    assert_eq!(r.poll(t0), None);
    assert_eq!(r.state(), RegState::Reged);
    (r, t0)
}

/// Fails the first attempt at t0 with `resp`, polls into FAIL_WAIT and
/// returns how long it waits.
fn fail_with(r: &mut Registration, now: Instant, resp: &RegResponse) -> Duration {
    let (id, _, _) = expect_register(r, now);
    assert!(r.on_response(now, id, resp));
    assert_eq!(r.state(), RegState::Failed);
    assert_eq!(r.poll(now), None);
    assert_eq!(r.state(), RegState::FailWait);
    let at = r.next_wakeup().expect("a retry is planned");
    assert_eq!(r.status().next_attempt, Some(at));
    at - now
}

// ---- states and transitions -------------------------------------------

#[test]
fn every_state_of_reference_section_3_is_reached() {
    let t0 = Instant::now();
    let mut seen = Vec::new();

    let noreg = Registration::new(RegConfig::no_register(), t0);
    seen.push(noreg.state());

    let mut r = Registration::new(cfg(), t0);
    seen.push(r.state()); // UNREGED
    let (id, _, _) = expect_register(&mut r, t0);
    seen.push(r.state()); // TRYING
    r.on_response(t0, id, &RegResponse::ok(Some(600)));
    seen.push(r.state()); // REGISTER
    r.poll(t0);
    seen.push(r.state()); // REGED

    // The refresh fails: FAILED, then FAIL_WAIT.
    let t1 = t0 + secs(585);
    let (id, _, _) = expect_register(&mut r, t1);
    r.on_response(t1, id, &RegResponse::new(403, "Forbidden"));
    seen.push(r.state()); // FAILED
    r.poll(t1);
    seen.push(r.state()); // FAIL_WAIT

    // Removed while the binding still lives: UNREGISTER, then DOWN.
    r.unregister(t1);
    let (id, _) = expect_unregister(&mut r, t1);
    seen.push(r.state()); // UNREGISTER
    r.on_response(t1, id, &RegResponse::ok(None));
    seen.push(r.state()); // DOWN

    assert_eq!(seen, RegState::ALL);
}

#[test]
fn state_names_are_freeswitchs_and_parse_back() {
    let names: Vec<&str> = RegState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "NOREG",
            "UNREGED",
            "TRYING",
            "REGISTER",
            "REGED",
            "FAILED",
            "FAIL_WAIT",
            "UNREGISTER",
            "DOWN"
        ]
    );
    for s in RegState::ALL {
        assert_eq!(s.as_str().parse::<RegState>(), Ok(*s));
        assert_eq!(s.to_string().to_lowercase().parse::<RegState>(), Ok(*s));
        let json = serde_json::to_string(s).expect("serialises");
        assert_eq!(json, format!("\"{}\"", s.as_str()));
        assert_eq!(serde_json::from_str::<RegState>(&json).ok(), Some(*s));
    }
    let err = "REGISTERED".parse::<RegState>().expect_err("not a state");
    assert!(err.to_string().contains("FAIL_WAIT"), "{err}");
    assert_eq!(
        serde_json::to_string(&Health::Up).ok().as_deref(),
        Some("\"UP\"")
    );
}

#[test]
fn noreg_never_sends_register() {
    let t0 = Instant::now();
    let mut r = Registration::new(RegConfig::no_register(), t0);
    assert_eq!(r.state(), RegState::NoReg);
    assert_eq!(r.next_wakeup(), None);
    for h in 0..48 {
        assert_eq!(r.poll(t0 + secs(h * 3600)), None);
    }
    r.force_reregister(t0 + secs(10));
    assert_eq!(r.poll(t0 + secs(10)), None);
    r.reconfigure(
        RegConfig {
            expire_secs: 60,
            ..RegConfig::no_register()
        },
        t0 + secs(20),
    );
    assert_eq!(r.state(), RegState::NoReg);
    assert_eq!(r.poll(t0 + secs(20)), None);
    assert_eq!(r.status().next_attempt, None);
    // Removing it sends nothing either.
    r.unregister(t0 + secs(30));
    assert_eq!(r.state(), RegState::Down);
    assert_eq!(r.poll(t0 + secs(30)), None);
}

#[test]
fn first_poll_registers_with_expire_seconds() {
    let t0 = Instant::now();
    let mut r = Registration::new(
        RegConfig {
            expire_secs: 1800,
            ..cfg()
        },
        t0,
    );
    assert_eq!(r.state(), RegState::Unreged);
    assert_eq!(r.next_wakeup(), Some(t0));
    assert_eq!(r.status().next_attempt, Some(t0));
    let (_, expires, answers) = expect_register(&mut r, t0);
    assert_eq!(expires, 1800);
    assert!(answers.is_empty());
    // TRYING waits for the answer until timeout-seconds.
    assert_eq!(r.next_wakeup(), Some(t0 + secs(60)));
    assert!(!r.is_registered(t0));
}

// ---- expiry and refresh ---------------------------------------------------

#[test]
fn reged_refreshes_15_s_before_the_requested_expiry_when_the_200_has_none() {
    let (mut r, t0) = registered(cfg(), None);
    let st = r.status();
    assert_eq!(st.granted_expires, Some(3600));
    assert_eq!(st.registered_until, Some(t0 + secs(3600)));
    assert_eq!(st.next_attempt, Some(t0 + secs(3585)));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(3585)));
    assert_eq!(r.poll(t0 + secs(3584)), None);
    let (_, expires, answers) = expect_register(&mut r, t0 + secs(3585));
    assert_eq!(expires, 3600);
    assert!(answers.is_empty());
    // The old binding still holds while the refresh is under way.
    assert!(r.is_registered(t0 + secs(3590)));
    assert!(!r.is_registered(t0 + secs(3600)));
}

#[test]
fn server_expires_lower_than_asked_wins() {
    let (mut r, t0) = registered(cfg(), Some(600));
    let st = r.status();
    assert_eq!(st.granted_expires, Some(600));
    assert_eq!(st.requested_expires, 3600);
    assert_eq!(st.registered_until, Some(t0 + secs(600)));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(585)));
    let (id, expires, _) = expect_register(&mut r, t0 + secs(585));
    // We keep asking for our value; the server keeps deciding.
    assert_eq!(expires, 3600);
    r.on_response(t0 + secs(585), id, &RegResponse::ok(Some(600)));
    r.poll(t0 + secs(585));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(1170)));
}

#[test]
fn server_expires_higher_than_asked_wins() {
    let (r, t0) = registered(
        RegConfig {
            expire_secs: 600,
            ..cfg()
        },
        Some(7200),
    );
    assert_eq!(r.status().granted_expires, Some(7200));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(7185)));
    assert_eq!(r.status().registered_until, Some(t0 + secs(7200)));
}

#[test]
fn a_200_without_expires_or_with_zero_means_our_value() {
    let (r, t0) = registered(
        RegConfig {
            expire_secs: 120,
            ..cfg()
        },
        None,
    );
    assert_eq!(r.status().granted_expires, Some(120));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(105)));

    let (r, t0) = registered(
        RegConfig {
            expire_secs: 120,
            ..cfg()
        },
        Some(0),
    );
    assert_eq!(r.status().granted_expires, Some(120));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(105)));
}

#[test]
fn short_expiry_refreshes_half_way_and_never_below_a_second() {
    assert_eq!(refresh_delay(3600), 3585);
    assert_eq!(refresh_delay(31), 16);
    assert_eq!(refresh_delay(30), 15);
    assert_eq!(refresh_delay(20), 10);
    assert_eq!(refresh_delay(1), 1);
    let (r, t0) = registered(cfg(), Some(20));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(10)));
}

#[test]
fn a_refresh_without_answer_keeps_the_binding_until_it_expires() {
    let (mut r, t0) = registered(cfg(), Some(600));
    let t1 = t0 + secs(585);
    let (id, _, _) = expect_register(&mut r, t1);
    assert!(r.on_timeout(t1 + secs(32), id));
    assert_eq!(r.state(), RegState::Failed);
    assert!(r.is_registered(t1 + secs(10)));
    assert!(!r.is_registered(t0 + secs(600)));
}

#[test]
fn a_provisional_answer_changes_nothing() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    assert!(r.on_response(t0, id, &RegResponse::new(100, "Trying")));
    assert_eq!(r.state(), RegState::Trying);
    assert_eq!(r.status().last_response, None);
    assert!(r.on_response(t0, id, &RegResponse::new(202, "Accepted")));
    assert_eq!(r.state(), RegState::Register);
}

// ---- 423 --------------------------------------------------------------------

#[test]
fn interval_too_brief_retries_at_once_with_min_expires() {
    let t0 = Instant::now();
    let mut r = Registration::new(
        RegConfig {
            expire_secs: 60,
            ..cfg()
        },
        t0,
    );
    let (id, expires, _) = expect_register(&mut r, t0);
    assert_eq!(expires, 60);
    let mut brief = RegResponse::new(423, "Interval Too Brief");
    brief.min_expires = Some(300);
    assert!(r.on_response(t0, id, &brief));
    assert_eq!(r.state(), RegState::Trying);
    assert_eq!(r.next_wakeup(), Some(t0));
    let (id2, expires, _) = expect_register(&mut r, t0);
    assert!(id2 > id);
    assert_eq!(expires, 300);
    r.on_response(t0, id2, &RegResponse::ok(None));
    r.poll(t0);
    assert_eq!(r.status().granted_expires, Some(300));
    assert_eq!(r.status().requested_expires, 300);
    // The refresh asks for Min-Expires straight away.
    let (_, expires, _) = expect_register(&mut r, t0 + secs(285));
    assert_eq!(expires, 300);
    // A reconfigure forgets it.
    r.reconfigure(
        RegConfig {
            expire_secs: 90,
            ..cfg()
        },
        t0 + secs(286),
    );
    let (_, expires, _) = expect_register(&mut r, t0 + secs(286));
    assert_eq!(expires, 90);
}

#[test]
fn a_423_without_usable_min_expires_fails() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let wait = fail_with(&mut r, t0, &RegResponse::new(423, "Interval Too Brief"));
    assert_eq!(wait, secs(30));
    assert_eq!(
        r.status().failure.as_deref(),
        Some("423 Interval Too Brief without Min-Expires")
    );

    let mut r = Registration::new(cfg(), t0);
    let mut brief = RegResponse::new(423, "Interval Too Brief");
    brief.min_expires = Some(60);
    fail_with(&mut r, t0, &brief);
    assert_eq!(
        r.status().failure.as_deref(),
        Some("423 Interval Too Brief with Min-Expires 60 not above 3600")
    );
}

// ---- 503 and back-off -------------------------------------------------------

#[test]
fn a_503_with_retry_after_waits_that_long() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let mut busy = RegResponse::new(503, "Service Unavailable");
    busy.retry_after = Some(120);
    assert_eq!(fail_with(&mut r, t0, &busy), secs(120));
    let st = r.status();
    assert_eq!(
        st.failure.as_deref(),
        Some("503 Service Unavailable (Retry-After 120 s)")
    );
    assert_eq!(st.failure_code, Some(503));
    assert_eq!(
        st.last_response,
        Some(LastResponse {
            code: 503,
            reason: "Service Unavailable".into()
        })
    );
    assert_eq!(r.poll(t0 + secs(119)), None);
    assert_eq!(r.state(), RegState::FailWait);
    expect_register(&mut r, t0 + secs(120));

    // An absurd Retry-After is capped like any back-off.
    let mut r = Registration::new(cfg(), t0);
    busy.retry_after = Some(u32::MAX);
    assert_eq!(fail_with(&mut r, t0, &busy), secs(3600));
}

#[test]
fn a_503_without_retry_after_waits_retry_seconds_every_time() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let busy = RegResponse::new(503, "Service Unavailable");
    let mut now = t0;
    for n in 1..=4 {
        let wait = fail_with(&mut r, now, &busy);
        assert_eq!(wait, secs(30), "503 number {n}");
        assert_eq!(r.status().failures, n);
        now += wait;
    }
}

#[test]
fn back_off_grows_with_failures_and_is_capped() {
    let t0 = Instant::now();
    let mut r = Registration::new(
        RegConfig {
            max_retry_secs: 100,
            ..cfg()
        },
        t0,
    );
    let forbidden = RegResponse::new(403, "Forbidden");
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..6 {
        let wait = fail_with(&mut r, now, &forbidden);
        // Nothing goes out before the wait is over: no tight loop.
        assert_eq!(r.poll(now + wait - Duration::from_millis(1)), None);
        waits.push(wait.as_secs());
        now += wait;
    }
    assert_eq!(waits, [30, 60, 90, 100, 100, 100]);
    assert_eq!(r.status().failures, 6);

    // The default cap is an hour.
    let mut r = Registration::new(cfg(), t0);
    let mut now = t0;
    let mut last = Duration::ZERO;
    for _ in 0..130 {
        last = fail_with(&mut r, now, &forbidden);
        now += last;
    }
    assert_eq!(last, secs(3600));
}

#[test]
fn a_success_resets_the_failure_count() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let forbidden = RegResponse::new(403, "Forbidden");
    let w1 = fail_with(&mut r, t0, &forbidden);
    let w2 = fail_with(&mut r, t0 + w1, &forbidden);
    assert_eq!(w2, secs(60));
    let now = t0 + w1 + w2;
    let (id, _, _) = expect_register(&mut r, now);
    r.on_response(now, id, &RegResponse::ok(Some(60)));
    r.poll(now);
    let st = r.status();
    assert_eq!(
        (st.state, st.failures, st.failure.clone()),
        (RegState::Reged, 0, None)
    );
    // The next failure is a first failure again.
    let now = now + secs(45);
    assert_eq!(fail_with(&mut r, now, &forbidden), secs(30));
}

#[test]
fn forbidden_and_not_found_show_code_and_reason() {
    let t0 = Instant::now();
    for (code, reason) in [
        (403, "Forbidden"),
        (404, "Not Found"),
        (480, "Temporarily Unavailable"),
        (603, "Decline"),
        (302, "Moved Temporarily"),
    ] {
        let mut r = Registration::new(cfg(), t0);
        assert_eq!(
            fail_with(&mut r, t0, &RegResponse::new(code, reason)),
            secs(30)
        );
        let st = r.status();
        assert_eq!(st.failure, Some(format!("{code} {reason}")));
        assert_eq!(st.failure_code, Some(code));
        assert_eq!(st.failures, 1);
        assert_eq!(st.next_attempt, Some(t0 + secs(30)));
    }
}

// ---- timeouts and transport errors -----------------------------------------

#[test]
fn timeout_fails_with_908_then_fail_wait_then_retries_after_retry_seconds() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    // The engine's transaction timeout.
    assert!(r.on_timeout(t0 + secs(32), id));
    assert_eq!(r.state(), RegState::Failed);
    let st = r.status();
    assert_eq!(st.failure.as_deref(), Some("timeout"));
    assert_eq!(st.failure_code, Some(TIMEOUT_CODE));
    assert_eq!(st.last_response, None);
    assert_eq!(r.poll(t0 + secs(32)), None);
    assert_eq!(r.state(), RegState::FailWait);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(62)));
    assert_eq!(r.poll(t0 + secs(61)), None);
    let (id2, _, _) = expect_register(&mut r, t0 + secs(62));
    assert!(id2 > id);
    // A late answer to the first attempt is ignored.
    assert!(!r.on_response(t0 + secs(63), id, &RegResponse::ok(None)));
    assert_eq!(r.state(), RegState::Trying);
    // Timeouts stay on the flat schedule.
    assert!(r.on_timeout(t0 + secs(94), id2));
    r.poll(t0 + secs(94));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(124)));
}

#[test]
fn trying_times_out_by_itself_after_timeout_seconds() {
    let t0 = Instant::now();
    let mut r = Registration::new(
        RegConfig {
            timeout_secs: 20,
            ..cfg()
        },
        t0,
    );
    let (id, _, _) = expect_register(&mut r, t0);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(20)));
    assert_eq!(r.poll(t0 + secs(19)), None);
    assert_eq!(r.poll(t0 + secs(20)), None);
    assert_eq!(r.state(), RegState::FailWait);
    assert_eq!(r.status().failure.as_deref(), Some("timeout"));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(50)));
    // The engine's report of the same request comes too late to count twice.
    assert!(!r.on_timeout(t0 + secs(32), id));
    assert_eq!(r.status().failures, 1);
}

#[test]
fn the_timeout_covers_the_whole_exchange_challenges_included() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(
        t0 + secs(50),
        id,
        &RegResponse::challenge(false, &www("a"), false),
    );
    let (_, _, answers) = expect_register(&mut r, t0 + secs(50));
    assert_eq!(answers.len(), 1);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(60)));
    assert_eq!(r.poll(t0 + secs(60)), None);
    assert_eq!(r.state(), RegState::FailWait);
}

#[test]
fn transport_error_fails_on_the_flat_schedule() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    assert!(r.on_transport_error(t0, id, "connection refused"));
    let st = r.status();
    assert_eq!(st.state, RegState::Failed);
    assert_eq!(
        st.failure.as_deref(),
        Some("transport error: connection refused")
    );
    assert_eq!(st.failure_code, None);
    r.poll(t0);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(30)));
    let (id, _, _) = expect_register(&mut r, t0 + secs(30));
    r.on_transport_error(t0 + secs(30), id, "connection refused");
    r.poll(t0 + secs(30));
    assert_eq!(r.next_wakeup(), Some(t0 + secs(60)));
    assert_eq!(r.status().failures, 2);
}

// ---- digest challenges --------------------------------------------------------

#[test]
fn a_401_is_answered_then_200_registers() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, answers) = expect_register(&mut r, t0);
    assert!(answers.is_empty());
    assert!(r.on_response(t0, id, &RegResponse::challenge(false, &www("n1"), false)));
    assert_eq!(r.state(), RegState::Trying);
    let (id2, expires, answers) = expect_register(&mut r, t0);
    assert_ne!(id2, id);
    assert_eq!(expires, 3600);
    assert_eq!(
        answers,
        [ChallengeToAnswer {
            proxy: false,
            header: www("n1")
        }]
    );
    assert!(r.on_response(t0, id2, &RegResponse::ok(Some(3600))));
    r.poll(t0);
    assert_eq!(r.state(), RegState::Reged);
    assert_eq!(r.status().failure, None);
    // A refresh starts without credentials and is challenged afresh.
    let (_, _, answers) = expect_register(&mut r, t0 + secs(3585));
    assert!(answers.is_empty());
}

#[test]
fn a_407_is_answered_then_200_registers() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(
        t0,
        id,
        &RegResponse::challenge(true, "Digest realm=\"proxy\", nonce=\"p1\"", false),
    );
    let (id2, _, answers) = expect_register(&mut r, t0);
    assert_eq!(answers.len(), 1);
    assert!(answers[0].proxy);
    assert_eq!(answers[0].header, "Digest realm=\"proxy\", nonce=\"p1\"");
    r.on_response(t0, id2, &RegResponse::ok(None));
    r.poll(t0);
    assert_eq!(r.state(), RegState::Reged);
}

#[test]
fn a_proxy_challenge_then_a_registrar_challenge_are_both_answered() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(true, "proxy-1", false));
    let (id, _, answers) = expect_register(&mut r, t0);
    assert_eq!(answers.len(), 1);
    r.on_response(t0, id, &RegResponse::challenge(false, "registrar-1", false));
    let (id, _, answers) = expect_register(&mut r, t0);
    let mut kinds: Vec<(bool, &str)> = answers
        .iter()
        .map(|a| (a.proxy, a.header.as_str()))
        .collect();
    kinds.sort();
    assert_eq!(kinds, [(false, "registrar-1"), (true, "proxy-1")]);
    r.on_response(t0, id, &RegResponse::ok(None));
    assert_eq!(r.state(), RegState::Register);
}

#[test]
fn a_401_after_auth_fails_with_reason_and_backs_off() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let mut now = t0;
    for (n, wait) in [(1u32, 30u64), (2, 60), (3, 90)] {
        let (id, _, _) = expect_register(&mut r, now);
        r.on_response(now, id, &RegResponse::challenge(false, &www("x"), false));
        let (id, _, answers) = expect_register(&mut r, now);
        assert_eq!(answers.len(), 1);
        // Wrong password: the registrar challenges again, not stale.
        assert!(r.on_response(now, id, &RegResponse::challenge(false, &www("y"), false)));
        let st = r.status();
        assert_eq!(st.state, RegState::Failed);
        assert_eq!(st.failure.as_deref(), Some("401 after auth"));
        assert_eq!(st.failure_code, Some(401));
        assert_eq!(
            st.last_response,
            Some(LastResponse {
                code: 401,
                reason: "Unauthorized".into()
            })
        );
        assert_eq!(st.failures, n);
        assert_eq!(r.poll(now), None);
        assert_eq!(r.next_wakeup(), Some(now + secs(wait)));
        // Nothing is sent until the back-off is over.
        assert_eq!(r.poll(now + secs(wait) - Duration::from_millis(1)), None);
        now += secs(wait);
    }
}

#[test]
fn a_407_after_proxy_auth_fails_too() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(true, "p1", false));
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(true, "p2", false));
    assert_eq!(r.status().failure.as_deref(), Some("407 after auth"));
}

#[test]
fn a_stale_nonce_is_answered_again_at_once() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(false, &www("old"), false));
    let (id, _, _) = expect_register(&mut r, t0);
    assert!(r.on_response(t0, id, &RegResponse::challenge(false, &www("new"), true)));
    assert_eq!(r.state(), RegState::Trying);
    let (id, _, answers) = expect_register(&mut r, t0);
    assert_eq!(
        answers,
        [ChallengeToAnswer {
            proxy: false,
            header: www("new")
        }]
    );
    r.on_response(t0, id, &RegResponse::ok(None));
    r.poll(t0);
    assert_eq!(r.state(), RegState::Reged);
}

#[test]
fn a_server_that_challenges_forever_fails_after_a_bounded_number_of_requests() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let mut sent = 0;
    while let Some(RegAction::Register { id, .. }) = r.poll(t0) {
        sent += 1;
        assert!(sent <= MAX_REQUESTS, "must give up");
        r.on_response(
            t0,
            id,
            &RegResponse::challenge(false, &www(&sent.to_string()), true),
        );
    }
    assert_eq!(sent, MAX_REQUESTS);
    assert_eq!(r.state(), RegState::FailWait);
    assert_eq!(
        r.status().failure,
        Some(format!("no final answer after {MAX_REQUESTS} requests"))
    );
}

#[test]
fn a_challenge_without_its_header_fails() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    fail_with(&mut r, t0, &RegResponse::new(401, "Unauthorized"));
    assert_eq!(
        r.status().failure.as_deref(),
        Some("401 Unauthorized without WWW-Authenticate")
    );
}

#[test]
fn credentials_carried_past_a_423_may_be_challenged_once_more() {
    // 401, answered; 423, re-sent with the same credentials; a server that
    // does not accept a nonce twice challenges again: that is no refusal.
    let t0 = Instant::now();
    let mut r = Registration::new(
        RegConfig {
            expire_secs: 60,
            ..cfg()
        },
        t0,
    );
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(false, &www("a"), false));
    let (id, _, _) = expect_register(&mut r, t0);
    let mut brief = RegResponse::new(423, "Interval Too Brief");
    brief.min_expires = Some(120);
    r.on_response(t0, id, &brief);
    let (id, expires, answers) = expect_register(&mut r, t0);
    assert_eq!((expires, answers.len()), (120, 1));
    r.on_response(t0, id, &RegResponse::challenge(false, &www("b"), false));
    let (id, _, answers) = expect_register(&mut r, t0);
    assert_eq!(answers[0].header, www("b"));
    r.on_response(t0, id, &RegResponse::ok(None));
    assert_eq!(r.state(), RegState::Register);
}

// ---- answers to old attempts ----------------------------------------------------

#[test]
fn responses_to_an_old_attempt_are_ignored() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id1, _, _) = expect_register(&mut r, t0);
    let challenge = RegResponse::challenge(false, &www("n"), false);
    assert!(r.on_response(t0, id1, &challenge));
    // A retransmission of the same 401 before we re-sent, and after.
    assert!(!r.on_response(t0, id1, &challenge));
    let (id2, _, _) = expect_register(&mut r, t0);
    assert!(!r.on_response(t0, id1, &challenge));
    assert!(!r.on_timeout(t0, id1));
    assert!(!r.on_transport_error(t0, id1, "gone"));
    assert_eq!(r.state(), RegState::Trying);
    assert_eq!(r.status().failures, 0);
    // A response to an id never sent.
    assert!(!r.on_response(t0, RequestId(999), &RegResponse::ok(None)));
    assert!(r.on_response(t0, id2, &RegResponse::ok(None)));
    // Once REGED, nothing is in flight: a duplicate 200 changes nothing.
    r.poll(t0);
    assert!(!r.on_response(t0 + secs(1), id2, &RegResponse::new(403, "Forbidden")));
    assert_eq!(r.state(), RegState::Reged);
}

// ---- reconfigure, unregister, force ------------------------------------------

#[test]
fn reconfigure_while_reged_registers_again_at_once() {
    let (mut r, t0) = registered(cfg(), Some(3600));
    let t1 = t0 + secs(100);
    r.reconfigure(
        RegConfig {
            expire_secs: 600,
            ..cfg()
        },
        t1,
    );
    assert_eq!(r.state(), RegState::Unreged);
    assert_eq!(r.next_wakeup(), Some(t1));
    let (id, expires, _) = expect_register(&mut r, t1);
    assert_eq!(expires, 600);
    // Changed again while that REGISTER is out: its answer no longer counts.
    r.reconfigure(
        RegConfig {
            expire_secs: 300,
            ..cfg()
        },
        t1 + secs(1),
    );
    let (id2, expires, _) = expect_register(&mut r, t1 + secs(1));
    assert_eq!(expires, 300);
    assert!(!r.on_response(t1 + secs(1), id, &RegResponse::ok(Some(600))));
    assert!(r.on_response(t1 + secs(1), id2, &RegResponse::ok(None)));
    r.poll(t1 + secs(1));
    assert_eq!(r.next_wakeup(), Some(t1 + secs(1 + 285)));
}

#[test]
fn reconfigure_during_back_off_retries_at_once_with_a_clean_slate() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let forbidden = RegResponse::new(403, "Forbidden");
    let w = fail_with(&mut r, t0, &forbidden);
    fail_with(&mut r, t0 + w, &forbidden);
    assert_eq!(r.status().failures, 2);
    let t1 = t0 + w + secs(5);
    r.reconfigure(cfg(), t1);
    let st = r.status();
    assert_eq!(
        (st.state, st.failures, st.failure),
        (RegState::Unreged, 0, None)
    );
    expect_register(&mut r, t1);
}

#[test]
fn reconfigure_to_no_register_removes_the_binding_then_noreg() {
    let (mut r, t0) = registered(cfg(), None);
    let t1 = t0 + secs(10);
    r.reconfigure(RegConfig::no_register(), t1);
    let (id, answers) = expect_unregister(&mut r, t1);
    assert!(answers.is_empty());
    assert!(r.on_response(t1, id, &RegResponse::ok(None)));
    assert_eq!(r.state(), RegState::NoReg);
    assert!(!r.is_registered(t1));
    assert_eq!(r.poll(t1 + secs(7200)), None);
    // And back: registers again.
    r.reconfigure(cfg(), t1 + secs(20));
    expect_register(&mut r, t1 + secs(20));
}

#[test]
fn reconfigure_to_no_register_without_binding_is_noreg_at_once() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    fail_with(&mut r, t0, &RegResponse::new(403, "Forbidden"));
    r.reconfigure(RegConfig::no_register(), t0 + secs(1));
    assert_eq!(r.state(), RegState::NoReg);
    assert_eq!(r.poll(t0 + secs(1)), None);
}

#[test]
fn unregister_from_reged_sends_expires_0_answers_the_challenge_then_down() {
    let (mut r, t0) = registered(cfg(), None);
    let t1 = t0 + secs(60);
    r.unregister(t1);
    assert_eq!(r.state(), RegState::Unregister);
    assert_eq!(r.next_wakeup(), Some(t1));
    let (id, answers) = expect_unregister(&mut r, t1);
    assert!(answers.is_empty());
    r.on_response(t1, id, &RegResponse::challenge(false, &www("u"), false));
    let (id2, answers) = expect_unregister(&mut r, t1);
    assert_eq!(answers.len(), 1);
    assert!(r.on_response(t1, id2, &RegResponse::ok(None)));
    let st = r.status();
    assert_eq!(st.state, RegState::Down);
    assert_eq!(st.registered_until, None);
    assert_eq!(st.next_attempt, None);
    assert_eq!(r.next_wakeup(), None);
    assert_eq!(r.poll(t1 + secs(86_400)), None);
    // Nothing brings it back but a reconfigure.
    r.force_reregister(t1 + secs(1));
    assert_eq!(r.state(), RegState::Down);
}

#[test]
fn unregister_ends_down_whatever_the_answer() {
    for resp in [
        RegResponse::new(403, "Forbidden"),
        RegResponse::new(500, "Server Internal Error"),
        RegResponse::new(401, "Unauthorized"), // no challenge header
    ] {
        let (mut r, t0) = registered(cfg(), None);
        r.unregister(t0);
        let (id, _) = expect_unregister(&mut r, t0);
        r.on_response(t0, id, &resp);
        assert_eq!(r.state(), RegState::Down, "after {}", resp.code);
    }
    // A wrong password on the way out does not loop either.
    let (mut r, t0) = registered(cfg(), None);
    r.unregister(t0);
    let (id, _) = expect_unregister(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(false, "a", false));
    let (id, _) = expect_unregister(&mut r, t0);
    r.on_response(t0, id, &RegResponse::challenge(false, "b", false));
    assert_eq!(r.state(), RegState::Down);
    assert_eq!(r.status().failure.as_deref(), Some("401 after auth"));
}

#[test]
fn unregister_without_answer_goes_down_after_timeout_seconds() {
    let (mut r, t0) = registered(cfg(), None);
    r.unregister(t0);
    let (id, _) = expect_unregister(&mut r, t0);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(60)));
    assert_eq!(r.poll(t0 + secs(60)), None);
    assert_eq!(r.state(), RegState::Down);
    assert!(!r.on_timeout(t0 + secs(61), id));

    let (mut r, t0) = registered(cfg(), None);
    r.unregister(t0);
    let (id, _) = expect_unregister(&mut r, t0);
    assert!(r.on_transport_error(t0, id, "unreachable"));
    assert_eq!(r.state(), RegState::Down);
}

#[test]
fn unregister_from_failed_without_binding_goes_down_without_sending() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.on_response(t0, id, &RegResponse::new(403, "Forbidden"));
    assert_eq!(r.state(), RegState::Failed);
    r.unregister(t0 + secs(1));
    assert_eq!(r.state(), RegState::Down);
    assert_eq!(r.poll(t0 + secs(1)), None);
    assert_eq!(r.poll(t0 + secs(3600)), None);

    // Same from UNREGED (never sent) and FAIL_WAIT.
    let mut r = Registration::new(cfg(), t0);
    r.unregister(t0);
    assert_eq!((r.state(), r.poll(t0)), (RegState::Down, None));
    let mut r = Registration::new(cfg(), t0);
    fail_with(&mut r, t0, &RegResponse::new(404, "Not Found"));
    r.unregister(t0);
    assert_eq!((r.state(), r.poll(t0)), (RegState::Down, None));
}

#[test]
fn unregister_from_failed_with_a_live_binding_removes_it() {
    let (mut r, t0) = registered(cfg(), Some(600));
    let t1 = t0 + secs(585);
    fail_with(&mut r, t1, &RegResponse::new(500, "Server Internal Error"));
    assert!(r.is_registered(t1));
    r.unregister(t1 + secs(1));
    expect_unregister(&mut r, t1 + secs(1));
}

#[test]
fn unregister_while_trying_removes_what_the_register_may_have_made() {
    let t0 = Instant::now();
    let mut r = Registration::new(cfg(), t0);
    let (id, _, _) = expect_register(&mut r, t0);
    r.unregister(t0);
    let (uid, _) = expect_unregister(&mut r, t0);
    // The REGISTER's 200 arrives late: ignored.
    assert!(!r.on_response(t0, id, &RegResponse::ok(None)));
    assert!(r.on_response(t0, uid, &RegResponse::ok(None)));
    assert_eq!(r.state(), RegState::Down);
}

#[test]
fn force_reregister_sends_at_once_from_reged_and_fail_wait_only() {
    let (mut r, t0) = registered(cfg(), None);
    let t1 = t0 + secs(100);
    r.force_reregister(t1);
    assert_eq!(r.state(), RegState::Unreged);
    let (id, _, _) = expect_register(&mut r, t1);
    // Already trying: no second request.
    r.force_reregister(t1);
    assert_eq!(r.poll(t1), None);
    r.on_response(t1, id, &RegResponse::new(403, "Forbidden"));
    r.poll(t1);
    assert_eq!(r.state(), RegState::FailWait);
    r.force_reregister(t1 + secs(1));
    expect_register(&mut r, t1 + secs(1));
}

// ---- config ---------------------------------------------------------------

#[test]
fn config_validation_names_the_setting() {
    assert_eq!(GatewayConfig::default().validate(), Ok(()));
    let bad = |reg: RegConfig| reg.validate().map_err(|e| e.to_string());
    assert_eq!(
        bad(RegConfig {
            expire_secs: 0,
            ..cfg()
        }),
        Err("expire-seconds must be at least 1 second".into())
    );
    assert_eq!(
        bad(RegConfig {
            retry_secs: 0,
            ..cfg()
        }),
        Err("retry-seconds must be at least 1 second".into())
    );
    assert_eq!(
        bad(RegConfig {
            timeout_secs: 0,
            ..cfg()
        }),
        Err("timeout-seconds must be at least 1 second".into())
    );
    assert!(bad(RegConfig {
        max_retry_secs: 10,
        ..cfg()
    })
    .is_err());
    let ping = |interval_secs, max, min| {
        PingConfig {
            interval_secs,
            max,
            min,
        }
        .validate()
        .map_err(|e| e.to_string())
    };
    assert_eq!(ping(0, 1, 1), Ok(()));
    assert_eq!(ping(30, 5, 2), Ok(()));
    assert_eq!(
        ping(3, 1, 1),
        Err("ping must be 0 (off) or at least 5 seconds, not 3".into())
    );
    assert_eq!(ping(30, 1, 0), Err("ping-min must be at least 1".into()));
    assert_eq!(
        ping(30, 2, 3),
        Err("ping-min (3) must not be above ping-max (2)".into())
    );
}

#[test]
fn settings_that_would_spin_are_raised_when_used() {
    // An unvalidated zero retry and timeout still cannot make a tight loop.
    let t0 = Instant::now();
    let mut r = Registration::new(
        RegConfig {
            retry_secs: 0,
            timeout_secs: 0,
            max_retry_secs: 0,
            expire_secs: 0,
            register: true,
        },
        t0,
    );
    let (_, expires, _) = expect_register(&mut r, t0);
    assert_eq!(expires, 1);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(1)));
    r.poll(t0 + secs(1));
    assert_eq!(r.state(), RegState::FailWait);
    assert_eq!(r.next_wakeup(), Some(t0 + secs(2)));
}

// ---- pings ----------------------------------------------------------------

fn pinger(interval: u32, max: u32, min: u32) -> (Pinger, Instant) {
    let t0 = Instant::now();
    let p = Pinger::new(
        PingConfig {
            interval_secs: interval,
            max,
            min,
        },
        t0,
    );
    (p, t0)
}

fn expect_ping(p: &mut Pinger, now: Instant, reg: RegState) -> PingId {
    match p.poll(now, reg) {
        Some(PingAction::Send(id)) => {
            assert_eq!(p.poll(now, reg), None, "one ping at a time");
            id
        }
        other => panic!("expected a ping, got {other:?}"),
    }
}

/// Pings once at `now` and answers with `code`.
fn ping_once(p: &mut Pinger, now: Instant, code: u16) -> PingEvent {
    let id = expect_ping(p, now, RegState::NoReg);
    p.on_response(now, id, code).expect("the ping in flight")
}

#[test]
fn which_answers_count_as_alive() {
    for code in [200, 202, 404, 405, 486, 501, 599] {
        assert!(ping_succeeded(code), "{code}");
    }
    for code in [100, 183, 408, 503, 600, 603] {
        assert!(!ping_succeeded(code), "{code}");
    }
}

#[test]
fn pings_go_out_only_while_noreg_or_reged() {
    let (mut p, t0) = pinger(30, 1, 1);
    for state in RegState::ALL {
        let allowed = matches!(state, RegState::NoReg | RegState::Reged);
        assert_eq!(may_ping(*state), allowed);
        assert_eq!(p.next_wakeup(*state).is_some(), allowed, "{state}");
        if !allowed {
            assert_eq!(p.poll(t0, *state), None, "{state}");
        }
    }
    // A ping due while TRYING waits for REGED, then goes at once.
    let t1 = t0 + secs(45);
    assert_eq!(p.poll(t1, RegState::Trying), None);
    expect_ping(&mut p, t1, RegState::Reged);
}

#[test]
fn pings_off_send_nothing() {
    let (mut p, t0) = pinger(0, 1, 1);
    assert_eq!(p.poll(t0, RegState::NoReg), None);
    assert_eq!(p.next_wakeup(RegState::NoReg), None);
    assert_eq!(p.status().next_ping, None);
    assert_eq!(p.health(), Health::Unknown);
}

#[test]
fn ping_up_and_down_with_the_defaults() {
    let (mut p, t0) = pinger(30, 1, 1);
    assert_eq!(p.health(), Health::Unknown);
    let ev = ping_once(&mut p, t0, 200);
    assert_eq!((ev.ok, ev.changed), (true, Some(Health::Up)));
    // The next ping is one interval after the answer.
    assert_eq!(p.next_wakeup(RegState::NoReg), Some(t0 + secs(30)));
    assert_eq!(p.poll(t0 + secs(29), RegState::NoReg), None);
    let ev = ping_once(&mut p, t0 + secs(30), 200);
    assert_eq!(ev.changed, None);
    let ev = ping_once(&mut p, t0 + secs(60), 503);
    assert_eq!((ev.ok, ev.changed), (false, Some(Health::Down)));
    let ev = ping_once(&mut p, t0 + secs(90), 404);
    assert_eq!((ev.ok, ev.changed), (true, Some(Health::Up)));
}

#[test]
fn ping_max_and_min_give_hysteresis() {
    // ping-min 2: two answers to come UP; ping-max 4: a healthy gateway
    // rides out two failures and goes DOWN at the third.
    let (mut p, t0) = pinger(10, 4, 2);
    let mut now = t0;
    let mut step = |p: &mut Pinger, code| {
        let ev = ping_once(p, now, code);
        now += secs(10);
        (ev.changed, p.status().count)
    };
    assert_eq!(step(&mut p, 200), (None, 1));
    assert_eq!(p.health(), Health::Unknown);
    assert_eq!(step(&mut p, 200), (Some(Health::Up), 2));
    assert_eq!(step(&mut p, 200), (None, 3));
    assert_eq!(step(&mut p, 200), (None, 4));
    assert_eq!(step(&mut p, 200), (None, 4)); // capped at ping-max
    assert_eq!(step(&mut p, 408), (None, 3));
    assert_eq!(step(&mut p, 408), (None, 2));
    assert_eq!(p.health(), Health::Up);
    assert_eq!(step(&mut p, 408), (Some(Health::Down), 1));
    assert_eq!(step(&mut p, 408), (None, 0));
    assert_eq!(step(&mut p, 408), (None, 0)); // floor at 0
    assert_eq!(step(&mut p, 200), (None, 1));
    assert_eq!(step(&mut p, 200), (Some(Health::Up), 2));
}

#[test]
fn ping_failures_timeouts_and_round_trip() {
    let (mut p, t0) = pinger(30, 1, 1);
    let id = expect_ping(&mut p, t0, RegState::NoReg);
    let ev = p.on_response(t0 + Duration::from_millis(80), id, 200);
    assert_eq!(ev.map(|e| e.ok), Some(true));
    let st = p.status();
    assert_eq!(st.last_rtt, Some(Duration::from_millis(80)));
    assert_eq!(st.last_code, Some(200));
    assert_eq!(st.last_error, None);

    let t1 = t0 + secs(31);
    let id = expect_ping(&mut p, t1, RegState::NoReg);
    // A provisional answer and an answer to another ping change nothing.
    assert_eq!(p.on_response(t1, id, 100), None);
    assert_eq!(p.on_response(t1, PingId(id.0 + 7), 200), None);
    let ev = p.on_timeout(t1 + secs(32), id).expect("in flight");
    assert_eq!((ev.ok, ev.changed), (false, Some(Health::Down)));
    let st = p.status();
    assert_eq!(st.last_rtt, None);
    assert_eq!(st.last_error.as_deref(), Some("timeout"));
    assert_eq!(st.next_ping, Some(t1 + secs(62)));
    // Late answer to the timed-out ping: ignored.
    assert_eq!(p.on_response(t1 + secs(40), id, 200), None);

    let t2 = t1 + secs(62);
    let id = expect_ping(&mut p, t2, RegState::NoReg);
    let ev = p.on_transport_error(t2, id, "no route").expect("in flight");
    assert!(!ev.ok);
    assert_eq!(
        p.status().last_error.as_deref(),
        Some("transport error: no route")
    );
}

#[test]
fn a_ping_never_reported_is_counted_lost() {
    let (mut p, t0) = pinger(30, 1, 1);
    let id = expect_ping(&mut p, t0, RegState::Reged);
    assert_eq!(p.next_wakeup(RegState::Reged), Some(t0 + PING_GUARD));
    assert_eq!(
        p.poll(t0 + PING_GUARD - Duration::from_millis(1), RegState::Reged),
        None
    );
    match p.poll(t0 + PING_GUARD, RegState::Reged) {
        Some(PingAction::Lost { id: lost, event }) => {
            assert_eq!(lost, id);
            assert!(!event.ok && event.reregister);
            assert_eq!(event.changed, Some(Health::Down));
        }
        other => panic!("expected the ping lost, got {other:?}"),
    }
    assert_eq!(
        p.next_wakeup(RegState::Reged),
        Some(t0 + PING_GUARD + secs(30))
    );
}

#[test]
fn a_failed_ping_asks_for_a_reregister_only_if_sent_while_reged() {
    let (mut p, t0) = pinger(30, 1, 1);
    let id = expect_ping(&mut p, t0, RegState::Reged);
    let ev = p.on_response(t0, id, 503).expect("in flight");
    assert!(ev.reregister);
    let id = expect_ping(&mut p, t0 + secs(30), RegState::NoReg);
    let ev = p.on_response(t0 + secs(30), id, 503).expect("in flight");
    assert!(!ev.reregister);
    let id = expect_ping(&mut p, t0 + secs(60), RegState::Reged);
    let ev = p.on_response(t0 + secs(60), id, 200).expect("in flight");
    assert!(!ev.reregister);
}

#[test]
fn ping_reconfigure() {
    let (mut p, t0) = pinger(60, 3, 1);
    for n in 0..3 {
        ping_once(&mut p, t0 + secs(60 * n), 200);
    }
    assert_eq!(p.status().count, 3);
    let t1 = t0 + secs(150);
    // A shorter interval and a lower ping-max apply at once.
    p.reconfigure(
        PingConfig {
            interval_secs: 10,
            max: 2,
            min: 1,
        },
        t1,
    );
    assert_eq!(p.status().count, 2);
    assert_eq!(p.next_wakeup(RegState::NoReg), Some(t1 + secs(10)));
    // Off: the verdict is forgotten.
    p.reconfigure(PingConfig::default(), t1);
    assert_eq!((p.health(), p.status().count), (Health::Unknown, 0));
    assert_eq!(p.poll(t1 + secs(100), RegState::NoReg), None);
    // On again: pings at once.
    p.reconfigure(PingConfig::every(30), t1 + secs(200));
    expect_ping(&mut p, t1 + secs(200), RegState::NoReg);
}

// ---- the two together -------------------------------------------------------

fn gw_cfg(ping: u32) -> GatewayConfig {
    GatewayConfig {
        reg: cfg(),
        ping: PingConfig::every(ping),
    }
}

#[test]
fn gateway_pings_once_reged_and_a_failed_ping_forces_a_reregister() {
    let t0 = Instant::now();
    let mut g = GatewayClient::new(gw_cfg(30), t0);
    assert!(!g.usable(t0));
    // Registering: no ping yet.
    let Some(GatewayAction::Reg(RegAction::Register { id, .. })) = g.poll(t0) else {
        panic!("expected a REGISTER first");
    };
    assert_eq!(g.poll(t0), None);
    g.on_reg_response(t0, id, &RegResponse::ok(Some(3600)));
    // REGED: the first ping goes out at once.
    let Some(GatewayAction::Ping(pid)) = g.poll(t0) else {
        panic!("expected a ping once REGED");
    };
    assert_eq!(g.registration().state(), RegState::Reged);
    assert_eq!(g.poll(t0), None);
    g.on_ping_response(t0, pid, 200);
    assert!(g.usable(t0));
    assert_eq!(g.next_wakeup(), Some(t0 + secs(30)));

    // The carrier stops answering OPTIONS: DOWN, and a REGISTER at once.
    let t1 = t0 + secs(30);
    let Some(GatewayAction::Ping(pid)) = g.poll(t1) else {
        panic!("expected the second ping");
    };
    let ev = g.on_ping_timeout(t1 + secs(32), pid).expect("in flight");
    assert!(ev.reregister);
    assert_eq!(g.pinger().health(), Health::Down);
    assert!(!g.usable(t1 + secs(32)));
    assert_eq!(g.registration().state(), RegState::Unreged);
    let Some(GatewayAction::Reg(RegAction::Register { id, .. })) = g.poll(t1 + secs(32)) else {
        panic!("expected a forced REGISTER");
    };
    // No ping while TRYING.
    assert_eq!(g.poll(t1 + secs(200)), None);
    let st = g.status();
    assert_eq!(st.reg.state, RegState::FailWait);
    assert_eq!(st.reg.failure.as_deref(), Some("timeout"));
    assert!(!g.on_reg_response(t1 + secs(201), id, &RegResponse::ok(None)));
}

#[test]
fn gateway_noreg_pings_and_is_usable_unless_down() {
    let t0 = Instant::now();
    let mut g = GatewayClient::new(
        GatewayConfig {
            reg: RegConfig::no_register(),
            ping: PingConfig::every(20),
        },
        t0,
    );
    assert!(g.usable(t0), "no verdict yet counts as usable");
    let Some(GatewayAction::Ping(pid)) = g.poll(t0) else {
        panic!("a NOREG gateway pings at once");
    };
    let ev = g.on_ping_response(t0, pid, 503).expect("in flight");
    assert!(!ev.reregister, "nothing to re-register");
    assert!(!g.usable(t0));
    assert_eq!(g.registration().state(), RegState::NoReg);
    let Some(GatewayAction::Ping(pid)) = g.poll(t0 + secs(20)) else {
        panic!("pings continue");
    };
    g.on_ping_response(t0 + secs(20), pid, 200);
    assert!(g.usable(t0 + secs(20)));
    g.unregister(t0 + secs(21));
    assert!(!g.usable(t0 + secs(21)));
    assert_eq!(g.poll(t0 + secs(100)), None);
    assert_eq!(g.next_wakeup(), None);
}

#[test]
fn gateway_lost_ping_while_reged_reregisters_from_poll() {
    let t0 = Instant::now();
    let mut g = GatewayClient::new(gw_cfg(30), t0);
    let Some(GatewayAction::Reg(a)) = g.poll(t0) else {
        panic!("REGISTER first");
    };
    g.on_reg_response(t0, a.id(), &RegResponse::ok(None));
    let Some(GatewayAction::Ping(_)) = g.poll(t0) else {
        panic!("then a ping");
    };
    // The engine never reports the ping; at the guard the gateway registers again.
    assert_eq!(g.next_wakeup(), Some(t0 + PING_GUARD));
    match g.poll(t0 + PING_GUARD) {
        Some(GatewayAction::Reg(RegAction::Register { .. })) => {}
        other => panic!("expected a REGISTER, got {other:?}"),
    }
}

// ---- many gateways, one clock ----------------------------------------------------

/// What the test carrier does with a request.
#[derive(Debug)]
enum Event {
    Wake(usize),
    Reg(usize, RequestId, RegResponse),
    Ping(usize, PingId, u16),
}

/// Events in time order (ties in the order pushed).
#[derive(Default)]
struct Sim {
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    events: Vec<Option<Event>>,
}

impl Sim {
    fn push(&mut self, at: Instant, ev: Event) {
        self.events.push(Some(ev));
        self.queue.push(Reverse((at, self.events.len() as u64 - 1)));
    }

    fn pop(&mut self) -> Option<(Instant, Event)> {
        let Reverse((at, n)) = self.queue.pop()?;
        let ev = self.events.get_mut(n as usize)?.take()?;
        Some((at, ev))
    }
}

#[test]
fn a_thousand_gateways_on_one_virtual_clock() {
    const N: usize = 1000;
    const GRANTED: u32 = 600;
    let horizon = secs(2 * 3600);
    let latency = Duration::from_millis(20);
    let t0 = Instant::now();

    // Every tenth gateway does not register (a peer trunk); all ping every
    // 60 s. The carrier challenges every REGISTER without credentials,
    // grants 600 s, and answers OPTIONS with 200; gateway 7's password is
    // wrong (its answers are challenged again).
    let mut gws: Vec<GatewayClient> = (0..N)
        .map(|i| {
            let reg = if i % 10 == 9 {
                RegConfig::no_register()
            } else {
                cfg()
            };
            let start = t0 + Duration::from_millis(i as u64);
            GatewayClient::new(
                GatewayConfig {
                    reg,
                    ping: PingConfig::every(60),
                },
                start,
            )
        })
        .collect();

    // One queue of timed events: the single "task" of the engine.
    let mut sim = Sim::default();
    let mut scheduled: Vec<Option<Instant>> = vec![None; N];
    for (i, g) in gws.iter().enumerate() {
        let at = g.next_wakeup().expect("every gateway has work at start");
        scheduled[i] = Some(at);
        sim.push(at, Event::Wake(i));
    }

    let mut registers = vec![0u32; N];
    let mut pings = vec![0u32; N];
    let mut steps = 0u64;
    let end = t0 + horizon;
    while let Some((now, ev)) = sim.pop() {
        if now > end {
            break;
        }
        steps += 1;
        let i = match ev {
            Event::Wake(i) => {
                if scheduled[i] != Some(now) {
                    continue; // superseded
                }
                scheduled[i] = None;
                i
            }
            Event::Reg(i, id, resp) => {
                gws[i].on_reg_response(now, id, &resp);
                i
            }
            Event::Ping(i, id, code) => {
                gws[i].on_ping_response(now, id, code);
                i
            }
        };
        while let Some(action) = gws[i].poll(now) {
            let reply = match action {
                GatewayAction::Reg(RegAction::Register { id, answers, .. }) => {
                    registers[i] += 1;
                    let resp = if answers.is_empty() || i == 7 {
                        RegResponse::challenge(false, &www(&format!("{i}-{}", id.0)), false)
                    } else {
                        RegResponse::ok(Some(GRANTED))
                    };
                    Event::Reg(i, id, resp)
                }
                GatewayAction::Reg(RegAction::Unregister { id, .. }) => {
                    Event::Reg(i, id, RegResponse::ok(None))
                }
                GatewayAction::Ping(id) => {
                    pings[i] += 1;
                    Event::Ping(i, id, 200)
                }
            };
            sim.push(now + latency, reply);
        }
        if let Some(at) = gws[i].next_wakeup() {
            if scheduled[i].is_none_or(|s| at < s) {
                scheduled[i] = Some(at.max(now));
                sim.push(at.max(now), Event::Wake(i));
            }
        }
    }

    for (i, g) in gws.iter().enumerate() {
        let st = g.status();
        if i % 10 == 9 {
            assert_eq!(st.reg.state, RegState::NoReg, "gateway {i}");
            assert_eq!(registers[i], 0, "gateway {i} must never REGISTER");
        } else if i == 7 {
            assert_eq!(st.reg.failure.as_deref(), Some("401 after auth"));
            assert!(
                g.pinger().status().count == 0,
                "a FAILED gateway is not pinged"
            );
            assert_eq!(pings[i], 0);
            // Back-off 30, 60, 90, ... s: attempts at 15·k·(k+1) s, so 22
            // in two hours, two requests each; nowhere near a tight loop.
            assert_eq!(registers[i], 44, "gateway 7");
            continue;
        } else {
            assert!(g.registration().is_registered(end), "gateway {i}: {st:?}");
            // One registration, then a refresh every 585 s: 13 exchanges
            // of two requests (challenge, answer).
            assert_eq!(registers[i], 2 * 13, "gateway {i}");
        }
        assert_eq!(g.pinger().health(), Health::Up, "gateway {i}");
        // A ping a minute, give or take the first and the latency.
        assert!(
            (115..=121).contains(&pings[i]),
            "gateway {i} pinged {}",
            pings[i]
        );
    }
    // The single loop did bounded work: a few events per request.
    let requests: u32 = registers.iter().sum::<u32>() + pings.iter().sum::<u32>();
    assert!(
        steps < 4 * u64::from(requests),
        "{steps} steps for {requests} requests"
    );
}
