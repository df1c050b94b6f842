//! The validated rule table: every regex compiled, every target template and
//! schedule checked, rules sorted by `order` (then id). Building it is the one
//! place configuration can be wrong, so every error names the rule at fault.

use super::rule::{AfterHours, Pattern, Rule, RuleKind};
use super::schedule::{OfficeHours, ScheduleError};
use super::template::Template;
use regex::Regex;
use std::collections::HashMap;
use std::fmt;

/// The rules in matching order, ready to route numbers.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    pub(crate) rules: Vec<CompiledRule>,
}

/// A rule with its pattern compiled and its targets parsed.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    pub(crate) rule: Rule,
    pub(crate) matcher: Matcher,
    pub(crate) kind: CompiledKind,
}

#[derive(Clone, Debug)]
pub(crate) enum Matcher {
    Literal(String),
    Regex(Regex),
}

/// [`RuleKind`] with templates parsed and hours checked.
#[derive(Clone, Debug)]
pub(crate) enum CompiledKind {
    Basic {
        target: Template,
    },
    Inbound {
        target: Template,
        hours: Option<OfficeHours>,
        after_hours: Option<CompiledAfterHours>,
    },
    Outbound {
        gateways: Vec<String>,
        strip_digits: usize,
        strip_prefix: Option<String>,
        add_prefix: String,
        timeout_secs: u32,
        record: bool,
    },
    Queue {
        queue: Template,
    },
    Ivr {
        menu: Template,
    },
    Robot {
        robot: Template,
        voice_threshold: u32,
        silence_threshold: u32,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum CompiledAfterHours {
    Prompt(String),
    Target(Template),
}

/// A rule as named in an error: its name and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    /// The rule's id.
    pub id: i64,
    /// The rule's name, possibly empty (which is itself an error).
    pub name: String,
}

impl RuleRef {
    fn of(rule: &Rule) -> RuleRef {
        RuleRef {
            id: rule.id,
            name: rule.name.clone(),
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.trim().is_empty() {
            write!(f, "with id {} (no name)", self.id)
        } else {
            write!(f, "\"{}\" (id {})", self.name, self.id)
        }
    }
}

/// A rule table that cannot be built: which rule, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("routing rule {rule}: {problem}")]
pub struct RouteError {
    /// The rule at fault (for duplicates, the later of the two in the list).
    pub rule: RuleRef,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The name is empty.
    #[error("the name is empty")]
    EmptyName,
    /// Another rule has the same name.
    #[error("the name is already used by the rule with id {other_id}")]
    DuplicateName {
        /// Id of the rule that has the name first.
        other_id: i64,
    },
    /// Another rule has the same order.
    #[error("order {order} is already used by rule \"{other}\"")]
    DuplicateOrder {
        /// The order both have.
        order: i64,
        /// Name of the other rule.
        other: String,
    },
    /// Another rule has the same id.
    #[error("id {id} is already used by rule \"{other}\"")]
    DuplicateId {
        /// The id both have.
        id: i64,
        /// Name of the other rule.
        other: String,
    },
    /// The number rule is empty.
    #[error("the number rule is empty")]
    EmptyPattern,
    /// The number rule is not a valid regex.
    #[error("the number rule {regex:?} is not a valid regex: {error}")]
    InvalidRegex {
        /// The regex as written.
        regex: String,
        /// The regex engine's message.
        error: String,
    },
    /// A required field is empty.
    #[error("the {field} is empty")]
    EmptyField {
        /// Which field.
        field: &'static str,
    },
    /// A target's `$` is malformed.
    #[error("the {field} {template:?} is malformed: {reason}")]
    BadTemplate {
        /// Which field.
        field: &'static str,
        /// The target as written.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// A target quotes a capture group the pattern does not have.
    #[error(
        "the {field} {template:?} uses ${group}, but the number rule {pattern:?} has {}",
        groups_phrase(*groups)
    )]
    UnknownCapture {
        /// Which field.
        field: &'static str,
        /// The target as written.
        template: String,
        /// The group quoted.
        group: usize,
        /// How many groups the pattern has (not counting `$0`).
        groups: usize,
        /// The pattern as written.
        pattern: String,
    },
    /// An office-hours range is malformed.
    #[error("office hours {range:?}: {reason}")]
    BadTimeRange {
        /// The range as written.
        range: String,
        /// What is wrong.
        reason: String,
    },
    /// A weekday name is not known.
    #[error("unknown weekday {0:?} (use mon..sun or monday..sunday)")]
    UnknownWeekday(String),
    /// A holiday date is malformed.
    #[error("holiday date {0:?} is not a date YYYY-MM-DD")]
    BadDate(String),
    /// A holiday date is listed twice.
    #[error("holiday date {0} is listed twice")]
    DuplicateHoliday(String),
    /// The outbound timeout is zero.
    #[error("the outbound timeout must be at least 1 second")]
    ZeroTimeout,
    /// An outbound rule lists a gateway twice.
    #[error("gateway {0:?} is listed twice")]
    DuplicateGateway(String),
}

fn groups_phrase(groups: usize) -> String {
    match groups {
        0 => "no capture groups (only $0, the whole number)".to_string(),
        1 => "only 1 capture group".to_string(),
        n => format!("only {n} capture groups"),
    }
}

impl RouteTable {
    /// Validates `rules` and sorts them into matching order.
    pub fn new(rules: Vec<Rule>) -> Result<RouteTable, RouteError> {
        check_unique(&rules)?;
        let mut compiled = rules
            .into_iter()
            .map(compile)
            .collect::<Result<Vec<_>, _>>()?;
        compiled.sort_by_key(|c| (c.rule.order, c.rule.id));
        Ok(RouteTable { rules: compiled })
    }

