//! Complexity, not time: with thousands of waiting callers, an agent
//! becoming free yields one offer for the top caller after looking at a
//! bounded number of callers.

use super::*;

/// 100 agents on calls and 2,000 callers waiting with assorted base scores.
fn crowded(cfg: QueueConfig) -> Sim {
    let mut sim = Sim::new();
    let mut rng = fastrand::Rng::with_seed(99);
    sim.queue(cfg);
    for i in 0..100 {
        let id = format!("ag{i:03}");
        sim.agent(&id);
        sim.tier("q", &id, 1 + i % 2, i);
        sim.status(&id, AgentStatus::Available);
    }
    for m in 0..2100u64 {
        let actions = sim.join_with(MemberJoin {
            base_score: rng.i64(0..600),
            ..MemberJoin::new("q", m, &format!("{m}"))
        });
        for (member, agent) in offers(&actions) {
            sim.answer(member, &agent);
        }
        if m % 10 == 0 {
            sim.advance(Duration::from_millis(300));
        }
    }
    assert_eq!(sim.acd.member_count("q"), 2000);
    sim
}

#[test]
fn a_free_agent_is_offered_to_the_top_caller_among_thousands() {
    let mut sim = crowded(QueueConfig::named("q"));
    for round in 0..20 {
        let top = sim.acd.members("q", sim.now)[0].member;
        let agent = format!("ag{:03}", round * 3);
        let busy_with = sim.view(&agent).in_call.expect("on a call");
        let before = sim.acd.examined;
        let actions = sim.end_call(busy_with.0, &agent, 30);
        assert_eq!(
            offers(&actions),
            vec![(top.0, agent.clone())],
            "round {round}"
        );
        assert!(
            sim.acd.examined - before <= 1,
            "looked at {} callers",
            sim.acd.examined - before
        );
        sim.answer(top.0, &agent);
        sim.advance(secs(1));
    }
}

#[test]
fn joining_a_crowded_queue_with_no_free_agent_looks_at_nobody() {
    let mut sim = crowded(QueueConfig::named("q"));
    let before = sim.acd.examined;
    let actions = sim.join("q", 50_000);
    assert!(offers(&actions).is_empty());
    assert_eq!(sim.acd.examined, before);
}

#[test]
fn tier_rules_reject_a_closed_level_without_walking_the_callers() {
    // Reloaded with tier rules: level 2 opens after 10 minutes, and the
    // oldest caller has waited about 63 s.
    let mut sim = crowded(QueueConfig::named("q"));
    sim.input(AcdInput::UpsertQueue(QueueConfig {
        tier_rules_apply: true,
        tier_rule_wait_second: secs(600),
        ..QueueConfig::named("q")
    }));
    assert_eq!(sim.acd.member_count("q"), 2000);
    let level2 = "ag001";
    let busy_with = sim.view(level2).in_call.expect("on a call");
    let before = sim.acd.examined;
    let actions = sim.end_call(busy_with.0, level2, 30);
    assert!(offers(&actions).is_empty());
    assert_eq!(sim.acd.examined, before);
}
