//! The pacer's tests: the window's arithmetic, decisions on hand-made
//! snapshots, the compliance checks, and simulated campaigns over the
//! range of answer rates, handle times and team sizes the issue names.

use super::compliance::*;
use super::decide::binomial;
use super::sim::{simulate, simulate_progressive, SimConfig};
use super::*;

const MIN: i64 = 60_000;

#[test]
fn the_window_allows_the_abandons_that_keep_the_rate_at_or_under_the_cap() {
    let mut w = AbandonWindow::new(30 * 86_400_000, MIN);
    assert_eq!(w.budget(0, 30_000, 0), 0, "nothing answered: no abandon");
    for i in 0..100 {
        w.record(i * 1000, false);
    }
    // 3 more make 3 of 103 (2.9 %); a 4th would be 4 of 104 (3.8 %).
    assert_eq!(w.budget(100_000, 30_000, 0), 3);
    for i in 0..3 {
        w.record(100_000 + i, true);
    }
    assert_eq!(w.counts(100_010), (103, 3));
    assert!(within_cap(3, 103, 30_000) && !within_cap(4, 104, 30_000));
    assert_eq!(w.budget(100_010, 30_000, 0), 0, "spent");
    // 33 answers exactly back one abandon at 3 %: 1 of 34 is 2.94 %.
    let mut w = AbandonWindow::new(86_400_000, MIN);
    for i in 0..33 {
        w.record(i, false);
    }
    assert_eq!(w.budget(40, 30_000, 0), 1);
    let mut w = AbandonWindow::new(86_400_000, MIN);
    for i in 0..32 {
        w.record(i, false);
    }
    assert_eq!(w.budget(40, 30_000, 0), 0, "1 of 33 is 3.03 %");
}

#[test]
fn answers_about_to_leave_the_window_do_not_back_an_abandon() {
    let hour = 60 * MIN;
    let mut w = AbandonWindow::new(10 * hour, MIN);
    for i in 0..200 {
        w.record(i, false);
    }
    let now = 9 * hour + 30 * MIN;
    assert_eq!(w.budget(now, 30_000, 0), 6, "still in the window");
    assert_eq!(w.budget(now, 30_000, hour), 0, "gone within the lookahead");
    assert_eq!(w.counts(10 * hour + 2 * MIN), (0, 0), "expired");
}

#[test]
fn the_binomial_distribution_sums_to_one_with_its_mean() {
    for (n, p) in [(0, 0.3), (1, 0.5), (40, 0.3), (900, 0.6), (1500, 0.95)] {
        let d = binomial(n, p);
        let sum: f64 = d.iter().sum();
        let mean: f64 = d.iter().enumerate().map(|(k, x)| k as f64 * x).sum();
        assert!((sum - 1.0).abs() < 1e-9, "n={n} p={p} sum={sum}");
        assert!(
            (mean - n as f64 * p).abs() < 1e-6,
            "n={n} p={p} mean={mean}"
        );
    }
}

fn pacer(mode: Mode) -> Pacer {
    Pacer::new(PacerConfig {
        mode,
        ..PacerConfig::default()
    })
    .unwrap()
}

/// A pacer whose window holds `live` connected answers (a budget of
/// about 3 % of them).
fn with_history(live: i64) -> Pacer {
    let mut p = pacer(Mode::Predictive);
    for i in 0..live {
        p.outcome(
            i,
            Outcome::Connected {
                ring_ms: 8_000,
                connect_ms: 0,
            },
        );
        // Two unanswered per answer: a 33 % answer rate is measured.
        p.outcome(i, Outcome::NoAnswer);
        p.outcome(i, Outcome::NoAnswer);
    }
    p
}

#[test]
fn a_new_campaign_dials_one_call_per_free_agent_until_it_has_a_budget() {
    let mut p = pacer(Mode::Predictive);
    let snap = Snapshot {
        ready: 5,
        busy: 15,
        ringing: 2,
        waiting: 0,
    };
    let d = p.decide(0, &snap);
    assert_eq!(d.dial, 3, "5 free agents, 2 calls already ringing");
    assert_eq!(d.limit, Limit::Budget { budget: 0 });
}

