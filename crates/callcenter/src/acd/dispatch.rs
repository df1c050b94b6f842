//! Matching waiting callers with free agents, by each queue's strategy.
//!
//! After every input, each queue where a match may have become possible
//! ("dirty") proposes its best match: its best-scored dispatchable caller
//! and the agent(s) its strategy picks among its free agents. The proposal
//! whose caller has the best score across queues is applied first (an agent
//! in several queues goes to the best caller among them), and so on until no
//! queue can match. A proposal costs a few ordered-set lookups; callers are
//! only walked past when tier rules or ring-progressively hold them back.

use super::engine::Acd;
use super::io::{AcdAction, MemberId, QueueEvent};
use super::names::{AgentState, Strategy};
use super::state::{AgentCall, FreeKey, Member, Queue};
use super::timers::TimerKey;
use std::time::Instant;

/// A caller and the agent(s) to offer them to.
struct Proposal {
    member: MemberId,
    agents: Vec<usize>,
}

impl Acd {
    pub(super) fn dispatch(&mut self, now: Instant) {
        loop {
            let mut best: Option<((i64, u64), usize, Proposal)> = None;
            let dirty: Vec<usize> = self.dirty.iter().copied().collect();
            for q in dirty {
                let Some(proposal) = self.propose(q, now) else {
                    self.dirty.remove(&q);
                    continue;
                };
                let Some(order) = self.members.get(&proposal.member).map(|m| (m.key, m.seq)) else {
                    self.dirty.remove(&q);
                    continue;
                };
                if best.as_ref().is_none_or(|(b, _, _)| order < *b) {
                    best = Some((order, q, proposal));
                }
            }
            let Some((_, q, proposal)) = best else {
                break;
            };
            self.offer(q, proposal, now);
        }
    }

    /// Queue `q`'s best match now, if any.
    fn propose(&mut self, q: usize, now: Instant) -> Option<Proposal> {
        let queue = self.queues.get(q)?.as_ref()?;
        let first_free = *queue.free.first()?;
        if queue.waiting.is_empty() {
            return None;
        }
        let rules = queue.cfg.tier_rules_apply;
        if rules {
            // The caller who has waited longest has the most levels open: if
            // not even they may reach the best free agent's level, nobody can.
            let &(oldest, _, _) = queue.by_joined.first()?;
            let open = queue.max_level(now.saturating_duration_since(oldest));
            if open.is_none_or(|l| l < first_free.level) {
                return None;
            }
        }
        let strategy = queue.strategy();
        for &(_, _, id) in &queue.waiting {
            self.examined += 1;
            let Some(member) = self.members.get(&id) else {
                continue;
            };
            if strategy == Strategy::RingProgressively
                && !member.offers.is_empty()
                && member.progress_ready_at.is_some_and(|t| t > now)
            {
                continue;
            }
            let max_level = if rules {
                match queue.max_level(now.saturating_duration_since(member.joined)) {
                    Some(level) if level >= first_free.level => level,
                    _ => continue,
                }
            } else {
                u32::MAX
            };
            let agents = pick(queue, member, max_level, &mut self.rng);
            if !agents.is_empty() {
                return Some(Proposal { member: id, agents });
            }
        }
        None
    }

