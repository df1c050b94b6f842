//! A WebRTC leg against a real WebRTC peer (str0m with full ICE as the
//! controlling side, the way a browser is), datagrams carried in memory on
//! a virtual clock: no sockets, no sleeping.

use super::endpoint::extend_seq_for_test as extend_seq;
use super::*;
use crate::sdp::SessionDescription;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

const BROWSER: &str = "127.0.0.1:40000";
const SERVER: &str = "127.0.0.1:20000";

struct Browser {
    rtc: Rtc,
    addr: SocketAddr,
    connected: bool,
    rtp: Vec<(u8, Vec<u8>)>,
    mid: Option<Mid>,
}

impl Browser {
    fn new(now: Instant) -> Browser {
        let addr: SocketAddr = BROWSER.parse().unwrap();
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Browser {
            rtc,
            addr,
            connected: false,
            rtp: Vec::new(),
            mid: None,
        }
    }

    fn offer(&mut self) -> (String, SdpPendingOffer) {
        let mut api = self.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        self.mid = Some(mid);
        let (offer, pending) = api.apply().unwrap();
        (offer.to_sdp_string(), pending)
    }

    /// Drains the browser's output: datagrams for the server.
    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(_) => return out,
                Output::Transmit(t) => out.push(t.contents.to_vec()),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::RtpPacket(p)) => {
                    self.rtp.push((*p.header.payload_type, p.payload.to_vec()))
                }
                Output::Event(_) => {}
            }
        }
    }
}

/// Moves datagrams both ways for `steps` of 5 ms of virtual time.
fn pump(b: &mut Browser, leg: &WebRtcLeg, now: &mut Instant, steps: usize) {
    let server: SocketAddr = SERVER.parse().unwrap();
    for _ in 0..steps {
        for d in b.drain() {
            leg.receive(*now, b.addr, &d);
        }
        leg.tick(*now);
        let mut back = Vec::new();
        leg.take_transmits(|to, bytes| {
            assert_eq!(to, b.addr, "the server only sends to the proven browser");
            back.push(bytes.to_vec());
        });
        for d in back {
            b.rtc
                .handle_input(Input::Receive(
                    *now,
                    Receive {
                        proto: Protocol::Udp,
                        source: server,
                        destination: b.addr,
                        contents: d.as_slice().try_into().unwrap(),
                    },
                ))
                .unwrap();
        }
        *now += Duration::from_millis(5);
        b.rtc.handle_input(Input::Timeout(*now)).unwrap();
    }
}

/// The browser offers Opus and PCMU; the server answers PCMU (what the
/// call's offer/answer decided) from its plain SDP.
fn answered_call(now: &mut Instant, tamper: impl Fn(&str) -> String) -> (Browser, WebRtcLeg) {
    let identity = WebRtcIdentity::generate().unwrap();
    let mut b = Browser::new(*now);
    let (offer, pending) = b.offer();
    let offer = tamper(&offer);
    let leg = WebRtcLeg::new(&identity);
    let parsed = SessionDescription::parse(&offer).unwrap();
    assert!(is_webrtc(&parsed));
    let view = leg
        .remote_sdp(&offer, &parsed, "127.0.0.1".parse().unwrap(), *now)
        .unwrap();
    assert!(!is_webrtc(&view), "the plain view is plain RTP");
    let (_, m) = crate::negotiate::audio_section(&view).unwrap();
    assert_eq!(m.proto, "RTP/AVP");
    let names: Vec<String> = m.rtpmaps().into_iter().map(|(_, n, _)| n).collect();
    assert!(
        names.iter().any(|n| n.eq_ignore_ascii_case("opus")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.eq_ignore_ascii_case("PCMU")),
        "{names:?}"
    );
    assert!(m.attribute("ice-ufrag").is_none() && m.attribute("fingerprint").is_none());
    assert_eq!(view.rtp_addr(0), Some(BROWSER.parse().unwrap()));
    // Our answer: PCMU only, anchored on the leg's port.
    let mut ours = view.clone();
    let opus: Vec<u8> = m
        .rtpmaps()
        .into_iter()
        .filter(|(_, n, _)| !n.eq_ignore_ascii_case("PCMU"))
        .map(|(pt, _, _)| pt)
        .collect();
    ours.media[0].drop_formats(&opus);
    ours.anchor("127.0.0.1".parse().unwrap(), &[20000]);
    let answer = leg.local_sdp(&ours, *now).unwrap();
    assert!(answer.contains("a=ice-lite"), "{answer}");
    assert!(answer.contains("a=fingerprint:sha-256"), "{answer}");
    assert!(answer.contains("127.0.0.1 20000 typ host"), "{answer}");
    assert!(
        answer.contains("PCMU/8000") && !answer.contains("opus"),
        "{answer}"
    );
    b.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
        .unwrap();
    (b, leg)
}

