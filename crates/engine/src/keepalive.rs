//! Keep-alive OPTIONS to registered phones (RFC 3261 §11; FreeSWITCH's
//! `all-reg-options-ping`): every `sip.ping_secs` each registered contact
//! is sent an OPTIONS from the address it registered from. The answer
//! keeps NAT bindings open and tells the "registered extensions" page
//! whether the phone is reachable and how long it took to answer.

use crate::context::{now_ms, Ctx};
use dashmap::DashMap;
use serde::Serialize;
use sip::dialog::Dialog;
use sip::endpoint::ClientEvent;
use sip::message;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the last pings of one contact said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PingState {
    /// Round-trip time of the last answered ping.
    pub rtt_ms: Option<u32>,
    /// Whether the last ping was answered (any response counts: the phone
    /// is there, even if it refuses OPTIONS).
    pub reachable: bool,
    /// Unix ms of the last answer or timeout.
    pub at: u64,
}

/// Ping results by contact URI.
#[derive(Default)]
pub struct Reachability {
    by_contact: DashMap<String, PingState>,
}

impl Reachability {
    /// The last result for `contact`, if it was pinged.
    pub fn get(&self, contact: &str) -> Option<PingState> {
        self.by_contact.get(contact).map(|s| *s)
    }

    fn record(&self, contact: &str, state: PingState) {
        self.by_contact.insert(contact.to_string(), state);
    }

    /// Forgets contacts that are no longer registered.
    fn retain(&self, live: &std::collections::HashSet<String>) {
        self.by_contact.retain(|c, _| live.contains(c));
    }
}

/// One registered contact as the "registered extensions" page shows it
/// (manual 3.2.7: user, agent, status, ping-time, host, network-ip).
#[derive(Clone, Debug, Serialize)]
pub struct Registered {
    /// Extension.
    pub user: String,
    /// The phone's User-Agent.
    pub agent: String,
    /// `Reachable`, `Unreachable`, or `Registered` (not pinged yet, or
    /// pinging is off).
    pub status: &'static str,
    /// Round-trip time of the last answered ping, milliseconds.
    pub ping_ms: Option<u32>,
    /// The Contact URI.
    pub contact: String,
    /// The Contact's header parameters as the phone sent them (`expires`
    /// left out), e.g. `;+sip.instance="<urn:uuid:...>";reg-id=1`.
    pub params: String,
    /// The host of the Contact URI (what the phone believes its address is).
    pub host: String,
    /// Where the registration really came from (address:port).
    pub network_ip: String,
    /// Seconds until the registration lapses.
    pub expires_in: u64,
}

/// Every registered contact, by extension then contact.
pub fn registered(ctx: &Ctx) -> Vec<Registered> {
    let now = now_ms();
    let mut out = Vec::new();
    for (user, bindings) in ctx.registrar.all() {
        for b in bindings {
            let ping = ctx.reachability.get(&b.contact);
            let host = rsip::Uri::try_from(b.contact.as_str())
                .map(|u| u.host_with_port.host.to_string())
                .unwrap_or_default();
            out.push(Registered {
                user: user.clone(),
                agent: b.user_agent.clone(),
                status: match ping {
                    Some(p) if p.reachable => "Reachable",
                    Some(_) => "Unreachable",
                    None => "Registered",
                },
                ping_ms: ping.and_then(|p| p.rtt_ms),
                contact: b.contact.clone(),
                params: b.params.clone(),
                host,
                network_ip: b.source.addr.to_string(),
                expires_in: b.expires_at.saturating_sub(now) / 1000,
            });
        }
    }
    out.sort_by(|a, b| (&a.user, &a.contact).cmp(&(&b.user, &b.contact)));
    out
}

/// Pings every registered contact every `sip.ping_secs` (0: never).
pub async fn run(ctx: Arc<Ctx>) {
    let secs = ctx.cfg.sip.ping_secs;
    if secs == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut live = std::collections::HashSet::new();
        for (user, bindings) in ctx.registrar.all() {
            for b in bindings {
                live.insert(b.contact.clone());
                ping(&ctx, &user, &b);
            }
        }
        ctx.reachability.retain(&live);
    }
}

fn ping(ctx: &Arc<Ctx>, user: &str, b: &crate::registrar::Binding) {
    let Ok(target) = rsip::Uri::try_from(b.contact.as_str()) else {
        return;
    };
    let host = ctx.host();
    let mut dialog = Dialog {
        call_id: message::new_call_id(),
        local_tag: message::new_tag(),
        remote_tag: None,
        local_uri: format!("<sip:ping@{host}>"),
        remote_uri: format!("<sip:{user}@{host}>"),
        remote_target: target,
        route_set: Vec::new(),
        local_cseq: 0,
        remote_cseq: 0,
        peer: b.source,
    };
    let ep = &ctx.internal;
    let via = ctx.sent_by(ep);
    let contact = ctx.contact(ep, "ping");
    let req = dialog.request(rsip::Method::Options, &via, &contact);
    let sent = Instant::now();
    let key = b.contact.clone();
    let ctx2 = Arc::clone(ctx);
    ep.send_request(
        req,
        b.source,
        Arc::new(move |ev| {
            let state = match ev {
                ClientEvent::Response(_, r) if r.status_code.code() >= 200 => PingState {
                    rtt_ms: Some(u32::try_from(sent.elapsed().as_millis()).unwrap_or(u32::MAX)),
                    reachable: true,
                    at: now_ms(),
                },
                ClientEvent::Timeout(_) => PingState {
                    rtt_ms: ctx2.reachability.get(&key).and_then(|p| p.rtt_ms),
                    reachable: false,
                    at: now_ms(),
                },
                _ => return,
            };
            ctx2.reachability.record(&key, state);
        }),
    );
}
