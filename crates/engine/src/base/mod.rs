//! The base layer: what every other layer is built on. It names nothing
//! above it, with one exception, [`context::Ctx`], described below.
//!
//! - [`config`]: the settings file, checked at start;
//! - [`context`]: `Ctx`, the handle every task holds: the configuration, the
//!   two SIP endpoints, the tables below, the media runtime and its ports,
//!   the database, counters and events;
//! - [`registrar`] (the bindings of registered phones) and [`directory`] (the
//!   extensions): tables the SIP edge writes and every layer reads;
//! - [`acl`]: networks, as the trunk access list is written;
//! - [`metrics`], [`events`]: counters and the live event bus;
//! - [`sounds`]: the built-in prompt files.
//!
//! May use: the other crates of the workspace (`sip`, `media`, `store`, the
//! pure call-center logic in `callcenter`), and nothing of the engine.
//! `Ctx` is the exception: it also holds the calls layer's shared tables
//! (the live calls and the dialog table) and the ports through which calls
//! reach the layers above them without naming them.

pub mod acl;
pub mod callcenter_settings;
pub mod config;
pub mod context;
pub mod directory;
pub mod events;
pub mod metrics;
pub mod registrar;
pub mod sounds;
