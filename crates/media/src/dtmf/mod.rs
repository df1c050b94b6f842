//! DTMF: the sixteen telephone keypad digits, received and sent three ways.
//!
//! - [`rfc4733`]: RTP telephone-events (the usual case for SIP trunks and
//!   phones negotiating `telephone-event/8000`).
//! - [`info`]: SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`).
//! - [`goertzel`] / [`tone`]: in-band tones inside the audio itself, detected
//!   and generated.
//!
//! All three receivers report the same [`DigitEvent`], so an application
//! collecting digits does not care how the caller's phone sent them.

pub mod goertzel;
pub mod info;
pub mod rfc4733;
pub mod tone;

/// One key press, however it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    /// The digit: `0`-`9`, `*`, `#` or `A`-`D` (always upper case).
    pub digit: char,
    /// How long the key was held, in milliseconds, as far as the transport
    /// tells (RFC 4733 duration field, INFO `Duration=`, measured tone length).
    pub duration_ms: u32,
    /// Which transport carried it.
    pub source: DtmfSource,
}

/// The transport a [`DigitEvent`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtmfSource {
    /// RTP telephone-event packets (RFC 4733, formerly RFC 2833).
    Rfc4733,
    /// A SIP INFO request body.
    Info,
    /// Tones detected in the audio.
    InBand,
}

/// Errors from the DTMF senders and generators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// The character is not one of `0-9 * # A-D`.
    #[error("{0:?} is not a DTMF digit (expected 0-9, *, #, A-D)")]
    NotADigit(char),
    /// A sample or clock rate the generator cannot work with.
    #[error("unsupported rate {0} Hz")]
    BadRate(u32),
    /// A digit of zero length cannot be sent or played.
    #[error("DTMF duration must be greater than zero")]
    ZeroDuration,
    /// [`rfc4733::Rfc4733Sender::start`] was called while a digit was still
    /// being sent.
    #[error("a DTMF digit is already being sent")]
    Busy,
}

/// Normalises a keypad character: lower-case `a`-`d` become upper case,
/// anything that is not a DTMF digit gives `None`.
pub fn normalize_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' | '*' | '#' | 'A'..='D' => Some(c),
        'a'..='d' => Some(c.to_ascii_uppercase()),
        _ => None,
    }
}

/// Whether `c` is a DTMF digit (`0-9 * # A-D`, lower-case `a-d` accepted).
pub fn is_dtmf_digit(c: char) -> bool {
    normalize_digit(c).is_some()
}

/// The RFC 4733 event code of a digit: `0-9` → 0-9, `*` → 10, `#` → 11,
/// `A`-`D` → 12-15 (lower case accepted).
pub fn event_code(c: char) -> Option<u8> {
    match normalize_digit(c)? {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d => Some(d as u8 - b'A' + 12),
    }
}

/// The digit of an RFC 4733 event code (0-15); other events (flash, modem
/// tones...) give `None`.
pub fn digit_of(code: u8) -> Option<char> {
    match code {
        0..=9 => Some((b'0' + code) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + code - 12) as char),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc4733_table() {
        let digits = "0123456789*#ABCD";
        for (code, c) in digits.chars().enumerate() {
            assert_eq!(event_code(c), Some(code as u8), "{c}");
            assert_eq!(digit_of(code as u8), Some(c));
            assert!(is_dtmf_digit(c));
        }
        assert_eq!(event_code('a'), Some(12));
        assert_eq!(event_code('d'), Some(15));
        assert_eq!(normalize_digit('c'), Some('C'));
        for c in ['e', 'E', ' ', '+', 'x', '\u{0660}'] {
            assert!(!is_dtmf_digit(c), "{c:?}");
            assert_eq!(event_code(c), None);
        }
        for code in 16..=255u8 {
            assert_eq!(digit_of(code), None);
        }
    }
}
