//! Waiting callers: joining (and resuming an abandoned place), leaving,
//! exit keys, announcements, max-wait-time and max-wait-time-with-no-agent.

use super::engine::{millis, Acd};
use super::io::{AcdAction, AcdError, MemberEnd, MemberId, MemberJoin, QueueEvent};
use super::names::{CancelReason, TimeBaseScore};
use super::state::Member;
use super::timers::TimerKey;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Callers who hung up while waiting, remembered for
/// discard-abandoned-after so that one calling back may resume.
#[derive(Debug, Default)]
pub(super) struct Abandoned {
    entries: HashMap<(usize, String), AbandonedPlace>,
    /// Expiry order, for purging (entries are re-checked on lookup).
    order: VecDeque<(Instant, usize, String)>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct AbandonedPlace {
    pub expires: Instant,
    pub joined: Instant,
    pub key: i64,
}

impl Abandoned {
    fn record(&mut self, q: usize, number: &str, place: AbandonedPlace) {
        self.entries.insert((q, number.to_string()), place);
        self.order.push_back((place.expires, q, number.to_string()));
    }

    fn take(&mut self, q: usize, number: &str, now: Instant) -> Option<AbandonedPlace> {
        let place = self.entries.remove(&(q, number.to_string()))?;
        (place.expires > now).then_some(place)
    }

    fn purge(&mut self, now: Instant) {
        while let Some((expires, q, number)) = self.order.front().cloned() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            let key = (q, number);
            if self.entries.get(&key).is_some_and(|p| p.expires <= now) {
                self.entries.remove(&key);
            }
        }
    }

    /// How many places are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Acd {
    pub(super) fn purge_abandoned(&mut self, now: Instant) {
        self.abandoned.purge(now);
    }

    /// A caller enters a queue. Score = seconds waited + base score, highest
    /// first (REFERENCE §1); since every score grows at the same rate, the
    /// order key is fixed now: join time minus base score (minus the time
    /// before the queue under time-base-score=system).
    pub(super) fn member_join(&mut self, join: MemberJoin, now: Instant) -> Result<(), AcdError> {
        let q = self.queue_slot(&join.queue)?;
        if self.members.contains_key(&join.member) {
            return Err(AcdError::DuplicateMember(join.member));
        }
        let Some(queue) = self.queue(q) else {
            return Err(AcdError::UnknownQueue(join.queue));
        };
        let resume_allowed = queue.cfg.abandoned_resume_allowed;
        let system_time = queue.cfg.time_base_score == TimeBaseScore::System;
        let resumed = if resume_allowed && !join.caller_number.is_empty() {
            self.abandoned.take(q, &join.caller_number, now)
        } else {
            None
        };
        let (joined, key) = match resumed {
            Some(place) => (place.joined, place.key),
            None => {
                let before = if system_time {
                    millis(join.already_waited)
                } else {
                    0
                };
                let key = self
                    .clock_ms(now)
                    .saturating_sub(before)
                    .saturating_sub(join.base_score.saturating_mul(1000));
                (now, key)
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = join.member;
        self.members.insert(
            id,
            Member {
                id,
                queue: q,
                caller_number: join.caller_number.clone(),
                key,
                seq,
                joined,
                arrived: now,
                offers: Vec::new(),
                queued: false,
                top_down_last: None,
                progress_ready_at: None,
            },
        );
        if let Some(queue) = self.queue_mut(q) {
            queue.by_joined.insert((joined, seq, id));
            queue.by_arrival.insert(seq, id);
        }
        self.enqueue(id);
        self.schedule_member_timers(id, now);
        self.update_no_agent(q, now);
        let queue_name = self.queue_name(q);
        let caller_number = join.caller_number;
        self.event(if resumed.is_some() {
            QueueEvent::MemberResumed {
                queue: queue_name,
                member: id,
                caller_number,
            }
        } else {
            QueueEvent::MemberJoined {
                queue: queue_name,
                member: id,
                caller_number,
            }
        });
        self.members_count(q);
        Ok(())
    }

    /// Makes the caller dispatchable (in the queue's score order).
    pub(super) fn enqueue(&mut self, id: MemberId) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if member.queued {
            return;
        }
        member.queued = true;
        let (q, order) = (member.queue, member.order());
        if let Some(queue) = self.queue_mut(q) {
            queue.waiting.insert(order);
        }
        self.dirty.insert(q);
    }

    /// Takes the caller out of the score order while they are being offered.
    pub(super) fn dequeue(&mut self, id: MemberId) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if !member.queued {
            return;
        }
        member.queued = false;
        let (q, order) = (member.queue, member.order());
        if let Some(queue) = self.queue_mut(q) {
            queue.waiting.remove(&order);
        }
    }

