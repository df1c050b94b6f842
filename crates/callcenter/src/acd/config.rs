//! Queue, agent and tier settings (REFERENCE §1, FEATURES T9), with their
//! defaults and validation. Serde field names are FreeSWITCH's (kebab-case);
//! durations are whole seconds.

use super::names::{AgentStatus, AgentType, Strategy, TimeBaseScore};
use super::serde_time::secs;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A setting that cannot be used, naming the queue/agent/tier and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{thing}: {field}: {reason}")]
pub struct ConfigError {
    /// What is at fault, e.g. "queue 'support'".
    pub thing: String,
    /// The setting, by its FreeSWITCH name.
    pub field: &'static str,
    /// Why it is refused.
    pub reason: String,
}

/// The keys a caller may press (RFC 4733 / in-band DTMF events).
const DTMF_KEYS: &str = "0123456789*#ABCD";

/// One queue's settings. Defaults are FreeSWITCH mod_callcenter's (REFERENCE
/// §1), except `ring-timeout`, which FreeSWITCH hard-codes to 60 s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue name (unique; what routing rules and tiers refer to).
    pub name: String,
    /// How agents are picked.
    pub strategy: Strategy,
    /// Music on hold while waiting (loops); `None`: the system default.
    pub moh_sound: Option<String>,
    /// Prompt played every `announce-frequency` while waiting.
    pub announce_sound: Option<String>,
    /// How often the announce plays; zero: never.
    #[serde(with = "secs")]
    pub announce_frequency: Duration,
    /// Recording path template, expanded by the application when the agent
    /// answers; `None`: no recording.
    pub record_template: Option<String>,
    /// What the waiting part of the score counts from.
    pub time_base_score: TimeBaseScore,
    /// ring-progressively: one more agent every this long.
    #[serde(with = "secs")]
    pub ring_progressively_delay: Duration,
    /// Whether higher tier levels wait (see the tier-rule-* settings).
    pub tier_rules_apply: bool,
    /// How long a caller waits before the next level is tried.
    #[serde(with = "secs")]
    pub tier_rule_wait_second: Duration,
    /// Level N waits N × tier-rule-wait-second instead of once.
    pub tier_rule_wait_multiply_level: bool,
    /// A level with no logged-in agent is skipped at once.
    pub tier_rule_no_agent_no_wait: bool,
    /// How long an abandoned caller is remembered (for resume).
    #[serde(with = "secs")]
    pub discard_abandoned_after: Duration,
    /// A caller who hung up and calls back within
    /// discard-abandoned-after gets their old place back.
    pub abandoned_resume_allowed: bool,
    /// Callers leave with TIMEOUT after waiting this long; zero: never.
    #[serde(with = "secs")]
    pub max_wait_time: Duration,
    /// When no agent has been logged in for this long, callers leave with
    /// NO_AGENT_TIMEOUT; zero: never.
    #[serde(with = "secs")]
    pub max_wait_time_with_no_agent: Duration,
    /// Once that is the case, a caller may still wait this long (the
    /// manual's "reject new call interval").
    #[serde(with = "secs")]
    pub max_wait_time_with_no_agent_time_reached: Duration,
    /// Status an agent is put in after max-no-answer unanswered offers.
    pub agent_no_answer_status: AgentStatus,
    /// Agents on a non-queue call are not offered calls.
    pub skip_agents_with_external_calls: bool,
    /// Keys that let a waiting caller leave (EXIT_WITH_KEY); empty: none.
    pub exit_keys: String,
    /// How long each offer rings the agent.
    #[serde(with = "secs")]
    pub ring_timeout: Duration,
    /// After the agent hangs up, the caller is asked to rate the call
    /// (1 satisfied, 2 neutral, 3 unsatisfied); the score is stored with
    /// the call and the agent. Not a mod_callcenter setting: the manual's.
    pub survey: bool,
    /// When the agent answers, the caller first hears "your call is being
    /// connected to agent number" and the agent's id (the manual's
    /// "announce agent ID").
    pub announce_agent: bool,
    /// The service-level target: a caller answered within this many
    /// seconds counts as answered in time (the reports' "80/20": 80 % of
    /// callers answered within 20 s).
    #[serde(with = "secs")]
    pub service_level_s: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            name: String::new(),
            strategy: Strategy::LongestIdleAgent,
            moh_sound: None,
            announce_sound: None,
            announce_frequency: Duration::ZERO,
            record_template: None,
            time_base_score: TimeBaseScore::Queue,
            ring_progressively_delay: Duration::from_secs(10),
            tier_rules_apply: false,
            tier_rule_wait_second: Duration::ZERO,
            tier_rule_wait_multiply_level: false,
            tier_rule_no_agent_no_wait: true,
            discard_abandoned_after: Duration::from_secs(60),
            abandoned_resume_allowed: false,
            max_wait_time: Duration::ZERO,
            max_wait_time_with_no_agent: Duration::ZERO,
            max_wait_time_with_no_agent_time_reached: Duration::from_secs(5),
            agent_no_answer_status: AgentStatus::OnBreak,
            skip_agents_with_external_calls: true,
            exit_keys: String::new(),
            ring_timeout: Duration::from_secs(60),
            survey: false,
            announce_agent: false,
            service_level_s: Duration::from_secs(20),
        }
    }
}

