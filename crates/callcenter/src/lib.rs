//! The pure call-center logic of Switchboard, with no I/O: no tokio, no
//! sqlx, no SIP. Everything here takes the time as an argument and returns
//! decisions, so its tests run in seconds and never sleep; the engine
//! carries the decisions out on real calls.
//!
//! - [`acd`]: queues, agents and tiers (FreeSWITCH mod_callcenter semantics);
//! - [`routing`]: the routing table and its rule matcher, schedules, holidays;
//! - [`ivr`]: the IVR menu model, its validation and the walk of one caller
//!   through the menus;
//! - [`collect`]: how digits are collected (play-and-get-digits settings);
//! - [`gateway`]: SIP gateways (trunks): their definition and validation,
//!   and the registration client and OPTIONS pinger that keep them up;
//! - [`crm`]: the CRM's rules: phone number normalisation for the screen
//!   pop's lookup, the closed value sets of the contact and customer forms,
//!   field checks;
//! - [`pacer`]: the predictive dialer's pacing within the abandon cap, the
//!   outbound compliance rules, and a simulator of a campaign.
//!
//! Nothing in this
//! crate may depend on the engine, the store or the SIP stack (a test in the
//! engine checks it).

pub mod acd;
pub mod campaign;
pub mod collect;
pub mod crm;
pub mod erlang;
pub mod gateway;
pub mod ivr;
pub mod kb;
pub mod pacer;
pub mod routing;
pub mod tickets;
