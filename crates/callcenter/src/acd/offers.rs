//! Offers and queue calls: results, penalties, the winner of a ring-all,
//! the end of a call and wrap-up.

use super::engine::Acd;
use super::io::{AcdAction, MemberEnd, MemberId, QueueEvent};
use super::names::{AgentState, AgentStatus, OfferOutcome};
use super::state::AgentCall;
use super::timers::TimerKey;
use std::time::{Duration, Instant};

/// The penalty after an offer to an unregistered phone (FreeSWITCH's).
pub(super) const NOT_REGISTERED_DELAY: Duration = Duration::from_secs(5);

/// How long past its ring timeout an offer may stay without a result before
/// the ACD gives up on it as unanswered (the application should always
/// report; this keeps a lost report from leaving the agent Receiving forever).
pub(super) const OFFER_GRACE: Duration = Duration::from_secs(5);

impl Acd {
    pub(super) fn offer_result(
        &mut self,
        member: MemberId,
        agent_id: &str,
        outcome: OfferOutcome,
        now: Instant,
    ) {
        let current = self.agent_index.get(agent_id).copied().filter(|&a| {
            self.agent(a)
                .and_then(|ag| ag.offer.as_ref())
                .is_some_and(|o| o.member == member)
        });
        let Some(a) = current else {
            // A result for an offer that is over: another agent won, the
            // caller left, or it was withdrawn. An agent who answered it
            // anyway must be hung up; nothing else changes (no penalty).
            if outcome == OfferOutcome::Answered {
                self.out.push(AcdAction::CancelOffer {
                    member,
                    agent: agent_id.to_string(),
                });
            }
            return;
        };
        if outcome == OfferOutcome::Answered {
            self.connect(a, now);
        } else {
            self.offer_failed(a, outcome, now);
        }
    }

    /// Ends agent `a`'s offer (if any): timer, caller's offer list.
    fn take_offer(&mut self, a: usize) -> Option<AgentCall> {
        let call = self.agent_mut(a)?.offer.take()?;
        self.timers.clear(TimerKey::OfferGuard(a));
        if let Some(member) = self.members.get_mut(&call.member) {
            member.offers.retain(|&b| b != a);
        }
        Some(call)
    }

    /// The offer to `a` failed with `outcome`: penalty, then the caller may
    /// be offered again.
    fn offer_failed(&mut self, a: usize, outcome: OfferOutcome, now: Instant) {
        let Some(call) = self.take_offer(a) else {
            return;
        };
        let agent_id = self.agent_id(a);
        self.event(QueueEvent::BridgeFail {
            queue: call.queue_name.clone(),
            member: call.member,
            agent: agent_id.clone(),
            outcome,
        });
        let no_answer_status = self.queue(call.queue).map(|q| q.cfg.agent_no_answer_status);
        let mut max_no_answer_reached = None;
        if let Some(agent) = self.agent_mut(a) {
            let delay = match outcome {
                OfferOutcome::Busy => Some(agent.cfg.busy_delay_time),
                OfferOutcome::Rejected => Some(agent.cfg.reject_delay_time),
                OfferOutcome::NotRegistered => Some(NOT_REGISTERED_DELAY),
                OfferOutcome::NoAnswer => Some(agent.cfg.no_answer_delay_time),
                OfferOutcome::LostRace | OfferOutcome::CallerGone | OfferOutcome::Answered => None,
            };
            if let Some(delay) = delay.filter(|d| !d.is_zero()) {
                agent.ready_time = Some(now + delay);
            }
            if outcome == OfferOutcome::NoAnswer {
                agent.no_answer_count = agent.no_answer_count.saturating_add(1);
                let max = agent.cfg.max_no_answer;
                if max > 0 && agent.no_answer_count >= max {
                    max_no_answer_reached = Some(agent.no_answer_count);
                }
            }
        }
        if outcome == OfferOutcome::NoAnswer {
            if let Some(tier) = self.tier_mut(call.queue, a) {
                tier.no_answer = true;
            }
        }
        self.set_state(a, AgentState::Waiting);
        if let Some(count) = max_no_answer_reached {
            self.event(QueueEvent::AgentMaxNoAnswer {
                agent: agent_id,
                queue: call.queue_name.clone(),
                no_answer_count: count,
            });
            self.set_status(a, no_answer_status.unwrap_or(AgentStatus::OnBreak), now);
        }
        self.refresh_agent(a, now);
        self.offer_over(call.member, call.queue);
    }

