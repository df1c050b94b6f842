//! What goes into the ACD ([`AcdInput`]) and what comes out ([`AcdAction`],
//! [`QueueEvent`]), and the errors it refuses inputs with.

use super::config::{AgentConfig, ConfigError, QueueConfig, TierConfig};
use super::names::{AgentState, AgentStatus, AgentType, CancelReason, OfferOutcome};
use super::serde_time::millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A waiting caller, identified by the application (e.g. the engine call id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(pub u64);

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {}", self.0)
    }
}

/// A caller entering a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberJoin {
    /// Queue name.
    pub queue: String,
    /// The caller's id (unique among waiting callers).
    pub member: MemberId,
    /// Caller number: recognises a caller who abandoned and calls back.
    pub caller_number: String,
    /// Added to the seconds waited (may be negative).
    pub base_score: i64,
    /// How long the call has existed before joining (IVR time): counts in
    /// the score when the queue's time-base-score is `system`.
    pub already_waited: Duration,
}

impl MemberJoin {
    /// A caller with no base score and no time before the queue.
    pub fn new(queue: &str, member: u64, caller_number: &str) -> Self {
        MemberJoin {
            queue: queue.to_string(),
            member: MemberId(member),
            caller_number: caller_number.to_string(),
            base_score: 0,
            already_waited: Duration::ZERO,
        }
    }
}

/// Something that happened, for the ACD to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcdInput {
    /// Adds a queue, or reloads one: changed settings apply to the callers
    /// already waiting, who keep their place.
    UpsertQueue(QueueConfig),
    /// Removes a queue and its tiers (refused while callers wait in it).
    RemoveQueue {
        /// Queue name.
        queue: String,
    },
    /// Adds an agent (Logged Out) or changes an agent's settings.
    UpsertAgent(AgentConfig),
    /// Removes an agent and their tiers; an offer ringing them is withdrawn.
    RemoveAgent {
        /// Agent id.
        agent: String,
    },
    /// Puts an agent in a queue, or changes their level/position there.
    UpsertTier(TierConfig),
    /// Takes an agent out of a queue; an offer from that queue is withdrawn.
    RemoveTier {
        /// Queue name.
        queue: String,
        /// Agent id.
        agent: String,
    },
    /// Login, logout, ready, not ready, on break.
    ///
    /// Counters (REFERENCE §1 \[NOTE\]): FreeSWITCH zeroes talk time, calls
    /// answered and the no-answer count whenever the status is set to
    /// Available, so a break wipes what least-talk-time and fewest-calls
    /// rely on. Here talk time and calls answered reset only at login (from
    /// Logged Out: they count per working session); the no-answer count and
    /// the tiers' No Answer state reset whenever the agent becomes available
    /// again. Becoming available also wakes an Idle agent (Waiting). An
    /// offer already ringing is left to finish.
    SetAgentStatus {
        /// Agent id.
        agent: String,
        /// New status.
        status: AgentStatus,
    },
    /// Sets an agent's state by hand: Waiting, Idle or Reserved, and only
    /// while no queue call is offered to or connected with them (those
    /// states belong to the ACD).
    SetAgentState {
        /// Agent id.
        agent: String,
        /// New state.
        state: AgentState,
    },
    /// A caller enters a queue.
    MemberJoin(MemberJoin),
    /// A waiting caller hung up (BREAK_OUT).
    MemberHangup {
        /// The caller.
        member: MemberId,
    },
    /// A waiting caller pressed a key; the ACD decides whether it is an exit key.
    MemberDigit {
        /// The caller.
        member: MemberId,
        /// The key.
        digit: char,
    },
    /// How an [`AcdAction::Offer`] ended.
    OfferResult {
        /// The caller offered.
        member: MemberId,
        /// The agent offered.
        agent: String,
        /// What happened.
        outcome: OfferOutcome,
    },
    /// A connected queue call ended (either side hung up): wrap-up starts.
    CallEnded {
        /// The caller.
        member: MemberId,
        /// The agent.
        agent: String,
        /// How long they talked.
        talk_time: Duration,
    },
    /// The agent finished after-call work before wrap-up-time ran out.
    WrapUpDone {
        /// Agent id.
        agent: String,
    },
    /// An agent's non-queue call started (`active`) or ended.
    ExternalCall {
        /// Agent id.
        agent: String,
        /// true: one more external call; false: one fewer.
        active: bool,
    },
    /// Time passed: fire the timers due by `now` (see [`super::Acd::next_deadline`]).
    Tick,
}

