//! The ACD core: [`Acd::handle`] takes one input and the current time and
//! returns what to do. Configuration inputs (queues, agents, tiers) live here;
//! callers, offers, agent status and dispatch have their own files.

use super::config::{AgentConfig, QueueConfig, TierConfig};
use super::io::{AcdAction, AcdError, AcdInput, MemberId};
use super::members::Abandoned;
use super::names::{AgentState, CancelReason};
use super::state::{Agent, Member, Queue, Tier};
use super::timers::{TimerKey, Timers};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The in-memory ACD (automatic call distribution) engine, sans-IO: feed it
/// [`AcdInput`]s with the current time, carry out the [`AcdAction`]s it
/// returns, and call it with [`AcdInput::Tick`] at [`Acd::next_deadline`].
///
/// It is event-driven: nothing is polled. A free agent and a waiting caller
/// are matched as soon as both exist, in time logarithmic in the number of
/// waiting callers and free agents (the indexes are described in `state.rs`).
pub struct Acd {
    pub(super) queues: Vec<Option<Queue>>,
    pub(super) queue_index: HashMap<String, usize>,
    pub(super) agents: Vec<Option<Agent>>,
    pub(super) agent_index: HashMap<String, usize>,
    pub(super) members: HashMap<MemberId, Member>,
    pub(super) abandoned: Abandoned,
    pub(super) timers: Timers,
    /// Queues where a new (caller, agent) match may have become possible.
    pub(super) dirty: BTreeSet<usize>,
    pub(super) rng: fastrand::Rng,
    /// The ACD's clock origin: instants become signed milliseconds from it.
    pub(super) origin: Option<Instant>,
    pub(super) next_seq: u64,
    pub(super) out: Vec<AcdAction>,
    /// Callers looked at while matching, ever: lets tests assert that an
    /// event costs a bounded number of looks, not one per waiting caller.
    pub(super) examined: u64,
}

impl Default for Acd {
    fn default() -> Self {
        Acd::new()
    }
}

impl Acd {
    /// An empty ACD; the random strategy uses a randomly seeded generator.
    pub fn new() -> Self {
        Acd::with_rng(fastrand::Rng::new())
    }

    /// An empty ACD whose random strategy is reproducible (tests).
    pub fn with_seed(seed: u64) -> Self {
        Acd::with_rng(fastrand::Rng::with_seed(seed))
    }

    fn with_rng(rng: fastrand::Rng) -> Self {
        Acd {
            queues: Vec::new(),
            queue_index: HashMap::new(),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            members: HashMap::new(),
            abandoned: Abandoned::default(),
            timers: Timers::default(),
            dirty: BTreeSet::new(),
            rng,
            origin: None,
            next_seq: 0,
            out: Vec::new(),
            examined: 0,
        }
    }

    /// Applies one input at `now` and returns the resulting actions, in
    /// order. A refused input changes nothing.
    pub fn handle(&mut self, input: AcdInput, now: Instant) -> Result<Vec<AcdAction>, AcdError> {
        self.origin.get_or_insert(now);
        self.purge_abandoned(now);
        let result = match input {
            AcdInput::UpsertQueue(cfg) => self.upsert_queue(cfg, now),
            AcdInput::RemoveQueue { queue } => self.remove_queue(&queue),
            AcdInput::UpsertAgent(cfg) => self.upsert_agent(cfg, now),
            AcdInput::RemoveAgent { agent } => self.remove_agent(&agent, now),
            AcdInput::UpsertTier(tier) => self.upsert_tier(tier, now),
            AcdInput::RemoveTier { queue, agent } => self.remove_tier(&queue, &agent, now),
            AcdInput::SetAgentStatus { agent, status } => {
                let a = self.agent_slot(&agent)?;
                self.set_status(a, status, now);
                Ok(())
            }
            AcdInput::SetAgentState { agent, state } => self.set_state_by_hand(&agent, state, now),
            AcdInput::MemberJoin(join) => self.member_join(join, now),
            AcdInput::MemberHangup { member } => {
                self.cancel_member(member, CancelReason::BreakOut, None, now);
                Ok(())
            }
            AcdInput::MemberDigit { member, digit } => {
                self.member_digit(member, digit, now);
                Ok(())
            }
            AcdInput::OfferResult {
                member,
                agent,
                outcome,
            } => {
                self.offer_result(member, &agent, outcome, now);
                Ok(())
            }
            AcdInput::CallEnded {
                member,
                agent,
                talk_time,
            } => {
                self.call_ended(member, &agent, talk_time, now);
                Ok(())
            }
            AcdInput::WrapUpDone { agent } => {
                let a = self.agent_slot(&agent)?;
                if let Some(ag) = self.agent_mut(a) {
                    ag.wrap_up_until = None;
                }
                self.refresh_agent(a, now);
                Ok(())
            }
            AcdInput::ExternalCall { agent, active } => {
                let a = self.agent_slot(&agent)?;
                if let Some(ag) = self.agent_mut(a) {
                    ag.external_calls = if active {
                        ag.external_calls.saturating_add(1)
                    } else {
                        ag.external_calls.saturating_sub(1)
                    };
                }
                self.refresh_agent(a, now);
                Ok(())
            }
            AcdInput::Tick => {
                self.fire_timers(now);
                Ok(())
            }
        };
        if let Err(e) = result {
            debug_assert!(self.out.is_empty(), "a refused input must not act");
            self.out.clear();
            return Err(e);
        }
        self.dispatch(now);
        Ok(std::mem::take(&mut self.out))
    }

