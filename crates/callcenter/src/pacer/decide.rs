//! The pacer proper: its settings, what the engine tells it and how many
//! calls it asks for.

use serde::{Deserialize, Serialize};

use super::compliance::{CONNECT_WITHIN_MS, MIN_RING_MS};
use super::estimate::Estimates;
use super::window::{AbandonWindow, PPM};

/// How a campaign dials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One call per free agent ("1:1", power or progressive dialing): no
    /// call can be abandoned.
    Progressive,
    /// More calls than free agents, within the abandon cap.
    Predictive,
}

/// A campaign's pacing settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PacerConfig {
    /// Progressive or predictive.
    pub mode: Mode,
    /// The abandon cap: abandons over live answers in the window, as a
    /// fraction (0.03 is 3 %).
    pub abandon_cap: f64,
    /// The rolling window the cap is measured over (30 days by default, as
    /// the Telemarketing Sales Rule; Ofcom's is 24 hours).
    pub window_ms: i64,
    /// Live answers that leave the window within this time do not back an
    /// abandon risked now (so the rate stays under the cap while old
    /// answers age out, as long as the campaign keeps dialing).
    pub lookahead_ms: i64,
    /// The expected abandon share the pacer aims at, as a part of the cap:
    /// 0.8 aims at 2.4 % under a 3 % cap.
    pub margin: f64,
    /// How long an answered call may wait for an agent before it gets the
    /// recorded message and counts as abandoned (2 s by rule).
    pub connect_within_ms: i64,
    /// How long an unanswered call rings before the dialer gives up (at
    /// least 15 s by rule).
    pub ring_timeout_ms: i64,
    /// Most calls in flight per staffed agent.
    pub max_lines_per_agent: f64,
    /// The live-answer rate assumed until calls are measured.
    pub prior_answer_rate: f64,
    /// The time to answer assumed until calls are measured.
    pub prior_answer_ms: i64,
    /// The handle time assumed until calls are measured.
    pub prior_handle_ms: i64,
}

impl Default for PacerConfig {
    fn default() -> PacerConfig {
        PacerConfig {
            mode: Mode::Predictive,
            abandon_cap: 0.03,
            window_ms: 30 * 86_400_000,
            lookahead_ms: 3_600_000,
            margin: 0.8,
            connect_within_ms: CONNECT_WITHIN_MS,
            ring_timeout_ms: 25_000,
            max_lines_per_agent: 3.0,
            prior_answer_rate: 0.3,
            prior_answer_ms: 8_000,
            prior_handle_ms: 120_000,
        }
    }
}

/// A setting the pacer refuses, with the field it names.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PacerError {
    /// The setting's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl PacerConfig {
    /// Checks the settings against their ranges and the rules.
    pub fn validate(&self) -> Result<(), PacerError> {
        let bad = |field: &'static str, message: String| Err(PacerError { field, message });
        if !(self.abandon_cap > 0.0 && self.abandon_cap <= 0.5) {
            return bad(
                "abandon_cap",
                "must be over 0 and at most 0.5 (50 %)".into(),
            );
        }
        if self.window_ms < 60_000 {
            return bad("window_ms", "must be at least a minute".into());
        }
        if !(0..=self.window_ms).contains(&self.lookahead_ms) {
            return bad("lookahead_ms", "must be between 0 and the window".into());
        }
        if !(self.margin > 0.0 && self.margin <= 1.0) {
            return bad("margin", "must be over 0 and at most 1".into());
        }
        if !(1..=CONNECT_WITHIN_MS).contains(&self.connect_within_ms) {
            return bad(
                "connect_within_ms",
                format!("must be between 1 and {CONNECT_WITHIN_MS} ms (the 2-second rule)"),
            );
        }
        if !(MIN_RING_MS..=300_000).contains(&self.ring_timeout_ms) {
            return bad(
                "ring_timeout_ms",
                format!("must be between {MIN_RING_MS} ms (the 15-second rule) and 300,000 ms"),
            );
        }
        if !(self.max_lines_per_agent >= 1.0 && self.max_lines_per_agent <= 20.0) {
            return bad("max_lines_per_agent", "must be between 1 and 20".into());
        }
        if !(self.prior_answer_rate > 0.0 && self.prior_answer_rate <= 1.0) {
            return bad("prior_answer_rate", "must be over 0 and at most 1".into());
        }
        if self.prior_answer_ms < 0 || self.prior_handle_ms <= 0 {
            return bad("prior_handle_ms", "times must be positive".into());
        }
        Ok(())
    }

    /// The cap in parts per million.
    pub fn cap_ppm(&self) -> u64 {
        (self.abandon_cap.clamp(0.0, 1.0) * PPM as f64).round() as u64
    }
}

