//! The IVR menu model: what an admin configures on the IVR form (manual
//! 3.2.4), with the attributes and defaults of FreeSWITCH's IVR menus
//! (REFERENCE.md section 2). Plain data, (de)serialised from JSON or TOML;
//! [`super::validate`] says whether a set of menus can run.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Default wait for the first digit after the greeting, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default number of invalid inputs before the menu gives up.
pub const DEFAULT_MAX_FAILURES: u32 = 3;
/// Default number of confirmation prompts before the input is rejected.
pub const DEFAULT_CONFIRM_ATTEMPTS: u32 = 3;

/// One menu of an IVR: its prompts, its input rules and its entries.
/// The root menu and every submenu have the same shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrMenu {
    /// Identifier that submenu entries and the IVR's root refer to.
    pub id: String,
    /// Name shown to admins (the id when empty).
    #[serde(default)]
    pub name: String,
    /// Greeting of the first pass (欢迎提示音), e.g. "press 1 for sales".
    #[serde(default)]
    pub greet_long: Option<String>,
    /// Greeting of later passes (欢迎短提示音); the long one when unset.
    #[serde(default)]
    pub greet_short: Option<String>,
    /// Played after input that matches no entry (无效输入提示音).
    #[serde(default)]
    pub invalid_sound: Option<String>,
    /// Played when the caller leaves the IVR from the top menu (离开提示音).
    #[serde(default)]
    pub exit_sound: Option<String>,
    /// Played before a transfer to an extension or an external number (转接提示音).
    #[serde(default)]
    pub transfer_sound: Option<String>,
    /// Wait for the first digit once the greeting has ended (超时时间), ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Wait between two digits, ms; half of `timeout_ms` when unset.
    #[serde(default)]
    pub inter_digit_timeout_ms: Option<u64>,
    /// Invalid inputs before the menu gives up (最大失败次数).
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Passes without input before the menu gives up (最大超时次数);
    /// `max_failures` when unset.
    #[serde(default)]
    pub max_timeouts: Option<u32>,
    /// Digits to collect (数字按键长度); 0: the longest literal binding.
    #[serde(default)]
    pub digit_len: usize,
    /// When set, collected digits are read back and the caller must press
    /// this key to accept them (确认按键).
    #[serde(default)]
    pub confirm_key: Option<char>,
    /// Played before the digits are read back, e.g. "you entered"
    /// (the confirm macro of FreeSWITCH, 确认宏指令).
    #[serde(default)]
    pub confirm_sound: Option<String>,
    /// Read-backs without an answer before the input is rejected.
    #[serde(default = "default_confirm_attempts")]
    pub confirm_attempts: u32,
    /// What each key (or key sequence) does, in order: the first match wins.
    #[serde(default)]
    pub entries: Vec<IvrEntry>,
}

/// One entry of a menu (新增下级IVR节点): a binding and what it does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrEntry {
    /// Label shown to admins (the form's 名称; not `name`, which an
    /// application entry uses for the application).
    #[serde(default)]
    pub label: String,
    /// The keys (拨号键): literal digits ("1", "100") matching the whole
    /// input, or a regex between slashes ("/^(\d{4})$/") whose captures
    /// $1..$9 can be used in the target.
    pub digits: String,
    /// What happens when the binding matches.
    #[serde(flatten)]
    pub action: IvrAction,
}

/// What a matching entry does (the entry types of the manual's IVR form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IvrAction {
    /// Transfer to an internal extension (转内线); may use $1...
    Extension {
        /// Extension number.
        number: String,
    },
    /// Transfer to an external number (转外线); may use $1...
    External {
        /// Number to dial out.
        number: String,
    },
    /// Hang up (挂断).
    Hangup,
    /// Run an application (执行应用操作), e.g. queue 301, voicemail 1001.
    App {
        /// Application name.
        name: String,
        /// Its argument; may use $1...
        #[serde(default)]
        arg: String,
    },
    /// Enter a submenu (转子菜单).
    Submenu {
        /// Id of the submenu.
        menu: String,
    },
    /// Back to the parent menu (转上级); leaves the IVR from the top menu.
    Back,
    /// Back to the root menu (转根目录).
    Top,
    /// Play a prompt, then stay in the menu (播放语音文件).
    PlayFile {
        /// Prompt name or file path.
        file: String,
    },
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_max_failures() -> u32 {
    DEFAULT_MAX_FAILURES
}

fn default_confirm_attempts() -> u32 {
    DEFAULT_CONFIRM_ATTEMPTS
}

