//! ACD behaviour tests on a virtual clock (a base `Instant` plus offsets).

mod members;
mod penalties;
mod queues;
mod ring;
mod scaling;
mod snapshots;
mod strategies;
mod tier_rules;

use super::*;
use chrono::{DateTime, TimeZone, Utc};
use std::time::{Duration, Instant};

/// An ACD driven on a virtual clock; every action is also kept in `log`.
pub(super) struct Sim {
    pub acd: Acd,
    pub t0: Instant,
    pub now: Instant,
}

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn wall(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + t, 0)
        .single()
        .expect("valid test time")
}

impl Sim {
    pub fn new() -> Self {
        let t0 = Instant::now();
        Sim {
            acd: Acd::with_seed(7),
            t0,
            now: t0,
        }
    }

    pub fn try_input(&mut self, input: AcdInput) -> Result<Vec<AcdAction>, AcdError> {
        self.acd.handle(input, self.now)
    }

    pub fn input(&mut self, input: AcdInput) -> Vec<AcdAction> {
        match self.acd.handle(input.clone(), self.now) {
            Ok(actions) => actions,
            Err(e) => panic!("{input:?} refused: {e}"),
        }
    }

    /// Moves the clock forward, ticking at every deadline on the way (as the
    /// driver would), and returns everything that happened.
    pub fn advance(&mut self, d: Duration) -> Vec<AcdAction> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(at) = self.acd.next_deadline().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            out.extend(self.input(AcdInput::Tick));
        }
        self.now = end;
        out.extend(self.input(AcdInput::Tick));
        out
    }

    pub fn queue(&mut self, cfg: QueueConfig) {
        self.input(AcdInput::UpsertQueue(cfg));
    }

    /// A callback agent with no wrap-up (tests that need delays set them).
    pub fn agent(&mut self, id: &str) {
        let cfg = AgentConfig {
            wrap_up_time: Duration::ZERO,
            ..AgentConfig::callback(id, id)
        };
        self.input(AcdInput::UpsertAgent(cfg));
    }

    pub fn agent_cfg(&mut self, cfg: AgentConfig) {
        self.input(AcdInput::UpsertAgent(cfg));
    }

    pub fn tier(&mut self, queue: &str, agent: &str, level: u32, position: u32) {
        self.input(AcdInput::UpsertTier(TierConfig::new(
            queue, agent, level, position,
        )));
    }

    pub fn status(&mut self, agent: &str, status: AgentStatus) -> Vec<AcdAction> {
        self.input(AcdInput::SetAgentStatus {
            agent: agent.into(),
            status,
        })
    }

    pub fn join(&mut self, queue: &str, member: u64) -> Vec<AcdAction> {
        self.input(AcdInput::MemberJoin(MemberJoin::new(
            queue,
            member,
            &format!("555{member:04}"),
        )))
    }

    pub fn join_with(&mut self, join: MemberJoin) -> Vec<AcdAction> {
        self.input(AcdInput::MemberJoin(join))
    }

    pub fn result(&mut self, member: u64, agent: &str, outcome: OfferOutcome) -> Vec<AcdAction> {
        self.input(AcdInput::OfferResult {
            member: MemberId(member),
            agent: agent.into(),
            outcome,
        })
    }

    pub fn answer(&mut self, member: u64, agent: &str) -> Vec<AcdAction> {
        self.result(member, agent, OfferOutcome::Answered)
    }

    pub fn end_call(&mut self, member: u64, agent: &str, talk: u64) -> Vec<AcdAction> {
        self.input(AcdInput::CallEnded {
            member: MemberId(member),
            agent: agent.into(),
            talk_time: secs(talk),
        })
    }

    pub fn view(&self, agent: &str) -> AgentView {
        self.acd
            .agent_view(agent)
            .unwrap_or_else(|| panic!("no agent {agent}"))
    }
}

/// The (member, agent) of every Offer, in order.
pub(super) fn offers(actions: &[AcdAction]) -> Vec<(u64, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            AcdAction::Offer { member, agent, .. } => Some((member.0, agent.clone())),
            _ => None,
        })
        .collect()
}

