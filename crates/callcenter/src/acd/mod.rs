//! ACD: automatic call distribution for queues (FEATURES T9), with the
//! semantics of FreeSWITCH mod_callcenter (REFERENCE §1), in memory and
//! event-driven where FreeSWITCH polls SQL every 100 ms.
//!
//! Sans-IO: [`Acd::handle`] takes an [`AcdInput`] (configuration, agent
//! status, callers joining and leaving, offer results, the end of calls, or
//! [`AcdInput::Tick`]) and `now`, and returns [`AcdAction`]s: offers to ring,
//! offers to cancel, connections, callers to send on, announcements, and
//! [`QueueEvent`]s for persistence and the live pages. The queue application
//! carries the actions out through the call-control API and reports back.
//!
//! Where we differ from FreeSWITCH on purpose (REFERENCE \[NOTE\]s and gaps):
//! - counters (a \[NOTE\]): talk time and calls answered reset at login only,
//!   the no-answer count whenever the agent becomes available again (see
//!   [`AcdInput::SetAgentStatus`]);
//! - top-down continues lexicographically by (level, position), which avoids
//!   FreeSWITCH's stall (bug #1216); round-robin remembers the last agent
//!   offered *by this queue*;
//! - max-no-answer counts unanswered offers in a row (an answer resets it);
//! - an offer whose result never comes is given up as unanswered after its
//!   ring timeout plus a 5 s grace;
//! - max-wait-time counts from this call's arrival in the queue, even for a
//!   caller who resumed an abandoned place (who gets the old place and join
//!   time for score and tier rules);
//! - no-agent-no-wait and max-wait-time-with-no-agent count an agent On
//!   Break as present (logged in), as REFERENCE words it;
//! - a free agent in several queues goes to the best score across them.
//!
//! Restarts: [`Acd::snapshot`] / [`Acd::restore`] keep agent status, state
//! and counters (see [`AcdSnapshot`]); they take the time as arguments like
//! everything else here.

mod agents;
mod config;
mod dispatch;
mod engine;
mod io;
mod members;
mod names;
mod offers;
mod serde_time;
mod snapshot;
mod state;
mod timers;
mod views;

#[cfg(test)]
mod tests;

pub use config::{AgentConfig, ConfigError, QueueConfig, TierConfig, SERVICE_LEVEL_TARGETS_S};
pub use engine::Acd;
pub use io::{AcdAction, AcdError, AcdInput, MemberEnd, MemberId, MemberJoin, QueueEvent};
pub use names::{
    AgentState, AgentStatus, AgentType, CancelReason, OfferOutcome, Strategy, TierState,
    TimeBaseScore, UnknownName,
};
pub use snapshot::{AcdSnapshot, AgentSnapshot, QueueSnapshot, TierSnapshot};
pub use views::{AgentView, MemberView};
