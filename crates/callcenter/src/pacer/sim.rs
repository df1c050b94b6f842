//! A discrete-event simulation of one campaign: simulated callees and
//! agents on a virtual clock, dialed by the [`Pacer`]. It is how the
//! pacer's tests check the cap and the 2-second rule, and a command
//! (`switchboard pacer simulate`) so anyone can check the pacer on their
//! own figures.
//!
//! The model: every agent is logged in and free at the start. A dialed
//! number is answered by a person with the answer rate (after a ring time
//! drawn from a log-normal with the given median), by a machine with the
//! machine rate (detected and hung up, no agent), busy with the busy rate,
//! and rings out otherwise. A person is connected to a free agent at once;
//! with none free, they wait up to the connect limit for one, and get the
//! recorded message (an abandon) when none frees up. Handle times are
//! log-normal around the AHT (σ 0.8, about as spread as real call
//! centers' talk times). The pacer is asked after every event and every
//! second.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};

use serde::Serialize;

use super::decide::{Mode, Outcome, Pacer, PacerConfig, PacerError, Snapshot};
use super::window::within_cap;

/// What a simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Agents logged in for the whole run.
    pub agents: usize,
    /// Share of dials a person answers (0–1).
    pub answer_rate: f64,
    /// Mean handle time, seconds (talk and wrap-up).
    pub aht_s: f64,
    /// Simulated time to dial for, minutes, after the warm-up.
    pub minutes: f64,
    /// Minutes the campaign dials before the figures count: a campaign
    /// that has been running (its window holds live answers, so it has an
    /// abandon budget) rather than one that starts now.
    pub warmup_minutes: f64,
    /// Seed of the random draws: the same seed gives the same run.
    pub seed: u64,
    /// Share of dials that are busy.
    pub busy_rate: f64,
    /// Share of dials an answering machine answers.
    pub machine_rate: f64,
    /// Median ring time before a person answers, seconds.
    pub answer_s: f64,
    /// The pacer's settings (mode, cap, window...).
    pub pacer: PacerConfig,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            agents: 20,
            answer_rate: 0.3,
            aht_s: 120.0,
            minutes: 30.0,
            warmup_minutes: 0.0,
            seed: 1,
            busy_rate: 0.1,
            machine_rate: 0.0,
            answer_s: 7.0,
            pacer: PacerConfig::default(),
        }
    }
}

/// A simulation's figures: counts after the warm-up; the checks of the
/// rules (the window's rate, the wait for an agent, the ring) over the
/// whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SimReport {
    /// Numbers dialed.
    pub calls: u64,
    /// Answered by a person (connected or abandoned).
    pub answered: u64,
    /// Connected to an agent.
    pub connected: u64,
    /// Answered by a person with no agent within the connect limit.
    pub abandoned: u64,
    /// Answered by a machine.
    pub machines: u64,
    /// Rang out.
    pub no_answer: u64,
    /// Busy.
    pub busy: u64,
    /// abandoned ÷ answered over the whole run.
    pub abandon_rate: f64,
    /// Share of the agents' logged-in time spent on calls.
    pub occupancy: f64,
    /// The highest abandon rate the rolling window showed at any live
    /// answer or abandon.
    pub max_window_rate: f64,
    /// Whether the window's rate went over the cap at any moment.
    pub cap_broken: bool,
    /// The longest a connected person waited for an agent, ms.
    pub max_connect_ms: i64,
    /// The shortest an unanswered call rang before the dialer gave up, ms
    /// (0 when none rang out).
    pub min_ring_out_ms: i64,
    /// Calls per agent-hour connected.
    pub connects_per_agent_hour: f64,
}