#[test]
fn a_browser_connects_and_audio_crosses_both_ways_encrypted() {
    let mut now = Instant::now();
    let (mut b, leg) = answered_call(&mut now, |o| o.to_string());
    assert_eq!(leg.state(), WebRtcState::Connecting);
    pump(&mut b, &leg, &mut now, 400);
    assert_eq!(leg.state(), WebRtcState::Connected);
    assert!(b.connected);

    // Browser -> server: PCMU frames come out as plain RTP.
    let mid = b.mid.unwrap();
    for i in 0..5u16 {
        let mut api = b.rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).unwrap();
        let payload = vec![i as u8; 160];
        tx.write_rtp(RtpWrite::new(
            0.into(),
            SeqNo::from(u64::from(i) + 1),
            u32::from(i) * 160,
            now,
            payload,
        ));
        pump(&mut b, &leg, &mut now, 2);
    }
    let got = leg.take_received();
    assert_eq!(got.len(), 5, "every frame arrives once");
    for (i, p) in got.iter().enumerate() {
        assert_eq!(p[0], 0x80);
        assert_eq!(p[1] & 0x7f, 0, "PCMU");
        assert_eq!(p.len(), 12 + 160);
        assert!(p[12..].iter().all(|&x| x == i as u8), "payload intact");
    }

    // Server -> browser: the session's plain packets leave encrypted.
    for i in 0..5u16 {
        let mut pkt = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        pkt[2..4].copy_from_slice(&(100 + i).to_be_bytes());
        pkt[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
        pkt.extend_from_slice(&[0xd5; 160]);
        assert!(leg.send_rtp(now, &pkt));
        let mut wire = Vec::new();
        leg.take_transmits(|_, bytes| wire.push(bytes.to_vec()));
        assert!(
            wire.iter()
                .all(|w| !w.windows(160).any(|s| s.iter().all(|&x| x == 0xd5))),
            "no plaintext on the wire"
        );
        for d in wire {
            b.rtc
                .handle_input(Input::Receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source: SERVER.parse().unwrap(),
                        destination: b.addr,
                        contents: d.as_slice().try_into().unwrap(),
                    },
                ))
                .unwrap();
        }
        pump(&mut b, &leg, &mut now, 2);
    }
    let to_browser: Vec<_> = b.rtp.iter().filter(|(pt, _)| *pt == 0).collect();
    assert_eq!(to_browser.len(), 5);
    assert!(to_browser
        .iter()
        .all(|(_, p)| p.len() == 160 && p[0] == 0xd5));
}

#[test]
fn strangers_and_garbage_get_nothing() {
    let mut now = Instant::now();
    let (mut b, leg) = answered_call(&mut now, |o| o.to_string());
    // Before ICE: media from anyone is dropped, nothing is answered to a
    // stranger's garbage.
    let stranger: SocketAddr = "127.0.0.9:5555".parse().unwrap();
    for junk in [
        &[0x80u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9][..],
        &[0u8; 1][..],
        &[0x16u8; 40][..],
    ] {
        leg.receive(now, stranger, junk);
    }
    let mut sent = 0;
    leg.take_transmits(|_, _| sent += 1);
    assert_eq!(sent, 0);
    assert!(leg.take_received().is_empty());
    assert!(
        !leg.send_rtp(now, &[0x80; 172]),
        "nothing is sent before ICE and DTLS"
    );
    pump(&mut b, &leg, &mut now, 400);
    assert_eq!(leg.state(), WebRtcState::Connected);
    // After: a stranger's RTP is still not media.
    let mut fake = vec![0x80, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0, 9];
    fake.extend_from_slice(&[1; 160]);
    leg.receive(now, stranger, &fake);
    assert!(leg.take_received().is_empty());
}