/// How a dialed call ended for the pacer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A person answered `ring_ms` after the dial and an agent took the
    /// call `connect_ms` after the answer.
    Connected {
        /// Dial to answer.
        ring_ms: i64,
        /// Answer to agent.
        connect_ms: i64,
    },
    /// A person answered `ring_ms` after the dial and no agent was free
    /// within the connect limit: the recorded message played.
    Abandoned {
        /// Dial to answer.
        ring_ms: i64,
    },
    /// An answering machine (detected, or marked by the agent).
    Machine,
    /// Rang out unanswered.
    NoAnswer,
    /// Busy.
    Busy,
    /// The gateway or the network failed the call (not the callee): the
    /// pacer backs off.
    Failed,
}

/// What the engine sees when it asks how many to dial.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Agents logged in to the campaign and free.
    pub ready: usize,
    /// Agents on a call of the campaign or in its wrap-up.
    pub busy: usize,
    /// Calls dialed and not answered yet.
    pub ringing: usize,
    /// Calls a person answered that wait for an agent (at most the connect
    /// limit).
    pub waiting: usize,
}

/// What bounded a decision: shown on the activity's page.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "limit", rename_all = "snake_case")]
pub enum Limit {
    /// No agent is logged in.
    NoAgents,
    /// Progressive: one call per free agent.
    FreeAgents,
    /// The abandon budget of the window: `budget` more calls may go
    /// unmatched by a free agent.
    Budget {
        /// Calls that may still go unmatched.
        budget: u64,
    },
    /// The expected abandon share reached the target.
    Target {
        /// The expected share of the calls in flight that would go
        /// unmatched, with one more call.
        expected: f64,
    },
    /// Most calls in flight per agent.
    MaxLines,
    /// The gateway failed the last calls: no dialing until `until_ms`.
    Backoff {
        /// Failures in a row.
        failures: u32,
        /// When dialing resumes.
        until_ms: i64,
    },
}

/// How many calls to dial now, and why not more.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// Calls to dial now.
    pub dial: usize,
    /// What stopped it at that.
    pub limit: Limit,
}

/// The predictive pacer of one campaign (see the module doc).
#[derive(Clone, Debug)]
pub struct Pacer {
    config: PacerConfig,
    cap_ppm: u64,
    window: AbandonWindow,
    estimates: Estimates,
    failures: u32,
    backoff_until_ms: i64,
}

/// The first back-off after a failed call; doubled per failure in a row.
const BACKOFF_FIRST_MS: i64 = 1_000;
/// The longest back-off.
const BACKOFF_MAX_MS: i64 = 60_000;

impl Pacer {
    /// A pacer with `config` (checked) and an empty window.
    pub fn new(config: PacerConfig) -> Result<Pacer, PacerError> {
        config.validate()?;
        // One-minute buckets, fewer for a short window.
        let bucket = (config.window_ms / 60).clamp(1, 60_000);
        Ok(Pacer {
            cap_ppm: config.cap_ppm(),
            window: AbandonWindow::new(config.window_ms, bucket),
            estimates: Estimates::new(
                config.prior_answer_rate,
                config.prior_answer_ms as f64,
                config.prior_handle_ms as f64,
            ),
            config,
            failures: 0,
            backoff_until_ms: i64::MIN,
        })
    }

