//! The ACD's live state: agents, queues (with their tiers and indexes) and
//! waiting callers. The indexes are what keeps every event cheap:
//!
//! - each queue keeps its *free* agents (offerable now) in a sorted set whose
//!   key is the queue's strategy order, so "best free agent" is the first
//!   entry (or a range lookup for round-robin and top-down);
//! - each queue keeps its dispatchable callers sorted by score, so "best
//!   caller" is the first entry. Scores all grow at the same rate, so the
//!   order is fixed at join time: the key is `join - base score`.

use super::config::{AgentConfig, QueueConfig};
use super::io::MemberId;
use super::names::{AgentState, AgentStatus, Strategy};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A free agent's place in a queue's strategy order (smallest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct FreeKey {
    pub level: u32,
    pub k1: i64,
    pub k2: i64,
    pub agent: usize,
}

/// One agent in one queue.
#[derive(Clone, Debug)]
pub(super) struct Tier {
    pub level: u32,
    pub position: u32,
    /// The last offer from this queue rang out (tier state No Answer).
    pub no_answer: bool,
    /// Where the agent sits in the queue's free set, if free.
    pub free_key: Option<FreeKey>,
}

/// Per tier level: how many tiers, and how many of their agents are logged in.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LevelCount {
    pub tiers: u32,
    pub logged_in: u32,
}

/// A queue call the agent is being offered or is in.
#[derive(Clone, Debug)]
pub(super) struct AgentCall {
    pub member: MemberId,
    pub queue: usize,
    pub queue_name: String,
}

#[derive(Clone, Debug)]
pub(super) struct Agent {
    pub cfg: AgentConfig,
    pub status: AgentStatus,
    pub state: AgentState,
    /// Queue slots where the agent has a tier.
    pub queues: BTreeSet<usize>,
    pub offer: Option<AgentCall>,
    pub call: Option<AgentCall>,
    pub talk_time: Duration,
    pub calls_answered: u32,
    pub no_answer_count: u32,
    pub last_bridge_end: Option<Instant>,
    pub last_offered: Option<Instant>,
    pub wrap_up_until: Option<Instant>,
    pub ready_time: Option<Instant>,
    pub external_calls: u32,
}

impl Agent {
    pub fn new(cfg: AgentConfig) -> Self {
        Agent {
            cfg,
            status: AgentStatus::LoggedOut,
            state: AgentState::Waiting,
            queues: BTreeSet::new(),
            offer: None,
            call: None,
            talk_time: Duration::ZERO,
            calls_answered: 0,
            no_answer_count: 0,
            last_bridge_end: None,
            last_offered: None,
            wrap_up_until: None,
            ready_time: None,
            external_calls: 0,
        }
    }

    /// Counted as present by tier rules and max-wait-time-with-no-agent.
    pub fn logged_in(&self) -> bool {
        self.status != AgentStatus::LoggedOut
    }

    /// Offerable apart from timed delays and per-queue rules.
    pub fn idle_and_ready(&self) -> bool {
        self.status.takes_calls()
            && self.state == AgentState::Waiting
            && self.offer.is_none()
            && self.call.is_none()
    }

    /// When wrap-up and penalty delays are over, if later than `now`.
    pub fn blocked_until(&self, now: Instant) -> Option<Instant> {
        [self.wrap_up_until, self.ready_time]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .max()
    }
}

#[derive(Clone, Debug)]
pub(super) struct Queue {
    pub cfg: QueueConfig,
    pub tiers: BTreeMap<usize, Tier>,
    pub free: BTreeSet<FreeKey>,
    pub levels: BTreeMap<u32, LevelCount>,
    pub logged_in: u32,
    /// Since when no agent of the queue has been logged in.
    pub no_agent_since: Option<Instant>,
    /// Callers that may be offered now, best score first: (key, seq, id).
    pub waiting: BTreeSet<(i64, u64, MemberId)>,
    /// Every caller still in the queue by queue-join time (tier rules).
    pub by_joined: BTreeSet<(Instant, u64, MemberId)>,
    /// Every caller still in the queue by arrival (max wait with no agent).
    pub by_arrival: BTreeMap<u64, MemberId>,
    /// round-robin: level and position of the last agent offered.
    pub rr_last: Option<(u32, u32)>,
}