impl QueueConfig {
    /// A queue with every default and this name.
    pub fn named(name: &str) -> Self {
        QueueConfig {
            name: name.to_string(),
            ..QueueConfig::default()
        }
    }

    /// Checks the settings can be used; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field: &'static str, reason: String| ConfigError {
            thing: format!("queue '{}'", self.name),
            field,
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(fail("name", "a queue needs a name".into()));
        }
        if !self.announce_frequency.is_zero() && blank(&self.announce_sound) {
            return Err(fail(
                "announce-sound",
                format!(
                    "announce-frequency is {} s but there is no announce sound",
                    self.announce_frequency.as_secs()
                ),
            ));
        }
        if self.strategy == Strategy::RingProgressively && self.ring_progressively_delay.is_zero() {
            return Err(fail(
                "ring-progressively-delay",
                "must be at least 1 s with the ring-progressively strategy".into(),
            ));
        }
        if self.agent_no_answer_status.takes_calls() {
            return Err(fail(
                "agent-no-answer-status",
                format!(
                    "'{}' would keep offering calls to an agent who does not answer; use 'On Break' or 'Logged Out'",
                    self.agent_no_answer_status
                ),
            ));
        }
        if let Some(bad) = self.exit_keys.chars().find(|c| !DTMF_KEYS.contains(*c)) {
            return Err(fail(
                "exit-keys",
                format!("'{bad}' is not a phone key (0-9, *, #, A-D)"),
            ));
        }
        if self.ring_timeout.is_zero() {
            return Err(fail("ring-timeout", "must be at least 1 s".into()));
        }
        if !SERVICE_LEVEL_TARGETS_S.contains(&self.service_level_s.as_secs()) {
            return Err(fail(
                "service-level-s",
                "must be 10, 15, 20, 30, 45, 60, 90 or 120 s (the targets the reports keep)".into(),
            ));
        }
        Ok(())
    }
}

/// The service-level targets a queue may have (seconds): the ones the
/// reports' roll-up counts answered callers within, so a year's service
/// level never has to count the raw queue events.
pub const SERVICE_LEVEL_TARGETS_S: [u64; 8] = [10, 15, 20, 30, 45, 60, 90, 120];

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// One agent's settings (the person, across all their queues).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct AgentConfig {
    /// Agent id (unique; usually the extension).
    pub id: String,
    /// How the agent is reached.
    #[serde(rename = "type")]
    pub agent_type: AgentType,
    /// What to call for an offer (the agent's extension).
    pub contact: String,
    /// Unanswered offers in a row before the agent is put in the queue's
    /// agent-no-answer-status; zero: never.
    pub max_no_answer: u32,
    /// After a queue call, no offer for this long (after-call work).
    #[serde(with = "secs")]
    pub wrap_up_time: Duration,
    /// After declining an offer, no offer for this long.
    #[serde(with = "secs")]
    pub reject_delay_time: Duration,
    /// After an offer found the agent busy, no offer for this long.
    #[serde(with = "secs")]
    pub busy_delay_time: Duration,
    /// After an unanswered offer, no offer for this long.
    #[serde(with = "secs")]
    pub no_answer_delay_time: Duration,
    /// Offers carry an auto-answer request (Call-Info answer-after=0 and
    /// Alert-Info), for phones that can pick up by themselves.
    pub auto_answer: bool,
}

impl Default for AgentConfig {
    /// FreeSWITCH's example agent (vanilla callcenter.conf); no-answer-delay
    /// is not set there and gets the reject delay.
    fn default() -> Self {
        AgentConfig {
            id: String::new(),
            agent_type: AgentType::Callback,
            contact: String::new(),
            max_no_answer: 3,
            wrap_up_time: Duration::from_secs(10),
            reject_delay_time: Duration::from_secs(10),
            busy_delay_time: Duration::from_secs(60),
            no_answer_delay_time: Duration::from_secs(10),
            auto_answer: false,
        }
    }
}

impl AgentConfig {
    /// A callback agent with every default, reached at `contact`.
    pub fn callback(id: &str, contact: &str) -> Self {
        AgentConfig {
            id: id.to_string(),
            contact: contact.to_string(),
            ..AgentConfig::default()
        }
    }

    /// Checks the settings can be used; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field: &'static str, reason: &str| ConfigError {
            thing: format!("agent '{}'", self.id),
            field,
            reason: reason.to_string(),
        };
        if self.id.trim().is_empty() {
            return Err(fail("id", "an agent needs an id"));
        }
        if self.agent_type == AgentType::Callback && self.contact.trim().is_empty() {
            return Err(fail(
                "contact",
                "a callback agent needs a contact (their extension) to be called at",
            ));
        }
        Ok(())
    }
}

