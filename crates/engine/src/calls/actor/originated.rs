//! Calls the engine placed itself ([`crate::calls::originate`]): the first
//! leg (leg A) is a phone we called and that answered. The actor takes it
//! over already answered, with a media session on it, and starts the
//! application that connects it onwards; from then on it is an ordinary
//! application call.

use super::app::AppState;
use super::media_plane::MediaPlane;
use super::{open, Opening, State};
use crate::base::context::now_ms;
use crate::base::events::Event;
use crate::calls::control::CallControl;
use crate::calls::originate::{self, PlacedLeg};
use crate::calls::Side;
use media::negotiate;
use media::session::MediaSession;
use sip::transaction::TxId;
use std::sync::Arc;

/// The server transaction of a leg we placed: there is none, and nothing is
/// ever answered on it (the leg is answered before the actor sees it).
const NO_SERVER_TX: TxId = TxId(u64::MAX);

/// Hands an answered leg to a new call actor running the originate
/// application; returns the call's id. The leg's dialog is registered
/// before our ACK goes out, so the phone's first in-dialog request (an
/// early BYE) finds the call.
pub(crate) fn spawn_originated(
    ctx: Arc<crate::base::context::Ctx>,
    leg: PlacedLeg,
    start: u64,
) -> u64 {
    let app = originate::app_for(&leg);
    let PlacedLeg {
        invite,
        dialog,
        answer,
        pair,
        ack,
        extension,
        number,
        then: _,
        webrtc,
        ep,
        gateway,
    } = leg;
    let peer = dialog.peer;
    // A party reached through a gateway is the agent's call out to it.
    let (caller, callee, direction) = match gateway {
        Some(_) => (number, extension, "outbound"),
        None => (extension, number, "internal"),
    };
    let mut call = open(
        Arc::clone(&ctx),
        Opening {
            a_ep: ep.clone(),
            a_tx: NO_SERVER_TX,
            invite,
            a_call_id: dialog.call_id.clone(),
            a_dialog: dialog,
            caller,
            caller_name: String::new(),
            callee,
            direction,
        },
    );
    call.a_gateway = gateway;
    ep.send_stateless(ack, peer);
    // The call began when the first phone started ringing.
    call.start_ms = start;
    call.answer_ms = Some(now_ms());
    call.a_acked = true;
    call.state = State::Answered;
    let a_port = pair.port;
    let mut session = MediaSession::start(
        &ctx.media_rt,
        pair,
        None,
        ctx.session_stats.clone(),
        ctx.relay_stats.clone(),
        call.media_sink(),
    );
    let format = answer.as_ref().and_then(|sdp| {
        negotiate::audio_section(sdp).and_then(|(_, m)| negotiate::accepted(m, &call.prefs()))
    });
    if let Some(f) = format {
        session.set_format(Side::A, f);
        call.formats[0] = Some(f);
        if f.te_pt.is_none() {
            session.detect_inband(Side::A, true);
        }
    }
    if let Some(remote) = answer.as_ref().and_then(|o| call.remote_of(Side::A, o)) {
        session.set_remote(Side::A, remote);
    }
    call.media = MediaPlane::Session(session);
    if webrtc.is_some() {
        // A browser: its media goes through its WebRTC endpoint.
        call.webrtc.borrow_mut()[Side::A as usize] = webrtc;
        call.attach_webrtc();
    }
    call.app = Some(AppState::default());
    let (id, answered) = (call.id, call.answer_ms);
    call.update_info(|i| {
        i.a_rtp_port = a_port;
        i.state = State::Answered.label();
        i.start_at = start;
        i.answer_at = answered;
        i.app = Some(app.name());
    });
    ctx.events.publish(|| Event::CallAnswered { id });
    let control = CallControl::new(id, call.me.clone());
    ctx.apps.launch(app, control, Arc::clone(&ctx));
    tokio::spawn(call.run());
    id
}
