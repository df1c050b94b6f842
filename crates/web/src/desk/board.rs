//! What every desk shows, kept from the engine's events: each agent's
//! status and state, the offer ringing them, the call they are on, and the
//! floor's counters. Sans-IO: events and the time go in, the messages for
//! each desk come out, so its tests need no server and never sleep.

use callcenter::acd::{AgentState, AgentStatus, QueueEvent};
use engine::base::events::Event;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Callers waiting longer than this are dropped from the board's memory if
/// their leaving was missed (a lagging subscriber loses events).
const FORGET_MEMBER_AFTER: Duration = Duration::from_secs(4 * 3600);

/// The floor at a glance (the desk's header, manual 4.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Calls answered and not yet ended.
    pub in_service: usize,
    /// Callers waiting in a queue.
    pub waiting: usize,
    /// Agents not logged out.
    pub online: usize,
    /// Agents offered a call or on one.
    pub busy: usize,
}

/// Where the supervisors' desks get the floor's agents: a name no
/// extension can have.
pub const FLOOR: &str = "@floor";

/// One agent as the desk shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct AgentView {
    status: Option<AgentStatus>,
    state: Option<AgentState>,
    /// When the status or state last changed (the wallboard's "time in
    /// state"); None until the first change seen.
    since: Option<Instant>,
    /// The queue offer ringing the agent: (queue, caller number, joined).
    offer: Option<(String, String, Instant)>,
}

/// A caller waiting in (or connected from) a queue.
#[derive(Clone, Debug)]
struct Member {
    queue: String,
    caller: String,
    joined: Instant,
    /// Answered by an agent (still a member until the call ends).
    connected: bool,
}

/// A live call, by who is on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallParties {
    /// Engine call id.
    pub id: u64,
    /// Calling number.
    pub caller: String,
    /// Dialled number.
    pub callee: String,
    /// Who answered on leg B (an extension or agent), once known.
    pub b_party: Option<String>,
    /// Answered.
    pub answered: bool,
}

impl CallParties {
    fn involves(&self, ext: &str) -> bool {
        self.caller == ext || self.callee == ext || self.b_party.as_deref() == Some(ext)
    }
}

/// A message for the desks of `to` (an extension / agent id), or for every
/// desk when `to` is None.
#[derive(Clone, Debug, PartialEq)]
pub struct Out {
    /// Whose desks.
    pub to: Option<String>,
    /// The JSON message.
    pub msg: Value,
}

/// The board (see the module documentation).
#[derive(Debug, Default)]
pub struct Board {
    agents: HashMap<String, AgentView>,
    members: HashMap<u64, Member>,
    calls: HashMap<u64, CallParties>,
    counters: Counters,
}

impl Board {
    /// An empty board.
    pub fn new() -> Board {
        Board::default()
    }

    /// Sets an agent's status and state (from the ACD's snapshot at start).
    pub fn seed_agent(&mut self, id: &str, status: AgentStatus, state: AgentState) {
        let a = self.agents.entry(id.to_string()).or_default();
        a.status = Some(status);
        a.state = Some(state);
    }

    /// Applies one engine event; `call` looks a live call up (the engine's
    /// call table) for call events. Returns what to push.
    pub fn apply(
        &mut self,
        ev: &Event,
        now: Instant,
        call: impl Fn(u64) -> Option<CallParties>,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        match ev {
            Event::Queue { event } => self.queue_event(event, now, &mut out),
            Event::CallStarted { id, .. } | Event::CallRinging { id } => {
                if let Some(c) = call(*id) {
                    self.calls.insert(*id, c);
                }
            }
            Event::CallAnswered { id } => {
                if let Some(mut c) = call(*id).or_else(|| self.calls.get(id).cloned()) {
                    c.answered = true;
                    self.calls.insert(*id, c.clone());
                    for ext in self.parties_with_desks(&c) {
                        out.push(Out {
                            to: Some(ext),
                            msg: json!({"type": "call", "call": call_json(&c)}),
                        });
                    }
                }
            }
            Event::CallEnded { id, cause, .. } => {
                if let Some(c) = self.calls.remove(id) {
                    for ext in self.parties_with_desks(&c) {
                        out.push(Out {
                            to: Some(ext),
                            msg: json!({"type": "call_end", "id": id, "cause": cause}),
                        });
                    }
                }
            }
            _ => {}
        }
        self.floor_rows(&mut out, now);
        out
    }

