//! The agents' work-state log (the work-time report, manual 11.3.3): each
//! agent's ACD status and state, folded into the states a supervisor counts
//! (ready, not ready by reason, ringing, talking, after-call work, idle),
//! turned into periods with a start and an end. Sans-IO: changes and the
//! time go in, finished periods come out, so its tests never sleep.
//!
//! Logged-out time is not a period: it is what is left of the day.

use callcenter::acd::{AgentState, AgentStatus};
use std::collections::HashMap;
use store::AgentStatePeriod;

/// The state a supervisor counts an agent in.
pub fn work_state(status: AgentStatus, state: AgentState, in_wrap_up: bool) -> &'static str {
    match (status, state) {
        (AgentStatus::LoggedOut, _) => "logged_out",
        (_, AgentState::InQueueCall) => "talking",
        (_, AgentState::Receiving) => "ringing",
        (AgentStatus::OnBreak, _) => "not_ready",
        (_, AgentState::Waiting) if in_wrap_up => "acw",
        (_, AgentState::Waiting) => "ready",
        (_, AgentState::Idle | AgentState::Reserved) => "idle",
    }
}

/// One agent's period in progress.
#[derive(Clone, Debug)]
struct Open {
    state: &'static str,
    reason: String,
    since: u64,
    /// In after-call work: when it ends by itself (unix ms).
    acw_until: Option<u64>,
}

/// Every agent's period in progress.
#[derive(Debug, Default)]
pub struct StateLog {
    open: HashMap<String, Open>,
}

impl StateLog {
    /// An empty log.
    pub fn new() -> StateLog {
        StateLog::default()
    }

    /// Agent `agent` is in `state` (see [`work_state`]) since `at` (unix
    /// ms), with `reason` for not_ready, and in after-call work until
    /// `acw_until`. Returns the periods this ends. The same state and
    /// reason again changes nothing (an ACD status change that leaves the
    /// work state as it was does not split a period).
    pub fn change(
        &mut self,
        agent: &str,
        state: &'static str,
        reason: &str,
        acw_until: Option<u64>,
        at: u64,
    ) -> Vec<AgentStatePeriod> {
        let reason = if state == "not_ready" { reason } else { "" };
        let mut done = Vec::new();
        if let Some(open) = self.open.get(agent) {
            let ended_acw = open.state == "acw" && open.acw_until.is_some_and(|u| u <= at);
            if open.state == state && open.reason == reason && !ended_acw {
                if let Some(o) = self.open.get_mut(agent) {
                    o.acw_until = acw_until;
                }
                return done;
            }
        }
        if let Some(open) = self.open.remove(agent) {
            close(agent, open, at, &mut done);
        }
        if state != "logged_out" {
            self.open.insert(
                agent.to_string(),
                Open {
                    state,
                    reason: reason.to_string(),
                    since: at,
                    acw_until: if state == "acw" { acw_until } else { None },
                },
            );
        }
        done
    }

    /// Ends every period in progress at `at` and starts each again there
    /// (a shutdown, or a report that wants today's time so far). The
    /// restarted ones keep their state.
    pub fn cut(&mut self, at: u64) -> Vec<AgentStatePeriod> {
        let mut done = Vec::new();
        for (agent, open) in self.open.iter_mut() {
            let whole = open.clone();
            close(agent, whole, at, &mut done);
            if open.state == "acw" && open.acw_until.is_some_and(|u| u <= at) {
                open.state = "ready";
                open.acw_until = None;
            }
            open.since = at;
        }
        done
    }
}