#[test]
fn progressive_dialing_never_has_more_calls_than_free_agents() {
    let mut p = pacer(Mode::Progressive);
    let d = p.decide(
        0,
        &Snapshot {
            ready: 4,
            busy: 6,
            ringing: 1,
            waiting: 1,
        },
    );
    assert_eq!((d.dial, d.limit), (2, Limit::FreeAgents));
    let d = p.decide(
        0,
        &Snapshot {
            ready: 1,
            busy: 6,
            ringing: 3,
            waiting: 0,
        },
    );
    assert_eq!(d.dial, 0);
}

#[test]
fn with_a_budget_the_pacer_dials_ahead_of_busy_agents_but_not_past_the_lines() {
    let mut p = with_history(3_000);
    let snap = Snapshot {
        ready: 2,
        busy: 18,
        ringing: 0,
        waiting: 0,
    };
    let d = p.decide(10_000, &snap);
    assert!(d.dial > 2, "dials ahead of the 2 free agents: {d:?}");
    assert!(d.dial <= 60, "at most 3 lines per agent: {d:?}");
    // The expected share of the chosen calls is on target, one more is
    // over it.
    match d.limit {
        Limit::Target { expected } => assert!(expected > 0.8 * 0.03, "{expected}"),
        other => panic!("bounded by {other:?}"),
    }
    // Nobody is busy and 10 free: with a 33 % answer rate it dials more
    // than 10 but fewer than 10 / 0.33 + a lot.
    let d = p.decide(
        10_000,
        &Snapshot {
            ready: 10,
            busy: 0,
            ringing: 0,
            waiting: 0,
        },
    );
    assert!((11..30).contains(&d.dial), "{d:?}");
    // At the line limit nothing more.
    let d = p.decide(
        10_000,
        &Snapshot {
            ready: 1,
            busy: 9,
            ringing: 30,
            waiting: 0,
        },
    );
    assert_eq!((d.dial, d.limit), (0, Limit::MaxLines));
}

#[test]
fn the_budget_bounds_the_calls_no_free_agent_covers() {
    // 100 answers: 3 abandons allowed, so at most 3 calls beyond the free
    // agents, however good the odds look.
    let mut p = with_history(100);
    // Short calls: many of the 50 busy agents free up within the ring.
    for _ in 0..200 {
        p.handled(15_000);
    }
    let d = p.decide(
        1_000,
        &Snapshot {
            ready: 0,
            busy: 50,
            ringing: 0,
            waiting: 0,
        },
    );
    assert_eq!(d.dial, 3, "{d:?}");
    assert_eq!(d.limit, Limit::Budget { budget: 3 });
    // Two already ringing uncovered: one more.
    let d = p.decide(
        1_000,
        &Snapshot {
            ready: 0,
            busy: 50,
            ringing: 2,
            waiting: 0,
        },
    );
    assert_eq!(d.dial, 1, "{d:?}");
}

#[test]
fn gateway_failures_back_off_doubling_and_a_good_call_resets_it() {
    let mut p = with_history(1_000);
    let snap = Snapshot {
        ready: 5,
        busy: 0,
        ringing: 0,
        waiting: 0,
    };
    p.outcome(10_000, Outcome::Failed);
    let d = p.decide(10_500, &snap);
    assert_eq!(
        d,
        Decision {
            dial: 0,
            limit: Limit::Backoff {
                failures: 1,
                until_ms: 11_000
            }
        }
    );
    assert!(p.decide(11_000, &snap).dial > 0, "back after 1 s");
    p.outcome(11_000, Outcome::Failed);
    p.outcome(11_000, Outcome::Failed);
    p.outcome(11_000, Outcome::Failed);
    assert_eq!(
        p.decide(11_000, &snap).limit,
        Limit::Backoff {
            failures: 4,
            until_ms: 19_000
        }
    );
    for _ in 0..20 {
        p.outcome(20_000, Outcome::Failed);
    }
    assert_eq!(
        p.decide(20_000, &snap).limit,
        Limit::Backoff {
            failures: 24,
            until_ms: 80_000
        },
        "at most a minute"
    );
    p.outcome(80_000, Outcome::Busy);
    assert!(p.decide(80_001, &snap).dial > 0);
}

