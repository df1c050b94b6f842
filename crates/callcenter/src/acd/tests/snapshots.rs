//! Agent status and state across a restart.

use super::*;

fn configured() -> Sim {
    let mut sim = Sim::new();
    sim.queue(QueueConfig {
        strategy: Strategy::RoundRobin,
        ..QueueConfig::named("q")
    });
    for id in ["x", "y", "z"] {
        sim.agent_cfg(AgentConfig {
            wrap_up_time: secs(10),
            ..AgentConfig::callback(id, id)
        });
    }
    sim.tier("q", "x", 1, 1);
    sim.tier("q", "y", 1, 2);
    sim.tier("q", "z", 1, 3);
    sim
}

#[test]
fn snapshot_and_restore_keep_status_state_counters_and_delays() {
    let mut sim = configured();
    sim.status("x", AgentStatus::Available);
    sim.status("y", AgentStatus::AvailableOnDemand);
    sim.status("z", AgentStatus::OnBreak);
    sim.join("q", 1);
    sim.answer(1, "x");
    sim.advance(secs(40));
    sim.end_call(1, "x", 40);
    sim.join("q", 2);
    sim.result(2, "y", OfferOutcome::NoAnswer);
    sim.input(AcdInput::MemberHangup {
        member: MemberId(2),
    });
    sim.advance(secs(2));
    let snapshot = sim.acd.snapshot(sim.now, wall(100));
    let json = serde_json::to_string(&snapshot).unwrap();
    let snapshot: AcdSnapshot = serde_json::from_str(&json).unwrap();

    // A new process: same configuration, 3 s later by the wall clock.
    let mut after = configured();
    let actions = after.acd.restore(&snapshot, after.now, wall(103));
    assert!(events(&actions).contains(&QueueEvent::AgentStatusChanged {
        agent: "y".into(),
        old: AgentStatus::LoggedOut,
        new: AgentStatus::AvailableOnDemand,
    }));
    for id in ["x", "y", "z"] {
        let (before, now) = (sim.view(id), after.view(id));
        assert_eq!(
            (
                before.status,
                before.state,
                before.talk_time,
                before.calls_answered,
                before.no_answer_count
            ),
            (
                now.status,
                now.state,
                now.talk_time,
                now.calls_answered,
                now.no_answer_count
            ),
            "{id}"
        );
    }
    assert_eq!(after.acd.tier_state("q", "y"), Some(TierState::NoAnswer));
    // x's wrap-up and y's no-answer delay had 8 s left at the snapshot and
    // 3 s passed while down: both are free again 5 s after the restore.
    // Round-robin continues after y, the last offered: z is on break, so it
    // wraps to x.
    after.join("q", 7);
    assert!(offers(&after.advance(secs(4))).is_empty());
    assert_eq!(offers(&after.advance(secs(1))), vec![(7, "x".to_string())]);
}

#[test]
fn round_robin_position_survives_a_restart() {
    let mut sim = configured();
    for id in ["x", "y", "z"] {
        sim.status(id, AgentStatus::Available);
    }
    sim.join("q", 1);
    sim.answer(1, "x");
    sim.join("q", 2);
    sim.answer(2, "y");
    let snapshot = sim.acd.snapshot(sim.now, wall(0));
    assert_eq!(
        snapshot.queues,
        vec![QueueSnapshot {
            queue: "q".into(),
            round_robin_last: Some((1, 2)),
        }]
    );
    // Down for 20 s: x's and y's wrap-ups are over.
    let mut after = configured();
    after.acd.restore(&snapshot, after.now, wall(20));
    assert_eq!(after.acd.free_agents("q").len(), 3);
    assert_eq!(offers(&after.join("q", 3)), vec![(3, "z".to_string())]);
}

#[test]
fn an_agent_snapshotted_in_a_call_comes_back_after_that_call() {
    let mut sim = configured();
    sim.status("x", AgentStatus::Available);
    sim.join("q", 1);
    sim.answer(1, "x");
    let snapshot = sim.acd.snapshot(sim.now, wall(0));
    assert_eq!(snapshot.agents[0].state, AgentState::InQueueCall);

    let mut after = configured();
    after.acd.restore(&snapshot, after.now, wall(4));
    assert_eq!(after.view("x").state, AgentState::Waiting);
    assert_eq!(after.view("x").status, AgentStatus::Available);
    // Wrap-up (10 s) runs from the snapshot: 6 s left.
    after.join("q", 2);
    assert!(offers(&after.advance(secs(5))).is_empty());
    assert_eq!(offers(&after.advance(secs(1))), vec![(2, "x".to_string())]);
}

#[test]
fn restore_skips_unknown_agents_and_counts_logins_for_tier_rules() {
    let mut sim = configured();
    sim.status("x", AgentStatus::OnBreak);
    let mut snapshot = sim.acd.snapshot(sim.now, wall(0));
    snapshot.agents.push(AgentSnapshot {
        id: "gone".into(),
        ..snapshot.agents[0].clone()
    });
    let mut after = Sim::new();
    after.queue(QueueConfig {
        max_wait_time_with_no_agent: secs(10),
        ..QueueConfig::named("q")
    });
    after.agent("x");
    after.tier("q", "x", 1, 1);
    after.acd.restore(&snapshot, after.now, wall(0));
    assert_eq!(after.view("x").status, AgentStatus::OnBreak);
    // x is logged in (On Break): no NO_AGENT_TIMEOUT.
    after.join("q", 1);
    assert!(cancelled(&after.advance(secs(60))).is_empty());
}
