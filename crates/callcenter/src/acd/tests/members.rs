//! Callers: score order, abandoned resume, max waits, exit keys, announces.

use super::*;

/// Queue "q" (given settings) and one logged-in agent "x" on break.
fn waiting_room(cfg: QueueConfig) -> Sim {
    let mut sim = Sim::new();
    let name = cfg.name.clone();
    sim.queue(cfg);
    sim.agent("x");
    sim.tier(&name, "x", 1, 1);
    sim.status("x", AgentStatus::OnBreak);
    sim
}

/// Makes x available, then serves callers one by one; returns who was served.
fn serve_order(sim: &mut Sim, n: usize) -> Vec<u64> {
    let mut order = Vec::new();
    let mut actions = sim.status("x", AgentStatus::Available);
    for _ in 0..n {
        let got = offers(&actions);
        assert_eq!(got.len(), 1, "{actions:?}");
        let member = got[0].0;
        order.push(member);
        sim.answer(member, "x");
        actions = sim.end_call(member, "x", 1);
    }
    order
}

#[test]
fn highest_score_is_served_first_seconds_waited_plus_base_score() {
    let mut sim = waiting_room(QueueConfig::named("q"));
    sim.join("q", 1);
    sim.advance(secs(10));
    sim.join_with(MemberJoin {
        base_score: 100,
        ..MemberJoin::new("q", 2, "2")
    });
    sim.advance(secs(10));
    sim.join("q", 3);
    sim.advance(secs(10));
    sim.join_with(MemberJoin {
        base_score: -50,
        ..MemberJoin::new("q", 4, "4")
    });
    sim.advance(secs(5));
    sim.join("q", 5);
    let scores: Vec<(u64, i64)> = sim
        .acd
        .members("q", sim.now)
        .iter()
        .map(|m| (m.member.0, m.score))
        .collect();
    // 2: 25 s + 100; 1: 35 s; 3: 15 s; 5: 0 s; 4: 5 s - 50.
    assert_eq!(scores, vec![(2, 125), (1, 35), (3, 15), (5, 0), (4, -45)]);
    assert_eq!(serve_order(&mut sim, 5), vec![2, 1, 3, 5, 4]);
}

#[test]
fn time_base_score_system_counts_time_before_the_queue() {
    for (base, expected) in [
        (TimeBaseScore::Queue, vec![1, 2]),
        (TimeBaseScore::System, vec![2, 1]),
    ] {
        let mut sim = waiting_room(QueueConfig {
            time_base_score: base,
            ..QueueConfig::named("q")
        });
        sim.join("q", 1);
        sim.advance(secs(10));
        sim.join_with(MemberJoin {
            already_waited: secs(50),
            ..MemberJoin::new("q", 2, "2")
        });
        assert_eq!(serve_order(&mut sim, 2), expected, "{base}");
    }
}

fn resume_queue(allowed: bool) -> Sim {
    waiting_room(QueueConfig {
        abandoned_resume_allowed: allowed,
        discard_abandoned_after: secs(60),
        ..QueueConfig::named("q")
    })
}

#[test]
fn an_abandoned_caller_calling_back_in_time_gets_the_old_place() {
    let mut sim = resume_queue(true);
    sim.join_with(MemberJoin::new("q", 1, "5551"));
    sim.advance(secs(10));
    sim.join_with(MemberJoin::new("q", 2, "5552"));
    sim.advance(secs(10));
    let actions = sim.input(AcdInput::MemberHangup {
        member: MemberId(1),
    });
    assert!(events(&actions).contains(&QueueEvent::MemberLeft {
        queue: "q".into(),
        member: MemberId(1),
        end: MemberEnd::Cancelled {
            reason: CancelReason::BreakOut,
        },
        waited: secs(20),
    }));
    assert!(
        cancelled(&actions).is_empty(),
        "BREAK_OUT came from the caller"
    );
    sim.advance(secs(30));
    let actions = sim.join_with(MemberJoin::new("q", 3, "5551"));
    assert!(events(&actions).contains(&QueueEvent::MemberResumed {
        queue: "q".into(),
        member: MemberId(3),
        caller_number: "5551".into(),
    }));
    let view = sim.acd.members("q", sim.now);
    assert_eq!(view[0].member, MemberId(3));
    assert_eq!(view[0].score, 50, "the old join time counts");
    assert_eq!(serve_order(&mut sim, 2), vec![3, 2]);
}

