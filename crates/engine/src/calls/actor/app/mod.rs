//! Calls answered by the engine itself and driven by an application
//! (echo, readback, tone test; later IVR, queue, robot) through the
//! [`CallControl`](crate::calls::control::CallControl) API: the application
//! task sends commands, this part of the actor carries them out on the
//! caller's leg and its media session and answers each when it is done.

use super::media_plane::MediaPlane;
use super::{Call, State, SDP};
use crate::base::context::now_ms;
use crate::base::events::Event;
use crate::calls::best_failure;
use crate::calls::control::{
    CallControl, CallError, CollectSpec, Collected, Command, PlayItem, PlayOutcome,
};
use crate::calls::ports::App;
use crate::calls::router::{self, Route};
use crate::calls::{HangupCause, Side};
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
    /// Talking to a picked-up call until this one ends.
    Pickup {
        _reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// Monitoring another call until this one ends.
    Supervise {
        _reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// Waiting in a queue, or talking with its agent.
    Queue {
        reply: oneshot::Sender<Result<crate::calls::control::QueueOutcome, CallError>>,
    },
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
    /// The queue the caller waits in (or talks to an agent of).
    queue: Option<queue::QueueState>,
    /// The call this supervisor monitors, and its room.
    supervising: Option<supervise::Supervising>,
}

/// Fires at the app's deadline (a collect timeout); never without one.
pub(super) async fn deadline(app: &Option<AppState>) {
    match app.as_ref().and_then(|a| a.deadline) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

mod bridge;
mod conference;
mod pickup;
mod play;
mod queue;
mod requests;
mod supervise;
mod transfer;

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
        if let Some(remote) = self
            .a_offer
            .as_ref()
            .and_then(|o| self.remote_of(Side::A, o))
        {
            session.set_remote(Side::A, remote);
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
        self.ctx.apps.launch(kind, control, Arc::clone(&self.ctx));
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
        sdp.ok().map(|s| self.secured(s, Side::A))
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
            Command::Supervise {
                target,
                room,
                agent,
                mode,
                reply,
            } => self.supervise(target, room, agent, mode, reply),
            Command::SetMonitorMode(mode) => self.set_monitor_mode(mode),
            Command::Partner(partner) => self.partner_with(partner),
            Command::Monitor { reply, .. } => {
                let _ = reply.send(Err(CallError::NotAnswered));
            }
            Command::PickUp { reply, .. }
            | Command::Attend { reply, .. }
            | Command::HandOver { reply, .. } => {
                let _ = reply.send(Err(CallError::NotAnswered));
            }
            Command::JoinPickup {
                room,
                partner,
                reply,
            } => self.join_pickup(room, partner, reply),
            Command::Bridge {
                number,
                timeout,
                reply,
            } => self.start_bridge(number, timeout, reply),
            Command::Hold(on) => self.hold(on),
            Command::SendToSurvey => self.send_to_survey(),
            Command::Transfer(target) => {
                if self.winner.is_some() {
                    self.transfer_to(target);
                }
            }
            Command::EnterQueue { queue, reply } => self.enter_queue(queue, reply),
            Command::Offer {
                agent,
                contact,
                ring_timeout,
                auto_answer,
            } => self.offer(agent, contact, ring_timeout, auto_answer),
            Command::CancelOffer { agent } => self.cancel_offer(&agent),
            Command::LeaveQueue { reason } => self.queue_cancelled(reason),
            Command::Announce { sound } => self.queue_announce(sound),
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
            Command::RecordTo(path, reply) => {
                let r = self.record_to(&path).map_err(CallError::Recording);
                let _ = reply.send(r);
            }
            Command::StopRecording(reply) => {
                let Some(s) = self.media.session() else {
                    let _ = reply.send(Err(CallError::Recording(
                        "nothing is being recorded".into(),
                    )));
                    return;
                };
                let (tx, rx) = oneshot::channel();
                s.stop_recording_to(tx);
                self.recording = None;
                tokio::spawn(async move {
                    let r = match rx.await {
                        Ok(Some(Ok(summary))) => Ok(summary.seconds),
                        Ok(Some(Err(e))) => Err(CallError::Recording(e.to_string())),
                        _ => Err(CallError::Recording("nothing is being recorded".into())),
                    };
                    let _ = reply.send(r);
                });
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

    pub(super) fn app_state(&mut self) -> &mut AppState {
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
                self.cancel_forks(None);
                self.bye(Side::A);
                self.bye(Side::B);
                self.finish(cause, "system", 200);
            }
            State::Ringing | State::Routing => {
                self.fail_a(480, "Temporarily Unavailable", cause, "system");
            }
            State::Ended => {}
        }
    }

    pub(super) fn on_app_deadline(&mut self) {
        if self.queue_offering() {
            return self.queue_deadline();
        }
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

    pub(super) fn on_media_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Digit { side, event } => self.on_digit(side, event.digit),
            MediaEvent::SourceDone { token, .. } => self.on_source_done(token),
            MediaEvent::RecordingFailed { error } => {
                tracing::warn!("call {}: recording failed: {error}", self.id);
            }
            MediaEvent::TransportFailed { side, why } => self.on_transport_failed(side, &why),
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
        if self.app.is_none()
            || side != Side::A
            || self.queue_digit(digit)
            || self.supervisor_key(digit)
        {
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
        if done == queue::ANNOUNCE_TOKEN {
            if let Some(s) = self.media.session() {
                s.hear(Side::A, Hears::Other);
                s.hear(Side::B, Hears::Other);
            }
            return;
        }
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
}
