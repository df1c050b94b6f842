//! ACD scaling probe: the cost of "an agent becomes free → the top waiting
//! caller is offered" with many callers waiting. Prints figures, asserts
//! nothing about time. A plain ignored test until criterion is a
//! dev-dependency of the engine:
//!
//! `cargo test -p engine --bench acd -- --ignored --nocapture`

use engine::acd::{
    Acd, AcdAction, AcdInput, AgentConfig, AgentStatus, MemberId, MemberJoin, OfferOutcome,
    QueueConfig, TierConfig,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Per-operation mean cost, in nanoseconds.
struct Figures {
    free_to_offer: f64,
    answer: f64,
    join: f64,
}

fn offers(actions: &[AcdAction]) -> Vec<(MemberId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            AcdAction::Offer { member, agent, .. } => Some((*member, agent.clone())),
            _ => None,
        })
        .collect()
}

fn handle(acd: &mut Acd, input: AcdInput, now: Instant) -> Vec<AcdAction> {
    match acd.handle(input, now) {
        Ok(actions) => actions,
        Err(e) => panic!("refused: {e}"),
    }
}

/// `members` callers wait while `agents` agents are on calls; then, round
/// after round, one agent's call ends (→ one offer to the top caller), the
/// agent answers, and a new caller joins to keep the crowd constant.
fn probe(members: u64, agents: usize, rounds: u32) -> Figures {
    let mut acd = Acd::with_seed(1);
    let mut now = Instant::now();
    let mut rng = fastrand::Rng::with_seed(2);
    handle(
        &mut acd,
        AcdInput::UpsertQueue(QueueConfig::named("q")),
        now,
    );
    for i in 0..agents {
        let id = format!("ag{i}");
        let cfg = AgentConfig {
            wrap_up_time: Duration::ZERO,
            ..AgentConfig::callback(&id, &id)
        };
        handle(&mut acd, AcdInput::UpsertAgent(cfg), now);
        let tier = TierConfig::new("q", &id, 1 + (i % 2) as u32, i as u32);
        handle(&mut acd, AcdInput::UpsertTier(tier), now);
        let status = AcdInput::SetAgentStatus {
            agent: id,
            status: AgentStatus::Available,
        };
        handle(&mut acd, status, now);
    }
    let mut in_call: HashMap<String, MemberId> = HashMap::new();
    let mut next_member = 0u64;
    let mut join = |acd: &mut Acd, now: Instant, in_call: &mut HashMap<String, MemberId>| {
        let join = MemberJoin {
            base_score: rng.i64(0..600),
            ..MemberJoin::new("q", next_member, &next_member.to_string())
        };
        next_member += 1;
        let actions = handle(acd, AcdInput::MemberJoin(join), now);
        for (member, agent) in offers(&actions) {
            let answered = AcdInput::OfferResult {
                member,
                agent: agent.clone(),
                outcome: OfferOutcome::Answered,
            };
            handle(acd, answered, now);
            in_call.insert(agent, member);
        }
    };
    for _ in 0..(members + agents as u64) {
        now += Duration::from_millis(10);
        join(&mut acd, now, &mut in_call);
    }
    assert_eq!(acd.member_count("q"), members as usize);

    let (mut free_ns, mut answer_ns, mut join_ns) = (0u128, 0u128, 0u128);
    for round in 0..rounds {
        now += Duration::from_millis(10);
        let agent = format!("ag{}", round as usize % agents);
        let Some(member) = in_call.remove(&agent) else {
            panic!("{agent} is not on a call");
        };
        let ended = AcdInput::CallEnded {
            member,
            agent: agent.clone(),
            talk_time: Duration::from_secs(30),
        };
        let t = Instant::now();
        let actions = handle(&mut acd, ended, now);
        free_ns += t.elapsed().as_nanos();
        let offered = offers(&actions);
        assert_eq!(offered.len(), 1, "one offer per free agent");
        let (top, _) = offered[0].clone();
        let answered = AcdInput::OfferResult {
            member: top,
            agent: agent.clone(),
            outcome: OfferOutcome::Answered,
        };
        let t = Instant::now();
        handle(&mut acd, answered, now);
        answer_ns += t.elapsed().as_nanos();
        in_call.insert(agent, top);
        let t = Instant::now();
        join(&mut acd, now, &mut in_call);
        join_ns += t.elapsed().as_nanos();
        assert_eq!(acd.member_count("q"), members as usize);
    }
    let per = |ns: u128| ns as f64 / f64::from(rounds);
    Figures {
        free_to_offer: per(free_ns),
        answer: per(answer_ns),
        join: per(join_ns),
    }
}

#[test]
#[ignore = "prints timings; run with --ignored --nocapture"]
fn acd_scaling_probe() {
    let profile = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "optimised build"
    };
    println!("ACD scaling probe ({profile}), mean per operation:");
    for (members, agents) in [(2_000, 10), (500, 100)] {
        let f = probe(members, agents, 2_000);
        println!(
            "  {members:>5} waiting, {agents:>3} agents: agent free -> offer {:>8.0} ns, answer {:>8.0} ns, join {:>8.0} ns",
            f.free_to_offer, f.answer, f.join
        );
    }
}
