//! The desks' push channel (one WebSocket per open desk): the engine's
//! events go through the [`Board`] once, and what it returns is queued to
//! the desks of the agents concerned. Each desk has a bounded queue; a desk
//! that does not read is dropped (its page reconnects and gets a fresh
//! snapshot) rather than holding memory or slowing the others. When the
//! engine has written records about an agent (a call of theirs ended and its
//! CDR or queue events are stored), their desks are told to read their
//! figures of the day again.

use super::board::{Board, CallParties, Out, FLOOR};
use dashmap::DashMap;
use engine::Engine;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, watch};

/// Messages queued for one desk before it counts as not reading.
pub const DESK_QUEUE: usize = 256;

/// How often the floor's counters are compared and pushed when changed.
const COUNTERS_EVERY: Duration = Duration::from_millis(250);

/// Counters of the push channel, for `/metrics`.
#[derive(Debug, Default)]
pub struct DeskStats {
    /// Desks connected now.
    pub connected: AtomicU64,
    /// Messages queued to desks.
    pub pushed: AtomicU64,
    /// Desks dropped because their queue was full.
    pub dropped_slow: AtomicU64,
    /// Engine events the hub missed (it lagged behind the event bus); the
    /// desks were told to reload their state.
    pub lagged: AtomicU64,
}

impl DeskStats {
    /// The `switchboard_desk_*` metrics in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, v) in [
            (
                "switchboard_desk_connections",
                "gauge",
                "Agent desks connected to the push channel.",
                &self.connected,
            ),
            (
                "switchboard_desk_messages_total",
                "counter",
                "Messages pushed to desks.",
                &self.pushed,
            ),
            (
                "switchboard_desk_dropped_slow_total",
                "counter",
                "Desks dropped because they did not read their messages.",
                &self.dropped_slow,
            ),
            (
                "switchboard_desk_events_lagged_total",
                "counter",
                "Engine events the desk hub missed (desks were sent a fresh snapshot).",
                &self.lagged,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                v.load(Relaxed)
            ));
        }
        out
    }
}

/// One connected desk's sending side.
struct DeskConn {
    id: u64,
    tx: mpsc::Sender<Arc<str>>,
    /// On the floor channel: the agents this supervisor's desk may see.
    scope: FloorScope,
}

/// The agents a supervisor's desk is shown: None for every agent.
pub type FloorScope = Option<Arc<BTreeSet<String>>>;

/// Whether floor row `msg` (`{"agent": {"id": ...}}`) is in `scope`.
fn in_scope(scope: &FloorScope, msg: &Value) -> bool {
    match scope {
        None => true,
        Some(s) => msg["agent"]["id"].as_str().is_some_and(|id| s.contains(id)),
    }
}

/// The hub (see the module documentation).
pub struct DeskHub {
    board: Mutex<Board>,
    desks: DashMap<String, Vec<DeskConn>>,
    next_id: AtomicU64,
    /// Counters for `/metrics`.
    pub stats: DeskStats,
    /// Bumped whenever the board may have changed (an agent, queue, call
    /// or registration event) or records were stored: the live pages of
    /// the floor (wallboard, agents, traffic) wake on it instead of
    /// waiting for their next tick.
    changes: watch::Sender<u64>,
    /// Per party (agent / extension): how many times records about it were
    /// stored; a cache of its figures is stale when this moved.
    stored: DashMap<String, u64>,
    /// Caches of the supervisors' live pages (figures read from the
    /// store), kept per hub so two servers in one process never share them.
    pub(crate) live_cache: crate::pages::agents::LiveCache,
}