    /// The caller of an offer that just ended may be offered again.
    fn offer_over(&mut self, member: MemberId, q: usize) {
        if self
            .members
            .get(&member)
            .is_some_and(|m| m.offers.is_empty())
        {
            self.enqueue(member);
        }
        self.dirty.insert(q);
    }

    /// No result came for the offer to `a`: cancel it, count it unanswered.
    pub(super) fn offer_timed_out(&mut self, a: usize, now: Instant) {
        let Some(member) = self
            .agent(a)
            .and_then(|ag| ag.offer.as_ref())
            .map(|o| o.member)
        else {
            return;
        };
        let agent = self.agent_id(a);
        self.out.push(AcdAction::CancelOffer { member, agent });
        self.offer_failed(a, OfferOutcome::NoAnswer, now);
    }

    /// Withdraws agent `a`'s offer without penalty (the agent or their tier
    /// is being removed, or another agent won, or the caller left).
    pub(super) fn withdraw_offer(&mut self, a: usize, now: Instant) {
        let Some(call) = self.take_offer(a) else {
            return;
        };
        let agent = self.agent_id(a);
        self.out.push(AcdAction::CancelOffer {
            member: call.member,
            agent,
        });
        self.set_state(a, AgentState::Waiting);
        self.refresh_agent(a, now);
        self.offer_over(call.member, call.queue);
    }

    /// Agent `a` answered: they win the caller, every other agent ringing for
    /// the same caller is cancelled (no penalty), the caller leaves the queue.
    fn connect(&mut self, a: usize, now: Instant) {
        let Some(call) = self.take_offer(a) else {
            return;
        };
        let Some(member) = self.detach_member(call.member, now) else {
            return;
        };
        for &loser in &member.offers {
            self.withdraw_offer(loser, now);
        }
        let agent_id = self.agent_id(a);
        if let Some(agent) = self.agent_mut(a) {
            agent.calls_answered = agent.calls_answered.saturating_add(1);
            agent.no_answer_count = 0;
            agent.call = Some(call.clone());
        }
        if let Some(tier) = self.tier_mut(call.queue, a) {
            tier.no_answer = false;
        }
        self.set_state(a, AgentState::InQueueCall);
        self.refresh_agent(a, now);
        let record_template = self
            .queue(call.queue)
            .and_then(|q| q.cfg.record_template.clone());
        self.out.push(AcdAction::Connected {
            queue: call.queue_name.clone(),
            member: call.member,
            agent: agent_id.clone(),
            record_template,
        });
        let waited = now.saturating_duration_since(member.arrived);
        self.event(QueueEvent::BridgeStart {
            queue: call.queue_name.clone(),
            member: call.member,
            agent: agent_id.clone(),
            waited,
        });
        self.member_left(
            call.queue,
            call.member,
            MemberEnd::Answered { agent: agent_id },
            waited,
        );
    }

    /// The queue call of `member` with agent `agent_id` ended: counters,
    /// wrap-up, and an on-demand agent goes Idle.
    pub(super) fn call_ended(
        &mut self,
        member: MemberId,
        agent_id: &str,
        talk_time: Duration,
        now: Instant,
    ) {
        let Some(&a) = self.agent_index.get(agent_id) else {
            return;
        };
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        if agent.call.as_ref().is_none_or(|c| c.member != member) {
            return;
        }
        let Some(call) = agent.call.take() else {
            return;
        };
        agent.talk_time = agent.talk_time.saturating_add(talk_time);
        agent.last_bridge_end = Some(now);
        let wrap_up = agent.cfg.wrap_up_time;
        agent.wrap_up_until = (!wrap_up.is_zero()).then(|| now + wrap_up);
        let next = if agent.status == AgentStatus::AvailableOnDemand {
            AgentState::Idle
        } else {
            AgentState::Waiting
        };
        self.event(QueueEvent::BridgeEnd {
            queue: call.queue_name,
            member,
            agent: agent_id.to_string(),
            talk_time,
        });
        self.set_state(a, next);
        self.refresh_agent(a, now);
    }
}
