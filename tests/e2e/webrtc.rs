//! WebRTC legs against the real binary, with a Rust WebRTC client playing
//! the browser (str0m, the server's own stack, with full ICE as a browser
//! has) over SIP on WebSocket: scenarios a browser cannot be scripted into.
//! - a call to the browser with audio both ways, then an ICE restart from a
//!   new address (a laptop changing networks) after which audio still flows;
//! - the browser calling out (its offer, our WebRTC answer) with audio;
//! - a browser whose DTLS certificate is not the one its SDP names: the
//!   call ends with `MEDIA_TRANSPORT_FAILURE`;
//! - a browser offering no codec we have: 488 with a Warning;
//! - calls the engine places to a browser (the desk's click-to-dial, a
//!   supervisor joining an agent's call): a WebRTC offer asking for
//!   auto-answer, then audio; listen, whisper and barge each heard by
//!   exactly whom they should be.

use crate::harness::Server;
use crate::ua::{self, Msg, Ua, STEP};
use crate::websocket::{connect_ws, ws_server, WsPhone};
use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::{TcpStream, UdpSocket};

/// An Opus-only peer's side: Opus's payload type, the frames it sends in
/// turn, the payloads it received.
type OpusSide = (u8, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// The browser's WebRTC side: one str0m peer on one UDP socket.
struct Peer {
    rtc: Rtc,
    sock: UdpSocket,
    addr: SocketAddr,
    mid: Option<Mid>,
    /// RTP packets received (decrypted), by payload type.
    received: Vec<u8>,
    /// Of those, the ones carrying sound (not silence).
    loud: u32,
    /// The PCMU byte every frame it sends is made of.
    voice: u8,
    /// An Opus-only peer: the payload type the server's offer gave Opus,
    /// the frames it sends in turn, and the Opus payloads it received.
    opus: Option<OpusSide>,
    sent: u16,
    connected: bool,
    disconnected: bool,
}

impl Peer {
    async fn new(port: u16) -> Peer {
        let sock = UdpSocket::bind(("127.0.0.1", port))
            .await
            .expect("bind the peer's socket");
        let addr = sock.local_addr().expect("addr");
        // PCMU only: what the peer sends (PCMU frames) is then what it
        // negotiated. Opus with a real browser is the desk's browser test.
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        Peer {
            rtc,
            sock,
            addr,
            mid: None,
            received: Vec::new(),
            loud: 0,
            voice: 0x55,
            opus: None,
            sent: 0,
            connected: false,
            disconnected: false,
        }
    }

    /// A peer that has Opus only (as a browser answering with its first
    /// codec) and sends `frames` in turn.
    async fn opus_only(port: u16, frames: Vec<Vec<u8>>) -> Peer {
        let mut p = Peer::new(port).await;
        p.rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        p.rtc
            .add_local_candidate(Candidate::host(p.addr, "udp").expect("candidate"));
        p.opus = Some((0, frames, Vec::new()));
        p
    }

    /// Our answer to the server's WebRTC offer.
    fn answer(&mut self, offer: &str) -> String {
        if let Some((pt, _, _)) = &mut self.opus {
            *pt = offer
                .lines()
                .find_map(|l| {
                    let (pt, codec) = l.strip_prefix("a=rtpmap:")?.split_once(' ')?;
                    codec
                        .to_ascii_lowercase()
                        .starts_with("opus/48000")
                        .then(|| pt.parse().ok())?
                })
                .expect("Opus in the server's offer");
        }
        let offer = SdpOffer::from_sdp_string(offer).expect("a WebRTC offer str0m reads");
        let answer = self.rtc.sdp_api().accept_offer(offer).expect("accepted");
        self.drain();
        answer.to_sdp_string()
    }

    /// An offer of our own (for calling out), PCMU only when `pcmu_only`.
    fn offer(&mut self) -> (String, SdpPendingOffer) {
        let mut api = self.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        self.mid = Some(mid);
        let (offer, pending) = api.apply().expect("an offer");
        (offer.to_sdp_string(), pending)
    }

    /// Moves to a new socket and restarts ICE: the offer for the re-INVITE.
    async fn restart_from(&mut self, port: u16) -> (String, SdpPendingOffer) {
        let sock = UdpSocket::bind(("127.0.0.1", port))
            .await
            .expect("bind the new socket");
        let old = Candidate::host(self.addr, "udp").expect("candidate");
        self.rtc.direct_api().invalidate_candidate(&old);
        self.addr = sock.local_addr().expect("addr");
        self.sock = sock;
        self.rtc
            .add_local_candidate(Candidate::host(self.addr, "udp").expect("candidate"));
        let mut api = self.rtc.sdp_api();
        api.ice_restart(true);
        let (offer, pending) = api.apply().expect("a restart offer");
        self.drain();
        (offer.to_sdp_string(), pending)
    }

    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(ev)) => match ev {
                    Event::Connected => self.connected = true,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.disconnected = true
                    }
                    Event::MediaAdded(m) => {
                        self.mid.get_or_insert(m.mid);
                    }
                    Event::RtpPacket(p) => {
                        self.received.push(*p.header.payload_type);
                        if let Some((pt, _, got)) = &mut self.opus {
                            if *p.header.payload_type == *pt {
                                got.push(p.payload.to_vec());
                            }
                        }
                        if ulaw_level(&p.payload) > LOUD {
                            self.loud += 1;
                        }
                    }
                    _ => {}
                },
                Err(_) => {
                    self.disconnected = true;
                    return None;
                }
            }
        }
    }

    /// Runs the peer for `d`, sending a PCMU frame every 20 ms once
    /// connected when `talk` (PCMU is payload type 0 in both offers).
    async fn run_for(&mut self, d: Duration, talk: bool) {
        let end = Instant::now() + d;
        let mut next_frame = Instant::now();
        let mut buf = vec![0u8; 2000];
        while Instant::now() < end {
            let deadline = self.drain().unwrap_or(end).min(end).min(next_frame);
            let wait = deadline.saturating_duration_since(Instant::now());
            if let Ok(Ok((n, src))) = tokio::time::timeout(
                wait.max(Duration::from_millis(1)),
                self.sock.recv_from(&mut buf),
            )
            .await
            {
                if let Ok(contents) = buf[..n].try_into() {
                    let _ = self.rtc.handle_input(Input::Receive(
                        Instant::now(),
                        Receive {
                            proto: Protocol::Udp,
                            source: src,
                            destination: self.addr,
                            contents,
                        },
                    ));
                }
            }
            let now = Instant::now();
            let _ = self.rtc.handle_input(Input::Timeout(now));
            if talk && self.connected && now >= next_frame {
                next_frame = now + Duration::from_millis(20);
                if let Some(mid) = self.mid {
                    let mut api = self.rtc.direct_api();
                    if let Some(tx) = api.stream_tx_by_mid(mid, None) {
                        self.sent = self.sent.wrapping_add(1);
                        let seq = u64::from(self.sent);
                        let (pt, ts, payload) = match &self.opus {
                            Some((pt, frames, _)) => (
                                *pt,
                                u32::from(self.sent) * 960,
                                frames[usize::from(self.sent) % frames.len()].clone(),
                            ),
                            None => (0, u32::from(self.sent) * 160, vec![self.voice; 160]),
                        };
                        tx.write_rtp(RtpWrite::new(pt.into(), SeqNo::from(seq), ts, now, payload));
                    }
                }
            } else if !talk || !self.connected {
                next_frame = now + Duration::from_millis(20);
            }
        }
        self.drain();
    }
}

