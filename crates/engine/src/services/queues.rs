//! The queue service: the one task that owns the (sans-IO) ACD. Calls in a
//! queue report to it (joined, hung up, keys, offer results, end of the
//! agent call), admins change queues, agents and tiers through it, and it
//! carries out the ACD's actions by sending commands to the calls' actors
//! (ring an agent, stop ringing, leave the queue, announce) and publishing
//! the queue events.

use crate::base::context::CallTx;
use crate::base::events::{Event, EventBus};
use crate::base::metrics::{Buckets, Histogram};
use crate::calls::control::Command;
use crate::calls::ports::{QueueReport, QueueReports};
use crate::calls::CallMsg;
use crate::services::queues_store::Persist;
use callcenter::acd::{Acd, AcdAction, AcdInput, MemberId, OfferOutcome, QueueEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What the queue service is told.
#[derive(Debug)]
pub enum QueueMsg {
    /// A report of a call about its caller (joined, hung up, keys, offer
    /// results, end of the agent call).
    Caller(QueueReport),
    /// An administrative change (queue, agent, tier, agent status).
    Admin {
        /// The change.
        input: AcdInput,
        /// Whether it was accepted, and why not.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A read of the live state, for the API.
    Inspect(oneshot::Sender<serde_json::Value>),
    /// Wait until everything so far is in the database (shutdown).
    Flush(oneshot::Sender<()>),
    /// The reason an agent gives for not being ready (before or while on
    /// break), for the work-state log.
    BreakReason {
        /// Agent id.
        agent: String,
        /// The reason ("" for none).
        reason: String,
    },
    /// An agent's settings, if the agent exists.
    AgentConfig(
        String,
        oneshot::Sender<Option<callcenter::acd::AgentConfig>>,
    ),
}

/// The offer-latency histogram buckets (seconds).
#[derive(Debug)]
pub struct OfferLatencyBuckets;

impl Buckets for OfferLatencyBuckets {
    const BOUNDS: &'static [f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
}

/// Counters of the queue service, exported as metrics.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Offers made (one per agent rung).
    pub offers: AtomicU64,
    /// Callers who joined a queue.
    pub joined: AtomicU64,
    /// Callers connected to an agent.
    pub answered: AtomicU64,
    /// Callers who left unserved (hung up, timeout, no agent, exit key).
    pub abandoned: AtomicU64,
    /// Offer latency: from the moment both the agent was free (call ended
    /// plus wrap-up, or made available) and the caller was waiting, to the
    /// offer leaving for the caller's call.
    pub offer_latency: Histogram<OfferLatencyBuckets>,
}

/// Handle to the queue service; cheap to clone.
#[derive(Clone, Debug)]
pub struct QueueService {
    tx: mpsc::UnboundedSender<QueueMsg>,
    /// Its counters.
    pub stats: Arc<QueueStats>,
}

impl QueueService {
    /// Starts the service task on the current runtime.
    pub fn start(events: EventBus, store: Option<store::Store>) -> QueueService {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(QueueStats::default());
        let persist = store.map(|s| crate::services::queues_store::start(s, events.clone()));
        tokio::spawn(run(rx, events, Arc::clone(&stats), persist));
        QueueService { tx, stats }
    }

    /// Sends a report (the service only stops with the process).
    pub fn send(&self, msg: QueueMsg) {
        let _ = self.tx.send(msg);
    }

    /// Applies an administrative change; the error says what is wrong.
    pub async fn admin(&self, input: AcdInput) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.send(QueueMsg::Admin { input, reply });
        rx.await
            .unwrap_or_else(|_| Err("the queue service has stopped".into()))
    }

    /// Records the reason agent `agent` gives for not being ready; send it
    /// before the status change it explains.
    pub fn set_break_reason(&self, agent: &str, reason: &str) {
        self.send(QueueMsg::BreakReason {
            agent: agent.to_string(),
            reason: reason.to_string(),
        });
    }

    /// Returns once every record and agent status so far is written.
    pub async fn flush(&self) {
        let (done, rx) = oneshot::channel();
        self.send(QueueMsg::Flush(done));
        let _ = rx.await;
    }

    /// An agent's settings, if the agent exists.
    pub async fn agent_config(&self, id: &str) -> Option<callcenter::acd::AgentConfig> {
        let (reply, rx) = oneshot::channel();
        self.send(QueueMsg::AgentConfig(id.to_string(), reply));
        rx.await.ok().flatten()
    }

    /// The live agents and waiting callers, as JSON.
    pub async fn inspect(&self) -> serde_json::Value {
        let (reply, rx) = oneshot::channel();
        self.send(QueueMsg::Inspect(reply));
        rx.await.unwrap_or(serde_json::Value::Null)
    }
}

impl QueueReports for QueueService {
    fn report(&self, report: QueueReport) {
        self.send(QueueMsg::Caller(report));
    }
}

