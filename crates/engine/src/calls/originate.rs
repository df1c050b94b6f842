//! Calls the engine places itself (FreeSWITCH's `originate`): the engine
//! rings a phone first and, once it answers, runs an application on that
//! leg, which the call actor then owns like any engine-answered call. The
//! agent desk's click-to-dial is built on it: ring the agent's phone (asking
//! it to answer by itself where the phone supports that), then call the
//! number with ringback to the agent and bridge the two.
//!
//! Placing the first leg is done here, outside the actor, because until the
//! phone answers there is no call to own: a phone that refuses, is busy or
//! rings out leaves a CDR and an error for whoever asked, nothing else.

use super::{actor, best_failure, HangupCause};
use crate::base::context::{now_ms, Ctx};
use crate::base::toll_guard::OutboundSlot;
use crate::base::trunks::TrunkSlot;
use crate::calls::ports::App;
use crate::calls::router::Outbound;
use crate::calls::router::{self, Route};
use crate::calls::trunk_invite;
use bytes::Bytes;
use media::negotiate;
use media::sdp::SessionDescription;
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request, Response};
use sip::dialog::{record_routes, Dialog};
use sip::endpoint::ClientEvent;
use sip::endpoint::Endpoint;
use sip::message::{self, SetBody};
use sip::transaction::TxId;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// What to originate: ring `extension`, then connect it to `number`.
#[derive(Clone, Debug)]
pub struct Originate {
    /// The extension whose phone rings first (the agent's).
    pub extension: String,
    /// The number it is then connected to.
    pub number: String,
    /// Ask the phone to answer by itself (Call-Info answer-after=0); also
    /// done when the extension's auto-answer setting is `all`.
    pub auto_answer: bool,
    /// How long the first phone may ring.
    pub ring_timeout: Duration,
    /// What the answered phone is connected to.
    pub then: Then,
}

/// What an originated call does once the first phone answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Then {
    /// Call `number` and connect the two (click-to-dial).
    #[default]
    Connect,
    /// Join the live call `call` in `mode`; `number` is the extension of
    /// the agent on it (shown to the phone, and whom a whisper reaches).
    /// For a supervisor's listen, whisper and barge, and the 3-way and
    /// consulted parties the agent desk brings in.
    Join {
        /// The engine id of the call to join.
        call: u64,
        /// How the phone takes part.
        mode: crate::calls::control::MonitorMode,
    },
}

/// Why an origination did not get a call going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateError {
    /// The request itself is wrong (not a number, unknown extension, ...).
    Invalid(String),
    /// The first phone did not answer: the SIP code and reason it gave (408
    /// when it rang out or never answered).
    NotAnswered(u16, String),
    /// No media ports or the server is stopping.
    Unavailable(String),
}

impl std::fmt::Display for OriginateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginateError::Invalid(why) => f.write_str(why),
            OriginateError::NotAnswered(code, reason) => {
                write!(f, "the phone did not answer: {code} {reason}")
            }
            OriginateError::Unavailable(why) => write!(f, "cannot place calls now: {why}"),
        }
    }
}

impl std::error::Error for OriginateError {}

/// A leg we placed that answered: handed to the call actor.
pub(crate) struct PlacedLeg {
    /// The INVITE we sent (the actor keeps it as the call's first request).
    pub invite: Request,
    /// The confirmed dialog, our tag as the From tag.
    pub dialog: Dialog,
    /// The phone's SDP answer.
    pub answer: Option<SessionDescription>,
    /// The media ports our offer named.
    pub pair: media::ports::RtpPortPair,
    /// Our ACK for the 2xx, sent by the actor once it owns the dialog.
    pub ack: Bytes,
    /// The extension rung, and the number shown to it.
    pub extension: String,
    /// The number the leg is connected to next.
    pub number: String,
    /// What the leg does next.
    pub then: Then,
    /// The leg's WebRTC endpoint when the phone is a browser.
    pub webrtc: Option<media::webrtc::WebRtcLeg>,
    /// The endpoint the leg's dialog lives on: the internal profile for a
    /// phone, the trunk profile for a party reached through a gateway.
    pub ep: Endpoint,
    /// For a party reached through a gateway: its place on the gateway and
    /// under the toll-fraud limits, held as long as the call lasts.
    pub gateway: Option<GatewayHold>,
}

