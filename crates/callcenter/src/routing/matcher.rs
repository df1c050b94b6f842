//! Matching a dialled number against the table: rules in order, the first
//! enabled rule that matches and is in effect wins.

use super::schedule::HoursCheck;
use super::table::{CompiledAfterHours, CompiledKind, CompiledRule, Matcher, RouteTable};
use super::template::Captured;
use chrono::{DateTime, FixedOffset};
use std::fmt;

/// What the winning rule says happens to the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ring this local extension (basic rule).
    Extension(String),
    /// Route this internal number again (inbound rule in office hours, e.g.
    /// the IVR's short number 200); see [`RouteTable::resolve`].
    Internal(String),
    /// Put the call in this queue.
    Queue(String),
    /// Run this IVR menu.
    Ivr(String),
    /// Hand the call to this robot with its speech-detection thresholds.
    Robot {
        /// The robot.
        robot: String,
        /// Voice threshold from the rule.
        voice_threshold: u32,
        /// Silence threshold from the rule.
        silence_threshold: u32,
    },
    /// Dial out through a gateway.
    Outbound {
        /// Gateway names, in failover order (never empty).
        gateways: Vec<String>,
        /// The number to send, after stripping and adding prefixes.
        dial: String,
        /// Give up after this many seconds without an answer.
        timeout_secs: u32,
        /// Record the call.
        record: bool,
    },
    /// Outside office hours: play this prompt file (then hang up).
    AfterHoursPrompt(String),
    /// Outside office hours: route this internal number instead.
    AfterHoursTarget(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Extension(n) => write!(f, "ring extension {n}"),
            Action::Internal(n) => write!(f, "route internal number {n}"),
            Action::Queue(q) => write!(f, "queue {q:?}"),
            Action::Ivr(m) => write!(f, "IVR menu {m:?}"),
            Action::Robot {
                robot,
                voice_threshold,
                silence_threshold,
            } => write!(
                f,
                "robot {robot:?} (voice threshold {voice_threshold}, silence threshold {silence_threshold})"
            ),
            Action::Outbound {
                gateways,
                dial,
                timeout_secs,
                record,
            } => {
                match gateways.as_slice() {
                    [one] => write!(f, "dial {dial} through gateway {one:?}")?,
                    many => {
                        let quoted: Vec<String> = many.iter().map(|g| format!("{g:?}")).collect();
                        write!(
                            f,
                            "dial {dial} through gateways {} (in that order)",
                            quoted.join(", ")
                        )?
                    }
                }
                write!(f, ", timeout {timeout_secs} s")?;
                if *record {
                    f.write_str(", recorded")?;
                }
                Ok(())
            }
            Action::AfterHoursPrompt(file) => write!(f, "play after-hours prompt {file:?}"),
            Action::AfterHoursTarget(n) => write!(f, "route after-hours number {n}"),
        }
    }
}

/// The winning rule and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Id of the rule that won.
    pub rule_id: i64,
    /// Name of the rule that won.
    pub rule_name: String,
    /// What happens.
    pub action: Action,
}

/// How one rule judged one number at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The rule is disabled.
    Disabled,
    /// The number rule did not match.
    PatternMismatch,
    /// An outbound rule matched, but stripping left no number to dial.
    NothingLeftToDial,
    /// An inbound rule matched outside office hours and has no after-hours
    /// action, so it is not in effect and the next rule is tried.
    Closed(HoursCheck),
    /// The rule applies. `hours` is the office-hours check of an inbound rule
    /// with a schedule: when closed, `action` is the after-hours action.
    Matched {
        /// What happens.
        action: Action,
        /// The office-hours check, if the rule has a schedule.
        hours: Option<HoursCheck>,
    },
}

/// Most internal-number hops [`RouteTable::resolve`] follows before calling it a loop.
pub const MAX_HOPS: usize = 8;

/// Why [`RouteTable::resolve`] found no final action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A number (the dialled one or a hop) matches no rule.
    #[error("no routing rule matches {number} (after {} hop(s))", .hops.len())]
    NoRoute {
        /// The number without a route.
        number: String,
        /// The decisions that led to it.
        hops: Vec<Decision>,
    },
    /// An internal number led back to one already routed, or the chain grew
    /// longer than [`MAX_HOPS`].
    #[error("routing loop or more than {MAX_HOPS} hops: {}", numbers.join(" -> "))]
    Loop {
        /// The numbers routed, in order, ending with the one not followed.
        numbers: Vec<String>,
    },
}

impl RouteTable {
    /// The first enabled rule, in order, that matches `number` and is in
    /// effect at `now` (office hours read in `now`'s offset), and what it does.
    pub fn route(&self, number: &str, now: DateTime<FixedOffset>) -> Option<Decision> {
        self.rules
            .iter()
            .find_map(|rule| match check(rule, number, now) {
                Verdict::Matched { action, .. } => Some(Decision {
                    rule_id: rule.rule.id,
                    rule_name: rule.rule.name.clone(),
                    action,
                }),
                _ => None,
            })
    }

