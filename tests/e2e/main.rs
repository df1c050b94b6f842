//! End-to-end tests: the real `switchboard` binary on loopback, driven by SIPp
//! (tests/scenarios/) and by a small in-repo user agent (ua.rs). Every test starts
//! its own server on free ports, so they run in parallel. Logs and SIPp traces land
//! in tests/artifacts/ (git-ignored); a failing test prints the server log's tail.

mod harness;
mod sipp;
mod ua;

mod apps;
mod calls;
mod gateways;
mod gateways_admin;
mod media;
mod negotiation;
mod pacer;
mod postgres;
mod queues;
mod registrar;
mod reports;
mod robustness;
mod routing;
mod security;
mod security_cdr;
mod security_media;
mod security_tcp;
mod security_web;
mod softphones;
mod tls;
mod transfer;
mod voice;
mod wallboard;
mod web;
mod web_api;
mod web_callcenter;
mod web_client;
mod web_voice;
mod webrtc;
mod websocket;
