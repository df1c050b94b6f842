//! Relay behaviour with real UDP sockets on 127.0.0.1.
//!
//! Waits use generous timeouts that never fire on a healthy run; nothing
//! asserts on how long anything took.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::{PortAllocator, Relay, RelayStats, Remote, RtpPortPair, Side};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::time::{sleep, timeout};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Another loopback address, which no SDP or signalling in these tests names.
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
const PATIENCE: Duration = Duration::from_secs(5);

/// A minimal valid RTP packet: PCMU, given sequence number, 4 payload bytes.
fn rtp(seq: u16) -> Vec<u8> {
    rtp_ssrc(seq, 0x1234_5678)
}

/// The same from stream `ssrc`.
fn rtp_ssrc(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[1, 2, 3, 4]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p
}

/// A receiver report with no report blocks.
fn rtcp(ssrc: u8) -> Vec<u8> {
    vec![0x80, 201, 0, 1, 0, 0, 0, ssrc]
}

/// One call: a relay plus an endpoint (RTP socket on an even port, RTCP on
/// the next) for each side, allocated from a second pool so port+1 holds.
struct Call {
    relay: Relay,
    stats: Arc<RelayStats>,
    relay_pool: PortAllocator,
    a: RtpPortPair,
    b: RtpPortPair,
}

impl Call {
    fn new(base: u16, signal: bool) -> Call {
        let relay_pool = PortAllocator::new(LOCAL, base, base + 19).unwrap();
        let ends = PortAllocator::new(LOCAL, base + 20, base + 39).unwrap();
        let stats = Arc::new(RelayStats::new());
        let relay = Relay::start(
            &Handle::current(),
            relay_pool.allocate().unwrap(),
            relay_pool.allocate().unwrap(),
            Arc::clone(&stats),
        );
        let (a, b) = (ends.allocate().unwrap(), ends.allocate().unwrap());
        if signal {
            relay.set_remote(Side::A, addr(a.port));
            relay.set_remote(Side::B, addr(b.port));
        }
        Call {
            relay,
            stats,
            relay_pool,
            a,
            b,
        }
    }

    fn rtp_port(&self, side: Side) -> SocketAddr {
        addr(self.relay.local_port(side))
    }

    fn rtcp_port(&self, side: Side) -> SocketAddr {
        addr(self.relay.local_port(side) + 1)
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCAL, port)
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(PATIENCE, sock.recv_from(&mut buf))
        .await
        .expect("packet did not arrive")
        .unwrap();
    (buf[..n].to_vec(), from)
}

