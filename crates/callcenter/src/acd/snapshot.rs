//! Agent status and state across a restart.
//!
//! Kept: per agent the status, state, talk time, calls answered, no-answer
//! count, when their last queue call ended and when they were last offered
//! (as "so long ago"), and what remains of wrap-up and penalty delays; per
//! tier the No Answer flag; per queue the round-robin position. The time the
//! process was down (from the wall clock) is added to the "ago" values and
//! taken from the remaining delays.
//!
//! Not kept: waiting callers, offers and calls (they die with the process),
//! external-call counts (same), and configuration (it lives in the database
//! and is loaded before restoring). An agent snapshotted while Receiving
//! comes back Waiting; one In a queue call comes back as if that call ended
//! when the snapshot was taken (Waiting, or Idle when on demand, wrap-up
//! running from then).

use super::engine::Acd;
use super::io::{AcdAction, QueueEvent};
use super::names::{AgentState, AgentStatus};
use super::serde_time::{millis, opt_millis};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The live state worth keeping across a restart (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcdSnapshot {
    /// Wall-clock time of the snapshot, Unix milliseconds.
    pub taken_at_unix_ms: i64,
    /// Agents.
    pub agents: Vec<AgentSnapshot>,
    /// Tiers with live state.
    pub tiers: Vec<TierSnapshot>,
    /// Queues with live state.
    pub queues: Vec<QueueSnapshot>,
}

/// One agent's live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// Agent id.
    pub id: String,
    /// Status.
    pub status: AgentStatus,
    /// State.
    pub state: AgentState,
    /// Talk time this session.
    #[serde(with = "millis")]
    pub talk_time: Duration,
    /// Calls answered this session.
    pub calls_answered: u32,
    /// Unanswered offers in a row.
    pub no_answer_count: u32,
    /// How long before the snapshot their last queue call ended.
    #[serde(with = "opt_millis")]
    pub last_bridge_end_ago: Option<Duration>,
    /// How long before the snapshot they were last offered a call.
    #[serde(with = "opt_millis")]
    pub last_offered_ago: Option<Duration>,
    /// Wrap-up time left at the snapshot.
    #[serde(with = "opt_millis")]
    pub wrap_up_left: Option<Duration>,
    /// Penalty delay (busy, reject, no answer) left at the snapshot.
    #[serde(with = "opt_millis")]
    pub ready_left: Option<Duration>,
}

/// One tier's live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierSnapshot {
    /// Queue name.
    pub queue: String,
    /// Agent id.
    pub agent: String,
    /// The last offer from the queue went unanswered.
    pub no_answer: bool,
}

/// One queue's live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    /// Queue name.
    pub queue: String,
    /// round-robin: level and position of the last agent offered.
    pub round_robin_last: Option<(u32, u32)>,
}

impl Acd {
    /// The state to keep across a restart, at `now` / `wall_now`.
    pub fn snapshot(&self, now: Instant, wall_now: DateTime<Utc>) -> AcdSnapshot {
        let ago = |t: Option<Instant>| t.map(|t| now.saturating_duration_since(t));
        let left = |t: Option<Instant>| {
            t.map(|t| t.saturating_duration_since(now))
                .filter(|d| !d.is_zero())
        };
        let mut agents = Vec::new();
        let mut tiers = Vec::new();
        for agent in self.agents.iter().flatten() {
            agents.push(AgentSnapshot {
                id: agent.cfg.id.clone(),
                status: agent.status,
                state: agent.state,
                talk_time: agent.talk_time,
                calls_answered: agent.calls_answered,
                no_answer_count: agent.no_answer_count,
                last_bridge_end_ago: ago(agent.last_bridge_end),
                last_offered_ago: ago(agent.last_offered),
                wrap_up_left: left(agent.wrap_up_until),
                ready_left: left(agent.ready_time),
            });
        }
        let mut queues = Vec::new();
        for queue in self.queues.iter().flatten() {
            for (&a, tier) in &queue.tiers {
                if tier.no_answer {
                    tiers.push(TierSnapshot {
                        queue: queue.cfg.name.clone(),
                        agent: self.agent_id(a),
                        no_answer: true,
                    });
                }
            }
            queues.push(QueueSnapshot {
                queue: queue.cfg.name.clone(),
                round_robin_last: queue.rr_last,
            });
        }
        AcdSnapshot {
            taken_at_unix_ms: wall_now.timestamp_millis(),
            agents,
            tiers,
            queues,
        }
    }

