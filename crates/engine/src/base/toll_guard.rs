//! The toll-fraud guard (a public PBX is attacked within hours of going
//! online): which numbers may be dialled out ([`DialPolicy`]), how many
//! outbound calls one extension and everyone together may have at once
//! ([`TollGuard::admit`]), and an alarm when an extension suddenly dials
//! out far more than it usually does ([`UsageAlarm`], time as an argument).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::base::config::TrunkConfig;

/// Dialled numbers refused unless allowed: `deny_dial` minus `allow_dial`.
#[derive(Clone, Debug, Default)]
pub struct DialPolicy {
    deny: Vec<regex::Regex>,
    allow: Vec<regex::Regex>,
}

impl DialPolicy {
    /// Compiles the two lists; the error names the setting and pattern.
    pub fn new(deny: &[String], allow: &[String]) -> anyhow::Result<DialPolicy> {
        let compile = |list: &[String], name: &str| -> anyhow::Result<Vec<regex::Regex>> {
            list.iter()
                .map(|p| {
                    regex::Regex::new(p).map_err(|e| {
                        anyhow::anyhow!("trunk.{name}: '{p}' is not a valid pattern: {e}")
                    })
                })
                .collect()
        };
        Ok(DialPolicy {
            deny: compile(deny, "deny_dial")?,
            allow: compile(allow, "allow_dial")?,
        })
    }

    /// The deny pattern `number` matches, unless an allow pattern matches
    /// it too.
    pub fn denied_by(&self, number: &str) -> Option<&str> {
        let deny = self.deny.iter().find(|r| r.is_match(number))?;
        if self.allow.iter().any(|r| r.is_match(number)) {
            return None;
        }
        Some(deny.as_str())
    }
}

/// Why an outbound call was refused by the guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The number matches `trunk.deny_dial` (the pattern).
    Denied(String),
    /// The extension has `max_outbound_per_extension` calls out already.
    ExtensionLimit(u32),
    /// `max_outbound_calls` calls are out already.
    TotalLimit(u32),
}

impl Refusal {
    /// The SIP reason phrase of the 403.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Denied(_) => "Destination Not Allowed",
            Refusal::ExtensionLimit(_) => "Too Many Outbound Calls From This Extension",
            Refusal::TotalLimit(_) => "Too Many Outbound Calls",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Denied(p) => write!(f, "the number matches trunk.deny_dial '{p}'"),
            Refusal::ExtensionLimit(n) => {
                write!(
                    f,
                    "{n} outbound calls in progress (trunk.max_outbound_per_extension)"
                )
            }
            Refusal::TotalLimit(n) => {
                write!(
                    f,
                    "{n} outbound calls in progress (trunk.max_outbound_calls)"
                )
            }
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    per_extension: Mutex<HashMap<String, u32>>,
    total: AtomicU32,
}

/// An outbound call's place under the limits, given back on drop.
#[derive(Debug)]
pub struct OutboundSlot {
    counts: Arc<Counts>,
    extension: Option<String>,
}

impl Drop for OutboundSlot {
    fn drop(&mut self) {
        self.counts.total.fetch_sub(1, Relaxed);
        if let Some(ext) = &self.extension {
            if let Ok(mut m) = self.counts.per_extension.lock() {
                if let Some(n) = m.get_mut(ext) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        m.remove(ext);
                    }
                }
            }
        }
    }
}

/// The guard in force (limits and dial policy from `[trunk]`).
#[derive(Debug)]
pub struct TollGuard {
    policy: DialPolicy,
    max_per_extension: u32,
    max_total: u32,
    counts: Arc<Counts>,
    alarm: Mutex<UsageAlarm>,
    /// Outbound calls refused by the guard.
    pub refused: AtomicU64,
    /// Toll-fraud alarms raised.
    pub alarms: AtomicU64,
}