/// A configured prompt, or None when unset or blank (web forms send "").
pub(crate) fn prompt(p: &Option<String>) -> Option<&str> {
    p.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl IvrMenu {
    /// A menu with every attribute at its default and no entries.
    pub fn new(id: &str) -> Self {
        IvrMenu {
            id: id.to_string(),
            name: String::new(),
            greet_long: None,
            greet_short: None,
            invalid_sound: None,
            exit_sound: None,
            transfer_sound: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            inter_digit_timeout_ms: None,
            max_failures: DEFAULT_MAX_FAILURES,
            max_timeouts: None,
            digit_len: 0,
            confirm_key: None,
            confirm_sound: None,
            confirm_attempts: DEFAULT_CONFIRM_ATTEMPTS,
            entries: Vec::new(),
        }
    }

    /// The name to show: `name`, or the id when the name is empty.
    pub fn display_name(&self) -> &str {
        if self.name.trim().is_empty() {
            &self.id
        } else {
            &self.name
        }
    }

    /// Wait for the first digit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Wait between digits: the configured value, or half the timeout.
    pub fn inter_digit_timeout(&self) -> Duration {
        Duration::from_millis(self.inter_digit_timeout_ms.unwrap_or(self.timeout_ms / 2))
    }

    /// Passes without input allowed: the configured value, or `max_failures`.
    pub fn max_timeouts(&self) -> u32 {
        self.max_timeouts.unwrap_or(self.max_failures)
    }

    /// How many digits a pass collects at most: the digit length or the
    /// longest literal binding, whichever is larger (regex bindings do not
    /// count: their length is unknown).
    pub fn collect_len(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| !e.digits.starts_with('/'))
            .map(|e| e.digits.chars().count())
            .fold(self.digit_len, usize::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(digits: &str, action: IvrAction) -> IvrEntry {
        IvrEntry {
            label: String::new(),
            digits: digits.into(),
            action,
        }
    }

    #[test]
    fn defaults_follow_freeswitch() {
        let m: IvrMenu = serde_json::from_str(r#"{"id": "main"}"#).unwrap();
        assert_eq!(m, IvrMenu::new("main"));
        assert_eq!(m.timeout(), Duration::from_millis(10_000));
        assert_eq!(m.inter_digit_timeout(), Duration::from_millis(5_000));
        assert_eq!(m.max_failures, 3);
        assert_eq!(m.max_timeouts(), 3);
        assert_eq!(m.confirm_attempts, 3);
        assert_eq!(m.digit_len, 0);
        assert_eq!(m.display_name(), "main");
    }

    #[test]
    fn derived_limits_follow_their_base() {
        let mut m = IvrMenu::new("m");
        m.timeout_ms = 6000;
        m.max_failures = 5;
        assert_eq!(m.inter_digit_timeout(), Duration::from_millis(3000));
        assert_eq!(m.max_timeouts(), 5);
        m.inter_digit_timeout_ms = Some(1200);
        m.max_timeouts = Some(2);
        assert_eq!(m.inter_digit_timeout(), Duration::from_millis(1200));
        assert_eq!(m.max_timeouts(), 2);
    }

    #[test]
    fn collection_length_is_digit_len_or_longest_literal() {
        let mut m = IvrMenu::new("m");
        m.entries = vec![
            entry("1", IvrAction::Hangup),
            entry("100", IvrAction::Hangup),
            entry(r"/^(\d{6})$/", IvrAction::Hangup),
        ];
        assert_eq!(m.collect_len(), 3, "the regex does not count");
        m.digit_len = 4;
        assert_eq!(m.collect_len(), 4);
        m.digit_len = 2;
        assert_eq!(m.collect_len(), 3, "a longer literal wins");
        m.entries.truncate(1);
        m.digit_len = 0;
        assert_eq!(m.collect_len(), 1);
    }

    #[test]
    fn every_entry_type_round_trips_through_json() {
        let mut m = IvrMenu::new("main");
        m.greet_long = Some("ivr_welcome".into());
        m.confirm_key = Some('#');
        m.entries = vec![
            IvrEntry {
                label: "sales desk".into(),
                digits: "1".into(),
                action: IvrAction::Extension {
                    number: "1001".into(),
                },
            },
            entry(
                r"/^9(\d+)$/",
                IvrAction::External {
                    number: "$1".into(),
                },
            ),
            entry("0", IvrAction::Hangup),
            entry(
                "2",
                IvrAction::App {
                    name: "queue".into(),
                    arg: "301".into(),
                },
            ),
            entry(
                "3",
                IvrAction::Submenu {
                    menu: "sales".into(),
                },
            ),
            entry("*", IvrAction::Back),
            entry("**", IvrAction::Top),
            entry(
                "4",
                IvrAction::PlayFile {
                    file: "/media/hours.wav".into(),
                },
            ),
        ];
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains(r#""type":"play_file""#), "{json}");
        let back: IvrMenu = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn reads_toml_with_defaults() {
        let text = r##"
            id = "main"
            greet_long = "ivr_welcome"
            digit_len = 4
            confirm_key = "#"

            [[entries]]
            digits = "1"
            type = "extension"
            number = "1001"

            [[entries]]
            digits = "/^(\\d{4})$/"
            type = "app"
            name = "voicemail"
            arg = "$1"

            [[entries]]
            digits = "9"
            type = "back"
        "##;
        let m: IvrMenu = toml::from_str(text).unwrap();
        assert_eq!(m.digit_len, 4);
        assert_eq!(m.confirm_key, Some('#'));
        assert_eq!(m.max_failures, 3);
        assert_eq!(m.entries.len(), 3);
        assert_eq!(m.entries[1].digits, r"/^(\d{4})$/");
        assert_eq!(
            m.entries[1].action,
            IvrAction::App {
                name: "voicemail".into(),
                arg: "$1".into()
            }
        );
        assert_eq!(m.entries[2].action, IvrAction::Back);
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        let typo = serde_json::from_str::<IvrMenu>(r#"{"id": "m", "max_failure": 2}"#);
        assert!(typo.unwrap_err().to_string().contains("max_failure"));
        let bad = serde_json::from_str::<IvrEntry>(r#"{"digits": "1", "type": "fax"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn blank_prompts_count_as_unset() {
        assert_eq!(prompt(&Some("  ".into())), None);
        assert_eq!(prompt(&None), None);
        assert_eq!(prompt(&Some("welcome".into())), Some("welcome"));
    }
}