    /// Routes `number`, then each internal number it leads to (inbound
    /// targets and after-hours targets), until an action that is not another
    /// number. Returns every decision; the last one is final.
    pub fn resolve(
        &self,
        number: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<Decision>, ResolveError> {
        let mut hops = Vec::new();
        let mut numbers = vec![number.to_string()];
        let mut current = number.to_string();
        loop {
            let Some(decision) = self.route(&current, now) else {
                return Err(ResolveError::NoRoute {
                    number: current,
                    hops,
                });
            };
            let next = match &decision.action {
                Action::Internal(n) | Action::AfterHoursTarget(n) => Some(n.clone()),
                _ => None,
            };
            hops.push(decision);
            match next {
                None => return Ok(hops),
                // The same number at the same moment routes the same way again.
                Some(n) if numbers.contains(&n) || hops.len() >= MAX_HOPS => {
                    numbers.push(n);
                    return Err(ResolveError::Loop { numbers });
                }
                Some(n) => {
                    numbers.push(n.clone());
                    current = n;
                }
            }
        }
    }
}

/// Judges one rule against `number` at `now`.
pub(crate) fn check(rule: &CompiledRule, number: &str, now: DateTime<FixedOffset>) -> Verdict {
    if !rule.rule.enabled {
        return Verdict::Disabled;
    }
    let captured = match &rule.matcher {
        Matcher::Literal(n) if n == number => Captured::Literal(number),
        Matcher::Literal(_) => return Verdict::PatternMismatch,
        Matcher::Regex(re) => match re.captures(number) {
            Some(caps) => Captured::Regex(caps),
            None => return Verdict::PatternMismatch,
        },
    };
    let matched = |action| Verdict::Matched {
        action,
        hours: None,
    };
    match &rule.kind {
        CompiledKind::Basic { target } => matched(Action::Extension(target.expand(&captured))),
        CompiledKind::Queue { queue } => matched(Action::Queue(queue.expand(&captured))),
        CompiledKind::Ivr { menu } => matched(Action::Ivr(menu.expand(&captured))),
        CompiledKind::Robot {
            robot,
            voice_threshold,
            silence_threshold,
        } => matched(Action::Robot {
            robot: robot.expand(&captured),
            voice_threshold: *voice_threshold,
            silence_threshold: *silence_threshold,
        }),
        CompiledKind::Outbound {
            gateways,
            strip_digits,
            strip_prefix,
            add_prefix,
            timeout_secs,
            record,
        } => match strip(number, *strip_digits, strip_prefix.as_deref()) {
            Some(rest) => matched(Action::Outbound {
                gateways: gateways.clone(),
                dial: format!("{add_prefix}{rest}"),
                timeout_secs: *timeout_secs,
                record: *record,
            }),
            None => Verdict::NothingLeftToDial,
        },
        CompiledKind::Inbound {
            target,
            hours,
            after_hours,
        } => {
            let in_hours = Action::Internal(target.expand(&captured));
            let Some(hours) = hours else {
                return matched(in_hours);
            };
            let check = hours.check(now);
            let action = match (check.open, after_hours) {
                (true, _) => in_hours,
                (false, Some(CompiledAfterHours::Prompt(file))) => {
                    Action::AfterHoursPrompt(file.clone())
                }
                (false, Some(CompiledAfterHours::Target(t))) => {
                    Action::AfterHoursTarget(t.expand(&captured))
                }
                (false, None) => return Verdict::Closed(check),
            };
            Verdict::Matched {
                action,
                hours: Some(check),
            }
        }
    }
}

/// Removes `digits` leading characters, then `prefix` if the rest starts with
/// it; `None` when nothing is left to dial.
fn strip<'a>(number: &'a str, digits: usize, prefix: Option<&str>) -> Option<&'a str> {
    // By characters, not bytes: a number from the wire may hold anything.
    let rest = match number.char_indices().nth(digits) {
        Some((at, _)) => &number[at..],
        None => "",
    };
    let rest = match prefix {
        Some(p) => rest.strip_prefix(p).unwrap_or(rest),
        None => rest,
    };
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn strip_counts_characters_then_removes_a_present_prefix() {
        assert_eq!(strip("9013800138000", 1, Some("0")), Some("13800138000"));
        assert_eq!(strip("913800138000", 1, Some("0")), Some("13800138000"));
        assert_eq!(strip("+8613800138000", 0, Some("+86")), Some("13800138000"));
        assert_eq!(strip("é123", 1, None), Some("123"));
        assert_eq!(strip("9", 1, None), None);
        assert_eq!(strip("9", 5, None), None);
        assert_eq!(strip("90", 1, Some("0")), None);
    }
}
