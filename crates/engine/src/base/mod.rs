//! The base layer: what every other layer is built on.
//!
//! - [`config`]: the settings file, checked at start;
//! - [`callcenter_settings`]: the call-center settings in force (queues,
//!   agents, tiers, IVR menus, routing rules), which calls route and queue
//!   with; the settings service above changes them;
//! - [`context`]: `Ctx`, the handle every task holds;
//! - [`registrar`] (the bindings of registered phones) and [`directory`]
//!   (the extensions): tables the SIP edge fills and every layer reads;
//! - [`trunks`]: the gateways in force, their status and call counts,
//!   which the SIP edge's registration client fills and calls dial out by;
//! - [`toll_guard`]: which numbers may be dialled out, how many calls out
//!   at once, and the alarm on unusual outbound traffic;
//! - [`acl`]: networks, as the trunk access list is written;
//! - [`metrics`], [`events`]: counters and the live event bus;
//! - [`sounds`]: the built-in prompt files.
//!
//! May use: the other crates of the workspace (`sip`, `media`, `store`, and
//! the pure call-center logic in `callcenter`), and nothing of the engine
//! above it, with one exception: `Ctx` also carries the calls layer's
//! shared tables (the live calls, the dialog table) and the ports through
//! which calls reach the layers above them, so `context.rs` names `calls`.

pub mod acl;
pub mod callcenter_settings;
pub mod config;
pub mod context;
pub mod directory;
pub mod events;
pub mod metrics;
pub mod registrar;
pub mod sounds;
pub mod toll_guard;
pub mod trunks;