/// An agent's membership of a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TierConfig {
    /// Queue name.
    pub queue: String,
    /// Agent id.
    pub agent: String,
    /// Lower levels are offered first.
    pub level: u32,
    /// Order within the level (lower first) for the position-based strategies.
    pub position: u32,
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig {
            queue: String::new(),
            agent: String::new(),
            level: 1,
            position: 1,
        }
    }
}

impl TierConfig {
    /// A tier with this level and position.
    pub fn new(queue: &str, agent: &str, level: u32, position: u32) -> Self {
        TierConfig {
            queue: queue.to_string(),
            agent: agent.to_string(),
            level,
            position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_defaults_are_the_documented_ones() {
        let q: QueueConfig = serde_json::from_str(r#"{"name":"support"}"#).unwrap();
        assert_eq!(q.strategy, Strategy::LongestIdleAgent);
        assert_eq!(q.ring_progressively_delay, Duration::from_secs(10));
        assert!(!q.tier_rules_apply);
        assert_eq!(q.tier_rule_wait_second, Duration::ZERO);
        assert!(!q.tier_rule_wait_multiply_level);
        assert!(q.tier_rule_no_agent_no_wait);
        assert_eq!(q.discard_abandoned_after, Duration::from_secs(60));
        assert!(!q.abandoned_resume_allowed);
        assert_eq!(q.max_wait_time, Duration::ZERO);
        assert_eq!(q.max_wait_time_with_no_agent, Duration::ZERO);
        assert_eq!(
            q.max_wait_time_with_no_agent_time_reached,
            Duration::from_secs(5)
        );
        assert_eq!(q.agent_no_answer_status, AgentStatus::OnBreak);
        assert!(q.skip_agents_with_external_calls);
        assert_eq!(q.time_base_score, TimeBaseScore::Queue);
        assert_eq!(q.announce_frequency, Duration::ZERO);
        assert!(q.validate().is_ok());
    }

    #[test]
    fn queue_settings_use_freeswitch_names_and_seconds() {
        let q: QueueConfig = serde_json::from_str(
            r#"{"name":"sales","strategy":"top-down","tier-rule-wait-second":300,
                "tier-rule-wait-multiply-level":true,"announce-sound":"busy.wav",
                "announce-frequency":40,"time-base-score":"system","exit-keys":"*0"}"#,
        )
        .unwrap();
        assert_eq!(q.strategy, Strategy::TopDown);
        assert_eq!(q.tier_rule_wait_second, Duration::from_secs(300));
        assert_eq!(q.announce_frequency, Duration::from_secs(40));
        assert_eq!(q.time_base_score, TimeBaseScore::System);
        let back: QueueConfig = serde_json::from_str(&serde_json::to_string(&q).unwrap()).unwrap();
        assert_eq!(back, q);
        let typo = serde_json::from_str::<QueueConfig>(r#"{"name":"x","stratgy":"random"}"#);
        assert!(typo.is_err(), "an unknown setting is refused, not ignored");
    }

    #[test]
    fn invalid_queue_settings_name_the_queue_and_the_field() {
        let mut q = QueueConfig::named("support");
        q.announce_frequency = Duration::from_secs(30);
        let err = q.validate().unwrap_err();
        assert_eq!(err.field, "announce-sound");
        assert!(err
            .to_string()
            .starts_with("queue 'support': announce-sound:"));

        let mut q = QueueConfig::named("support");
        q.exit_keys = "1x".into();
        assert_eq!(q.validate().unwrap_err().field, "exit-keys");

        let mut q = QueueConfig::named("support");
        q.agent_no_answer_status = AgentStatus::Available;
        assert_eq!(q.validate().unwrap_err().field, "agent-no-answer-status");

        let mut q = QueueConfig::named("support");
        q.strategy = Strategy::RingProgressively;
        q.ring_progressively_delay = Duration::ZERO;
        assert_eq!(q.validate().unwrap_err().field, "ring-progressively-delay");

        assert_eq!(
            QueueConfig::named(" ").validate().unwrap_err().field,
            "name"
        );

        // A service-level target the reports do not keep is refused.
        let mut q = QueueConfig::named("support");
        q.service_level_s = Duration::from_secs(25);
        assert_eq!(q.validate().unwrap_err().field, "service-level-s");
        q.service_level_s = Duration::from_secs(30);
        assert!(q.validate().is_ok());
    }

    #[test]
    fn agent_and_tier_defaults_and_validation() {
        let a: AgentConfig =
            serde_json::from_str(r#"{"id":"1001","contact":"1001","type":"callback"}"#).unwrap();
        assert_eq!(a.max_no_answer, 3);
        assert_eq!(a.wrap_up_time, Duration::from_secs(10));
        assert!(a.validate().is_ok());
        let err = AgentConfig {
            contact: String::new(),
            ..a.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "contact");
        assert!(err.to_string().contains("agent '1001'"));
        let standby = AgentConfig {
            contact: String::new(),
            agent_type: AgentType::Standby,
            ..a
        };
        assert!(standby.validate().is_ok());

        let t: TierConfig = serde_json::from_str(r#"{"queue":"q","agent":"1001"}"#).unwrap();
        assert_eq!((t.level, t.position), (1, 1));
    }
}