#[test]
fn a_wrong_dtls_fingerprint_fails_the_leg() {
    let mut now = Instant::now();
    // The offer's fingerprint is not the browser's certificate's.
    let (mut b, leg) = answered_call(&mut now, |o| {
        o.lines()
            .map(|l| {
                if let Some(rest) = l.strip_prefix("a=fingerprint:sha-256 ") {
                    let flipped: String = rest
                        .chars()
                        .map(|c| match c {
                            '0' => '1',
                            '1' => '0',
                            'A' => 'B',
                            'B' => 'A',
                            c => c,
                        })
                        .collect();
                    format!("a=fingerprint:sha-256 {flipped}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n"
    });
    pump(&mut b, &leg, &mut now, 400);
    assert!(
        matches!(leg.state(), WebRtcState::Failed(ref why) if !why.is_empty()),
        "{:?}",
        leg.state()
    );
}

#[test]
fn a_browser_that_never_connects_fails_after_the_deadline() {
    let mut now = Instant::now();
    let (_b, leg) = answered_call(&mut now, |o| o.to_string());
    leg.tick(now + Duration::from_secs(19));
    assert_eq!(leg.state(), WebRtcState::Connecting);
    leg.tick(now + Duration::from_secs(21));
    assert!(matches!(leg.state(), WebRtcState::Failed(_)));
}

#[test]
fn a_leg_failed_from_outside_stays_failed_with_the_first_reason() {
    let mut now = Instant::now();
    let (_b, leg) = answered_call(&mut now, |o| o.to_string());
    leg.fail("no WebRTC description could be made");
    leg.fail("a later reason");
    leg.tick(now + Duration::from_secs(30));
    assert_eq!(
        leg.state(),
        WebRtcState::Failed("no WebRTC description could be made".into())
    );
}

#[test]
fn a_plain_offer_is_not_webrtc_and_bad_sdp_is_refused() {
    let plain = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert!(!is_webrtc(&plain));
    let identity = WebRtcIdentity::generate().unwrap();
    let leg = WebRtcLeg::new(&identity);
    // Parsable as SDP but not as WebRTC (no ICE, no fingerprint).
    let text = plain.to_string();
    assert!(matches!(
        leg.remote_sdp(&text, &plain, "10.0.0.1".parse().unwrap(), Instant::now()),
        Err(WebRtcError::Sdp(_))
    ));
}

#[test]
fn sequence_numbers_extend_across_the_wrap() {
    assert_eq!(extend_seq(None, 7), 7);
    assert_eq!(extend_seq(Some(65_535), 0), 65_536);
    assert_eq!(extend_seq(Some(65_536 + 3), 4), 65_540);
    // A late packet from before the wrap.
    assert_eq!(extend_seq(Some(65_536 + 2), 65_534), 65_534);
}

#[test]
fn an_ice_restart_from_a_new_address_keeps_the_media() {
    let mut now = Instant::now();
    let (mut b, leg) = answered_call(&mut now, |o| o.to_string());
    pump(&mut b, &leg, &mut now, 400);
    assert_eq!(leg.state(), WebRtcState::Connected);
    // The browser moves to a new address and restarts ICE.
    let old = Candidate::host(b.addr, "udp").unwrap();
    b.rtc.direct_api().invalidate_candidate(&old);
    b.addr = "127.0.0.1:40002".parse().unwrap();
    b.rtc
        .add_local_candidate(Candidate::host(b.addr, "udp").unwrap());
    let mut api = b.rtc.sdp_api();
    api.ice_restart(true);
    let (offer, pending) = api.apply().unwrap();
    let offer = offer.to_sdp_string();
    let parsed = SessionDescription::parse(&offer).unwrap();
    let view = leg
        .remote_sdp(&offer, &parsed, "127.0.0.1".parse().unwrap(), now)
        .unwrap();
    let mut ours = view.clone();
    ours.anchor("127.0.0.1".parse().unwrap(), &[20000]);
    let answer = leg.local_sdp(&ours, now).unwrap();
    b.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
        .unwrap();
    pump(&mut b, &leg, &mut now, 400);
    assert_eq!(
        leg.state(),
        WebRtcState::Connected,
        "not failed by the restart"
    );
    b.rtp.clear();
    for i in 0..5u16 {
        let mut pkt = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        pkt[2..4].copy_from_slice(&(200 + i).to_be_bytes());
        pkt[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
        pkt.extend_from_slice(&[0xd5; 160]);
        assert!(leg.send_rtp(now, &pkt));
        pump(&mut b, &leg, &mut now, 2);
    }
    assert_eq!(
        b.rtp.len(),
        5,
        "media reaches the browser at its new address"
    );
}

#[test]
fn the_browsers_answer_read_twice_is_still_an_answer() {
    // We offer (a call to the browser); its answer is read, then read
    // again (a retransmitted 200): the second must not become an offer.
    let now = Instant::now();
    let identity = WebRtcIdentity::generate().unwrap();
    let leg = WebRtcLeg::new(&identity);
    let plain = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
    )
    .unwrap();
    let offer = leg.local_sdp(&plain, now).unwrap();
    let mut b = Browser::new(now);
    let answer = b
        .rtc
        .sdp_api()
        .accept_offer(str0m::change::SdpOffer::from_sdp_string(&offer).unwrap())
        .unwrap()
        .to_sdp_string();
    let parsed = SessionDescription::parse(&answer).unwrap();
    let ip = "127.0.0.1".parse().unwrap();
    leg.remote_sdp(&answer, &parsed, ip, now).unwrap();
    leg.remote_sdp(&answer, &parsed, ip, now).unwrap();
    // Our next description is a new offer (a re-INVITE), not an answer to
    // the browser's answer.
    let next = leg.local_sdp(&plain, now).unwrap();
    assert!(next.contains("a=setup:actpass"), "an offer: {next}");
}

#[test]
fn a_port_with_a_stun_mapping_is_offered_as_a_srflx_candidate_with_full_ice_only() {
    let now = Instant::now();
    let plain = |port: u16| {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ))
        .unwrap()
    };
    let mappings = crate::stun::Mappings::default();
    mappings.insert(20000, "203.0.113.5:41000".parse().unwrap());
    // A NAT that kept the address and port: nothing new to offer.
    mappings.insert(20002, "127.0.0.1:20002".parse().unwrap());
    let id = WebRtcIdentity::generate().unwrap();
    let full = id
        .clone()
        .with_full_ice(true)
        .with_mappings(Some(mappings.clone()));
    let offer = WebRtcLeg::new(&full).local_sdp(&plain(20000), now).unwrap();
    assert!(offer.contains("127.0.0.1 20000 typ host"), "{offer}");
    assert!(
        offer.contains(" 203.0.113.5 41000 typ srflx raddr 127.0.0.1 rport 20000"),
        "{offer}"
    );
    // A browser reads it, srflx and all.
    let mut b = Browser::new(now);
    b.rtc
        .sdp_api()
        .accept_offer(str0m::change::SdpOffer::from_sdp_string(&offer).unwrap())
        .unwrap();
    for port in [20002, 20004] {
        let offer = WebRtcLeg::new(&full).local_sdp(&plain(port), now).unwrap();
        assert!(!offer.contains("typ srflx"), "port {port}: {offer}");
    }
    // ICE-lite has host candidates only (RFC 8445 2.5).
    let lite = id.with_full_ice(false).with_mappings(Some(mappings));
    let offer = WebRtcLeg::new(&lite).local_sdp(&plain(20000), now).unwrap();
    assert!(!offer.contains("typ srflx"), "{offer}");
}
