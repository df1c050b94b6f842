//! Codec negotiation (SDP offer/answer, RFC 3264) for the legs the engine
//! terminates: which codec a leg uses is picked by the configured preference
//! list among what the far end offered, and our offers list the preference
//! list plus telephone-event.

use std::net::IpAddr;

use crate::codec::Codec;
use crate::sdp::{Direction, MediaDescription, SdpError, SessionDescription};
use crate::session::LegFormat;

/// The telephone-event payload type we offer (the common choice).
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// The payload type we use for `codec` in our offers (its static one).
fn our_pt(codec: Codec) -> u8 {
    codec.static_pt()
}

/// The first audio section that is not rejected (port 0), if any.
pub fn audio_section(sdp: &SessionDescription) -> Option<(usize, &MediaDescription)> {
    sdp.media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind.eq_ignore_ascii_case("audio") && m.port != 0)
}

/// The codecs we support in `m`, in its preference order, with their
/// payload types, and its telephone-event payload type (8 kHz).
pub fn offered_codecs(m: &MediaDescription) -> (Vec<(u8, Codec)>, Option<u8>) {
    let mut codecs = Vec::new();
    let mut te = None;
    for (pt, name, clock) in m.rtpmaps() {
        if name.eq_ignore_ascii_case("telephone-event") {
            if clock == 8000 && te.is_none() {
                te = Some(pt);
            }
            continue;
        }
        if let Some(c) = Codec::from_name(&name) {
            if c.rtp_clock() == clock && !codecs.iter().any(|(_, k)| *k == c) {
                codecs.push((pt, c));
            }
        }
    }
    (codecs, te)
}

/// Keeps only the codecs of `allowed` (and telephone-event) in an offer's
/// audio section, for a peer that takes no others (a gateway's codec
/// list). Leaves `m` as it was and returns false when none of them is
/// offered.
pub fn restrict_to(m: &mut MediaDescription, allowed: &[Codec]) -> bool {
    let (codecs, _) = offered_codecs(m);
    if !codecs.iter().any(|(_, c)| allowed.contains(c)) {
        return false;
    }
    let keep: Vec<u8> = codecs
        .iter()
        .filter(|(_, c)| allowed.contains(c))
        .map(|(pt, _)| *pt)
        .collect();
    let drop: Vec<u8> = m
        .rtpmaps()
        .into_iter()
        .filter(|(pt, name, _)| !keep.contains(pt) && !name.eq_ignore_ascii_case("telephone-event"))
        .map(|(pt, _, _)| pt)
        .collect();
    m.drop_formats(&drop);
    // Codecs first: a peer reading the list in order meets a codec before
    // telephone-event (our own codecs were appended after the caller's).
    let te: Vec<String> = m
        .rtpmaps()
        .into_iter()
        .filter(|(_, name, _)| name.eq_ignore_ascii_case("telephone-event"))
        .map(|(pt, _, _)| pt.to_string())
        .collect();
    m.formats.sort_by_key(|f| te.contains(f));
    true
}

fn ptime(m: &MediaDescription) -> u32 {
    m.attribute("ptime")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|p| (10..=120).contains(p))
        .unwrap_or(crate::audio::FRAME_MS)
}

/// Picks the codec for a leg that sent `offer`: the first codec of
/// `prefs` that the offer contains, or, if `prefer` is given and offered,
/// that one (used to avoid transcoding when the other leg already uses it).
pub fn choose(
    offer: &MediaDescription,
    prefs: &[Codec],
    prefer: Option<Codec>,
) -> Option<LegFormat> {
    let (codecs, te) = offered_codecs(offer);
    let pick = prefer
        .and_then(|p| codecs.iter().find(|(_, c)| *c == p && prefs.contains(c)))
        .or_else(|| {
            prefs
                .iter()
                .find_map(|p| codecs.iter().find(|(_, c)| c == p))
        })?;
    Some(LegFormat {
        codec: pick.1,
        pt: pick.0,
        te_pt: te,
        ptime_ms: ptime(offer),
    })
}

/// Reads the far end's answer to one of our offers: the first codec it
/// accepted that we offered.
pub fn accepted(answer: &MediaDescription, prefs: &[Codec]) -> Option<LegFormat> {
    let (codecs, te) = offered_codecs(answer);
    let (pt, codec) = codecs.into_iter().find(|(_, c)| prefs.contains(c))?;
    Some(LegFormat {
        codec,
        pt,
        te_pt: te,
        ptime_ms: ptime(answer),
    })
}

