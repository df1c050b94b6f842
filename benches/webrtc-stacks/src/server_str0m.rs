//! The str0m server: one `Rtc` (ICE-lite, DTLS passive) and one UDP socket per call, each
//! driven by its own task on the shared tokio runtime (str0m is sans-IO: the task is the loop
//! that Switchboard would write). Every received audio frame is written back unchanged.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;

/// Counters shared by all calls, printed by the server every few seconds.
#[derive(Default)]
pub struct Counters {
    pub calls: AtomicU64,
    pub ended: AtomicU64,
    pub echoed: AtomicU64,
    pub errors: AtomicU64,
}

/// Builds and drops one `Rtc`: the first one pays a one-time start of the crypto library
/// (about 50 ms here) that a long-running server pays once at start, not on a call.
pub fn warm_up() {
    drop(Rtc::builder().set_ice_lite(true).build(Instant::now()));
}

/// Accepts `offer` for a new call: binds its socket, answers, and spawns its loop.
pub async fn answer(offer: String, counters: Arc<Counters>) -> Result<String, String> {
    let offer = SdpOffer::from_sdp_string(&offer).map_err(|e| format!("bad SDP offer: {e}"))?;
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let local = socket
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?;
    let mut rtc = Rtc::builder()
        .set_ice_lite(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .build(Instant::now());
    let cand = Candidate::host(local, "udp").map_err(|e| format!("candidate: {e}"))?;
    rtc.add_local_candidate(cand);
    // Drain before the next mutation (nothing is sent before the offer is known).
    while let Ok(out) = rtc.poll_output() {
        if matches!(out, Output::Timeout(_)) {
            break;
        }
    }
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| format!("offer refused: {e}"))?;
    counters.calls.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        if let Err(e) = run(rtc, socket, local, &counters).await {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("str0m call {local}: {e}");
        }
        counters.ended.fetch_add(1, Ordering::Relaxed);
    });
    Ok(answer.to_sdp_string())
}

async fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    counters: &Counters,
) -> Result<(), RtcError> {
    let mut buf = vec![0u8; 2000];
    let mut echoed = 0u64;
    loop {
        // Drain to a timeout after every mutation (str0m's single-mutation invariant).
        let deadline = loop {
            match rtc.poll_output()? {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => {
                    // Loopback UDP does not block; a full buffer is a lost packet, as on a wire.
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(Event::MediaData(d)) => {
                    if let Some(w) = rtc.writer(d.mid) {
                        w.write(d.pt, d.network_time, d.time, d.data)?;
                        echoed += 1;
                    }
                }
                Output::Event(Event::IceConnectionStateChange(
                    IceConnectionState::Disconnected,
                )) => {
                    counters.echoed.fetch_add(echoed, Ordering::Relaxed);
                    return Ok(());
                }
                Output::Event(_) => {}
            }
        };
        if echoed >= 1000 {
            counters.echoed.fetch_add(echoed, Ordering::Relaxed);
            echoed = 0;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let input = if wait.is_zero() {
            None
        } else {
            match tokio::time::timeout(
                wait.max(Duration::from_millis(1)),
                socket.recv_from(&mut buf),
            )
            .await
            {
                Ok(Ok((n, source))) => Some((n, source)),
                Ok(Err(e)) => return Err(RtcError::Io(e)),
                Err(_) => None,
            }
        };
        match input {
            Some((n, source)) => {
                let Ok(contents) = buf[..n].try_into() else {
                    continue; // Not STUN, DTLS or (S)RTP: ignored.
                };
                rtc.handle_input(Input::Receive(
                    Instant::now(),
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: local,
                        contents,
                    },
                ))?;
            }
            None => rtc.handle_input(Input::Timeout(Instant::now()))?,
        }
    }
}
