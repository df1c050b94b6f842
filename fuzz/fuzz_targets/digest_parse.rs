//! Authorization / WWW-Authenticate values: parse without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = sip::auth::Credentials::parse(text) {
            let _ = sip::auth::Credentials::parse(&c.to_header_value());
        }
        let _ = sip::auth::Challenge::parse(text);
    }
});
