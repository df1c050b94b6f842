//! The Switchboard engine: a SIP registrar and B2BUA with anchored media.
//!
//! It is built in layers, each a folder whose `mod.rs` says what it owns and
//! what it may use. A layer names only itself and the layers below it; the
//! test `tests/layering.rs` reads the sources and fails on a file that names
//! a layer above its own. Bottom first:
//!
//! - [`base`]: configuration, `Ctx`, the registrar and directory, the
//!   call-center settings in force, metrics and events;
//! - [`calls`]: the call actors, the call-control API, the router, the
//!   dialog table, CDRs, and the ports calls reach the layers above through;
//! - [`sip`]: the SIP edge: the profiles' dispatchers, auth guard,
//!   keep-alive, message waiting, the trunk's voice lists;
//! - [`services`]: the queue service, the settings service, the media
//!   library, click-to-dial;
//! - [`apps`]: the applications that answer calls;
//! - [`server`]: starts and stops it all.
//!
//! The pure call-center logic (ACD, routing rules, IVR model) is the
//! `callcenter` crate, which the engine re-exports as [`acd`] and [`routing`].

pub mod apps;
pub mod base;
pub mod calls;
pub mod server;
pub mod services;
pub mod sip;

// The flat layout's paths, which the web crate, the binary, the tests and
// the benches name.
pub use base::{config, directory, metrics, sounds};
pub use callcenter::{acd, routing};
pub use calls::router;
pub use services::{callcenter_settings, click_to_dial, media_library};
pub use sip::voice_lists;

pub use config::Config;
pub use server::Engine;