    /// For each agent a message in `out` concerns, its row for the
    /// supervisors' floor view.
    fn floor_rows(&self, out: &mut Vec<Out>, now: Instant) {
        let mut touched: Vec<&str> = out
            .iter()
            .filter_map(|o| o.to.as_deref())
            .filter(|a| self.agents.contains_key(*a))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let rows: Vec<Out> = touched
            .into_iter()
            .map(|a| Out {
                to: Some(FLOOR.to_string()),
                msg: json!({"type": "floor_agent", "agent": self.floor_row(a, now)}),
            })
            .collect();
        out.extend(rows);
    }

    /// One agent on the supervisors' floor view: status, state and how
    /// long, the offer ringing them, the call they are on.
    pub fn floor_row(&self, agent: &str, now: Instant) -> Value {
        let Some(a) = self.agents.get(agent) else {
            return Value::Null;
        };
        let call = self
            .calls
            .values()
            .filter(|c| c.involves(agent))
            .max_by_key(|c| c.id)
            .map(call_json);
        json!({
            "id": agent,
            "status": a.status.map(|s| s.to_string()),
            "state": a.state.map(|s| s.to_string()),
            "state_ms": a.since.map(|t| now.saturating_duration_since(t).as_millis() as u64),
            "offer": a.offer.as_ref().map(|(queue, caller, _)| json!({"queue": queue, "caller": caller})),
            "call": call,
        })
    }

    /// Every agent's row (what a supervisor's desk gets on connecting).
    pub fn floor(&self, now: Instant) -> Vec<Value> {
        let mut ids: Vec<&String> = self.agents.keys().collect();
        ids.sort();
        ids.into_iter().map(|a| self.floor_row(a, now)).collect()
    }

