//! The media side of a call: a plain relay while the legs agree on a codec
//! and nothing listens in, upgraded in place to a processing
//! [`MediaSession`] when the call needs transcoding, recording or an
//! application; and the SDP offer/answer that decides which.

use super::{Call, CallMsg, Side};
use media::negotiate;
use media::recorder::{Recorder, RecorderOptions, RecordingSummary, RecordingVars};
use media::relay::Relay;
use media::sdp::SessionDescription;
use media::session::{EventSink, Hears, LegFormat, MediaSession};
use media::Remote;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What carries a call's media.
#[derive(Debug, Default)]
pub(super) enum MediaPlane {
    /// Not set up (yet), or already closed.
    #[default]
    None,
    /// Packets relayed untouched (the fast path).
    Relay(Relay),
    /// Terminated and processed.
    Session(MediaSession),
}

impl MediaPlane {
    pub(super) fn local_port(&self, side: Side) -> Option<u16> {
        match self {
            MediaPlane::None => None,
            MediaPlane::Relay(r) => Some(r.local_port(side)),
            MediaPlane::Session(s) => s.local_port(side),
        }
    }

    pub(super) fn set_remote(&self, side: Side, remote: Remote) {
        match self {
            MediaPlane::None => {}
            MediaPlane::Relay(r) => r.set_remote(side, remote),
            MediaPlane::Session(s) => s.set_remote(side, remote),
        }
    }

    pub(super) fn set_hold(&self, on_hold: bool) {
        match self {
            MediaPlane::None => {}
            MediaPlane::Relay(r) => r.set_hold(on_hold),
            MediaPlane::Session(s) => s.set_hold(on_hold),
        }
    }

    pub(super) fn idle_for(&self, now: Instant) -> Option<Duration> {
        match self {
            MediaPlane::None => None,
            MediaPlane::Relay(r) => r.idle_for(now),
            MediaPlane::Session(s) => s.idle_for(now),
        }
    }

    /// Stops the media at the end of a call, except a session that is still
    /// recording: the call's task closes it once the file is finished.
    pub(super) fn close_unless_recording(&mut self) {
        match self {
            MediaPlane::Session(_) => {}
            _ => self.close(),
        }
    }

    /// Stops the media; its ports go back to the pool.
    pub(super) fn close(&mut self) {
        match std::mem::take(self) {
            MediaPlane::None => {}
            MediaPlane::Relay(r) => r.close(),
            MediaPlane::Session(s) => s.close(),
        }
    }

    pub(super) async fn stop_recording(
        &self,
    ) -> Option<Result<RecordingSummary, media::recorder::RecorderError>> {
        match self {
            MediaPlane::Session(s) => s.stop_recording().await,
            _ => None,
        }
    }

    /// Exchanges the legs (see [`MediaSession::swap_legs`]); a relay is
    /// upgraded to a session first by the caller.
    pub(super) fn swap_legs(&mut self) {
        if let MediaPlane::Session(s) = self {
            s.swap_legs();
        }
    }

    pub(super) fn session(&self) -> Option<&MediaSession> {
        match self {
            MediaPlane::Session(s) => Some(s),
            _ => None,
        }
    }
}

impl Call {
    /// Where a session sends its events: this call's mailbox.
    pub(super) fn media_sink(&self) -> EventSink {
        let me = self.me.clone();
        Arc::new(move |ev| {
            let _ = me.send(CallMsg::Media(ev));
        })
    }

    /// What `side`'s SDP tells the media layer (None when it names no
    /// address, e.g. old-style hold): its RTP and RTCP addresses and payload
    /// types, plus the IP the side's SIP comes from (media from any port of
    /// it may latch: NAT) and the configured learning window.
    pub(super) fn remote_of(&self, side: Side, sdp: &SessionDescription) -> Option<Remote> {
        let remote = Remote::from_sdp(sdp, 0)?;
        Some(
            remote
                .with_signalling_ip(self.signalling_ip(side))
                .with_learning_ms(self.ctx.cfg.media.rtp_learning_ms)
                .with_srtp(self.srtp_keys_of(side, sdp)),
        )
    }