/// What the ACD asks the application to do, or tells the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring `agent` for `member`; report with [`AcdInput::OfferResult`]. Under
    /// ring-all and ring-progressively a caller has several offers at once.
    Offer {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
        /// How the agent is reached.
        agent_type: AgentType,
        /// What to call.
        contact: String,
        /// How long to ring before reporting no answer.
        ring_timeout: Duration,
    },
    /// Stop ringing (or hang up, if it was answered too late) the agent's
    /// leg of this offer: another agent won, the caller left, or the offer
    /// was withdrawn. No result is expected for it any more.
    CancelOffer {
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
    },
    /// The agent answered: bridge them. The caller has left the queue; report
    /// the end of the call with [`AcdInput::CallEnded`].
    Connected {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
        /// The queue's record-template, to expand and record with.
        record_template: Option<String>,
    },
    /// The ACD made the caller leave the queue (timeout, no agent, exit key):
    /// continue their call after the queue. Not sent for BREAK_OUT, which the
    /// application reported itself.
    MemberCancelled {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Why.
        reason: CancelReason,
        /// The key pressed, for EXIT_WITH_KEY.
        exit_key: Option<char>,
    },
    /// Play the queue's announce sound to the caller now (instead of the MOH
    /// while it plays).
    Announce {
        /// The caller.
        member: MemberId,
        /// The sound.
        sound: String,
    },
    /// Something to record or show live.
    Event(QueueEvent),
}

/// How a caller's time in a queue ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum MemberEnd {
    /// An agent answered.
    Answered {
        /// Agent id.
        agent: String,
    },
    /// The caller left unanswered.
    Cancelled {
        /// Why.
        reason: CancelReason,
    },
}

/// An ACD event, for persistence (queue statistics, CDR fields) and the live
/// web pages. Mirrors mod_callcenter's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QueueEvent {
    /// member-queue-start.
    MemberJoined {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Caller number.
        caller_number: String,
    },
    /// member-queue-resume: an abandoned caller called back and got their
    /// old place.
    MemberResumed {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Caller number.
        caller_number: String,
    },
    /// agent-offering.
    AgentOffering {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
    },
    /// bridge-agent-start.
    BridgeStart {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
        /// How long the caller waited (this time in the queue).
        #[serde(with = "millis", rename = "waited_ms")]
        waited: Duration,
    },
    /// bridge-agent-fail.
    BridgeFail {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
        /// Why.
        outcome: OfferOutcome,
    },
    /// bridge-agent-end.
    BridgeEnd {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Agent id.
        agent: String,
        /// How long they talked.
        #[serde(with = "millis", rename = "talk_time_ms")]
        talk_time: Duration,
    },
    /// member-queue-end.
    MemberLeft {
        /// Queue name.
        queue: String,
        /// The caller.
        member: MemberId,
        /// Answered, or why not.
        end: MemberEnd,
        /// How long the caller waited (this time in the queue).
        #[serde(with = "millis", rename = "waited_ms")]
        waited: Duration,
    },
    /// agent-status-change.
    AgentStatusChanged {
        /// Agent id.
        agent: String,
        /// Before.
        old: AgentStatus,
        /// After.
        new: AgentStatus,
    },
    /// agent-state-change.
    AgentStateChanged {
        /// Agent id.
        agent: String,
        /// Before.
        old: AgentState,
        /// After.
        new: AgentState,
    },
    /// agent-max-no-answer: the agent was put in the queue's
    /// agent-no-answer-status.
    AgentMaxNoAnswer {
        /// Agent id.
        agent: String,
        /// The queue whose offer went unanswered last.
        queue: String,
        /// Unanswered offers in a row.
        no_answer_count: u32,
    },
    /// members-count: callers waiting in the queue now.
    MembersCount {
        /// Queue name.
        queue: String,
        /// How many.
        count: usize,
    },
}

/// Why an input was refused; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// A setting cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No queue by that name.
    #[error("no queue '{0}'")]
    UnknownQueue(String),
    /// No agent with that id.
    #[error("no agent '{0}'")]
    UnknownAgent(String),
    /// The agent is not in that queue.
    #[error("agent '{agent}' is not in queue '{queue}'")]
    UnknownTier {
        /// Queue name.
        queue: String,
        /// Agent id.
        agent: String,
    },
    /// The caller is already waiting in a queue.
    #[error("{0} is already in a queue")]
    DuplicateMember(MemberId),
    /// A queue cannot be removed while callers wait in it.
    #[error("queue '{queue}' still has {count} waiting caller(s)")]
    QueueHasMembers {
        /// Queue name.
        queue: String,
        /// How many wait.
        count: usize,
    },
    /// The agent's state is driven by a queue call right now.
    #[error("agent '{agent}' is {state}: the ACD sets their state until the queue call ends")]
    AgentBusy {
        /// Agent id.
        agent: String,
        /// Their state.
        state: AgentState,
    },
    /// Receiving and In a queue call are set by the ACD only.
    #[error("state '{0}' cannot be set by hand (only Waiting, Idle, Reserved)")]
    StateNotSettable(AgentState),
}
