//! Configuration while calls wait: reload, removal, refused settings.

use super::*;

#[test]
fn reloading_a_queue_keeps_waiting_callers_and_their_order() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q"));
    sim.agent("x");
    sim.tier("q", "x", 1, 1);
    for m in 1..=3 {
        sim.join("q", m);
        sim.advance(secs(10));
    }
    let actions = sim.input(AcdInput::UpsertQueue(QueueConfig {
        strategy: Strategy::RingAll,
        max_wait_time: secs(45),
        ..QueueConfig::named("q")
    }));
    assert!(cancelled(&actions).is_empty());
    assert_eq!(sim.acd.member_count("q"), 3);
    let order: Vec<u64> = sim
        .acd
        .members("q", sim.now)
        .iter()
        .map(|m| m.member.0)
        .collect();
    assert_eq!(order, vec![1, 2, 3]);
    assert_eq!(
        sim.acd.queue_config("q").map(|c| c.strategy),
        Some(Strategy::RingAll)
    );
    // The new max wait counts from each caller's arrival: caller 1 arrived
    // 30 s ago, so it leaves at 45 s; caller 2 at 55 s.
    assert_eq!(
        cancelled(&sim.advance(secs(15))),
        vec![(1, CancelReason::Timeout, None)]
    );
    assert_eq!(
        offers(&sim.status("x", AgentStatus::Available)),
        vec![(2, "x".to_string())]
    );
}

#[test]
fn reload_switching_strategy_rebuilds_the_agent_order() {
    let mut sim = fixture(Strategy::LongestIdleAgent);
    assert_eq!(sim.acd.free_agents("q")[0], "a2");
    sim.input(AcdInput::UpsertQueue(QueueConfig {
        strategy: Strategy::AgentWithFewestCalls,
        ..QueueConfig::named("q")
    }));
    assert_eq!(
        sim.acd.free_agents("q"),
        names(&["a3", "a1", "a2", "a4", "a5"])
    );
}

#[test]
fn invalid_settings_are_refused_and_change_nothing() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q"));
    let err = sim
        .try_input(AcdInput::UpsertQueue(QueueConfig {
            announce_frequency: secs(30),
            strategy: Strategy::Random,
            ..QueueConfig::named("q")
        }))
        .unwrap_err();
    assert!(
        err.to_string().contains("queue 'q': announce-sound"),
        "{err}"
    );
    assert_eq!(
        sim.acd.queue_config("q").map(|c| c.strategy),
        Some(Strategy::LongestIdleAgent)
    );
    let err = sim
        .try_input(AcdInput::UpsertAgent(AgentConfig::callback("x", "")))
        .unwrap_err();
    assert!(err.to_string().contains("agent 'x': contact"), "{err}");
    let err = sim
        .try_input(AcdInput::UpsertTier(TierConfig::new("q", "ghost", 1, 1)))
        .unwrap_err();
    assert_eq!(err, AcdError::UnknownAgent("ghost".into()));
    let err = sim
        .try_input(AcdInput::SetAgentStatus {
            agent: "ghost".into(),
            status: AgentStatus::Available,
        })
        .unwrap_err();
    assert_eq!(err, AcdError::UnknownAgent("ghost".into()));
}

#[test]
fn a_queue_with_waiting_callers_cannot_be_removed() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q"));
    sim.agent("x");
    sim.tier("q", "x", 1, 1);
    sim.join("q", 1);
    let err = sim
        .try_input(AcdInput::RemoveQueue { queue: "q".into() })
        .unwrap_err();
    assert_eq!(
        err,
        AcdError::QueueHasMembers {
            queue: "q".into(),
            count: 1
        }
    );
    sim.input(AcdInput::MemberHangup {
        member: MemberId(1),
    });
    sim.input(AcdInput::RemoveQueue { queue: "q".into() });
    assert!(sim.acd.queue_config("q").is_none());
    assert_eq!(sim.acd.tier_state("q", "x"), None);
    // The agent still exists and can join a new queue of the same name.
    sim.queue(QueueConfig::named("q"));
    sim.tier("q", "x", 1, 1);
    sim.status("x", AgentStatus::Available);
    assert_eq!(offers(&sim.join("q", 2)), vec![(2, "x".to_string())]);
}

#[test]
fn removing_a_tier_or_an_agent_withdraws_their_offer_and_the_caller_moves_on() {
    let mut sim = fixture(Strategy::SequentiallyByAgentOrder);
    assert_eq!(offered(&sim.join("q", 1)), names(&["a1"]));
    let actions = sim.input(AcdInput::RemoveTier {
        queue: "q".into(),
        agent: "a1".into(),
    });
    assert_eq!(cancels(&actions), vec![(1, "a1".to_string())]);
    assert_eq!(offered(&actions), names(&["a2"]));
    let actions = sim.input(AcdInput::RemoveAgent { agent: "a2".into() });
    assert_eq!(cancels(&actions), vec![(1, "a2".to_string())]);
    assert_eq!(offered(&actions), names(&["a3"]));
    assert!(sim.acd.agent_view("a2").is_none());
    // A result for the withdrawn offer is stale and ignored.
    assert!(sim.result(1, "a1", OfferOutcome::NoAnswer).is_empty());
    assert_eq!(sim.view("a1").no_answer_count, 0);
}

#[test]
fn changing_a_tier_moves_the_agent_in_the_order() {
    let mut sim = fixture(Strategy::SequentiallyByAgentOrder);
    sim.tier("q", "a5", 1, 0);
    assert_eq!(sim.acd.free_agents("q")[0], "a5");
    assert_eq!(offered(&sim.join("q", 1)), names(&["a5"]));
}

#[test]
fn status_changes_publish_events() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q"));
    sim.agent("x");
    let actions = sim.status("x", AgentStatus::Available);
    assert_eq!(
        events(&actions),
        vec![QueueEvent::AgentStatusChanged {
            agent: "x".into(),
            old: AgentStatus::LoggedOut,
            new: AgentStatus::Available,
        }]
    );
    assert!(sim.status("x", AgentStatus::Available).is_empty());
}
