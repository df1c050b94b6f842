//! Calls answered by the engine itself and driven by an application
//! (echo, readback, tone test; later IVR, queue, robot) through the
//! [`CallControl`](crate::calls::control::CallControl) API: the application
//! task sends commands, this part of the actor carries them out on the
//! caller's leg and its media session and answers each when it is done.

use super::media_plane::MediaPlane;
use super::{Call, State, SDP};
use crate::apps::{self, App};
use crate::calls::best_failure;
use crate::calls::control::{
    CallControl, CallError, CollectSpec, Collected, Command, PlayItem, PlayOutcome,
};
use crate::calls::{HangupCause, Side};
use crate::context::now_ms;
use crate::events::Event;
use crate::router::{self, Route};
use media::audio::{AudioSource, Limited, Sequence, Silence};
use media::conference::Conference;
use media::mixer::MemberOptions;
use media::negotiate;
use media::session::{Hears, MediaEvent, MediaSession};
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request};
use sip::message::{self, status, SetBody};
use sip::transaction::TxId;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Digits typed ahead of a collect are kept, up to this many.
const TYPE_AHEAD: usize = 32;

/// What the application is waiting for.
enum Op {
    Play {
        token: u64,
        interruptible: bool,
        reply: oneshot::Sender<Result<PlayOutcome, CallError>>,
    },
    Collect {
        /// The prompts' token while they play; None once they are done.
        token: Option<u64>,
        spec: CollectSpec,
        got: String,
        reply: oneshot::Sender<Result<Collected, CallError>>,
    },
    Echo {
        _reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// In a conference until the call ends.
    Conference {
        _reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// Calling a number to connect the caller to, then connected.
    Bridge {
        number: String,
        answered: bool,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
}

/// The application side of an app-driven call.
#[derive(Default)]
pub(super) struct AppState {
    op: Option<Op>,
    digits: VecDeque<char>,
    deadline: Option<Instant>,
    next_token: u64,
    /// The conference room the caller is in.
    conference: Option<String>,
}

/// Fires at the app's deadline (a collect timeout); never without one.
pub(super) async fn deadline(app: &Option<AppState>) {
    match app.as_ref().and_then(|a| a.deadline) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Call {
    /// Sets up a call to an application: media session on the caller's leg,
    /// codec chosen from the caller's offer, and the application started.
    pub(super) fn setup_app(&mut self, kind: App) {
        let pair = match self.ctx.ports.allocate() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("call {}: no media ports: {e}", self.id);
                return self.fail_a(
                    503,
                    "No Media Ports",
                    super::HangupCause::NormalTemporaryFailure,
                    "system",
                );
            }
        };
        let prefs = self.prefs();
        let format = match &self.a_offer {
            Some(o) => match negotiate::audio_section(o)
                .and_then(|(_, m)| negotiate::choose(m, &prefs, None))
            {
                Some(f) => Some(f),
                None => {
                    return self.fail_a(
                        488,
                        "Not Acceptable Here: no common codec",
                        HangupCause::IncompatibleDestination,
                        "system",
                    )
                }
            },
            None => None,
        };
        let a_port = pair.port;
        let mut session = MediaSession::start(
            &self.ctx.media_rt,
            pair,
            None,
            self.ctx.session_stats.clone(),
            self.ctx.relay_stats.clone(),
            self.media_sink(),
        );
        if let Some(f) = format {
            session.set_format(Side::A, f);
            self.formats[0] = Some(f);
        }
        if let Some(addr) = self.a_offer.as_ref().and_then(|o| o.rtp_addr(0)) {
            session.set_remote(Side::A, addr);
        }
        // Without telephone-event, keys can only arrive in-band.
        if format.is_some_and(|f| f.te_pt.is_none()) {
            session.detect_inband(Side::A, true);
        }
        self.media = MediaPlane::Session(session);
        self.app = Some(AppState::default());
        self.state = State::Ringing;
        self.update_info(|i| {
            i.a_rtp_port = a_port;
            i.state = State::Ringing.label();
            i.app = Some(kind.name());
        });
        let control = CallControl::new(self.id, self.me.clone());
        tokio::spawn(apps::run(kind, control, Arc::clone(&self.ctx)));
    }

    /// Our SDP for the caller: the answer to its offer, or (delayed offer)
    /// our own offer, answered in its ACK.
    fn app_sdp(&self) -> Option<Vec<u8>> {
        let port = self.media.local_port(Side::A)?;
        let sdp = match (&self.a_offer, self.formats[0]) {
            (Some(offer), Some(f)) => {
                negotiate::answer(offer, f, self.ctx.advertise, port, self.id)
            }
            _ => negotiate::offer(self.ctx.advertise, port, &self.prefs(), self.id),
        };
        sdp.ok().map(|s| s.to_string().into_bytes())
    }

    pub(super) fn on_command(&mut self, cmd: Command) {
        if self.app.is_none() {
            return;
        }
        if self.state == State::Ended {
            // Dropping the command drops its reply: the app sees HungUp.
            return;
        }
        match cmd {
            Command::Answer(reply) => {
                let _ = reply.send(self.app_answer());
            }
            Command::Play {
                items,
                interruptible,
                looped,
                reply,
            } => {
                if interruptible {
                    if let Some(d) = self.app_state().digits.front().copied() {
                        let _ = reply.send(Ok(PlayOutcome::Interrupted(d)));
                        return;
                    }
                }
                match self.start_play(&items, looped) {
                    Ok(token) => {
                        self.app_state().op = Some(Op::Play {
                            token,
                            interruptible,
                            reply,
                        })
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::Collect { items, spec, reply } => self.start_collect(items, spec, reply),
            Command::Conference(name, reply) => self.join_conference(name, reply),
            Command::Bridge {
                number,
                timeout,
                reply,
            } => self.start_bridge(number, timeout, reply),
            Command::Hold(on) => self.hold(on),
            Command::Echo(reply) => {
                if let Some(s) = self.media.session() {
                    s.hear(Side::A, Hears::Itself);
                }
                self.app_state().op = Some(Op::Echo { _reply: reply });
            }
            Command::SendDtmf(digits, reply) => {
                if let Some(s) = self.media.session() {
                    s.send_digits(Side::A, &digits, 100);
                }
                let _ = reply.send(Ok(()));
            }
            Command::Record(reply) => {
                let r = self.start_recording().map_err(CallError::Recording);
                let _ = reply.send(r);
            }
            Command::PauseRecording(p) => {
                if let Some(s) = self.media.session() {
                    s.pause_recording(p);
                }
            }
            Command::Hangup(cause) => self.app_hangup(cause),
            Command::Report(note) => {
                self.update_info(|i| i.note = note.clone());
            }
        }
    }

    fn join_conference(&mut self, name: String, reply: oneshot::Sender<Result<(), CallError>>) {
        self.leave_conference();
        let room = self
            .ctx
            .conferences
            .entry(name.clone())
            .or_insert_with(|| Conference::start(&self.ctx.media_rt, media::audio::RATE_8K))
            .clone();
        if let Err(e) = room.join(self.id, MemberOptions::default()) {
            let _ = reply.send(Err(CallError::Media(format!("conference {name}: {e}"))));
            return;
        }
        tracing::info!(
            "call {}: joined conference {name} ({} members)",
            self.id,
            room.len()
        );
        if let Some(s) = self.media.session() {
            s.hear(
                Side::A,
                Hears::Conference {
                    room,
                    member: self.id,
                },
            );
        }
        self.update_info(|i| i.note = format!("conference {name}"));
        let app = self.app_state();
        app.conference = Some(name);
        app.op = Some(Op::Conference { _reply: reply });
    }

    /// Leaves the conference room, closing it when it is left empty.
    pub(super) fn leave_conference(&mut self) {
        let Some(name) = self.app.as_mut().and_then(|a| a.conference.take()) else {
            return;
        };
        let id = self.id;
        if let Some(room) = self.ctx.conferences.get(&name).map(|r| r.clone()) {
            room.leave(id);
        }
        if let Some((_, room)) = self.ctx.conferences.remove_if(&name, |_, r| r.is_empty()) {
            room.close();
        }
    }

    fn app_state(&mut self) -> &mut AppState {
        self.app.get_or_insert_with(AppState::default)
    }

    fn app_answer(&mut self) -> Result<(), CallError> {
        if self.state == State::Answered {
            return Ok(());
        }
        let Some(body) = self.app_sdp() else {
            return Err(CallError::Media("no media for the call".into()));
        };
        let mut ok = self.a_response(200, true);
        ok.headers
            .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
        ok.set_body(body, SDP);
        self.a_ep.respond(self.a_tx, ok);
        self.state = State::Answered;
        let now = now_ms();
        self.answer_ms = Some(now);
        self.ctx
            .events
            .publish(|| Event::CallAnswered { id: self.id });
        self.update_info(|i| {
            i.state = State::Answered.label();
            i.answer_at = Some(now);
        });
        Ok(())
    }

    fn app_hangup(&mut self, cause: HangupCause) {
        match self.state {
            State::Answered => {
                self.bye(Side::A);
                self.finish(cause, "system", 200);
            }
            State::Ringing | State::Routing => {
                self.fail_a(480, "Temporarily Unavailable", cause, "system");
            }
            State::Ended => {}
        }
    }

    /// Builds the items into one source at the caller's rate and starts it.
    fn start_play(&mut self, items: &[PlayItem], looped: bool) -> Result<u64, CallError> {
        let rate = self.media.session().map_or(8000, |s| s.rate(Side::A));
        let source: Box<dyn AudioSource> = if looped {
            Box::new(self.looped_source(items, rate)?)
        } else {
            let mut parts: Vec<Box<dyn AudioSource>> = Vec::new();
            for item in items {
                parts.push(self.item_source(item, rate)?);
            }
            Box::new(Sequence::new(parts))
        };
        let app = self.app_state();
        app.next_token += 1;
        let token = app.next_token;
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Source { source, token });
        }
        Ok(token)
    }

    fn looped_source(
        &self,
        items: &[PlayItem],
        rate: u32,
    ) -> Result<media::player::Player, CallError> {
        let mut pcm = Vec::new();
        for item in items {
            for path in self.item_files(item)? {
                pcm.push(self.load(&path, rate)?);
            }
        }
        media::player::Player::new(pcm, rate, true).map_err(|e| CallError::Media(e.to_string()))
    }

    fn load(
        &self,
        path: &std::path::Path,
        rate: u32,
    ) -> Result<Arc<media::audio_file::Pcm>, CallError> {
        self.ctx
            .audio_cache
            .load(path, rate)
            .map_err(|e| CallError::Media(e.to_string()))
    }

    /// The files an item stands for (prompts and spoken digits).
    fn item_files(&self, item: &PlayItem) -> Result<Vec<std::path::PathBuf>, CallError> {
        let cfg = &self.ctx.cfg.media;
        let prompt = |name: &str| {
            cfg.sounds_dir
                .join(&cfg.language)
                .join(format!("{name}.wav"))
        };
        Ok(match item {
            PlayItem::File(p) => vec![p.clone()],
            PlayItem::Prompt(name) => {
                if name.contains("..") {
                    return Err(CallError::Media(format!("bad prompt name {name}")));
                }
                vec![prompt(name)]
            }
            PlayItem::SayDigits(digits) => digits
                .chars()
                .filter_map(|c| apps::digit_prompt(c).map(|n| prompt(&n)))
                .collect(),
            _ => {
                return Err(CallError::Media(
                    "only files and prompts can be looped".into(),
                ))
            }
        })
    }

    fn item_source(&self, item: &PlayItem, rate: u32) -> Result<Box<dyn AudioSource>, CallError> {
        Ok(match item {
            PlayItem::Tone(kind, ms) => {
                let plan = self
                    .ctx
                    .cfg
                    .tone_plan()
                    .map_err(|e| CallError::Media(e.to_string()))?;
                let gen = media::tones::ToneGenerator::new(plan.spec(*kind), rate);
                Box::new(Limited::new(gen, rate, *ms))
            }
            PlayItem::Sine(hz, ms) => {
                let spec = media::tones::ToneSpec {
                    freqs: vec![*hz],
                    cadence: Vec::new(),
                    level_dbov: -10.0,
                };
                let gen = media::tones::ToneGenerator::new(&spec, rate);
                Box::new(Limited::new(gen, rate, *ms))
            }
            PlayItem::Silence(ms) => Box::new(Limited::new(Silence, rate, *ms)),
            other => {
                let mut pcm = Vec::new();
                for path in self.item_files(other)? {
                    pcm.push(self.load(&path, rate)?);
                }
                Box::new(
                    media::player::Player::new(pcm, rate, false)
                        .map_err(|e| CallError::Media(e.to_string()))?,
                )
            }
        })
    }

    fn start_collect(
        &mut self,
        items: Vec<PlayItem>,
        spec: CollectSpec,
        reply: oneshot::Sender<Result<Collected, CallError>>,
    ) {
        let typed_ahead = !self.app_state().digits.is_empty();
        let token = if typed_ahead || items.is_empty() {
            None
        } else {
            match self.start_play(&items, false) {
                Ok(t) => Some(t),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return;
                }
            }
        };
        let app = self.app_state();
        app.op = Some(Op::Collect {
            token,
            spec: spec.clone(),
            got: String::new(),
            reply,
        });
        if token.is_none() {
            app.deadline = Some(Instant::now() + spec.timeout);
        }
        // Keys typed ahead count first.
        while let Some(d) = self.app_state().digits.pop_front() {
            if self.collect_digit(d) {
                break;
            }
        }
    }

    /// Feeds one digit to a collect in progress; true if it finished it.
    fn collect_digit(&mut self, d: char) -> bool {
        let app = self.app_state();
        let Some(Op::Collect {
            token, spec, got, ..
        }) = &mut app.op
        else {
            return false;
        };
        let stop_prompt = token.take().is_some();
        let done = if spec.terminators.contains(d) {
            Some(Some(d))
        } else {
            got.push(d);
            (got.chars().count() >= spec.max).then_some(None)
        };
        if done.is_none() {
            app.deadline = Some(Instant::now() + spec.inter_digit);
        }
        if stop_prompt {
            if let Some(s) = self.media.session() {
                s.hear(Side::A, Hears::Silence);
            }
        }
        match done {
            Some(terminator) => {
                self.finish_collect(terminator);
                true
            }
            None => false,
        }
    }

    fn finish_collect(&mut self, terminator: Option<char>) {
        let app = self.app_state();
        app.deadline = None;
        if let Some(Op::Collect {
            spec, got, reply, ..
        }) = app.op.take()
        {
            let result = if got.chars().count() >= spec.min {
                Ok(Collected {
                    digits: got,
                    terminator,
                })
            } else {
                Err(CallError::Timeout)
            };
            let _ = reply.send(result);
        }
    }

    pub(super) fn on_app_deadline(&mut self) {
        if let Some(Op::Bridge {
            answered: false, ..
        }) = self.app_state().op
        {
            self.cancel_forks(None);
            self.failures.push((480, "No Answer".into()));
            return self.bridge_failed();
        }
        self.finish_collect(None);
    }

    /// True while an application call is calling or connected to another party.
    pub(super) fn bridging(&self) -> bool {
        matches!(
            self.app.as_ref().and_then(|a| a.op.as_ref()),
            Some(Op::Bridge { .. })
        )
    }

    fn start_bridge(
        &mut self,
        number: String,
        timeout: Duration,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        if self.state != State::Answered {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        let target = match router::route(&number, &self.ctx.directory, &self.ctx.cfg.apps) {
            Route::Extension(n) => n,
            _ => {
                let _ = reply.send(Err(CallError::NotReached(404, "Not Found".into())));
                return;
            }
        };
        let bindings = self.ctx.registrar.lookup(&target, now_ms());
        if bindings.is_empty() {
            let _ = reply.send(Err(CallError::NotReached(
                480,
                "Temporarily Unavailable".into(),
            )));
            return;
        }
        let pair = match self.ctx.ports.allocate() {
            Ok(p) => p,
            Err(e) => {
                let _ = reply.send(Err(CallError::Media(e.to_string())));
                return;
            }
        };
        let b_port = pair.port;
        // The caller's codec first, so the callee can avoid transcoding.
        let mut prefs = self.prefs();
        if let Some(a) = self.formats[0] {
            prefs.retain(|c| *c != a.codec);
            prefs.insert(0, a.codec);
        }
        let offer = match negotiate::offer(self.ctx.advertise, b_port, &prefs, self.id) {
            Ok(o) => o.to_string().into_bytes(),
            Err(e) => {
                let _ = reply.send(Err(CallError::Media(e.to_string())));
                return;
            }
        };
        // A fresh set of forks for this bridge.
        for f in std::mem::take(&mut self.forks) {
            self.ctx.dialogs.remove(&f.dialog.call_id);
        }
        self.winner = None;
        self.failures.clear();
        self.formats[1] = None;
        if let MediaPlane::Session(s) = &mut self.media {
            s.attach(Side::B, pair);
        }
        self.update_info(|i| {
            i.b_rtp_port = b_port;
            i.note = format!("calling {target}");
        });
        // The caller hears ringback while the other party rings.
        if let Ok(plan) = self.ctx.cfg.tone_plan() {
            let rate = self.media.session().map_or(8000, |s| s.rate(Side::A));
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
        }
        let app = self.app_state();
        app.deadline = Some(Instant::now() + timeout);
        app.op = Some(Op::Bridge {
            number: target.clone(),
            answered: false,
            reply,
        });
        for b in bindings {
            self.send_fork(&target, &b, offer.clone());
        }
    }

    /// The called party answered: connect the two.
    pub(super) fn bridge_answered(&mut self, resp: &rsip::Response) {
        let prefs = media::codec::Codec::ALL.to_vec();
        if let Some(Ok(sdp)) = self.parse_sdp(resp) {
            if let Some(f) =
                negotiate::audio_section(&sdp).and_then(|(_, m)| negotiate::accepted(m, &prefs))
            {
                self.set_format(Side::B, f);
            }
            self.learn_remote(Side::B, &sdp);
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Other);
            s.hear(Side::B, Hears::Other);
        }
        self.configure_dtmf();
        let app = self.app_state();
        app.deadline = None;
        if let Some(Op::Bridge {
            number, answered, ..
        }) = &mut app.op
        {
            *answered = true;
            let note = format!("bridged to {number}");
            self.update_info(|i| i.note = note);
        }
    }

    /// Nobody answered (or everybody refused): tell the application why.
    pub(super) fn bridge_failed(&mut self) {
        let (code, reason) =
            best_failure(&self.failures).unwrap_or((480, "Temporarily Unavailable".into()));
        self.end_bridge(Err(CallError::NotReached(code, reason)));
    }

    /// The bridge is over: the caller hears silence and the application
    /// gets `result`.
    fn end_bridge(&mut self, result: Result<(), CallError>) {
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Silence);
        }
        self.winner = None;
        self.update_info(|i| i.note.clear());
        let app = self.app_state();
        app.deadline = None;
        if let Some(Op::Bridge { reply, .. }) = app.op.take() {
            let _ = reply.send(result);
        }
    }

