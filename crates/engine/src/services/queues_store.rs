//! What the queue service keeps in the database, written by one task so the
//! queue service never waits on it: agent status and state (so they survive
//! a restart) and the queue events the reports are built from (joined,
//! offered, answered, abandoned with reason, wait and talk time, agent),
//! linked to the CDR by the caller leg's SIP Call-ID.

use crate::base::context::now_ms;
use crate::base::events::{Event, EventBus};
use crate::services::agent_states::{self, StateLog};
use callcenter::acd::{MemberEnd, QueueEvent};
use store::Store;
use tokio::sync::mpsc;

/// How often queue events are written (batched, one transaction each).
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A write for the database.
#[derive(Debug)]
pub enum Persist {
    /// An agent's status and state changed.
    Agent {
        /// Agent id.
        agent: String,
        /// Status (FreeSWITCH name).
        status: String,
        /// State (FreeSWITCH name).
        state: String,
        /// The work state it counts as (see [`agent_states::work_state`]).
        work: &'static str,
        /// The break reason, for not ready.
        reason: String,
        /// The end of after-call work (unix ms), while in it.
        acw_until: Option<u64>,
    },
    /// A queue event worth a record.
    Event(store::QueueEvent),
    /// Write everything received so far, then answer (shutdown).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Starts the writer; the returned sender is the queue service's. Each
/// batch of events written is announced on `events`
/// ([`Event::RecordsStored`], with the agents of the batch).
pub fn start(store: Store, events: EventBus) -> mpsc::UnboundedSender<Persist> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(store, events, rx));
    tx
}

async fn run(store: Store, bus: EventBus, mut rx: mpsc::UnboundedReceiver<Persist>) {
    let mut events = Vec::new();
    let mut log = StateLog::new();
    let mut periods = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Persist::Agent { agent, status, state, work, reason, acw_until }) => {
                    if let Err(e) = store.set_agent_status(&agent, &status, &state).await {
                        tracing::warn!("agent {agent}: status not saved: {e}");
                    }
                    periods.extend(log.change(&agent, work, &reason, acw_until, now_ms()));
                }
                Some(Persist::Event(e)) => events.push(e),
                Some(Persist::Flush(done)) => {
                    // A shutdown: the periods in progress end now (they go
                    // on from the agents' restored state at the next start).
                    periods.extend(log.cut(now_ms()));
                    flush(&store, &bus, &mut events).await;
                    flush_states(&store, &mut periods).await;
                    let _ = done.send(());
                }
                None => break,
            },
            _ = tick.tick(), if !events.is_empty() || !periods.is_empty() => {
                flush(&store, &bus, &mut events).await;
                flush_states(&store, &mut periods).await;
            }
        }
    }
    periods.extend(log.cut(now_ms()));
    flush(&store, &bus, &mut events).await;
    flush_states(&store, &mut periods).await;
}

/// Writes the finished agent-state periods (kept for the next try when the
/// database refuses them, bounded like the events).
async fn flush_states(store: &Store, periods: &mut Vec<store::AgentStatePeriod>) {
    if periods.is_empty() {
        return;
    }
    match store.insert_agent_states(periods).await {
        Ok(()) => periods.clear(),
        Err(e) => {
            tracing::warn!("{} agent-state periods not saved yet: {e}", periods.len());
            if periods.len() > 100_000 {
                let drop = periods.len() - 100_000;
                periods.drain(..drop);
                tracing::error!("{drop} agent-state periods lost: the database refuses them");
            }
        }
    }
}

/// The work state of an agent as the ACD shows it, for the log: its work
/// state, and when its after-call work ends (unix ms), if it is in it.
pub fn work_of(v: &callcenter::acd::AgentView) -> (&'static str, Option<u64>) {
    let now = std::time::Instant::now();
    let left = v
        .wrap_up_until
        .and_then(|u| u.checked_duration_since(now))
        .filter(|d| !d.is_zero());
    let acw_until = left.map(|d| now_ms() + d.as_millis() as u64);
    (
        agent_states::work_state(v.status, v.state, acw_until.is_some()),
        acw_until,
    )
}

async fn flush(store: &Store, bus: &EventBus, events: &mut Vec<store::QueueEvent>) {
    if events.is_empty() {
        return;
    }
    match store.insert_queue_events(events).await {
        Ok(()) => {
            bus.publish(|| {
                let mut parties: Vec<String> =
                    events.iter().filter_map(|e| e.agent.clone()).collect();
                parties.sort_unstable();
                parties.dedup();
                Event::RecordsStored { parties }
            });
            events.clear();
        }
        // Kept for the next flush; bounded so a dead database cannot eat memory.
        Err(e) => {
            tracing::warn!("{} queue events not saved yet: {e}", events.len());
            if events.len() > 100_000 {
                let drop = events.len() - 100_000;
                events.drain(..drop);
                tracing::error!("{drop} queue events lost: the database refuses them");
            }
        }
    }
}