/// A leg's place on a gateway (its call count) and under the toll-fraud
/// limits, given back when the call ends (dropped with it).
pub(crate) struct GatewayHold {
    _slot: TrunkSlot,
    _guard: OutboundSlot,
}

/// Originates a call as `req` says; Ok with the engine's call id once the
/// first phone answered and the actor took the call over.
pub async fn originate(ctx: &Arc<Ctx>, req: Originate) -> Result<u64, OriginateError> {
    if ctx.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(OriginateError::Unavailable("the server is stopping".into()));
    }
    validate(ctx, &req)?;
    if let Some(route) = outside_party(ctx, &req) {
        return through_gateway(ctx, req, route).await;
    }
    let ext = &req.extension;
    let bindings = ctx.registrar.lookup(ext, now_ms());
    if bindings.is_empty() {
        return Err(OriginateError::NotAnswered(
            480,
            format!("extension {ext} has no registered phone"),
        ));
    }
    let pair = ctx
        .ports
        .allocate()
        .map_err(|e| OriginateError::Unavailable(format!("no media ports: {e}")))?;
    let prefs = ctx.cfg.codecs().unwrap_or_default();
    let id = ctx.next_call_id.load(std::sync::atomic::Ordering::Relaxed);
    let plain = negotiate::offer(ctx.advertise, pair.port, &prefs, id)
        .map_err(|e| OriginateError::Unavailable(e.to_string()))?;
    let offer = plain.to_string().into_bytes();
    let auto = req.auto_answer
        || ctx
            .directory
            .get(ext)
            .is_some_and(|e| e.auto_answer == "all");
    let start = now_ms();
    let mut ring = Ringing::new(ctx, &req, ctx.internal.clone());
    for b in &bindings {
        let Ok(target) = rsip::Uri::try_from(b.contact.as_str()) else {
            continue;
        };
        let browser = matches!(
            b.source.transport,
            sip::TransportKind::Ws | sip::TransportKind::Wss
        );
        match browser.then(|| webrtc_offer(ctx, &plain)) {
            // A browser gets DTLS-SRTP with ICE, its own endpoint per fork.
            Some(Ok((leg, body))) => ring.send(target, b.source, body, auto, Some(leg)),
            Some(Err(why)) => tracing::warn!("originate to {ext}'s browser: {why}"),
            None => ring.send(target, b.source, offer.clone(), auto, None),
        }
    }
    match ring.wait(req.ring_timeout).await {
        Ok((i, resp)) => {
            let mut leg = ring.confirm(i, &resp, pair);
            if leg.answer.is_none() && leg.webrtc.is_some() {
                // A browser whose answer we could not use: it has no media.
                ring.hang_up_winner(&mut leg);
                failed_cdr(ctx, &req, start, 488);
                return Err(OriginateError::NotAnswered(
                    488,
                    "the phone answered without a usable SDP".into(),
                ));
            }
            Ok(actor::spawn_originated(Arc::clone(ctx), leg, start))
        }
        Err((code, reason)) => {
            failed_cdr(ctx, &req, start, code);
            Err(OriginateError::NotAnswered(code, reason))
        }
    }
}

/// Whether call `call` is live and answered (a call to join).
fn call_is_live(ctx: &Ctx, call: u64) -> bool {
    ctx.calls
        .get(&call)
        .is_some_and(|c| c.value().1.state == "answered")
}

/// For a party brought into a call (`Then::Join`) that is no extension of
/// ours: the outbound rule that reaches it, if one does.
fn outside_party(ctx: &Ctx, req: &Originate) -> Option<Outbound> {
    if !matches!(req.then, Then::Join { .. }) || ctx.directory.get(&req.extension).is_some() {
        return None;
    }
    let settings = ctx.callcenter.get();
    match router::route_call(&req.extension, &ctx.directory, &ctx.cfg, &settings) {
        Route::Outbound(o) => Some(o),
        _ => None,
    }
}