    /// In-dialog requests from the bridged party.
    pub(super) fn on_bridged_request(&mut self, tx: TxId, req: Request) {
        let ep = self.b_ep.clone();
        if !self.is_winner_dialog(&req) {
            ep.respond(tx, message::response(&req, status(481), None));
            return;
        }
        match req.method {
            Method::Bye => {
                ep.respond(tx, message::response(&req, status(200), None));
                self.end_bridge(Ok(()));
            }
            Method::Info => {
                let ctype = message::header_value(&req, "Content-Type").unwrap_or("");
                let body = String::from_utf8_lossy(&req.body);
                ep.respond(tx, message::response(&req, status(200), None));
                if let Ok(ev) = media::dtmf::info::parse_info(ctype, &body) {
                    self.on_digit(Side::B, ev.digit);
                }
            }
            _ => {
                // A re-INVITE (hold, refresh) or UPDATE: accepted as is; the
                // session keeps its formats.
                let mut ok = message::response(&req, status(200), None);
                if let (Some(port), Some(f)) = (self.media.local_port(Side::B), self.formats[1]) {
                    if let Some(Ok(sdp)) = self.parse_sdp(&req) {
                        self.media.set_hold(sdp.is_hold());
                        self.learn_remote(Side::B, &sdp);
                        if let Ok(ans) =
                            negotiate::answer(&sdp, f, self.ctx.advertise, port, self.id)
                        {
                            ok.set_body(ans.to_string().into_bytes(), SDP);
                        }
                    }
                }
                let contact = self.contact_for(Side::B);
                ok.headers
                    .push(Header::Contact(rsip::headers::Contact::new(format!(
                        "<{contact}>"
                    ))));
                ep.respond(tx, ok);
            }
        }
    }