impl TollGuard {
    /// The guard of a `[trunk]` section (its patterns were checked at start).
    pub fn new(cfg: &TrunkConfig) -> TollGuard {
        TollGuard {
            policy: DialPolicy::new(&cfg.deny_dial, &cfg.allow_dial).unwrap_or_default(),
            max_per_extension: cfg.max_outbound_per_extension,
            max_total: cfg.max_outbound_calls,
            counts: Arc::default(),
            alarm: Mutex::new(UsageAlarm::new(cfg.alarm_calls_per_10min)),
            refused: AtomicU64::new(0),
            alarms: AtomicU64::new(0),
        }
    }

    /// Admits an outbound call to `number` from `extension` (None: a
    /// trunk's caller forwarded out, counted in the total only), or says
    /// why not. Also feeds the usage alarm.
    pub fn admit(
        &self,
        extension: Option<&str>,
        number: &str,
        now: Instant,
    ) -> Result<OutboundSlot, Refusal> {
        let refused = |r: Refusal| {
            self.refused.fetch_add(1, Relaxed);
            Err(r)
        };
        if let Some(p) = self.policy.denied_by(number) {
            return refused(Refusal::Denied(p.to_string()));
        }
        let total = self.counts.total.fetch_add(1, Relaxed) + 1;
        if self.max_total > 0 && total > self.max_total {
            self.counts.total.fetch_sub(1, Relaxed);
            return refused(Refusal::TotalLimit(self.max_total));
        }
        if let Some(ext) = extension {
            let over = match self.counts.per_extension.lock() {
                Ok(mut m) => {
                    let n = m.entry(ext.to_string()).or_insert(0);
                    if self.max_per_extension > 0 && *n >= self.max_per_extension {
                        true
                    } else {
                        *n += 1;
                        false
                    }
                }
                Err(_) => false,
            };
            if over {
                self.counts.total.fetch_sub(1, Relaxed);
                return refused(Refusal::ExtensionLimit(self.max_per_extension));
            }
            let alarm = self.alarm.lock().ok().and_then(|mut a| a.record(ext, now));
            if let Some(a) = alarm {
                self.alarms.fetch_add(1, Relaxed);
                tracing::warn!(
                    "toll-fraud alarm: extension {ext} placed {} outbound calls in 10 minutes \
                     (usually {:.1}); the last to {number}",
                    a.recent,
                    a.usual
                );
            }
        }
        Ok(OutboundSlot {
            counts: self.counts.clone(),
            extension: extension.map(str::to_string),
        })
    }

    /// Outbound calls in progress.
    pub fn in_progress(&self) -> u32 {
        self.counts.total.load(Relaxed)
    }
}

/// The length of one usage window.
const WINDOW: Duration = Duration::from_secs(600);
/// Windows kept per extension: one day.
const WINDOWS: usize = 144;
/// How many times its usual rate an extension must exceed.
const FACTOR: f64 = 5.0;

/// An extension's outbound calls per 10-minute window over the last day.
#[derive(Debug)]
struct Usage {
    /// Start of the newest window.
    start: Instant,
    /// Calls per window, newest last.
    windows: VecDeque<u32>,
    /// The alarm was raised in the newest window (once per window).
    raised: bool,
}

/// What an alarm found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alarm {
    /// Calls in the current 10 minutes.
    pub recent: u32,
    /// The extension's usual calls per 10 minutes (average of the day's
    /// earlier windows).
    pub usual: f64,
}

/// Counts each extension's outbound calls per 10 minutes and raises an
/// alarm, once per window, when one places more than `threshold` and more
/// than five times its own average.
#[derive(Debug)]
pub struct UsageAlarm {
    threshold: u32,
    by_extension: HashMap<String, Usage>,
}

impl UsageAlarm {
    /// An alarm at `threshold` calls per 10 minutes (0: never).
    pub fn new(threshold: u32) -> UsageAlarm {
        UsageAlarm {
            threshold,
            by_extension: HashMap::new(),
        }
    }