fn lock(m: &Mutex<Board>) -> MutexGuard<'_, Board> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeskHub {
    /// A hub fed by `engine`'s events from now on, seeded with the ACD's
    /// agents.
    pub async fn start(engine: Arc<Engine>) -> Arc<DeskHub> {
        let hub = Arc::new(DeskHub {
            board: Mutex::new(Board::new()),
            desks: DashMap::new(),
            next_id: AtomicU64::new(1),
            stats: DeskStats::default(),
            changes: watch::channel(0).0,
            stored: DashMap::new(),
            live_cache: Default::default(),
        });
        let events = engine.subscribe();
        hub.seed(&engine).await;
        tokio::spawn(run(Arc::downgrade(&hub), engine, events));
        hub
    }

    /// A hub fed by nothing (a web module without an engine).
    pub fn idle() -> Arc<DeskHub> {
        Arc::new(DeskHub {
            board: Mutex::new(Board::new()),
            desks: DashMap::new(),
            next_id: AtomicU64::new(1),
            stats: DeskStats::default(),
            changes: watch::channel(0).0,
            stored: DashMap::new(),
            live_cache: Default::default(),
        })
    }

    async fn seed(&self, engine: &Engine) {
        let view = engine.queues().inspect().await;
        let agents = view["agents"].as_array().cloned().unwrap_or_default();
        let mut board = lock(&self.board);
        for a in agents {
            let (Some(id), Some(status), Some(state)) = (
                a["id"].as_str(),
                a["status"].as_str().and_then(|s| s.parse().ok()),
                a["state"].as_str().and_then(|s| s.parse().ok()),
            ) else {
                continue;
            };
            board.seed_agent(id, status, state);
        }
        let _ = board.counters_changed();
    }

    /// Connects a desk of agent/extension `ext`: its id (for
    /// [`DeskHub::disconnect`]), the snapshot to send first, and its queue.
    /// A supervisor's desk (`floor` is Some) also gets the floor: the row
    /// of every agent in its scope in the snapshot, and each change as it
    /// happens.
    pub fn connect(
        &self,
        ext: &str,
        floor: Option<FloorScope>,
    ) -> (u64, Value, mpsc::Receiver<Arc<str>>) {
        let (tx, rx) = mpsc::channel(DESK_QUEUE);
        let id = self.next_id.fetch_add(1, Relaxed);
        // The snapshot and the registration under one lock of the board, so
        // no event falls between them.
        let board = lock(&self.board);
        let now = Instant::now();
        let mut snapshot = board.snapshot(ext, now);
        if let Some(scope) = floor {
            let rows: Vec<Value> = board
                .floor(now)
                .into_iter()
                .filter(|row| in_scope(&scope, &serde_json::json!({ "agent": row })))
                .collect();
            snapshot["floor"] = Value::from(rows);
            self.desks
                .entry(FLOOR.to_string())
                .or_default()
                .push(DeskConn {
                    id,
                    tx: tx.clone(),
                    scope,
                });
        }
        self.desks
            .entry(ext.to_string())
            .or_default()
            .push(DeskConn {
                id,
                tx,
                scope: None,
            });
        drop(board);
        self.stats.connected.fetch_add(1, Relaxed);
        (id, snapshot, rx)
    }

    /// Forgets desk `id` of `ext` (its socket closed).
    pub fn disconnect(&self, ext: &str, id: u64) {
        let mut gone = false;
        if let Some(mut v) = self.desks.get_mut(ext) {
            let before = v.len();
            v.retain(|d| d.id != id);
            gone = v.len() < before;
        }
        self.desks.remove_if(ext, |_, v| v.is_empty());
        if let Some(mut v) = self.desks.get_mut(FLOOR) {
            v.retain(|d| d.id != id);
        }
        if gone {
            self.stats.connected.fetch_sub(1, Relaxed);
        }
    }

    /// A receiver of the change signal (see the field `changes`): its
    /// value moves each time the board may have changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Signals a change to the live pages (cheap: one lock and a wake-up
    /// of the receivers, which rate-limit their own rendering).
    fn bump(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// How many times records about `party` were stored so far (0 when
    /// never since start).
    pub fn stored_generation(&self, party: &str) -> u64 {
        self.stored.get(party).map_or(0, |g| *g)
    }

    /// Desks connected for `ext` now.
    pub fn desks_of(&self, ext: &str) -> usize {
        self.desks.get(ext).map_or(0, |v| v.len())
    }

    /// Every agent's row of the supervisors' floor view.
    pub fn floor(&self) -> Vec<Value> {
        lock(&self.board).floor(Instant::now())
    }

    /// The floor's counters now (agents online and busy, callers waiting,
    /// calls in service): the staffing calculator shows them beside what
    /// it computes.
    pub fn counters(&self) -> super::board::Counters {
        lock(&self.board).counters()
    }

    /// The callers waiting in a queue now, the longest wait first: (queue,
    /// caller number, seconds waited).
    pub fn waiting(&self) -> Vec<(String, String, u64)> {
        lock(&self.board).waiting(Instant::now())
    }

    /// The current snapshot for `ext` (what a reconnecting desk gets).
    pub fn snapshot(&self, ext: &str) -> Value {
        lock(&self.board).snapshot(ext, Instant::now())
    }

    /// Sends `msg` to the desks of extension `ext` (a reminder, a notice),
    /// if any are connected.
    pub fn notify_ext(&self, ext: &str, msg: Value) {
        if ext.is_empty() {
            return;
        }
        self.deliver(Out {
            to: Some(ext.to_string()),
            msg,
        });
    }

    /// Queues `msg` to the desks of `to` (every desk when None); a desk
    /// whose queue is full is dropped.
    fn deliver(&self, out: Out) {
        let text: Arc<str> = Arc::from(out.msg.to_string());
        let push = |ext: &str, conns: &mut Vec<DeskConn>| {
            conns.retain(|d| {
                if ext == FLOOR && !in_scope(&d.scope, &out.msg) {
                    return true;
                }
                match d.tx.try_send(text.clone()) {
                    Ok(()) => {
                        self.stats.pushed.fetch_add(1, Relaxed);
                        true
                    }
                    // A supervisor's floor entry shares its desk's queue: the
                    // desk's own entry counts it.
                    Err(mpsc::error::TrySendError::Full(_)) if ext == FLOOR => false,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!("desk of {ext}: not reading, dropped (it will reconnect)");
                        self.stats.dropped_slow.fetch_add(1, Relaxed);
                        self.stats.connected.fetch_sub(1, Relaxed);
                        false
                    }
                    // The socket task ended and will disconnect itself.
                    Err(mpsc::error::TrySendError::Closed(_)) => true,
                }
            });
        };
        match out.to {
            Some(ext) => {
                if let Some(mut conns) = self.desks.get_mut(&ext) {
                    push(&ext, &mut conns);
                }
            }
            None => {
                for mut e in self.desks.iter_mut() {
                    let ext = e.key().clone();
                    if ext != FLOOR {
                        push(&ext, e.value_mut());
                    }
                }
            }
        }
    }

    /// Records about `parties` were written: their desks are told to read
    /// their figures again (`{"type": "figures"}`), the page fetching
    /// `/desk/today` then.
    fn records_stored(&self, parties: &[String]) {
        for p in parties {
            *self.stored.entry(p.clone()).or_default() += 1;
        }
        self.bump();
        for p in parties {
            if self.desks.contains_key(p) {
                self.deliver(Out {
                    to: Some(p.clone()),
                    msg: serde_json::json!({"type": "figures"}),
                });
            }
        }
    }

    /// Tells every desk to reload its state (events were missed).
    fn resync_all(&self) {
        let exts: Vec<String> = self
            .desks
            .iter()
            .map(|e| e.key().clone())
            .filter(|e| e != FLOOR)
            .collect();
        for ext in exts {
            let msg = self.snapshot(&ext);
            self.deliver(Out { to: Some(ext), msg });
        }
        // Each supervisor's desk, the rows of its scope.
        let floor = lock(&self.board).floor(Instant::now());
        if let Some(conns) = self.desks.get(FLOOR) {
            for d in conns.iter() {
                let rows: Vec<&Value> = floor
                    .iter()
                    .filter(|row| in_scope(&d.scope, &serde_json::json!({ "agent": row })))
                    .collect();
                let msg = serde_json::json!({"type": "floor", "agents": rows}).to_string();
                // A desk that cannot take it now is dropped by its own
                // entry's next delivery and reconnects with a snapshot.
                let _ = d.tx.try_send(Arc::from(msg));
            }
        }
    }
}