/// Whether the codec an answer picked (its first format that is not
/// telephone-event or comfort noise) is one the offer contained, by encoding
/// name and clock rate (RFC 3264 §6: an answer may only use offered codecs;
/// payload type numbers may differ between the two). An answer that names no
/// codec at all is not within the offer.
pub fn answer_within_offer(offer: &MediaDescription, answer: &MediaDescription) -> bool {
    let is_codec = |name: &str| {
        !name.eq_ignore_ascii_case("telephone-event") && !name.eq_ignore_ascii_case("CN")
    };
    let Some((_, name, clock)) = answer.rtpmaps().into_iter().find(|(_, n, _)| is_codec(n)) else {
        return false;
    };
    offer
        .rtpmaps()
        .iter()
        .any(|(_, n, c)| *c == clock && n.eq_ignore_ascii_case(&name))
}

/// The audio codecs of `m` as "NAME/clock" (for logs and Warning headers).
pub fn codec_names(m: &MediaDescription) -> String {
    let names: Vec<String> = m
        .rtpmaps()
        .into_iter()
        .filter(|(_, n, _)| !n.eq_ignore_ascii_case("telephone-event"))
        .map(|(_, n, c)| format!("{n}/{c}"))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

fn rtpmap_lines(codec: Codec, pt: u8) -> String {
    format!(
        "a=rtpmap:{pt} {}/{}\r\n",
        codec.encoding_name(),
        codec.rtp_clock()
    )
}

fn session_text(addr: IpAddr, session_id: u64) -> String {
    let ip = if addr.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=switchboard {session_id} 1 IN {ip} {addr}\r\ns=switchboard\r\nc=IN {ip} {addr}\r\nt=0 0\r\n"
    )
}

