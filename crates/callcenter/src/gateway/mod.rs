//! SIP gateways (trunks, manual 3.2.6): their definition and validation.

pub mod config;
