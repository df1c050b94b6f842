//! Agent status and state, and whether an agent is free (offerable) in each
//! of their queues.

use super::engine::{millis, Acd};
use super::io::{AcdAction, QueueEvent};
use super::names::{AgentState, AgentStatus, Strategy};
use super::state::{Agent, FreeKey, Queue, Tier};
use super::timers::TimerKey;
use std::time::{Duration, Instant};

impl Acd {
    /// Changes an agent's status (login, logout, ready, not ready, break).
    ///
    /// Counters (REFERENCE §1 \[NOTE\]: FreeSWITCH zeroes talk time, calls
    /// answered and the no-answer count every time the status is set to
    /// Available, so a coffee break wipes the fairness data the
    /// least-talk-time and fewest-calls strategies rely on). We do better:
    /// - the no-answer count and the tiers' No Answer state are cleared
    ///   whenever the agent becomes available again (otherwise an agent put
    ///   On Break by max-no-answer would go straight back on the next miss);
    /// - talk time and calls answered are cleared only at login (from
    ///   Logged Out), i.e. they count per working session.
    pub(super) fn set_status(&mut self, a: usize, status: AgentStatus, now: Instant) {
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let old = agent.status;
        let was_logged_in = agent.logged_in();
        if old != status {
            agent.status = status;
            if status.takes_calls() && !old.takes_calls() {
                agent.no_answer_count = 0;
                if old == AgentStatus::LoggedOut {
                    agent.talk_time = Duration::ZERO;
                    agent.calls_answered = 0;
                }
                let queues: Vec<usize> = agent.queues.iter().copied().collect();
                for q in queues {
                    if let Some(tier) = self.tier_mut(q, a) {
                        tier.no_answer = false;
                    }
                }
            }
            let id = self.agent_id(a);
            self.event(QueueEvent::AgentStatusChanged {
                agent: id,
                old,
                new: status,
            });
        }
        // Making an agent available again also wakes them from Idle (the
        // state an on-demand agent is left in after a call).
        if status.takes_calls()
            && self.agent(a).is_some_and(|ag| {
                ag.state == AgentState::Idle && ag.offer.is_none() && ag.call.is_none()
            })
        {
            self.set_state(a, AgentState::Waiting);
        }
        let is_logged_in = status != AgentStatus::LoggedOut;
        if was_logged_in != is_logged_in {
            self.login_changed(a, is_logged_in, now);
        }
        self.refresh_agent(a, now);
    }

    /// Agent `a` logged in or out: the per-level counts of their queues
    /// (tier rules, max-wait-time-with-no-agent) follow.
    pub(super) fn login_changed(&mut self, a: usize, logged_in: bool, now: Instant) {
        let delta = if logged_in { 1 } else { -1 };
        let queues: Vec<usize> = self
            .agent(a)
            .map(|ag| ag.queues.iter().copied().collect())
            .unwrap_or_default();
        for q in queues {
            if let Some(queue) = self.queue_mut(q) {
                if let Some(level) = queue.tiers.get(&a).map(|t| t.level) {
                    queue.count_login(level, delta);
                }
            }
            // Tier-rule timers do not depend on who is logged in; only the
            // no-agent clock and the matching do.
            self.update_no_agent(q, now);
            self.dirty.insert(q);
        }
    }

    /// Sets the agent's state, with an event when it changes.
    pub(super) fn set_state(&mut self, a: usize, state: AgentState) {
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let old = agent.state;
        if old == state {
            return;
        }
        agent.state = state;
        let id = agent.cfg.id.clone();
        self.event(QueueEvent::AgentStateChanged {
            agent: id,
            old,
            new: state,
        });
    }

    /// Puts agent `a` into (or takes them out of) the free set of each of
    /// their queues, per REFERENCE §1: offerable when the status takes calls,
    /// the state is Waiting, wrap-up and penalty delays are over, and (where
    /// the queue skips them) no external call. Arms the timer for when the
    /// delays end. Call after anything about the agent changed.
    pub(super) fn refresh_agent(&mut self, a: usize, now: Instant) {
        let Some(agent) = self.agent(a) else {
            return;
        };
        let ready = agent.idle_and_ready();
        let blocked = agent.blocked_until(now);
        let queues: Vec<usize> = agent.queues.iter().copied().collect();
        for q in queues {
            let key = match (self.queue(q), self.agent(a)) {
                (Some(queue), Some(agent)) => {
                    let skip_external =
                        queue.cfg.skip_agents_with_external_calls && agent.external_calls > 0;
                    let free = ready && blocked.is_none() && !skip_external;
                    match queue.tiers.get(&a) {
                        Some(tier) if free => Some(self.free_key(queue, tier, agent, a)),
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(queue) = self.queue_mut(q) else {
                continue;
            };
            let Some(tier) = queue.tiers.get_mut(&a) else {
                continue;
            };
            if tier.free_key == key {
                continue;
            }
            if let Some(old) = tier.free_key.take() {
                queue.free.remove(&old);
            }
            tier.free_key = key;
            if let Some(key) = key {
                queue.free.insert(key);
                self.dirty.insert(q);
            }
        }
        match (ready, blocked) {
            (true, Some(at)) => self.timers.set(TimerKey::AgentReady(a), at),
            _ => self.timers.clear(TimerKey::AgentReady(a)),
        }
    }

    /// The agent's place in `queue`'s strategy order (REFERENCE §1, level first).
    fn free_key(&self, queue: &Queue, tier: &Tier, agent: &Agent, a: usize) -> FreeKey {
        let position = i64::from(tier.position);
        let at = |t: Option<Instant>| t.map_or(i64::MIN, |t| self.clock_ms(t));
        let (k1, k2) = match queue.strategy() {
            Strategy::LongestIdleAgent => (at(agent.last_bridge_end), position),
            Strategy::AgentWithLeastTalkTime => (millis(agent.talk_time), position),
            Strategy::AgentWithFewestCalls => (i64::from(agent.calls_answered), position),
            Strategy::SequentiallyByAgentOrder | Strategy::RoundRobin => {
                (position, at(agent.last_offered))
            }
            Strategy::Random => (0, 0),
            Strategy::TopDown | Strategy::RingAll | Strategy::RingProgressively => (position, 0),
        };
        FreeKey {
            level: tier.level,
            k1,
            k2,
            agent: a,
        }
    }

    pub(super) fn tier_mut(&mut self, q: usize, a: usize) -> Option<&mut Tier> {
        self.queue_mut(q).and_then(|queue| queue.tiers.get_mut(&a))
    }

    pub(super) fn event(&mut self, event: QueueEvent) {
        self.out.push(AcdAction::Event(event));
    }
}
