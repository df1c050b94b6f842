//! Predictive pacing for outbound campaigns (issue 18, FEATURES O8): how
//! many numbers to dial now so that agents stay busy without breaking the
//! law on abandoned calls.
//!
//! A predictive dialer calls more numbers than it has free agents, betting
//! that some will not answer and that busy agents will free up by the time
//! the others do. When the bet is lost, a person answers and no agent is
//! there: an abandoned call. Regulators cap them: the US Telemarketing
//! Sales Rule at 3 % of the calls answered by a person, per campaign, over
//! 30 days; Ofcom at 3 % per 24 hours. The [`Pacer`] keeps a campaign
//! under its cap in two layers:
//!
//! 1. **A hard budget.** Over the rolling window (default 30 days) the
//!    campaign may abandon `cap × live answers` calls. Every call dialed
//!    beyond the agents free right now could, at worst, become one more
//!    abandon; the pacer never has more such calls in flight than the
//!    budget left. So however the calls turn out, the abandon rate over the
//!    window stays at or under the cap (as long as free agents stay at
//!    their desks). A new campaign has no budget: it dials one call per
//!    free agent until its live answers earn some.
//! 2. **An expected-rate target.** Within the budget it dials the most
//!    calls whose expected abandon share stays under a target (`margin ×
//!    cap`, moved by how far the measured rate is off it), computed from the measured live-answer rate, time to answer and
//!    handle time: answers are binomial over the calls in flight, agents
//!    free by then are the free ones plus the busy ones whose calls end
//!    (exponential handle times).
//!
//! The compliance rules a regulator checks are in [`compliance`]: a person
//! is connected to an agent within 2 s of answering or hears a recorded
//! message; calls ring at least 15 s; no redial within 72 h of an abandon
//! unless an agent is reserved; calling hours by the callee's local time;
//! the do-not-call list on every dial.
//!
//! Everything here is sans-IO: the time is an argument (unix ms), the
//! engine reports what happened and asks how many to dial. [`sim`] runs
//! the pacer against simulated callees and agents on a virtual clock
//! (`switchboard pacer simulate`).

pub mod compliance;
mod decide;
mod estimate;
pub mod sim;
mod window;

#[cfg(test)]
mod tests;

pub use decide::{Decision, Limit, Mode, Outcome, Pacer, PacerConfig, PacerError, Snapshot};
pub use window::{within_cap, AbandonWindow, PPM};
