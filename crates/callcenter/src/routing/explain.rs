//! "Which rule matches number X, and what happens?" for administrators:
//! every rule in order with its verdict, and the winner.

use super::matcher::{check, Action, Verdict};
use super::table::RouteTable;
use chrono::{DateTime, FixedOffset};
use std::fmt;

/// Every rule's verdict on one number at one moment, in matching order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The number explained.
    pub number: String,
    /// The moment it was routed at.
    pub at: DateTime<FixedOffset>,
    /// One entry per rule, in matching order.
    pub checks: Vec<RuleCheck>,
}

/// One rule's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCheck {
    /// The rule's id.
    pub rule_id: i64,
    /// The rule's name.
    pub rule_name: String,
    /// The rule's order.
    pub order: i64,
    /// The rule's type, in English.
    pub type_name: &'static str,
    /// The number rule as written.
    pub pattern: String,
    /// What the rule made of the number.
    pub verdict: Verdict,
    /// This rule decides the call: the first that matched.
    pub wins: bool,
}

impl RouteTable {
    /// Judges `number` at `now` against every rule, not only up to the winner,
    /// so an administrator also sees rules shadowed by an earlier one.
    pub fn explain(&self, number: &str, now: DateTime<FixedOffset>) -> Explanation {
        let mut won = false;
        let checks = self
            .rules
            .iter()
            .map(|rule| {
                let verdict = check(rule, number, now);
                let wins = !won && matches!(verdict, Verdict::Matched { .. });
                won |= wins;
                RuleCheck {
                    rule_id: rule.rule.id,
                    rule_name: rule.rule.name.clone(),
                    order: rule.rule.order,
                    type_name: rule.rule.kind.type_name(),
                    pattern: rule.rule.pattern.as_str().to_string(),
                    verdict,
                    wins,
                }
            })
            .collect();
        Explanation {
            number: number.to_string(),
            at: now,
            checks,
        }
    }
}

impl Explanation {
    /// The winning rule's check, if a rule matched.
    pub fn winner(&self) -> Option<&RuleCheck> {
        self.checks.iter().find(|c| c.wins)
    }

    /// What happens to the call, if a rule matched.
    pub fn action(&self) -> Option<&Action> {
        match &self.winner()?.verdict {
            Verdict::Matched { action, .. } => Some(action),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Disabled => f.write_str("disabled"),
            Verdict::PatternMismatch => f.write_str("number rule does not match"),
            Verdict::NothingLeftToDial => {
                f.write_str("matches, but stripping leaves nothing to dial")
            }
            Verdict::Closed(hours) => write!(
                f,
                "matches, but outside office hours ({hours}) and no after-hours action, so not in effect"
            ),
            Verdict::Matched { action, hours } => match hours {
                Some(h) if h.open => write!(f, "matches in office hours ({h}): {action}"),
                Some(h) => write!(f, "matches outside office hours ({h}): {action}"),
                None => write!(f, "matches: {action}"),
            },
        }
    }
}

impl fmt::Display for RuleCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "order {} {:?} ({}, {}): {}",
            self.order, self.rule_name, self.type_name, self.pattern, self.verdict
        )
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.format("%Y-%m-%d %H:%M %:z (%A)");
        match (self.winner(), self.action()) {
            (Some(w), Some(action)) => writeln!(
                f,
                "Number {} at {at}: rule {:?} wins: {action}.",
                self.number, w.rule_name
            )?,
            _ => writeln!(f, "Number {} at {at}: no rule matches.", self.number)?,
        }
        if self.checks.is_empty() {
            return writeln!(f, "  (there are no rules)");
        }
        let mut after_winner = false;
        for check in &self.checks {
            let mark = if check.wins {
                "  <- wins"
            } else if after_winner && matches!(check.verdict, Verdict::Matched { .. }) {
                "  (shadowed by the winner)"
            } else {
                ""
            };
            writeln!(f, "  {check}{mark}")?;
            after_winner |= check.wins;
        }
        Ok(())
    }
}
