//! Offer failures, penalties, max-no-answer, wrap-up, on-demand agents.

use super::*;

/// Queue "q" with one agent "x" (the given settings), available.
fn one_agent(cfg: AgentConfig) -> Sim {
    let mut sim = Sim::new();
    sim.queue(QueueConfig::named("q"));
    sim.agent_cfg(cfg);
    sim.tier("q", "x", 1, 1);
    sim.status("x", AgentStatus::Available);
    sim
}

fn agent_x() -> AgentConfig {
    AgentConfig {
        max_no_answer: 3,
        wrap_up_time: secs(10),
        reject_delay_time: secs(15),
        busy_delay_time: secs(60),
        no_answer_delay_time: secs(20),
        ..AgentConfig::callback("x", "1001")
    }
}

/// After `outcome`, the agent is offered again exactly `delay` later.
fn assert_penalty(outcome: OfferOutcome, delay: u64) {
    let mut sim = one_agent(agent_x());
    assert_eq!(offered(&sim.join("q", 1)), names(&["x"]));
    let actions = sim.result(1, "x", outcome);
    assert!(
        events(&actions).contains(&QueueEvent::BridgeFail {
            queue: "q".into(),
            member: MemberId(1),
            agent: "x".into(),
            outcome,
        }),
        "{outcome}"
    );
    if delay == 0 {
        assert_eq!(offered(&actions), names(&["x"]), "{outcome}: no penalty");
        return;
    }
    assert!(offers(&actions).is_empty(), "{outcome}");
    assert!(
        offers(&sim.advance(secs(delay - 1))).is_empty(),
        "{outcome}"
    );
    assert_eq!(offered(&sim.advance(secs(1))), names(&["x"]), "{outcome}");
}

#[test]
fn busy_waits_busy_delay() {
    assert_penalty(OfferOutcome::Busy, 60);
}

#[test]
fn rejected_waits_reject_delay() {
    assert_penalty(OfferOutcome::Rejected, 15);
}

#[test]
fn no_answer_waits_no_answer_delay() {
    assert_penalty(OfferOutcome::NoAnswer, 20);
}

#[test]
fn not_registered_waits_five_seconds() {
    assert_penalty(OfferOutcome::NotRegistered, 5);
}

#[test]
fn lost_race_and_caller_gone_cost_nothing() {
    assert_penalty(OfferOutcome::LostRace, 0);
    assert_penalty(OfferOutcome::CallerGone, 0);
}

#[test]
fn no_answer_marks_the_tier_and_counts() {
    let mut sim = one_agent(agent_x());
    sim.join("q", 1);
    sim.result(1, "x", OfferOutcome::NoAnswer);
    assert_eq!(sim.acd.tier_state("q", "x"), Some(TierState::NoAnswer));
    assert_eq!(sim.view("x").no_answer_count, 1);
    // A No Answer tier is still offered (after the delay).
    assert_eq!(offered(&sim.advance(secs(20))), names(&["x"]));
    assert_eq!(sim.acd.tier_state("q", "x"), Some(TierState::Offering));
    sim.answer(1, "x");
    assert_eq!(
        sim.view("x").no_answer_count,
        0,
        "an answer resets the count"
    );
    assert_eq!(sim.acd.tier_state("q", "x"), Some(TierState::ActiveInbound));
}

#[test]
fn max_no_answer_puts_the_agent_in_the_no_answer_status() {
    let mut sim = one_agent(agent_x());
    sim.join("q", 1);
    sim.result(1, "x", OfferOutcome::NoAnswer);
    sim.advance(secs(20));
    sim.result(1, "x", OfferOutcome::NoAnswer);
    sim.advance(secs(20));
    let actions = sim.result(1, "x", OfferOutcome::NoAnswer);
    let evs = events(&actions);
    assert!(evs.contains(&QueueEvent::AgentMaxNoAnswer {
        agent: "x".into(),
        queue: "q".into(),
        no_answer_count: 3,
    }));
    assert!(evs.contains(&QueueEvent::AgentStatusChanged {
        agent: "x".into(),
        old: AgentStatus::Available,
        new: AgentStatus::OnBreak,
    }));
    assert_eq!(sim.view("x").status, AgentStatus::OnBreak);
    assert!(offers(&sim.advance(secs(600))).is_empty());
    // Back from break: the count starts again, offers resume.
    let actions = sim.status("x", AgentStatus::Available);
    assert_eq!(offered(&actions), names(&["x"]));
    assert_eq!(sim.view("x").no_answer_count, 0);
}

#[test]
fn no_answer_status_can_be_logged_out() {
    let mut sim = Sim::new();
    sim.queue(QueueConfig {
        agent_no_answer_status: AgentStatus::LoggedOut,
        ..QueueConfig::named("q")
    });
    sim.agent_cfg(AgentConfig {
        max_no_answer: 1,
        ..agent_x()
    });
    sim.tier("q", "x", 1, 1);
    sim.status("x", AgentStatus::Available);
    sim.join("q", 1);
    sim.result(1, "x", OfferOutcome::NoAnswer);
    assert_eq!(sim.view("x").status, AgentStatus::LoggedOut);
}

#[test]
fn an_offer_without_result_is_given_up_after_ring_timeout_and_grace() {
    let mut sim = one_agent(agent_x());
    sim.join("q", 1);
    assert!(cancels(&sim.advance(secs(64))).is_empty());
    let actions = sim.advance(secs(1));
    assert_eq!(cancels(&actions), vec![(1, "x".to_string())]);
    assert_eq!(sim.view("x").no_answer_count, 1);
    assert_eq!(sim.view("x").state, AgentState::Waiting);
}

