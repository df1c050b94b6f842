//! Hangup causes (Q.850-style names, as FreeSWITCH and call-center reports use
//! them) and the choice of which failure a forked call reports to the caller.

use crate::base::metrics::Outcome;

/// Why a call ended, stored in the CDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangupCause {
    /// Someone hung up after answer.
    NormalClearing,
    /// Callee busy.
    UserBusy,
    /// Rang out.
    NoAnswer,
    /// Callee not registered / unreachable.
    UserNotRegistered,
    /// No such number.
    UnallocatedNumber,
    /// Caller gave up before answer.
    OriginatorCancel,
    /// Callee declined.
    CallRejected,
    /// No RTP for too long.
    MediaTimeout,
    /// The caller never acknowledged our 200 OK (64*T1).
    RecoveryOnTimerExpire,
    /// The server was stopped.
    SystemShutdown,
    /// The server died with the call up (crash, kill -9, power loss): set
    /// at the next start on the record left in progress.
    ServerRestart,
    /// Codec/SDP problem.
    IncompatibleDestination,
    /// No media ports, internal failure.
    NormalTemporaryFailure,
    /// This part of the call ended because a party transferred the other
    /// away without consultation (REFER); the transferred call goes on in
    /// a record of its own.
    BlindTransfer,
    /// This part of the call ended in an attended transfer (REFER with
    /// Replaces): the two remaining parties go on in a record of their own.
    AttendedTransfer,
    /// A browser's media transport failed (ICE never connected, DTLS
    /// refused, or the browser went away without hanging up).
    MediaTransportFailure,
}

impl HangupCause {
    /// The CDR text.
    pub fn as_str(self) -> &'static str {
        match self {
            HangupCause::NormalClearing => "NORMAL_CLEARING",
            HangupCause::UserBusy => "USER_BUSY",
            HangupCause::NoAnswer => "NO_ANSWER",
            HangupCause::UserNotRegistered => "USER_NOT_REGISTERED",
            HangupCause::UnallocatedNumber => "UNALLOCATED_NUMBER",
            HangupCause::OriginatorCancel => "ORIGINATOR_CANCEL",
            HangupCause::CallRejected => "CALL_REJECTED",
            HangupCause::MediaTimeout => "MEDIA_TIMEOUT",
            HangupCause::RecoveryOnTimerExpire => "RECOVERY_ON_TIMER_EXPIRE",
            HangupCause::SystemShutdown => "SYSTEM_SHUTDOWN",
            HangupCause::ServerRestart => "SERVER_RESTART",
            HangupCause::IncompatibleDestination => "INCOMPATIBLE_DESTINATION",
            HangupCause::NormalTemporaryFailure => "NORMAL_TEMPORARY_FAILURE",
            HangupCause::BlindTransfer => "BLIND_TRANSFER",
            HangupCause::AttendedTransfer => "ATTENDED_TRANSFER",
            HangupCause::MediaTransportFailure => "MEDIA_TRANSPORT_FAILURE",
        }
    }

    /// Cause of an unanswered call from the SIP code the callee's side gave.
    pub fn from_sip(code: u16) -> HangupCause {
        match code {
            486 | 600 => HangupCause::UserBusy,
            404 | 604 => HangupCause::UnallocatedNumber,
            480 | 408 => HangupCause::UserNotRegistered,
            403 | 603 => HangupCause::CallRejected,
            487 => HangupCause::OriginatorCancel,
            488 | 606 | 415 => HangupCause::IncompatibleDestination,
            _ => HangupCause::NormalTemporaryFailure,
        }
    }

    /// The metrics bucket of an unanswered call.
    pub fn outcome(self) -> Outcome {
        match self {
            HangupCause::UserBusy => Outcome::Busy,
            HangupCause::NoAnswer => Outcome::NoAnswer,
            HangupCause::UserNotRegistered => Outcome::Unavailable,
            HangupCause::UnallocatedNumber => Outcome::NotFound,
            HangupCause::OriginatorCancel => Outcome::Cancelled,
            HangupCause::CallRejected => Outcome::Rejected,
            _ => Outcome::Failed,
        }
    }
}

/// RFC 3261 §16.7-style choice among the forks' failures: a 6xx wins, then busy,
/// then other 4xx, then "unavailable"-type answers, then 5xx.
pub fn best_failure(codes: &[(u16, String)]) -> Option<(u16, String)> {
    fn rank(code: u16) -> u8 {
        match code {
            600..=699 => 0,
            486 => 1,
            480 | 408 => 3,
            400..=499 => 2,
            500..=599 => 4,
            _ => 5,
        }
    }
    codes.iter().min_by_key(|(c, _)| rank(*c)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_beats_unavailable_and_6xx_beats_all() {
        let r = |v: &[u16]| {
            let codes: Vec<(u16, String)> = v.iter().map(|c| (*c, String::new())).collect();
            best_failure(&codes).map(|c| c.0)
        };
        assert_eq!(r(&[480, 486]), Some(486));
        assert_eq!(r(&[503, 480]), Some(480));
        assert_eq!(r(&[486, 603]), Some(603));
        assert_eq!(r(&[]), None);
    }

    #[test]
    fn causes_map_to_outcomes() {
        assert_eq!(HangupCause::from_sip(486).outcome(), Outcome::Busy);
        assert_eq!(HangupCause::from_sip(480).outcome(), Outcome::Unavailable);
        assert_eq!(HangupCause::from_sip(404).as_str(), "UNALLOCATED_NUMBER");
    }
}