    /// Where `side`'s SIP comes from. Before a fork has won (early media),
    /// leg B is whichever contact sent the SDP: their address if the
    /// contacts share one, else unknown (then only the SDP's IP may latch
    /// until the answer names the winner).
    fn signalling_ip(&self, side: Side) -> Option<IpAddr> {
        match (side, self.winner) {
            (Side::A, _) => Some(self.a_dialog.peer.addr.ip()),
            (Side::B, Some(w)) => self.forks.get(w).map(|f| f.dialog.peer.addr.ip()),
            (Side::B, None) => {
                let mut ips = self.forks.iter().map(|f| f.dialog.peer.addr.ip());
                let first = ips.next()?;
                ips.all(|ip| ip == first).then_some(first)
            }
        }
    }

    /// The codec preference list (validated at start-up).
    pub(super) fn prefs(&self) -> Vec<media::codec::Codec> {
        self.ctx.cfg.codecs().unwrap_or_default()
    }

    /// The offer to the callee: the caller's offer anchored on our B-side
    /// port, its codecs first and in its order (so a callee that shares one
    /// picks it and the call is relayed as is), then the codecs of our
    /// preference list the caller lacks, so a callee that supports none of
    /// the caller's codecs can still be reached (we transcode). When none of
    /// the caller's codecs is in our preference list we could not transcode
    /// anyway (the caller's leg could not be answered with one), so nothing
    /// is added: the callee then answers with one of the caller's codecs or
    /// refuses. Added codecs get numbers the offer does not use (Opus a
    /// dynamic one) and, when the caller does RFC 4733, telephone-event at
    /// their clock ([`negotiate::append_codecs`]).
    pub(super) fn offer_for_b(&self, offer: SessionDescription) -> Vec<u8> {
        let mut sdp = offer;
        let port = self.media.local_port(Side::B).unwrap_or(0);
        let ports: Vec<u16> = (0..sdp.media.len())
            .map(|i| if i == 0 { port } else { 0 })
            .collect();
        sdp.anchor(self.ctx.advertise, &ports);
        if let Some((i, m)) = negotiate::audio_section(&sdp) {
            let (have, _) = negotiate::offered_codecs(m);
            let prefs = self.prefs();
            if !have.iter().any(|(_, h)| prefs.contains(h)) {
                return sdp.to_string().into_bytes();
            }
            negotiate::append_codecs(&mut sdp.media[i], &prefs);
        }
        sdp.to_string().into_bytes()
    }

