//! Any bytes off the wire: the parser must answer or refuse, never panic, and
//! whatever it accepts must serialise and parse again. Contact headers go
//! through the exact Contact parser too (the registrar's path), and whatever
//! it accepts must render and parse back to the same parameters.
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
        let _ = sip::message::contact_uri(&msg);
        for entry in sip::message::contacts(&msg).unwrap_or_default() {
            let sip::contact::ContactEntry::Addr(a) = entry else {
                continue;
            };
            let mut params = String::new();
            for p in &a.params {
                p.render(&mut params);
            }
            let back = sip::contact::parse_params(&params);
            assert_eq!(back.as_ref(), Ok(&a.params), "{params:?}");
        }
    }
});