/// Mean absolute level of a PCMU payload (a frame of µ-law bytes).
pub(crate) fn ulaw_level(payload: &[u8]) -> i32 {
    if payload.is_empty() {
        return 0;
    }
    let sum: i64 = payload
        .iter()
        .map(|&b| {
            let u = !b;
            let exp = i32::from((u >> 4) & 7);
            let mant = i32::from(u & 0x0f);
            i64::from((((mant << 3) + 0x84) << exp) - 0x84)
        })
        .sum();
    (sum / payload.len() as i64) as i32
}

/// Above this mean level a frame carries sound; silence (0xFF) is 0.
pub(crate) const LOUD: i32 = 2000;

/// A loud PCMU byte (a level of 8316).
pub(crate) const SPEAK: u8 = 0x9f;
/// PCMU silence.
pub(crate) const QUIET: u8 = 0xff;

/// A plain phone's media: sends PCMU frames of `byte` to `to` every 20 ms
/// for `d`; the packets that came back and how many of them were loud.
pub(crate) async fn plain_talk_with(
    sock: StdUdp,
    to: SocketAddr,
    d: Duration,
    byte: u8,
) -> (u32, u32) {
    tokio::task::spawn_blocking(move || {
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let end = Instant::now() + d;
        let (mut i, mut got, mut loud, mut next) = (0u32, 0u32, 0u32, Instant::now());
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            if Instant::now() >= next {
                let mut pkt = vec![0x80, 0];
                pkt.extend_from_slice(&(i as u16).to_be_bytes());
                pkt.extend_from_slice(&(i * 160).to_be_bytes());
                pkt.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
                pkt.extend_from_slice(&[byte; 160]);
                let _ = sock.send_to(&pkt, to);
                i += 1;
                next += Duration::from_millis(20);
            }
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 12 && buf[0] & 0xc0 == 0x80 {
                    got += 1;
                    if buf[1] & 0x7f == 0 && ulaw_level(&buf[12..n]) > LOUD {
                        loud += 1;
                    }
                }
            }
        }
        (got, loud)
    })
    .await
    .expect("the plain phone's media")
}

/// A plain phone's media: sends PCMU to `to` every 20 ms for `d` and counts
/// what comes back.
async fn plain_talk(sock: StdUdp, to: SocketAddr, d: Duration) -> u32 {
    tokio::task::spawn_blocking(move || {
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let end = Instant::now() + d;
        let (mut i, mut got, mut next) = (0u32, 0u32, Instant::now());
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            if Instant::now() >= next {
                let mut pkt = vec![0x80, 0];
                pkt.extend_from_slice(&(i as u16).to_be_bytes());
                pkt.extend_from_slice(&(i * 160).to_be_bytes());
                pkt.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
                pkt.extend_from_slice(&[0xd5; 160]);
                let _ = sock.send_to(&pkt, to);
                i += 1;
                next += Duration::from_millis(20);
            }
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 12 && buf[0] & 0xc0 == 0x80 {
                    got += 1;
                }
            }
        }
        got
    })
    .await
    .expect("the plain phone's media")
}