#[test]
fn wrap_up_holds_offers_until_it_ends_or_the_agent_is_done() {
    let mut sim = one_agent(agent_x());
    sim.join("q", 1);
    sim.answer(1, "x");
    sim.join("q", 2);
    sim.advance(secs(30));
    let actions = sim.end_call(1, "x", 30);
    assert!(events(&actions).contains(&QueueEvent::BridgeEnd {
        queue: "q".into(),
        member: MemberId(1),
        agent: "x".into(),
        talk_time: secs(30),
    }));
    assert!(offers(&actions).is_empty(), "wrap-up: not yet");
    assert!(offers(&sim.advance(secs(9))).is_empty());
    assert_eq!(offers(&sim.advance(secs(1))), vec![(2, "x".to_string())]);

    // Ending after-call work early frees the agent at once.
    sim.answer(2, "x");
    sim.join("q", 3);
    sim.end_call(2, "x", 5);
    sim.advance(secs(3));
    let actions = sim.input(AcdInput::WrapUpDone { agent: "x".into() });
    assert_eq!(offers(&actions), vec![(3, "x".to_string())]);
}

#[test]
fn on_demand_agent_goes_idle_after_one_call() {
    let mut sim = one_agent(AgentConfig {
        wrap_up_time: Duration::ZERO,
        ..agent_x()
    });
    sim.status("x", AgentStatus::AvailableOnDemand);
    sim.join("q", 1);
    sim.answer(1, "x");
    sim.join("q", 2);
    let actions = sim.end_call(1, "x", 10);
    assert!(offers(&actions).is_empty());
    assert_eq!(sim.view("x").state, AgentState::Idle);
    assert!(events(&actions).contains(&QueueEvent::AgentStateChanged {
        agent: "x".into(),
        old: AgentState::InQueueCall,
        new: AgentState::Idle,
    }));
    assert!(offers(&sim.advance(secs(600))).is_empty());
    // Ready again (by state or by status): the next caller.
    let actions = sim.input(AcdInput::SetAgentState {
        agent: "x".into(),
        state: AgentState::Waiting,
    });
    assert_eq!(offers(&actions), vec![(2, "x".to_string())]);
}

#[test]
fn available_agent_returns_to_waiting_after_a_call() {
    let mut sim = one_agent(AgentConfig {
        wrap_up_time: Duration::ZERO,
        ..agent_x()
    });
    sim.join("q", 1);
    sim.answer(1, "x");
    sim.join("q", 2);
    assert_eq!(
        offers(&sim.end_call(1, "x", 10)),
        vec![(2, "x".to_string())]
    );
}

#[test]
fn agents_on_break_logged_out_idle_or_reserved_are_not_offered() {
    for (status, state) in [
        (AgentStatus::OnBreak, AgentState::Waiting),
        (AgentStatus::LoggedOut, AgentState::Waiting),
        (AgentStatus::Available, AgentState::Idle),
        (AgentStatus::Available, AgentState::Reserved),
    ] {
        let mut sim = one_agent(agent_x());
        sim.status("x", status);
        sim.input(AcdInput::SetAgentState {
            agent: "x".into(),
            state,
        });
        assert!(offers(&sim.join("q", 1)).is_empty(), "{status} {state}");
    }
}

#[test]
fn external_calls_are_skipped_only_where_the_queue_says_so() {
    let mut sim = one_agent(agent_x());
    sim.queue(QueueConfig {
        skip_agents_with_external_calls: false,
        ..QueueConfig::named("q2")
    });
    sim.tier("q2", "x", 1, 1);
    sim.input(AcdInput::ExternalCall {
        agent: "x".into(),
        active: true,
    });
    assert!(offers(&sim.join("q", 1)).is_empty(), "q skips them");
    assert_eq!(offers(&sim.join("q2", 2)), vec![(2, "x".to_string())]);
    let actions = sim.input(AcdInput::MemberHangup {
        member: MemberId(2),
    });
    assert_eq!(cancels(&actions), vec![(2, "x".to_string())]);
    assert!(offers(&actions).is_empty(), "still on the external call");
    let actions = sim.input(AcdInput::ExternalCall {
        agent: "x".into(),
        active: false,
    });
    // Caller 1 (older) now gets x.
    assert_eq!(offers(&actions), vec![(1, "x".to_string())]);
}

#[test]
fn manual_state_is_refused_while_the_acd_owns_it() {
    let mut sim = one_agent(agent_x());
    sim.join("q", 1);
    let err = sim
        .try_input(AcdInput::SetAgentState {
            agent: "x".into(),
            state: AgentState::Idle,
        })
        .unwrap_err();
    assert!(matches!(err, AcdError::AgentBusy { .. }), "{err}");
    let err = sim
        .try_input(AcdInput::SetAgentState {
            agent: "x".into(),
            state: AgentState::InQueueCall,
        })
        .unwrap_err();
    assert_eq!(err, AcdError::StateNotSettable(AgentState::InQueueCall));
}

#[test]
fn counters_reset_at_login_but_not_after_a_break() {
    let mut sim = one_agent(AgentConfig {
        wrap_up_time: Duration::ZERO,
        ..agent_x()
    });
    sim.join("q", 1);
    sim.answer(1, "x");
    sim.end_call(1, "x", 42);
    sim.status("x", AgentStatus::OnBreak);
    sim.status("x", AgentStatus::Available);
    assert_eq!(sim.view("x").calls_answered, 1);
    assert_eq!(sim.view("x").talk_time, secs(42));
    sim.status("x", AgentStatus::LoggedOut);
    sim.status("x", AgentStatus::Available);
    assert_eq!(sim.view("x").calls_answered, 0);
    assert_eq!(sim.view("x").talk_time, Duration::ZERO);
}