/// Places the first leg through the gateways of `route` (a party outside
/// that the agent desk brings into a call): the agent's place under the
/// toll-fraud limits, a number from the agent's pool as the caller ID, each
/// gateway in turn (the next one on 5xx, 408 or a gateway that is DOWN or
/// full, as for any call out), the carrier's challenge answered once.
async fn through_gateway(
    ctx: &Arc<Ctx>,
    req: Originate,
    route: Outbound,
) -> Result<u64, OriginateError> {
    let agent = req.number.clone();
    let guard = ctx
        .toll_guard
        .admit(Some(&agent), &route.dial, std::time::Instant::now())
        .map_err(|r| {
            OriginateError::Invalid(format!("{agent} may not dial {}: {r}", route.dial))
        })?;
    let pair = ctx
        .ports
        .allocate()
        .map_err(|e| OriginateError::Unavailable(format!("no media ports: {e}")))?;
    let prefs = ctx.cfg.codecs().unwrap_or_default();
    let id = ctx.next_call_id.load(std::sync::atomic::Ordering::Relaxed);
    let plain = negotiate::offer(ctx.advertise, pair.port, &prefs, id)
        .map_err(|e| OriginateError::Unavailable(e.to_string()))?
        .to_string()
        .into_bytes();
    let pick = trunk_invite::pool_pick(ctx, &agent);
    let caller = trunk_invite::Caller {
        number: &agent,
        name: "",
        pool_pick: &pick,
    };
    let ring_timeout = match route.timeout_secs {
        0 => req.ring_timeout,
        t => req.ring_timeout.min(Duration::from_secs(u64::from(t))),
    };
    let start = now_ms();
    let mut failures: Vec<(u16, String)> = Vec::new();
    let mut won = None;
    for name in &route.gateways {
        let slot = match ctx.trunks.acquire(name) {
            Ok(s) => s,
            Err(why) => {
                tracing::info!("originate: gateway {name} skipped: {why}");
                failures.push((503, "Service Unavailable".into()));
                continue;
            }
        };
        let def = slot.trunk.def.clone();
        if def.srtp {
            tracing::info!(
                "originate: gateway {name} skipped: it asks for SRTP, which legs the \
                 engine places do not offer"
            );
            continue;
        }
        let made =
            match trunk_invite::invite(ctx, &ctx.external, &slot.trunk, &route.dial, &caller, 70) {
                Ok(m) => m,
                Err(why) => {
                    tracing::warn!("originate: gateway {name}: {why}");
                    continue;
                }
            };
        tracing::info!(
            "originate: {agent} brings {} into a call through gateway {name} (rule {:?})",
            route.dial,
            route.rule
        );
        let body = trunk_invite::restricted_offer(&plain, &def.codecs, id);
        let mut ring = Ringing::new(ctx, &req, ctx.external.clone());
        ring.send_gateway(made, body, def);
        match ring.wait(ring_timeout).await {
            Ok((i, resp)) => {
                won = Some((ring.confirm(i, &resp, pair), slot));
                break;
            }
            Err((code, reason)) => {
                slot.trunk
                    .calls_failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let gateway_fault = !ring.rang_out && (code == 408 || (500..600).contains(&code));
                failures.push((code, reason));
                if !gateway_fault {
                    break;
                }
            }
        }
    }
    match won {
        Some((mut leg, slot)) => {
            leg.gateway = Some(GatewayHold {
                _slot: slot,
                _guard: guard,
            });
            Ok(actor::spawn_originated(Arc::clone(ctx), leg, start))
        }
        None => {
            let (code, reason) =
                best_failure(&failures).unwrap_or((503, "No Gateway Available".into()));
            failed_cdr(ctx, &req, start, code);
            Err(OriginateError::NotAnswered(code, reason))
        }
    }
}