    /// The callee's SDP (in a 183 or the 200) arrived: returns the SDP for
    /// the caller. When the callee picked a codec the caller offered, its
    /// answer goes to the caller anchored (relay fast path); otherwise we
    /// answer the caller ourselves with its best codec and transcode. When
    /// neither is possible (the callee picked a codec the caller never
    /// offered and we cannot decode the caller's codecs, or the callee's),
    /// the error says why: an answer may only hold offered codecs (RFC 3264).
    pub(super) fn answer_for_a(&mut self, b_sdp: SessionDescription) -> Result<Vec<u8>, String> {
        self.learn_remote(Side::B, &b_sdp);
        if let Some(body) = self.a_answer.clone() {
            // Already answered (early media or local ringback, then the 200):
            // the same answer; the callee's side is learnt now.
            self.callee_sdp_after_our_answer(&b_sdp);
            return Ok(body);
        }
        let all = media::codec::Codec::usable();
        let b_audio = negotiate::audio_section(&b_sdp).map(|(_, m)| m);
        let b_format = b_audio.and_then(|m| negotiate::accepted(m, &all));
        let a_offer = self.a_offer.clone();
        let a_audio = a_offer
            .as_ref()
            .and_then(|o| negotiate::audio_section(o).map(|(_, m)| m.clone()));
        let within_offer = match (&a_audio, b_audio) {
            (Some(offer), Some(answer)) => negotiate::answer_within_offer(offer, answer),
            // A delayed offer: the callee made the offer, the caller answers it.
            _ if a_offer.is_none() => true,
            _ => false,
        };
        let body = if within_offer {
            // Both legs use what the callee answered.
            self.formats = [b_format, b_format];
            if let (MediaPlane::Session(s), Some(f)) = (&mut self.media, b_format) {
                // Already a session (a browser's leg): it must know them.
                s.set_format(Side::A, f);
                s.set_format(Side::B, f);
            }
            self.anchor(b_sdp, Side::A)
        } else {
            let prefs = self.prefs();
            let a_format = a_audio
                .as_ref()
                .and_then(|m| negotiate::choose(m, &prefs, None));
            let caller_codecs = self.caller_codec_names();
            let callee_codecs = b_audio
                .map(negotiate::codec_names)
                .unwrap_or_else(|| "none".into());
            let (Some(offer), Some(a_format), Some(b_format)) = (a_offer, a_format, b_format)
            else {
                return Err(format!(
                    "no common codec: the caller offered {caller_codecs}, the callee answered {callee_codecs}"
                ));
            };
            self.formats = [Some(a_format), Some(b_format)];
            tracing::info!(
                "call {}: transcoding {} (caller) <-> {} (callee)",
                self.id,
                a_format.codec,
                b_format.codec
            );
            if let MediaPlane::Session(s) = &mut self.media {
                // Already a session (a browser's leg): ensure_session leaves
                // it as it is, so it must be told the formats here, or it
                // drops every packet as not negotiated.
                s.set_format(Side::A, a_format);
                s.set_format(Side::B, b_format);
            }
            self.ensure_session();
            let port = self.media.local_port(Side::A).unwrap_or(0);
            let answer = negotiate::answer(&offer, a_format, self.ctx.advertise, port, self.id)
                .map_err(|e| format!("cannot answer the caller's offer: {e}"))?;
            self.secured(answer, Side::A)
        };
        self.a_answer = Some(body.clone());
        Ok(body)
    }

    /// The audio codecs of the caller's offer, for logs and Warning headers.
    pub(super) fn caller_codec_names(&self) -> String {
        self.a_offer
            .as_ref()
            .and_then(|o| negotiate::audio_section(o).map(|(_, m)| negotiate::codec_names(m)))
            .unwrap_or_else(|| "none".into())
    }

