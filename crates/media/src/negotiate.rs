//! Codec negotiation (SDP offer/answer, RFC 3264) for the legs the engine
//! terminates: which codec a leg uses is picked by the configured preference
//! list among what the far end offered, and our offers list the preference
//! list plus telephone-event.
//!
//! Telephone-event (RFC 4733) goes with the audio codec's RTP clock: its
//! timestamps and durations count in the audio stream's units (§2.1), so a
//! G.711 or G.722 leg uses `telephone-event/8000` and an Opus leg
//! `telephone-event/48000` (what WebRTC offers beside Opus). A leg whose
//! peer offers no telephone-event at its codec's clock has none, and DTMF
//! goes in-band on it.

use std::net::IpAddr;

use crate::codec::Codec;
use crate::sdp::{Direction, MediaDescription, SdpError, SessionDescription};
use crate::session::LegFormat;

/// The telephone-event payload type we offer at 8 kHz (the common choice).
pub const TELEPHONE_EVENT_PT: u8 = 101;
/// The telephone-event payload type we offer at 48 kHz, beside Opus (the
/// number browsers use).
pub const TELEPHONE_EVENT_48K_PT: u8 = 110;

/// A telephone-event format of an SDP: its payload type and RTP clock.
pub type TeFormat = (u8, u32);

/// The telephone-event payload type we offer at `clock`.
fn our_te_pt(clock: u32) -> u8 {
    if clock == 8000 {
        TELEPHONE_EVENT_PT
    } else {
        TELEPHONE_EVENT_48K_PT
    }
}

/// `preferred` if no format of `used` has it, otherwise the first free
/// dynamic payload type (96-127), or `preferred` anyway if all are taken
/// (an offer with 32 dynamic formats is not one we can improve).
fn free_pt(preferred: u8, used: &[u8]) -> u8 {
    if !used.contains(&preferred) {
        return preferred;
    }
    (96..=127)
        .find(|pt| !used.contains(pt))
        .unwrap_or(preferred)
}

/// The RTP clocks of `codecs`, each once, in order.
fn clocks(codecs: impl IntoIterator<Item = Codec>) -> Vec<u32> {
    let mut out = Vec::new();
    for c in codecs {
        if !out.contains(&c.rtp_clock()) {
            out.push(c.rtp_clock());
        }
    }
    out
}

/// The first audio section that is not rejected (port 0), if any.
pub fn audio_section(sdp: &SessionDescription) -> Option<(usize, &MediaDescription)> {
    sdp.media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind.eq_ignore_ascii_case("audio") && m.port != 0)
}

