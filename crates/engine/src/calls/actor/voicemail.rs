//! A call to an extension that does not answer, is busy or is not
//! registered goes to the extension's voicemail (when configured): the
//! caller's leg is kept, its media becomes a processing session, and the
//! voicemail application answers it. Every such call is also recorded as a
//! missed call of the extension.

use super::media_plane::MediaPlane;
use super::{Call, HangupCause, Side};
use crate::base::context::now_ms;
use crate::calls::control::CallControl;
use crate::calls::ports::App;
use media::negotiate;
use media::session::MediaSession;
use std::sync::Arc;

impl Call {
    /// Records the missed call, then sends the caller to voicemail if the
    /// configuration says so for `cause`; true if it did.
    pub(super) fn try_voicemail(&mut self, cause: HangupCause) -> bool {
        let Some(ext) = self.callee_ext.clone() else {
            return false;
        };
        self.record_missed_call(&ext);
        let cfg = &self.ctx.cfg.voicemail;
        let wanted = cfg.enabled
            && match cause {
                HangupCause::NoAnswer => cfg.on_no_answer,
                HangupCause::UserBusy => cfg.on_busy,
                HangupCause::UserNotRegistered => cfg.on_unavailable,
                _ => false,
            };
        if !wanted || self.a_offer.is_none() || self.app.is_some() {
            return false;
        }
        let prefs = self.prefs();
        let Some(format) = self.a_offer.as_ref().and_then(|o| {
            negotiate::audio_section(o).and_then(|(_, m)| negotiate::choose(m, &prefs, None))
        }) else {
            return false;
        };
        self.cancel_forks(None);
        self.formats = [Some(format), None];
        match self.media {
            MediaPlane::None => {
                let Ok(pair) = self.ctx.ports.allocate() else {
                    return false;
                };
                let port = pair.port;
                let mut session = MediaSession::start(
                    &self.ctx.media_rt,
                    pair,
                    None,
                    self.ctx.session_stats.clone(),
                    self.ctx.relay_stats.clone(),
                    self.media_sink(),
                );
                session.set_format(Side::A, format);
                if let Some(r) = self
                    .a_offer
                    .as_ref()
                    .and_then(|o| self.remote_of(Side::A, o))
                {
                    session.set_remote(Side::A, r);
                }
                self.media = MediaPlane::Session(session);
                self.update_info(|i| i.a_rtp_port = port);
            }
            _ => self.ensure_session(),
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, media::session::Hears::Silence);
            if format.te_pt.is_none() {
                s.detect_inband(Side::A, true);
            }
        }
        self.app = Some(Default::default());
        let kind = App::Voicemail(ext.clone());
        self.update_info(|i| {
            i.app = Some(kind.name());
            i.note = format!("voicemail of {ext}");
        });
        tracing::info!(
            "call {}: {ext} did not take the call ({}): voicemail",
            self.id,
            cause.as_str()
        );
        let control = CallControl::new(self.id, self.me.clone());
        self.ctx.apps.launch(kind, control, Arc::clone(&self.ctx));
        true
    }

    fn record_missed_call(&self, ext: &str) {
        let missed = store::MissedCall {
            id: None,
            extension: ext.to_string(),
            caller: self.caller.clone(),
            at: now_ms() as i64,
        };
        let store = self.ctx.store.clone();
        let id = self.id;
        tokio::spawn(async move {
            if let Err(e) = store.insert_missed_call(&missed).await {
                tracing::warn!("call {id}: missed call not recorded: {e}");
            }
        });
    }
}
