//! Every strategy's choices on the shared fixture (REFERENCE §1).

use super::*;

#[test]
fn each_strategy_picks_in_its_order_level_first() {
    let cases = [
        (Strategy::LongestIdleAgent, ["a2", "a3", "a1", "a4", "a5"]),
        (
            Strategy::AgentWithLeastTalkTime,
            ["a1", "a3", "a2", "a5", "a4"],
        ),
        (
            Strategy::AgentWithFewestCalls,
            ["a3", "a1", "a2", "a4", "a5"],
        ),
        (
            Strategy::SequentiallyByAgentOrder,
            ["a1", "a2", "a3", "a4", "a5"],
        ),
        (Strategy::RoundRobin, ["a1", "a2", "a3", "a4", "a5"]),
        (Strategy::TopDown, ["a1", "a2", "a3", "a4", "a5"]),
        (Strategy::RingProgressively, ["a1", "a2", "a3", "a4", "a5"]),
    ];
    for (strategy, expected) in cases {
        let mut sim = fixture(strategy);
        assert_eq!(
            picks_with_answer(&mut sim, "q", 5),
            names(&expected),
            "{strategy}"
        );
        // Everyone is busy now: a sixth caller waits.
        assert!(offers(&sim.join("q", 6)).is_empty(), "{strategy}");
    }
}

#[test]
fn free_agents_are_listed_in_strategy_order() {
    let sim = fixture(Strategy::LongestIdleAgent);
    assert_eq!(
        sim.acd.free_agents("q"),
        names(&["a2", "a3", "a1", "a4", "a5"])
    );
}

/// Each caller is answered and the call ends at once (no wrap-up), so the
/// agent is free again for the next caller.
fn picks_with_short_calls(sim: &mut Sim, n: u64, talk: u64) -> Vec<String> {
    let mut picks = Vec::new();
    for m in 1..=n {
        let got = offered(&sim.join("q", m));
        assert_eq!(got.len(), 1, "caller {m}");
        sim.answer(m, &got[0]);
        sim.advance(secs(1));
        sim.end_call(m, &got[0], talk);
        picks.push(got[0].clone());
    }
    picks
}

#[test]
fn round_robin_continues_after_the_last_offered_position_then_wraps() {
    let mut sim = fixture(Strategy::RoundRobin);
    assert_eq!(
        picks_with_short_calls(&mut sim, 5, 10),
        names(&["a1", "a2", "a3", "a1", "a2"])
    );
}

#[test]
fn round_robin_moves_to_the_next_level_when_its_level_is_busy() {
    let mut sim = fixture(Strategy::RoundRobin);
    // a1 and a2 stay on calls; a3 was the last offered.
    sim.join("q", 1);
    sim.answer(1, "a1");
    sim.join("q", 2);
    sim.answer(2, "a2");
    sim.join("q", 3);
    sim.answer(3, "a3");
    sim.end_call(3, "a3", 5);
    // a3 is free again, but round-robin moves on: nothing after a3 in level
    // 1, so it wraps to the first free agent in (level, position) order: a3.
    assert_eq!(offered(&sim.join("q", 4)), names(&["a3"]));
    sim.answer(4, "a3");
    // a3 is busy now; after (1, 3) the wrap finds level 2: a4, then a5.
    assert_eq!(offered(&sim.join("q", 5)), names(&["a4"]));
    sim.answer(5, "a4");
    assert_eq!(offered(&sim.join("q", 6)), names(&["a5"]));
}

#[test]
fn sequentially_by_agent_order_always_starts_from_the_top() {
    let mut sim = fixture(Strategy::SequentiallyByAgentOrder);
    assert_eq!(
        picks_with_short_calls(&mut sim, 3, 10),
        names(&["a1", "a1", "a1"])
    );
}

#[test]
fn longest_idle_rotates_as_calls_end() {
    let mut sim = fixture(Strategy::LongestIdleAgent);
    assert_eq!(
        picks_with_short_calls(&mut sim, 4, 10),
        names(&["a2", "a3", "a1", "a2"])
    );
}

