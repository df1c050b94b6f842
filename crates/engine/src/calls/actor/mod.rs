//! The B2BUA call actor: one task per call. It owns the caller's leg (A), the
//! attempts to reach the callee (forks, one per registered contact; the first to
//! answer becomes leg B), the media between them (a plain relay, upgraded to a
//! processing media session when the call needs transcoding, recording or an
//! application), and writes the CDR (in progress once answered, complete when
//! the call ends). Each leg has its own Call-ID, tags and CSeq space. A call
//! to an application (echo, readback, ...) has no B leg: the application
//! drives it through [`super::control`].

mod app;
mod eavesdrop;
mod media_plane;
mod originated;
mod outbound;
mod pickup;
mod refer;
mod srtp;
mod voicemail;
mod webrtc;

use media_plane::MediaPlane;
pub(crate) use originated::spawn_originated;
pub(crate) use webrtc::opus_first;

use super::control::Command;
use super::{best_failure, CallInfo, CallMsg, HangupCause, Side};
use crate::base::context::{now_ms, CallTx, Ctx};
use crate::base::events::Event;
use crate::base::metrics::Outcome;
use crate::base::registrar::Binding;
use crate::calls::dialogs::{a_leg_dialog, DialogRoute};
use crate::calls::router::{self, Route};
use bytes::Bytes;
use media::sdp::SessionDescription;
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request, Response};
use sip::dialog::{record_routes, Dialog};
use sip::endpoint::{ClientEvent, ClientSink, Endpoint};
use sip::message::{self, status, status_with_reason, SetBody};
use sip::transaction::TxId;
use sip::Peer;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A new call, as the profile dispatcher hands it over (already authenticated or ACL-checked).
pub struct NewCall {
    /// The profile the INVITE came in on.
    pub a_ep: Endpoint,
    /// Its server transaction.
    pub tx: TxId,
    /// The INVITE.
    pub invite: Request,
    /// Where it came from.
    pub from: Peer,
    /// Caller number (authenticated extension, or the trunk's From user).
    pub caller: String,
    /// Caller display name.
    pub caller_name: String,
    /// internal (extension to extension) or inbound (from a trunk).
    pub direction: &'static str,
    /// The number dialled when it is not the Request-URI's user (a call a
    /// registered gateway sends to our Contact carries it in To).
    pub dialled: Option<String>,
    /// The gateway it came in by (a call from a trunk).
    pub gateway: Option<String>,
}

/// Start a call actor. Registers the caller's Call-ID before returning so a
/// CANCEL that follows at once finds the call.
pub fn spawn(ctx: Arc<Ctx>, nc: NewCall) {
    let a_call_id = message::call_id(&nc.invite).unwrap_or_default().to_string();
    let a_dialog = a_leg_dialog(&nc.invite, nc.from);
    let callee = nc
        .dialled
        .clone()
        .unwrap_or_else(|| router::dialled_number(&nc.invite));
    let mut call = open(
        ctx,
        Opening {
            a_ep: nc.a_ep,
            a_tx: nc.tx,
            invite: nc.invite,
            a_call_id,
            a_dialog,
            caller: nc.caller,
            caller_name: nc.caller_name,
            callee,
            direction: nc.direction,
        },
    );
    call.handled.gateway = nc.gateway;
    tokio::spawn(call.run());
}

/// Gives a new call its id and mailbox, makes it findable (its caller's
/// Call-ID, the live call list) and announces it.
fn open(ctx: Arc<Ctx>, o: Opening) -> Call {
    let (me, rx) = mpsc::unbounded_channel();
    let id = ctx.next_call_id.fetch_add(1, Ordering::Relaxed);
    // The far end of leg A is a registered phone unless the call came in on
    // a trunk: its registration may move it (NAT rebinding).
    let user = (o.direction != "inbound").then(|| o.caller.clone());
    ctx.dialogs.insert(
        o.a_call_id.clone(),
        DialogRoute {
            call: me.clone(),
            side: Side::A,
            local_tag: o.a_dialog.local_tag.clone(),
            remote_tag: o.a_dialog.remote_tag.clone(),
            peer: o.a_dialog.peer,
            proxy: crate::calls::dialogs::first_hop(&o.a_dialog.route_set),
            port: o.a_ep.local_addr().port(),
            user,
        },
    );
    let start = now_ms();
    let info = CallInfo {
        id,
        call_id: o.a_call_id.clone(),
        caller: o.caller.clone(),
        callee: o.callee.clone(),
        direction: o.direction,
        state: "routing",
        a_rtp_port: 0,
        b_rtp_port: 0,
        b_party: None,
        start_at: start,
        answer_at: None,
        app: None,
        digits: String::new(),
        note: String::new(),
        joined: None,
    };
    ctx.calls.insert(id, (me.clone(), info));
    ctx.metrics.active_calls.fetch_add(1, Ordering::Relaxed);
    ctx.events.publish(|| Event::CallStarted {
        id,
        caller: o.caller.clone(),
        callee: o.callee.clone(),
        direction: o.direction,
    });
    Call::new(ctx, id, me, rx, start, o)
}

/// What a call actor starts from: the caller's leg.
struct Opening {
    a_ep: Endpoint,
    a_tx: TxId,
    invite: Request,
    a_call_id: String,
    a_dialog: Dialog,
    caller: String,
    caller_name: String,
    callee: String,
    direction: &'static str,
}

