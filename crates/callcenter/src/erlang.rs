//! Erlang C staffing (issue 17, service-level figures): how many agents a
//! queue needs so that a share of its calls is answered within a target
//! time, from a forecast of calls per interval and the average handle time.
//!
//! The model is Erlang C (M/M/N: Poisson arrivals, exponential handle
//! times, callers wait without abandoning): with traffic `A = λ·AHT`
//! Erlangs on `N > A` agents, the probability that a caller waits is
//! `C(N, A) = N·B / (N − A·(1 − B))` with `B` the Erlang B blocking
//! probability, computed by its recursion `B(0) = 1`,
//! `B(n) = A·B(n−1) / (n + A·B(n−1))`, which stays exact where the
//! textbook sum of `Aⁿ/n!` overflows (hundreds of agents). Then the
//! service level is `1 − C·e^(−(N−A)·T/AHT)` and the average speed of
//! answer `C·AHT/(N−A)`. Pure functions: no I/O, no clock.

use serde::Serialize;

/// Most agents the calculator considers: beyond it a forecast is a typo.
pub const MAX_AGENTS: u32 = 100_000;

/// The Erlang B blocking probability of `traffic` Erlangs on `agents`
/// servers (a lost-calls system). 1 for zero agents.
pub fn erlang_b(traffic: f64, agents: u32) -> f64 {
    let mut b = 1.0;
    for n in 1..=agents {
        b = traffic * b / (f64::from(n) + traffic * b);
    }
    b
}

/// The Erlang C probability that a caller has to wait, for `traffic`
/// Erlangs on `agents` agents; 1 when the agents cannot carry the traffic
/// (`agents <= traffic`: the queue grows without end).
pub fn erlang_c(traffic: f64, agents: u32) -> f64 {
    let n = f64::from(agents);
    if n <= traffic || traffic <= 0.0 {
        return if traffic <= 0.0 { 0.0 } else { 1.0 };
    }
    c_from_b(traffic, agents, erlang_b(traffic, agents))
}

/// Erlang C from the Erlang B value `b` of the same traffic and agents
/// (`agents > traffic > 0`).
fn c_from_b(traffic: f64, agents: u32, b: f64) -> f64 {
    let n = f64::from(agents);
    (n * b / (n - traffic * (1.0 - b))).clamp(0.0, 1.0)
}

/// What `agents` agents give for a forecast (see [`Forecast`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Staffing {
    /// Agents.
    pub agents: u32,
    /// Traffic offered, in Erlangs (calls per second × AHT).
    pub traffic_erlangs: f64,
    /// Probability that a caller waits at all.
    pub probability_wait: f64,
    /// Share of calls answered within the target time, 0 to 1.
    pub service_level: f64,
    /// Average speed of answer over all calls, seconds.
    pub asa_s: f64,
    /// Share of the agents' time spent on calls, 0 to 1.
    pub occupancy: f64,
}

/// A forecast and a target: what the calculator is asked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forecast {
    /// Calls expected in one interval.
    pub calls_per_interval: f64,
    /// The interval's length, seconds (e.g. 1800 for half an hour).
    pub interval_s: f64,
    /// Average handle time (talk, hold and after-call work), seconds.
    pub aht_s: f64,
    /// Service-level target: the share of calls answered within
    /// `target_s`, 0 to 1 (0.8 for 80 %).
    pub target_sl: f64,
    /// The target's answer time, seconds (20 in "80/20").
    pub target_s: f64,
}

/// Why a forecast cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadForecast {
    /// The parameter at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: &'static str,
}

impl Forecast {
    /// Checks the forecast: every figure finite and in range.
    pub fn check(&self) -> Result<(), BadForecast> {
        let bad = |field, message| Err(BadForecast { field, message });
        let ok = |v: f64| v.is_finite();
        if !ok(self.calls_per_interval) || self.calls_per_interval < 0.0 {
            return bad("calls_per_interval", "a number of calls, 0 or more");
        }
        if !ok(self.interval_s) || self.interval_s <= 0.0 {
            return bad("interval_s", "the interval in seconds, more than 0");
        }
        if !ok(self.aht_s) || self.aht_s <= 0.0 {
            return bad("aht_s", "the average handle time in seconds, more than 0");
        }
        if !ok(self.target_sl) || self.target_sl <= 0.0 || self.target_sl >= 1.0 {
            return bad(
                "target_sl",
                "a share above 0 and below 1 (0.8), or a percentage (80)",
            );
        }
        if !ok(self.target_s) || self.target_s < 0.0 {
            return bad("target_s", "the answer time in seconds, 0 or more");
        }
        if self.traffic() > f64::from(MAX_AGENTS) / 2.0 {
            return bad(
                "calls_per_interval",
                "more traffic than this calculator staffs",
            );
        }
        Ok(())
    }