/// Refuses what cannot work before any phone rings.
fn validate(ctx: &Ctx, req: &Originate) -> Result<(), OriginateError> {
    let invalid = |why: String| Err(OriginateError::Invalid(why));
    if let Some(route) = outside_party(ctx, req) {
        // A party outside joins the agent's call: the agent must be allowed
        // to dial out.
        let agent = ctx.directory.get(&req.number);
        return match agent {
            Some(a) if a.enabled && a.allow_outbound => match req.then {
                Then::Join { call, .. } if !call_is_live(ctx, call) => {
                    invalid(format!("call {call} is not a live call"))
                }
                _ => Ok(()),
            },
            _ => invalid(format!(
                "extension {} may not call numbers outside (allow outbound is off): {}",
                req.number, route.dial
            )),
        };
    }
    let number = &req.number;
    if number.is_empty()
        || number.len() > 32
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || "*#+".contains(c))
    {
        return invalid(format!("'{number}' is not a number to dial"));
    }
    let Some(ext) = ctx.directory.get(&req.extension) else {
        return invalid(format!("no extension {}", req.extension));
    };
    if !ext.enabled {
        return invalid(format!("extension {} is disabled", req.extension));
    }
    if *number == req.extension {
        return invalid("an extension cannot call itself".into());
    }
    if let Then::Join { call, .. } = req.then {
        return match call_is_live(ctx, call) {
            true => Ok(()),
            false => invalid(format!("call {call} is not a live call")),
        };
    }
    // Only what a bridge can reach: an extension, or an outside number that
    // an outbound rule sends through its gateways (if this extension may
    // dial out at all).
    let settings = ctx.callcenter.get();
    match router::route_call(number, &ctx.directory, &ctx.cfg, &settings) {
        Route::Extension(_) => Ok(()),
        Route::Outbound(_) if ext.allow_outbound => Ok(()),
        Route::Outbound(_) => invalid(format!(
            "extension {} may not call numbers outside (allow outbound is off)",
            req.extension
        )),
        _ => invalid(format!("{number} is not a number this server can reach")),
    }
}

/// Whether extension `extension` may send a call to `number`: false only
/// when `number` leaves through a gateway and the extension may not dial
/// out. The desk asks this before an agent transfers a caller, so that an
/// agent without "allow outbound" cannot send callers to outside numbers.
pub fn may_reach(ctx: &Ctx, extension: &str, number: &str) -> bool {
    let settings = ctx.callcenter.get();
    match router::route_call(number, &ctx.directory, &ctx.cfg, &settings) {
        Route::Outbound(_) => ctx
            .directory
            .get(extension)
            .is_some_and(|e| e.allow_outbound),
        _ => true,
    }
}

/// One phone of the extension being rung.
struct Fork {
    dialog: Dialog,
    invite: Request,
    tx: Option<TxId>,
    cancel_wanted: bool,
    done: bool,
    /// Our ACK for its 2xx, resent by its sink if the 2xx is retransmitted.
    ack: Arc<OnceLock<Bytes>>,
    /// Its WebRTC endpoint when the phone is a browser.
    webrtc: Option<media::webrtc::WebRtcLeg>,
    /// When the fork goes through a gateway: what answers its challenge.
    gateway: Option<GatewayFork>,
}

/// A fork through a gateway: the carrier may challenge it once.
struct GatewayFork {
    def: callcenter::gateway::config::Gateway,
    from_user: String,
    challenged: bool,
}

/// The phones of one extension being rung (or one party through a
/// gateway), first answer wins.
struct Ringing<'a> {
    ctx: &'a Arc<Ctx>,
    req: &'a Originate,
    /// The endpoint the forks are sent from.
    ep: Endpoint,
    /// The ring timeout ended the wait (no answer, not a failure).
    rang_out: bool,
    forks: Vec<Fork>,
    events: mpsc::UnboundedReceiver<(usize, ClientEvent)>,
    events_tx: mpsc::UnboundedSender<(usize, ClientEvent)>,
}