/// The browser at 1000 registered over `ws`.
async fn browser(server: &Server) -> WsPhone<TcpStream> {
    let mut b = connect_ws(server, Some("sip")).await.expect("upgraded");
    let ok = b.register_until_ok("1000", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    b
}

/// An in-dialog request from the browser (re-INVITE, ACK, BYE) on the call
/// whose INVITE it received (it is the callee: From and To swap).
fn in_dialog(b: &WsPhone<TcpStream>, invite: &Msg, method: &str, cseq: u32, body: &str) -> String {
    let mut r = format!(
        "{method} {} SIP/2.0\r\nVia: SIP/2.0/WS {};branch={}\r\nMax-Forwards: 69\r\n\
         From: {};tag=wsphone\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n\
         Contact: {}\r\n",
        invite.contact_uri().expect("our Contact"),
        b.host,
        ua::branch(),
        invite.header("To").expect("To"),
        invite.header("From").expect("From"),
        invite.call_id(),
        b.contact("1000"),
    );
    if body.is_empty() {
        r.push_str("Content-Length: 0\r\n\r\n");
    } else {
        r.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    r
}

/// The final response to the browser's request with `cseq`/`method`.
async fn final_response(b: &mut WsPhone<TcpStream>, cseq: u32, method: &str) -> Msg {
    loop {
        let m = b.recv().await;
        if m.status.is_some_and(|s| s >= 200) && m.cseq() == (cseq, method.to_string()) {
            return m;
        }
    }
}

/// UDP phone 1002 calls the browser, which answers with `peer`; returns
/// the caller, its dialog, its media socket and where to send, and the
/// INVITE the browser got.
async fn call_browser(
    server: &Server,
    b: &mut WsPhone<TcpStream>,
    peer: &mut Peer,
    tamper: impl Fn(String) -> String,
) -> (Ua, ua::Dialog, StdUdp, SocketAddr, Msg) {
    call_browser_at(server, "1000", b, peer, tamper).await
}

/// [`call_browser`] dialling `number` (the browser's extension, or a queue
/// it is the agent of).
async fn call_browser_at(
    server: &Server,
    number: &str,
    b: &mut WsPhone<TcpStream>,
    peer: &mut Peer,
    tamper: impl Fn(String) -> String,
) -> (Ua, ua::Dialog, StdUdp, SocketAddr, Msg) {
    let number = number.to_string();
    let media = StdUdp::bind(("127.0.0.1", server.ports.media_port(0))).expect("caller media");
    let offer = ua::sdp(media.local_addr().expect("addr").port(), "sendrecv");
    let mut caller = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(caller.register(300).await.status, Some(200));
    let call = tokio::spawn(async move {
        let (resp, dialog) = caller.invite(&number, &offer).await;
        (caller, resp, dialog)
    });
    let invite = b.recv_request("INVITE").await;
    let body = invite.body.clone();
    for wanted in [
        "UDP/TLS/RTP/SAVPF",
        "a=ice-lite",
        "a=fingerprint:sha-256",
        "a=setup:",
    ] {
        assert!(body.contains(wanted), "a WebRTC offer has {wanted}: {body}");
    }
    let m_line = body
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .unwrap_or_default();
    assert!(m_line.contains("SAVPF 111 "), "Opus first: {m_line}");
    let answer = tamper(peer.answer(&body));
    b.respond(&invite, "200 OK", "1000", &answer).await;
    let ack = b.recv_request("ACK").await;
    assert_eq!(ack.call_id(), invite.call_id());
    let (caller, resp, dialog) = tokio::time::timeout(STEP, call)
        .await
        .expect("the caller is answered in time")
        .expect("the caller's task");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let to = ua::sdp_media(&resp.body).expect("our media address");
    (caller, dialog.expect("a dialog"), media, to, invite)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_takes_a_call_with_audio_both_ways_and_keeps_it_across_an_ice_restart() {
    let (server, _) = ws_server("webrtc_call", "").await;
    let mut b = browser(&server).await;
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    let (mut caller, mut dialog, media, to, invite) =
        call_browser(&server, &mut b, &mut peer, |a| a).await;

    let caller_media = media.try_clone().expect("clone");
    let talking = tokio::spawn(plain_talk(caller_media, to, Duration::from_secs(3)));
    peer.run_for(Duration::from_secs(3), true).await;
    let to_caller = talking.await.expect("caller");
    assert!(peer.connected, "ICE and DTLS connected");
    let to_browser = peer.received.len();
    assert!(
        to_browser >= 50,
        "the caller reached the browser: {to_browser} packets"
    );
    assert!(
        peer.received.iter().all(|&pt| pt == 0),
        "PCMU, as the browser answered: {:?}",
        &peer.received[..5]
    );
    assert!(
        to_caller >= 50,
        "the browser reached the caller: {to_caller} packets"
    );

    // The browser moves (new address) and restarts ICE with a re-INVITE,
    // which the B2BUA passes to the caller (who answers it as it is).
    let caller_sdp = ua::sdp(media.local_addr().expect("addr").port(), "sendrecv");
    let reinvited = tokio::spawn(async move {
        let reinvite = caller
            .recv_where(STEP, |m| m.method.as_deref() == Some("INVITE"))
            .await
            .expect("the re-INVITE reaches the caller");
        caller
            .respond(&reinvite, 200, "OK", None, &caller_sdp)
            .await;
        caller
    });
    let (offer, pending) = peer.restart_from(server.ports.media_port(2)).await;
    b.send(&in_dialog(&b, &invite, "INVITE", 1, &offer)).await;
    let ok = final_response(&mut b, 1, "INVITE").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    assert!(
        ok.body.contains("a=ice-ufrag"),
        "a WebRTC answer: {}",
        ok.body
    );
    peer.rtc
        .sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&ok.body).expect("answer"),
        )
        .expect("the restart answer is accepted");
    b.send(&in_dialog(&b, &invite, "ACK", 1, "")).await;
    let mut caller = reinvited.await.expect("the caller's task");
    peer.received.clear();
    let talking = tokio::spawn(plain_talk(media, to, Duration::from_secs(3)));
    peer.run_for(Duration::from_secs(3), true).await;
    let to_caller = talking.await.expect("caller");
    assert!(
        peer.received.len() >= 50,
        "audio reaches the browser at its new address: {} packets",
        peer.received.len()
    );
    assert!(
        to_caller >= 50,
        "the browser's new address reaches the caller: {to_caller}"
    );

    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_cause, "NORMAL_CLEARING", "{cdr:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_whose_dtls_certificate_is_not_its_fingerprint_is_hung_up() {
    let (server, _) = ws_server("webrtc_dtls", "").await;
    let mut b = browser(&server).await;
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    let (mut caller, dialog, _media, _to, _invite) =
        call_browser(&server, &mut b, &mut peer, |answer| {
            // Another certificate's fingerprint: flip digits.
            answer
                .lines()
                .map(|l| match l.strip_prefix("a=fingerprint:sha-256 ") {
                    Some(fp) => format!(
                        "a=fingerprint:sha-256 {}",
                        fp.chars()
                            .map(|c| match c {
                                '0' => '1',
                                '1' => '0',
                                'A' => 'B',
                                'B' => 'A',
                                c => c,
                            })
                            .collect::<String>()
                    ),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\r\n")
                + "\r\n"
        })
        .await;
    let peer_task = tokio::spawn(async move {
        peer.run_for(Duration::from_secs(4), true).await;
        peer
    });
    let bye = caller.expect_request("BYE", &dialog.call_id, "").await;
    assert_eq!(bye.method.as_deref(), Some("BYE"));
    let peer = peer_task.await.expect("peer");
    assert!(
        peer.received.is_empty(),
        "no media to a browser that failed DTLS"
    );
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_cause, "MEDIA_TRANSPORT_FAILURE", "{cdr:?}");
    assert!(server.metric("switchboard_webrtc_failures_total", "") >= 1.0);
}

/// The browser's INVITE to `number` with `offer`, answering the digest
/// challenge; the final response.
async fn browser_invites(
    b: &mut WsPhone<TcpStream>,
    number: &str,
    offer: &str,
) -> (Msg, String, String) {
    let uri = format!("sip:{number}@127.0.0.1");
    let call_id = format!("wsout-{}", ua::token());
    let from = "<sip:1000@127.0.0.1>;tag=wsout".to_string();
    let mut auth = String::new();
    for cseq in 1..=2u32 {
        let req = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/WS {};branch={}\r\nMax-Forwards: 69\r\n\
             From: {from}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: {}\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            b.host,
            ua::branch(),
            b.contact("1000"),
            offer.len()
        );
        b.send(&req).await;
        let resp = final_response(b, cseq, "INVITE").await;
        if resp.status == Some(200) {
            let ack = format!(
                "ACK {} SIP/2.0\r\nVia: SIP/2.0/WS {};branch={}\r\nMax-Forwards: 69\r\n\
                 From: {from}\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n\
                 Content-Length: 0\r\n\r\n",
                resp.contact_uri().unwrap_or(uri.clone()),
                b.host,
                ua::branch(),
                resp.header("To").unwrap_or_default(),
            );
            b.send(&ack).await;
        }
        if resp.status == Some(407) && auth.is_empty() {
            let ch = sip::auth::Challenge::parse(
                resp.header("Proxy-Authenticate").expect("a challenge"),
            )
            .expect("digest");
            let answer = sip::auth::answer(&ch, "1000", "secret", "INVITE", &uri, &ua::token(), 1);
            auth = format!("Proxy-Authorization: {answer}\r\n");
            continue;
        }
        return (resp, call_id, from);
    }
    panic!("challenged twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_calls_out_with_audio_and_an_offer_without_our_codecs_gets_488() {
    let (server, _) = ws_server("webrtc_out", "").await;
    let mut b = browser(&server).await;

    // No codec we have (iLBC only): 488 with the reason.
    let mut peer = Peer::new(server.ports.media_port(3)).await;
    let (offer, _) = peer.offer();
    let ilbc = offer
        .replace(" UDP/TLS/RTP/SAVPF 0", " UDP/TLS/RTP/SAVPF 97")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:97 iLBC/8000")
        .replace("a=rtcp-fb:0 ", "a=rtcp-fb:97 ")
        .replace("a=fmtp:0 ", "a=fmtp:97 ");
    assert!(ilbc.contains("iLBC"), "{ilbc}");
    let (resp, _, _) = browser_invites(&mut b, "1002", &ilbc).await;
    assert_eq!(resp.status, Some(488), "{}", resp.raw);
    let warning = resp.header("Warning").unwrap_or_default();
    assert!(
        warning.contains("iLBC"),
        "the Warning names what was offered: {warning:?}"
    );

    // A real offer to phone 1002, who answers PCMU.
    let mut phone = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(300).await.status, Some(200));
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    let (offer, pending) = peer.offer();
    let phone_media = StdUdp::bind(("127.0.0.1", server.ports.media_port(0))).expect("phone media");
    let phone_port = phone_media.local_addr().expect("addr").port();
    let answering = tokio::spawn(async move {
        let inc = phone.wait_invite(STEP).await.expect("the phone rings");
        let to = ua::sdp_media(&inc.invite.body).expect("our offer's address");
        let d = phone.answer(&inc, &ua::sdp(phone_port, "sendrecv")).await;
        (phone, d, to)
    });
    let (resp, _call_id, _from) = browser_invites(&mut b, "1002", &offer).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    for wanted in ["a=ice-lite", "a=fingerprint:sha-256", "UDP/TLS/RTP/SAVPF"] {
        assert!(
            resp.body.contains(wanted),
            "our WebRTC answer has {wanted}: {}",
            resp.body
        );
    }
    peer.rtc
        .sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&resp.body).expect("answer"),
        )
        .expect("the answer is accepted");
    let (_phone, _d, to) = answering.await.expect("the phone's task");
    let talking = tokio::spawn(plain_talk(phone_media, to, Duration::from_secs(3)));
    peer.run_for(Duration::from_secs(3), true).await;
    let to_phone = talking.await.expect("phone");
    assert!(peer.connected);
    assert!(
        peer.received.len() >= 50,
        "the phone reached the browser: {}",
        peer.received.len()
    );
    assert!(to_phone >= 50, "the browser reached the phone: {to_phone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_moves_from_a_browser_to_a_phone_and_on_to_another_browser() {
    // Queue "support" on 9400 with agent 1000 (the browser): a queue call
    // is one the engine answered, so it can be transferred from the API
    // (as the desk's Transfer button does).
    let queue = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
        [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
        [[callcenter.agents]]\nid = \"1000\"\ncontact = \"1000\"\n\n\
        [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1000\"\n";
    let (server, _) = ws_server("webrtc_transfer", queue).await;
    let mut b = browser(&server).await;
    let (code, body) = server
        .http_post("/api/agents/1000/status?status=available")
        .expect("agent status");
    assert_eq!(code, 200, "{body}");
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    let (_caller, _dialog, media, to, _invite) =
        call_browser_at(&server, "9400", &mut b, &mut peer, |a| a).await;
    let calls: serde_json::Value = serde_json::from_str(&server.api_calls()).expect("JSON");
    let id = calls
        .as_array()
        .and_then(|a| a.first())
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("the call in {calls}"));

    // Transferred to phone 1003 (plain RTP): the browser is hung up, and
    // the caller talks to the phone.
    let mut phone = Ua::new("1003", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(300).await.status, Some(200));
    let phone_media = StdUdp::bind(("127.0.0.1", server.ports.media_port(2))).expect("phone media");
    let phone_port = phone_media.local_addr().expect("addr").port();
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/transfer?to=1003"))
        .expect("transfer");
    assert_eq!(status, 200, "{body}");
    let bye = b.recv_request("BYE").await;
    b.respond(&bye, "200 OK", "1000", "").await;
    let inc = phone.wait_invite(STEP).await.expect("the phone rings");
    assert!(
        !inc.invite.body.contains("SAVPF") && !inc.invite.body.contains("ice-ufrag"),
        "a plain offer to a plain phone: {}",
        inc.invite.body
    );
    let phone_to = ua::sdp_media(&inc.invite.body).expect("our address");
    let _d = phone.answer(&inc, &ua::sdp(phone_port, "sendrecv")).await;
    let caller_media = media.try_clone().expect("clone");
    let (to_caller, to_phone) = tokio::join!(
        plain_talk(caller_media, to, Duration::from_secs(2)),
        plain_talk(phone_media, phone_to, Duration::from_secs(2))
    );
    assert!(
        to_caller >= 40 && to_phone >= 40,
        "caller {to_caller}, phone {to_phone}"
    );

    // On to the browser at 1001: it gets a WebRTC offer and the audio.
    let mut b2 = connect_ws(&server, Some("sip")).await.expect("upgraded");
    let ok = b2.register_until_ok("1001", "secret").await;
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/transfer?to=1001"))
        .expect("transfer");
    assert_eq!(status, 200, "{body}");
    let invite = b2.recv_request("INVITE").await;
    assert!(invite.body.contains("a=ice-lite"), "{}", invite.body);
    let mut peer2 = Peer::new(server.ports.media_port(3)).await;
    let answer = peer2.answer(&invite.body);
    b2.respond(&invite, "200 OK", "1001", &answer).await;
    let talking = tokio::spawn(plain_talk(media, to, Duration::from_secs(3)));
    peer2.run_for(Duration::from_secs(3), true).await;
    let to_caller = talking.await.expect("caller");
    assert!(peer2.connected, "the second browser connected");
    assert!(
        peer2.received.len() >= 50,
        "caller to browser 1001: {}",
        peer2.received.len()
    );
    assert!(to_caller >= 50, "browser 1001 to the caller: {to_caller}");
}

