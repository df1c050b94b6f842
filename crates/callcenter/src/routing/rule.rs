//! The routing rules as the administrator writes them (manual 3.2.3): the
//! serde model of the configuration form. Nothing here is checked yet;
//! [`RouteTable::new`](super::RouteTable::new) validates a list of rules and
//! reports the first problem with the rule's name in it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One routing rule (路由规则).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Database identity; breaks ties between equal `order`s when sorting.
    #[serde(default)]
    pub id: i64,
    /// Rule name (名称), unique; shown in explanations and logs.
    pub name: String,
    /// Position in the matching order (序号), unique: lower is tried first.
    #[serde(default)]
    pub order: i64,
    /// Number rule (号码规则): a literal number or a regular expression.
    pub pattern: Pattern,
    /// Rule type (类型) and what it does with a matching number.
    pub kind: RuleKind,
    /// A disabled rule is kept but never matches.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// The number rule: a literal dialled number or a regular expression.
///
/// Written as one string, as on the manual's form: text made only of dialable
/// characters (digits, `*`, `#`, `+`) is a literal and must equal the whole
/// number; anything else is a regex, used as written. No anchors are added: an
/// administrator who means the whole number writes `^...$`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Pattern {
    /// Matches exactly this number.
    Literal(String),
    /// Matches where the regex finds a match; its groups are `$1`, `$2`, ...
    Regex(String),
}

impl Pattern {
    /// Classifies the form's text (surrounding blanks ignored).
    pub fn from_text(text: &str) -> Pattern {
        let text = text.trim();
        let dialable = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | '+');
        if text.chars().all(dialable) {
            Pattern::Literal(text.to_string())
        } else {
            Pattern::Regex(text.to_string())
        }
    }

    /// The text as written on the form.
    pub fn as_str(&self) -> &str {
        match self {
            Pattern::Literal(s) | Pattern::Regex(s) => s,
        }
    }
}

impl From<String> for Pattern {
    fn from(text: String) -> Pattern {
        Pattern::from_text(&text)
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        match p {
            Pattern::Literal(s) | Pattern::Regex(s) => s,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule type and its own fields. Targets marked "template" may quote the
/// pattern's capture groups: `$1` or `${1}`, `$0` for the whole match, `$$`
/// for a dollar sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// Basic rule (基本规则): local extensions.
    Basic {
        /// Extension to ring (template); none means the dialled number itself,
        /// the manual's "automatically the extension matching the rule".
        #[serde(default)]
        target: Option<String>,
    },
    /// Inbound rule (呼入): a DID goes to an internal number.
    Inbound {
        /// Internal number (转号码, template), itself routed again, e.g. an IVR's 200.
        target: String,
        /// Effective time (生效时间); none means always in effect, as the manual's default.
        #[serde(default)]
        schedule: Option<Schedule>,
        /// What happens outside office hours (下班提示音). None: outside office
        /// hours the rule is not in effect and the next rule is tried.
        #[serde(default)]
        after_hours: Option<AfterHours>,
    },
    /// Outbound rule (呼出): the number leaves through a gateway.
    Outbound {
        /// Gateway names (网关), tried in this order: the next one when a
        /// gateway fails the call (5xx, 408, timeout) or is down or full.
        /// Gateways themselves are configured elsewhere. Rules stored before
        /// failover have one `gateway` string, which reads as a list of one
        /// (a comma-separated string as a list).
        #[serde(alias = "gateway", deserialize_with = "one_or_many")]
        gateways: Vec<String>,
        /// Leading characters removed first (e.g. 1 for an outside-line 9).
        #[serde(default)]
        strip_digits: usize,
        /// Then removed if, and only if, the number starts with it.
        #[serde(default)]
        strip_prefix: Option<String>,
        /// Then put in front (增加前缀).
        #[serde(default)]
        add_prefix: String,
        /// Hang up after this long without an answer (呼出超时), seconds.
        #[serde(default = "default_timeout_secs")]
        timeout_secs: u32,
        /// Record the call (是否录音).
        #[serde(default)]
        record: bool,
    },
    /// Queue rule (队列): the number is a queue's.
    Queue {
        /// Queue name (转队列, template).
        queue: String,
    },
    /// IVR rule: the number is an IVR menu's.
    Ivr {
        /// Menu (template); none means the dialled number, the manual's
        /// "automatically the IVR of that number".
        #[serde(default)]
        menu: Option<String>,
    },
    /// Robot rule (机器人): the number is a robot's.
    Robot {
        /// Robot (template); none means the dialled number.
        #[serde(default)]
        robot: Option<String>,
        /// Voice threshold (声音阈值) handed to the robot's speech detection.
        #[serde(default = "default_threshold")]
        voice_threshold: u32,
        /// Silence threshold (静音阈值) handed to the robot's speech detection.
        #[serde(default = "default_threshold")]
        silence_threshold: u32,
    },
}

/// A list of names given as a list, or as one string (the old single
/// `gateway`, or several names separated by commas).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        OneOrMany::Many(list) => list,
    })
}

fn default_timeout_secs() -> u32 {
    60
}

fn default_threshold() -> u32 {
    200
}

impl Rule {
    /// The gateways an outbound rule sends calls through, in failover
    /// order; empty for the other types.
    pub fn gateways(&self) -> &[String] {
        match &self.kind {
            RuleKind::Outbound { gateways, .. } => gateways,
            _ => &[],
        }
    }
}

impl RuleKind {
    /// Short English name of the type, for listings and explanations.
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleKind::Basic { .. } => "basic",
            RuleKind::Inbound { .. } => "inbound",
            RuleKind::Outbound { .. } => "outbound",
            RuleKind::Queue { .. } => "queue",
            RuleKind::Ivr { .. } => "IVR",
            RuleKind::Robot { .. } => "robot",
        }
    }
}

/// Office hours of an inbound rule, read in the offset of the time a call is
/// routed at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Opening hours by weekday. A day named in no entry is closed; a day named
    /// in several gets all their ranges.
    #[serde(default)]
    pub weekly: Vec<WeeklyHours>,
    /// Dates whose hours replace their weekday's: closed all day when `hours`
    /// is empty; with hours they can also open a normally closed day.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// Opening hours shared by some weekdays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    /// English weekday names, any case: `mon` or `monday`, ... `sun` or `sunday`.
    pub days: Vec<String>,
    /// Ranges `HH:MM-HH:MM`, start included and end excluded; `24:00` may end
    /// a range. A range cannot cross midnight: split it over two days.
    pub hours: Vec<String>,
}

/// A date with its own hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Ranges as in [`WeeklyHours::hours`]; empty means closed all day.
    #[serde(default)]
    pub hours: Vec<String>,
}

/// What an inbound rule does outside office hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AfterHours {
    /// Play this prompt file (下班提示音).
    Prompt(String),
    /// Send the call to this internal number instead (template).
    Target(String),
}