    /// Counts a call of `extension` at `now`; the alarm when it is raised.
    pub fn record(&mut self, extension: &str, now: Instant) -> Option<Alarm> {
        if self.threshold == 0 {
            return None;
        }
        let u = self
            .by_extension
            .entry(extension.to_string())
            .or_insert_with(|| Usage {
                start: now,
                windows: VecDeque::from([0]),
                raised: false,
            });
        while now.saturating_duration_since(u.start) >= WINDOW {
            u.start += WINDOW;
            u.windows.push_back(0);
            u.raised = false;
            if u.windows.len() > WINDOWS {
                u.windows.pop_front();
            }
        }
        let recent = match u.windows.back_mut() {
            Some(n) => {
                *n += 1;
                *n
            }
            None => return None,
        };
        let earlier = u.windows.len() - 1;
        let usual = if earlier == 0 {
            0.0
        } else {
            f64::from(u.windows.iter().take(earlier).sum::<u32>()) / earlier as f64
        };
        if u.raised || recent <= self.threshold || f64::from(recent) <= usual * FACTOR {
            return None;
        }
        u.raised = true;
        Some(Alarm { recent, usual })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(per_ext: u32, total: u32) -> TrunkConfig {
        TrunkConfig {
            max_outbound_per_extension: per_ext,
            max_outbound_calls: total,
            ..TrunkConfig::default()
        }
    }

    #[test]
    fn international_numbers_are_denied_by_default_unless_allowed() {
        let p = DialPolicy::new(&cfg(0, 0).deny_dial, &["^0044".to_string()]).unwrap();
        assert_eq!(p.denied_by("0086123"), Some("^00"));
        assert_eq!(p.denied_by("+8613800138000"), Some(r"^\+"));
        assert_eq!(p.denied_by("0044207"), None);
        assert_eq!(p.denied_by("13800138000"), None);
        assert!(DialPolicy::new(&["(".to_string()], &[]).is_err());
    }

    #[test]
    fn the_extension_and_total_limits_hold_and_free_on_drop() {
        let g = TollGuard::new(&cfg(2, 3));
        let now = Instant::now();
        let a = g.admit(Some("1000"), "555", now).unwrap();
        let _b = g.admit(Some("1000"), "555", now).unwrap();
        assert_eq!(
            g.admit(Some("1000"), "555", now).unwrap_err(),
            Refusal::ExtensionLimit(2)
        );
        let _c = g.admit(Some("1001"), "555", now).unwrap();
        assert_eq!(
            g.admit(Some("1002"), "555", now).unwrap_err(),
            Refusal::TotalLimit(3)
        );
        drop(a);
        let _d = g.admit(Some("1000"), "555", now).unwrap();
        assert_eq!(g.in_progress(), 3);
        assert_eq!(g.refused.load(Relaxed), 2);
        assert!(matches!(
            g.admit(Some("1003"), "00123", now),
            Err(Refusal::Denied(_))
        ));
    }

    #[test]
    fn the_alarm_rises_once_when_an_extension_dials_far_more_than_usual() {
        let mut a = UsageAlarm::new(10);
        let t0 = Instant::now();
        // A day of 3 calls per 10 minutes.
        for w in 0..100u32 {
            for c in 0..3u32 {
                let at = t0 + WINDOW * w + Duration::from_secs(u64::from(c));
                assert_eq!(a.record("1000", at), None);
            }
        }
        // 15 calls in the next window: above 10 but not 5 x 3.
        let w = t0 + WINDOW * 100;
        for c in 0..15u32 {
            assert_eq!(
                a.record("1000", w + Duration::from_secs(u64::from(c))),
                None
            );
        }
        // 40 in the one after: the alarm, once.
        let w = t0 + WINDOW * 101;
        let raised: Vec<Alarm> = (0..40u32)
            .filter_map(|c| a.record("1000", w + Duration::from_secs(u64::from(c))))
            .collect();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].recent, 16);
        assert!(
            raised[0].usual > 2.9 && raised[0].usual < 3.2,
            "{:?}",
            raised[0]
        );
        assert_eq!(UsageAlarm::new(0).record("1000", w), None);
    }
}