#[test]
fn no_agent_no_call() {
    let mut p = with_history(1_000);
    assert_eq!(p.decide(0, &Snapshot::default()).limit, Limit::NoAgents);
}

#[test]
fn settings_that_break_the_rules_are_refused_naming_the_field() {
    let bad = |f: fn(&mut PacerConfig)| {
        let mut c = PacerConfig::default();
        f(&mut c);
        Pacer::new(c).map(|_| ()).unwrap_err().field
    };
    assert_eq!(bad(|c| c.ring_timeout_ms = 14_999), "ring_timeout_ms");
    assert_eq!(bad(|c| c.connect_within_ms = 2_001), "connect_within_ms");
    assert_eq!(bad(|c| c.abandon_cap = 0.0), "abandon_cap");
    assert_eq!(bad(|c| c.abandon_cap = f64::NAN), "abandon_cap");
    assert_eq!(bad(|c| c.margin = 1.5), "margin");
    assert_eq!(bad(|c| c.max_lines_per_agent = 0.5), "max_lines_per_agent");
    assert!(Pacer::new(PacerConfig::default()).is_ok());
}

#[test]
fn calling_hours_follow_the_callees_local_time() {
    let hours = CallingHours::default(); // 8:00-21:00
    let day = 86_400_000i64;
    let noon_utc = 100 * day + 12 * 60 * MIN;
    assert!(hours.allows(noon_utc, 0));
    // UTC+8: 20:00 local, allowed; UTC+10: 22:00, not until 8:00 next day.
    assert!(hours.allows(noon_utc, 8 * 60));
    assert!(!hours.allows(noon_utc, 10 * 60));
    assert_eq!(
        hours.next_open(noon_utc, 10 * 60),
        101 * day + 8 * 60 * MIN - 10 * 60 * MIN
    );
    // UTC-5 at 12:00 UTC is 7:00: opens in an hour.
    assert_eq!(hours.next_open(noon_utc, -5 * 60), noon_utc + 60 * MIN);
    assert_eq!(hours.next_open(noon_utc, 0), noon_utc);
    assert!(!CallingHours {
        start_min: 600,
        end_min: 600
    }
    .is_valid());
}

#[test]
fn a_dial_is_refused_for_do_not_call_hours_and_recent_abandons() {
    let hours = CallingHours::default();
    let noon = 100 * 86_400_000 + 12 * 60 * MIN;
    let ok = DialCheck::default();
    assert_eq!(may_dial(&ok, &hours, noon), Ok(()));
    let dnc = DialCheck {
        do_not_call: true,
        utc_offset_min: 10 * 60,
        ..ok
    };
    assert_eq!(may_dial(&dnc, &hours, noon), Err(Refusal::DoNotCall));
    assert_eq!(Refusal::DoNotCall.code(), "do_not_call");
    let late = DialCheck {
        utc_offset_min: 10 * 60,
        ..ok
    };
    assert_eq!(
        may_dial(&late, &hours, noon).map_err(|r| r.code()),
        Err("outside_calling_hours")
    );
    let abandoned = DialCheck {
        last_abandoned_ms: Some(noon - 71 * 60 * MIN),
        ..ok
    };
    assert_eq!(
        may_dial(&abandoned, &hours, noon),
        Err(Refusal::AbandonedRecently {
            next_ms: noon + 60 * MIN
        })
    );
    let reserved = DialCheck {
        agent_reserved: true,
        ..abandoned
    };
    assert_eq!(may_dial(&reserved, &hours, noon), Ok(()));
    let old = DialCheck {
        last_abandoned_ms: Some(noon - 72 * 60 * MIN),
        ..ok
    };
    assert_eq!(may_dial(&old, &hours, noon), Ok(()));
}

fn sim(agents: usize, answer_rate: f64, aht_s: f64, seed: u64) -> SimConfig {
    SimConfig {
        agents,
        answer_rate,
        aht_s,
        minutes: 30.0,
        seed,
        ..SimConfig::default()
    }
}