/// Ends `open` at `at` into `done`: after-call work that ran out before
/// `at` ends there, and the agent was ready from then on.
fn close(agent: &str, open: Open, at: u64, done: &mut Vec<AgentStatePeriod>) {
    let mut push = |state: &str, reason: &str, from: u64, to: u64| {
        if to > from {
            done.push(AgentStatePeriod {
                agent: agent.to_string(),
                state: state.to_string(),
                reason: reason.to_string(),
                start_at: from as i64,
                end_at: to as i64,
            });
        }
    };
    match open.acw_until {
        Some(until) if open.state == "acw" && until < at => {
            push("acw", "", open.since, until.max(open.since));
            push("ready", "", until.max(open.since), at);
        }
        _ => push(open.state, &open.reason, open.since, at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(state: &str, reason: &str, from: i64, to: i64) -> AgentStatePeriod {
        AgentStatePeriod {
            agent: "1001".into(),
            state: state.into(),
            reason: reason.into(),
            start_at: from,
            end_at: to,
        }
    }

    #[test]
    fn the_acd_statuses_fold_into_the_states_a_supervisor_counts() {
        use AgentState::*;
        use AgentStatus::*;
        assert_eq!(work_state(LoggedOut, Waiting, false), "logged_out");
        assert_eq!(work_state(Available, Waiting, false), "ready");
        assert_eq!(work_state(Available, Waiting, true), "acw");
        assert_eq!(work_state(Available, Receiving, false), "ringing");
        assert_eq!(work_state(OnBreak, InQueueCall, false), "talking");
        assert_eq!(work_state(OnBreak, Waiting, false), "not_ready");
        assert_eq!(work_state(AvailableOnDemand, Idle, false), "idle");
    }

    #[test]
    fn a_working_day_becomes_periods_with_the_break_reason() {
        let mut log = StateLog::new();
        assert!(log.change("1001", "ready", "", None, 1_000).is_empty());
        assert_eq!(
            log.change("1001", "ringing", "", None, 5_000),
            vec![p("ready", "", 1_000, 5_000)]
        );
        assert_eq!(
            log.change("1001", "talking", "", None, 7_000),
            vec![p("ringing", "", 5_000, 7_000)]
        );
        assert_eq!(
            log.change("1001", "acw", "", Some(77_000), 67_000),
            vec![p("talking", "", 7_000, 67_000)]
        );
        // The agent ends after-call work early: ready from then.
        assert_eq!(
            log.change("1001", "ready", "", None, 70_000),
            vec![p("acw", "", 67_000, 70_000)]
        );
        // A reason with a state that has none is dropped.
        assert!(log.change("1001", "ready", "meal", None, 71_000).is_empty());
        assert_eq!(
            log.change("1001", "not_ready", "meal", None, 80_000),
            vec![p("ready", "", 70_000, 80_000)]
        );
        // Another reason is another period.
        assert_eq!(
            log.change("1001", "not_ready", "meeting", None, 90_000),
            vec![p("not_ready", "meal", 80_000, 90_000)]
        );
        assert_eq!(
            log.change("1001", "logged_out", "", None, 95_000),
            vec![p("not_ready", "meeting", 90_000, 95_000)]
        );
        // Logged out is no period; the next log-in starts one.
        assert!(log.change("1001", "ready", "", None, 99_000).is_empty());
        assert_eq!(log.cut(100_000), vec![p("ready", "", 99_000, 100_000)]);
    }

    #[test]
    fn after_call_work_that_runs_out_by_itself_ends_in_ready() {
        let mut log = StateLog::new();
        log.change("1001", "acw", "", Some(10_000), 0);
        // The ACD sends nothing when wrap-up ends: the next change (an
        // offer at 25 s) finds it over since 10 s.
        assert_eq!(
            log.change("1001", "ringing", "", None, 25_000),
            vec![p("acw", "", 0, 10_000), p("ready", "", 10_000, 25_000)]
        );
        // The same for a second wrap-up seen as "acw" again after it ran
        // out: not one long acw period.
        log.change("1001", "acw", "", Some(40_000), 30_000);
        assert_eq!(
            log.change("1001", "acw", "", Some(70_000), 60_000),
            vec![p("acw", "", 30_000, 40_000), p("ready", "", 40_000, 60_000)]
        );
        // A cut splits the open period and carries it on.
        assert_eq!(log.cut(65_000), vec![p("acw", "", 60_000, 65_000)]);
        assert_eq!(
            log.cut(80_000),
            vec![p("acw", "", 65_000, 70_000), p("ready", "", 70_000, 80_000)]
        );
        assert_eq!(log.cut(90_000), vec![p("ready", "", 80_000, 90_000)]);
    }
}