/// The codecs we know in `m`, in its preference order, with their payload
/// types (the first of each), and its telephone-event payload types with
/// their clocks (the first at each clock). Opus is listed whether or not
/// libopus is installed: the preference list passed to [`choose`] and
/// [`accepted`] decides what may be picked.
pub fn offered_codecs(m: &MediaDescription) -> (Vec<(u8, Codec)>, Vec<TeFormat>) {
    let mut codecs = Vec::new();
    let mut te: Vec<TeFormat> = Vec::new();
    for (pt, name, clock) in m.rtpmaps() {
        if name.eq_ignore_ascii_case("telephone-event") {
            if !te.iter().any(|(_, c)| *c == clock) {
                te.push((pt, clock));
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

/// The telephone-event payload type of `te` (as from [`offered_codecs`])
/// that goes with `codec`: the one at the codec's RTP clock.
pub fn telephone_event_for(te: &[TeFormat], codec: Codec) -> Option<u8> {
    te.iter()
        .find(|(_, clock)| *clock == codec.rtp_clock())
        .map(|(pt, _)| *pt)
}

/// Appends `codecs` to an offer's audio section (the offer to a callee,
/// after the caller's codecs), each with its rtpmap and fmtp: a static
/// payload type only if the section does not use that number already (the
/// codec is skipped otherwise, as the number means something else there),
/// Opus at [`OPUS_DEFAULT_PT`](crate::codec::OPUS_DEFAULT_PT) or the first
/// free dynamic number. When the section carries telephone-event and an
/// appended codec has a clock it has no telephone-event for, one is added
/// at that clock, so the callee can pick that codec and keep RFC 4733.
pub fn append_codecs(m: &mut MediaDescription, codecs: &[Codec]) {
    let (have, te) = offered_codecs(m);
    let mut used: Vec<u8> = m.formats.iter().filter_map(|f| f.parse().ok()).collect();
    let mut added = Vec::new();
    for &c in codecs {
        if have.iter().any(|(_, h)| *h == c) {
            continue;
        }
        let pt = match c.static_pt() {
            Some(pt) if used.contains(&pt) => continue,
            Some(pt) => pt,
            None => free_pt(c.default_pt(), &used),
        };
        used.push(pt);
        m.formats.push(pt.to_string());
        m.push_attribute(&format!("rtpmap:{pt} {}", c.rtpmap()));
        if let Some(params) = c.fmtp() {
            m.push_attribute(&format!("fmtp:{pt} {params}"));
        }
        added.push(c);
    }
    if te.is_empty() {
        return;
    }
    for clock in clocks(added) {
        if te.iter().any(|(_, c)| *c == clock) {
            continue;
        }
        let pt = free_pt(our_te_pt(clock), &used);
        used.push(pt);
        m.formats.push(pt.to_string());
        m.push_attribute(&format!("rtpmap:{pt} telephone-event/{clock}"));
        m.push_attribute(&format!("fmtp:{pt} 0-16"));
    }
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
    let kept: Vec<(u8, Codec)> = codecs
        .into_iter()
        .filter(|(_, c)| allowed.contains(c))
        .collect();
    let keep: Vec<u8> = kept.iter().map(|(pt, _)| *pt).collect();
    // Telephone-event stays at the clocks of the codecs kept only.
    let te_clocks = clocks(kept.iter().map(|(_, c)| *c));
    let drop: Vec<u8> = m
        .rtpmaps()
        .into_iter()
        .filter(|(pt, name, clock)| {
            let kept_te = name.eq_ignore_ascii_case("telephone-event") && te_clocks.contains(clock);
            !kept_te && !keep.contains(pt)
        })
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
/// The offer's payload type is kept (any dynamic number for Opus), and
/// telephone-event is the offer's at the codec's clock.
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
        te_pt: telephone_event_for(&te, pick.1),
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
        te_pt: telephone_event_for(&te, codec),
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

/// The `a=rtpmap` line of `codec` at `pt`, and its `a=fmtp` line if it has
/// parameters (Opus).
fn rtpmap_lines(codec: Codec, pt: u8) -> String {
    let mut text = format!("a=rtpmap:{pt} {}\r\n", codec.rtpmap());
    if let Some(params) = codec.fmtp() {
        text += &format!("a=fmtp:{pt} {params}\r\n");
    }
    text
}

/// The lines of telephone-event at `pt` and `clock`.
fn te_lines(pt: u8, clock: u32) -> String {
    format!("a=rtpmap:{pt} telephone-event/{clock}\r\na=fmtp:{pt} 0-16\r\n")
}

fn session_text(addr: IpAddr, session_id: u64) -> String {
    let ip = if addr.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=switchboard {session_id} 1 IN {ip} {addr}\r\ns=switchboard\r\nc=IN {ip} {addr}\r\nt=0 0\r\n"
    )
}

/// Our offer: every codec of `prefs` in order (static payload types, Opus
/// at [`OPUS_DEFAULT_PT`](crate::codec::OPUS_DEFAULT_PT)), plus
/// telephone-event at each of their clocks (8000 alone unless Opus is
/// among them).
pub fn offer(
    addr: IpAddr,
    port: u16,
    prefs: &[Codec],
    session_id: u64,
) -> Result<SessionDescription, SdpError> {
    let codecs: Vec<(Codec, u8)> = prefs.iter().map(|c| (*c, c.default_pt())).collect();
    let mut te_clocks = clocks(prefs.iter().copied());
    if te_clocks.is_empty() {
        te_clocks.push(8000);
    }
    let te: Vec<TeFormat> = te_clocks.into_iter().map(|c| (our_te_pt(c), c)).collect();
    offer_text(addr, port, &codecs, &te, session_id)
}

/// A new offer on a leg that already negotiated `format` (e.g. taking it
/// off hold): its codec alone, at the payload type already agreed (RFC 3264
/// §8.3.2: a number keeps its meaning for the session), with its
/// telephone-event (or ours at its clock, if it had none).
pub fn offer_format(
    addr: IpAddr,
    port: u16,
    format: LegFormat,
    session_id: u64,
) -> Result<SessionDescription, SdpError> {
    let clock = format.codec.rtp_clock();
    let te = format
        .te_pt
        .unwrap_or_else(|| free_pt(our_te_pt(clock), &[format.pt]));
    offer_text(
        addr,
        port,
        &[(format.codec, format.pt)],
        &[(te, clock)],
        session_id,
    )
}

fn offer_text(
    addr: IpAddr,
    port: u16,
    codecs: &[(Codec, u8)],
    te: &[TeFormat],
    session_id: u64,
) -> Result<SessionDescription, SdpError> {
    let mut text = session_text(addr, session_id);
    let pts: Vec<String> = codecs
        .iter()
        .map(|(_, pt)| pt.to_string())
        .chain(te.iter().map(|(pt, _)| pt.to_string()))
        .collect();
    text += &format!("m=audio {port} RTP/AVP {}\r\n", pts.join(" "));
    for (c, pt) in codecs {
        text += &rtpmap_lines(*c, *pt);
    }
    for (pt, clock) in te {
        text += &te_lines(*pt, *clock);
    }
    text += "a=ptime:20\r\na=sendrecv\r\n";
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
            text += &te_lines(te, format.codec.rtp_clock());
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
        assert_eq!(te, vec![(TELEPHONE_EVENT_PT, 8000)]);
        // Exactly as before Opus existed: no 48 kHz telephone-event.
        assert_eq!(o.media[0].formats, vec!["8", "0", "9", "101"]);
        assert!(!o.to_string().contains("fmtp:8"), "{o}");
        let ans = sdp("m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let f = accepted(&ans.media[0], &PREFS).unwrap();
        assert_eq!((f.codec, f.pt), (Codec::Pcmu, 0));
    }

    const WITH_OPUS: [Codec; 4] = [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus];

    #[test]
    fn an_opus_offer_at_109_is_answered_at_109_with_its_fmtp() {
        let s = sdp("m=audio 4000 RTP/AVP 109 9 0 8 110 126\r\n\
             a=rtpmap:109 opus/48000/2\r\na=fmtp:109 minptime=10;useinbandfec=1\r\n\
             a=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n");
        let (_, m) = audio_section(&s).unwrap();
        let prefs = [Codec::Opus, Codec::Pcmu];
        let f = choose(m, &prefs, None).unwrap();
        // The offer's numbers; telephone-event at Opus's 48 kHz clock.
        assert_eq!((f.codec, f.pt, f.te_pt), (Codec::Opus, 109, Some(110)));
        let a = answer(&s, f, "192.0.2.1".parse().unwrap(), 20000, 7).unwrap();
        let text = a.to_string();
        assert_eq!(a.media[0].formats, vec!["109", "110"], "{text}");
        assert!(text.contains("a=rtpmap:109 opus/48000/2\r\n"), "{text}");
        assert!(
            text.contains("a=fmtp:109 minptime=10;useinbandfec=1\r\n"),
            "{text}"
        );
        assert!(
            text.contains("a=rtpmap:110 telephone-event/48000\r\n"),
            "{text}"
        );
        assert!(!text.contains("/8000"), "{text}");
        assert!(answer_within_offer(m, &a.media[0]));
        // The offerer reads our answer back as the same format.
        assert_eq!(accepted(&a.media[0], &prefs), Some(f));
        // Preferring PCMU picks it with the 8 kHz telephone-event.
        let f = choose(m, &[Codec::Pcmu, Codec::Opus], None).unwrap();
        assert_eq!((f.codec, f.pt, f.te_pt), (Codec::Pcmu, 0, Some(126)));
        let a = answer(&s, f, "192.0.2.1".parse().unwrap(), 20000, 7).unwrap();
        assert!(a
            .to_string()
            .contains("a=rtpmap:126 telephone-event/8000\r\n"));
    }

    #[test]
    fn opus_and_pcmu_offered_to_a_pcmu_preferring_config() {
        let s = sdp(
            "m=audio 4000 RTP/AVP 111 0 101\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:101 telephone-event/8000\r\n",
        );
        let (_, m) = audio_section(&s).unwrap();
        let f = choose(m, &WITH_OPUS, None).unwrap();
        assert_eq!((f.codec, f.pt, f.te_pt), (Codec::Pcmu, 0, Some(101)));
        // Opus only if the config has it at all.
        assert_eq!(choose(m, &[Codec::Opus], None).unwrap().codec, Codec::Opus);
        let f = choose(m, &PREFS, Some(Codec::Opus)).unwrap();
        assert_eq!(f.codec, Codec::Pcmu, "Opus not in the preferences");
        // Opus with only an 8 kHz telephone-event: no RFC 4733 on that leg
        // (its clock would not match), DTMF in-band.
        let f = choose(m, &[Codec::Opus], None).unwrap();
        assert_eq!((f.pt, f.te_pt), (111, None));
        let a = answer(&s, f, "192.0.2.1".parse().unwrap(), 20000, 7).unwrap();
        assert_eq!(a.media[0].formats, vec!["111"]);
    }

    #[test]
    fn our_offer_with_opus_has_telephone_event_at_both_clocks() {
        let o = offer("192.0.2.1".parse().unwrap(), 20002, &WITH_OPUS, 9).unwrap();
        let m = &o.media[0];
        assert_eq!(m.formats, vec!["0", "8", "9", "111", "101", "110"]);
        let text = o.to_string();
        assert!(text.contains("a=rtpmap:111 opus/48000/2\r\n"), "{text}");
        assert!(
            text.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"),
            "{text}"
        );
        assert!(
            text.contains("a=rtpmap:110 telephone-event/48000\r\n"),
            "{text}"
        );
        assert!(text.contains("a=fmtp:110 0-16\r\n"), "{text}");
        let (codecs, te) = offered_codecs(m);
        assert_eq!(codecs.last(), Some(&(111, Codec::Opus)));
        assert_eq!(te, vec![(101, 8000), (110, 48000)]);
        // Opus alone: only the 48 kHz telephone-event.
        let o = offer("192.0.2.1".parse().unwrap(), 20002, &[Codec::Opus], 9).unwrap();
        assert_eq!(o.media[0].formats, vec!["111", "110"]);
        // A browser answers Opus at our number.
        let ans = sdp(
            "m=audio 6000 RTP/AVP 111 110\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:110 telephone-event/48000\r\n",
        );
        let f = accepted(&ans.media[0], &WITH_OPUS).unwrap();
        assert_eq!((f.codec, f.pt, f.te_pt), (Codec::Opus, 111, Some(110)));
        // A re-offer keeps the agreed numbers.
        let f = LegFormat::new(Codec::Opus, 109, Some(101));
        let o = offer_format("192.0.2.1".parse().unwrap(), 20002, f, 9).unwrap();
        assert_eq!(o.media[0].formats, vec!["109", "101"]);
        assert!(o
            .to_string()
            .contains("a=rtpmap:101 telephone-event/48000\r\n"));
        let f = LegFormat::new(Codec::Pcma, 8, None);
        let o = offer_format("192.0.2.1".parse().unwrap(), 20002, f, 9).unwrap();
        assert_eq!(o.media[0].formats, vec!["8", "101"]);
    }

    #[test]
    fn appended_codecs_get_free_numbers_and_their_telephone_event() {
        // The caller uses 111 for something else, and 0 is PCMU already.
        let mut s = sdp(
            "m=audio 4000 RTP/AVP 0 111 101\r\na=rtpmap:111 SILK/16000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n",
        );
        append_codecs(&mut s.media[0], &WITH_OPUS);
        let m = &s.media[0];
        assert_eq!(m.formats, vec!["0", "111", "101", "8", "9", "96", "110"]);
        let (codecs, te) = offered_codecs(m);
        assert_eq!(
            codecs,
            vec![
                (0, Codec::Pcmu),
                (8, Codec::Pcma),
                (9, Codec::G722),
                (96, Codec::Opus)
            ]
        );
        assert_eq!(te, vec![(101, 8000), (110, 48000)]);
        assert_eq!(m.fmtp(96), Some("minptime=10;useinbandfec=1"));
        // Without telephone-event in the offer none is added.
        let mut s = sdp("m=audio 4000 RTP/AVP 0\r\n");
        append_codecs(&mut s.media[0], &[Codec::Opus]);
        assert_eq!(s.media[0].formats, vec!["0", "111"]);
        // A static number used for another codec: that codec is left out.
        let mut s = sdp("m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 X-ODD/8000\r\n");
        append_codecs(&mut s.media[0], &[Codec::Pcma, Codec::Pcmu]);
        assert_eq!(s.media[0].formats, vec!["8", "0"]);
    }

    #[test]
    fn restricting_keeps_telephone_event_at_the_kept_clocks_only() {
        let mut s = sdp(
            "m=audio 4000 RTP/AVP 111 0 110 101\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:110 telephone-event/48000\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        assert!(restrict_to(&mut s.media[0], &[Codec::Pcmu]));
        assert_eq!(s.media[0].formats, vec!["0", "101"]);
        let mut s = sdp(
            "m=audio 4000 RTP/AVP 111 0 110 101\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:110 telephone-event/48000\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        assert!(restrict_to(&mut s.media[0], &[Codec::Opus]));
        assert_eq!(s.media[0].formats, vec!["111", "110"]);
    }
}