impl Call {
    fn new(
        ctx: Arc<Ctx>,
        id: u64,
        me: CallTx,
        rx: mpsc::UnboundedReceiver<CallMsg>,
        start_ms: u64,
        o: Opening,
    ) -> Call {
        Call {
            b_ep: ctx.internal.clone(),
            ctx,
            id,
            me,
            rx,
            a_ep: o.a_ep,
            a_tx: o.a_tx,
            invite: o.invite,
            a_call_id: o.a_call_id,
            a_dialog: o.a_dialog,
            forks: Vec::new(),
            winner: None,
            media: MediaPlane::None,
            a_offer: None,
            formats: [None; 2],
            app: None,
            a_answer: None,
            callee_ext: None,
            a_gateway: None,
            monitored: None,
            pickup_partner: None,
            released: None,
            fork_headers: Vec::new(),
            next_fork_webrtc: None,
            recording: None,
            cdr: None,
            call_uid: crate::calls::cdr::new_call_uid(),
            cdr_open: None,
            caller: o.caller,
            caller_name: o.caller_name,
            callee: o.callee,
            direction: o.direction,
            start_ms,
            answer_ms: None,
            state: State::Routing,
            pending: HashMap::new(),
            next_token: 1,
            failures: Vec::new(),
            ringing_sent: false,
            early_media: false,
            a_acked: false,
            delayed_offer: false,
            b_ack_pending: None,
            transferor: None,
            released_legs: Vec::new(),
            plain_transfer: false,
            record_closed: false,
            told_hold: [false; 2],
            callee_warning: None,
            outbound: None,
            ring_timeout: None,
            handled: Handled::default(),
            srtp: std::cell::Cell::new([None; 2]),
            webrtc: Default::default(),
            webrtc_attached: Default::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Routing,
    Ringing,
    Answered,
    Ended,
}

impl State {
    fn label(self) -> &'static str {
        match self {
            State::Routing => "routing",
            State::Ringing => "ringing",
            State::Answered => "answered",
            State::Ended => "ended",
        }
    }
}

/// One attempt to reach a contact of the callee.
struct Fork {
    /// The queue agent this fork offers the call to, if it is a queue offer.
    agent: Option<String>,
    tx: Option<TxId>,
    dialog: Dialog,
    final_code: Option<u16>,
    cancel_wanted: bool,
    ack: Option<Bytes>,
    /// The fork's WebRTC leg when it goes to a browser.
    webrtc: Option<media::webrtc::WebRtcLeg>,
}

/// What one of our client transactions is for.
enum Pending {
    Fork(usize),
    /// A request relayed from `origin` to the other leg; answer on `server_tx`.
    Relay {
        origin: Side,
        server_tx: TxId,
        request: Request,
    },
    /// A relayed re-INVITE that was answered 2xx: our ACK, re-sent on retransmits.
    Acked {
        ack: Bytes,
        side: Side,
    },
    /// Our own re-INVITE of leg A (taking a transferee off hold): ACK its
    /// 2xx and use the codec it answered.
    Reinvite(Side),
    /// BYE and the like: nothing to do with the answer.
    Fire,
}

struct Call {
    ctx: Arc<Ctx>,
    id: u64,
    me: CallTx,
    rx: mpsc::UnboundedReceiver<CallMsg>,
    a_ep: Endpoint,
    b_ep: Endpoint,
    a_tx: TxId,
    invite: Request,
    a_call_id: String,
    a_dialog: Dialog,
    forks: Vec<Fork>,
    winner: Option<usize>,
    media: MediaPlane,
    /// The caller's SDP offer (to answer it ourselves when we transcode or
    /// run an application).
    a_offer: Option<SessionDescription>,
    /// Negotiated formats of legs A and B, once known.
    formats: [Option<media::session::LegFormat>; 2],
    /// Set when an application drives this call.
    app: Option<app::AppState>,
    /// The extension being called (B2BUA calls), for voicemail and missed calls.
    callee_ext: Option<String>,
    /// Leg A's place on a gateway and under the toll-fraud limits, when the
    /// engine placed it through one; given back when the call ends.
    a_gateway: Option<crate::calls::originate::GatewayHold>,
    /// Extra headers for the INVITEs of the next forks (auto-answer).
    fork_headers: Vec<Header>,
    /// The WebRTC leg of the fork being sent (moved into its [`Fork`]).
    next_fork_webrtc: Option<media::webrtc::WebRtcLeg>,
    /// The other call of a pickup (hung up when this one ends).
    pickup_partner: Option<u64>,
    /// A leg released by an attended transfer: its late BYE ends nothing.
    released: Option<Side>,
    /// The room a supervisor monitors this call in.
    monitored: Option<media::conference::Conference>,
    /// The SDP answer we gave the caller (repeated in the 200 after early media).
    a_answer: Option<Vec<u8>>,
    /// SRTP (SDES) state of legs A and B (see [`srtp`]); a Cell because the
    /// SDP a side sends settles it where the call is only borrowed.
    srtp: std::cell::Cell<[Option<srtp::LegSrtp>; 2]>,
    /// The WebRTC legs (browsers) of sides A and B (see [`webrtc`]).
    webrtc: std::cell::RefCell<[Option<media::webrtc::WebRtcLeg>; 2]>,
    /// Which leg (by id) the media session was last given per side.
    webrtc_attached: std::cell::Cell<[Option<u64>; 2]>,
    /// Path of the recording in progress.
    recording: Option<std::path::PathBuf>,
    /// The finished call's record, written once the recording is closed.
    cdr: Option<store::Cdr>,
    /// The key of this call's record (the caller's Call-ID is not unique).
    call_uid: String,
    /// Once the in-progress record of the answered call is queued: the
    /// recording it named (it is written again when that changes).
    cdr_open: Option<Option<std::path::PathBuf>>,
    caller: String,
    caller_name: String,
    callee: String,
    direction: &'static str,
    start_ms: u64,
    answer_ms: Option<u64>,
    state: State,
    pending: HashMap<u64, Pending>,
    next_token: u64,
    failures: Vec<(u16, String)>,
    ringing_sent: bool,
    early_media: bool,
    /// The caller's ACK for our 2xx arrived.
    a_acked: bool,
    /// The caller's INVITE had no SDP: the callee offers, the caller answers in its ACK.
    delayed_offer: bool,
    /// With a delayed offer, our ACK to the callee, waiting for the caller's answer.
    b_ack_pending: Option<Request>,
    /// The phone whose REFER is being carried out (it gets the NOTIFYs).
    transferor: Option<refer::Transferor>,
    /// Legs released by a transfer (Call-ID and profile): their late
    /// requests are answered, and their dialogs forgotten at the end.
    released_legs: Vec<(String, Endpoint)>,
    /// A call with no application that a REFER made application-driven:
    /// it ends when the transferred call does.
    plain_transfer: bool,
    /// This call's record was closed by an attended transfer (the
    /// conversation goes on in the other call's record): nothing more is
    /// written for it.
    record_closed: bool,
    /// Whether we last relayed a hold offer to each leg (by `Side`): a
    /// transferee held by the transferor is taken off hold at the transfer.
    told_hold: [bool; 2],
    /// The Warning of a callee's 488/606, passed on to the caller.
    callee_warning: Option<String>,
    /// A call out through gateways: what is left to try, and the gateway's
    /// place held while the call lasts.
    outbound: Option<outbound::OutboundPlan>,
    /// How long the callee may ring when not `calls.no_answer_secs` (an
    /// outbound rule's timeout).
    ring_timeout: Option<u32>,
    /// Who took the call, through which queue and gateway: the reports'
    /// columns of its record.
    handled: Handled,
}

/// Who took a call and how it came, for its record (see [`store::Cdr`]'s
/// `agent`, `queue`, `gateway` and `wait_secs`).
#[derive(Debug, Default)]
struct Handled {
    /// The agent or extension that answered (a queue's agent, the
    /// extension called or bridged to).
    agent: Option<String>,
    /// The queue the caller went through (the last one, after a transfer).
    queue: Option<String>,
    /// The gateway the call came in by or went out through.
    gateway: Option<String>,
    /// When a queue's agent answered (unix ms): the caller's wait ends.
    agent_at: Option<u64>,
    /// When that agent left the call (unix ms), if before its end.
    agent_end: Option<u64>,
}

impl Call {
    async fn run(mut self) {
        self.run_loop().await;
        self.write_cdr().await;
    }

