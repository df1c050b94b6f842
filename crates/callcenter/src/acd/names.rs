//! The named values of the ACD (strategies, agent statuses and states, tier
//! states, cancel reasons, offer outcomes). Each has exactly one spelling, the
//! FreeSWITCH one, used alike by `Display`, `FromStr` and serde, so the web
//! forms, the database and the events can never disagree.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A name that is not one of the values of a named enum.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}' (expected one of: {expected})")]
pub struct UnknownName {
    /// What kind of value was parsed, e.g. "queue strategy".
    pub what: &'static str,
    /// The text that did not match.
    pub value: String,
    /// The accepted spellings, comma separated.
    pub expected: String,
}

/// Declares an enum whose variants have one canonical name (plus optional
/// aliases accepted when parsing), and derives Display, FromStr and serde
/// from that name. Parsing ignores ASCII case.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical (FreeSWITCH) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                $(
                    if s.eq_ignore_ascii_case($text) $(|| s.eq_ignore_ascii_case($alias))* {
                        return Ok($name::$variant);
                    }
                )+
                Err(UnknownName {
                    what: $what,
                    value: s.to_string(),
                    expected: [$($text),+].join(", "),
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named_enum! {
    /// How a queue picks the agent(s) for a waiting caller (REFERENCE §1).
    /// Every strategy orders candidates by tier level first.
    pub enum Strategy ("queue strategy") {
        /// Offer to every free agent at once; the first answer wins.
        RingAll => "ring-all",
        /// The agent whose last queue call ended longest ago (default).
        LongestIdleAgent => "longest-idle-agent",
        /// Continue after the last offered agent's position, then wrap.
        RoundRobin => "round-robin",
        /// Per caller: continue down from the last tried position, then
        /// start again at the top.
        TopDown => "top-down",
        /// The agent with the least talk time.
        AgentWithLeastTalkTime => "agent-with-least-talk-time",
        /// The agent who answered the fewest calls.
        AgentWithFewestCalls => "agent-with-fewest-calls",
        /// Always from the top: position, then least recently offered.
        SequentiallyByAgentOrder => "sequentially-by-agent-order",
        /// A random agent of the best level with a free agent.
        Random => "random",
        /// Ring-all, one more agent every ring-progressively-delay.
        RingProgressively => "ring-progressively",
    }
}

impl Strategy {
    /// Strategies where a caller keeps ringing agents while more are added
    /// (the caller stays in the dispatch order while being offered).
    pub fn rings_several(self) -> bool {
        matches!(self, Strategy::RingAll | Strategy::RingProgressively)
    }
}

named_enum! {
    /// What the agent chose (or was put in): whether queues may offer calls.
    pub enum AgentStatus ("agent status") {
        /// Not working; not counted as present by tier rules.
        LoggedOut => "Logged Out",
        /// Takes queue calls.
        Available => "Available",
        /// Takes one queue call, then goes Idle until made ready again.
        AvailableOnDemand => "Available (On Demand)" | "On Demand",
        /// Logged in but not taking calls.
        OnBreak => "On Break",
    }
}

impl AgentStatus {
    /// Statuses in which queues may offer calls.
    pub fn takes_calls(self) -> bool {
        matches!(
            self,
            AgentStatus::Available | AgentStatus::AvailableOnDemand
        )
    }
}

named_enum! {
    /// Where the agent is in the life of a queue call.
    pub enum AgentState ("agent state") {
        /// Ready for the next offer.
        Waiting => "Waiting",
        /// A queue call is being offered (the phone rings).
        Receiving => "Receiving",
        /// Talking to a queue caller.
        InQueueCall => "In a queue call",
        /// Not offered anything: after an on-demand call, or set by hand.
        Idle => "Idle",
        /// Held for something else (e.g. an outbound campaign), set by hand.
        Reserved => "Reserved",
    }
}

named_enum! {
    /// The state of one agent in one queue.
    pub enum TierState ("tier state") {
        /// The agent's last offer from this queue was not answered (still
        /// eligible; shown so supervisors see it).
        NoAnswer => "No Answer",
        /// Eligible.
        Ready => "Ready",
        /// This queue is offering the agent a call.
        Offering => "Offering",
        /// The agent is talking to a caller of this queue.
        ActiveInbound => "Active Inbound",
        /// Another queue is offering the agent a call, or the agent is in
        /// another queue's call.
        Standby => "Standby",
    }
}

named_enum! {
    /// Why a caller left a queue without being answered.
    pub enum CancelReason ("cancel reason") {
        /// max-wait-time reached.
        Timeout => "TIMEOUT",
        /// No logged-in agent for max-wait-time-with-no-agent.
        NoAgentTimeout => "NO_AGENT_TIMEOUT",
        /// The caller hung up.
        BreakOut => "BREAK_OUT",
        /// The caller pressed one of the queue's exit keys.
        ExitWithKey => "EXIT_WITH_KEY",
    }
}

named_enum! {
    /// How one offer (a call to one agent for one caller) ended.
    pub enum OfferOutcome ("offer outcome") {
        /// The agent answered.
        Answered => "answered",
        /// Busy or congestion: busy-delay-time penalty.
        Busy => "busy",
        /// The agent declined: reject-delay-time penalty.
        Rejected => "rejected",
        /// Rang out: no-answer-delay-time penalty, counts towards max-no-answer.
        NoAnswer => "no-answer",
        /// The agent's phone is not registered: 5 s penalty.
        NotRegistered => "not-registered",
        /// Another agent answered first: no penalty.
        LostRace => "lost-race",
        /// The caller left while the agent rang: no penalty.
        CallerGone => "caller-gone",
    }
}

named_enum! {
    /// How the agent is reached.
    pub enum AgentType ("agent type") {
        /// We call the agent's contact (their extension) for each offer.
        Callback => "callback",
        /// The agent waits on a parked line and is bridged at once.
        Standby => "uuid-standby" | "standby",
    }
}

named_enum! {
    /// What the waiting part of a caller's score counts from.
    pub enum TimeBaseScore ("time-base-score") {
        /// Since the caller joined this queue.
        Queue => "queue",
        /// Since the call was answered by the system (IVR time included).
        System => "system",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_round_trip_and_match_freeswitch() {
        let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "ring-all",
                "longest-idle-agent",
                "round-robin",
                "top-down",
                "agent-with-least-talk-time",
                "agent-with-fewest-calls",
                "sequentially-by-agent-order",
                "random",
                "ring-progressively"
            ]
        );
        for s in Strategy::ALL {
            assert_eq!(s.to_string().parse::<Strategy>(), Ok(*s));
        }
    }

    #[test]
    fn parsing_ignores_case_accepts_aliases_and_names_the_culprit() {
        assert_eq!("ON BREAK".parse(), Ok(AgentStatus::OnBreak));
        assert_eq!("On Demand".parse(), Ok(AgentStatus::AvailableOnDemand));
        assert_eq!("standby".parse(), Ok(AgentType::Standby));
        let err = "ring-some".parse::<Strategy>().unwrap_err();
        assert!(err.to_string().contains("queue strategy 'ring-some'"));
        assert!(err.to_string().contains("ring-all"));
    }

    #[test]
    fn serde_uses_the_same_names() {
        let json = serde_json::to_string(&AgentState::InQueueCall).unwrap();
        assert_eq!(json, "\"In a queue call\"");
        let back: CancelReason = serde_json::from_str("\"NO_AGENT_TIMEOUT\"").unwrap();
        assert_eq!(back, CancelReason::NoAgentTimeout);
        assert!(serde_json::from_str::<TierState>("\"Busy\"").is_err());
    }
}