    /// Removes a caller from the queue and its indexes and timers; their
    /// offers are left for the caller of this to settle.
    pub(super) fn detach_member(&mut self, id: MemberId, now: Instant) -> Option<Member> {
        self.dequeue(id);
        let member = self.members.remove(&id)?;
        if let Some(queue) = self.queue_mut(member.queue) {
            queue.by_joined.remove(&(member.joined, member.seq, id));
            queue.by_arrival.remove(&member.seq);
        }
        for key in [
            TimerKey::MaxWait(id),
            TimerKey::Announce(id),
            TimerKey::TierRule(id),
            TimerKey::Progress(id),
        ] {
            self.timers.clear(key);
        }
        self.update_no_agent(member.queue, now);
        Some(member)
    }

    /// The caller leaves unanswered: their offers are cancelled (no penalty
    /// for the agents); BREAK_OUT is remembered for abandoned-resume.
    pub(super) fn cancel_member(
        &mut self,
        id: MemberId,
        reason: CancelReason,
        exit_key: Option<char>,
        now: Instant,
    ) {
        let Some(member) = self.detach_member(id, now) else {
            return;
        };
        for &a in &member.offers {
            self.withdraw_offer(a, now);
        }
        let q = member.queue;
        let queue_name = self.queue_name(q);
        if reason == CancelReason::BreakOut {
            let discard = self
                .queue(q)
                .map_or(Duration::ZERO, |q| q.cfg.discard_abandoned_after);
            if !discard.is_zero() && !member.caller_number.is_empty() {
                self.abandoned.record(
                    q,
                    &member.caller_number,
                    AbandonedPlace {
                        expires: now + discard,
                        joined: member.joined,
                        key: member.key,
                    },
                );
            }
        } else {
            self.out.push(AcdAction::MemberCancelled {
                queue: queue_name,
                member: id,
                reason,
                exit_key,
            });
        }
        let waited = now.saturating_duration_since(member.arrived);
        self.member_left(q, id, MemberEnd::Cancelled { reason }, waited);
    }

    /// member-queue-end and the new members count.
    pub(super) fn member_left(&mut self, q: usize, id: MemberId, end: MemberEnd, waited: Duration) {
        let queue = self.queue_name(q);
        self.event(QueueEvent::MemberLeft {
            queue,
            member: id,
            end,
            waited,
        });
        self.members_count(q);
    }

    fn members_count(&mut self, q: usize) {
        let count = self.queue(q).map_or(0, |q| q.by_arrival.len());
        let queue = self.queue_name(q);
        self.event(QueueEvent::MembersCount { queue, count });
    }

    pub(super) fn member_digit(&mut self, id: MemberId, digit: char, now: Instant) {
        let is_exit = self
            .members
            .get(&id)
            .and_then(|m| self.queue(m.queue))
            .is_some_and(|q| {
                q.cfg
                    .exit_keys
                    .chars()
                    .any(|k| k.eq_ignore_ascii_case(&digit))
            });
        if is_exit {
            self.cancel_member(id, CancelReason::ExitWithKey, Some(digit), now);
        }
    }

