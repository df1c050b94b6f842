//! Switchboard's SIP stack.
//!
//! Messages are `rsip` types ([`message`] has the helpers, [`parse`] the safe
//! parser, [`contact`] the exact Contact parser). The transaction layer
//! ([`transaction`]) and digest authentication ([`auth`]) are sans-IO cores:
//! they take `now` as an argument and return what to send, so they are tested
//! with a virtual clock. The tokio driver ([`endpoint`])
//! owns the sockets ([`transport`]) and the clock.

pub mod auth;
pub mod contact;
pub mod dialog;
pub mod endpoint;
mod fastparse;
pub mod message;
pub mod parse;
pub mod peer;
pub mod transaction;
pub mod transport;

pub use peer::{Peer, Transmit, TransportKind};
