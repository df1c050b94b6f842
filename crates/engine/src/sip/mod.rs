//! The SIP edge.

pub mod auth_guard;
pub mod keepalive;
pub mod mwi;
pub mod profile;
pub mod voice_lists;