    /// The rules in matching order, as configured.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|c| &c.rule)
    }

    /// How many rules there are (disabled ones included).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn check_unique(rules: &[Rule]) -> Result<(), RouteError> {
    let mut names: HashMap<&str, &Rule> = HashMap::new();
    let mut orders: HashMap<i64, &Rule> = HashMap::new();
    let mut ids: HashMap<i64, &Rule> = HashMap::new();
    for rule in rules {
        let fail = |problem| {
            Err(RouteError {
                rule: RuleRef::of(rule),
                problem,
            })
        };
        if rule.name.trim().is_empty() {
            return fail(Problem::EmptyName);
        }
        if let Some(other) = ids.insert(rule.id, rule) {
            return fail(Problem::DuplicateId {
                id: rule.id,
                other: other.name.clone(),
            });
        }
        if let Some(other) = names.insert(rule.name.as_str(), rule) {
            return fail(Problem::DuplicateName { other_id: other.id });
        }
        if let Some(other) = orders.insert(rule.order, rule) {
            return fail(Problem::DuplicateOrder {
                order: rule.order,
                other: other.name.clone(),
            });
        }
    }
    Ok(())
}

fn compile(rule: Rule) -> Result<CompiledRule, RouteError> {
    let fail = |problem| RouteError {
        rule: RuleRef::of(&rule),
        problem,
    };
    let (matcher, groups) = match &rule.pattern {
        p if p.as_str().trim().is_empty() => return Err(fail(Problem::EmptyPattern)),
        Pattern::Literal(number) => (Matcher::Literal(number.trim().to_string()), 0),
        Pattern::Regex(text) => {
            let re = Regex::new(text).map_err(|e| {
                fail(Problem::InvalidRegex {
                    regex: text.clone(),
                    error: e.to_string(),
                })
            })?;
            let groups = re.captures_len() - 1;
            (Matcher::Regex(re), groups)
        }
    };
    let template = |field: &'static str, text: &str| -> Result<Template, RouteError> {
        if text.trim().is_empty() {
            return Err(fail(Problem::EmptyField { field }));
        }
        let t = Template::parse(text).map_err(|reason| {
            fail(Problem::BadTemplate {
                field,
                template: text.to_string(),
                reason,
            })
        })?;
        match t.highest_group() {
            Some(group) if group > groups => Err(fail(Problem::UnknownCapture {
                field,
                template: text.to_string(),
                group,
                groups,
                pattern: rule.pattern.as_str().to_string(),
            })),
            _ => Ok(t),
        }
    };
    let optional = |field, text: &Option<String>| match text {
        Some(t) => template(field, t),
        None => Ok(Template::whole_match()),
    };
    let kind = match &rule.kind {
        RuleKind::Basic { target } => CompiledKind::Basic {
            target: optional("target", target)?,
        },
        RuleKind::Inbound {
            target,
            schedule,
            after_hours,
        } => CompiledKind::Inbound {
            target: template("target", target)?,
            hours: schedule
                .as_ref()
                .map(OfficeHours::compile)
                .transpose()
                .map_err(|e| fail(schedule_problem(e)))?,
            after_hours: match after_hours {
                None => None,
                Some(AfterHours::Prompt(file)) if file.trim().is_empty() => {
                    return Err(fail(Problem::EmptyField {
                        field: "after-hours prompt",
                    }))
                }
                Some(AfterHours::Prompt(file)) => {
                    Some(CompiledAfterHours::Prompt(file.trim().to_string()))
                }
                Some(AfterHours::Target(t)) => Some(CompiledAfterHours::Target(template(
                    "after-hours target",
                    t,
                )?)),
            },
        },
        RuleKind::Outbound {
            gateways,
            strip_digits,
            strip_prefix,
            add_prefix,
            timeout_secs,
            record,
        } => {
            let names: Vec<String> = gateways.iter().map(|g| g.trim().to_string()).collect();
            if names.is_empty() || names.iter().any(String::is_empty) {
                return Err(fail(Problem::EmptyField { field: "gateway" }));
            }
            let twice = (1..names.len()).find(|&i| names[..i].contains(&names[i]));
            if let Some(i) = twice {
                return Err(fail(Problem::DuplicateGateway(names[i].clone())));
            }
            if *timeout_secs == 0 {
                return Err(fail(Problem::ZeroTimeout));
            }
            CompiledKind::Outbound {
                gateways: names,
                strip_digits: *strip_digits,
                strip_prefix: strip_prefix.clone().filter(|p| !p.is_empty()),
                add_prefix: add_prefix.clone(),
                timeout_secs: *timeout_secs,
                record: *record,
            }
        }
        RuleKind::Queue { queue } => CompiledKind::Queue {
            queue: template("queue", queue)?,
        },
        RuleKind::Ivr { menu } => CompiledKind::Ivr {
            menu: optional("menu", menu)?,
        },
        RuleKind::Robot {
            robot,
            voice_threshold,
            silence_threshold,
        } => CompiledKind::Robot {
            robot: optional("robot", robot)?,
            voice_threshold: *voice_threshold,
            silence_threshold: *silence_threshold,
        },
    };
    Ok(CompiledRule {
        rule,
        matcher,
        kind,
    })
}

fn schedule_problem(e: ScheduleError) -> Problem {
    match e {
        ScheduleError::Range { range, reason } => Problem::BadTimeRange { range, reason },
        ScheduleError::Weekday(day) => Problem::UnknownWeekday(day),
        ScheduleError::Date(date) => Problem::BadDate(date),
        ScheduleError::DuplicateDate(date) => Problem::DuplicateHoliday(date),
    }
}