#[test]
fn least_talk_time_counts_the_calls_just_taken() {
    let mut sim = fixture(Strategy::AgentWithLeastTalkTime);
    // a1 100 s -> +150 = 250; then a3 (200) -> +10 = 210; a3 again (210 < 250).
    let mut picks = Vec::new();
    for (m, talk) in [(1, 150), (2, 10), (3, 10)] {
        let got = offered(&sim.join("q", m));
        sim.answer(m, &got[0]);
        sim.end_call(m, &got[0], talk);
        picks.push(got[0].clone());
    }
    assert_eq!(picks, names(&["a1", "a3", "a3"]));
    assert_eq!(sim.view("a3").talk_time, secs(220));
}

#[test]
fn fewest_calls_counts_answers_and_breaks_ties_by_position() {
    let mut sim = fixture(Strategy::AgentWithFewestCalls);
    // a3: 2 -> 3 -> 4 -> 5, then a1 (5 calls, position 1) beats a3 (5, position 3).
    assert_eq!(
        picks_with_short_calls(&mut sim, 4, 10),
        names(&["a3", "a3", "a3", "a1"])
    );
    assert_eq!(sim.view("a3").calls_answered, 5);
}

#[test]
fn top_down_continues_per_caller_and_starts_new_callers_at_the_top() {
    let mut sim = fixture(Strategy::TopDown);
    for id in ["a1", "a2", "a3", "a4", "a5"] {
        sim.agent_cfg(AgentConfig {
            wrap_up_time: Duration::ZERO,
            reject_delay_time: Duration::ZERO,
            ..AgentConfig::callback(id, id)
        });
    }
    assert_eq!(offered(&sim.join("q", 1)), names(&["a1"]));
    // a1 declines and is free again at once, but caller 1 goes on down.
    assert_eq!(
        offered(&sim.result(1, "a1", OfferOutcome::Rejected)),
        names(&["a2"])
    );
    assert_eq!(
        offered(&sim.result(1, "a2", OfferOutcome::Rejected)),
        names(&["a3"])
    );
    // A new caller starts at the top.
    assert_eq!(offered(&sim.join("q", 2)), names(&["a1"]));
    // Caller 1 continues into level 2, then wraps to the top (a1 is busy
    // ringing for caller 2, so the first free is a2).
    assert_eq!(
        offered(&sim.result(1, "a3", OfferOutcome::Rejected)),
        names(&["a4"])
    );
    assert_eq!(
        offered(&sim.result(1, "a4", OfferOutcome::Rejected)),
        names(&["a5"])
    );
    assert_eq!(
        offered(&sim.result(1, "a5", OfferOutcome::Rejected)),
        names(&["a2"])
    );
}

fn random_picks(seed: u64, n: usize) -> Vec<String> {
    let mut sim = fixture(Strategy::Random);
    sim.acd.rng = fastrand::Rng::with_seed(seed);
    let mut picks = offered(&sim.join("q", 1));
    while picks.len() < n {
        let last = picks.last().cloned().unwrap_or_default();
        // The caller left the agent's phone: no penalty, offered again.
        picks.extend(offered(&sim.result(1, &last, OfferOutcome::CallerGone)));
    }
    picks
}

#[test]
fn random_stays_in_the_best_level_and_is_reproducible_with_a_seed() {
    let picks = random_picks(42, 40);
    assert!(picks
        .iter()
        .all(|a| ["a1", "a2", "a3"].contains(&a.as_str())));
    let distinct: std::collections::BTreeSet<_> = picks.iter().collect();
    assert_eq!(distinct.len(), 3, "all of level 1 drawn: {picks:?}");
    assert_eq!(random_picks(42, 40), picks);
    assert_ne!(random_picks(43, 40), picks);
}

#[test]
fn random_uses_level_two_when_level_one_is_busy() {
    let mut sim = fixture(Strategy::Random);
    let first3 = picks_with_answer(&mut sim, "q", 3);
    let mut sorted = first3.clone();
    sorted.sort();
    assert_eq!(sorted, names(&["a1", "a2", "a3"]));
    let fourth = offered(&sim.join("q", 4));
    assert!(fourth == names(&["a4"]) || fourth == names(&["a5"]));
}

#[test]
fn ring_all_offers_every_free_agent_at_once() {
    let mut sim = fixture(Strategy::RingAll);
    let actions = sim.join("q", 1);
    assert_eq!(offered(&actions), names(&["a1", "a2", "a3", "a4", "a5"]));
    assert!(actions.iter().any(|a| matches!(a,
        AcdAction::Offer { ring_timeout, .. } if *ring_timeout == secs(60))));
}