/// The browser at 1000 answers the INVITE the engine placed to it (a
/// WebRTC offer asking for auto-answer) with `peer`.
async fn answer_placed_call(b: &mut WsPhone<TcpStream>, peer: &mut Peer) -> Msg {
    let invite = b.recv_request("INVITE").await;
    assert!(
        invite.body.contains("UDP/TLS/RTP/SAVPF") && invite.body.contains("a=ice-lite"),
        "a WebRTC offer to the browser: {}",
        invite.body
    );
    let info = invite.header("Call-Info").unwrap_or_default();
    assert!(
        info.contains("answer-after=0"),
        "auto-answer asked: {info:?}"
    );
    let answer = peer.answer(&invite.body);
    b.respond(&invite, "200 OK", "1000", &answer).await;
    let ack = b.recv_request("ACK").await;
    assert_eq!(ack.call_id(), invite.call_id());
    invite
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desks_click_to_dial_rings_a_browser_phone_with_webrtc_and_connects_it() {
    let (server, _) = ws_server("webrtc_dial", "").await;
    let mut b = browser(&server).await;
    let mut phone = Ua::new("1003", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(300).await.status, Some(200));
    let phone_media = StdUdp::bind(("127.0.0.1", server.ports.media_port(2))).expect("phone media");
    let phone_port = phone_media.local_addr().expect("addr").port();
    let dial = server.http_post_later("/api/agents/1000/dial?number=1003");
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    answer_placed_call(&mut b, &mut peer).await;
    let (status, body) = dial.await.expect("the dial request");
    assert_eq!(status, 200, "{body}");
    let inc = phone.wait_invite(STEP).await.expect("the number rings");
    let phone_to = ua::sdp_media(&inc.invite.body).expect("our address");
    let _d = phone.answer(&inc, &ua::sdp(phone_port, "sendrecv")).await;
    peer.voice = SPEAK;
    let talking = tokio::spawn(plain_talk_with(
        phone_media,
        phone_to,
        Duration::from_secs(3),
        SPEAK,
    ));
    peer.run_for(Duration::from_secs(3), true).await;
    let (got, loud) = talking.await.expect("the phone");
    assert!(peer.connected, "ICE and DTLS with the browser");
    assert!(
        peer.loud >= 50,
        "the phone reached the browser: {}",
        peer.loud
    );
    assert!(
        loud >= 50,
        "the browser reached the phone: {loud} loud of {got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisors_browser_listens_whispers_and_barges_into_an_agents_call() {
    // Caller 1002 → queue 9400 → agent 1003 (a plain phone); the
    // supervisor's browser phone at 1000 joins from the API (as the desk's
    // supervisor buttons do).
    let queue = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
        [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
        [[callcenter.agents]]\nid = \"1003\"\ncontact = \"1003\"\n\n\
        [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1003\"\n";
    let (server, _) = ws_server("webrtc_supervise", queue).await;
    let mut b = browser(&server).await;
    let (code, body) = server
        .http_post("/api/agents/1003/status?status=available")
        .expect("agent status");
    assert_eq!(code, 200, "{body}");
    let mut agent = Ua::new("1003", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(300).await.status, Some(200));
    let agent_media = StdUdp::bind(("127.0.0.1", server.ports.media_port(2))).expect("agent media");
    let agent_port = agent_media.local_addr().expect("addr").port();
    let caller_media =
        StdUdp::bind(("127.0.0.1", server.ports.media_port(0))).expect("caller media");
    let offer = ua::sdp(caller_media.local_addr().expect("addr").port(), "sendrecv");
    let mut caller = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(caller.register(300).await.status, Some(200));
    let calling = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("9400", &offer).await;
        (caller, resp, dialog)
    });
    let inc = agent.wait_invite(STEP).await.expect("the agent rings");
    let agent_to = ua::sdp_media(&inc.invite.body).expect("our address");
    let _agent_dialog = agent.answer(&inc, &ua::sdp(agent_port, "sendrecv")).await;
    let (_caller, resp, _dialog) = tokio::time::timeout(STEP, calling)
        .await
        .expect("the caller is answered in time")
        .expect("the caller's task");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let caller_to = ua::sdp_media(&resp.body).expect("our address");
    let id = server.live_call_id("b_party", "1003");

    let join = server.http_post_later(&format!("/api/calls/{id}/join?extension=1000&mode=listen"));
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    answer_placed_call(&mut b, &mut peer).await;
    let (status, body) = join.await.expect("the join request");
    assert_eq!(status, 200, "{body}");
    let joined: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let sup = joined["joined"].as_u64().expect("the supervisor's call id");
    peer.voice = SPEAK;

    // One phase: who talks (caller, agent; the supervisor always does) and
    // what each of the three hears (loud packets) over 2.5 s.
    async fn phase(
        peer: &mut Peer,
        caller: (&StdUdp, SocketAddr, u8),
        agent: (&StdUdp, SocketAddr, u8),
    ) -> (u32, u32, u32) {
        let before = peer.loud;
        let d = Duration::from_millis(2500);
        let c = tokio::spawn(plain_talk_with(
            caller.0.try_clone().expect("clone"),
            caller.1,
            d,
            caller.2,
        ));
        let a = tokio::spawn(plain_talk_with(
            agent.0.try_clone().expect("clone"),
            agent.1,
            d,
            agent.2,
        ));
        peer.run_for(d, true).await;
        let (_, caller_heard) = c.await.expect("caller");
        let (_, agent_heard) = a.await.expect("agent");
        (caller_heard, agent_heard, peer.loud - before)
    }

    // Listen: the supervisor hears the caller; neither party hears the
    // supervisor (the agent is quiet, so the caller hears silence).
    let (caller_heard, agent_heard, sup_heard) = phase(
        &mut peer,
        (&caller_media, caller_to, SPEAK),
        (&agent_media, agent_to, QUIET),
    )
    .await;
    assert!(peer.connected, "the supervisor's browser connected");
    assert!(
        sup_heard >= 40,
        "listen: the supervisor hears the call: {sup_heard}"
    );
    assert!(
        agent_heard >= 40,
        "listen: the agent hears the caller: {agent_heard}"
    );
    assert!(
        caller_heard <= 5,
        "listen: the caller hears no supervisor: {caller_heard}"
    );

    // Whisper: the agent hears the supervisor, the caller does not; barge:
    // both do (both parties quiet now).
    for (mode, caller_hears) in [("whisper", false), ("barge", true)] {
        let (status, body) = server
            .http_post(&format!("/api/calls/{sup}/mode?mode={mode}"))
            .expect("mode");
        assert_eq!(status, 200, "{body}");
        let (caller_heard, agent_heard, _) = phase(
            &mut peer,
            (&caller_media, caller_to, QUIET),
            (&agent_media, agent_to, QUIET),
        )
        .await;
        assert!(
            agent_heard >= 40,
            "{mode}: the agent hears the supervisor: {agent_heard}"
        );
        match caller_hears {
            true => assert!(
                caller_heard >= 40,
                "{mode}: the caller hears the supervisor: {caller_heard}"
            ),
            false => assert!(
                caller_heard <= 5,
                "{mode}: the caller does not: {caller_heard}"
            ),
        }
    }

    // The supervisor's call ends: the agent's call goes on, its parties
    // hearing each other directly again.
    let (status, body) = server
        .http_post(&format!("/api/calls/{sup}/hangup"))
        .expect("hangup");
    assert_eq!(status, 200, "{body}");
    let bye = b.recv_request("BYE").await;
    b.respond(&bye, "200 OK", "1000", "").await;
    let d = Duration::from_secs(2);
    let (c, a) = tokio::join!(
        plain_talk_with(caller_media, caller_to, d, SPEAK),
        plain_talk_with(agent_media, agent_to, d, SPEAK)
    );
    assert!(c.1 >= 40 && a.1 >= 40, "after: caller {c:?}, agent {a:?}");
    let calls = server.api_calls();
    assert!(calls.contains(&format!("\"id\":{id},")), "{calls}");
}

/// 20 ms frames of a sine at `hz` (amplitude 8000) at `rate`, `n` of them.
fn tone_frames(hz: f64, rate: usize, n: usize) -> Vec<Vec<i16>> {
    let len = rate / 50;
    (0..n)
        .map(|f| {
            (0..len)
                .map(|i| {
                    let t = (f * len + i) as f64 / rate as f64;
                    ((t * hz * std::f64::consts::TAU).sin() * 8000.0) as i16
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_answering_with_opus_only_is_transcoded_both_ways() {
    use media::codec::Codec;
    assert!(
        Codec::usable().contains(&Codec::Opus),
        "libopus is not installed (tests/run installs libopus0)"
    );
    // The browser's microphone: a 440 Hz tone in real Opus (16 kHz PCM
    // into the encoder, as the server's own Opus legs do).
    let mut enc = Codec::Opus.encoder();
    let opus: Vec<Vec<u8>> = tone_frames(440.0, 16_000, 50)
        .iter()
        .map(|pcm| {
            let mut out = Vec::new();
            enc.encode(pcm, &mut out);
            out
        })
        .collect();
    let (server, _) = ws_server("webrtc_opus", "").await;
    let mut b = browser(&server).await;
    let mut peer = Peer::opus_only(server.ports.media_port(1), opus).await;
    let (_caller, _dialog, media, to, invite) = call_browser(&server, &mut b, &mut peer, |a| {
        assert!(!a.contains("PCMU"), "an Opus-only answer: {a}");
        a
    })
    .await;
    assert!(invite.body.contains("opus/48000/2"), "{}", invite.body);

    // The caller: a 1 kHz tone in PCMU; it keeps what comes back.
    let mut g711 = Codec::Pcmu.encoder();
    let pcmu: Vec<Vec<u8>> = tone_frames(1000.0, 8_000, 50)
        .iter()
        .map(|pcm| {
            let mut out = Vec::new();
            g711.encode(pcm, &mut out);
            out
        })
        .collect();
    let caller = tokio::task::spawn_blocking(move || {
        media
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let end = Instant::now() + Duration::from_secs(3);
        let (mut i, mut next) = (0u32, Instant::now());
        let mut heard = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            if Instant::now() >= next {
                let mut pkt = vec![0x80, 0];
                pkt.extend_from_slice(&(i as u16).to_be_bytes());
                pkt.extend_from_slice(&(i * 160).to_be_bytes());
                pkt.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
                pkt.extend_from_slice(&pcmu[i as usize % pcmu.len()]);
                let _ = media.send_to(&pkt, to);
                i += 1;
                next += Duration::from_millis(20);
            }
            if let Ok((n, _)) = media.recv_from(&mut buf) {
                if n > 12 && buf[1] & 0x7f == 0 {
                    heard.extend(ua::g711_decode(0, &buf[12..n]));
                }
            }
        }
        heard
    });
    peer.run_for(Duration::from_secs(3), true).await;
    let heard = caller.await.expect("the caller");
    assert!(peer.connected, "ICE and DTLS with the browser");
    // The caller hears the browser's 440 Hz (Opus decoded, PCMU out).
    assert!(
        heard.len() >= 8000,
        "{} samples reached the caller",
        heard.len()
    );
    let tail = &heard[heard.len() - 8000..];
    let hz = ua::dominant_hz(tail, 8000.0);
    assert!((hz - 440.0).abs() < 20.0, "the caller hears {hz} Hz");
    // The browser hears the caller's 1 kHz (PCMU decoded, Opus out).
    let got = peer.opus.take().map(|(_, _, got)| got).unwrap_or_default();
    assert!(
        got.len() >= 50,
        "{} Opus packets reached the browser",
        got.len()
    );
    let mut dec = Codec::Opus.decoder();
    let mut pcm = Vec::new();
    for p in &got {
        dec.decode(p, &mut pcm);
    }
    let tail = &pcm[pcm.len().saturating_sub(16_000)..];
    let hz = ua::dominant_hz(tail, 16_000.0);
    assert!((hz - 1000.0).abs() < 30.0, "the browser hears {hz} Hz");
}

/// A call from phone 1002 to the browser at 1000 on a server with
/// `[media] webrtc_ice = ICE`, as if the server were behind a NAT: the host
/// candidate it advertises does not reach it (the browser is given
/// 127.0.0.77 for it, where nothing listens). Whether ICE connected, and
/// the loud packets each side got.
async fn call_through_nat(ice: &str) -> (bool, u32, u32) {
    let (server, _) = ws_server(
        &format!("webrtc_nat_{ice}"),
        &format!("[media]\nwebrtc_ice = \"{ice}\"\n"),
    )
    .await;
    let mut b = browser(&server).await;
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    peer.voice = SPEAK;
    let media = StdUdp::bind(("127.0.0.1", server.ports.media_port(0))).expect("caller media");
    let offer = ua::sdp(media.local_addr().expect("addr").port(), "sendrecv");
    let mut caller = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(caller.register(300).await.status, Some(200));
    let call = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("1000", &offer).await;
        (caller, resp, dialog)
    });
    let invite = b.recv_request("INVITE").await;
    assert_eq!(
        invite.body.contains("a=ice-lite"),
        ice == "lite",
        "{}",
        invite.body
    );
    let hidden: String = invite
        .body
        .lines()
        .map(|l| match l.starts_with("a=candidate") {
            true => l.replace(" 127.0.0.1 ", " 127.0.0.77 "),
            false => l.to_string(),
        })
        .map(|l| l + "\r\n")
        .collect();
    assert!(hidden.contains(" 127.0.0.77 "), "{}", invite.body);
    let answer = peer.answer(&hidden);
    b.respond(&invite, "200 OK", "1000", &answer).await;
    let _ack = b.recv_request("ACK").await;
    let (_caller, resp, _dialog) = tokio::time::timeout(STEP, call)
        .await
        .expect("the caller is answered in time")
        .expect("the caller's task");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let to = ua::sdp_media(&resp.body).expect("our media address");
    let talking = tokio::spawn(plain_talk_with(media, to, Duration::from_secs(4), SPEAK));
    peer.run_for(Duration::from_secs(4), true).await;
    let (_, to_phone) = talking.await.expect("the phone");
    (peer.connected, peer.loud, to_phone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_nat_full_ice_connects_where_ice_lite_cannot() {
    // ICE-lite: the browser's checks go to the advertised address only,
    // which does not reach the server: no media.
    let (connected, to_browser, _) = call_through_nat("lite").await;
    assert!(
        !connected,
        "ICE-lite cannot get through (the test's NAT leaks)"
    );
    assert_eq!(to_browser, 0);
    // Full ICE: the server's own checks reach the browser, which learns
    // the server's real address from them; audio flows both ways.
    let (connected, to_browser, to_phone) = call_through_nat("full").await;
    assert!(connected, "full ICE connects");
    assert!(
        to_browser >= 50,
        "the phone reached the browser: {to_browser}"
    );
    assert!(to_phone >= 50, "the browser reached the phone: {to_phone}");
}

/// A STUN server for the tests that plays the server's NAT too: it answers
/// a Binding request from the server's port P with 127.0.0.2:Q, where Q is
/// a socket of its own that forwards what reaches it to P (and P's
/// replies back to whoever sent last), as a NAT's public port would.
/// A silent one (`answer` false) only counts the requests.
struct StunNat {
    addr: SocketAddr,
    /// Requests received.
    requests: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// The server's ports asked about, with the address given for each.
    mapped: std::sync::Arc<std::sync::Mutex<Vec<(SocketAddr, SocketAddr)>>>,
    /// Datagrams forwarded from the public side to the server.
    inbound: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl StunNat {
    async fn start(answer: bool) -> StunNat {
        use std::sync::atomic::Ordering::Relaxed;
        let sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind the STUN server");
        let nat = StunNat {
            addr: sock.local_addr().expect("addr"),
            requests: Default::default(),
            mapped: Default::default(),
            inbound: Default::default(),
        };
        let (requests, mapped, inbound) = (
            nat.requests.clone(),
            nat.mapped.clone(),
            nat.inbound.clone(),
        );
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                // A Binding request: type 1, the magic cookie.
                if n < 20 || buf[..2] != [0, 1] || buf[4..8] != [0x21, 0x12, 0xA4, 0x42] {
                    continue;
                }
                requests.fetch_add(1, Relaxed);
                if !answer {
                    continue;
                }
                let known = mapped
                    .lock()
                    .expect("lock")
                    .iter()
                    .find(|(p, _)| *p == from)
                    .map(|(_, m)| *m);
                let public = match known {
                    Some(m) => m,
                    None => {
                        let public = UdpSocket::bind("127.0.0.2:0")
                            .await
                            .expect("bind 127.0.0.2");
                        let m = public.local_addr().expect("addr");
                        mapped.lock().expect("lock").push((from, m));
                        tokio::spawn(forward(public, from, inbound.clone()));
                        m
                    }
                };
                let mut id = [0u8; 12];
                id.copy_from_slice(&buf[8..20]);
                let _ = sock.send_to(&binding_success(&id, public), from).await;
            }
        });
        nat
    }

    /// The address given for the server's port `private`.
    fn mapping_of(&self, private: SocketAddr) -> Option<SocketAddr> {
        let m = self.mapped.lock().expect("lock");
        m.iter().find(|(p, _)| *p == private).map(|(_, m)| *m)
    }
}

/// A NAT's public port `public` for the server's `private` one: what
/// arrives from outside goes in, the server's replies go back out.
async fn forward(
    public: UdpSocket,
    private: SocketAddr,
    inbound: std::sync::Arc<std::sync::atomic::AtomicU32>,
) {
    let mut buf = [0u8; 2048];
    let mut outside = None;
    while let Ok((n, from)) = public.recv_from(&mut buf).await {
        if from == private {
            if let Some(to) = outside {
                let _ = public.send_to(&buf[..n], to).await;
            }
        } else {
            outside = Some(from);
            inbound.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = public.send_to(&buf[..n], private).await;
        }
    }
}

/// A STUN Binding success response (RFC 8489) to transaction `id` with
/// XOR-MAPPED-ADDRESS `mapped` (IPv4).
fn binding_success(id: &[u8; 12], mapped: SocketAddr) -> Vec<u8> {
    let magic = [0x21u8, 0x12, 0xA4, 0x42];
    let mut m = vec![0x01, 0x01, 0, 12];
    m.extend_from_slice(&magic);
    m.extend_from_slice(id);
    m.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
    m.extend_from_slice(&(mapped.port() ^ 0x2112).to_be_bytes());
    if let std::net::IpAddr::V4(ip) = mapped.ip() {
        m.extend(ip.octets().iter().zip(magic).map(|(b, k)| b ^ k));
    }
    m
}

/// The `a=candidate` of `kind` (host, srflx) in `sdp`: its address and
/// its related address (raddr/rport), if any.
fn candidate(sdp: &str, kind: &str) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let line = sdp
        .lines()
        .find(|l| l.starts_with("a=candidate:") && l.contains(&format!(" typ {kind}")))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let addr = SocketAddr::new(f.get(4)?.parse().ok()?, f.get(5)?.parse().ok()?);
    let raddr = match (f.get(8), f.get(9), f.get(10), f.get(11)) {
        (Some(&"raddr"), Some(ip), Some(&"rport"), Some(port)) => {
            Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
        }
        _ => None,
    };
    Some((addr, raddr))
}

/// Phone 1002 calls the browser at 1000 on `server` (full ICE); the
/// browser answers the server's offer as `hide` leaves it. The offer as
/// sent, whether ICE connected, the loud packets the browser and the
/// phone got, and how long the offer took to reach the browser.
async fn call_browser_via(
    server: &Server,
    hide: impl Fn(&str) -> String,
) -> (String, bool, u32, u32, Duration) {
    let mut b = browser(server).await;
    let mut peer = Peer::new(server.ports.media_port(1)).await;
    peer.voice = SPEAK;
    let media = StdUdp::bind(("127.0.0.1", server.ports.media_port(0))).expect("caller media");
    let offer = ua::sdp(media.local_addr().expect("addr").port(), "sendrecv");
    let mut caller = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(caller.register(300).await.status, Some(200));
    let dialled = Instant::now();
    let call = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("1000", &offer).await;
        (caller, resp, dialog)
    });
    let invite = b.recv_request("INVITE").await;
    let set_up = dialled.elapsed();
    assert!(
        !invite.body.contains("a=ice-lite"),
        "full ICE: {}",
        invite.body
    );
    let answer = peer.answer(&hide(&invite.body));
    b.respond(&invite, "200 OK", "1000", &answer).await;
    let _ack = b.recv_request("ACK").await;
    let (_caller, resp, _dialog) = tokio::time::timeout(STEP, call)
        .await
        .expect("the caller is answered in time")
        .expect("the caller's task");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let to = ua::sdp_media(&resp.body).expect("our media address");
    let talking = tokio::spawn(plain_talk_with(media, to, Duration::from_secs(4), SPEAK));
    peer.run_for(Duration::from_secs(4), true).await;
    let (_, to_phone) = talking.await.expect("the phone");
    (invite.body, peer.connected, peer.loud, to_phone, set_up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_nat_the_server_offers_the_address_a_stun_server_saw_as_a_srflx_candidate() {
    use std::sync::atomic::Ordering::Relaxed;
    let nat = StunNat::start(true).await;
    let (server, _) = ws_server(
        "webrtc_stun_srflx",
        &format!(
            "[media]\nwebrtc_ice = \"full\"\nstun_server = \"127.0.0.1:{}\"\n",
            nat.addr.port()
        ),
    )
    .await;
    // The server asks about its ports as soon as it starts.
    let until = Instant::now() + STEP;
    while nat.mapped.lock().expect("lock").len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The host candidate does not reach the server (given to the browser
    // as 127.0.0.77, where nothing listens): only the srflx one does.
    let (offer, connected, to_browser, to_phone, _) = call_browser_via(&server, |sdp| {
        sdp.split_inclusive('\n')
            .map(|l| match l.contains(" typ host") {
                true => l.replace(" 127.0.0.1 ", " 127.0.0.77 "),
                false => l.to_string(),
            })
            .collect()
    })
    .await;
    let (host, _) = candidate(&offer, "host").expect("a host candidate");
    let (srflx, raddr) = candidate(&offer, "srflx").expect("a srflx candidate");
    assert_eq!(
        host.ip().to_string(),
        "127.0.0.1",
        "the advertised address: {offer}"
    );
    assert_eq!(
        Some(srflx),
        nat.mapping_of(host),
        "the address the STUN server gave that very port: {offer}"
    );
    assert_eq!(srflx.ip().to_string(), "127.0.0.2");
    assert_eq!(
        raddr,
        Some(host),
        "raddr/rport is the host candidate: {offer}"
    );
    assert!(connected, "ICE connects through the NAT");
    assert!(
        nat.inbound.load(Relaxed) > 0,
        "the browser's checks came in through the srflx candidate"
    );
    assert!(
        to_browser >= 50,
        "the phone reached the browser: {to_browser}"
    );
    assert!(to_phone >= 50, "the browser reached the phone: {to_phone}");
    assert_eq!(
        server.metric("switchboard_webrtc_stun_failures_total", ""),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stun_server_costs_a_call_only_its_srflx_candidate() {
    use std::sync::atomic::Ordering::Relaxed;
    let silent = StunNat::start(false).await;
    let (server, _) = ws_server(
        "webrtc_stun_silent",
        &format!(
            "[media]\nwebrtc_ice = \"full\"\nstun_server = \"127.0.0.1:{}\"\n",
            silent.addr.port()
        ),
    )
    .await;
    let until = Instant::now() + STEP;
    while server.metric("switchboard_webrtc_stun_failures_total", "") < 1.0
        && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failures = server.metric("switchboard_webrtc_stun_failures_total", "");
    assert!(failures >= 1.0, "the failure is counted: {failures}");
    // Retransmitted: three requests to a port in the 500 ms it waited.
    assert!(
        silent.requests.load(Relaxed) >= 3,
        "{}",
        silent.requests.load(Relaxed)
    );
    let (offer, connected, to_browser, to_phone, set_up) =
        call_browser_via(&server, str::to_string).await;
    assert!(candidate(&offer, "host").is_some(), "{offer}");
    assert!(candidate(&offer, "srflx").is_none(), "no srflx: {offer}");
    // The call did not wait for the STUN server at all (it is asked ahead
    // of calls); generous for a loaded machine, far below a hang.
    assert!(set_up < Duration::from_secs(3), "the offer took {set_up:?}");
    assert!(connected, "ICE connects on the host candidate");
    assert!(
        to_browser >= 50,
        "the phone reached the browser: {to_browser}"
    );
    assert!(to_phone >= 50, "the browser reached the phone: {to_phone}");
    assert!(server.metric("switchboard_webrtc_stun_unmapped_total", "") >= 1.0);
    assert!(server.metric("switchboard_webrtc_stun_failures_total", "") >= failures);
}