    async fn run_loop(&mut self) {
        // An originated call starts answered, its application already running.
        if self.state == State::Routing {
            self.setup();
        }
        let ring_secs = self
            .ring_timeout
            .map(u64::from)
            .unwrap_or(self.ctx.cfg.calls.no_answer_secs);
        let no_answer = tokio::time::sleep(Duration::from_secs(ring_secs));
        tokio::pin!(no_answer);
        // RFC 3261 §13.3.1.4: a 2xx never ACKed within 64*T1 ends the dialog.
        let ack_wait = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(ack_wait);
        let mut ack_armed = false;
        let mut media_check = tokio::time::interval(Duration::from_secs(1));
        media_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while self.state != State::Ended {
            self.sync_open_cdr();
            if self.state == State::Answered && !self.a_acked && !ack_armed {
                ack_armed = true;
                let t1 = Duration::from_millis(self.ctx.cfg.sip.t1_ms.max(50));
                ack_wait
                    .as_mut()
                    .reset(tokio::time::Instant::now() + t1 * 64);
            }
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => break,
                },
                _ = app::deadline(&self.app) => self.on_app_deadline(),
                _ = &mut no_answer, if self.state == State::Ringing => {
                    // Fired once: a call sent to voicemail stays "ringing"
                    // until the voicemail answers.
                    no_answer.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(86_400));
                    self.no_answer();
                }
                _ = media_check.tick(), if self.state == State::Answered => self.check_media(),
                _ = &mut ack_wait, if ack_armed && !self.a_acked && self.state == State::Answered => {
                    tracing::info!("call {}: the caller never acknowledged the 200 OK, hanging up", self.id);
                    self.bye(Side::A);
                    self.bye(Side::B);
                    self.finish(HangupCause::RecoveryOnTimerExpire, "system", 200);
                }
            }
        }
    }

    // ---- set-up -------------------------------------------------------------

    fn setup(&mut self) {
        if self.ctx.shutting_down.load(Ordering::Relaxed) {
            return self.fail_a(503, "Shutting Down", HangupCause::SystemShutdown, "system");
        }
        // The caller's offer. Without one (delayed offer, RFC 3261 §13.2.1) the
        // callee's 200 carries the offer and the caller's ACK the answer.
        let offer = match self.parse_sdp(&self.invite) {
            Some(Ok(sdp)) => Some(sdp),
            Some(Err(why)) => {
                let reason = format!("Malformed SDP: {why}");
                return self.fail_a(488, &reason, HangupCause::IncompatibleDestination, "system");
            }
            None => None,
        };
        if offer
            .as_ref()
            .is_some_and(|o| media::negotiate::audio_section(o).is_none())
        {
            self.ctx
                .metrics
                .codec_mismatches
                .fetch_add(1, Ordering::Relaxed);
            return self.fail_a_warning(
                488,
                "Not Acceptable Here",
                "304 Media type not available: the offer has no audio stream",
                HangupCause::IncompatibleDestination,
            );
        }
        if let Some(offered) = offer
            .as_ref()
            .and_then(|o| self.browser_without_our_codecs(o))
        {
            // A browser's media ends here: we must decode one of its codecs.
            self.ctx
                .metrics
                .codec_mismatches
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "call {}: a browser offered none of our codecs: {offered}",
                self.id
            );
            return self.fail_a_warning(
                488,
                "Not Acceptable Here",
                &format!("305 Incompatible media format: no codec we can use in {offered}"),
                HangupCause::IncompatibleDestination,
            );
        }
        if let Some(why) = offer.as_ref().and_then(|o| self.unusable_crypto(o)) {
            self.ctx
                .metrics
                .srtp_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!("call {}: refused with 488: {why}", self.id);
            return self.fail_a_warning(
                488,
                "Not Acceptable Here",
                &format!("305 Incompatible media format: {why}"),
                HangupCause::IncompatibleDestination,
            );
        }
        self.delayed_offer = offer.is_none();
        self.a_offer = offer.clone();
        let settings = self.ctx.callcenter.get();
        let routed =
            router::route_call(&self.callee, &self.ctx.directory, &self.ctx.cfg, &settings);
        let number = match routed {
            Route::Extension(n) => n,
            Route::App(kind) => return self.setup_app(kind),
            Route::Outbound(route) => {
                if !self.anchor_relay(offer.as_ref()) {
                    return;
                }
                if self.webrtc_of(Side::A).is_some() {
                    self.ensure_session();
                }
                let sdp_for_b = offer.map(|o| self.offer_for_b(o)).unwrap_or_default();
                return self.setup_outbound(route, sdp_for_b);
            }
            Route::NotFound => {
                return self.fail_a(404, "Not Found", HangupCause::UnallocatedNumber, "system")
            }
        };
        let bindings = self.ctx.registrar.lookup(&number, now_ms());
        if bindings.is_empty() {
            self.callee_ext = Some(number.clone());
            if self.try_voicemail(HangupCause::UserNotRegistered) {
                return;
            }
            return self.fail_a(
                480,
                "Temporarily Unavailable",
                HangupCause::UserNotRegistered,
                "system",
            );
        }
        self.callee_ext = Some(number.clone());
        if !self.anchor_relay(offer.as_ref()) {
            return;
        }
        if self.webrtc_of(Side::A).is_some() {
            // A browser's media is terminated here, never relayed.
            self.ensure_session();
        }
        let sdp_for_b = offer.map(|o| self.offer_for_b(o)).unwrap_or_default();
        self.state = State::Ringing;
        self.update_info(|i| i.state = State::Ringing.label());
        if self.auto_answers(&number, false) {
            self.fork_headers = self.auto_answer_headers();
        }
        for b in bindings {
            self.send_fork(&number, &b, sdp_for_b.clone());
        }
        self.fork_headers.clear();
    }

    /// Anchors the call's media in a relay (leg A's far end from the
    /// caller's offer); false after failing the call when no ports are free.
    fn anchor_relay(&mut self, offer: Option<&SessionDescription>) -> bool {
        let relay = match self.start_relay() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("call {}: no media ports: {e}", self.id);
                self.fail_a(
                    503,
                    "No Media Ports",
                    HangupCause::NormalTemporaryFailure,
                    "system",
                );
                return false;
            }
        };
        if let Some(remote) = offer.and_then(|o| self.remote_of(Side::A, o)) {
            relay.set_remote(Side::A, remote);
        }
        let (a_port, b_port) = (relay.local_port(Side::A), relay.local_port(Side::B));
        self.media = MediaPlane::Relay(relay);
        self.update_info(|i| {
            i.a_rtp_port = a_port;
            i.b_rtp_port = b_port;
        });
        true
    }

    fn start_relay(&self) -> Result<media::relay::Relay, media::MediaError> {
        let a = self.ctx.ports.allocate()?;
        let b = self.ctx.ports.allocate()?;
        Ok(media::relay::Relay::start(
            &self.ctx.media_rt,
            a,
            b,
            self.ctx.relay_stats.clone(),
        ))
    }

    fn send_fork(&mut self, number: &str, binding: &Binding, sdp: Vec<u8>) {
        let Ok(target) = rsip::Uri::try_from(binding.contact.as_str()) else {
            return;
        };
        let host = self.ctx.host();
        let display = if self.caller_name.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", self.caller_name.replace(['"', '\\'], ""))
        };
        let mut dialog = Dialog {
            call_id: message::new_call_id(),
            local_tag: message::new_tag(),
            remote_tag: None,
            local_uri: format!("{display}<sip:{}@{host}>", self.caller),
            remote_uri: format!("<sip:{number}@{host}>"),
            remote_target: target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer: binding.source,
        };
        let via = self.ctx.sent_by_on(&self.b_ep, dialog.peer.transport);
        let contact = contact_over(&self.ctx, &self.b_ep, &self.caller, dialog.peer);
        let mut req = dialog.request(Method::Invite, &via, &contact);
        let hops = message::max_forwards(&self.invite)
            .unwrap_or(70)
            .saturating_sub(1);
        for h in req.headers.iter_mut() {
            if let Header::MaxForwards(m) = h {
                *m = rsip::headers::MaxForwards::new(hops.to_string());
            }
        }
        req.headers
            .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
        for h in &self.fork_headers {
            req.headers.push(h.clone());
        }
        let tls = binding.source.transport == sip::TransportKind::Tls;
        let browser = matches!(
            binding.source.transport,
            sip::TransportKind::Ws | sip::TransportKind::Wss
        );
        let body = match browser.then(|| self.webrtc_for_fork()).flatten() {
            Some(leg) => {
                // Its media can only be terminated, never relayed.
                self.ensure_session();
                let body = self.webrtc_offer_for_new_b(&leg, sdp);
                self.next_fork_webrtc = Some(leg);
                body
            }
            None => self.offer_for_new_b(sdp, tls),
        };
        req.set_body(body, SDP);
        self.launch_fork(dialog, req, Some(number.to_string()));
    }

    /// Sends a fork's INVITE `req` in `dialog` to `dialog.peer` and makes its
    /// dialog findable; `user` is the extension whose registration may move
    /// the far end (None for a gateway).
    fn launch_fork(&mut self, dialog: Dialog, req: Request, user: Option<String>) {
        let idx = self.forks.len();
        let peer = dialog.peer;
        self.ctx.dialogs.insert(
            dialog.call_id.clone(),
            DialogRoute {
                call: self.me.clone(),
                side: Side::B,
                local_tag: dialog.local_tag.clone(),
                remote_tag: None,
                peer,
                proxy: crate::calls::dialogs::first_hop(&dialog.route_set),
                port: self.b_ep.local_addr().port(),
                user,
            },
        );
        self.forks.push(Fork {
            agent: None,
            tx: None,
            dialog,
            final_code: None,
            cancel_wanted: false,
            ack: None,
            webrtc: self.next_fork_webrtc.take(),
        });
        let token = self.token(Pending::Fork(idx));
        self.b_ep.send_request(req, peer, self.sink(token));
    }

    // ---- messages -----------------------------------------------------------

    fn handle(&mut self, msg: CallMsg) {
        match msg {
            CallMsg::Client { token, ev } => self.on_client(token, ev),
            CallMsg::Request {
                side,
                tx,
                request,
                from,
            } => self.on_request(side, tx, request, from),
            CallMsg::Ack {
                side: Side::A,
                request,
            } => self.on_caller_ack(request),
            CallMsg::Ack { .. } => {}
            CallMsg::Cancel => self.on_cancel(),
            CallMsg::Shutdown => self.on_shutdown(),
            CallMsg::Control(Command::Monitor { room, reply }) => self.monitor(room, reply),
            CallMsg::Control(Command::HandOver {
                partner,
                agent,
                reply,
            }) => self.hand_over(partner, agent, reply),
            CallMsg::Control(Command::PickUp { room, by, reply }) => {
                self.picked_up(room, by, reply)
            }
            CallMsg::Control(Command::Attend {
                room,
                keep,
                partner,
                reply,
            }) => self.attend(room, keep, partner, reply),
            // Hanging up a call no application drives (its pickup partner ended).
            CallMsg::Control(Command::Hangup(cause)) if self.app.is_none() => {
                if self.state == State::Answered {
                    self.bye(Side::A);
                    self.bye(Side::B);
                    self.finish(cause, "system", 200);
                }
            }
            CallMsg::Control(cmd) => self.on_command(cmd),
            CallMsg::Media(ev) => self.on_media_event(ev),
        }
    }

    fn on_client(&mut self, token: u64, ev: ClientEvent) {
        let Some(p) = self.pending.get(&token) else {
            return;
        };
        match p {
            Pending::Fork(i) => {
                let i = *i;
                self.on_fork_event(i, ev)
            }
            Pending::Relay { .. } => self.on_relay_event(token, ev),
            Pending::Acked { ack, side } => {
                if let ClientEvent::Response(_, r) = &ev {
                    if is_2xx(r) {
                        let (ack, peer) = (ack.clone(), self.dialog(*side).peer);
                        self.ep(*side).send_stateless(ack, peer);
                    }
                }
            }
            Pending::Reinvite(side) => {
                let side = *side;
                self.on_reinvite_event(token, side, ev)
            }
            Pending::Fire => {
                if matches!(&ev, ClientEvent::Timeout(_))
                    || matches!(&ev, ClientEvent::Response(_, r) if r.status_code.code() >= 200)
                {
                    self.pending.remove(&token);
                }
            }
        }
    }

    fn on_fork_event(&mut self, i: usize, ev: ClientEvent) {
        match ev {
            ClientEvent::Sent(tx) => {
                self.forks[i].tx = Some(tx);
                if self.forks[i].cancel_wanted {
                    self.b_ep.cancel(tx);
                }
            }
            ClientEvent::Timeout(_) => self.fork_failed(i, 408, "Request Timeout".into()),
            ClientEvent::Response(_, resp) => {
                let code = resp.status_code.code();
                match code {
                    100 => {}
                    101..=199 => self.on_fork_provisional(i, &resp),
                    200..=299 => self.on_fork_answered(i, resp),
                    401 | 407 if self.gateway_challenged(i, &resp) => {}
                    _ => {
                        if matches!(code, 488 | 606) && self.callee_warning.is_none() {
                            self.callee_warning =
                                message::header_value(&resp, "Warning").map(str::to_string);
                        }
                        let reason = reason_of(&resp);
                        self.fork_failed(i, code, reason)
                    }
                }
            }
        }
    }

    fn on_fork_provisional(&mut self, i: usize, resp: &Response) {
        if self.bridging() && (180..=183).contains(&resp.status_code.code()) {
            self.notify_transferor(180, "Ringing", false);
        }
        if self.state != State::Ringing || self.winner.is_some() {
            return;
        }
        if self.forks[i].dialog.remote_tag.is_none() {
            self.forks[i].dialog.remote_tag = message::to_tag(resp);
        }
        let code = resp.status_code.code();
        if !self.early_media && message::has_sdp(resp, &resp.body) {
            // Early media the caller could not use is not passed on; the
            // answer decides (see `on_fork_answered`).
            if let Some(Ok(Ok(body))) = self
                .parse_sdp(resp)
                .map(|r| r.map(|s| self.answer_for_a(s)))
            {
                self.early_media = true;
                let mut r = self.a_response(code, true);
                r.set_body(body, SDP);
                self.a_ep.respond(self.a_tx, r);
                return;
            }
        }
        if !self.ringing_sent && !self.early_media && self.ctx.cfg.media.local_ringback {
            if let Some(body) = self.start_local_ringback() {
                self.ringing_sent = true;
                self.early_media = true;
                self.ctx
                    .events
                    .publish(|| Event::CallRinging { id: self.id });
                let mut r = self.a_response(183, true);
                r.set_body(body, SDP);
                self.a_ep.respond(self.a_tx, r);
                return;
            }
        }
        if !self.ringing_sent && !self.early_media {
            self.ringing_sent = true;
            self.ctx
                .events
                .publish(|| Event::CallRinging { id: self.id });
            let r = self.a_response(if code == 183 { 183 } else { 180 }, true);
            self.a_ep.respond(self.a_tx, r);
        }
    }

    fn on_fork_answered(&mut self, i: usize, resp: Response) {
        let wanted = self.state == State::Ringing || self.bridging() || self.queue_offering();
        let fork = &mut self.forks[i];
        if fork.final_code == Some(200) {
            // A retransmitted 2xx: our ACK was lost (or, with a delayed offer,
            // is still waiting for the caller's answer).
            if let Some(ack) = &fork.ack {
                self.b_ep.send_stateless(ack.clone(), fork.dialog.peer);
            }
            return;
        }
        fork.final_code = Some(200);
        fork.dialog.remote_tag = message::to_tag(&resp);
        if let Some(uri) = message::contact_uri(&resp) {
            fork.dialog.remote_target = uri;
        }
        let mut rr = record_routes(&resp);
        rr.reverse();
        fork.dialog.route_set = rr;
        fork.dialog.local_cseq = 1;
        self.ctx.dialogs.confirm(
            &fork.dialog.call_id,
            fork.dialog.remote_tag.clone(),
            crate::calls::dialogs::first_hop(&fork.dialog.route_set),
        );
        let via = self.ctx.sent_by(&self.b_ep);
        let contact = self.ctx.contact(&self.b_ep, &self.caller);
        let ack =
            fork.dialog
                .request_with_cseq(Method::Ack, 1, &via, &contact, &message::new_branch());
        let too_late = self.winner.is_some() || !wanted;
        if self.delayed_offer && !too_late {
            // The 200 carries the offer; the ACK must carry the caller's answer,
            // which arrives in the caller's ACK (see `on_caller_ack`).
            self.b_ack_pending = Some(ack);
        } else {
            let ack = message::to_bytes(ack);
            fork.ack = Some(ack.clone());
            let peer = fork.dialog.peer;
            self.b_ep.send_stateless(ack, peer);
        }
        if too_late {
            // Too late (another contact answered, or the caller gave up): hang it up.
            self.bye_fork(i);
            self.queue_lost_race(i);
            return;
        }
        self.winner = Some(i);
        self.cancel_forks(Some(i));
        if self.queue_offering() {
            return self.queue_answered(i, &resp);
        }
        if self.app.is_some() {
            return self.bridge_answered(&resp);
        }
        let body = match self.parse_sdp(&resp) {
            Some(Ok(sdp)) => match self.answer_for_a(sdp) {
                Ok(body) => Some(body),
                Err(why) => return self.codec_mismatch(i, &why),
            },
            _ => None,
        };
        let mut ok = self.a_response(200, true);
        ok.headers
            .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
        if let Some(b) = body {
            ok.set_body(b, SDP);
        }
        self.a_ep.respond(self.a_tx, ok);
        self.state = State::Answered;
        self.ctx
            .events
            .publish(|| Event::CallAnswered { id: self.id });
        let now = now_ms();
        self.answer_ms = Some(now);
        let b_party = self.callee_ext.clone().or_else(|| self.outbound_number());
        if self.handled.agent.is_none() {
            self.handled.agent = self.callee_ext.clone();
        }
        self.update_info(|i| {
            i.state = State::Answered.label();
            i.answer_at = Some(now);
            i.b_party = b_party;
        });
        let flagged = |n: &str| self.ctx.directory.get(n).is_some_and(|e| e.record);
        let by_extension = flagged(&self.caller) || self.callee_ext.as_deref().is_some_and(flagged);
        if self.ctx.cfg.recording.enabled || by_extension || self.outbound_records() {
            if let Err(e) = self.start_recording() {
                tracing::warn!("call {}: not recorded: {e}", self.id);
            }
        }
    }

    fn fork_failed(&mut self, i: usize, code: u16, reason: String) {
        let fork = &mut self.forks[i];
        if fork.final_code.is_some() {
            return;
        }
        fork.final_code = Some(code);
        if !fork.cancel_wanted {
            self.failures.push((code, reason));
        }
        if !self.forks[i].cancel_wanted && self.gateway_failed(code) {
            return;
        }
        if self.queue_offering() {
            return self.queue_offer_failed(i);
        }
        if self.bridging()
            && self.winner.is_none()
            && self.forks.iter().all(|f| f.final_code.is_some())
        {
            return self.bridge_failed();
        }
        if self.state == State::Ringing
            && self.winner.is_none()
            && self.forks.iter().all(|f| f.final_code.is_some())
        {
            let (code, reason) =
                best_failure(&self.failures).unwrap_or((480, "Temporarily Unavailable".into()));
            let cause = HangupCause::from_sip(code);
            // A phone that never answered the INVITE at all is unavailable to the caller.
            let (code, reason) = if code == 408 {
                (480, "Temporarily Unavailable".to_string())
            } else {
                (code, reason)
            };
            if self.try_voicemail(cause) {
                return;
            }
            if matches!(code, 488 | 606) {
                // Say why: the callee's own Warning, or ours naming the offer.
                let warning = self.callee_warning.take().unwrap_or_else(|| {
                    let offered = self.caller_codec_names();
                    self.our_warning(&format!(
                        "305 Incompatible media format: the callee accepts none of the offered codecs ({offered})"
                    ))
                });
                self.ctx
                    .metrics
                    .codec_mismatches
                    .fetch_add(1, Ordering::Relaxed);
                return self.fail_a_with_warning_value(code, &reason, warning, cause, "callee");
            }
            self.fail_a(code, &reason, cause, "callee");
        }
    }

    fn on_request(&mut self, side: Side, tx: TxId, req: Request, from: Peer) {
        if self.is_transferor_leg(message::call_id(&req).unwrap_or_default()) {
            return self.on_transferor_request(tx, req);
        }
        // The dispatcher let a request from elsewhere in only because the
        // phone's registration moved there (NAT rebinding): follow it.
        if from.addr != self.dialog(side).peer.addr
            && message::call_id(&req) == Some(self.dialog(side).call_id.as_str())
        {
            tracing::info!(
                "call {}: leg {side:?} moved from {} to {from}",
                self.id,
                self.dialog(side).peer
            );
            self.dialog_mut(side).peer = from;
        }
        if self.released == Some(side) && req.method == Method::Bye {
            // The leg an attended transfer released, hanging up late.
            self.ep(side)
                .clone()
                .respond(tx, message::response(&req, status(200), None));
            return;
        }
        if self.app.is_some() {
            return match side {
                Side::A => self.on_app_request(tx, req),
                Side::B => self.on_bridged_request(tx, req),
            };
        }
        let ep = self.ep(side).clone();
        if side == Side::B && !self.is_winner_dialog(&req) {
            // A request on a losing fork's early dialog.
            ep.respond(tx, message::response(&req, status(481), None));
            return;
        }
        match req.method {
            Method::Bye if self.released == Some(side) => {
                ep.respond(tx, message::response(&req, status(200), None));
            }
            Method::Bye => {
                ep.respond(tx, message::response(&req, status(200), None));
                if self.state == State::Answered {
                    self.bye(side.other());
                    let by = if side == Side::A { "caller" } else { "callee" };
                    self.finish(HangupCause::NormalClearing, by, 200);
                }
            }
            _ if self.state != State::Answered => {
                ep.respond(tx, message::response(&req, status(491), None));
            }
            Method::Refer => self.on_plain_refer(side, tx, req),
            _ => self.relay_request(side, tx, req),
        }
    }

    fn is_winner_dialog(&self, req: &Request) -> bool {
        let Some(w) = self.winner else { return false };
        message::call_id(req) == Some(self.forks[w].dialog.call_id.as_str())
    }

    /// Pass an in-dialog request (re-INVITE, INFO, UPDATE, ...) to the other leg,
    /// rewriting SDP so media stays anchored.
    fn relay_request(&mut self, origin: Side, server_tx: TxId, req: Request) {
        let busy = self.pending.values().any(|p| {
            matches!(p, Pending::Relay { origin: o, request, .. } if *o == origin && request.method == Method::Invite)
        });
        if busy && req.method == Method::Invite {
            let r = message::response(&req, status(491), None);
            self.ep(origin).respond(server_tx, r);
            return;
        }
        let target = origin.other();
        let via = self.ctx.sent_by(self.ep(target));
        let contact = self.contact_for(target);
        let mut out = self.dialog_mut(target).request(req.method, &via, &contact);
        if message::has_sdp(&req, &req.body) {
            match self.parse_sdp(&req) {
                Some(Ok(sdp)) => {
                    self.media.set_hold(sdp.is_hold());
                    self.told_hold[target as usize] = sdp.is_hold();
                    self.learn_remote(origin, &sdp);
                    out.set_body(self.anchor(sdp, target), SDP);
                }
                _ => {
                    let r = message::response(&req, status_with_reason(488, "Malformed SDP"), None);
                    self.ep(origin).respond(server_tx, r);
                    return;
                }
            }
        } else if !req.body.is_empty() {
            out.set_body(req.body.clone(), content_type(&req));
        }
        let peer = self.dialog(target).peer;
        let token = self.token(Pending::Relay {
            origin,
            server_tx,
            request: req,
        });
        self.ep(target).send_request(out, peer, self.sink(token));
    }

    fn on_relay_event(&mut self, token: u64, ev: ClientEvent) {
        let final_resp = match ev {
            ClientEvent::Sent(_) => return,
            ClientEvent::Response(_, r) if r.status_code.code() < 200 => return,
            ClientEvent::Response(_, r) => Some(r),
            ClientEvent::Timeout(_) => None,
        };
        let Some(Pending::Relay {
            origin,
            server_tx,
            request,
        }) = self.pending.remove(&token)
        else {
            return;
        };
        let Some(resp) = final_resp else {
            let r = message::response(&request, status(408), None);
            self.ep(origin).respond(server_tx, r);
            return;
        };
        let code = resp.status_code.code();
        let target = origin.other();
        let mut out =
            message::response(&request, status_with_reason(code, &reason_of(&resp)), None);
        if code < 300 && request.method == Method::Invite {
            // We ACK the far side ourselves; the originator's ACK to our 2xx ends at us.
            let cseq = message::cseq(&resp).map(|c| c.0).unwrap_or(1);
            let via = self.ctx.sent_by(self.ep(target));
            let contact = self.contact_for(target);
            let ack = self.dialog(target).request_with_cseq(
                Method::Ack,
                cseq,
                &via,
                &contact,
                &message::new_branch(),
            );
            let ack = message::to_bytes(ack);
            let peer = self.dialog(target).peer;
            self.ep(target).send_stateless(ack.clone(), peer);
            self.pending
                .insert(token, Pending::Acked { ack, side: target });
            let contact = self.contact_for(origin);
            out.headers
                .push(Header::Contact(rsip::headers::Contact::new(format!(
                    "<{contact}>"
                ))));
        }
        if message::has_sdp(&resp, &resp.body) {
            if let Some(Ok(sdp)) = self.parse_sdp(&resp) {
                self.learn_remote(target, &sdp);
                out.set_body(self.anchor(sdp, origin), SDP);
            }
        } else if !resp.body.is_empty() {
            out.set_body(resp.body.clone(), content_type(&resp));
        }
        self.ep(origin).respond(server_tx, out);
    }

    /// The caller's ACK for our 200. With a delayed offer it carries the SDP
    /// answer, which goes on (anchored) in our ACK to the callee.
    fn on_caller_ack(&mut self, ack: Request) {
        self.a_acked = true;
        if self.app.is_some() {
            return self.on_app_ack(&ack);
        }
        let Some(mut b_ack) = self.b_ack_pending.take() else {
            return;
        };
        match self.parse_sdp(&ack) {
            Some(Ok(answer)) => {
                self.learn_remote(Side::A, &answer);
                b_ack.set_body(self.anchor(answer, Side::B), SDP);
            }
            _ => tracing::info!(
                "call {}: delayed offer but the caller's ACK has no usable SDP",
                self.id
            ),
        }
        if let Some(w) = self.winner {
            let bytes = message::to_bytes(b_ack);
            self.forks[w].ack = Some(bytes.clone());
            self.b_ep.send_stateless(bytes, self.forks[w].dialog.peer);
        }
    }

    fn on_cancel(&mut self) {
        if matches!(self.state, State::Ringing | State::Routing) {
            self.fail_a(
                487,
                "Request Terminated",
                HangupCause::OriginatorCancel,
                "caller",
            );
        }
    }

    fn on_shutdown(&mut self) {
        match self.state {
            State::Answered => {
                self.bye(Side::A);
                self.bye(Side::B);
                self.finish(HangupCause::SystemShutdown, "system", 200);
            }
            State::Ringing | State::Routing => {
                self.fail_a(503, "Shutting Down", HangupCause::SystemShutdown, "system");
            }
            State::Ended => {}
        }
    }

    fn no_answer(&mut self) {
        if self.state == State::Ringing && self.app.is_none() {
            if self.try_voicemail(HangupCause::NoAnswer) {
                return;
            }
            self.fail_a(480, "No Answer", HangupCause::NoAnswer, "system");
        }
    }

    fn check_media(&mut self) {
        let limit = Duration::from_secs(self.ctx.cfg.media.rtp_timeout_secs);
        let idle = self.media.idle_for(Instant::now());
        if idle.is_some_and(|d| d >= limit) {
            tracing::info!("call {}: no RTP for {:?}, hanging up", self.id, limit);
            self.ctx
                .metrics
                .media_timeouts
                .fetch_add(1, Ordering::Relaxed);
            self.bye(Side::A);
            self.bye(Side::B);
            self.finish(HangupCause::MediaTimeout, "system", 200);
        }
    }

    // ---- ending -------------------------------------------------------------

    /// Refuse the caller's INVITE (before answer), stop all forks, end the call.
    fn fail_a(&mut self, code: u16, reason: &str, cause: HangupCause, by: &'static str) {
        let r = self.a_response_with(status_with_reason(code, reason), code > 100);
        self.a_ep.respond(self.a_tx, r);
        self.cancel_forks(None);
        self.finish(cause, by, code);
    }

    /// A Warning header value of ours (RFC 3261 §20.43: `code agent "text"`)
    /// from "CODE text".
    fn our_warning(&self, warning: &str) -> String {
        let (warn_code, text) = warning.split_once(' ').unwrap_or(("399", warning));
        format!(
            "{warn_code} {} \"{}\"",
            self.ctx.host(),
            text.replace(['"', '\\'], "")
        )
    }

    /// Refuses the caller's INVITE with a Warning header ("CODE text") that
    /// says what could not be satisfied.
    fn fail_a_warning(&mut self, code: u16, reason: &str, warning: &str, cause: HangupCause) {
        let value = self.our_warning(warning);
        self.fail_a_with_warning_value(code, reason, value, cause, "system");
    }

    fn fail_a_with_warning_value(
        &mut self,
        code: u16,
        reason: &str,
        warning: String,
        cause: HangupCause,
        by: &'static str,
    ) {
        let mut r = self.a_response_with(status_with_reason(code, reason), true);
        r.headers.push(Header::Other("Warning".into(), warning));
        self.a_ep.respond(self.a_tx, r);
        self.cancel_forks(None);
        self.finish(cause, by, code);
    }

    /// The callee answered with SDP the caller cannot be given (no codec of
    /// the caller's, none we can transcode): it is hung up, and the caller
    /// gets 488 with the reason, instead of a connected call without audio.
    fn codec_mismatch(&mut self, i: usize, why: &str) {
        tracing::warn!("call {}: refused with 488: {why}", self.id);
        self.ctx
            .metrics
            .codec_mismatches
            .fetch_add(1, Ordering::Relaxed);
        self.bye_fork(i);
        self.winner = None;
        self.fail_a_warning(
            488,
            "Not Acceptable Here",
            &format!("305 Incompatible media format: {why}"),
            HangupCause::IncompatibleDestination,
        );
    }

    fn cancel_forks(&mut self, except: Option<usize>) {
        for (i, f) in self.forks.iter_mut().enumerate() {
            if Some(i) == except || f.final_code.is_some() || f.cancel_wanted {
                continue;
            }
            f.cancel_wanted = true;
            if let Some(tx) = f.tx {
                self.b_ep.cancel(tx);
            }
        }
    }

    fn bye_fork(&mut self, i: usize) {
        let via = self.ctx.sent_by(&self.b_ep);
        let contact = self.ctx.contact(&self.b_ep, &self.caller);
        let bye = self.forks[i].dialog.request(Method::Bye, &via, &contact);
        let peer = self.forks[i].dialog.peer;
        let token = self.token(Pending::Fire);
        self.b_ep.send_request(bye, peer, self.sink(token));
    }

    fn bye(&mut self, side: Side) {
        match side {
            Side::B => {
                if let Some(w) = self.winner {
                    self.bye_fork(w);
                }
            }
            Side::A => {
                let via = self.ctx.sent_by(&self.a_ep);
                let contact = self.contact_for(Side::A);
                let bye = self.a_dialog.request(Method::Bye, &via, &contact);
                let peer = self.a_dialog.peer;
                let token = self.token(Pending::Fire);
                self.a_ep.send_request(bye, peer, self.sink(token));
            }
        }
    }

    fn finish(&mut self, cause: HangupCause, by: &'static str, sip_code: u16) {
        if self.state == State::Ended {
            return;
        }
        let answered = self.answer_ms.is_some();
        self.state = State::Ended;
        let cdr = store::Cdr {
            hangup_cause: cause.as_str().to_string(),
            hangup_by: by.to_string(),
            sip_code: i32::from(sip_code),
            ..self.cdr_row(now_ms())
        };
        // Written by `run` once the recording (if any) is closed, so the
        // record holds its real length.
        self.cdr = Some(cdr);
        let outcome = if answered {
            Outcome::Answered
        } else {
            cause.outcome()
        };
        self.ctx.metrics.call_ended(outcome);
        self.ctx.events.publish(|| Event::CallEnded {
            id: self.id,
            cause: cause.as_str(),
            sip_code,
            hangup_by: by,
        });
        self.leave_conference();
        self.leave_queue_on_end();
        self.stop_supervising();
        self.end_pickup_partner();
        self.ctx.dialogs.remove(&self.a_call_id);
        for f in &self.forks {
            self.ctx.dialogs.remove(&f.dialog.call_id);
        }
        // A transfer still pending ends with the call: its transferor hears so.
        self.notify_transferor(487, "Request Terminated", true);
        for (call_id, _) in &self.released_legs {
            self.ctx.dialogs.remove(call_id);
        }
        self.ctx.calls.remove(&self.id);
        self.media.close_unless_recording();
    }

    // ---- helpers --------------------------------------------------------------

    fn token(&mut self, p: Pending) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        self.pending.insert(t, p);
        t
    }

    fn sink(&self, token: u64) -> ClientSink {
        let me = self.me.clone();
        Arc::new(move |ev| {
            let _ = me.send(CallMsg::Client { token, ev });
        })
    }

    fn ep(&self, side: Side) -> &Endpoint {
        match side {
            Side::A => &self.a_ep,
            Side::B => &self.b_ep,
        }
    }

    fn dialog(&self, side: Side) -> &Dialog {
        match (side, self.winner) {
            (Side::B, Some(w)) => &self.forks[w].dialog,
            _ => &self.a_dialog,
        }
    }

    fn dialog_mut(&mut self, side: Side) -> &mut Dialog {
        match (side, self.winner) {
            (Side::B, Some(w)) => &mut self.forks[w].dialog,
            _ => &mut self.a_dialog,
        }
    }

    fn contact_for(&self, side: Side) -> String {
        let peer = self.dialog(side).peer;
        match side {
            Side::A => contact_over(&self.ctx, &self.a_ep, &self.callee, peer),
            Side::B => contact_over(&self.ctx, &self.b_ep, &self.caller, peer),
        }
    }

    /// A response to the caller's INVITE, with our To tag and Contact.
    fn a_response(&self, code: u16, with_contact: bool) -> Response {
        self.a_response_with(status(code), with_contact)
    }

    fn a_response_with(&self, code: rsip::StatusCode, with_contact: bool) -> Response {
        let mut r = message::response(&self.invite, code, Some(&self.a_dialog.local_tag));
        if with_contact {
            let contact = self.contact_for(Side::A);
            r.headers
                .push(Header::Contact(rsip::headers::Contact::new(format!(
                    "<{contact}>"
                ))));
        }
        r
    }

    fn parse_sdp(
        &self,
        msg: &(impl rsip::message::HeadersExt + HasBody),
    ) -> Option<Result<SessionDescription, String>> {
        let body = msg.body_bytes();
        if !message::has_sdp(msg, body) {
            return None;
        }
        let parsed = std::str::from_utf8(body)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(|s| {
                SessionDescription::parse(s)
                    .map(|sdp| (s, sdp))
                    .map_err(|e| e.to_string())
            });
        Some(parsed.and_then(|(text, sdp)| {
            if !media::webrtc::is_webrtc(&sdp) {
                return Ok(sdp);
            }
            let call_id = message::call_id(msg).unwrap_or_default();
            self.webrtc_view(call_id, text, &sdp)
        }))
    }

    fn learn_remote(&self, side: Side, sdp: &SessionDescription) {
        if let Some(remote) = self.remote_of(side, sdp) {
            self.media.set_remote(side, remote);
        }
    }

    /// Rewrite an SDP so `towards` sends its media to our relay port facing it.
    fn anchor(&self, mut sdp: SessionDescription, towards: Side) -> Vec<u8> {
        let port = self.media.local_port(towards).unwrap_or(0);
        let ports: Vec<u16> = (0..sdp.media.len())
            .map(|i| if i == 0 { port } else { 0 })
            .collect();
        sdp.anchor(self.ctx.advertise, &ports);
        self.secured(sdp, towards)
    }

    /// The call's record as of `end` (unix ms), complete but for the hangup
    /// fields.
    fn cdr_row(&self, end: u64) -> store::Cdr {
        let secs = |from: u64, to: u64| ((to.saturating_sub(from) + 500) / 1000) as i64;
        let ring_end = self.answer_ms.unwrap_or(end);
        store::Cdr {
            id: None,
            call_uid: Some(self.call_uid.clone()),
            in_progress: false,
            last_seen_at: Some(end as i64),
            call_id: self.a_call_id.clone(),
            caller: self.caller.clone(),
            caller_name: self.caller_name.clone(),
            callee: self.callee.clone(),
            direction: self.direction.to_string(),
            start_at: self.start_ms as i64,
            answer_at: self.answer_ms.map(|a| a as i64),
            end_at: end as i64,
            ring_secs: secs(self.start_ms, ring_end),
            talk_secs: self.answer_ms.map(|a| secs(a, end)).unwrap_or(0),
            hangup_cause: String::new(),
            hangup_by: String::new(),
            sip_code: 0,
            recording_path: self.recording.as_ref().map(|p| p.display().to_string()),
            recorded_secs: 0,
            agent: self.handled_by(),
            queue: self.handled.queue.clone(),
            gateway: self.handled.gateway.clone(),
            wait_secs: match (&self.handled.queue, self.answer_ms) {
                (Some(_), Some(answer)) => secs(answer, self.handled.agent_at.unwrap_or(end)),
                _ => 0,
            },
            agent_secs: match (&self.handled.queue, self.handled.agent_at) {
                (Some(_), Some(at)) => secs(at, self.handled.agent_end.unwrap_or(end).min(end)),
                _ => 0,
            },
        }
    }

    /// The person on our side of the call, for its record: a queue call's
    /// agent; the extension that placed an outbound call; else the
    /// extension that answered.
    fn handled_by(&self) -> Option<String> {
        if self.handled.queue.is_some() {
            return self.handled.agent.clone();
        }
        if self.direction == "outbound" {
            return Some(self.caller.clone());
        }
        self.handled.agent.clone()
    }

    /// Queues the in-progress record of an answered call (again when its
    /// recording changed), so a crash before the end does not lose the
    /// call: the next start ends it at its last known time. Called at every
    /// turn of the call's loop, which covers every way a call is answered.
    /// A call that never answers is written once, at the end.
    fn sync_open_cdr(&mut self) {
        let Some(answer) = self.answer_ms else {
            return;
        };
        if self.record_closed {
            return;
        }
        if self.state != State::Answered || self.cdr_open.as_ref() == Some(&self.recording) {
            return;
        }
        self.cdr_open = Some(self.recording.clone());
        self.queue_row(store::Cdr {
            in_progress: true,
            last_seen_at: Some(now_ms().max(answer) as i64),
            sip_code: 200,
            ..self.cdr_row(answer)
        });
    }

    /// Hands a row of this call's record to the CDR writer (an in-progress
    /// row, or a part closed by a transfer; the final row goes through
    /// `send_cdr`).
    fn queue_row(&self, row: store::Cdr) {
        if self.ctx.cdr_tx.send(row).is_err() {
            tracing::error!("call {}: CDR writer gone, record not written", self.id);
        }
    }

    /// Closes the recording (so its length is known) and writes the CDR.
    async fn write_cdr(&mut self) {
        let Some(mut cdr) = self.cdr.take() else {
            return;
        };
        if let Some(summary) = self.media.stop_recording().await {
            match summary {
                Ok(s) => cdr.recorded_secs = s.seconds.round() as i64,
                Err(e) => tracing::warn!("call {}: recording not closed cleanly: {e}", self.id),
            }
        }
        self.media.close();
        self.send_cdr(cdr);
    }

    /// Whether calls to extension `number` ask its phone to answer by itself
    /// (its auto-answer setting: `all`, or `queue` for queue offers).
    pub(super) fn auto_answers(&self, number: &str, queue_offer: bool) -> bool {
        self.ctx
            .directory
            .get(number)
            .is_some_and(|e| e.auto_answer == "all" || (queue_offer && e.auto_answer == "queue"))
    }

    /// The headers phones understand for "answer by yourself".
    pub(super) fn auto_answer_headers(&self) -> Vec<Header> {
        vec![
            Header::Other(
                "Call-Info".into(),
                format!("<sip:{}>;answer-after=0", self.ctx.host()),
            ),
            Header::Other("Alert-Info".into(), "info=alert-autoanswer".into()),
        ]
    }

    /// Queues the CDR; only then does the call stop counting as active, so
    /// a graceful shutdown that waits for active calls loses no record.
    fn send_cdr(&self, cdr: store::Cdr) {
        if self.record_closed {
            // Closed by an attended transfer; the other call records the rest.
        } else if self.ctx.cdr_tx.send(cdr).is_err() {
            tracing::error!("call {}: CDR writer gone, record lost", self.id);
        }
        self.ctx
            .metrics
            .active_calls
            .fetch_sub(1, Ordering::Relaxed);
    }

    fn update_info(&self, f: impl FnOnce(&mut CallInfo)) {
        if let Some(mut e) = self.ctx.calls.get_mut(&self.id) {
            f(&mut e.value_mut().1);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // A task that ends without finishing (should not happen) must still leave a record.
        if self.state != State::Ended {
            self.finish(HangupCause::NormalTemporaryFailure, "system", 500);
        }
        if let Some(cdr) = self.cdr.take() {
            self.send_cdr(cdr);
        }
    }
}

/// Bodies of requests and responses alike.
trait HasBody {
    fn body_bytes(&self) -> &[u8];
}

impl HasBody for Request {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

impl HasBody for Response {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

const SDP: &str = "application/sdp";

/// The Content-Type of a message whose body is passed through unchanged (INFO DTMF, ...).
fn content_type(msg: &impl rsip::message::HasHeaders) -> &str {
    message::header_value(msg, "Content-Type").unwrap_or("application/octet-stream")
}

fn is_2xx(r: &Response) -> bool {
    (200..300).contains(&r.status_code.code())
}

fn reason_of(r: &Response) -> String {
    message::reason_text(r)
}

/// Our Contact on `ep` towards `peer`: over TLS it names the TLS port (or,
/// on a profile without a TLS listener, the connection we opened) and says
/// `transport=tls`, so the far end's requests in the dialog come over TLS
/// too (a `sip:` URI without it means UDP). Over WebSocket it says
/// `transport=ws` or `wss` (RFC 7118 §5.2): a browser sends everything
/// over the one connection it has anyway.
fn contact_over(ctx: &Ctx, ep: &Endpoint, user: &str, peer: Peer) -> String {
    ctx.contact_towards(ep, user, peer.transport)
}