    /// Music on hold for the caller, silence for the other party; or back.
    fn hold(&mut self, on: bool) {
        let Some(rate) = self.media.session().map(|s| s.rate(Side::A)) else {
            return;
        };
        if on {
            let moh = self
                .ctx
                .cfg
                .media
                .sounds_dir
                .join("moh")
                .join("default.wav");
            let source = self.load(&moh, rate).and_then(|pcm| {
                media::player::Player::new(vec![pcm], rate, true)
                    .map_err(|e| CallError::Media(e.to_string()))
            });
            let Some(s) = self.media.session() else {
                return;
            };
            match source {
                Ok(player) => s.hear(
                    Side::A,
                    Hears::Source {
                        source: Box::new(player),
                        token: 0,
                    },
                ),
                Err(e) => {
                    tracing::warn!("call {}: no music on hold: {e}", self.id);
                    s.hear(Side::A, Hears::Silence);
                }
            }
            s.hear(Side::B, Hears::Silence);
            s.set_hold(true);
        } else if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Other);
            s.hear(Side::B, Hears::Other);
            s.set_hold(false);
        }
    }

    pub(super) fn on_media_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Digit { side, event } => self.on_digit(side, event.digit),
            MediaEvent::SourceDone { token, .. } => self.on_source_done(token),
            MediaEvent::RecordingFailed { error } => {
                tracing::warn!("call {}: recording failed: {error}", self.id);
            }
        }
    }

    /// A key from a leg (RFC 4733, in-band or SIP INFO).
    pub(super) fn on_digit(&mut self, side: Side, digit: char) {
        self.update_info(|i| {
            if i.digits.len() < 256 {
                i.digits.push(digit)
            }
        });
        let id = self.id;
        self.ctx.events.publish(|| Event::Dtmf {
            id,
            leg: if side == Side::A { "caller" } else { "callee" },
            digit,
        });
        if self.app.is_none() || side != Side::A {
            return;
        }
        let app = self.app_state();
        match &app.op {
            Some(Op::Play {
                interruptible: true,
                ..
            }) => {
                if let Some(Op::Play { reply, .. }) = app.op.take() {
                    let _ = reply.send(Ok(PlayOutcome::Interrupted(digit)));
                }
                if app.digits.len() < TYPE_AHEAD {
                    app.digits.push_back(digit);
                }
                if let Some(s) = self.media.session() {
                    s.hear(Side::A, Hears::Silence);
                }
            }
            Some(Op::Collect { .. }) => {
                self.collect_digit(digit);
            }
            _ => {
                if app.digits.len() < TYPE_AHEAD {
                    app.digits.push_back(digit);
                }
            }
        }
    }

    fn on_source_done(&mut self, done: u64) {
        let app = self.app_state();
        match &mut app.op {
            Some(Op::Play { token, .. }) if *token == done => {
                if let Some(Op::Play { reply, .. }) = app.op.take() {
                    let _ = reply.send(Ok(PlayOutcome::Completed));
                }
            }
            Some(Op::Collect { token, spec, .. }) if *token == Some(done) => {
                *token = None;
                app.deadline = Some(Instant::now() + spec.timeout);
            }
            _ => {}
        }
    }

    /// In-dialog requests on an application call (no B leg to relay to).
    pub(super) fn on_app_request(&mut self, tx: TxId, req: Request) {
        let ep = self.a_ep.clone();
        match req.method {
            Method::Bye => {
                ep.respond(tx, message::response(&req, status(200), None));
                self.cancel_forks(None);
                self.bye(Side::B);
                self.finish(HangupCause::NormalClearing, "caller", 200);
            }
            Method::Info => {
                let ctype = message::header_value(&req, "Content-Type").unwrap_or("");
                let body = String::from_utf8_lossy(&req.body);
                match media::dtmf::info::parse_info(ctype, &body) {
                    Ok(ev) => {
                        ep.respond(tx, message::response(&req, status(200), None));
                        self.on_digit(Side::A, ev.digit);
                    }
                    Err(e) if req.body.is_empty() => {
                        // An empty INFO is a keep-alive probe.
                        let _ = e;
                        ep.respond(tx, message::response(&req, status(200), None));
                    }
                    Err(e) => {
                        // An unknown body type is 415; a DTMF body we cannot read is 400.
                        let code = match e {
                            media::dtmf::info::DtmfInfoError::UnknownContentType(_) => 415,
                            _ => 400,
                        };
                        let reason = format!("Bad INFO: {e}");
                        ep.respond(
                            tx,
                            message::response(
                                &req,
                                sip::message::status_with_reason(code, &reason),
                                None,
                            ),
                        );
                    }
                }
            }
            Method::Invite | Method::Update => {
                // A re-INVITE (hold, refresh): same codec, our same port.
                if let Some(Ok(sdp)) = self.parse_sdp(&req) {
                    self.media.set_hold(sdp.is_hold());
                    self.learn_remote(Side::A, &sdp);
                    self.a_offer = Some(sdp);
                }
                let mut ok = self.a_response_to(&req);
                if let Some(body) = self.app_sdp() {
                    ok.set_body(body, SDP);
                }
                ep.respond(tx, ok);
            }
            Method::Options => ep.respond(tx, message::response(&req, status(200), None)),
            _ => ep.respond(tx, message::response(&req, status(501), None)),
        }
    }

    /// The caller's ACK on an app call: with a delayed offer it carries the
    /// answer to our offer.
    pub(super) fn on_app_ack(&mut self, ack: &Request) {
        if self.formats[0].is_some() {
            return;
        }
        let Some(Ok(answer)) = self.parse_sdp(ack) else {
            return;
        };
        let prefs = self.prefs();
        if let Some(f) =
            negotiate::audio_section(&answer).and_then(|(_, m)| negotiate::accepted(m, &prefs))
        {
            self.set_format(Side::A, f);
            if f.te_pt.is_none() {
                if let Some(s) = self.media.session() {
                    s.detect_inband(Side::A, true);
                }
            }
        }
        self.learn_remote(Side::A, &answer);
    }

    /// A 200 for an in-dialog request on the caller's leg, with our Contact.
    fn a_response_to(&self, req: &Request) -> rsip::Response {
        let mut r = message::response(req, status(200), None);
        let contact = self.contact_for(Side::A);
        r.headers
            .push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{contact}>"
            ))));
        r
    }
}
