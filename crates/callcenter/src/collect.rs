//! How digits are collected from a caller (FreeSWITCH `play_and_get_digits`
//! semantics): the settings an IVR menu or an application asks the engine
//! to collect with.

use std::time::Duration;

/// How to collect digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectSpec {
    /// Fewer digits than this is a failure (timeout).
    pub min: usize,
    /// Stop after this many digits.
    pub max: usize,
    /// Wait for the first digit after the prompts end.
    pub timeout: Duration,
    /// Wait between digits.
    pub inter_digit: Duration,
    /// Keys that end the input early (not included in the digits), e.g. "#".
    pub terminators: String,
}

impl Default for CollectSpec {
    fn default() -> Self {
        CollectSpec {
            min: 1,
            max: 1,
            timeout: Duration::from_secs(5),
            inter_digit: Duration::from_secs(3),
            terminators: "#".into(),
        }
    }
}
