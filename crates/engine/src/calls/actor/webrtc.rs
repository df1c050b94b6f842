//! WebRTC legs of a call (browsers, over SIP on WebSocket): each such leg
//! has a [`WebRtcLeg`] that turns the browser's SDP into a plain view for
//! the offer/answer logic of this actor, turns what we send it back into
//! WebRTC SDP, and carries the leg's media in the call's media session.
//!
//! Where the seams are: every SDP we parse goes through `parse_sdp`, which
//! hands a WebRTC description to [`Call::webrtc_view`]; every SDP we send a
//! leg goes through `secured`, which hands it to [`Call::webrtc_sdp_for`];
//! a fork to a WebSocket binding gets its own leg when it is sent, and the
//! fork that answers becomes leg B's.

use super::{Call, Side, State};
use crate::calls::outcome::HangupCause;
use media::codec::Codec;
use media::negotiate;
use media::sdp::{MediaDescription, SessionDescription};
use media::webrtc::WebRtcLeg;
use std::time::Instant;

impl Call {
    /// A new WebRTC leg, or why there cannot be one.
    fn new_webrtc_leg(&self) -> Result<WebRtcLeg, String> {
        let identity = self
            .ctx
            .webrtc
            .as_ref()
            .ok_or("WebRTC is not available (no DTLS certificate)")?;
        Ok(WebRtcLeg::new(identity))
    }

    /// A leg for a fork to a browser (a WebSocket binding).
    pub(super) fn webrtc_for_fork(&self) -> Option<WebRtcLeg> {
        match self.new_webrtc_leg() {
            Ok(leg) => Some(leg),
            Err(why) => {
                tracing::warn!("call {}: {why}", self.id);
                None
            }
        }
    }

    /// The offer for a fork to a browser: our plain offer `body` made
    /// WebRTC by the fork's leg `leg`.
    ///
    /// Opus goes first when libopus is here: a browser always has it, and a
    /// headset deserves wideband (the call is transcoded to the other leg,
    /// which the media session does anyway for a browser's leg).
    pub(super) fn webrtc_offer_for_new_b(&self, leg: &WebRtcLeg, body: Vec<u8>) -> Vec<u8> {
        let Some(mut plain) = std::str::from_utf8(&body)
            .ok()
            .and_then(|t| SessionDescription::parse(t).ok())
        else {
            return body;
        };
        if let Some((i, _)) = negotiate::audio_section(&plain) {
            opus_first(&mut plain.media[i]);
        }
        self.webrtc_text(leg, &plain)
    }

    /// When leg A is a browser whose (plain view of its) offer has no codec
    /// this process can decode: the codecs it offered, for the Warning.
    pub(super) fn browser_without_our_codecs(&self, offer: &SessionDescription) -> Option<String> {
        self.webrtc_of(Side::A)?;
        let (_, m) = negotiate::audio_section(offer)?;
        let (have, _) = negotiate::offered_codecs(m);
        let usable = Codec::usable();
        if have.iter().any(|(_, c)| usable.contains(c)) {
            return None;
        }
        Some(negotiate::codec_names(m))
    }

    /// The WebRTC leg of `side`, if it is a browser's.
    pub(super) fn webrtc_of(&self, side: Side) -> Option<WebRtcLeg> {
        self.webrtc.borrow()[side as usize].clone()
    }

    /// The plain view of a browser's description `text` (parsed as `sdp`)
    /// that came in a message of dialog `call_id`. The description goes to
    /// that dialog's leg (made for leg A on its first offer); a fork's leg
    /// becomes leg B's when the fork sends its description.
    pub(super) fn webrtc_view(
        &self,
        call_id: &str,
        text: &str,
        sdp: &SessionDescription,
    ) -> Result<SessionDescription, String> {
        let (side, leg, from) = if call_id == self.a_dialog.call_id {
            let leg = match self.webrtc_of(Side::A) {
                Some(leg) => leg,
                None => self.new_webrtc_leg()?,
            };
            (Side::A, leg, self.a_dialog.peer.addr.ip())
        } else {
            let fork = self
                .forks
                .iter()
                .find(|f| f.dialog.call_id == call_id)
                .ok_or("a WebRTC description from no leg of this call")?;
            let leg = fork
                .webrtc
                .clone()
                .ok_or("a WebRTC description from a phone we offered plain RTP")?;
            (Side::B, leg, fork.dialog.peer.addr.ip())
        };
        let view = leg
            .remote_sdp(text, sdp, from, Instant::now())
            .map_err(|e| e.to_string())?;
        self.webrtc.borrow_mut()[side as usize] = Some(leg);
        self.attach_webrtc();
        Ok(view)
    }

