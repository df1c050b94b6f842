//! Any bytes off the wire: the parser must answer or refuse, never panic, and
//! whatever it accepts must serialise and parse again.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = sip::parse::parse_message(data) {
        let text = msg.to_string();
        let _ = sip::parse::parse_message(text.as_bytes());
        let _ = sip::message::call_id(&msg);
        let _ = sip::message::cseq(&msg);
        let _ = sip::message::to_tag(&msg);
        let _ = sip::message::from_tag(&msg);
    }
});
