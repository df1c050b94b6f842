//! DTMF carried in SIP INFO request bodies.
//!
//! Two body formats are in the field:
//! - `application/dtmf-relay` (Cisco style): `Signal=5\r\nDuration=160\r\n`;
//! - `application/dtmf`: the body is only the digit (or its event code).
//!
//! Phones are loose about both (spaces, case, bare LF, `10`/`11` for `*`/`#`),
//! so parsing is tolerant of form but strict about the digit itself.

use super::{digit_of, normalize_digit, DigitEvent, DtmfSource};

/// Duration reported when a `dtmf-relay` body has no usable `Duration=` line
/// or for `application/dtmf`, which has none: a typical short key press.
pub const DEFAULT_INFO_DURATION_MS: u32 = 100;

/// Why an INFO body was not understood as a DTMF digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfInfoError {
    /// The content type is neither `application/dtmf-relay` nor
    /// `application/dtmf`.
    #[error("unknown DTMF INFO content type {0:?} (expected application/dtmf-relay or application/dtmf)")]
    UnknownContentType(String),
    /// An `application/dtmf-relay` body without a `Signal=` line, or an empty
    /// `application/dtmf` body.
    #[error("DTMF INFO body has no Signal")]
    MissingSignal,
    /// The signal is present but is not a DTMF digit nor an event code 0-15.
    #[error("bad DTMF digit {0:?} in INFO body")]
    BadDigit(String),
}

/// The two INFO body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Relay,
    Plain,
}

fn format_of(content_type: &str) -> Result<Format, DtmfInfoError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/dtmf-relay") {
        Ok(Format::Relay)
    } else if media_type.eq_ignore_ascii_case("application/dtmf") {
        Ok(Format::Plain)
    } else {
        Err(DtmfInfoError::UnknownContentType(
            content_type.trim().to_string(),
        ))
    }
}

/// Parses a signal value: a single digit character, or a decimal event code
/// 0-15 (some phones send `10`/`11` for `*`/`#`).
fn parse_signal(value: &str) -> Result<char, DtmfInfoError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DtmfInfoError::MissingSignal);
    }
    let mut chars = value.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return normalize_digit(c).ok_or_else(|| DtmfInfoError::BadDigit(value.to_string()));
    }
    value
        .parse::<u8>()
        .ok()
        .and_then(digit_of)
        .ok_or_else(|| DtmfInfoError::BadDigit(value.to_string()))
}

/// Parses the body of a SIP INFO carrying one DTMF digit.
///
/// `content_type` is the Content-Type header value; it is compared
/// case-insensitively and parameters (`; charset=...`) are ignored. For
/// `application/dtmf-relay` the `Signal` and `Duration` keys are matched
/// case-insensitively, with any spacing around `=`, CRLF or bare LF line ends;
/// other keys are ignored. An unreadable or absent `Duration` falls back to
/// [`DEFAULT_INFO_DURATION_MS`] rather than losing a digit the caller clearly
/// pressed.
pub fn parse_info(content_type: &str, body: &str) -> Result<DigitEvent, DtmfInfoError> {
    let (digit, duration_ms) = match format_of(content_type)? {
        Format::Plain => (parse_signal(body)?, DEFAULT_INFO_DURATION_MS),
        Format::Relay => {
            let mut signal = None;
            let mut duration = None;
            for line in body.lines() {
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                let key = key.trim();
                if key.eq_ignore_ascii_case("signal") && signal.is_none() {
                    signal = Some(parse_signal(value)?);
                } else if key.eq_ignore_ascii_case("duration") && duration.is_none() {
                    duration = value.trim().parse::<u32>().ok().filter(|&d| d > 0);
                }
            }
            (
                signal.ok_or(DtmfInfoError::MissingSignal)?,
                duration.unwrap_or(DEFAULT_INFO_DURATION_MS),
            )
        }
    };
    Ok(DigitEvent {
        digit,
        duration_ms,
        source: DtmfSource::Info,
    })
}

