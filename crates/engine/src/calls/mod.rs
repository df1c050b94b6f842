//! Calls: every call is one actor task ([`actor`]) owning its legs, dialogs and
//! media relay. The profile dispatchers talk to it through [`CallMsg`].

pub mod actor;
pub mod cdr;
pub mod control;
pub mod dialogs;
pub mod originate;
mod outcome;
pub mod ports;
pub mod router;

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
}