struct Service {
    acd: Acd,
    /// Waiting or connected callers' actors.
    calls: HashMap<u64, CallTx>,
    events: EventBus,
    /// Queue names, for the live view.
    queues: Vec<String>,
    /// Agent ids, for the live view.
    agents: Vec<String>,
    stats: Arc<QueueStats>,
    /// When each waiting caller joined.
    joined_at: HashMap<u64, Instant>,
    /// When each agent became free (call end plus wrap-up, or made available).
    free_since: HashMap<String, Instant>,
    /// Each caller's SIP Call-ID and number, for the records.
    call_ids: HashMap<u64, (String, String)>,
    /// The database writer, if there is a database.
    persist: Option<mpsc::UnboundedSender<Persist>>,
    /// Each agent's last break reason (for the work-state log).
    reasons: HashMap<String, String>,
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<QueueMsg>,
    events: EventBus,
    stats: Arc<QueueStats>,
    persist: Option<mpsc::UnboundedSender<Persist>>,
) {
    let mut s = Service {
        acd: Acd::new(),
        calls: HashMap::new(),
        events,
        queues: Vec::new(),
        agents: Vec::new(),
        stats,
        joined_at: HashMap::new(),
        free_since: HashMap::new(),
        call_ids: HashMap::new(),
        persist,
        reasons: HashMap::new(),
    };
    loop {
        let deadline = s.acd.next_deadline();
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => s.on_msg(m),
                None => break,
            },
            _ = sleep_until(deadline) => s.apply(AcdInput::Tick),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

impl Service {
    fn on_msg(&mut self, msg: QueueMsg) {
        match msg {
            QueueMsg::Caller(QueueReport::Join {
                join,
                call,
                call_id,
            }) => {
                self.calls.insert(join.member.0, call);
                self.call_ids
                    .insert(join.member.0, (call_id, join.caller_number.clone()));
                self.joined_at.insert(join.member.0, Instant::now());
                self.stats.joined.fetch_add(1, Relaxed);
                self.apply(AcdInput::MemberJoin(join));
            }
            QueueMsg::Caller(QueueReport::Hangup { member }) => {
                self.calls.remove(&member);
                self.apply(AcdInput::MemberHangup {
                    member: MemberId(member),
                });
                self.call_ids.remove(&member);
            }
            QueueMsg::Caller(QueueReport::Digit { member, digit }) => {
                self.apply(AcdInput::MemberDigit {
                    member: MemberId(member),
                    digit,
                })
            }
            QueueMsg::Caller(QueueReport::OfferResult {
                member,
                agent,
                outcome,
            }) => self.apply(AcdInput::OfferResult {
                member: MemberId(member),
                agent,
                outcome,
            }),
            QueueMsg::Caller(QueueReport::CallEnded {
                member,
                agent,
                talk_time,
                ended_at,
            }) => {
                self.calls.remove(&member);
                let wrap_up = self
                    .acd
                    .agent_config(&agent)
                    .map_or(Duration::ZERO, |a| a.wrap_up_time);
                self.free_since.insert(agent.clone(), ended_at + wrap_up);
                self.apply(AcdInput::CallEnded {
                    member: MemberId(member),
                    agent,
                    talk_time,
                });
                self.call_ids.remove(&member);
            }
            QueueMsg::Admin { input, reply } => {
                match &input {
                    AcdInput::UpsertQueue(q) if !self.queues.contains(&q.name) => {
                        self.queues.push(q.name.clone())
                    }
                    AcdInput::UpsertAgent(a) if !self.agents.contains(&a.id) => {
                        self.agents.push(a.id.clone())
                    }
                    _ => {}
                }
                // Ending after-call work changes no ACD state: the log
                // hears of it here.
                let wrapped_up = match &input {
                    AcdInput::WrapUpDone { agent } => Some(agent.clone()),
                    _ => None,
                };
                let r = self
                    .acd
                    .handle(input, Instant::now())
                    .map(|actions| self.dispatch(actions))
                    .map_err(|e| e.to_string());
                if let (Ok(()), Some(agent)) = (&r, wrapped_up) {
                    self.persist_agent(&agent);
                }
                let _ = reply.send(r);
            }
            QueueMsg::BreakReason { agent, reason } => {
                let changed = self.reasons.get(&agent) != Some(&reason);
                self.reasons.insert(agent.clone(), reason);
                // Already on break: the new reason starts a new period.
                let on_break = self
                    .acd
                    .agent_view(&agent)
                    .is_some_and(|v| v.status == callcenter::acd::AgentStatus::OnBreak);
                if changed && on_break {
                    self.persist_agent(&agent);
                }
            }
            QueueMsg::AgentConfig(id, reply) => {
                let _ = reply.send(self.acd.agent_config(&id).cloned());
            }
            QueueMsg::Flush(done) => match &self.persist {
                Some(p) => {
                    let _ = p.send(Persist::Flush(done));
                }
                None => {
                    let _ = done.send(());
                }
            },
            QueueMsg::Inspect(reply) => {
                let now = Instant::now();
                let agents: Vec<_> = self
                    .agents
                    .iter()
                    .filter_map(|a| self.acd.agent_view(a))
                    .collect();
                let members: serde_json::Map<String, serde_json::Value> = self
                    .queues
                    .iter()
                    .map(|q| {
                        let m = serde_json::to_value(self.acd.members(q, now))
                            .unwrap_or(serde_json::Value::Null);
                        (q.clone(), m)
                    })
                    .collect();
                let _ = reply.send(serde_json::json!({
                    "agents": agents,
                    "waiting": members,
                }));
            }
        }
    }

    /// Feeds one input; refusals of call reports (e.g. a result for an
    /// offer already withdrawn) are normal races and only logged.
    fn apply(&mut self, input: AcdInput) {
        match self.acd.handle(input, Instant::now()) {
            Ok(actions) => self.dispatch(actions),
            Err(e) => tracing::debug!("queue service: {e}"),
        }
    }

    fn to_call(&self, member: MemberId, cmd: Command) {
        if let Some(call) = self.calls.get(&member.0) {
            let _ = call.send(CallMsg::Control(cmd));
        }
    }

    fn dispatch(&mut self, actions: Vec<AcdAction>) {
        // Callers sent on: forgotten after this batch, whose events may
        // still name them.
        let mut forget = Vec::new();
        for a in actions {
            match a {
                AcdAction::Offer {
                    member,
                    agent,
                    contact,
                    ring_timeout,
                    ..
                } => {
                    let auto_answer = self.acd.agent_config(&agent).is_some_and(|a| a.auto_answer);
                    if self.calls.contains_key(&member.0) {
                        self.stats.offers.fetch_add(1, Relaxed);
                        let now = Instant::now();
                        let free = self.free_since.get(&agent).copied();
                        let joined = self.joined_at.get(&member.0).copied();
                        let since = match (free, joined) {
                            (Some(f), Some(j)) => Some(f.max(j)),
                            (f, j) => f.or(j),
                        };
                        if let Some(since) = since {
                            self.stats
                                .offer_latency
                                .observe(now.saturating_duration_since(since));
                        }
                        self.to_call(
                            member,
                            Command::Offer {
                                agent,
                                contact,
                                ring_timeout,
                                auto_answer,
                            },
                        );
                    } else {
                        // The caller's actor is gone: report it so the agent
                        // is not left ringing in the ACD's books.
                        self.apply(AcdInput::OfferResult {
                            member,
                            agent,
                            outcome: OfferOutcome::CallerGone,
                        });
                    }
                }
                AcdAction::CancelOffer { member, agent } => {
                    self.to_call(member, Command::CancelOffer { agent })
                }
                AcdAction::Connected { .. } => {}
                AcdAction::MemberCancelled { member, reason, .. } => {
                    self.to_call(
                        member,
                        Command::LeaveQueue {
                            reason: reason.to_string(),
                        },
                    );
                    self.calls.remove(&member.0);
                    forget.push(member.0);
                }
                AcdAction::Announce { member, sound } => {
                    self.to_call(member, Command::Announce { sound })
                }
                AcdAction::Event(e) => self.publish(e),
            }
        }
        for m in forget {
            self.call_ids.remove(&m);
            self.joined_at.remove(&m);
        }
    }

    /// Sends agent `agent`'s status and work state to the database writer.
    fn persist_agent(&self, agent: &str) {
        if let (Some(p), Some(v)) = (&self.persist, self.acd.agent_view(agent)) {
            let (work, acw_until) = crate::services::queues_store::work_of(&v);
            let _ = p.send(Persist::Agent {
                agent: agent.to_string(),
                status: v.status.to_string(),
                state: v.state.to_string(),
                work,
                reason: self.reasons.get(agent).cloned().unwrap_or_default(),
                acw_until,
            });
        }
    }

    fn publish(&mut self, e: QueueEvent) {
        match &e {
            QueueEvent::BridgeStart { member, .. } => {
                self.joined_at.remove(&member.0);
                self.stats.answered.fetch_add(1, Relaxed);
            }
            QueueEvent::MemberLeft { member, end, .. } => {
                self.joined_at.remove(&member.0);
                if !matches!(end, callcenter::acd::MemberEnd::Answered { .. }) {
                    self.stats.abandoned.fetch_add(1, Relaxed);
                }
            }
            QueueEvent::AgentStatusChanged { agent, .. }
            | QueueEvent::AgentStateChanged { agent, .. } => {
                if let QueueEvent::AgentStatusChanged { new, .. } = &e {
                    if new.takes_calls() {
                        self.free_since.insert(agent.clone(), Instant::now());
                    }
                }
                self.persist_agent(agent);
            }
            _ => {}
        }
        if let Some(p) = &self.persist {
            let ids = &self.call_ids;
            let call = |m: u64| ids.get(&m).cloned().unwrap_or_default();
            if let Some(rec) = crate::services::queues_store::record(&e, call) {
                let _ = p.send(Persist::Event(rec));
            }
        }
        tracing::debug!("queue event: {e:?}");
        self.events.publish(|| Event::Queue { event: e });
    }
}
