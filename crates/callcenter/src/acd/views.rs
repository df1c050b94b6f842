//! Read-only views of the live state, for the web pages and the application.

use super::config::{AgentConfig, QueueConfig};
use super::engine::Acd;
use super::io::MemberId;
use super::names::{AgentState, AgentStatus, TierState};
use super::serde_time::millis;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One agent as supervisors see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentView {
    /// Agent id.
    pub id: String,
    /// Status.
    pub status: AgentStatus,
    /// State.
    pub state: AgentState,
    /// Talk time this session.
    #[serde(with = "millis", rename = "talk_time_ms")]
    pub talk_time: Duration,
    /// Queue calls answered this session.
    pub calls_answered: u32,
    /// Unanswered offers in a row.
    pub no_answer_count: u32,
    /// Non-queue calls in progress.
    pub external_calls: u32,
    /// The caller being offered to them.
    pub offered: Option<MemberId>,
    /// The caller they are talking to.
    pub in_call: Option<MemberId>,
    /// Until when they are in after-call work (wrap-up), if they are.
    #[serde(skip)]
    pub wrap_up_until: Option<Instant>,
}

/// One waiting caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// The caller.
    pub member: MemberId,
    /// Caller number.
    pub caller_number: String,
    /// Current score (seconds waited + base score); highest is served first.
    pub score: i64,
    /// How long this call has waited in the queue.
    #[serde(with = "millis", rename = "waited_ms")]
    pub waited: Duration,
    /// Agents ringing for them now.
    pub offered_to: Vec<String>,
}

impl Acd {
    /// An agent's live state.
    pub fn agent_view(&self, id: &str) -> Option<AgentView> {
        let agent = self.agent(*self.agent_index.get(id)?)?;
        Some(AgentView {
            id: agent.cfg.id.clone(),
            status: agent.status,
            state: agent.state,
            talk_time: agent.talk_time,
            calls_answered: agent.calls_answered,
            no_answer_count: agent.no_answer_count,
            external_calls: agent.external_calls,
            offered: agent.offer.as_ref().map(|c| c.member),
            in_call: agent.call.as_ref().map(|c| c.member),
            wrap_up_until: agent.wrap_up_until,
        })
    }

    /// The callers waiting in `queue` (including those being offered), best
    /// score first. Sorts: meant for pages, not for every event.
    pub fn members(&self, queue: &str, now: Instant) -> Vec<MemberView> {
        let Some(queue) = self.queue_index.get(queue).and_then(|&q| self.queue(q)) else {
            return Vec::new();
        };
        let mut members: Vec<_> = queue
            .by_arrival
            .values()
            .filter_map(|id| self.members.get(id))
            .collect();
        members.sort_by_key(|m| m.order());
        let clock = self.clock_ms(now);
        members
            .into_iter()
            .map(|m| MemberView {
                member: m.id,
                caller_number: m.caller_number.clone(),
                score: clock.saturating_sub(m.key).div_euclid(1000),
                waited: now.saturating_duration_since(m.arrived),
                offered_to: m.offers.iter().map(|&a| self.agent_id(a)).collect(),
            })
            .collect()
    }

    /// How many callers wait in `queue`.
    pub fn member_count(&self, queue: &str) -> usize {
        self.queue_index
            .get(queue)
            .and_then(|&q| self.queue(q))
            .map_or(0, |q| q.by_arrival.len())
    }

    /// The agent's state in the queue: Offering / Active Inbound when this
    /// queue's call, Standby when another queue's, else No Answer or Ready.
    pub fn tier_state(&self, queue: &str, agent: &str) -> Option<TierState> {
        let q = *self.queue_index.get(queue)?;
        let a = *self.agent_index.get(agent)?;
        let tier = self.queue(q)?.tiers.get(&a)?;
        let ag = self.agent(a)?;
        Some(match (&ag.offer, &ag.call) {
            (Some(o), _) if o.queue == q => TierState::Offering,
            (_, Some(c)) if c.queue == q => TierState::ActiveInbound,
            (Some(_), _) | (_, Some(_)) => TierState::Standby,
            _ if tier.no_answer => TierState::NoAnswer,
            _ => TierState::Ready,
        })
    }

    /// The agents that could be offered a call in `queue` right now, in the
    /// queue's strategy order.
    pub fn free_agents(&self, queue: &str) -> Vec<String> {
        self.queue_index
            .get(queue)
            .and_then(|&q| self.queue(q))
            .map(|q| q.free.iter().map(|k| self.agent_id(k.agent)).collect())
            .unwrap_or_default()
    }

    /// A queue's settings.
    pub fn queue_config(&self, name: &str) -> Option<&QueueConfig> {
        self.queue(*self.queue_index.get(name)?).map(|q| &q.cfg)
    }

    /// An agent's settings.
    pub fn agent_config(&self, id: &str) -> Option<&AgentConfig> {
        self.agent(*self.agent_index.get(id)?).map(|a| &a.cfg)
    }
}
