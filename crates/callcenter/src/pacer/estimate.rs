//! The measured figures the pacer bets on: how often a person answers,
//! how long they take to, and how long an agent spends on a call.

/// A mean that starts from a prior worth `prior_weight` samples, is the
/// plain mean while there are few samples and then follows the last
/// `memory` samples (an exponential moving average), so that a campaign
/// whose answer rate drops in the evening is followed within minutes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunningMean {
    value: f64,
    weight: f64,
    memory: f64,
}

impl RunningMean {
    pub(crate) fn new(prior: f64, prior_weight: f64, memory: f64) -> RunningMean {
        RunningMean {
            value: prior,
            weight: prior_weight.max(0.0),
            memory: memory.max(1.0),
        }
    }

    pub(crate) fn add(&mut self, sample: f64) {
        if !sample.is_finite() {
            return;
        }
        self.weight = (self.weight + 1.0).min(self.memory);
        self.value += (sample - self.value) / self.weight;
    }

    pub(crate) fn value(&self) -> f64 {
        self.value
    }
}

/// The pacer's estimates of one campaign.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Estimates {
    /// Share of finished attempts a person answered (connected or
    /// abandoned); gateway failures do not count.
    pub live_rate: RunningMean,
    /// Milliseconds from the dial to a person's answer.
    pub answer_ms: RunningMean,
    /// Milliseconds an agent spends on a call, talk and wrap-up.
    pub handle_ms: RunningMean,
}

impl Estimates {
    pub(crate) fn new(answer_rate: f64, answer_ms: f64, handle_ms: f64) -> Estimates {
        Estimates {
            // Worth 20 attempts: the first few outcomes do not swing it.
            live_rate: RunningMean::new(answer_rate, 20.0, 300.0),
            answer_ms: RunningMean::new(answer_ms, 5.0, 200.0),
            handle_ms: RunningMean::new(handle_ms, 5.0, 200.0),
        }
    }
}
