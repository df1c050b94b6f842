//! ring-all and ring-progressively: one winner, cancelled losers, timing.

use super::*;

#[test]
fn ring_all_first_answer_wins_and_the_others_are_cancelled() {
    let mut sim = fixture(Strategy::RingAll);
    sim.join("q", 1);
    let actions = sim.answer(1, "a3");
    assert!(actions.contains(&AcdAction::Connected {
        queue: "q".into(),
        member: MemberId(1),
        agent: "a3".into(),
        record_template: None,
    }));
    let mut losers = cancels(&actions);
    losers.sort();
    assert_eq!(
        losers,
        ["a1", "a2", "a4", "a5"]
            .iter()
            .map(|a| (1, a.to_string()))
            .collect::<Vec<_>>()
    );
    let evs = events(&actions);
    assert!(evs.iter().any(|e| matches!(e,
        QueueEvent::MemberLeft { member: MemberId(1), end: MemberEnd::Answered { agent }, .. } if agent == "a3")));
    assert!(evs
        .iter()
        .any(|e| matches!(e, QueueEvent::BridgeStart { agent, .. } if agent == "a3")));
    assert_eq!(sim.view("a3").state, AgentState::InQueueCall);
    assert_eq!(sim.view("a1").state, AgentState::Waiting);
}

#[test]
fn two_answers_at_the_same_instant_one_wins_the_other_is_cancelled_without_penalty() {
    let mut sim = fixture(Strategy::RingAll);
    sim.join("q", 1);
    // Both answers are processed at the same instant; the first one wins.
    let first = sim.answer(1, "a2");
    let second = sim.answer(1, "a4");
    assert_eq!(
        first
            .iter()
            .filter(|a| matches!(a, AcdAction::Connected { .. }))
            .count(),
        1
    );
    assert!(!second
        .iter()
        .any(|a| matches!(a, AcdAction::Connected { .. })));
    assert_eq!(cancels(&second), vec![(1, "a4".to_string())]);
    assert!(
        events(&second).is_empty(),
        "no failure, no penalty: {second:?}"
    );
    let a4 = sim.view("a4");
    assert_eq!(
        (a4.state, a4.no_answer_count, a4.calls_answered),
        (AgentState::Waiting, 0, 1)
    );
    // a4 is free at once for the next caller (with every other free agent).
    let next = offered(&sim.join("q", 2));
    assert!(next.contains(&"a4".to_string()), "{next:?}");
    assert!(!next.contains(&"a2".to_string()));
}

#[test]
fn ring_all_adds_agents_who_become_free_to_the_ringing_caller() {
    let mut sim = fixture(Strategy::RingAll);
    sim.status("a5", AgentStatus::OnBreak);
    assert_eq!(offered(&sim.join("q", 1)), names(&["a1", "a2", "a3", "a4"]));
    assert_eq!(
        offered(&sim.status("a5", AgentStatus::Available)),
        names(&["a5"])
    );
    // A second caller gets only what the first does not ring.
    assert!(offers(&sim.join("q", 2)).is_empty());
    let actions = sim.result(1, "a1", OfferOutcome::Rejected);
    assert!(offers(&actions).is_empty(), "a1 has its reject delay");
}

#[test]
fn ring_all_caller_hanging_up_cancels_every_offer() {
    let mut sim = fixture(Strategy::RingAll);
    sim.join("q", 1);
    let actions = sim.input(AcdInput::MemberHangup {
        member: MemberId(1),
    });
    assert_eq!(cancels(&actions).len(), 5);
    assert_eq!(sim.acd.free_agents("q").len(), 5);
}

#[test]
fn ring_progressively_adds_one_agent_every_delay() {
    let mut sim = fixture_with(QueueConfig {
        strategy: Strategy::RingProgressively,
        ring_progressively_delay: secs(10),
        ..QueueConfig::named("q")
    });
    assert_eq!(offered(&sim.join("q", 1)), names(&["a1"]));
    assert!(offers(&sim.advance(secs(9))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a2"]));
    assert!(offers(&sim.advance(secs(9))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a3"]));
    assert_eq!(
        sim.acd.members("q", sim.now)[0].offered_to,
        names(&["a1", "a2", "a3"])
    );
    // a2 answers at 25 s: a1 and a3 stop ringing, nobody else is added.
    sim.advance(secs(5));
    let actions = sim.answer(1, "a2");
    let mut losers = cancels(&actions);
    losers.sort();
    assert_eq!(losers, vec![(1, "a1".to_string()), (1, "a3".to_string())]);
    assert!(offers(&sim.advance(secs(30))).is_empty());
}

#[test]
fn ring_progressively_restarts_at_once_when_every_offer_failed() {
    let mut sim = fixture_with(QueueConfig {
        strategy: Strategy::RingProgressively,
        ring_progressively_delay: secs(10),
        ..QueueConfig::named("q")
    });
    sim.join("q", 1);
    // a1 rejects (reject delay 10 s): the caller has nothing ringing, so the
    // next agent is tried at once rather than after the delay.
    assert_eq!(
        offered(&sim.result(1, "a1", OfferOutcome::Rejected)),
        names(&["a2"])
    );
}

#[test]
fn standby_agent_is_offered_in_one_queue_at_a_time() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q1"));
    sim.queue(QueueConfig::named("q2"));
    sim.agent("x");
    sim.tier("q1", "x", 1, 1);
    sim.tier("q2", "x", 1, 1);
    sim.status("x", AgentStatus::Available);
    assert_eq!(offers(&sim.join("q1", 1)), vec![(1, "x".to_string())]);
    assert_eq!(sim.acd.tier_state("q1", "x"), Some(TierState::Offering));
    assert_eq!(sim.acd.tier_state("q2", "x"), Some(TierState::Standby));
    assert!(offers(&sim.join("q2", 2)).is_empty());
    sim.answer(1, "x");
    assert_eq!(
        sim.acd.tier_state("q1", "x"),
        Some(TierState::ActiveInbound)
    );
    assert_eq!(sim.acd.tier_state("q2", "x"), Some(TierState::Standby));
    assert_eq!(
        offers(&sim.end_call(1, "x", 10)),
        vec![(2, "x".to_string())]
    );
    assert_eq!(sim.acd.tier_state("q1", "x"), Some(TierState::Standby));
}

#[test]
fn an_agent_in_two_queues_goes_to_the_best_scored_caller_of_both() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q1"));
    sim.queue(QueueConfig::named("q2"));
    sim.agent("x");
    sim.tier("q1", "x", 1, 1);
    sim.tier("q2", "x", 1, 1);
    sim.join("q1", 1);
    sim.advance(secs(5));
    sim.join_with(MemberJoin {
        base_score: 60,
        ..MemberJoin::new("q2", 2, "2")
    });
    sim.advance(secs(5));
    sim.join("q1", 3);
    // Scores: 1 = 10, 2 = 65, 3 = 0.
    assert_eq!(
        offers(&sim.status("x", AgentStatus::Available)),
        vec![(2, "x".to_string())]
    );
    sim.answer(2, "x");
    assert_eq!(offers(&sim.end_call(2, "x", 1)), vec![(1, "x".to_string())]);
}
