//! The calls layer. Every call is one actor task (the private `actor`
//! module) owning its legs, dialogs and media. The SIP edge starts calls
//! ([`spawn`]) and hands them the requests of their dialogs as [`CallMsg`];
//! applications drive them through the call-control API ([`control`]).
//! Also here: calls the engine places itself ([`originate`]), the dialplan
//! router ([`router`]), the INVITE towards a gateway (`trunk_invite`),
//! the dialog table in-dialog requests are checked
//! against ([`dialogs`]), the CDR writer ([`cdr`]), and the ports through
//! which calls reach the layers above them ([`ports`]).
//!
//! May use: the base layer, and nothing above it. What a call needs from
//! the applications, the queue service or the media library it asks
//! through [`ports`], which those layers implement and the server plugs
//! into `Ctx`.

mod actor;
pub mod cdr;
pub mod control;
pub mod dialogs;
pub mod originate;
mod outcome;
pub mod ports;
pub mod router;
mod trunk_invite;

pub use actor::{spawn, NewCall};
pub use outcome::{best_failure, HangupCause};

use serde::Serialize;
use sip::endpoint::ClientEvent;
use sip::transaction::TxId;
use sip::Peer;

/// Which leg: A is the caller's, B the callee's (the relay's sides are the legs).
pub use media::relay::Side;

/// What a call actor is told.
#[derive(Debug)]
pub enum CallMsg {
    /// An event of one of the call's client transactions (`token` says which).
    Client {
        /// Which request of ours this is about.
        token: u64,
        /// What happened.
        ev: ClientEvent,
    },
    /// An in-dialog request from one of the legs.
    Request {
        /// Which leg sent it.
        side: Side,
        /// Server transaction to answer on.
        tx: TxId,
        /// The request.
        request: rsip::Request,
        /// Its source.
        from: Peer,
    },
    /// ACK for a 2xx we sent.
    Ack {
        /// Which leg.
        side: Side,
        /// The ACK.
        request: rsip::Request,
    },
    /// The caller CANCELled (the CANCEL itself was already answered).
    Cancel,
    /// The server is stopping: end the call now.
    Shutdown,
    /// A command from the application driving the call.
    Control(control::Command),
    /// An event of the call's media session.
    Media(media::session::MediaEvent),
}

/// A live call as shown by the API.
#[derive(Clone, Debug, Serialize)]
pub struct CallInfo {
    /// Engine call id.
    pub id: u64,
    /// SIP Call-ID of the caller's leg (the CDR's key).
    pub call_id: String,
    /// Calling extension or number.
    pub caller: String,
    /// Dialled number.
    pub callee: String,
    /// internal / inbound.
    pub direction: &'static str,
    /// routing / ringing / answered / ending.
    pub state: &'static str,
    /// Relay port facing the caller.
    pub a_rtp_port: u16,
    /// Relay port facing the callee.
    pub b_rtp_port: u16,
    /// Who is connected on leg B (extension or agent), once connected.
    pub b_party: Option<String>,
    /// Unix ms when the call started.
    pub start_at: u64,
    /// Unix ms when answered.
    pub answer_at: Option<u64>,
    /// The application answering the call, if any ("echo", "readback", ...).
    pub app: Option<&'static str>,
    /// DTMF keys received so far (RFC 4733, in-band or SIP INFO).
    pub digits: String,
    /// The application's latest note.
    pub note: String,
    /// The live call this one is joined to and how (listen, whisper,
    /// barge, consult): a supervisor's or a desk-invited party's call.
    pub joined: Option<(u64, &'static str)>,
}
