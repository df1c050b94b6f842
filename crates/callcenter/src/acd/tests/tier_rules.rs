//! Tier rules (REFERENCE §1): wait-second, multiply-level, no-agent-no-wait.

use super::*;

fn rules(wait: u64, multiply: bool, no_agent_no_wait: bool) -> Sim {
    fixture_with(QueueConfig {
        tier_rules_apply: true,
        tier_rule_wait_second: secs(wait),
        tier_rule_wait_multiply_level: multiply,
        tier_rule_no_agent_no_wait: no_agent_no_wait,
        ..QueueConfig::named("q")
    })
}

/// Level 1 busy (a2, a3, a1 on calls), caller 4 waits for level 2.
fn level_one_busy(sim: &mut Sim) {
    assert_eq!(picks_with_answer(sim, "q", 3), names(&["a2", "a3", "a1"]));
}

#[test]
fn level_two_opens_after_wait_second() {
    let mut sim = rules(30, false, true);
    level_one_busy(&mut sim);
    assert!(offers(&sim.join("q", 4)).is_empty());
    assert!(offers(&sim.advance(secs(29))).is_empty());
    assert_eq!(offers(&sim.advance(secs(1))), vec![(4, "a4".to_string())]);
}

#[test]
fn multiply_level_makes_level_n_wait_n_times() {
    let mut sim = rules(30, true, true);
    level_one_busy(&mut sim);
    sim.join("q", 4);
    assert!(offers(&sim.advance(secs(59))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a4"]));
}

#[test]
fn without_multiply_every_level_opens_after_one_wait() {
    // Levels 1, 2 and 5: level 5 opens with level 2 at 30 s.
    let mut sim = rules(30, false, false);
    sim.input(AcdInput::RemoveTier {
        queue: "q".into(),
        agent: "a5".into(),
    });
    sim.tier("q", "a5", 5, 1);
    for id in ["a1", "a2", "a3", "a4"] {
        sim.status(id, AgentStatus::OnBreak);
    }
    sim.join("q", 1);
    assert!(offers(&sim.advance(secs(29))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a5"]));
}

#[test]
fn no_agent_no_wait_skips_a_level_without_logged_in_agents() {
    let mut sim = rules(30, true, true);
    for id in ["a1", "a2", "a3"] {
        sim.status(id, AgentStatus::LoggedOut);
    }
    assert_eq!(offered(&sim.join("q", 1)), names(&["a4"]));
}

#[test]
fn no_agent_no_wait_still_waits_when_level_one_agents_are_logged_in_but_away() {
    // On Break is logged in: the level is staffed, so the caller waits.
    let mut sim = rules(30, true, true);
    for id in ["a1", "a2", "a3"] {
        sim.status(id, AgentStatus::OnBreak);
    }
    sim.join("q", 1);
    assert!(offers(&sim.advance(secs(59))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a4"]));
}

#[test]
fn without_no_agent_no_wait_even_level_one_waits() {
    // REFERENCE [NOTE]: with no-agent-no-wait=false the first level also
    // waits wait-second (multiply: 1 x 30 s).
    let mut sim = rules(30, true, false);
    sim.join("q", 1);
    assert!(offers(&sim.advance(secs(29))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a2"]));
}

#[test]
fn without_no_agent_no_wait_an_empty_level_is_not_skipped() {
    let mut sim = rules(30, true, false);
    for id in ["a1", "a2", "a3"] {
        sim.status(id, AgentStatus::LoggedOut);
    }
    sim.join("q", 1);
    assert!(offers(&sim.advance(secs(59))).is_empty());
    assert_eq!(offered(&sim.advance(secs(1))), names(&["a4"]));
}

#[test]
fn a_level_opening_for_an_older_caller_does_not_open_it_for_newer_ones() {
    let mut sim = rules(30, false, true);
    level_one_busy(&mut sim);
    sim.join("q", 4);
    sim.advance(secs(20));
    sim.join("q", 5);
    // At 30 s caller 4 gets a4; caller 5 (waited 10 s) may not have a5 yet.
    assert_eq!(offers(&sim.advance(secs(10))), vec![(4, "a4".to_string())]);
    assert!(offers(&sim.advance(secs(19))).is_empty());
    assert_eq!(offers(&sim.advance(secs(1))), vec![(5, "a5".to_string())]);
}

#[test]
fn a_higher_scored_newer_caller_is_passed_over_until_their_level_opens() {
    let mut sim = rules(30, false, true);
    level_one_busy(&mut sim);
    sim.join("q", 4);
    sim.advance(secs(25));
    sim.join_with(MemberJoin {
        base_score: 1000,
        ..MemberJoin::new("q", 5, "5550005")
    });
    // Caller 5 is first in score but level 2 is closed for them: caller 4
    // gets a4 at 30 s, then a5 goes to caller 5 at 55 s.
    assert_eq!(offers(&sim.advance(secs(5))), vec![(4, "a4".to_string())]);
    assert!(offers(&sim.advance(secs(24))).is_empty());
    assert_eq!(offers(&sim.advance(secs(1))), vec![(5, "a5".to_string())]);
}

#[test]
fn tier_rules_off_use_the_next_level_at_once() {
    let mut sim = fixture(Strategy::LongestIdleAgent);
    level_one_busy(&mut sim);
    assert_eq!(offered(&sim.join("q", 4)), names(&["a4"]));
}
