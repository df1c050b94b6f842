//! Symmetric RTP (RFC 4961 style "latching"): a side's media goes to the
//! address its packets really come from, which is what gets media through NAT,
//! with guards so a stray or spoofed packet cannot hijack an established stream.
//! Shared by the plain relay and the processing media session.

use std::net::SocketAddr;

/// A latched source must be silent this long before another may take over.
const RELATCH_SILENCE_MS: u64 = 2_000;
/// Consecutive packets a new source must send before it takes over: enough
/// that a single stray or spoofed packet cannot hijack the stream.
const RELATCH_PACKETS: u32 = 5;
/// Per-side latching state, owned by the task that reads the side's sockets.
#[derive(Default)]
pub(crate) struct SideState {
    pub(crate) signalled: Option<SocketAddr>,
    /// Latched RTP source, also the RTP destination.
    pub(crate) rtp: Option<SocketAddr>,
    /// Latched RTCP source, also the RTCP destination.
    pub(crate) rtcp: Option<SocketAddr>,
    /// When the latched RTP source last sent.
    last_ms: u64,
    /// A new source trying to take over, and its consecutive packet count.
    candidate: Option<(SocketAddr, u32)>,
}

impl SideState {
    pub(crate) fn rtp_target(&self) -> Option<SocketAddr> {
        self.rtp.or(self.signalled)
    }

    /// RTCP goes to the latched RTCP source, else to RTP port + 1 (RFC 3550).
    pub(crate) fn rtcp_target(&self) -> Option<SocketAddr> {
        self.rtcp.or_else(|| {
            let rtp = self.rtp_target()?;
            Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?))
        })
    }

    /// Applies symmetric-RTP latching to an RTP packet from `src`; true if
    /// the packet is accepted. `changed` is set when the latch moved.
    pub(crate) fn accept_rtp(&mut self, src: SocketAddr, now_ms: u64, changed: &mut bool) -> bool {
        match self.rtp {
            Some(latched) if latched == src => {
                self.last_ms = now_ms;
                self.candidate = None;
                true
            }
            Some(_) if now_ms.saturating_sub(self.last_ms) < RELATCH_SILENCE_MS => {
                self.candidate = None;
                false
            }
            Some(_) => {
                let count = match self.candidate {
                    Some((c, n)) if c == src => n + 1,
                    _ => 1,
                };
                if count < RELATCH_PACKETS {
                    self.candidate = Some((src, count));
                    return false;
                }
                self.latch(src, now_ms);
                *changed = true;
                true
            }
            None => {
                self.latch(src, now_ms);
                *changed = true;
                true
            }
        }
    }

    fn latch(&mut self, src: SocketAddr, now_ms: u64) {
        self.rtp = Some(src);
        // A new RTP source means the RTCP source must be learnt again too.
        self.rtcp = None;
        self.candidate = None;
        self.last_ms = now_ms;
    }

    pub(crate) fn accept_rtcp(&mut self, src: SocketAddr) -> bool {
        match self.rtcp {
            Some(latched) => latched == src,
            None => {
                self.rtcp = Some(src);
                true
            }
        }
    }
}