/// Builds an `application/dtmf-relay` body to send a digit by SIP INFO.
///
/// The digit should satisfy [`super::is_dtmf_digit`]; lower-case `a`-`d` are
/// sent upper case and any other character is written as given.
pub fn dtmf_relay_body(digit: char, duration_ms: u32) -> String {
    let digit = normalize_digit(digit).unwrap_or(digit);
    format!("Signal={digit}\r\nDuration={duration_ms}\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(body: &str) -> Result<DigitEvent, DtmfInfoError> {
        parse_info("application/dtmf-relay", body)
    }

    #[test]
    fn relay_canonical() {
        let ev = relay("Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(
            ev,
            DigitEvent {
                digit: '5',
                duration_ms: 160,
                source: DtmfSource::Info
            }
        );
    }

    #[test]
    fn relay_tolerates_form() {
        let cases = [
            ("signal = 7\nduration = 250\n", '7', 250),
            ("SIGNAL=#\nDURATION=100", '#', 100),
            ("Signal= *\r\nDuration= 120", '*', 120),
            ("Signal=10\r\nDuration=80\r\n", '*', 80),
            ("Signal=11\r\nDuration=80\r\n", '#', 80),
            ("Signal=a\r\nDuration=90\r\n", 'A', 90),
            ("Signal=15\r\nDuration=90\r\n", 'D', 90),
            ("\r\n  Signal=0  \r\n", '0', DEFAULT_INFO_DURATION_MS),
            (
                "Signal=3\r\nDuration=abc\r\n",
                '3',
                DEFAULT_INFO_DURATION_MS,
            ),
            ("Signal=3\r\nDuration=0\r\n", '3', DEFAULT_INFO_DURATION_MS),
            ("Foo=bar\r\nSignal=9\r\nDuration=200\r\n", '9', 200),
        ];
        for (body, digit, duration) in cases {
            let ev = relay(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
            assert_eq!((ev.digit, ev.duration_ms), (digit, duration), "{body:?}");
        }
    }

    #[test]
    fn relay_errors() {
        assert_eq!(relay("Duration=160\r\n"), Err(DtmfInfoError::MissingSignal));
        assert_eq!(relay(""), Err(DtmfInfoError::MissingSignal));
        assert_eq!(relay("Signal=\r\n"), Err(DtmfInfoError::MissingSignal));
        assert_eq!(
            relay("Signal=X\r\nDuration=160"),
            Err(DtmfInfoError::BadDigit("X".into()))
        );
        assert_eq!(
            relay("Signal=16"),
            Err(DtmfInfoError::BadDigit("16".into()))
        );
        assert_eq!(
            relay("Signal=12a"),
            Err(DtmfInfoError::BadDigit("12a".into()))
        );
        let msg = relay("Signal=X").unwrap_err().to_string();
        assert!(msg.contains("\"X\""), "{msg}");
    }

    #[test]
    fn plain_dtmf() {
        let d = |body: &str| parse_info("application/dtmf", body).map(|e| e.digit);
        assert_eq!(d("5"), Ok('5'));
        assert_eq!(d(" # \r\n"), Ok('#'));
        assert_eq!(d("b"), Ok('B'));
        assert_eq!(d("10"), Ok('*'));
        assert_eq!(d("11"), Ok('#'));
        assert_eq!(d("13"), Ok('B'));
        assert_eq!(d(""), Err(DtmfInfoError::MissingSignal));
        assert_eq!(d("Z"), Err(DtmfInfoError::BadDigit("Z".into())));
        assert_eq!(d("99"), Err(DtmfInfoError::BadDigit("99".into())));
        let ev = parse_info("application/dtmf", "1").unwrap();
        assert_eq!(ev.duration_ms, DEFAULT_INFO_DURATION_MS);
        assert_eq!(ev.source, DtmfSource::Info);
    }

    #[test]
    fn content_type_matching() {
        let body = "Signal=1\r\nDuration=100\r\n";
        for ct in [
            "application/dtmf-relay",
            "Application/DTMF-Relay",
            " application/dtmf-relay ; charset=utf-8",
        ] {
            assert_eq!(parse_info(ct, body).map(|e| e.digit), Ok('1'), "{ct}");
        }
        assert_eq!(
            parse_info("APPLICATION/DTMF;foo=bar", "4").map(|e| e.digit),
            Ok('4')
        );
        let err = parse_info("text/plain", body).unwrap_err();
        assert_eq!(err, DtmfInfoError::UnknownContentType("text/plain".into()));
        assert!(err.to_string().contains("text/plain"));
        assert!(matches!(
            parse_info("application/dtmf-relayx", body),
            Err(DtmfInfoError::UnknownContentType(_))
        ));
    }

    #[test]
    fn relay_body_round_trip() {
        assert_eq!(dtmf_relay_body('5', 160), "Signal=5\r\nDuration=160\r\n");
        assert_eq!(dtmf_relay_body('c', 90), "Signal=C\r\nDuration=90\r\n");
        for c in "0123456789*#ABCD".chars() {
            let ev = relay(&dtmf_relay_body(c, 240)).unwrap();
            assert_eq!((ev.digit, ev.duration_ms), (c, 240));
        }
    }
}