    /// Offered traffic in Erlangs.
    pub fn traffic(&self) -> f64 {
        self.calls_per_interval / self.interval_s * self.aht_s
    }

    /// What `agents` agents give for this forecast.
    pub fn with_agents(&self, agents: u32) -> Staffing {
        self.staffing(agents, erlang_c(self.traffic(), agents))
    }

    /// What `agents` agents give, `c` being their Erlang C.
    fn staffing(&self, agents: u32, c: f64) -> Staffing {
        let a = self.traffic();
        let n = f64::from(agents);
        let (service_level, asa_s) = if a <= 0.0 {
            (1.0, 0.0)
        } else if n <= a {
            (0.0, f64::INFINITY)
        } else {
            (
                (1.0 - c * (-(n - a) * self.target_s / self.aht_s).exp()).clamp(0.0, 1.0),
                c * self.aht_s / (n - a),
            )
        };
        Staffing {
            agents,
            traffic_erlangs: a,
            probability_wait: c,
            service_level,
            asa_s,
            occupancy: if agents == 0 { 0.0 } else { (a / n).min(1.0) },
        }
    }

    /// The fewest agents that meet the target, with what they give.
    pub fn needed(&self) -> Result<Staffing, BadForecast> {
        self.check()?;
        let a = self.traffic();
        if a <= 0.0 {
            return Ok(self.with_agents(0));
        }
        // Fewer than A agents never keep up; the service level grows with
        // every agent above it, so the first that meets the target is it.
        // Erlang B is carried from one agent count to the next by its
        // recursion: one step per agent, not a fresh O(N) sum each time
        // (which made a large forecast quadratic).
        let mut n = (a.floor() as u32).saturating_add(1);
        let mut b = erlang_b(a, n);
        while n <= MAX_AGENTS {
            let s = self.staffing(n, c_from_b(a, n, b));
            if s.service_level >= self.target_sl {
                return Ok(s);
            }
            n += 1;
            b = a * b / (f64::from(n) + a * b);
        }
        Err(BadForecast {
            field: "calls_per_interval",
            message: "more traffic than this calculator staffs",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    /// Erlang B against published traffic tables (blocking probability
    /// for A Erlangs on N circuits).
    #[test]
    fn erlang_b_matches_the_published_tables() {
        for (a, n, table) in [
            (2.0, 5, 0.0367),
            (5.0, 10, 0.0184),
            (10.0, 10, 0.2146),
            (15.0, 20, 0.0456),
            (0.5, 1, 0.3333),
        ] {
            let b = erlang_b(a, n);
            assert!(
                close(b, table, 0.00006),
                "B({a} E, {n}) = {b}, table {table}"
            );
        }
        assert_eq!(erlang_b(3.0, 0), 1.0);
    }

    /// Erlang C against the published table for 10 Erlangs (the chance
    /// a caller waits) and against the textbook formula summed directly.
    #[test]
    fn erlang_c_matches_the_table_and_the_direct_sum() {
        for (n, table) in [
            (11, 0.6821),
            (12, 0.4494),
            (13, 0.2853),
            (14, 0.1741),
            (15, 0.1020),
        ] {
            let c = erlang_c(10.0, n);
            assert!(
                close(c, table, 0.00006),
                "C(10 E, {n}) = {c}, table {table}"
            );
        }
        let direct = |a: f64, n: u32| {
            let mut term = 1.0;
            let mut sum = 0.0;
            for k in 0..n {
                sum += term;
                term *= a / f64::from(k + 1);
            }
            let top = term * f64::from(n) / (f64::from(n) - a);
            top / (sum + top)
        };
        for (a, n) in [(3.5, 5), (42.0, 50), (120.0, 131)] {
            assert!(close(erlang_c(a, n), direct(a, n), 1e-9), "A={a} N={n}");
        }
        // Too few agents: everybody waits; no traffic: nobody does.
        assert_eq!(erlang_c(10.0, 10), 1.0);
        assert_eq!(erlang_c(10.0, 7), 1.0);
        assert_eq!(erlang_c(0.0, 3), 0.0);
        // Hundreds of agents stay finite (the direct sum overflows there).
        let big = erlang_c(900.0, 950);
        assert!(big.is_finite() && big > 0.0 && big < 0.5, "{big}");
    }

    /// The classic worked example: 100 calls per half hour, 3-minute AHT
    /// (10 Erlangs), 80 % within 20 s: 13 agents give 79.6 %, so 14,
    /// which give 88.8 % with an ASA of 7.8 s and 71 % occupancy.
    #[test]
    fn the_staffing_example_needs_fourteen_agents() {
        let f = Forecast {
            calls_per_interval: 100.0,
            interval_s: 1800.0,
            aht_s: 180.0,
            target_sl: 0.8,
            target_s: 20.0,
        };
        assert!(close(f.traffic(), 10.0, 1e-12));
        let thirteen = f.with_agents(13);
        assert!(
            close(thirteen.service_level, 0.7956, 0.0001),
            "{thirteen:?}"
        );
        let s = f.needed().unwrap();
        assert_eq!(s.agents, 14);
        assert!(close(s.service_level, 0.8884, 0.0001), "{s:?}");
        assert!(close(s.asa_s, 7.8, 0.05), "{s:?}");
        assert!(close(s.occupancy, 10.0 / 14.0, 1e-12));
        // A stricter target needs more; no calls need nobody.
        let strict = Forecast {
            target_sl: 0.95,
            ..f
        }
        .needed()
        .unwrap();
        assert_eq!(strict.agents, 16);
        let none = Forecast {
            calls_per_interval: 0.0,
            ..f
        }
        .needed()
        .unwrap();
        assert_eq!((none.agents, none.service_level), (0, 1.0));
        // At or below the traffic, the queue never empties.
        let ten = f.with_agents(10);
        assert_eq!((ten.service_level, ten.asa_s), (0.0, f64::INFINITY));
    }

    /// The stepped search gives what each agent count computed afresh
    /// gives, also for a large forecast.
    #[test]
    fn the_stepped_search_agrees_with_fresh_computation() {
        for calls in [3.0, 100.0, 2500.0, 40_000.0] {
            let f = Forecast {
                calls_per_interval: calls,
                interval_s: 1800.0,
                aht_s: 180.0,
                target_sl: 0.8,
                target_s: 20.0,
            };
            let s = f.needed().unwrap();
            assert_eq!(s, f.with_agents(s.agents), "{calls}");
            assert!(f.with_agents(s.agents - 1).service_level < 0.8, "{calls}");
        }
    }

    #[test]
    fn bad_forecasts_name_their_field() {
        let f = Forecast {
            calls_per_interval: 100.0,
            interval_s: 1800.0,
            aht_s: 180.0,
            target_sl: 0.8,
            target_s: 20.0,
        };
        for (bad, field) in [
            (
                Forecast {
                    calls_per_interval: -1.0,
                    ..f
                },
                "calls_per_interval",
            ),
            (
                Forecast {
                    calls_per_interval: f64::NAN,
                    ..f
                },
                "calls_per_interval",
            ),
            (
                Forecast {
                    interval_s: 0.0,
                    ..f
                },
                "interval_s",
            ),
            (Forecast { aht_s: -3.0, ..f }, "aht_s"),
            (
                Forecast {
                    target_sl: 1.0,
                    ..f
                },
                "target_sl",
            ),
            (
                Forecast {
                    target_sl: 0.0,
                    ..f
                },
                "target_sl",
            ),
            (
                Forecast {
                    target_s: -1.0,
                    ..f
                },
                "target_s",
            ),
            (
                Forecast {
                    calls_per_interval: 1e12,
                    ..f
                },
                "calls_per_interval",
            ),
        ] {
            assert_eq!(bad.needed().unwrap_err().field, field, "{bad:?}");
        }
    }
}