impl Queue {
    pub fn new(cfg: QueueConfig, now: Instant) -> Self {
        Queue {
            cfg,
            tiers: BTreeMap::new(),
            free: BTreeSet::new(),
            levels: BTreeMap::new(),
            logged_in: 0,
            no_agent_since: Some(now),
            waiting: BTreeSet::new(),
            by_joined: BTreeSet::new(),
            by_arrival: BTreeMap::new(),
            rr_last: None,
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.cfg.strategy
    }

    /// Adds (`+1`) or removes (`-1`) a tier at `level` from the counts.
    pub fn count_tier(&mut self, level: u32, logged_in: bool, delta: i32) {
        let entry = self.levels.entry(level).or_default();
        entry.tiers = entry.tiers.saturating_add_signed(delta);
        if logged_in {
            entry.logged_in = entry.logged_in.saturating_add_signed(delta);
            self.logged_in = self.logged_in.saturating_add_signed(delta);
        }
        if entry.tiers == 0 {
            self.levels.remove(&level);
        }
    }

    /// An agent of a tier at `level` logged in (`+1`) or out (`-1`).
    pub fn count_login(&mut self, level: u32, delta: i32) {
        if let Some(entry) = self.levels.get_mut(&level) {
            entry.logged_in = entry.logged_in.saturating_add_signed(delta);
        }
        self.logged_in = self.logged_in.saturating_add_signed(delta);
    }

    /// The highest tier level a caller who has waited `wait` may be offered
    /// (REFERENCE §1 tier rules); `None`: no level yet. Levels are walked
    /// upwards: a level opens when the caller has waited long enough, or at
    /// once under no-agent-no-wait when the level before it has no logged-in
    /// agent (before the first level there is "no agent", which is why
    /// no-agent-no-wait=false makes even level 1 wait).
    pub fn max_level(&self, wait: Duration) -> Option<u32> {
        if !self.cfg.tier_rules_apply {
            return Some(u32::MAX);
        }
        let mut allowed = None;
        let mut previous_has_agent = false;
        for (&level, count) in &self.levels {
            let skip = self.cfg.tier_rule_no_agent_no_wait && !previous_has_agent;
            if !skip && wait < self.level_wait(level) {
                break;
            }
            allowed = Some(level);
            previous_has_agent = count.logged_in > 0;
        }
        allowed
    }

    /// How long a caller waits before `level` opens (ignoring no-agent-no-wait).
    pub fn level_wait(&self, level: u32) -> Duration {
        let ws = self.cfg.tier_rule_wait_second;
        if self.cfg.tier_rule_wait_multiply_level {
            ws.checked_mul(level).unwrap_or(Duration::MAX)
        } else {
            ws
        }
    }

    /// The next wait, after `wait`, at which some level's tier rule
    /// threshold passes (whether or not no-agent-no-wait already opened it:
    /// that keeps the answer independent of who is logged in).
    pub fn next_level_wait(&self, wait: Duration) -> Option<Duration> {
        if !self.cfg.tier_rules_apply {
            return None;
        }
        self.levels
            .keys()
            .map(|&level| self.level_wait(level))
            .filter(|w| *w > wait)
            .min()
    }
}

#[derive(Clone, Debug)]
pub(super) struct Member {
    pub id: MemberId,
    pub queue: usize,
    pub caller_number: String,
    /// Score order key (smaller is served first), in ms on the ACD's clock.
    pub key: i64,
    /// Arrival order, the tie-break.
    pub seq: u64,
    /// Queue-join time: restored for a resumed caller; tier rules count from it.
    pub joined: Instant,
    /// When this call entered the queue: max waits count from it.
    pub arrived: Instant,
    /// Agents being offered this caller now.
    pub offers: Vec<usize>,
    /// In the queue's `waiting` set.
    pub queued: bool,
    /// top-down: level and position of the last agent tried for this caller.
    pub top_down_last: Option<(u32, u32)>,
    /// ring-progressively: no further agent before this.
    pub progress_ready_at: Option<Instant>,
}

impl Member {
    pub fn order(&self) -> (i64, u64, MemberId) {
        (self.key, self.seq, self.id)
    }
}
