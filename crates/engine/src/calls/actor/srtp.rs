//! SRTP on a call's legs (SDES, RFC 4568): which leg uses it, the key we
//! give each one, and the rewriting of every SDP we send so that it carries
//! our key for that leg and never the other leg's.
//!
//! Policy: a leg uses SRTP when its phone asks for it (an RTP/SAVP offer or
//! answer from it), or when we offer to a phone registered over TLS (keys
//! in SDP are only secret when the signalling is) or to a gateway set to
//! SRTP (carriers differ: many TLS trunks still carry plain RTP). Each leg is terminated
//! separately by the media layer, so SRTP on one leg and plain RTP on the
//! other works, and recording and transcoding see plain audio.

use super::{Call, Side};
use media::negotiate;
use media::sdp::SessionDescription;
use media::srtp::{self, CryptoAttr, KeySalt, SrtpKeys, Suite};
use std::sync::atomic::Ordering::Relaxed;

/// The tag of the crypto line we offer (one line, so any tag would do).
const OFFER_TAG: u32 = 1;

/// One leg's SDES state: the tag its SDP pairs on and our key for it.
#[derive(Clone, Copy, Debug)]
pub(super) struct LegSrtp {
    tag: u32,
    local: KeySalt,
    /// The phone's keys have been seen (the leg is counted once).
    active: bool,
}

impl LegSrtp {
    fn new(tag: u32, suite: Suite) -> Option<LegSrtp> {
        match KeySalt::random(suite) {
            Ok(local) => Some(LegSrtp {
                tag,
                local,
                active: false,
            }),
            Err(e) => {
                tracing::error!("SRTP: {e}");
                None
            }
        }
    }

    fn crypto(&self) -> CryptoAttr {
        CryptoAttr {
            tag: self.tag,
            keys: self.local,
        }
    }
}

impl Call {
    fn leg_srtp(&self, side: Side) -> Option<LegSrtp> {
        self.srtp.get()[side as usize]
    }

    fn set_leg_srtp(&self, side: Side, leg: Option<LegSrtp>) {
        let mut all = self.srtp.get();
        all[side as usize] = leg;
        self.srtp.set(all);
    }

    /// Why the caller's offer cannot be answered with SRTP (RTP/SAVP with
    /// no `a=crypto` we implement); None when it can, or is plain RTP.
    pub(super) fn unusable_crypto(&self, offer: &SessionDescription) -> Option<String> {
        let (_, m) = negotiate::audio_section(offer)?;
        srtp::sdes_of(m, None).err().map(|e| e.to_string())
    }

    /// The SRTP keys for `side`'s media from its SDP `sdp` (None: plain
    /// RTP). The side's SDP decides: RTP/SAVP with a usable line makes the
    /// leg SRTP (our key made on first use, kept across re-INVITEs), plain
    /// RTP makes it plain from now on.
    pub(super) fn srtp_keys_of(&self, side: Side, sdp: &SessionDescription) -> Option<SrtpKeys> {
        let m = negotiate::audio_section(sdp).map(|(_, m)| m)?;
        let have = self.leg_srtp(side);
        let theirs = match srtp::sdes_of(m, have.map(|l| l.tag)) {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.set_leg_srtp(side, None);
                return None;
            }
            Err(e) => {
                tracing::warn!("call {}: leg {side:?}: SRTP not usable: {e}", self.id);
                self.set_leg_srtp(side, None);
                return None;
            }
        };
        let mut leg = match have {
            // The same suite both ways (RFC 4568 section 6.1).
            Some(l) if l.local.suite() == theirs.keys.suite() => l,
            _ => LegSrtp::new(theirs.tag, theirs.keys.suite())?,
        };
        if !leg.active {
            leg.active = true;
            self.ctx.metrics.srtp_legs.fetch_add(1, Relaxed);
        }
        self.set_leg_srtp(side, Some(leg));
        Some(SrtpKeys {
            remote: theirs.keys,
            local: leg.local,
        })
    }

    /// Rewrites the audio section of an SDP we send to `towards`: our crypto
    /// line for that leg if it uses SRTP, else plain RTP/AVP.
    pub(super) fn secure_for(&self, sdp: &mut SessionDescription, towards: Side) {
        let crypto = self.leg_srtp(towards).map(|l| l.crypto());
        if let Some((i, _)) = negotiate::audio_section(sdp) {
            srtp::set_sdes(&mut sdp.media[i], crypto.as_ref());
        }
    }

    /// The body of an SDP we send to `towards` (see [`Call::secure_for`]).
    pub(super) fn secured(&self, mut sdp: SessionDescription, towards: Side) -> Vec<u8> {
        if let Some(body) = self.webrtc_sdp_for(&sdp, towards) {
            return body;
        }
        self.secure_for(&mut sdp, towards);
        sdp.to_string().into_bytes()
    }

    /// An offer body for a new leg B: SRTP when `srtp` (with our key for
    /// leg B, made once per set of forks), plain RTP otherwise. A body that
    /// is not SDP is sent as it is.
    pub(super) fn offer_for_new_b(&self, body: Vec<u8>, srtp: bool) -> Vec<u8> {
        let Some(mut sdp) = std::str::from_utf8(&body)
            .ok()
            .and_then(|t| SessionDescription::parse(t).ok())
        else {
            return body;
        };
        let crypto = if srtp {
            let leg = self.leg_srtp(Side::B).or_else(|| {
                let made = LegSrtp::new(OFFER_TAG, Suite::AesCm128HmacSha1_80);
                self.set_leg_srtp(Side::B, made);
                made
            });
            leg.map(|l| l.crypto())
        } else {
            None
        };
        if let Some((i, _)) = negotiate::audio_section(&sdp) {
            srtp::set_sdes(&mut sdp.media[i], crypto.as_ref());
        }
        sdp.to_string().into_bytes()
    }

    /// Forgets leg B's SRTP state: a new leg B (a bridge, the next agent)
    /// gets a new key.
    pub(super) fn reset_b_srtp(&self) {
        self.set_leg_srtp(Side::B, None);
        // Likewise a browser's WebRTC leg: the next leg B has its own.
        self.forget_webrtc(Side::B);
    }
}
