//! The timing settings of a gateway's registration and OPTIONS pings, with
//! mod_sofia's defaults, and their validation for forms and the CLI.
//!
//! The state machines never trust these blindly: a value that would make them
//! spin (a zero retry or timeout, ping-min above ping-max) is raised to the
//! nearest sane value when used, so an unvalidated row in the database cannot
//! turn into a tight REGISTER loop. [`GatewayConfig::validate`] is what the
//! web forms and the CLI call to refuse such values with a clear message.

use serde::{Deserialize, Serialize};

/// mod_sofia's expire-seconds default.
pub const DEFAULT_EXPIRE_SECS: u32 = 3600;
/// mod_sofia's retry-seconds default.
pub const DEFAULT_RETRY_SECS: u32 = 30;
/// mod_sofia's timeout-seconds default.
pub const DEFAULT_TIMEOUT_SECS: u32 = 60;
/// The longest wait between two registration attempts, however many have
/// failed (FreeSWITCH multiplies without a bound; an hour keeps a gateway
/// that was down all night from waiting most of the morning).
pub const DEFAULT_MAX_RETRY_SECS: u32 = 3600;
/// mod_sofia refuses ping intervals below this.
pub const MIN_PING_SECS: u32 = 5;

/// How a gateway registers: REFERENCE §3's register, expire-seconds,
/// retry-seconds and timeout-seconds, plus the cap on the back-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegConfig {
    /// false: the gateway never registers (NOREG; an NNI peer trunk).
    pub register: bool,
    /// The Expires we ask for, in seconds (the server's answer wins).
    pub expire_secs: u32,
    /// The wait after a 503 without Retry-After, a timeout or a first
    /// failure; later failures wait this times the number of failures.
    pub retry_secs: u32,
    /// How long one registration exchange (challenges included) may take
    /// before it counts as failed with 908 "timeout".
    pub timeout_secs: u32,
    /// The cap on the back-off.
    pub max_retry_secs: u32,
}

impl Default for RegConfig {
    fn default() -> Self {
        RegConfig {
            register: true,
            expire_secs: DEFAULT_EXPIRE_SECS,
            retry_secs: DEFAULT_RETRY_SECS,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            max_retry_secs: DEFAULT_MAX_RETRY_SECS,
        }
    }
}

impl RegConfig {
    /// A gateway that never registers (NNI peer trunk).
    pub fn no_register() -> Self {
        RegConfig {
            register: false,
            ..RegConfig::default()
        }
    }

    /// The Expires to ask for (at least 1 s: 0 would be an unregister).
    pub(super) fn expire(&self) -> u32 {
        self.expire_secs.max(1)
    }

    /// retry-seconds, at least 1 s so that a failure can never loop.
    pub(super) fn retry(&self) -> u32 {
        self.retry_secs.max(1)
    }

    /// timeout-seconds, at least 1 s.
    pub(super) fn timeout(&self) -> u32 {
        self.timeout_secs.max(1)
    }

    /// The back-off cap, never below one retry interval.
    pub(super) fn max_retry(&self) -> u32 {
        self.max_retry_secs.max(self.retry())
    }
}

/// How a gateway is pinged with OPTIONS: REFERENCE §3's ping, ping-max and
/// ping-min.
///
/// mod_sofia keeps a success counter per gateway between 0 and ping-max: an
/// answered ping adds one (up to ping-max), a failed one takes one away
/// (down to 0). The gateway turns UP when the counter reaches ping-min and
/// DOWN when it falls below ping-min. So ping-min is how many good pings in a
/// row bring a dead gateway back, and ping-max is how much credit a healthy
/// one builds up: it rides out `max - min` failed pings in a row and goes DOWN
/// at the next. With the defaults (1 and 1) one answer means UP and one
/// failure means DOWN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingConfig {
    /// Seconds between pings; 0 turns pinging off.
    pub interval_secs: u32,
    /// ping-max: the ceiling of the success counter.
    pub max: u32,
    /// ping-min: the counter level at which the gateway is UP.
    pub min: u32,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            interval_secs: 0,
            max: 1,
            min: 1,
        }
    }
}

impl PingConfig {
    /// Pings every `interval_secs` with ping-max and ping-min 1.
    pub fn every(interval_secs: u32) -> Self {
        PingConfig {
            interval_secs,
            ..PingConfig::default()
        }
    }

    /// Whether pings are sent at all.
    pub fn enabled(&self) -> bool {
        self.interval_secs > 0
    }

    /// ping-min, at least 1 (0 would make a gateway that never fails).
    pub(super) fn min(&self) -> u32 {
        self.min.max(1)
    }

    /// ping-max, never below ping-min (a gateway could never come UP).
    pub(super) fn max(&self) -> u32 {
        self.max.max(self.min())
    }
}

/// Both halves of a gateway's timing settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// Registration.
    pub reg: RegConfig,
    /// OPTIONS pings.
    pub ping: PingConfig,
}

/// A gateway timing setting that cannot work, with the setting's
/// mod_sofia name so that forms and the CLI can point at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A setting that must be at least 1 is 0.
    #[error("{0} must be at least 1 second")]
    Zero(&'static str),
    /// The ping interval is below mod_sofia's minimum.
    #[error("ping must be 0 (off) or at least {MIN_PING_SECS} seconds, not {0}")]
    PingTooOften(u32),
    /// ping-min or ping-max is 0.
    #[error("{0} must be at least 1")]
    ZeroCount(&'static str),
    /// ping-min above ping-max: the gateway could never come UP.
    #[error("ping-min ({min}) must not be above ping-max ({max})")]
    PingMinAboveMax {
        /// ping-min.
        min: u32,
        /// ping-max.
        max: u32,
    },
    /// The back-off cap is below retry-seconds.
    #[error("the retry cap ({cap} s) must not be below retry-seconds ({retry} s)")]
    CapBelowRetry {
        /// The cap.
        cap: u32,
        /// retry-seconds.
        retry: u32,
    },
}

impl RegConfig {
    /// Refuses settings that cannot work (the state machine would raise
    /// them, but the operator should hear about it).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.expire_secs == 0 {
            return Err(ConfigError::Zero("expire-seconds"));
        }
        if self.retry_secs == 0 {
            return Err(ConfigError::Zero("retry-seconds"));
        }
        if self.timeout_secs == 0 {
            return Err(ConfigError::Zero("timeout-seconds"));
        }
        if self.max_retry_secs < self.retry_secs {
            return Err(ConfigError::CapBelowRetry {
                cap: self.max_retry_secs,
                retry: self.retry_secs,
            });
        }
        Ok(())
    }
}

impl PingConfig {
    /// Refuses settings that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_secs != 0 && self.interval_secs < MIN_PING_SECS {
            return Err(ConfigError::PingTooOften(self.interval_secs));
        }
        if self.min == 0 {
            return Err(ConfigError::ZeroCount("ping-min"));
        }
        if self.max == 0 {
            return Err(ConfigError::ZeroCount("ping-max"));
        }
        if self.min > self.max {
            return Err(ConfigError::PingMinAboveMax {
                min: self.min,
                max: self.max,
            });
        }
        Ok(())
    }
}

impl GatewayConfig {
    /// Refuses settings that cannot work, registration first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.reg.validate()?;
        self.ping.validate()
    }
}