    /// Its settings.
    pub fn config(&self) -> &PacerConfig {
        &self.config
    }

    /// The campaign's window: live answers and abandons so far (e.g. read
    /// back from the records after a restart, through [`Pacer::record`]).
    pub fn window(&mut self) -> &mut AbandonWindow {
        &mut self.window
    }

    /// Counts a live answer or abandon of the past at `at_ms` (restoring
    /// the window from the records) without touching the estimates.
    pub fn record(&mut self, at_ms: i64, abandoned: bool) {
        self.window.record(at_ms, abandoned);
    }

    /// The measured live-answer rate.
    pub fn answer_rate(&self) -> f64 {
        self.estimates.live_rate.value()
    }

    /// The measured handle time, ms.
    pub fn handle_ms(&self) -> f64 {
        self.estimates.handle_ms.value()
    }

    /// Tells the pacer how a call it asked for ended at `now_ms`.
    pub fn outcome(&mut self, now_ms: i64, outcome: Outcome) {
        if outcome == Outcome::Failed {
            self.failures = self.failures.saturating_add(1);
            let shift = (self.failures - 1).min(10);
            let wait = (BACKOFF_FIRST_MS << shift).min(BACKOFF_MAX_MS);
            self.backoff_until_ms = now_ms + wait;
            return;
        }
        self.failures = 0;
        let live = matches!(
            outcome,
            Outcome::Connected { .. } | Outcome::Abandoned { .. }
        );
        self.estimates.live_rate.add(if live { 1.0 } else { 0.0 });
        match outcome {
            Outcome::Connected { ring_ms, .. } => {
                self.estimates.answer_ms.add(ring_ms as f64);
                self.window.record(now_ms, false);
            }
            Outcome::Abandoned { ring_ms } => {
                self.estimates.answer_ms.add(ring_ms as f64);
                self.window.record(now_ms, true);
            }
            _ => {}
        }
    }

    /// Tells the pacer an agent finished a call of the campaign after
    /// `handle_ms` (talk and wrap-up).
    pub fn handled(&mut self, handle_ms: i64) {
        if handle_ms > 0 {
            self.estimates.handle_ms.add(handle_ms as f64);
        }
    }