/// A live call's parties, from the engine's call table.
fn parties(engine: &Engine, id: u64) -> Option<CallParties> {
    let calls = &engine.ctx().calls;
    let entry = calls.get(&id)?;
    let info = &entry.value().1;
    Some(CallParties {
        id,
        caller: info.caller.clone(),
        callee: info.callee.clone(),
        b_party: info.b_party.clone(),
        answered: info.answer_at.is_some(),
    })
}

async fn run(
    hub: std::sync::Weak<DeskHub>,
    engine: Arc<Engine>,
    mut events: broadcast::Receiver<Arc<engine::base::events::Event>>,
) {
    let mut tick = tokio::time::interval(COUNTERS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let ev = tokio::select! {
            ev = events.recv() => Some(ev),
            _ = tick.tick() => None,
        };
        let Some(hub) = hub.upgrade() else { return };
        match ev {
            Some(Ok(ev)) => {
                if let engine::base::events::Event::RecordsStored { parties } = &*ev {
                    hub.records_stored(parties);
                    continue;
                }
                let outs = lock(&hub.board).apply(&ev, Instant::now(), |id| parties(&engine, id));
                for out in outs {
                    hub.deliver(out);
                }
                use engine::base::events::Event as E;
                if matches!(
                    &*ev,
                    E::Queue { .. }
                        | E::CallStarted { .. }
                        | E::CallAnswered { .. }
                        | E::CallEnded { .. }
                        | E::Registered { .. }
                        | E::Unregistered { .. }
                ) {
                    hub.bump();
                }
            }
            Some(Err(broadcast::error::RecvError::Lagged(n))) => {
                hub.stats.lagged.fetch_add(n, Relaxed);
                hub.resync_all();
                hub.bump();
            }
            Some(Err(broadcast::error::RecvError::Closed)) => return,
            None => {
                let changed = lock(&hub.board).counters_changed();
                if let Some(out) = changed {
                    hub.deliver(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcenter::acd::{AgentState, AgentStatus};

    #[test]
    fn desk_hub_records_stored_moves_the_change_signal_and_the_party_generation() {
        let hub = DeskHub::idle();
        let mut rx = hub.changes();
        assert_eq!(hub.stored_generation("1001"), 0);
        assert!(!rx.has_changed().unwrap_or(true), "nothing yet");
        hub.records_stored(&["1001".to_string(), "1002".to_string()]);
        assert!(rx.has_changed().unwrap_or(false), "the live pages wake");
        rx.borrow_and_update();
        assert_eq!(hub.stored_generation("1001"), 1);
        assert_eq!(hub.stored_generation("1002"), 1);
        assert_eq!(hub.stored_generation("1003"), 0);
        hub.records_stored(&["1001".to_string()]);
        assert_eq!(hub.stored_generation("1001"), 2);
        assert!(rx.has_changed().unwrap_or(false));
    }

    #[test]
    fn desk_hub_a_supervisor_sees_only_the_agents_of_its_scope() {
        let hub = DeskHub::idle();
        for a in ["1001", "1002"] {
            lock(&hub.board).seed_agent(a, AgentStatus::Available, AgentState::Waiting);
        }
        let scope: FloorScope = Some(Arc::new(BTreeSet::from(["1001".to_string()])));
        let (_, snap, mut scoped) = hub.connect("2001", Some(scope));
        let rows = snap["floor"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.len(), 1, "{snap}");
        assert_eq!(rows[0]["id"], "1001");
        let (_, snap, mut all) = hub.connect("2002", Some(None));
        assert_eq!(snap["floor"].as_array().map(Vec::len), Some(2), "{snap}");
        let (_, snap, mut agent) = hub.connect("1001", None);
        assert!(snap.get("floor").is_none(), "an agent's desk has no floor");
        for a in ["1001", "1002"] {
            hub.deliver(Out {
                to: Some(FLOOR.to_string()),
                msg: serde_json::json!({"type": "floor_agent", "agent": {"id": a}}),
            });
        }
        let got = |rx: &mut mpsc::Receiver<Arc<str>>| {
            let mut v = Vec::new();
            while let Ok(m) = rx.try_recv() {
                v.push(m.to_string());
            }
            v
        };
        let rows = got(&mut scoped);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(rows[0].contains("\"1001\""), "{rows:?}");
        assert_eq!(got(&mut all).len(), 2);
        assert!(got(&mut agent).is_empty(), "the floor is for supervisors");
        // A resync sends each supervisor its own rows.
        hub.resync_all();
        let floor_of = |msgs: Vec<String>| {
            msgs.iter()
                .filter_map(|m| serde_json::from_str::<Value>(m).ok())
                .find(|m| m["type"] == "floor")
                .map(|m| m["agents"].as_array().map_or(0, Vec::len))
        };
        assert_eq!(floor_of(got(&mut scoped)), Some(1));
        assert_eq!(floor_of(got(&mut all)), Some(2));
        assert_eq!(floor_of(got(&mut agent)), None);
    }
}
