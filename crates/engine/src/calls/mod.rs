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

impl CallInfo {
    /// Whether `number` is one of this call's parties (its caller, the
    /// number called or the party connected on leg B).
    pub fn has_party(&self, number: &str) -> bool {
        self.caller == number || self.callee == number || self.b_party.as_deref() == Some(number)
    }

    /// The agent on this call when no one names it: the caller of a call
    /// the engine placed for an agent (click-to-dial: the agent's phone is
    /// leg A), else the party connected on leg B (a queue's agent, the
    /// extension called), else the number called.
    pub fn default_agent(&self) -> String {
        if self.app == Some("originate") {
            return self.caller.clone();
        }
        self.b_party.clone().unwrap_or_else(|| self.callee.clone())
    }

    /// The leg `agent` is on: A when it is the caller (a call the agent
    /// placed) and not also leg B's party, else B.
    pub fn side_of(&self, agent: &str) -> Side {
        if self.caller == agent && self.b_party.as_deref() != Some(agent) {
            Side::A
        } else {
            Side::B
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        caller: &str,
        callee: &str,
        b_party: Option<&str>,
        app: Option<&'static str>,
    ) -> CallInfo {
        CallInfo {
            id: 1,
            call_id: "c".into(),
            caller: caller.into(),
            callee: callee.into(),
            direction: "internal",
            state: "answered",
            a_rtp_port: 0,
            b_rtp_port: 0,
            b_party: b_party.map(str::to_string),
            start_at: 0,
            answer_at: Some(1),
            app,
            digits: String::new(),
            note: String::new(),
            joined: None,
        }
    }

    #[test]
    fn the_agent_of_a_click_to_dial_is_its_caller_on_leg_a() {
        let c = info("1003", "0555", Some("0555"), Some("originate"));
        assert_eq!(c.default_agent(), "1003");
        assert_eq!(c.side_of("1003"), Side::A);
        assert_eq!(c.side_of("0555"), Side::B);
        assert!(c.has_party("1003") && c.has_party("0555") && !c.has_party("1004"));
    }

    #[test]
    fn the_agent_of_a_queue_or_direct_call_is_the_called_party_on_leg_b() {
        let queue = info("1002", "9400", Some("1003"), Some("queue"));
        assert_eq!(queue.default_agent(), "1003");
        assert_eq!(queue.side_of("1003"), Side::B);
        assert_eq!(queue.side_of("1002"), Side::A);
        let direct = info("1001", "1002", Some("1002"), None);
        assert_eq!(direct.default_agent(), "1002");
        let ringing = info("1001", "1002", None, None);
        assert_eq!(ringing.default_agent(), "1002");
        // An extension calling itself (a pickup, a loop) is the called party.
        let same = info("1002", "1002", Some("1002"), None);
        assert_eq!(same.side_of("1002"), Side::B);
    }
}