impl<'a> Ringing<'a> {
    fn new(ctx: &'a Arc<Ctx>, req: &'a Originate, ep: Endpoint) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        Ringing {
            ctx,
            req,
            ep,
            rang_out: false,
            forks: Vec::new(),
            events,
            events_tx,
        }
    }

    fn send(
        &mut self,
        target: rsip::Uri,
        peer: sip::Peer,
        sdp: Vec<u8>,
        auto_answer: bool,
        webrtc: Option<media::webrtc::WebRtcLeg>,
    ) {
        let ctx = self.ctx;
        let host = ctx.host();
        let number = &self.req.number;
        let mut dialog = Dialog {
            call_id: message::new_call_id(),
            local_tag: message::new_tag(),
            remote_tag: None,
            // The phone shows whom it is about to be connected to.
            local_uri: format!("\"{number}\" <sip:{number}@{host}>"),
            remote_uri: format!("<sip:{}@{host}>", self.req.extension),
            remote_target: target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer,
        };
        let ep = &self.ep;
        let via = ctx.sent_by_on(ep, peer.transport);
        let contact = ctx.contact_towards(ep, number, peer.transport);
        let mut invite = dialog.request(Method::Invite, &via, &contact);
        invite
            .headers
            .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
        if auto_answer {
            invite.headers.push(Header::Other(
                "Call-Info".into(),
                format!("<sip:{host}>;answer-after=0"),
            ));
            invite.headers.push(Header::Other(
                "Alert-Info".into(),
                "info=alert-autoanswer".into(),
            ));
        }
        invite.set_body(sdp, "application/sdp");
        self.launch(dialog, invite, webrtc, None);
    }

    /// Sends `made`, an INVITE towards gateway `def`, with SDP `body`.
    fn send_gateway(
        &mut self,
        made: trunk_invite::TrunkInvite,
        body: Vec<u8>,
        def: callcenter::gateway::config::Gateway,
    ) {
        let mut invite = made.request;
        invite.set_body(body, "application/sdp");
        let gateway = GatewayFork {
            def,
            from_user: made.from_user,
            challenged: false,
        };
        self.launch(made.dialog, invite, None, Some(gateway));
    }

    fn launch(
        &mut self,
        dialog: Dialog,
        invite: Request,
        webrtc: Option<media::webrtc::WebRtcLeg>,
        gateway: Option<GatewayFork>,
    ) {
        let i = self.forks.len();
        let ack: Arc<OnceLock<Bytes>> = Arc::default();
        let peer = dialog.peer;
        self.ep
            .send_request(invite.clone(), peer, self.sink(i, &ack, peer));
        self.forks.push(Fork {
            dialog,
            invite,
            tx: None,
            cancel_wanted: false,
            done: false,
            ack,
            webrtc,
            gateway,
        });
    }

    /// Where fork `i`'s responses go.
    fn sink(
        &self,
        i: usize,
        ack: &Arc<OnceLock<Bytes>>,
        peer: sip::Peer,
    ) -> sip::endpoint::ClientSink {
        let sink_ack = Arc::clone(ack);
        let tx = self.events_tx.clone();
        let ep = self.ep.clone();
        Arc::new(move |ev| {
            // A retransmitted 2xx means our ACK was lost: send it again,
            // whoever owns the call by now.
            if let (ClientEvent::Response(_, r), Some(ack)) = (&ev, sink_ack.get()) {
                if (200..300).contains(&r.status_code.code()) {
                    ep.send_stateless(ack.clone(), peer);
                    return;
                }
            }
            let _ = tx.send((i, ev));
        })
    }

    /// Fork `i` went through a gateway that challenged it (401/407): send
    /// it again with credentials, once (again only for a stale nonce). True
    /// when it was sent.
    fn answer_challenge(&mut self, i: usize, resp: &Response) -> bool {
        let ctx = self.ctx;
        let ep = self.ep.clone();
        let fork = &mut self.forks[i];
        let Some(gw) = fork.gateway.as_mut() else {
            return false;
        };
        if (gw.challenged && !trunk_invite::challenge_is_stale(resp)) || gw.def.password.is_empty()
        {
            tracing::warn!(
                "originate: gateway {} refused our credentials ({} after auth)",
                gw.def.name,
                resp.status_code.code()
            );
            return false;
        }
        gw.challenged = true;
        let Some(req) = trunk_invite::with_credentials(
            ctx,
            &ep,
            &mut fork.dialog,
            &fork.invite,
            &gw.from_user,
            resp,
            &gw.def,
        ) else {
            return false;
        };
        fork.invite = req.clone();
        fork.tx = None;
        let peer = fork.dialog.peer;
        let ack = Arc::clone(&fork.ack);
        ep.send_request(req, peer, self.sink(i, &ack, peer));
        true
    }

    /// Waits for the first 2xx (Ok with its fork), or every phone's refusal,
    /// or the ring timeout (then the phones are cancelled).
    async fn wait(&mut self, timeout: Duration) -> Result<(usize, Response), (u16, String)> {
        let mut failures: Vec<(u16, String)> = Vec::new();
        let give_up = tokio::time::sleep(timeout);
        tokio::pin!(give_up);
        loop {
            if self.forks.iter().all(|f| f.done) {
                return Err(
                    best_failure(&failures).unwrap_or((480, "Temporarily Unavailable".into()))
                );
            }
            let (i, ev) = tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(ev) => ev,
                    None => return Err((500, "Server Internal Error".into())),
                },
                _ = &mut give_up => {
                    self.cancel_all(None);
                    self.rang_out = true;
                    return Err((408, "No Answer".into()));
                }
            };
            match ev {
                ClientEvent::Sent(tx) => {
                    self.forks[i].tx = Some(tx);
                    if self.forks[i].cancel_wanted {
                        self.ep.cancel(tx);
                    }
                }
                ClientEvent::Timeout(_) => {
                    self.forks[i].done = true;
                    failures.push((408, "Request Timeout".into()));
                }
                ClientEvent::Response(_, r) => {
                    let code = r.status_code.code();
                    if code < 200 {
                        continue;
                    }
                    if matches!(code, 401 | 407)
                        && !self.forks[i].cancel_wanted
                        && self.answer_challenge(i, &r)
                    {
                        continue;
                    }
                    self.forks[i].done = true;
                    if code < 300 {
                        self.cancel_all(Some(i));
                        return Ok((i, r));
                    }
                    let reason = r.status_code.to_string();
                    failures.push((code, reason));
                }
            }
        }
    }

    fn cancel_all(&mut self, except: Option<usize>) {
        for (i, f) in self.forks.iter_mut().enumerate() {
            if Some(i) == except || f.done || f.cancel_wanted {
                continue;
            }
            f.cancel_wanted = true;
            if let Some(tx) = f.tx {
                self.ep.cancel(tx);
            }
        }
        // A phone that answers after losing is acknowledged and hung up.
        let ctx = Arc::clone(self.ctx);
        let ep = self.ep.clone();
        let mut events = std::mem::replace(&mut self.events, mpsc::unbounded_channel().1);
        let mut losers: Vec<(Dialog, Arc<OnceLock<Bytes>>)> = self
            .forks
            .iter()
            .map(|f| (f.dialog.clone(), Arc::clone(&f.ack)))
            .collect();
        let winner = except;
        tokio::spawn(async move {
            let linger = tokio::time::sleep(Duration::from_secs(32));
            tokio::pin!(linger);
            loop {
                let ev = tokio::select! {
                    ev = events.recv() => ev,
                    _ = &mut linger => None,
                };
                let Some((i, ClientEvent::Response(_, r))) = ev else {
                    match ev {
                        Some(_) => continue,
                        None => return,
                    }
                };
                if Some(i) == winner || !(200..300).contains(&r.status_code.code()) {
                    continue;
                }
                let Some((dialog, ack_slot)) = losers.get_mut(i) else {
                    continue;
                };
                confirm_dialog(dialog, &r);
                let ack = ack_for(&ctx, &ep, dialog);
                let _ = ack_slot.set(ack.clone());
                ep.send_stateless(ack, dialog.peer);
                let via = ctx.sent_by_on(&ep, dialog.peer.transport);
                let contact = ctx.contact_towards(&ep, "originate", dialog.peer.transport);
                let bye = dialog.request(Method::Bye, &via, &contact);
                ep.send_request(bye, dialog.peer, Arc::new(|_| {}));
            }
        });
    }

    /// The winner's dialog, confirmed by its 2xx, with our ACK ready.
    fn confirm(&mut self, i: usize, resp: &Response, pair: media::ports::RtpPortPair) -> PlacedLeg {
        let fork = &mut self.forks[i];
        confirm_dialog(&mut fork.dialog, resp);
        let ack = ack_for(self.ctx, &self.ep, &fork.dialog);
        let _ = fork.ack.set(ack.clone());
        let text = match message::has_sdp(resp, &resp.body) {
            true => std::str::from_utf8(&resp.body).ok(),
            false => None,
        };
        let parsed = text.and_then(|t| SessionDescription::parse(t).ok().map(|s| (t, s)));
        let answer = match (&fork.webrtc, parsed) {
            (Some(leg), Some((text, sdp))) => {
                let from = fork.dialog.peer.addr.ip();
                match leg.remote_sdp(text, &sdp, from, std::time::Instant::now()) {
                    Ok(view) => Some(view),
                    Err(e) => {
                        tracing::warn!("originate: the browser's answer: {e}");
                        None
                    }
                }
            }
            // A browser must answer with WebRTC SDP.
            (Some(_), None) => None,
            (None, parsed) => parsed.map(|(_, sdp)| sdp),
        };
        PlacedLeg {
            invite: fork.invite.clone(),
            dialog: fork.dialog.clone(),
            answer,
            pair,
            ack,
            extension: self.req.extension.clone(),
            number: self.req.number.clone(),
            then: self.req.then.clone(),
            webrtc: fork.webrtc.clone(),
            ep: self.ep.clone(),
            gateway: None,
        }
    }

    /// Hangs up the phone that answered when its call cannot go on.
    fn hang_up_winner(&self, leg: &mut PlacedLeg) {
        let (ctx, ep) = (self.ctx, &self.ep);
        ep.send_stateless(leg.ack.clone(), leg.dialog.peer);
        let via = ctx.sent_by_on(ep, leg.dialog.peer.transport);
        let contact = ctx.contact_towards(ep, "originate", leg.dialog.peer.transport);
        let bye = leg.dialog.request(Method::Bye, &via, &contact);
        ep.send_request(bye, leg.dialog.peer, Arc::new(|_| {}));
    }
}