    /// The callee's SDP when the caller already has our answer: with a
    /// session (local ringback, transcoding) the callee's format is set and
    /// the legs are bridged, replacing the ringback.
    fn callee_sdp_after_our_answer(&mut self, b_sdp: &SessionDescription) {
        let all = media::codec::Codec::usable();
        let Some(b_format) =
            negotiate::audio_section(b_sdp).and_then(|(_, m)| negotiate::accepted(m, &all))
        else {
            return;
        };
        if self.formats[1] == Some(b_format) || self.media.session().is_none() {
            return;
        }
        self.set_format(Side::B, b_format);
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Other);
            s.hear(Side::B, Hears::Other);
        }
        self.configure_dtmf();
    }

    /// Answers the caller's offer ourselves (for a 183) and plays the tone
    /// plan's ringback to it until the callee's media arrives; the body for
    /// the caller, or None if that cannot be done (no offer, no common codec).
    pub(super) fn start_local_ringback(&mut self) -> Option<Vec<u8>> {
        let offer = self.a_offer.clone()?;
        let prefs = self.prefs();
        let a_format = negotiate::audio_section(&offer)
            .and_then(|(_, m)| negotiate::choose(m, &prefs, None))?;
        let plan = self.ctx.cfg.tone_plan().ok()?;
        self.formats[0] = Some(a_format);
        self.ensure_session();
        let port = self.media.local_port(Side::A)?;
        let answer = negotiate::answer(&offer, a_format, self.ctx.advertise, port, self.id).ok()?;
        let body = self.secured(answer, Side::A);
        let rate = a_format.codec.sample_rate();
        let tone =
            media::tones::ToneGenerator::new(plan.spec(media::tones::ToneKind::Ringback), rate);
        if let Some(s) = self.media.session() {
            s.hear(
                Side::A,
                Hears::Source {
                    source: Box::new(tone),
                    token: 0,
                },
            );
        }
        self.a_answer = Some(body.clone());
        Some(body)
    }

    /// Makes sure the call's media is a processing session (upgrading the
    /// relay in place), with both legs' formats set and bridged.
    pub(super) fn ensure_session(&mut self) {
        if let MediaPlane::Relay(_) = self.media {
            let MediaPlane::Relay(relay) = std::mem::take(&mut self.media) else {
                return;
            };
            let mut session = MediaSession::upgrade(
                relay,
                self.ctx.session_stats.clone(),
                self.ctx.relay_stats.clone(),
                self.media_sink(),
            );
            for (side, f) in [(Side::A, self.formats[0]), (Side::B, self.formats[1])] {
                if let Some(f) = f {
                    session.set_format(side, f);
                }
                session.hear(side, Hears::Other);
            }
            self.media = MediaPlane::Session(session);
            self.configure_dtmf();
        }
    }

    /// When one leg negotiated telephone-event and the other did not, keys
    /// from the one without can only arrive in-band: listen for them there,
    /// so the session can turn them into RFC 4733 events for the other leg.
    pub(super) fn configure_dtmf(&self) {
        let (Some(s), [Some(a), Some(b)]) = (self.media.session(), self.formats) else {
            return;
        };
        s.detect_inband(Side::A, a.te_pt.is_none() && b.te_pt.is_some());
        s.detect_inband(Side::B, b.te_pt.is_none() && a.te_pt.is_some());
    }

    /// Starts recording the call (caller left, callee right in stereo)
    /// under the configured directory; returns the file.
    pub(super) fn start_recording(&mut self) -> Result<std::path::PathBuf, String> {
        let template = self.ctx.cfg.recording.template.clone();
        self.start_recording_as(&template)
    }

    /// Starts recording with file name `template` (a queue's record-template).
    pub(super) fn start_recording_as(
        &mut self,
        template: &str,
    ) -> Result<std::path::PathBuf, String> {
        let cfg = &self.ctx.cfg.recording;
        let layout = self.ctx.cfg.record_layout().map_err(|e| e.to_string())?;
        let vars = RecordingVars {
            caller: self.caller.clone(),
            callee: self.callee.clone(),
            call_id: self.a_call_id.clone(),
        };
        let path = media::recorder::recording_path(&cfg.dir, template, &vars, chrono::Local::now())
            .map_err(|e| e.to_string())?;
        let rate = cfg.rate;
        let recorder =
            Recorder::create(&path, RecorderOptions { layout, rate }).map_err(|e| e.to_string())?;
        self.ensure_session();
        let Some(session) = self.media.session() else {
            return Err("the call has no media".into());
        };
        session.record(recorder, rate);
        tracing::info!("call {}: recording to {}", self.id, path.display());
        self.recording = Some(path.clone());
        Ok(path)
    }

    /// Records the caller alone (mono 8 kHz) into `path` (voicemail).
    pub(super) fn record_to(
        &mut self,
        path: &std::path::Path,
    ) -> Result<std::path::PathBuf, String> {
        let opts = RecorderOptions {
            layout: media::recorder::RecordLayout::Mono,
            rate: 8000,
        };
        let recorder = Recorder::create(path, opts).map_err(|e| e.to_string())?;
        self.ensure_session();
        let Some(session) = self.media.session() else {
            return Err("the call has no media".into());
        };
        session.record(recorder, 8000);
        self.recording = Some(path.to_path_buf());
        Ok(path.to_path_buf())
    }

    /// Sets a leg's negotiated format on the session (if there is one).
    pub(super) fn set_format(&mut self, side: Side, f: LegFormat) {
        self.formats[side as usize] = Some(f);
        if let MediaPlane::Session(s) = &mut self.media {
            s.set_format(side, f);
        }
    }
}