/// Waits until `cond` holds; panics after PATIENCE.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_flows_both_ways() {
    let call = Call::new(30000, true);
    for seq in 0..3 {
        call.a
            .rtp
            .send_to(&rtp(seq), call.rtp_port(Side::A))
            .await
            .unwrap();
        let (got, from) = recv(&call.b.rtp).await;
        assert_eq!(got, rtp(seq), "payload passes through untouched");
        assert_eq!(from, call.rtp_port(Side::B), "sent from B's relay port");

        call.b
            .rtp
            .send_to(&rtp(100 + seq), call.rtp_port(Side::B))
            .await
            .unwrap();
        let (got, from) = recv(&call.a.rtp).await;
        assert_eq!(got, rtp(100 + seq));
        assert_eq!(from, call.rtp_port(Side::A));
    }
    // Telephone-event (PT 101, marker set) is just RTP to the relay.
    let mut dtmf = rtp(9);
    dtmf[1] = 0x80 | 101;
    call.a
        .rtp
        .send_to(&dtmf, call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, dtmf);

    eventually("counters", || {
        call.relay.packets(Side::A) == (4, 3) && call.relay.packets(Side::B) == (3, 4)
    })
    .await;
    assert_eq!(call.stats.rtp_relayed.load(Relaxed), 7);
    assert_eq!(call.stats.dropped.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtcp_flows_both_ways() {
    let call = Call::new(30100, true);
    // Nothing latched yet: RTCP goes to the signalled RTP port + 1.
    call.a
        .rtcp
        .send_to(&rtcp(1), call.rtcp_port(Side::A))
        .await
        .unwrap();
    let (got, from) = recv(&call.b.rtcp).await;
    assert_eq!(got, rtcp(1));
    assert_eq!(from, call.rtcp_port(Side::B));
    call.b
        .rtcp
        .send_to(&rtcp(2), call.rtcp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&call.a.rtcp).await.0, rtcp(2));
    eventually("rtcp counter", || {
        call.stats.rtcp_relayed.load(Relaxed) == 2
    })
    .await;
    assert_eq!(call.stats.rtp_relayed.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtcp_latches_to_real_source() {
    let call = Call::new(30900, true);
    // A's RTCP comes from a port that is not its RTP port + 1 (NAT).
    let natted = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    natted
        .send_to(&rtcp(1), call.rtcp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtcp).await.0, rtcp(1));
    call.b
        .rtcp
        .send_to(&rtcp(2), call.rtcp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&natted).await.0, rtcp(2));
    // Once latched, RTCP from elsewhere is dropped.
    call.a
        .rtcp
        .send_to(&rtcp(3), call.rtcp_port(Side::A))
        .await
        .unwrap();
    natted
        .send_to(&rtcp(4), call.rtcp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtcp).await.0, rtcp(4));
    eventually("drop counter", || call.stats.dropped.load(Relaxed) == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_signalled_address_forgets_latch() {
    let call = Call::new(31000, true);
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    recv(&call.b.rtp).await;
    // A re-INVITE moves A to another device.
    let moved = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    call.relay.set_remote(Side::A, moved.local_addr().unwrap());
    eventually("latch forgotten", || {
        call.relay.remote(Side::A) == Some(moved.local_addr().unwrap())
    })
    .await;
    call.b
        .rtp
        .send_to(&rtp(2), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&moved).await.0, rtp(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latches_to_real_source_not_signalled_address() {
    let call = Call::new(30200, false);
    // SDP says A is at `decoy` (say a private address behind NAT); A really
    // sends from `a.rtp`.
    let decoy = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    call.relay.set_remote(Side::A, decoy.local_addr().unwrap());
    call.relay.set_remote(Side::B, addr(call.b.port));

    // Before A has sent anything, B's media goes to the signalled address.
    call.b
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&decoy).await.0, rtp(1));

    // A's first packet latches A to its real source.
    call.a
        .rtp
        .send_to(&rtp(2), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(2));
    call.b
        .rtp
        .send_to(&rtp(3), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&call.a.rtp).await.0, rtp(3));
    assert_eq!(call.relay.remote(Side::A), Some(addr(call.a.port)));

    // Other sources are now dropped and counted: a stranger (even with A's
    // SSRC), and another stream from A's own address; A's next packet flows.
    let stranger = UdpSocket::bind((STRANGER, 0)).await.unwrap();
    stranger
        .send_to(&rtp(666), call.rtp_port(Side::A))
        .await
        .unwrap();
    let other_stream = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    other_stream
        .send_to(&rtp_ssrc(667, 0xBAD), call.rtp_port(Side::A))
        .await
        .unwrap();
    call.a
        .rtp
        .send_to(&rtp(4), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(
        recv(&call.b.rtp).await.0,
        rtp(4),
        "intruder's packet was forwarded"
    );
    eventually("drop counter", || call.stats.dropped.load(Relaxed) == 2).await;
    assert_eq!(call.stats.dropped_source.load(Relaxed), 2);
    assert_eq!(call.relay.remote(Side::A), Some(addr(call.a.port)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_source_is_not_replaced_after_learning() {
    let call = Call::new(30300, false);
    // SDP names a decoy (NAT): the phone's real port is learnt, with a
    // learning window of 50 ms.
    let decoy = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let short = Remote::new(decoy.local_addr().unwrap()).with_learning_ms(50);
    call.relay.set_remote(Side::A, short);
    call.relay.set_remote(Side::B, addr(call.b.port));
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(1));

    // The phone goes silent; its stream (same SSRC) shows up on another port
    // of its address, well after the window: refused, whatever it sends.
    sleep(Duration::from_millis(300)).await;
    let moved = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    for seq in 10..20 {
        moved
            .send_to(&rtp(seq), call.rtp_port(Side::A))
            .await
            .unwrap();
    }
    eventually("drops", || call.stats.dropped_source.load(Relaxed) == 10).await;
    call.b
        .rtp
        .send_to(&rtp(500), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(
        recv(&call.a.rtp).await.0,
        rtp(500),
        "B's media still goes to the latched port"
    );
    assert_eq!(call.relay.remote(Side::A), Some(addr(call.a.port)));
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(100), moved.recv_from(&mut buf))
            .await
            .is_err(),
        "the new port got B's media"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_moving_port_while_learning_is_followed() {
    let call = Call::new(31100, false);
    let decoy = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let long = Remote::new(decoy.local_addr().unwrap()).with_learning_ms(60_000);
    call.relay.set_remote(Side::A, long);
    call.relay.set_remote(Side::B, addr(call.b.port));
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(1));
    // The NAT maps the phone's stream to a new port while learning.
    let moved = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    moved
        .send_to(&rtp(2), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(2));
    call.b
        .rtp
        .send_to(&rtp(500), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&moved).await.0, rtp(500), "B's media follows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_never_latch_nor_receive() {
    let call = Call::new(31200, true);
    let stranger = UdpSocket::bind((STRANGER, 0)).await.unwrap();
    // Before the phones send: RTP and RTCP (valid) at every port of the call.
    for port in [call.rtp_port(Side::A), call.rtp_port(Side::B)] {
        stranger.send_to(&rtp(1), port).await.unwrap();
    }
    for port in [call.rtcp_port(Side::A), call.rtcp_port(Side::B)] {
        stranger.send_to(&rtcp(9), port).await.unwrap();
    }
    eventually("drops", || call.stats.dropped_source.load(Relaxed) == 4).await;
    // The phones latch and hear each other, RTP and RTCP.
    call.a
        .rtp
        .send_to(&rtp(2), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(2));
    call.b
        .rtp
        .send_to(&rtp(3), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&call.a.rtp).await.0, rtp(3));
    call.a
        .rtcp
        .send_to(&rtcp(1), call.rtcp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtcp).await.0, rtcp(1));
    // Mid-call, the stranger again: dropped, and nothing comes back to it.
    for port in [call.rtp_port(Side::A), call.rtp_port(Side::B)] {
        stranger.send_to(&rtp(4), port).await.unwrap();
    }
    call.b
        .rtp
        .send_to(&rtp(5), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&call.a.rtp).await.0, rtp(5));
    eventually("drops", || call.stats.dropped_source.load(Relaxed) == 6).await;
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(100), stranger.recv_from(&mut buf))
            .await
            .is_err(),
        "the stranger received media"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_dropped_and_counted() {
    let call = Call::new(30400, true);
    let mut ext_too_long = rtp(1);
    ext_too_long[0] |= 0x10; // extension flag, but no room for one
    let mut csrc_too_many = rtp(1);
    csrc_too_many[0] |= 0x0f; // 15 CSRCs claimed, none present
    let mut version1 = rtp(1);
    version1[0] = 0x40;
    let mut rtcp_on_rtp = rtp(1);
    rtcp_on_rtp[1] = 200 & 0x7f | 0x80; // PT 72 with marker: an RTCP SR
    let stun = [
        0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let rtp_garbage: [&[u8]; 7] = [
        &[],
        &[0x80],
        &rtp(1)[..11],
        &ext_too_long,
        &csrc_too_many,
        &version1,
        &rtcp_on_rtp,
    ];
    for g in rtp_garbage {
        call.a.rtp.send_to(g, call.rtp_port(Side::A)).await.unwrap();
    }
    call.a
        .rtp
        .send_to(&stun, call.rtp_port(Side::A))
        .await
        .unwrap();
    call.a
        .rtcp
        .send_to(&[0x80, 200, 0, 0], call.rtcp_port(Side::A))
        .await
        .unwrap();
    call.a
        .rtcp
        .send_to(&[0u8; 12], call.rtcp_port(Side::A))
        .await
        .unwrap();

    // Valid packets still flow, and none of the garbage arrived before them.
    call.a
        .rtp
        .send_to(&rtp(7), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(7));
    call.a
        .rtcp
        .send_to(&rtcp(7), call.rtcp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtcp).await.0, rtcp(7));
    eventually("drop counter", || call.stats.dropped.load(Relaxed) == 10).await;
    assert_eq!(call.stats.dropped_invalid.load(Relaxed), 10);
    assert_eq!(call.relay.packets(Side::A).0, 1);

    // An RTP packet with a valid header extension is fine.
    let mut with_ext = rtp(8);
    with_ext[0] |= 0x10;
    with_ext.truncate(12);
    with_ext.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, 9, 9]);
    call.a
        .rtp
        .send_to(&with_ext, call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, with_ext);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_destination_drops() {
    let call = Call::new(30500, false);
    // Nothing signalled for A: its packet may not latch.
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    eventually("drop counter", || {
        call.stats.dropped_source.load(Relaxed) == 1
    })
    .await;
    // A signalled, B not yet: A latches, but its packet has nowhere to go.
    call.relay.set_remote(Side::A, addr(call.a.port));
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    eventually("drop counter", || call.stats.dropped.load(Relaxed) == 2).await;
    assert_eq!(call.relay.packets(Side::A).0, 1);
    // A is latched now; once B is signalled, media flows both ways.
    call.relay.set_remote(Side::B, addr(call.b.port));
    call.a
        .rtp
        .send_to(&rtp(2), call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(2));
    call.b
        .rtp
        .send_to(&rtp(3), call.rtp_port(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&call.a.rtp).await.0, rtp(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_suspends_idle_clock() {
    let call = Call::new(30600, true);
    let later = Instant::now() + Duration::from_secs(100);
    assert!(call.relay.idle_for(later).unwrap() >= Duration::from_secs(100));

    call.relay.set_hold(true);
    assert_eq!(call.relay.idle_for(later), None);
    assert_eq!(call.relay.idle_for(Instant::now()), None);
    call.relay.set_hold(false);
    assert!(call.relay.idle_for(later).is_some());

    // Traffic resets the clock: after a packet, "idle" as seen from the
    // moment before it was sent is zero.
    sleep(Duration::from_millis(20)).await;
    let before = Instant::now();
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    recv(&call.b.rtp).await;
    eventually("idle clock reset", || {
        call.relay.idle_for(before) == Some(Duration::ZERO)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_stops_forwarding_and_frees_ports() {
    let call = Call::new(30700, true);
    call.a
        .rtp
        .send_to(&rtp(1), call.rtp_port(Side::A))
        .await
        .unwrap();
    recv(&call.b.rtp).await;
    assert_eq!(call.relay_pool.in_use(), 2);

    call.relay.close();
    eventually("ports back in the pool", || call.relay_pool.in_use() == 0).await;
    let _ = call.a.rtp.send_to(&rtp(2), call.rtp_port(Side::A)).await;
    let mut buf = [0u8; 64];
    let late = timeout(Duration::from_millis(300), call.b.rtp.recv_from(&mut buf)).await;
    assert!(late.is_err(), "packet forwarded after close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_relay() {
    let call = Call::new(30800, true);
    let Call {
        relay, relay_pool, ..
    } = call;
    drop(relay);
    eventually("ports back in the pool", || relay_pool.in_use() == 0).await;
}

/// The far end's SRTP stack in the SRTP tests: webrtc-rs's context, keyed
/// as a phone would be from the SDP exchange.
fn phone_context(keys: &media::srtp::KeySalt) -> webrtc_srtp::context::Context {
    let raw = base64_decode(&keys.inline());
    let (k, s) = raw.split_at(16);
    webrtc_srtp::context::Context::new(
        k,
        s,
        webrtc_srtp::protection_profile::ProtectionProfile::Aes128CmHmacSha1_80,
        None,
        None,
    )
    .unwrap()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Side A uses SRTP (SDES), side B plain RTP: A's packets are
/// authenticated and decrypted before they latch and reach B in the clear;
/// B's are encrypted with our key for A; forged, tampered and replayed
/// SRTP never crosses and is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srtp_leg_is_terminated_and_forgeries_are_dropped() {
    use media::srtp::{KeySalt, SrtpKeys, Suite};
    let call = Call::new(31940, false);
    let phone_key = KeySalt::random(Suite::AesCm128HmacSha1_80).unwrap();
    let our_key = KeySalt::random(Suite::AesCm128HmacSha1_80).unwrap();
    call.relay.set_remote(
        Side::A,
        Remote::new(addr(call.a.port)).with_srtp(Some(SrtpKeys {
            remote: phone_key,
            local: our_key,
        })),
    );
    call.relay.set_remote(Side::B, addr(call.b.port));
    let mut phone_tx = phone_context(&phone_key);
    let mut phone_rx = phone_context(&our_key);

    // A forgery first (another key): it must not latch nor cross.
    let mut forger = phone_context(&KeySalt::random(Suite::AesCm128HmacSha1_80).unwrap());
    let forged = forger.encrypt_rtp(&rtp(1)).unwrap();
    call.a
        .rtp
        .send_to(&forged, call.rtp_port(Side::A))
        .await
        .unwrap();
    eventually("the forgery counted", || {
        call.stats.dropped_srtp.load(Relaxed) == 1
    })
    .await;

    for seq in 2..5 {
        let sealed = phone_tx.encrypt_rtp(&rtp(seq)).unwrap();
        assert_ne!(&sealed[..], &rtp(seq)[..]);
        call.a
            .rtp
            .send_to(&sealed, call.rtp_port(Side::A))
            .await
            .unwrap();
        let (got, _) = recv(&call.b.rtp).await;
        assert_eq!(got, rtp(seq), "B gets A's packet decrypted");

        call.b
            .rtp
            .send_to(&rtp(100 + seq), call.rtp_port(Side::B))
            .await
            .unwrap();
        let (got, _) = recv(&call.a.rtp).await;
        assert_ne!(got, rtp(100 + seq), "A gets B's packet encrypted");
        let plain = phone_rx.decrypt_rtp(&got).unwrap();
        assert_eq!(&plain[..], &rtp(100 + seq)[..]);
    }

    // SRTCP from A reaches B as plain RTCP, and B's RTCP reaches A sealed.
    let sealed = phone_tx.encrypt_rtcp(&rtcp(7)).unwrap();
    call.a
        .rtcp
        .send_to(&sealed, call.rtcp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtcp).await.0, rtcp(7));
    call.b
        .rtcp
        .send_to(&rtcp(8), call.rtcp_port(Side::B))
        .await
        .unwrap();
    let got = recv(&call.a.rtcp).await.0;
    assert_eq!(&phone_rx.decrypt_rtcp(&got).unwrap()[..], &rtcp(8)[..]);

    // A replay and a tampered packet from the latched phone are dropped.
    let sealed = phone_tx.encrypt_rtp(&rtp(50)).unwrap();
    call.a
        .rtp
        .send_to(&sealed, call.rtp_port(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&call.b.rtp).await.0, rtp(50));
    call.a
        .rtp
        .send_to(&sealed, call.rtp_port(Side::A))
        .await
        .unwrap();
    let mut tampered = phone_tx.encrypt_rtp(&rtp(51)).unwrap().to_vec();
    tampered[12] ^= 0xff;
    call.a
        .rtp
        .send_to(&tampered, call.rtp_port(Side::A))
        .await
        .unwrap();
    eventually("replay and tampering counted", || {
        call.stats.dropped_srtp.load(Relaxed) == 3
    })
    .await;
    let stray = timeout(Duration::from_millis(300), recv_raw(&call.b.rtp)).await;
    assert!(stray.is_err(), "nothing forged reached B: {stray:?}");
    assert_eq!(
        call.relay.packets(Side::A).0,
        4,
        "only authentic packets counted"
    );
}

async fn recv_raw(sock: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).await.unwrap();
    buf[..n].to_vec()
}
