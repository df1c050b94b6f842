//! The Switchboard engine: a SIP registrar and B2BUA with anchored media.
//!
//! Layout: [`profile`] dispatches each profile's requests; [`registrar`] keeps
//! bindings; [`calls`] holds the per-call actors; [`router`] decides where a
//! number goes; [`cdr`] writes call records; [`server`] starts and stops it all.

pub mod base;

pub use base::{acl, config, context, directory, events, metrics, registrar, sounds};
pub use callcenter::acd;
pub use calls::{cdr, dialogs, router};
pub mod sip;
pub use sip::{auth_guard, keepalive, mwi, profile, voice_lists};
pub mod services;
pub use services::{callcenter_settings, click_to_dial, media_library, queues, queues_store};
pub mod apps;
pub mod calls;
pub use callcenter::routing;
pub mod server;

pub use config::Config;
pub use server::Engine;