    /// The WebRTC description to send `towards` for our plain `sdp`, or
    /// None when that leg is not a browser's.
    pub(super) fn webrtc_sdp_for(
        &self,
        sdp: &SessionDescription,
        towards: Side,
    ) -> Option<Vec<u8>> {
        let leg = self.webrtc_of(towards)?;
        self.attach_webrtc();
        Some(self.webrtc_text(&leg, sdp))
    }

    /// Our description for a browser's leg `leg` from our plain `sdp`;
    /// on failure the plain SDP (the browser refuses it, and says so), and
    /// the leg is failed so that the call ends at once with
    /// `MEDIA_TRANSPORT_FAILURE` and the reason in the log.
    pub(super) fn webrtc_text(&self, leg: &WebRtcLeg, sdp: &SessionDescription) -> Vec<u8> {
        match leg.local_sdp(sdp, Instant::now()) {
            Ok(text) => text.into_bytes(),
            Err(e) => {
                tracing::warn!("call {}: WebRTC description: {e}", self.id);
                leg.fail(&format!("no WebRTC description could be made: {e}"));
                sdp.to_string().into_bytes()
            }
        }
    }

    /// Forgets `side`'s WebRTC leg (a new party comes on that side): the
    /// media session goes back to plain RTP there until the new party's
    /// description says otherwise.
    pub(super) fn forget_webrtc(&self, side: Side) {
        let i = side as usize;
        if self.webrtc.borrow_mut()[i].take().is_none() {
            return;
        }
        let mut attached = self.webrtc_attached.get();
        if attached[i].take().is_some() {
            if let Some(s) = self.media.session() {
                s.set_webrtc(side, None);
            }
        }
        self.webrtc_attached.set(attached);
    }

    /// Swaps the WebRTC legs of A and B (with the session's legs, see
    /// `swap_sides`).
    pub(super) fn swap_webrtc(&self) {
        self.webrtc.borrow_mut().swap(0, 1);
        let mut attached = self.webrtc_attached.get();
        attached.swap(0, 1);
        self.webrtc_attached.set(attached);
    }

    /// Gives the media session the legs that are browsers' (once each).
    pub(super) fn attach_webrtc(&self) {
        let Some(session) = self.media.session() else {
            return;
        };
        let legs = self.webrtc.borrow();
        let mut attached = self.webrtc_attached.get();
        for side in [Side::A, Side::B] {
            let i = side as usize;
            if let Some(leg) = &legs[i] {
                if attached[i].as_ref() != Some(&leg.id()) {
                    session.set_webrtc(side, Some(leg.clone()));
                    attached[i] = Some(leg.id());
                }
            }
        }
        self.webrtc_attached.set(attached);
    }

    /// A browser's leg failed (ICE, DTLS, or the browser vanished): the
    /// call cannot go on without its media, so it ends with that cause.
    pub(super) fn on_transport_failed(&mut self, side: Side, why: &str) {
        tracing::warn!("call {}: leg {side:?} WebRTC failed: {why}", self.id);
        self.ctx
            .metrics
            .webrtc_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.state {
            State::Answered => {
                self.bye(Side::A);
                self.bye(Side::B);
                self.finish(HangupCause::MediaTransportFailure, "system", 200);
            }
            State::Ended => {}
            _ => self.fail_a(
                500,
                "Media Transport Failed",
                HangupCause::MediaTransportFailure,
                "system",
            ),
        }
    }
}

/// Puts Opus first in `m` (adding it when it is missing), if this process
/// can encode and decode it.
pub(crate) fn opus_first(m: &mut MediaDescription) {
    if !Codec::usable().contains(&Codec::Opus) {
        return;
    }
    negotiate::append_codecs(m, &[Codec::Opus]);
    let (have, _) = negotiate::offered_codecs(m);
    if let Some((pt, _)) = have.into_iter().find(|(_, c)| *c == Codec::Opus) {
        let pt = pt.to_string();
        m.formats.retain(|f| *f != pt);
        m.formats.insert(0, pt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_goes_first_in_an_offer_to_a_browser() {
        let sdp = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n",
        )
        .expect("parse");
        let mut m = sdp.media[0].clone();
        opus_first(&mut m);
        let (have, te) = negotiate::offered_codecs(&m);
        assert_eq!(have[0].1, Codec::Opus, "{m}");
        assert_eq!(have[1].1, Codec::Pcmu);
        assert!(te.iter().any(|(_, clock)| *clock == 48_000), "{te:?}");
        assert!(te.iter().any(|(_, clock)| *clock == 8_000), "{te:?}");
    }
}