/// A browser's endpoint for an originated call and the WebRTC offer for
/// our plain offer `plain` (Opus first when it is here).
fn webrtc_offer(
    ctx: &Ctx,
    plain: &SessionDescription,
) -> Result<(media::webrtc::WebRtcLeg, Vec<u8>), String> {
    let identity = ctx
        .webrtc
        .as_ref()
        .ok_or("WebRTC is not available (no DTLS certificate)")?;
    let leg = media::webrtc::WebRtcLeg::new(identity);
    let mut plain = plain.clone();
    if let Some((i, _)) = negotiate::audio_section(&plain) {
        actor::opus_first(&mut plain.media[i]);
    }
    let body = leg
        .local_sdp(&plain, std::time::Instant::now())
        .map_err(|e| e.to_string())?;
    Ok((leg, body.into_bytes()))
}

/// Fills in what a 2xx to our INVITE tells about the dialog.
fn confirm_dialog(dialog: &mut Dialog, resp: &Response) {
    dialog.remote_tag = message::to_tag(resp);
    if let Some(uri) = message::contact_uri(resp) {
        dialog.remote_target = uri;
    }
    let mut rr = record_routes(resp);
    rr.reverse();
    dialog.route_set = rr;
    // The INVITE's CSeq: 1, or 2 when it was sent again with credentials.
    dialog.local_cseq = dialog.local_cseq.max(1);
}