    /// When the ACD next needs a [`AcdInput::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            match key {
                TimerKey::AgentReady(a) => self.refresh_agent(a, now),
                TimerKey::OfferGuard(a) => self.offer_timed_out(a, now),
                TimerKey::MaxWait(m) => self.cancel_member(m, CancelReason::Timeout, None, now),
                TimerKey::Announce(m) => self.announce(m, now),
                TimerKey::TierRule(m) => {
                    if let Some(q) = self.members.get(&m).map(|m| m.queue) {
                        self.dirty.insert(q);
                        self.schedule_tier_rule(m, now);
                    }
                }
                TimerKey::Progress(m) => {
                    if let Some(q) = self.members.get(&m).map(|m| m.queue) {
                        self.dirty.insert(q);
                    }
                }
                TimerKey::NoAgent(q) => self.no_agent_check(q, now),
            }
        }
    }

    // ----- slots -----

    pub(super) fn queue(&self, q: usize) -> Option<&Queue> {
        self.queues.get(q).and_then(Option::as_ref)
    }

    pub(super) fn queue_mut(&mut self, q: usize) -> Option<&mut Queue> {
        self.queues.get_mut(q).and_then(Option::as_mut)
    }

    pub(super) fn agent(&self, a: usize) -> Option<&Agent> {
        self.agents.get(a).and_then(Option::as_ref)
    }

    pub(super) fn agent_mut(&mut self, a: usize) -> Option<&mut Agent> {
        self.agents.get_mut(a).and_then(Option::as_mut)
    }

    pub(super) fn agent_slot(&self, id: &str) -> Result<usize, AcdError> {
        self.agent_index
            .get(id)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(id.to_string()))
    }

    pub(super) fn queue_slot(&self, name: &str) -> Result<usize, AcdError> {
        self.queue_index
            .get(name)
            .copied()
            .ok_or_else(|| AcdError::UnknownQueue(name.to_string()))
    }

    pub(super) fn agent_id(&self, a: usize) -> String {
        self.agent(a).map(|a| a.cfg.id.clone()).unwrap_or_default()
    }

    pub(super) fn queue_name(&self, q: usize) -> String {
        self.queue(q)
            .map(|q| q.cfg.name.clone())
            .unwrap_or_default()
    }

    /// `t` on the ACD's clock, in signed milliseconds.
    pub(super) fn clock_ms(&self, t: Instant) -> i64 {
        let origin = self.origin.unwrap_or(t);
        if t >= origin {
            millis(t - origin)
        } else {
            -millis(origin - t)
        }
    }

    // ----- configuration -----

    fn upsert_queue(&mut self, cfg: QueueConfig, now: Instant) -> Result<(), AcdError> {
        cfg.validate()?;
        let Some(&q) = self.queue_index.get(&cfg.name) else {
            self.queue_index.insert(cfg.name.clone(), self.queues.len());
            self.queues.push(Some(Queue::new(cfg, now)));
            return Ok(());
        };
        let Some(queue) = self.queue_mut(q) else {
            return Ok(());
        };
        let strategy_changed = queue.cfg.strategy != cfg.strategy;
        queue.cfg = cfg;
        if strategy_changed {
            queue.rr_last = None;
        }
        let rings_several = queue.cfg.strategy.rings_several();
        let agents: Vec<usize> = queue.tiers.keys().copied().collect();
        let members: Vec<MemberId> = queue.by_arrival.values().copied().collect();
        // Free-set keys depend on the strategy and skip-agents-with-external-calls.
        for a in agents {
            self.refresh_agent(a, now);
        }
        for m in members {
            let should_queue = self
                .members
                .get(&m)
                .is_some_and(|m| rings_several || m.offers.is_empty());
            if should_queue {
                self.enqueue(m);
            } else {
                self.dequeue(m);
            }
            if strategy_changed {
                if let Some(member) = self.members.get_mut(&m) {
                    member.top_down_last = None;
                }
            }
            self.schedule_member_timers(m, now);
        }
        self.update_no_agent(q, now);
        self.dirty.insert(q);
        Ok(())
    }

    fn remove_queue(&mut self, name: &str) -> Result<(), AcdError> {
        let q = self.queue_slot(name)?;
        let Some(queue) = self.queue(q) else {
            return Ok(());
        };
        if !queue.by_arrival.is_empty() {
            return Err(AcdError::QueueHasMembers {
                queue: name.to_string(),
                count: queue.by_arrival.len(),
            });
        }
        let agents: Vec<usize> = queue.tiers.keys().copied().collect();
        for a in agents {
            if let Some(agent) = self.agent_mut(a) {
                agent.queues.remove(&q);
            }
        }
        self.timers.clear(TimerKey::NoAgent(q));
        self.queue_index.remove(name);
        if let Some(slot) = self.queues.get_mut(q) {
            *slot = None;
        }
        self.dirty.remove(&q);
        Ok(())
    }

    fn upsert_agent(&mut self, cfg: AgentConfig, now: Instant) -> Result<(), AcdError> {
        cfg.validate()?;
        if let Some(&a) = self.agent_index.get(&cfg.id) {
            if let Some(agent) = self.agent_mut(a) {
                agent.cfg = cfg;
            }
            self.refresh_agent(a, now);
        } else {
            self.agent_index.insert(cfg.id.clone(), self.agents.len());
            self.agents.push(Some(Agent::new(cfg)));
        }
        Ok(())
    }

    fn remove_agent(&mut self, id: &str, now: Instant) -> Result<(), AcdError> {
        let a = self.agent_slot(id)?;
        self.withdraw_offer(a, now);
        let queues: Vec<usize> = self
            .agent(a)
            .map(|ag| ag.queues.iter().copied().collect())
            .unwrap_or_default();
        for q in queues {
            self.detach_tier(q, a, now);
        }
        self.timers.clear(TimerKey::AgentReady(a));
        self.timers.clear(TimerKey::OfferGuard(a));
        self.agent_index.remove(id);
        if let Some(slot) = self.agents.get_mut(a) {
            *slot = None;
        }
        Ok(())
    }

    fn upsert_tier(&mut self, tier: TierConfig, now: Instant) -> Result<(), AcdError> {
        let q = self.queue_slot(&tier.queue)?;
        let a = self.agent_slot(&tier.agent)?;
        let logged_in = self.agent(a).is_some_and(Agent::logged_in);
        let Some(queue) = self.queue_mut(q) else {
            return Ok(());
        };
        if let Some(old) = queue.tiers.get_mut(&a) {
            let old_level = old.level;
            old.level = tier.level;
            old.position = tier.position;
            queue.count_tier(old_level, logged_in, -1);
        } else {
            queue.tiers.insert(
                a,
                Tier {
                    level: tier.level,
                    position: tier.position,
                    no_answer: false,
                    free_key: None,
                },
            );
        }
        queue.count_tier(tier.level, logged_in, 1);
        if let Some(agent) = self.agent_mut(a) {
            agent.queues.insert(q);
        }
        self.tiers_changed(q, now);
        self.refresh_agent(a, now);
        Ok(())
    }

    fn remove_tier(&mut self, queue: &str, agent: &str, now: Instant) -> Result<(), AcdError> {
        let q = self.queue_slot(queue)?;
        let a = self.agent_slot(agent)?;
        if !self.queue(q).is_some_and(|qu| qu.tiers.contains_key(&a)) {
            return Err(AcdError::UnknownTier {
                queue: queue.to_string(),
                agent: agent.to_string(),
            });
        }
        if self
            .agent(a)
            .and_then(|ag| ag.offer.as_ref())
            .is_some_and(|o| o.queue == q)
        {
            self.withdraw_offer(a, now);
        }
        self.detach_tier(q, a, now);
        self.refresh_agent(a, now);
        Ok(())
    }

    /// Takes agent `a` out of queue `q` (indexes and counts).
    fn detach_tier(&mut self, q: usize, a: usize, now: Instant) {
        let logged_in = self.agent(a).is_some_and(Agent::logged_in);
        if let Some(queue) = self.queue_mut(q) {
            if let Some(tier) = queue.tiers.remove(&a) {
                if let Some(key) = tier.free_key {
                    queue.free.remove(&key);
                }
                queue.count_tier(tier.level, logged_in, -1);
            }
        }
        if let Some(agent) = self.agent_mut(a) {
            agent.queues.remove(&q);
        }
        self.tiers_changed(q, now);
    }

    /// After tiers or logged-in counts of `q` changed: the no-agent clock,
    /// the tier-rule timers of its callers, and a dispatch pass.
    pub(super) fn tiers_changed(&mut self, q: usize, now: Instant) {
        self.update_no_agent(q, now);
        let members: Vec<MemberId> = match self.queue(q) {
            Some(queue) if queue.cfg.tier_rules_apply => {
                queue.by_arrival.values().copied().collect()
            }
            _ => Vec::new(),
        };
        for m in members {
            self.schedule_tier_rule(m, now);
        }
        self.dirty.insert(q);
    }

    /// Sets the agent's state by hand (Waiting, Idle, Reserved).
    fn set_state_by_hand(
        &mut self,
        id: &str,
        state: AgentState,
        now: Instant,
    ) -> Result<(), AcdError> {
        let a = self.agent_slot(id)?;
        if matches!(state, AgentState::Receiving | AgentState::InQueueCall) {
            return Err(AcdError::StateNotSettable(state));
        }
        if let Some(agent) = self.agent(a) {
            if agent.offer.is_some() || agent.call.is_some() {
                return Err(AcdError::AgentBusy {
                    agent: id.to_string(),
                    state: agent.state,
                });
            }
        }
        self.set_state(a, state);
        self.refresh_agent(a, now);
        Ok(())
    }
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