    /// Offers the caller to the proposal's agents.
    fn offer(&mut self, q: usize, proposal: Proposal, now: Instant) {
        let Some(queue) = self.queue(q) else {
            self.dirty.remove(&q);
            return;
        };
        let strategy = queue.strategy();
        let ring_timeout = queue.cfg.ring_timeout;
        let progress_delay = queue.cfg.ring_progressively_delay;
        let queue_name = queue.cfg.name.clone();
        let id = proposal.member;
        for a in proposal.agents {
            let Some((level, position)) = self
                .queue(q)
                .and_then(|queue| queue.tiers.get(&a))
                .map(|t| (t.level, t.position))
            else {
                if let Some(queue) = self.queue_mut(q) {
                    queue.free.retain(|k| k.agent != a);
                }
                continue;
            };
            let Some(agent) = self.agent_mut(a) else {
                // Cannot happen (removal cleans the free sets), but a stale
                // entry must not be proposed again and again.
                if let Some(queue) = self.queue_mut(q) {
                    if let Some(key) = queue.tiers.get_mut(&a).and_then(|t| t.free_key.take()) {
                        queue.free.remove(&key);
                    }
                }
                continue;
            };
            agent.offer = Some(AgentCall {
                member: id,
                queue: q,
                queue_name: queue_name.clone(),
            });
            agent.last_offered = Some(now);
            let offer = AcdAction::Offer {
                queue: queue_name.clone(),
                member: id,
                agent: agent.cfg.id.clone(),
                agent_type: agent.cfg.agent_type,
                contact: agent.cfg.contact.clone(),
                ring_timeout,
            };
            let agent_id = agent.cfg.id.clone();
            self.timers.set(
                TimerKey::OfferGuard(a),
                now + ring_timeout + super::offers::OFFER_GRACE,
            );
            self.set_state(a, AgentState::Receiving);
            // Leaves the free set of every queue: offered here, Standby elsewhere.
            self.refresh_agent(a, now);
            self.out.push(offer);
            self.event(QueueEvent::AgentOffering {
                queue: queue_name.clone(),
                member: id,
                agent: agent_id,
            });
            if let Some(member) = self.members.get_mut(&id) {
                member.offers.push(a);
                member.top_down_last = Some((level, position));
            }
            if let Some(queue) = self.queue_mut(q) {
                queue.rr_last = Some((level, position));
            }
        }
        if !strategy.rings_several() {
            self.dequeue(id);
        }
        if strategy == Strategy::RingProgressively {
            if let Some(member) = self.members.get_mut(&id) {
                member.progress_ready_at = Some(now + progress_delay);
            }
            self.timers
                .set(TimerKey::Progress(id), now + progress_delay);
        }
    }
}

/// The agent(s) `queue`'s strategy picks for `member` among its free agents
/// of level `max_level` or better (REFERENCE §1; candidates are ordered by
/// level first, the free set's order).
fn pick(queue: &Queue, member: &Member, max_level: u32, rng: &mut fastrand::Rng) -> Vec<usize> {
    let Some(&first) = queue.free.first() else {
        return Vec::new();
    };
    if first.level > max_level {
        return Vec::new();
    }
    let allowed = |k: &&FreeKey| k.level <= max_level;
    let chosen = match queue.strategy() {
        Strategy::RingAll => {
            return queue
                .free
                .iter()
                .take_while(|k| k.level <= max_level)
                .map(|k| k.agent)
                .collect();
        }
        Strategy::Random => {
            let level: Vec<&FreeKey> = queue
                .free
                .iter()
                .take_while(|k| k.level == first.level)
                .collect();
            level.get(rng.usize(..level.len())).copied().copied()
        }
        // Next position after the last offered agent in its level, then wrap.
        Strategy::RoundRobin => queue
            .rr_last
            .and_then(|(level, position)| {
                queue
                    .free
                    .range(after(level, position)..)
                    .next()
                    .filter(|k| k.level == level)
                    .filter(allowed)
                    .copied()
            })
            .or(Some(first)),
        // Per caller: further down from the last tried, then from the top.
        Strategy::TopDown => member
            .top_down_last
            .and_then(|(level, position)| {
                queue
                    .free
                    .range(after(level, position)..)
                    .next()
                    .filter(allowed)
                    .copied()
            })
            .or(Some(first)),
        Strategy::LongestIdleAgent
        | Strategy::AgentWithLeastTalkTime
        | Strategy::AgentWithFewestCalls
        | Strategy::SequentiallyByAgentOrder
        | Strategy::RingProgressively => Some(first),
    };
    chosen.map(|k| vec![k.agent]).unwrap_or_default()
}

/// The first free-set key past `(level, position)` for the position-ordered
/// strategies (whose first sort key after the level is the position).
fn after(level: u32, position: u32) -> FreeKey {
    FreeKey {
        level,
        k1: i64::from(position) + 1,
        k2: i64::MIN,
        agent: 0,
    }
}