/// The agents offered, in order.
pub(super) fn offered(actions: &[AcdAction]) -> Vec<String> {
    offers(actions).into_iter().map(|(_, a)| a).collect()
}

/// The (member, agent) of every CancelOffer, in order.
pub(super) fn cancels(actions: &[AcdAction]) -> Vec<(u64, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            AcdAction::CancelOffer { member, agent } => Some((member.0, agent.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn events(actions: &[AcdAction]) -> Vec<QueueEvent> {
    actions
        .iter()
        .filter_map(|a| match a {
            AcdAction::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// The (member, reason, key) of every MemberCancelled.
pub(super) fn cancelled(actions: &[AcdAction]) -> Vec<(u64, CancelReason, Option<char>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            AcdAction::MemberCancelled {
                member,
                reason,
                exit_key,
                ..
            } => Some((member.0, *reason, *exit_key)),
            _ => None,
        })
        .collect()
}

/// The shared strategy fixture: queue "q" with five available agents in two
/// tier levels, each with a different history (restored from a snapshot):
///
/// | agent | level | pos | last call ended | talk time | calls |
/// |-------|-------|-----|-----------------|-----------|-------|
/// | a1    | 1     | 1   | 100 s ago       | 100 s     | 5     |
/// | a2    | 1     | 2   | 400 s ago       | 300 s     | 8     |
/// | a3    | 1     | 3   | 250 s ago       | 200 s     | 2     |
/// | a4    | 2     | 1   | 600 s ago       | 400 s     | 1     |
/// | a5    | 2     | 2   | 500 s ago       | 50 s      | 3     |
///
/// Level 2 always comes after level 1, though a4 is the most idle, a5 has
/// the least talk time and a4 the fewest calls of all.
pub(super) fn fixture(strategy: Strategy) -> Sim {
    fixture_with(QueueConfig {
        strategy,
        ..QueueConfig::named("q")
    })
}

pub(super) fn fixture_with(cfg: QueueConfig) -> Sim {
    let mut sim = Sim::new();
    sim.now = sim.t0 + secs(1000);
    let name = cfg.name.clone();
    sim.queue(cfg);
    let rows = [
        ("a1", 1, 1, 100, 100, 5),
        ("a2", 1, 2, 400, 300, 8),
        ("a3", 1, 3, 250, 200, 2),
        ("a4", 2, 1, 600, 400, 1),
        ("a5", 2, 2, 500, 50, 3),
    ];
    let mut agents = Vec::new();
    for (id, level, position, ago, talk, calls) in rows {
        sim.agent(id);
        sim.tier(&name, id, level, position);
        agents.push(AgentSnapshot {
            id: id.into(),
            status: AgentStatus::Available,
            state: AgentState::Waiting,
            talk_time: secs(talk),
            calls_answered: calls,
            no_answer_count: 0,
            last_bridge_end_ago: Some(secs(ago)),
            last_offered_ago: None,
            wrap_up_left: None,
            ready_left: None,
        });
    }
    let snapshot = AcdSnapshot {
        taken_at_unix_ms: wall(0).timestamp_millis(),
        agents,
        tiers: Vec::new(),
        queues: Vec::new(),
    };
    let actions = sim.acd.restore(&snapshot, sim.now, wall(0));
    assert!(offers(&actions).is_empty());
    sim
}

/// Joins callers 1..=n one at a time; each offer is answered at once (the
/// agent stays on the call). Returns the agents in the order they were picked.
pub(super) fn picks_with_answer(sim: &mut Sim, queue: &str, n: u64) -> Vec<String> {
    let mut picks = Vec::new();
    for m in 1..=n {
        let actions = sim.join(queue, m);
        let got = offered(&actions);
        assert_eq!(got.len(), 1, "one offer for caller {m}: {actions:?}");
        sim.answer(m, &got[0]);
        picks.push(got[0].clone());
    }
    picks
}

pub(super) fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
