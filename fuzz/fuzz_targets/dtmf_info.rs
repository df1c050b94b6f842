//! SIP INFO DTMF bodies: any Content-Type and body must parse or be refused,
//! never panic, and an accepted digit must be a normalised keypad digit.
//!
//! Input: Content-Type, a 0 byte, the body (lossy UTF-8; without a 0 byte
//! everything is the Content-Type and the body is empty). The body is also
//! tried under both DTMF content types, so the body parsers get exercised
//! whatever the first part holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::dtmf::info::{dtmf_relay_body, parse_info};
use media::dtmf::{normalize_digit, DtmfSource};

fn check(content_type: &str, body: &str) {
    if let Ok(ev) = parse_info(content_type, body) {
        assert_eq!(normalize_digit(ev.digit), Some(ev.digit), "{ev:?}");
        assert!(ev.duration_ms > 0, "{ev:?}");
        assert_eq!(ev.source, DtmfSource::Info);
        // What we would send for it reads back the same.
        let again = parse_info("application/dtmf-relay", &dtmf_relay_body(ev.digit, ev.duration_ms));
        assert_eq!(again, Ok(ev));
    }
}

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let ct = String::from_utf8_lossy(ct);
    let body = String::from_utf8_lossy(body);
    check(&ct, &body);
    check("application/dtmf-relay", &body);
    check("application/dtmf", &body);
});