/// Our offer: every codec of `prefs` in order, plus telephone-event.
pub fn offer(
    addr: IpAddr,
    port: u16,
    prefs: &[Codec],
    session_id: u64,
) -> Result<SessionDescription, SdpError> {
    let mut text = session_text(addr, session_id);
    let pts: Vec<String> = prefs
        .iter()
        .map(|c| our_pt(*c).to_string())
        .chain([TELEPHONE_EVENT_PT.to_string()])
        .collect();
    text += &format!("m=audio {port} RTP/AVP {}\r\n", pts.join(" "));
    for c in prefs {
        text += &rtpmap_lines(*c, our_pt(*c));
    }
    text += &format!(
        "a=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\na=fmtp:{TELEPHONE_EVENT_PT} 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    SessionDescription::parse(&text)
}

/// Our answer to `offer` with the chosen `format`: the chosen codec and
/// telephone-event (if offered) on the first audio section, every other
/// section rejected, direction mirrored (RFC 3264 section 6.1).
pub fn answer(
    offer: &SessionDescription,
    format: LegFormat,
    addr: IpAddr,
    port: u16,
    session_id: u64,
) -> Result<SessionDescription, SdpError> {
    let chosen = audio_section(offer).map(|(i, _)| i);
    let mut text = session_text(addr, session_id);
    for (i, m) in offer.media.iter().enumerate() {
        if Some(i) != chosen {
            let fmt = m.formats.first().map(String::as_str).unwrap_or("0");
            text += &format!("m={} 0 {} {fmt}\r\n", m.kind, m.proto);
            continue;
        }
        let mut pts = vec![format.pt.to_string()];
        if let Some(te) = format.te_pt {
            pts.push(te.to_string());
        }
        text += &format!("m=audio {port} RTP/AVP {}\r\n", pts.join(" "));
        text += &rtpmap_lines(format.codec, format.pt);
        if let Some(te) = format.te_pt {
            text += &format!("a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n");
        }
        let dir = match m.direction() {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        };
        text += &format!("a=ptime:20\r\na={}\r\n", dir.as_str());
    }
    SessionDescription::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(body: &str) -> SessionDescription {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{body}"
        );
        SessionDescription::parse(&text).unwrap()
    }

    const PREFS: [Codec; 3] = [Codec::Pcma, Codec::Pcmu, Codec::G722];

    #[test]
    fn an_offer_is_restricted_to_a_peers_codecs_with_their_lines() {
        let mut s = sdp(
            "m=audio 4000 RTP/AVP 9 0 101 8 96\r\na=rtpmap:9 G722/8000\r\n\
             a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
        );
        let m = &mut s.media[0];
        assert!(restrict_to(m, &[Codec::Pcma]));
        assert_eq!(m.formats, vec!["8", "101"]);
        let text = s.to_string();
        assert!(
            !text.contains("G722") && !text.contains("opus") && !text.contains("useinbandfec"),
            "{text}"
        );
        assert!(text.contains("a=fmtp:101 0-15"), "{text}");
        // None of the allowed codecs offered: left alone.
        let mut s = sdp("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        assert!(!restrict_to(&mut s.media[0], &[Codec::G722]));
        assert_eq!(s.media[0].formats, vec!["0", "101"]);
    }

    #[test]
    fn our_preference_order_wins() {
        let s = sdp("m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let (_, m) = audio_section(&s).unwrap();
        let f = choose(m, &PREFS, None).unwrap();
        assert_eq!((f.codec, f.pt, f.te_pt), (Codec::Pcma, 8, Some(101)));
        // Preferring what the other leg uses avoids transcoding.
        let f = choose(m, &PREFS, Some(Codec::Pcmu)).unwrap();
        assert_eq!(f.codec, Codec::Pcmu);
    }

    #[test]
    fn an_answer_must_pick_an_offered_codec() {
        let opus_only = sdp("m=audio 4000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n");
        let (_, offer) = audio_section(&opus_only).unwrap();
        let pcmu = sdp("m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        assert!(!answer_within_offer(offer, audio_section(&pcmu).unwrap().1));
        // Same codec under another payload type number is within the offer.
        let opus = sdp("m=audio 5000 RTP/AVP 111 101\r\na=rtpmap:111 OPUS/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n");
        assert!(answer_within_offer(offer, audio_section(&opus).unwrap().1));
        // Only telephone-event: no codec at all.
        let te = sdp("m=audio 5000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        assert!(!answer_within_offer(offer, audio_section(&te).unwrap().1));
        assert_eq!(codec_names(offer), "opus/48000");
        assert_eq!(codec_names(audio_section(&te).unwrap().1), "none");
    }

    #[test]
    fn dynamic_g722_and_unknown_codecs() {
        let s = sdp("m=audio 4000 RTP/AVP 96 18 97\r\na=rtpmap:96 G722/8000\r\na=rtpmap:97 telephone-event/8000\r\na=ptime:30\r\n");
        let (_, m) = audio_section(&s).unwrap();
        let f = choose(m, &PREFS, None).unwrap();
        assert_eq!(
            (f.codec, f.pt, f.te_pt, f.ptime_ms),
            (Codec::G722, 96, Some(97), 30)
        );
        let none = sdp("m=audio 4000 RTP/AVP 18\r\n");
        assert!(choose(audio_section(&none).unwrap().1, &PREFS, None).is_none());
    }

    #[test]
    fn answer_mirrors_direction_and_rejects_other_streams() {
        let s = sdp("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\nm=video 5000 RTP/AVP 96\r\n");
        let f = choose(audio_section(&s).unwrap().1, &PREFS, None).unwrap();
        let a = answer(&s, f, "192.0.2.1".parse().unwrap(), 20000, 7).unwrap();
        assert_eq!(a.media.len(), 2);
        assert_eq!(a.media[0].port, 20000);
        assert_eq!(a.media[0].direction(), Direction::RecvOnly);
        assert_eq!(a.media[0].formats, vec!["0", "101"]);
        assert_eq!(a.media[1].port, 0);
        assert_eq!(a.rtp_addr(0).unwrap().to_string(), "192.0.2.1:20000");
    }

    #[test]
    fn offer_lists_preferences_and_events_and_reads_back() {
        let o = offer("192.0.2.1".parse().unwrap(), 20002, &PREFS, 9).unwrap();
        let (codecs, te) = offered_codecs(&o.media[0]);
        assert_eq!(
            codecs,
            vec![(8, Codec::Pcma), (0, Codec::Pcmu), (9, Codec::G722)]
        );
        assert_eq!(te, Some(TELEPHONE_EVENT_PT));
        let ans = sdp("m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let f = accepted(&ans.media[0], &PREFS).unwrap();
        assert_eq!((f.codec, f.pt), (Codec::Pcmu, 0));
    }
}
