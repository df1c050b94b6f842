//! Any SDP text: parse, anchor and serialise without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(mut sdp) = media::sdp::SessionDescription::parse(text) {
            let _ = sdp.is_hold();
            let _ = sdp.rtp_addr(0);
            sdp.anchor([127, 0, 0, 1].into(), &[20000]);
            let _ = media::sdp::SessionDescription::parse(&sdp.to_string());
        }
    }
});
