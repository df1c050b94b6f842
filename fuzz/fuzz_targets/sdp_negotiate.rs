//! Codec negotiation on any offer or answer SDP: pick a codec, read an
//! answer, build our answer, never panic; a picked codec must be one we
//! support that the SDP offered.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::codec::Codec;
use media::negotiate::{
    accepted, answer, audio_section, choose, offered_codecs, telephone_event_for,
};
use media::sdp::SessionDescription;
use media::session::LegFormat;

fn check_format(f: &LegFormat, offered: &[(u8, Codec)], te: &[(u8, u32)]) {
    assert!(
        offered.contains(&(f.pt, f.codec)),
        "{f:?} not in {offered:?}"
    );
    // Telephone-event only at the codec's own clock.
    assert_eq!(f.te_pt, telephone_event_for(te, f.codec));
    assert!((10..=120).contains(&f.ptime_ms), "{f:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(sdp) = SessionDescription::parse(&text) else {
        return;
    };
    for m in &sdp.media {
        let _ = offered_codecs(m);
    }
    let Some((i, m)) = audio_section(&sdp) else {
        return;
    };
    assert!(std::ptr::eq(m, &sdp.media[i]));
    assert!(m.port != 0 && m.kind.eq_ignore_ascii_case("audio"));
    let (offered, te) = offered_codecs(m);
    let mut formats = Vec::new();
    for prefer in [None].into_iter().chain(Codec::ALL.map(Some)) {
        if let Some(f) = choose(m, &Codec::ALL, prefer) {
            check_format(&f, &offered, &te);
            formats.push(f);
        }
    }
    if let Some(f) = accepted(m, &Codec::ALL) {
        check_format(&f, &offered, &te);
        formats.push(f);
    }
    for f in formats {
        if let Ok(ours) = answer(&sdp, f, "127.0.0.1".parse().unwrap(), 20000, 1) {
            let _ = ours.to_string();
        }
    }
});
