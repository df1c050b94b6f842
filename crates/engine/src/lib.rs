//! The Switchboard engine: a SIP registrar and B2BUA with anchored media.
//!
//! Layout: [`profile`] dispatches each profile's requests; [`registrar`] keeps
//! bindings; [`calls`] holds the per-call actors; [`router`] decides where a
//! number goes; [`cdr`] writes call records; [`server`] starts and stops it all.

pub use callcenter::acd;
pub mod acl;
pub mod apps;
pub mod auth_guard;
pub mod callcenter_settings;
pub mod calls;
pub mod cdr;
pub mod click_to_dial;
pub mod config;
pub mod context;
pub mod dialogs;
pub mod directory;
pub mod events;
pub mod keepalive;
pub mod media_library;
pub mod metrics;
pub mod mwi;
pub mod profile;
pub mod queues;
pub mod queues_store;
pub mod registrar;
pub mod router;
pub use callcenter::routing;
pub mod server;
pub mod sounds;
pub mod voice_lists;

pub use config::Config;
pub use server::Engine;