#[test]
fn resume_needs_the_setting_and_the_window() {
    // Not allowed: the caller calling back goes to the back.
    let mut sim = resume_queue(false);
    sim.join_with(MemberJoin::new("q", 1, "5551"));
    sim.advance(secs(10));
    sim.join_with(MemberJoin::new("q", 2, "5552"));
    sim.input(AcdInput::MemberHangup {
        member: MemberId(1),
    });
    let actions = sim.join_with(MemberJoin::new("q", 3, "5551"));
    assert!(matches!(
        events(&actions)[0],
        QueueEvent::MemberJoined { .. }
    ));
    assert_eq!(serve_order(&mut sim, 2), vec![2, 3]);

    // Allowed but too late (after discard-abandoned-after).
    let mut sim = resume_queue(true);
    sim.join_with(MemberJoin::new("q", 1, "5551"));
    sim.advance(secs(10));
    sim.join_with(MemberJoin::new("q", 2, "5552"));
    sim.input(AcdInput::MemberHangup {
        member: MemberId(1),
    });
    assert_eq!(sim.acd.abandoned.len(), 1);
    sim.advance(secs(60));
    assert_eq!(sim.acd.abandoned.len(), 0, "purged after the window");
    sim.join_with(MemberJoin::new("q", 3, "5551"));
    assert_eq!(serve_order(&mut sim, 2), vec![2, 3]);
}

#[test]
fn only_hang_ups_are_remembered_for_resume() {
    let mut sim = resume_queue(true);
    sim.input(AcdInput::UpsertQueue(QueueConfig {
        abandoned_resume_allowed: true,
        exit_keys: "#".into(),
        ..QueueConfig::named("q")
    }));
    sim.join_with(MemberJoin::new("q", 1, "5551"));
    sim.input(AcdInput::MemberDigit {
        member: MemberId(1),
        digit: '#',
    });
    assert_eq!(sim.acd.abandoned.len(), 0);
}

#[test]
fn max_wait_time_cancels_with_timeout_and_stops_ringing() {
    let mut sim = waiting_room(QueueConfig {
        max_wait_time: secs(30),
        ..QueueConfig::named("q")
    });
    sim.join("q", 1);
    sim.advance(secs(20));
    sim.join("q", 2);
    // x starts ringing for caller 1 at 25 s.
    sim.advance(secs(5));
    assert_eq!(
        offers(&sim.status("x", AgentStatus::Available)),
        vec![(1, "x".to_string())]
    );
    let actions = sim.advance(secs(5));
    assert_eq!(cancelled(&actions), vec![(1, CancelReason::Timeout, None)]);
    assert_eq!(cancels(&actions), vec![(1, "x".to_string())]);
    // x was not penalised: caller 2 rings at once.
    assert_eq!(offers(&actions), vec![(2, "x".to_string())]);
    assert!(events(&actions).iter().any(|e| matches!(e,
        QueueEvent::MemberLeft { member: MemberId(1), waited, .. } if *waited == secs(30))));
    // A late answer from x for caller 1 is hung up and changes nothing.
    let late = sim.answer(1, "x");
    assert_eq!(cancels(&late), vec![(1, "x".to_string())]);
    assert_eq!(sim.view("x").offered, Some(MemberId(2)));
}

#[test]
fn max_wait_time_does_not_cut_a_connected_caller() {
    let mut sim = waiting_room(QueueConfig {
        max_wait_time: secs(30),
        ..QueueConfig::named("q")
    });
    sim.status("x", AgentStatus::Available);
    sim.join("q", 1);
    sim.advance(secs(29));
    sim.answer(1, "x");
    assert!(cancelled(&sim.advance(secs(60))).is_empty());
}