    /// (Re)arms the caller's max-wait, announce and tier-rule timers from
    /// the queue's settings (at join and on reload).
    pub(super) fn schedule_member_timers(&mut self, id: MemberId, now: Instant) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let Some(queue) = self.queue(member.queue) else {
            return;
        };
        let arrived = member.arrived;
        let max_wait = queue.cfg.max_wait_time;
        let announce = !queue.cfg.announce_frequency.is_zero();
        let frequency = queue.cfg.announce_frequency;
        if max_wait.is_zero() {
            self.timers.clear(TimerKey::MaxWait(id));
        } else {
            self.timers.set(TimerKey::MaxWait(id), arrived + max_wait);
        }
        if !announce {
            self.timers.clear(TimerKey::Announce(id));
        } else if self.timers.get(TimerKey::Announce(id)).is_none() {
            self.timers
                .set(TimerKey::Announce(id), (arrived + frequency).max(now));
        }
        self.schedule_tier_rule(id, now);
    }

    /// Arms the caller's timer for when the next tier level opens.
    pub(super) fn schedule_tier_rule(&mut self, id: MemberId, now: Instant) {
        let next = self.members.get(&id).and_then(|m| {
            let queue = self.queue(m.queue)?;
            let waited = now.saturating_duration_since(m.joined);
            queue.next_level_wait(waited).map(|w| m.joined + w)
        });
        match next {
            Some(at) => self.timers.set(TimerKey::TierRule(id), at),
            None => self.timers.clear(TimerKey::TierRule(id)),
        }
    }

    pub(super) fn announce(&mut self, id: MemberId, now: Instant) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let Some(queue) = self.queue(member.queue) else {
            return;
        };
        let frequency = queue.cfg.announce_frequency;
        let Some(sound) = queue.cfg.announce_sound.clone() else {
            return;
        };
        if frequency.is_zero() {
            return;
        }
        self.out.push(AcdAction::Announce { member: id, sound });
        self.timers.set(TimerKey::Announce(id), now + frequency);
    }

    /// Tracks since when queue `q` has had no logged-in agent, and arms the
    /// max-wait-time-with-no-agent check for its longest-waiting caller.
    pub(super) fn update_no_agent(&mut self, q: usize, now: Instant) {
        let first_arrival = self
            .queue(q)
            .and_then(|queue| queue.by_arrival.values().next())
            .and_then(|m| self.members.get(m))
            .map(|m| m.arrived);
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        if queue.logged_in > 0 {
            queue.no_agent_since = None;
        } else if queue.no_agent_since.is_none() {
            queue.no_agent_since = Some(now);
        }
        let limit = queue.cfg.max_wait_time_with_no_agent;
        let grace = queue.cfg.max_wait_time_with_no_agent_time_reached;
        let at = match (queue.no_agent_since, first_arrival) {
            (Some(since), Some(arrived)) if !limit.is_zero() => {
                Some((since + limit).max(arrived + grace))
            }
            _ => None,
        };
        match at {
            Some(at) => self.timers.set(TimerKey::NoAgent(q), at),
            None => self.timers.clear(TimerKey::NoAgent(q)),
        }
    }

    /// max-wait-time-with-no-agent (REFERENCE §1): once queue `q` has had no
    /// logged-in agent for that long, every caller who has waited at least
    /// ...-time-reached leaves with NO_AGENT_TIMEOUT; later callers get that
    /// long before they do.
    pub(super) fn no_agent_check(&mut self, q: usize, now: Instant) {
        loop {
            let Some(queue) = self.queue(q) else {
                return;
            };
            let limit = queue.cfg.max_wait_time_with_no_agent;
            let grace = queue.cfg.max_wait_time_with_no_agent_time_reached;
            let expired = queue
                .no_agent_since
                .is_some_and(|since| !limit.is_zero() && since + limit <= now);
            if !expired {
                break;
            }
            let Some(&id) = queue.by_arrival.values().next() else {
                break;
            };
            if self
                .members
                .get(&id)
                .is_none_or(|m| m.arrived + grace > now)
            {
                break;
            }
            self.cancel_member(id, CancelReason::NoAgentTimeout, None, now);
        }
        self.update_no_agent(q, now);
    }
}