/// Our ACK for the 2xx on `dialog` (the INVITE's CSeq), sent from `ep`.
fn ack_for(ctx: &Ctx, ep: &Endpoint, dialog: &Dialog) -> Bytes {
    let via = ctx.sent_by_on(ep, dialog.peer.transport);
    let contact = ctx.contact_towards(ep, "originate", dialog.peer.transport);
    let cseq = dialog.local_cseq;
    let ack = dialog.request_with_cseq(Method::Ack, cseq, &via, &contact, &message::new_branch());
    message::to_bytes(ack)
}

/// The record of an origination whose first phone never answered.
fn failed_cdr(ctx: &Ctx, req: &Originate, start: u64, code: u16) {
    let cause = if code == 408 {
        HangupCause::NoAnswer
    } else {
        HangupCause::from_sip(code)
    };
    let end = now_ms();
    let cdr = store::Cdr {
        id: None,
        call_uid: Some(crate::calls::cdr::new_call_uid()),
        in_progress: false,
        last_seen_at: Some(end as i64),
        call_id: message::new_call_id(),
        caller: req.extension.clone(),
        caller_name: String::new(),
        callee: req.number.clone(),
        direction: "internal".into(),
        start_at: start as i64,
        answer_at: None,
        end_at: end as i64,
        ring_secs: ((end.saturating_sub(start) + 500) / 1000) as i64,
        talk_secs: 0,
        hangup_cause: cause.as_str().into(),
        hangup_by: "callee".into(),
        sip_code: i32::from(code),
        recording_path: None,
        recorded_secs: 0,
        // The agent's own phone did not answer: nobody took the call.
        agent: None,
        queue: None,
        gateway: None,
        wait_secs: 0,
        agent_secs: 0,
    };
    ctx.metrics.call_ended(cause.outcome());
    if ctx.cdr_tx.send(cdr).is_err() {
        tracing::error!("originate: CDR writer gone, record lost");
    }
}

/// The app an originated leg runs: connect it to the number, or join it
/// to a live call.
pub(crate) fn app_for(leg: &PlacedLeg) -> App {
    match leg.then {
        Then::Connect => App::Originate(leg.number.clone()),
        Then::Join { call, mode } => App::Join {
            call,
            agent: leg.number.clone(),
            mode,
        },
    }
}