impl SimReport {
    /// The summary line the command ends with.
    pub fn summary_line(&self) -> String {
        format!(
            "abandon_rate={:.4} occupancy={:.4} calls={} answered={}",
            self.abandon_rate, self.occupancy, self.calls, self.answered
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The decision tick.
    Tick,
    /// A person answers call `id` dialed at `dialed`.
    Answer { id: u64, dialed: i64 },
    /// A machine answers.
    Machine,
    /// Busy.
    Busy,
    /// Rang out after `rang` ms.
    NoAnswer { rang: i64 },
    /// An agent finishes a call of `handle` ms.
    AgentFree { handle: i64 },
    /// Call `id`'s wait for an agent is over.
    WaitOver { id: u64, ring: i64 },
}

/// Draws of the simulation.
struct Draw {
    rng: fastrand::Rng,
}

impl Draw {
    fn normal(&mut self) -> f64 {
        // Box–Muller; 1 − u keeps the log's argument in (0, 1].
        let u = 1.0 - self.rng.f64();
        let v = self.rng.f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
}

/// Runs one simulation.
pub fn simulate(cfg: &SimConfig) -> Result<SimReport, PacerError> {
    let bad = |field: &'static str, message: &str| {
        Err(PacerError {
            field,
            message: message.to_string(),
        })
    };
    if cfg.agents == 0 || cfg.agents > 10_000 {
        return bad("agents", "must be between 1 and 10,000");
    }
    let rates = [cfg.answer_rate, cfg.busy_rate, cfg.machine_rate];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates.iter().sum::<f64>() > 1.0 {
        return bad(
            "answer_rate",
            "the answer, busy and machine rates are shares from 0 to 1 that add up to at most 1",
        );
    }
    if !(cfg.aht_s >= 1.0 && cfg.aht_s <= 36_000.0) {
        return bad("aht", "must be between 1 and 36,000 seconds");
    }
    if !(cfg.minutes > 0.0 && cfg.minutes <= 60.0 * 24.0 * 31.0) {
        return bad("minutes", "must be over 0 and at most 31 days");
    }
    if !(cfg.warmup_minutes >= 0.0 && cfg.warmup_minutes <= 60.0 * 24.0 * 31.0) {
        return bad("warmup_minutes", "must be from 0 to 31 days");
    }
    if !(cfg.answer_s > 0.0 && cfg.answer_s < 300.0) {
        return bad("answer_s", "must be over 0 and under 300 seconds");
    }
    let mut pacer = Pacer::new(cfg.pacer.clone())?;
    let cap_ppm = cfg.pacer.cap_ppm();
    let window_ms = cfg.pacer.window_ms;
    let connect_within = cfg.pacer.connect_within_ms;
    let ring_timeout = cfg.pacer.ring_timeout_ms;
    let start = (cfg.warmup_minutes * 60_000.0) as i64;
    let end = start + (cfg.minutes * 60_000.0) as i64;
    // The part of [at, at + len) within the measured time.
    let measured = |at: i64, len: i64| ((at + len).min(end) - at.max(start)).max(0);
    let sigma_handle = 0.8f64;
    let handle_median = cfg.aht_s * 1000.0 * (-sigma_handle * sigma_handle / 2.0).exp();

    let mut draw = Draw {
        rng: fastrand::Rng::with_seed(cfg.seed),
    };
    let mut queue: BinaryHeap<Reverse<(i64, u64, Event)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BinaryHeap<Reverse<(i64, u64, Event)>>, at: i64, e: Event| {
        seq += 1;
        q.push(Reverse((at, seq, e)));
    };
    push(&mut queue, 0, Event::Tick);

    let mut r = SimReport::default();
    let mut ready = cfg.agents;
    let mut ringing = 0usize;
    // Answered calls waiting for an agent: (id, answered at, ring ms).
    let mut waiting: VecDeque<(u64, i64, i64)> = VecDeque::new();
    let mut still_waiting: HashSet<u64> = HashSet::new();
    let mut busy_ms: i64 = 0;
    // The independent check of the window: (at, abandoned) of every live
    // answer still in it.
    let mut live_log: VecDeque<(i64, bool)> = VecDeque::new();
    let (mut win_live, mut win_abandoned) = (0u64, 0u64);
    let mut next_id = 0u64;

    while let Some(Reverse((now, _, event))) = queue.pop() {
        let mut live_event: Option<bool> = None;
        // Counted in the figures: what happens in the measured time.
        let counts = now >= start;
        let mut tally = SimReport::default();
        match event {
            Event::Tick => {
                if now + 1000 < end {
                    push(&mut queue, now + 1000, Event::Tick);
                }
            }
            Event::Answer { id, dialed } => {
                ringing -= 1;
                let ring = now - dialed;
                if ready > 0 {
                    ready -= 1;
                    tally.connected += 1;
                    pacer.outcome(
                        now,
                        Outcome::Connected {
                            ring_ms: ring,
                            connect_ms: 0,
                        },
                    );
                    let handle = draw.lognormal(handle_median, sigma_handle).max(5_000.0) as i64;
                    busy_ms += measured(now, handle);
                    push(&mut queue, now + handle, Event::AgentFree { handle });
                    live_event = Some(false);
                } else {
                    waiting.push_back((id, now, ring));
                    still_waiting.insert(id);
                    push(
                        &mut queue,
                        now + connect_within,
                        Event::WaitOver { id, ring },
                    );
                }
            }
            Event::WaitOver { id, ring } => {
                if still_waiting.remove(&id) {
                    waiting.retain(|w| w.0 != id);
                    tally.abandoned += 1;
                    pacer.outcome(now, Outcome::Abandoned { ring_ms: ring });
                    live_event = Some(true);
                }
            }
            Event::Machine => {
                ringing -= 1;
                tally.machines += 1;
                pacer.outcome(now, Outcome::Machine);
            }
            Event::Busy => {
                ringing -= 1;
                tally.busy += 1;
                pacer.outcome(now, Outcome::Busy);
            }
            Event::NoAnswer { rang } => {
                ringing -= 1;
                tally.no_answer += 1;
                r.min_ring_out_ms = if r.min_ring_out_ms == 0 {
                    rang
                } else {
                    r.min_ring_out_ms.min(rang)
                };
                pacer.outcome(now, Outcome::NoAnswer);
            }
            Event::AgentFree { handle } => {
                pacer.handled(handle);
                // The oldest waiting person takes the agent at once.
                if let Some((id, answered_at, ring)) = waiting.pop_front() {
                    still_waiting.remove(&id);
                    let connect = now - answered_at;
                    r.max_connect_ms = r.max_connect_ms.max(connect);
                    tally.connected += 1;
                    pacer.outcome(
                        now,
                        Outcome::Connected {
                            ring_ms: ring,
                            connect_ms: connect,
                        },
                    );
                    let handle = draw.lognormal(handle_median, sigma_handle).max(5_000.0) as i64;
                    busy_ms += measured(now, handle);
                    push(&mut queue, now + handle, Event::AgentFree { handle });
                    live_event = Some(false);
                } else {
                    ready += 1;
                }
            }
        }
        if counts {
            r.connected += tally.connected;
            r.abandoned += tally.abandoned;
            r.machines += tally.machines;
            r.busy += tally.busy;
            r.no_answer += tally.no_answer;
        }
        if let Some(abandoned) = live_event {
            live_log.push_back((now, abandoned));
            win_live += 1;
            win_abandoned += u64::from(abandoned);
            while let Some(&(at, a)) = live_log.front() {
                if at > now - window_ms {
                    break;
                }
                live_log.pop_front();
                win_live -= 1;
                win_abandoned -= u64::from(a);
            }
            if win_live > 0 {
                let rate = win_abandoned as f64 / win_live as f64;
                r.max_window_rate = r.max_window_rate.max(rate);
                if !within_cap(win_abandoned, win_live, cap_ppm) {
                    r.cap_broken = true;
                }
            }
        }
        if now >= end {
            continue;
        }
        let snap = Snapshot {
            ready,
            busy: cfg.agents - ready,
            ringing,
            waiting: waiting.len(),
        };
        let decision = pacer.decide(now, &snap);
        for _ in 0..decision.dial {
            next_id += 1;
            if counts {
                r.calls += 1;
            }
            ringing += 1;
            let x = draw.rng.f64();
            if x < cfg.answer_rate {
                let ring =
                    draw.lognormal(cfg.answer_s * 1000.0, 0.5)
                        .clamp(1_000.0, (ring_timeout - 1_000) as f64) as i64;
                push(
                    &mut queue,
                    now + ring,
                    Event::Answer {
                        id: next_id,
                        dialed: now,
                    },
                );
            } else if x < cfg.answer_rate + cfg.machine_rate {
                let ring = draw.lognormal(cfg.answer_s * 1000.0, 0.5).max(1_000.0) as i64;
                push(
                    &mut queue,
                    now + ring.min(ring_timeout - 1_000),
                    Event::Machine,
                );
            } else if x < cfg.answer_rate + cfg.machine_rate + cfg.busy_rate {
                push(
                    &mut queue,
                    now + 1_000 + draw.rng.i64(0..2_000),
                    Event::Busy,
                );
            } else {
                push(
                    &mut queue,
                    now + ring_timeout,
                    Event::NoAnswer { rang: ring_timeout },
                );
            }
        }
    }
    r.answered = r.connected + r.abandoned;
    if r.answered > 0 {
        r.abandon_rate = r.abandoned as f64 / r.answered as f64;
    }
    let staffed = cfg.agents as f64 * (end - start) as f64;
    r.occupancy = (busy_ms as f64 / staffed).min(1.0);
    r.connects_per_agent_hour = r.connected as f64 / (staffed / 3_600_000.0);
    Ok(r)
}

/// The same simulation dialing one call per free agent, for comparison.
pub fn simulate_progressive(cfg: &SimConfig) -> Result<SimReport, PacerError> {
    let mut c = cfg.clone();
    c.pacer.mode = Mode::Progressive;
    simulate(&c)
}