/// The record of a queue event (None for events the reports do not need).
/// `call` gives the caller leg's SIP Call-ID and number for a member.
pub fn record(e: &QueueEvent, call: impl Fn(u64) -> (String, String)) -> Option<store::QueueEvent> {
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let base = |queue: &str, member: u64, kind: &str| {
        let (call_id, caller) = call(member);
        store::QueueEvent {
            id: None,
            at: now_ms() as i64,
            queue: queue.to_string(),
            call_id,
            caller,
            agent: None,
            kind: kind.to_string(),
            reason: None,
            wait_secs: None,
            talk_secs: None,
        }
    };
    Some(match e {
        QueueEvent::MemberJoined { queue, member, .. } => base(queue, member.0, "joined"),
        QueueEvent::MemberResumed { queue, member, .. } => base(queue, member.0, "resumed"),
        QueueEvent::AgentOffering {
            queue,
            member,
            agent,
        } => store::QueueEvent {
            agent: Some(agent.clone()),
            ..base(queue, member.0, "offered")
        },
        QueueEvent::BridgeStart {
            queue,
            member,
            agent,
            waited,
        } => store::QueueEvent {
            agent: Some(agent.clone()),
            wait_secs: Some(secs(*waited)),
            ..base(queue, member.0, "answered")
        },
        QueueEvent::BridgeFail {
            queue,
            member,
            agent,
            outcome,
        } => store::QueueEvent {
            agent: Some(agent.clone()),
            reason: Some(outcome.to_string()),
            ..base(queue, member.0, "offer_failed")
        },
        QueueEvent::BridgeEnd {
            queue,
            member,
            agent,
            talk_time,
        } => store::QueueEvent {
            agent: Some(agent.clone()),
            talk_secs: Some(secs(*talk_time)),
            ..base(queue, member.0, "ended")
        },
        QueueEvent::MemberLeft {
            queue,
            member,
            end: MemberEnd::Cancelled { reason },
            waited,
        } => store::QueueEvent {
            reason: Some(reason.to_string()),
            wait_secs: Some(secs(*waited)),
            ..base(queue, member.0, "abandoned")
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcenter::acd::{CancelReason, MemberId, OfferOutcome};
    use std::time::Duration;

    #[tokio::test]
    async fn a_written_batch_is_announced_with_its_agents() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let bus = EventBus::new(8);
        let mut rx = bus.subscribe();
        let tx = start(store.clone(), bus);
        for agent in [Some("1002"), Some("1001"), None, Some("1001")] {
            let e = store::QueueEvent {
                agent: agent.map(str::to_string),
                kind: "offered".into(),
                ..Default::default()
            };
            tx.send(Persist::Event(e)).unwrap();
        }
        let (done, written) = tokio::sync::oneshot::channel();
        tx.send(Persist::Flush(done)).unwrap();
        written.await.unwrap();
        let ev = rx.recv().await.unwrap();
        let Event::RecordsStored { parties } = &*ev else {
            panic!("{ev:?}")
        };
        assert_eq!(parties, &["1001", "1002"]);
        let stored = store.queue_events_between(None, 0, i64::MAX).await.unwrap();
        assert_eq!(stored.len(), 4, "written before it was announced");
    }

    fn call(member: u64) -> (String, String) {
        (format!("sip-{member}"), "1000".to_string())
    }

    #[test]
    fn the_report_events_become_records_linked_to_the_call() {
        let left = QueueEvent::MemberLeft {
            queue: "support".into(),
            member: MemberId(7),
            end: MemberEnd::Cancelled {
                reason: CancelReason::Timeout,
            },
            waited: Duration::from_secs(61),
        };
        let r = record(&left, call).unwrap();
        assert_eq!(
            (r.kind.as_str(), r.call_id.as_str()),
            ("abandoned", "sip-7")
        );
        assert_eq!(
            (r.reason.as_deref(), r.wait_secs),
            (Some("TIMEOUT"), Some(61))
        );
        let fail = QueueEvent::BridgeFail {
            queue: "support".into(),
            member: MemberId(7),
            agent: "1001".into(),
            outcome: OfferOutcome::NoAnswer,
        };
        let r = record(&fail, call).unwrap();
        assert_eq!(
            (r.agent.as_deref(), r.reason.as_deref()),
            (Some("1001"), Some("no-answer"))
        );
        let end = QueueEvent::BridgeEnd {
            queue: "support".into(),
            member: MemberId(7),
            agent: "1001".into(),
            talk_time: Duration::from_secs(95),
        };
        assert_eq!(record(&end, call).unwrap().talk_secs, Some(95));
        // Answered callers' departure is the "answered" record already.
        let served = QueueEvent::MemberLeft {
            queue: "support".into(),
            member: MemberId(7),
            end: MemberEnd::Answered {
                agent: "1001".into(),
            },
            waited: Duration::from_secs(3),
        };
        assert!(record(&served, call).is_none());
    }
}