#[test]
fn max_wait_with_no_agent_cancels_once_the_queue_has_been_empty_long_enough() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig {
        max_wait_time_with_no_agent: secs(20),
        max_wait_time_with_no_agent_time_reached: secs(5),
        ..QueueConfig::named("q")
    });
    sim.advance(secs(2));
    sim.join("q", 1);
    assert!(cancelled(&sim.advance(secs(17))).is_empty());
    // The queue has had nobody since 0 s: at 20 s caller 1 (waited 18 s) goes.
    let actions = sim.advance(secs(1));
    assert_eq!(
        cancelled(&actions),
        vec![(1, CancelReason::NoAgentTimeout, None)]
    );
    // A new caller may still wait time-reached (5 s).
    sim.advance(secs(10));
    sim.join("q", 2);
    assert!(cancelled(&sim.advance(secs(4))).is_empty());
    assert_eq!(
        cancelled(&sim.advance(secs(1))),
        vec![(2, CancelReason::NoAgentTimeout, None)]
    );
}

#[test]
fn a_logged_in_agent_even_on_break_stops_the_no_agent_clock() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig {
        max_wait_time_with_no_agent: secs(20),
        ..QueueConfig::named("q")
    });
    sim.agent("x");
    sim.tier("q", "x", 1, 1);
    sim.join("q", 1);
    sim.advance(secs(10));
    sim.status("x", AgentStatus::OnBreak);
    assert!(cancelled(&sim.advance(secs(100))).is_empty());
    // Logged out again: the clock restarts from the logout.
    sim.status("x", AgentStatus::LoggedOut);
    assert!(cancelled(&sim.advance(secs(19))).is_empty());
    assert_eq!(
        cancelled(&sim.advance(secs(1))),
        vec![(1, CancelReason::NoAgentTimeout, None)]
    );
}

#[test]
fn exit_key_lets_the_caller_leave_other_keys_do_not() {
    let mut sim = waiting_room(QueueConfig {
        exit_keys: "*0".into(),
        ..QueueConfig::named("q")
    });
    sim.status("x", AgentStatus::Available);
    sim.join("q", 1);
    let ignored = sim.input(AcdInput::MemberDigit {
        member: MemberId(1),
        digit: '5',
    });
    assert!(ignored.is_empty());
    assert_eq!(sim.acd.member_count("q"), 1);
    let actions = sim.input(AcdInput::MemberDigit {
        member: MemberId(1),
        digit: '*',
    });
    assert_eq!(
        cancelled(&actions),
        vec![(1, CancelReason::ExitWithKey, Some('*'))]
    );
    assert_eq!(cancels(&actions), vec![(1, "x".to_string())]);
    assert_eq!(sim.acd.member_count("q"), 0);
}

#[test]
fn announce_plays_every_announce_frequency_while_waiting() {
    let mut sim = waiting_room(QueueConfig {
        announce_sound: Some("all-busy.wav".into()),
        announce_frequency: secs(40),
        ..QueueConfig::named("q")
    });
    sim.join("q", 1);
    let announces = |actions: &[AcdAction]| {
        actions
            .iter()
            .filter(|a| matches!(a, AcdAction::Announce { member: MemberId(1), sound } if sound == "all-busy.wav"))
            .count()
    };
    assert_eq!(announces(&sim.advance(secs(39))), 0);
    assert_eq!(announces(&sim.advance(secs(1))), 1);
    assert_eq!(announces(&sim.advance(secs(80))), 2);
    sim.input(AcdInput::MemberHangup {
        member: MemberId(1),
    });
    assert_eq!(sim.acd.next_deadline(), None, "no timer left behind");
}

#[test]
fn joining_an_unknown_queue_or_twice_is_refused() {
    let mut sim = waiting_room(QueueConfig::named("q"));
    let err = sim
        .try_input(AcdInput::MemberJoin(MemberJoin::new("nope", 1, "1")))
        .unwrap_err();
    assert_eq!(err, AcdError::UnknownQueue("nope".into()));
    sim.join("q", 1);
    let err = sim
        .try_input(AcdInput::MemberJoin(MemberJoin::new("q", 1, "1")))
        .unwrap_err();
    assert_eq!(err, AcdError::DuplicateMember(MemberId(1)));
    assert_eq!(sim.acd.member_count("q"), 1);
}

#[test]
fn members_count_and_join_events_are_published() {
    let mut sim = waiting_room(QueueConfig::named("q"));
    let actions = sim.join("q", 1);
    let evs = events(&actions);
    assert!(evs.contains(&QueueEvent::MemberJoined {
        queue: "q".into(),
        member: MemberId(1),
        caller_number: "5550001".into(),
    }));
    assert!(evs.contains(&QueueEvent::MembersCount {
        queue: "q".into(),
        count: 1,
    }));
}