    /// Everyone a call concerns who could have a desk: its parties that are
    /// known agents or extensions (the caller of a DID is neither).
    fn parties_with_desks(&self, c: &CallParties) -> Vec<String> {
        let mut v: Vec<String> = [Some(&c.caller), Some(&c.callee), c.b_party.as_ref()]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn queue_event(&mut self, ev: &QueueEvent, now: Instant, out: &mut Vec<Out>) {
        match ev {
            QueueEvent::MemberJoined {
                queue,
                member,
                caller_number,
            }
            | QueueEvent::MemberResumed {
                queue,
                member,
                caller_number,
                ..
            } => {
                self.members.insert(
                    member.0,
                    Member {
                        queue: queue.clone(),
                        caller: caller_number.clone(),
                        joined: now,
                        connected: false,
                    },
                );
                // Only here do members come: forgetting the ones whose end
                // was missed costs nothing on the other events.
                self.members
                    .retain(|_, m| now.saturating_duration_since(m.joined) < FORGET_MEMBER_AFTER);
            }
            QueueEvent::MemberLeft { member, .. } => {
                self.members.remove(&member.0);
            }
            QueueEvent::AgentOffering {
                queue,
                member,
                agent,
            } => {
                let (caller, joined) = self
                    .members
                    .get(&member.0)
                    .map(|m| (m.caller.clone(), m.joined))
                    .unwrap_or_else(|| (String::new(), now));
                self.agents.entry(agent.clone()).or_default().offer =
                    Some((queue.clone(), caller.clone(), joined));
                out.push(Out {
                    to: Some(agent.clone()),
                    msg: json!({
                        "type": "offer",
                        "queue": queue,
                        "caller": caller,
                        "waited_ms": now.saturating_duration_since(joined).as_millis() as u64,
                    }),
                });
            }
            QueueEvent::BridgeStart {
                queue,
                member,
                agent,
                waited,
            } => {
                let caller = match self.members.get_mut(&member.0) {
                    Some(m) => {
                        m.connected = true;
                        m.caller.clone()
                    }
                    None => String::new(),
                };
                self.agents.entry(agent.clone()).or_default().offer = None;
                out.push(Out {
                    to: Some(agent.clone()),
                    msg: json!({
                        "type": "bridged",
                        "queue": queue,
                        "caller": caller,
                        "waited_ms": waited.as_millis() as u64,
                    }),
                });
                // The caller's call (a member is known by its call's id)
                // now has the agent on its leg B: the agent's call.
                let call = self.calls.entry(member.0).or_insert_with(|| CallParties {
                    id: member.0,
                    caller: caller.clone(),
                    callee: queue.clone(),
                    b_party: None,
                    answered: true,
                });
                call.b_party = Some(agent.clone());
                call.answered = true;
                let msg = json!({"type": "call", "call": call_json(call), "queue": queue});
                out.push(Out {
                    to: Some(agent.clone()),
                    msg,
                });
            }
            QueueEvent::BridgeFail { agent, outcome, .. } => {
                self.agents.entry(agent.clone()).or_default().offer = None;
                out.push(Out {
                    to: Some(agent.clone()),
                    msg: json!({"type": "offer_end", "outcome": outcome}),
                });
            }
            QueueEvent::BridgeEnd {
                agent,
                talk_time,
                member,
                ..
            } => {
                out.push(Out {
                    to: Some(agent.clone()),
                    msg: json!({"type": "bridge_end", "talk_ms": talk_time.as_millis() as u64}),
                });
                // The agent left a call that goes on (a transfer, the
                // survey): it is no longer theirs.
                if let Some(c) = self.calls.get_mut(&member.0) {
                    if c.b_party.as_deref() == Some(agent.as_str()) {
                        c.b_party = None;
                        out.push(Out {
                            to: Some(agent.clone()),
                            msg: json!({"type": "call_end", "id": member.0, "cause": "TRANSFERRED"}),
                        });
                    }
                }
            }
            QueueEvent::AgentStatusChanged { agent, new, .. } => {
                let a = self.agents.entry(agent.clone()).or_default();
                a.status = Some(*new);
                a.since = Some(now);
                out.push(self.agent_msg(agent));
            }
            QueueEvent::AgentStateChanged { agent, new, .. } => {
                let a = self.agents.entry(agent.clone()).or_default();
                a.state = Some(*new);
                a.since = Some(now);
                if !matches!(new, AgentState::Receiving) {
                    a.offer = None;
                }
                out.push(self.agent_msg(agent));
            }
            _ => {}
        }
    }

    fn agent_msg(&self, agent: &str) -> Out {
        Out {
            to: Some(agent.to_string()),
            msg: json!({"type": "agent", "agent": self.agent_json(agent)}),
        }
    }

    /// An agent's status and state as the desk shows them (null when the
    /// ACD has no such agent).
    pub fn agent_json(&self, agent: &str) -> Value {
        match self.agents.get(agent) {
            Some(a) => json!({
                "id": agent,
                "status": a.status.map(|s| s.to_string()),
                "state": a.state.map(|s| s.to_string()),
            }),
            None => Value::Null,
        }
    }

    /// Everything a desk of `ext` needs when it (re)connects.
    pub fn snapshot(&self, ext: &str, now: Instant) -> Value {
        let offer =
            self.agents
                .get(ext)
                .and_then(|a| a.offer.as_ref())
                .map(|(queue, caller, joined)| {
                    json!({
                        "queue": queue,
                        "caller": caller,
                        "waited_ms": now.saturating_duration_since(*joined).as_millis() as u64,
                    })
                });
        let call = self
            .calls
            .values()
            .filter(|c| c.involves(ext))
            .max_by_key(|c| c.id)
            .map(call_json);
        json!({
            "type": "snapshot",
            "agent": self.agent_json(ext),
            "offer": offer,
            "call": call,
            "counters": self.counters(),
        })
    }

    /// The callers waiting in a queue (not yet answered) at `now`, the
    /// longest wait first: (queue, caller number, seconds waited).
    pub fn waiting(&self, now: Instant) -> Vec<(String, String, u64)> {
        let mut v: Vec<(String, String, u64)> = self
            .members
            .values()
            .filter(|m| !m.connected)
            .map(|m| {
                (
                    m.queue.clone(),
                    m.caller.clone(),
                    now.saturating_duration_since(m.joined).as_secs(),
                )
            })
            .collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The floor's counters now.
    pub fn counters(&self) -> Counters {
        let online = self
            .agents
            .values()
            .filter(|a| a.status.is_some_and(|s| s != AgentStatus::LoggedOut))
            .count();
        let busy = self
            .agents
            .values()
            .filter(|a| {
                a.status.is_some_and(|s| s != AgentStatus::LoggedOut)
                    && matches!(
                        a.state,
                        Some(AgentState::Receiving | AgentState::InQueueCall)
                    )
            })
            .count();
        Counters {
            in_service: self.calls.values().filter(|c| c.answered).count(),
            waiting: self.members.values().filter(|m| !m.connected).count(),
            online,
            busy,
        }
    }

    /// The counters message for every desk when they changed since the
    /// last call.
    pub fn counters_changed(&mut self) -> Option<Out> {
        let now = self.counters();
        if now == self.counters {
            return None;
        }
        self.counters = now;
        Some(Out {
            to: None,
            msg: json!({"type": "counters", "counters": now}),
        })
    }
}

fn call_json(c: &CallParties) -> Value {
    json!({
        "id": c.id,
        "caller": c.caller,
        "callee": c.callee,
        "b_party": c.b_party,
        "answered": c.answered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcenter::acd::MemberId;

    fn q(event: QueueEvent) -> Event {
        Event::Queue { event }
    }

    fn no_call(_: u64) -> Option<CallParties> {
        None
    }

    fn to(outs: &[Out], who: &str) -> Vec<Value> {
        outs.iter()
            .filter(|o| o.to.as_deref() == Some(who))
            .map(|o| o.msg.clone())
            .collect()
    }

    #[test]
    fn desk_board_lists_the_callers_waiting_longest_first_until_answered_or_gone() {
        let mut b = Board::new();
        let t0 = Instant::now();
        let join = |b: &mut Board, id: u64, queue: &str, caller: &str, at: Instant| {
            b.apply(
                &q(QueueEvent::MemberJoined {
                    queue: queue.into(),
                    member: MemberId(id),
                    caller_number: caller.into(),
                }),
                at,
                no_call,
            );
        };
        join(&mut b, 1, "sales", "111", t0);
        join(&mut b, 2, "support", "222", t0 + Duration::from_secs(5));
        join(&mut b, 3, "sales", "333", t0 + Duration::from_secs(8));
        let w = b.waiting(t0 + Duration::from_secs(30));
        assert_eq!(
            w,
            vec![
                ("sales".to_string(), "111".to_string(), 30),
                ("support".to_string(), "222".to_string(), 25),
                ("sales".to_string(), "333".to_string(), 22),
            ]
        );
        // Answered: no longer waiting; gone: no longer listed.
        b.apply(
            &q(QueueEvent::BridgeStart {
                queue: "sales".into(),
                member: MemberId(1),
                agent: "1001".into(),
                waited: Duration::from_secs(31),
            }),
            t0 + Duration::from_secs(31),
            no_call,
        );
        b.apply(
            &q(QueueEvent::MemberLeft {
                queue: "support".into(),
                member: MemberId(2),
                end: callcenter::acd::MemberEnd::Cancelled {
                    reason: callcenter::acd::CancelReason::BreakOut,
                },
                waited: Duration::from_secs(27),
            }),
            t0 + Duration::from_secs(32),
            no_call,
        );
        let w = b.waiting(t0 + Duration::from_secs(40));
        assert_eq!(w, vec![("sales".to_string(), "333".to_string(), 32)]);
        assert_eq!(b.counters().waiting, 1);
    }

    #[test]
    fn desk_board_an_offer_reaches_the_agent_with_the_caller_queue_and_wait() {
        let mut b = Board::new();
        let t0 = Instant::now();
        b.seed_agent("1001", AgentStatus::Available, AgentState::Waiting);
        b.apply(
            &q(QueueEvent::MemberJoined {
                queue: "support".into(),
                member: MemberId(7),
                caller_number: "13800000000".into(),
            }),
            t0,
            no_call,
        );
        assert_eq!(b.counters().waiting, 1);
        let outs = b.apply(
            &q(QueueEvent::AgentOffering {
                queue: "support".into(),
                member: MemberId(7),
                agent: "1001".into(),
            }),
            t0 + Duration::from_secs(12),
            no_call,
        );
        let msgs = to(&outs, "1001");
        assert_eq!(msgs.len(), 1, "{outs:?}");
        assert_eq!(msgs[0]["type"], "offer");
        assert_eq!(msgs[0]["caller"], "13800000000");
        assert_eq!(msgs[0]["queue"], "support");
        assert_eq!(msgs[0]["waited_ms"], 12_000);
        assert!(to(&outs, "1002").is_empty(), "nobody else hears of it");
        // A desk that reconnects now still sees the offer.
        let snap = b.snapshot("1001", t0 + Duration::from_secs(13));
        assert_eq!(snap["offer"]["caller"], "13800000000");
        assert_eq!(snap["offer"]["waited_ms"], 13_000);
        // Answered: the offer goes, the desk learns the bridge.
        let outs = b.apply(
            &q(QueueEvent::BridgeStart {
                queue: "support".into(),
                member: MemberId(7),
                agent: "1001".into(),
                waited: Duration::from_secs(14),
            }),
            t0 + Duration::from_secs(14),
            no_call,
        );
        let msgs = to(&outs, "1001");
        assert_eq!(msgs[0]["type"], "bridged");
        assert_eq!(b.counters().waiting, 0, "an answered caller waits no more");
        assert!(b.snapshot("1001", t0)["offer"].is_null());
        // The caller's call is the agent's call now, until it ends.
        assert_eq!(msgs[1]["type"], "call");
        assert_eq!(msgs[1]["call"]["caller"], "13800000000");
        assert_eq!(b.snapshot("1001", t0)["call"]["id"], 7);
        let outs = b.apply(
            &Event::CallEnded {
                id: 7,
                cause: "NORMAL_CLEARING",
                sip_code: 200,
                hangup_by: "callee",
            },
            t0,
            no_call,
        );
        assert_eq!(to(&outs, "1001")[0]["type"], "call_end");
    }

    #[test]
    fn desk_board_status_changes_and_counters() {
        let mut b = Board::new();
        let now = Instant::now();
        b.seed_agent("1001", AgentStatus::LoggedOut, AgentState::Waiting);
        b.seed_agent("1002", AgentStatus::Available, AgentState::Waiting);
        assert_eq!(
            b.counters_changed()
                .map(|o| o.msg["counters"]["online"].clone()),
            Some(json!(1))
        );
        assert_eq!(b.counters_changed(), None, "only when they change");
        let outs = b.apply(
            &q(QueueEvent::AgentStatusChanged {
                agent: "1001".into(),
                old: AgentStatus::LoggedOut,
                new: AgentStatus::OnBreak,
            }),
            now,
            no_call,
        );
        let m = &to(&outs, "1001")[0];
        assert_eq!(m["agent"]["status"], "On Break");
        b.apply(
            &q(QueueEvent::AgentStateChanged {
                agent: "1002".into(),
                old: AgentState::Waiting,
                new: AgentState::InQueueCall,
            }),
            now,
            no_call,
        );
        let c = b.counters();
        assert_eq!((c.online, c.busy), (2, 1));
        let all = b.counters_changed().expect("changed");
        assert_eq!(all.to, None, "counters go to every desk");
    }

    #[test]
    fn desk_board_the_floor_view_follows_every_agent_for_supervisors() {
        let mut b = Board::new();
        let t0 = Instant::now();
        b.seed_agent("1001", AgentStatus::Available, AgentState::Waiting);
        b.seed_agent("1002", AgentStatus::OnBreak, AgentState::Waiting);
        let floor = b.floor(t0);
        assert_eq!(floor.len(), 2);
        assert_eq!(floor[0]["id"], "1001");
        assert_eq!(floor[1]["status"], "On Break");
        assert_eq!(floor[0]["state_ms"], Value::Null, "no change seen yet");
        let outs = b.apply(
            &q(QueueEvent::AgentStateChanged {
                agent: "1001".into(),
                old: AgentState::Waiting,
                new: AgentState::Receiving,
            }),
            t0,
            no_call,
        );
        let rows = to(&outs, FLOOR);
        assert_eq!(rows.len(), 1, "{outs:?}");
        assert_eq!(rows[0]["type"], "floor_agent");
        assert_eq!(rows[0]["agent"]["state"], "Receiving");
        // The agent answers a queue caller: the row carries the call.
        b.apply(
            &q(QueueEvent::MemberJoined {
                queue: "sales".into(),
                member: MemberId(7),
                caller_number: "5551234".into(),
            }),
            t0,
            no_call,
        );
        let outs = b.apply(
            &q(QueueEvent::BridgeStart {
                queue: "sales".into(),
                member: MemberId(7),
                agent: "1001".into(),
                waited: Duration::from_secs(3),
            }),
            t0 + Duration::from_secs(4),
            no_call,
        );
        let row = &to(&outs, FLOOR)[0]["agent"];
        assert_eq!(row["call"]["caller"], "5551234");
        assert_eq!(row["call"]["id"], 7);
        assert_eq!(row["state_ms"], 4000, "time in state since the change");
        // A caller waiting is no agent's business: nothing for the floor.
        let outs = b.apply(
            &q(QueueEvent::MemberJoined {
                queue: "sales".into(),
                member: MemberId(8),
                caller_number: "5550000".into(),
            }),
            t0,
            no_call,
        );
        assert!(to(&outs, FLOOR).is_empty());
        // The agent hands the caller over (the call goes on): the call is
        // no longer the agent's.
        let outs = b.apply(
            &q(QueueEvent::BridgeEnd {
                queue: "sales".into(),
                member: MemberId(7),
                agent: "1001".into(),
                talk_time: Duration::from_secs(9),
            }),
            t0,
            no_call,
        );
        let msgs = to(&outs, "1001");
        assert!(msgs.iter().any(|m| m["type"] == "call_end"), "{msgs:?}");
        assert_eq!(b.floor_row("1001", t0)["call"], Value::Null);
    }

    #[test]
    fn desk_board_calls_reach_the_desks_of_their_parties_only() {
        let mut b = Board::new();
        let now = Instant::now();
        let parties = CallParties {
            id: 5,
            caller: "1001".into(),
            callee: "1002".into(),
            b_party: Some("1002".into()),
            answered: false,
        };
        let lookup = |id: u64| (id == 5).then(|| parties.clone());
        b.apply(
            &Event::CallStarted {
                id: 5,
                caller: "1001".into(),
                callee: "1002".into(),
                direction: "internal",
            },
            now,
            lookup,
        );
        let outs = b.apply(&Event::CallAnswered { id: 5 }, now, lookup);
        assert_eq!(to(&outs, "1001")[0]["call"]["id"], 5);
        assert_eq!(to(&outs, "1002")[0]["type"], "call");
        assert!(to(&outs, "1003").is_empty());
        assert_eq!(b.counters().in_service, 1);
        assert_eq!(b.snapshot("1002", now)["call"]["caller"], "1001");
        let outs = b.apply(
            &Event::CallEnded {
                id: 5,
                cause: "NORMAL_CLEARING",
                sip_code: 200,
                hangup_by: "caller",
            },
            now,
            no_call,
        );
        assert_eq!(to(&outs, "1002")[0]["type"], "call_end");
        assert_eq!(b.counters().in_service, 0);
        assert!(b.snapshot("1002", now)["call"].is_null());
    }
}