    /// How many calls to dial at `now_ms` given `snap`.
    pub fn decide(&mut self, now_ms: i64, snap: &Snapshot) -> Decision {
        let staffed = snap.ready + snap.busy;
        if staffed == 0 {
            return Decision {
                dial: 0,
                limit: Limit::NoAgents,
            };
        }
        if now_ms < self.backoff_until_ms {
            return Decision {
                dial: 0,
                limit: Limit::Backoff {
                    failures: self.failures,
                    until_ms: self.backoff_until_ms,
                },
            };
        }
        let in_flight = snap.ringing + snap.waiting;
        let free_cover = snap.ready.saturating_sub(in_flight);
        if self.config.mode == Mode::Progressive {
            return Decision {
                dial: free_cover,
                limit: Limit::FreeAgents,
            };
        }
        let max_lines = ((staffed as f64) * self.config.max_lines_per_agent).floor() as usize;
        let by_lines = max_lines.saturating_sub(in_flight);
        // The hard budget: calls not matched by a free agent now.
        let budget = self
            .window
            .budget(now_ms, self.cap_ppm, self.config.lookahead_ms);
        let exposed = in_flight.saturating_sub(snap.ready) as u64;
        let room = budget.saturating_sub(exposed);
        let by_budget = free_cover.saturating_add(usize::try_from(room).unwrap_or(usize::MAX));
        let hard = by_budget.min(by_lines);
        // The expected-rate target, adjusted by how the window stands.
        let target = self.target(now_ms);
        let model = Model::new(self, snap);
        let mut lo = free_cover.min(hard);
        let mut hi = hard;
        // The largest n in [lo, hi] whose expected share is on target:
        // the share grows with n, so a binary search finds it.
        if model.expected_share(snap.ringing + hi) <= target {
            lo = hi;
        } else {
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if model.expected_share(snap.ringing + mid) <= target {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
        }
        let dial = lo;
        let limit = if dial == by_lines && by_lines <= by_budget {
            Limit::MaxLines
        } else if dial == by_budget {
            Limit::Budget { budget }
        } else {
            Limit::Target {
                expected: model.expected_share(snap.ringing + dial + 1),
            }
        };
        Decision { dial, limit }
    }

    /// The expected abandon share aimed at: `margin × cap`, moved by as
    /// much as the window's measured rate is off it (the model is
    /// pessimistic: it has every ringing call answer at once, while real
    /// answers spread over the ring), never above the cap. The hard budget
    /// holds the cap whatever the target.
    fn target(&mut self, now_ms: i64) -> f64 {
        let aim = self.config.margin * self.config.abandon_cap;
        let measured = self.window.rate(now_ms);
        (2.0 * aim - measured).clamp(0.0, self.config.abandon_cap)
    }
}

/// The probabilities one decision is made on.
struct Model {
    /// Chance a ringing call is answered by a person.
    p: f64,
    /// Free agents left for the ringing calls (the waiting ones come
    /// first).
    free: i64,
    /// The distribution of busy agents that free up by the time calls
    /// answer.
    freed: Vec<f64>,
}

impl Model {
    fn new(pacer: &Pacer, snap: &Snapshot) -> Model {
        let p = pacer.estimates.live_rate.value().clamp(0.0, 1.0);
        let horizon =
            pacer.estimates.answer_ms.value().max(0.0) + pacer.config.connect_within_ms as f64;
        let handle = pacer.estimates.handle_ms.value().max(1.0);
        // Memoryless handle times: each busy agent frees within the
        // horizon with the same chance, whatever it has spent already.
        let q = 1.0 - (-horizon / handle).exp();
        Model {
            p,
            free: snap.ready as i64 - snap.waiting as i64,
            freed: binomial(snap.busy, q),
        }
    }

    /// The expected share of `calls` ringing calls that a person answers
    /// and no agent takes: E[max(0, answered − agents)] ÷ E[answered].
    fn expected_share(&self, calls: usize) -> f64 {
        if calls == 0 || self.p <= 0.0 {
            return 0.0;
        }
        let answered = binomial(calls, self.p);
        // excess[k] = E[max(0, X − k)] for k = 0..=calls, from the tail
        // sums of X's distribution: E[(X − k)+] = Σ_{j>k} P(X ≥ j).
        let mut tail = vec![0.0; calls + 2];
        for j in (0..=calls).rev() {
            tail[j] = tail[j + 1] + answered[j];
        }
        let mut excess = vec![0.0; calls + 2];
        for k in (0..=calls).rev() {
            excess[k] = excess[k + 1] + tail[k + 1];
        }
        let mean = calls as f64 * self.p;
        let excess_over = |agents: i64| -> f64 {
            if agents <= 0 {
                // E[(X − a)+] = E[X] − a for a ≤ 0 (X is never negative).
                mean - agents as f64
            } else {
                usize::try_from(agents)
                    .ok()
                    .and_then(|a| excess.get(a).copied())
                    .unwrap_or(0.0)
            }
        };
        let lost: f64 = self
            .freed
            .iter()
            .enumerate()
            .map(|(y, py)| py * excess_over(self.free + y as i64))
            .sum();
        (lost / mean).clamp(0.0, 1.0)
    }
}

/// The distribution of Binomial(n, p) as n + 1 probabilities, in log space
/// so that hundreds of trials do not underflow.
pub(crate) fn binomial(n: usize, p: f64) -> Vec<f64> {
    let mut out = vec![0.0; n + 1];
    if p <= 0.0 {
        out[0] = 1.0;
        return out;
    }
    if p >= 1.0 {
        out[n] = 1.0;
        return out;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut ln_choose = 0.0f64;
    for (k, slot) in out.iter_mut().enumerate() {
        if k > 0 {
            ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
        }
        *slot = (ln_choose + k as f64 * lp + (n - k) as f64 * lq).exp();
    }
    out
}