#[test]
fn simulated_campaigns_never_break_the_cap_or_the_two_second_rule() {
    for agents in [5, 50, 200] {
        for answer_rate in [0.2, 0.4, 0.6] {
            for aht_s in [60.0, 240.0] {
                let cfg = sim(agents, answer_rate, aht_s, agents as u64);
                let r = simulate(&cfg).unwrap();
                let what = format!("{agents} agents, {answer_rate} answer, {aht_s} s: {r:?}");
                assert!(!r.cap_broken, "{what}");
                assert!(r.max_window_rate <= 0.03, "{what}");
                assert!(r.max_connect_ms <= 2_000, "{what}");
                assert!(r.min_ring_out_ms >= 15_000, "{what}");
                assert!(r.answered > 0 && r.calls >= r.answered, "{what}");
                assert!(r.occupancy > 0.0 && r.occupancy <= 1.0, "{what}");
            }
        }
    }
}

#[test]
fn predictive_dialing_keeps_agents_busier_than_one_call_per_free_agent() {
    for (agents, answer_rate) in [(50, 0.3), (200, 0.2), (20, 0.5)] {
        let cfg = SimConfig {
            minutes: 60.0,
            ..sim(agents, answer_rate, 120.0, 7)
        };
        let predictive = simulate(&cfg).unwrap();
        let progressive = simulate_progressive(&cfg).unwrap();
        assert_eq!(progressive.abandoned, 0, "1:1 cannot abandon");
        assert!(
            predictive.occupancy > progressive.occupancy + 0.05,
            "{agents} agents at {answer_rate}: predictive {predictive:?} progressive {progressive:?}"
        );
        assert!(!predictive.cap_broken);
    }
}

#[test]
fn a_running_campaign_keeps_agents_busy_close_to_the_cap() {
    // Four hours in, the window holds thousands of live answers: the
    // budget no longer binds, the target does.
    let cfg = SimConfig {
        warmup_minutes: 240.0,
        ..sim(50, 0.3, 120.0, 1)
    };
    let predictive = simulate(&cfg).unwrap();
    let progressive = simulate_progressive(&cfg).unwrap();
    assert!(!predictive.cap_broken, "{predictive:?}");
    assert!(predictive.abandon_rate <= 0.03, "{predictive:?}");
    assert!(
        predictive.occupancy > progressive.occupancy + 0.15,
        "predictive {predictive:?} progressive {progressive:?}"
    );
}

#[test]
fn a_short_window_is_held_at_every_moment_as_old_answers_age_out() {
    let cfg = SimConfig {
        minutes: 180.0,
        pacer: PacerConfig {
            window_ms: 20 * MIN,
            lookahead_ms: 2 * MIN,
            ..PacerConfig::default()
        },
        ..sim(30, 0.35, 90.0, 3)
    };
    let r = simulate(&cfg).unwrap();
    assert!(!r.cap_broken, "{r:?}");
    assert!(r.abandoned > 0, "the budget was used: {r:?}");
}

#[test]
fn a_simulation_is_reproducible_from_its_seed() {
    let a = simulate(&sim(20, 0.3, 120.0, 42)).unwrap();
    let b = simulate(&sim(20, 0.3, 120.0, 42)).unwrap();
    let c = simulate(&sim(20, 0.3, 120.0, 43)).unwrap();
    assert_eq!(a.summary_line(), b.summary_line());
    assert_ne!(a.summary_line(), c.summary_line());
    assert!(a.summary_line().starts_with("abandon_rate="));
}

#[test]
fn bad_simulation_figures_are_refused_naming_them() {
    let err = |c: SimConfig| simulate(&c).unwrap_err().field;
    assert_eq!(err(sim(0, 0.3, 120.0, 1)), "agents");
    assert_eq!(err(sim(5, 1.3, 120.0, 1)), "answer_rate");
    assert_eq!(err(sim(5, 0.3, 0.0, 1)), "aht");
    assert_eq!(
        err(SimConfig {
            minutes: 0.0,
            ..sim(5, 0.3, 120.0, 1)
        }),
        "minutes"
    );
}