    /// Puts back a snapshot's state into agents, tiers and queues already
    /// configured (unknown ones are skipped with a warning, and so is an
    /// agent with a queue call in progress, whose state is live). Returns the
    /// resulting actions (status/state events, offers to waiting callers).
    pub fn restore(
        &mut self,
        snapshot: &AcdSnapshot,
        now: Instant,
        wall_now: DateTime<Utc>,
    ) -> Vec<AcdAction> {
        self.origin.get_or_insert(now);
        let down_ms = wall_now
            .timestamp_millis()
            .saturating_sub(snapshot.taken_at_unix_ms);
        let downtime = Duration::from_millis(u64::try_from(down_ms).unwrap_or(0));
        let mut restored = Vec::new();
        for s in &snapshot.agents {
            let Some(&a) = self.agent_index.get(&s.id) else {
                tracing::warn!(agent = %s.id, "ACD snapshot: no such agent any more; skipped");
                continue;
            };
            if self
                .agent(a)
                .is_none_or(|ag| ag.offer.is_some() || ag.call.is_some())
            {
                tracing::warn!(agent = %s.id, "ACD snapshot: agent has a live queue call; skipped");
                continue;
            }
            self.restore_agent(a, s, downtime, now);
            restored.push(a);
        }
        for t in &snapshot.tiers {
            let (Some(&q), Some(&a)) = (
                self.queue_index.get(&t.queue),
                self.agent_index.get(&t.agent),
            ) else {
                continue;
            };
            if let Some(tier) = self.tier_mut(q, a) {
                tier.no_answer = t.no_answer;
            }
        }
        for s in &snapshot.queues {
            let Some(&q) = self.queue_index.get(&s.queue) else {
                continue;
            };
            if let Some(queue) = self.queue_mut(q) {
                queue.rr_last = s.round_robin_last;
            }
        }
        for a in restored {
            self.refresh_agent(a, now);
        }
        self.dispatch(now);
        std::mem::take(&mut self.out)
    }

    fn restore_agent(&mut self, a: usize, s: &AgentSnapshot, downtime: Duration, now: Instant) {
        let before =
            |ago: Option<Duration>| ago.and_then(|d| now.checked_sub(d.saturating_add(downtime)));
        let after = |left: Option<Duration>| {
            left.and_then(|d| d.checked_sub(downtime))
                .filter(|d| !d.is_zero())
                .map(|d| now + d)
        };
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let old_status = agent.status;
        let old_state = agent.state;
        let was_logged_in = agent.logged_in();
        agent.status = s.status;
        agent.talk_time = s.talk_time;
        agent.calls_answered = s.calls_answered;
        agent.no_answer_count = s.no_answer_count;
        agent.last_offered = before(s.last_offered_ago);
        agent.ready_time = after(s.ready_left);
        let idle_after_call = if s.status == AgentStatus::AvailableOnDemand {
            AgentState::Idle
        } else {
            AgentState::Waiting
        };
        agent.state = match s.state {
            AgentState::Receiving => AgentState::Waiting,
            AgentState::InQueueCall => idle_after_call,
            other => other,
        };
        if s.state == AgentState::InQueueCall {
            // The call ended with the process: wrap-up runs from the snapshot.
            agent.last_bridge_end = now.checked_sub(downtime);
            agent.wrap_up_until = after(Some(agent.cfg.wrap_up_time));
        } else {
            agent.last_bridge_end = before(s.last_bridge_end_ago);
            agent.wrap_up_until = after(s.wrap_up_left);
        }
        let is_logged_in = agent.logged_in();
        let new_state = agent.state;
        let id = agent.cfg.id.clone();
        if old_status != s.status {
            self.event(QueueEvent::AgentStatusChanged {
                agent: id.clone(),
                old: old_status,
                new: s.status,
            });
        }
        if old_state != new_state {
            self.event(QueueEvent::AgentStateChanged {
                agent: id,
                old: old_state,
                new: new_state,
            });
        }
        if was_logged_in != is_logged_in {
            self.login_changed(a, is_logged_in, now);
        }
    }
}
