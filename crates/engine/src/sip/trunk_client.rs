//! The gateways' registration client: one task drives every gateway's
//! REGISTERs and OPTIONS pings (the sans-IO state machines of
//! `callcenter::gateway`), sends them from the trunk profile, answers the
//! carrier's digest challenges, and keeps what it finds in the base
//! layer's trunk table (`Ctx::trunks`) for calls, the status page and
//! `/metrics`.
//!
//! The gateways come from the database and are read again whenever their
//! settings change (the server's settings watch calls [`TrunkClient::reload`]):
//! a new gateway registers, a changed one unregisters its old binding and
//! registers anew, a removed or disabled one unregisters.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use callcenter::gateway::config::{parse_host_port, Gateway, Mode, Transport};
use callcenter::gateway::{
    Challenge, ChallengeToAnswer, GatewayAction, GatewayClient, GatewayConfig, PingConfig, PingId,
    RegAction, RegConfig, RegResponse, RegState, RequestId,
};
use rsip::message::HasHeaders;
use rsip::prelude::UntypedHeader;
use rsip::{Header, Method};
use sip::dialog::Dialog;
use sip::endpoint::ClientEvent;
use sip::message;
use tokio::sync::mpsc;

use crate::base::context::Ctx;
use crate::base::trunks::{default_port, describe, gateway_peer, gateway_transport, Trunk};

/// What the running client is asked to do.
#[derive(Debug)]
enum Order {
    /// The gateways' settings changed: read them again.
    Reload,
    /// The server stops: unregister every gateway, then say so.
    Stop(tokio::sync::oneshot::Sender<()>),
}

/// Handle to the running client.
#[derive(Clone, Debug)]
pub struct TrunkClient {
    orders: mpsc::UnboundedSender<Order>,
}

impl TrunkClient {
    /// Starts the client task; it loads the gateways at once.
    pub fn start(ctx: Arc<Ctx>) -> TrunkClient {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(ctx, rx));
        let _ = tx.send(Order::Reload);
        TrunkClient { orders: tx }
    }

    /// The gateways' settings changed: read them again.
    pub fn reload(&self) {
        let _ = self.orders.send(Order::Reload);
    }

    /// Unregisters every registered gateway (REGISTER with Expires 0, as
    /// mod_sofia does when it stops), waiting at most `within` for the
    /// carriers' answers.
    pub async fn stop(&self, within: Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.orders.send(Order::Stop(tx)).is_ok() {
            let _ = tokio::time::timeout(within, rx).await;
        }
    }
}

/// What a transaction of ours was for.
#[derive(Clone, Copy, Debug)]
enum Sent {
    Register(RequestId),
    Ping(PingId),
}

/// An answer (or its absence) to one of our requests.
struct Heard {
    key: u64,
    sent: Sent,
    event: ClientEvent,
}

/// One gateway's client and the SIP state of its registration.
struct Entry {
    /// Identity of this entry (a changed gateway gets a new one), so that
    /// answers to an old entry's requests are not applied to a new one.
    key: u64,
    trunk: Arc<Trunk>,
    client: GatewayClient,
    /// The registration's dialog-like state: Call-ID, From tag, CSeq,
    /// R-URI and where it goes (RFC 3261 §10.2: one Call-ID for all
    /// REGISTERs of a binding).
    reg: Dialog,
    /// Nonce counts per nonce we answered (`nc`).
    nonce_counts: HashMap<String, u32>,
    /// Being removed: dropped once DOWN.
    leaving: bool,
}

async fn run(ctx: Arc<Ctx>, mut orders: mpsc::UnboundedReceiver<Order>) {
    let (heard_tx, mut heard_rx) = mpsc::unbounded_channel::<Heard>();
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut leaving: Vec<Entry> = Vec::new();
    let mut next_key = 1u64;
    // Names are resolved again now and then: every minute while one does
    // not resolve, and every ten minutes anyway (a carrier's address may
    // change; an unchanged gateway keeps its registration).
    let mut recheck = tokio::time::interval(Duration::from_secs(60));
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_load = Instant::now();
    let mut stopping: Option<tokio::sync::oneshot::Sender<()>> = None;
    loop {
        let wake = entries
            .values()
            .chain(leaving.iter())
            .filter_map(|e| e.client.next_wakeup())
            .min();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            order = orders.recv() => match order {
                None => return,
                Some(Order::Reload) if stopping.is_none() => {
                    // Several changes in a row: one reload.
                    while let Ok(Order::Reload) = orders.try_recv() {}
                    load(&ctx, &mut entries, &mut leaving, &mut next_key).await;
                    last_load = Instant::now();
                }
                Some(Order::Reload) => {}
                Some(Order::Stop(done)) => {
                    let now = Instant::now();
                    for (_, mut e) in entries.drain() {
                        e.client.unregister(now);
                        e.leaving = true;
                        leaving.push(e);
                    }
                    tracing::info!("unregistering {} gateways", leaving.len());
                    stopping = Some(done);
                }
            },
            h = heard_rx.recv() => {
                let Some(h) = h else { return };
                let now = Instant::now();
                let entry = entries
                    .values_mut()
                    .chain(leaving.iter_mut())
                    .find(|e| e.key == h.key);
                if let Some(e) = entry {
                    e.on_heard(&ctx, now, h.sent, h.event);
                }
            }
            _ = recheck.tick() => {
                let unresolved = entries.values().any(|e| {
                    e.trunk.def.enabled
                        && (e.trunk.outbound.is_none()
                            || (e.trunk.def.registers() && e.trunk.registrar.is_none()))
                });
                if unresolved || last_load.elapsed() >= Duration::from_secs(600) {
                    load(&ctx, &mut entries, &mut leaving, &mut next_key).await;
                    last_load = Instant::now();
                }
            }
            _ = sleep => {}
        }
        let now = Instant::now();
        for e in entries.values_mut().chain(leaving.iter_mut()) {
            e.drive(&ctx, now, &heard_tx);
        }
        leaving.retain(|e| e.client.status().reg.state != RegState::Down);
        if leaving.is_empty() {
            if let Some(done) = stopping.take() {
                let _ = done.send(());
                return;
            }
        }
        for e in entries.values() {
            e.publish(now);
        }
    }
}

/// Reads the gateways and brings `entries` in line with them.
async fn load(
    ctx: &Arc<Ctx>,
    entries: &mut HashMap<String, Entry>,
    leaving: &mut Vec<Entry>,
    next_key: &mut u64,
) {
    let defs = match ctx.store.list_gateways().await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("gateways not reloaded: {e}");
            return;
        }
    };
    let resolved = resolve_all(ctx, &defs).await;
    let now = Instant::now();
    let mut trunks = Vec::with_capacity(defs.len());
    for def in &defs {
        let port = default_port(def);
        let outbound = resolved
            .get(&(def.outbound_target(), port))
            .copied()
            .flatten();
        let registrar = resolved
            .get(&(def.register_target(), port))
            .copied()
            .flatten();
        let was_resolved = entries
            .get(&def.name)
            .is_none_or(|e| e.trunk.outbound.is_some());
        if outbound.is_none() && was_resolved {
            tracing::warn!(
                "gateway {}: {} does not resolve; it carries no calls until it does \
                 (tried again every minute)",
                def.name,
                def.outbound_target()
            );
        }
        trunks.push(Trunk::new(def.clone(), outbound, registrar));
    }
    // The table first (an unchanged gateway keeps its entry there, with its
    // status and calls); each client then drives the table's entry.
    ctx.trunks.replace(trunks);
    let mut next: HashMap<String, Entry> = HashMap::new();
    for def in defs {
        let Some(trunk) = ctx.trunks.get(&def.name) else {
            continue;
        };
        let kept = entries.remove(&def.name).filter(|e| {
            e.trunk.def == def
                && e.trunk.outbound == trunk.outbound
                && e.trunk.registrar == trunk.registrar
        });
        let entry = match kept {
            Some(mut e) => {
                e.trunk = trunk;
                e
            }
            None => {
                let key = *next_key;
                *next_key += 1;
                Entry::new(ctx, key, trunk, now)
            }
        };
        next.insert(def.name, entry);
    }
    // Gone or changed: remove the old binding first (REGISTER Expires 0).
    for (_, mut old) in entries.drain() {
        tracing::info!(
            "gateway {}: removed or changed, unregistering",
            old.trunk.def.name
        );
        old.client.unregister(now);
        old.leaving = true;
        leaving.push(old);
    }
    *entries = next;
    tracing::debug!("{} gateways loaded", entries.len());
}

/// Every gateway's INVITE and REGISTER targets resolved at once (a slow or
/// dead DNS server costs one timeout, not one per gateway), by target and
/// the port it means without one (5061 for TLS, else 5060).
async fn resolve_all(ctx: &Ctx, defs: &[Gateway]) -> HashMap<(String, u16), Option<SocketAddr>> {
    let mut targets: Vec<(String, u16)> = defs
        .iter()
        .flat_map(|d| {
            let port = default_port(d);
            [(d.outbound_target(), port), (d.register_target(), port)]
        })
        .collect();
    targets.sort();
    targets.dedup();
    let mut set = tokio::task::JoinSet::new();
    for (t, port) in targets {
        set.spawn(async move {
            let addr = resolve(&t, port).await;
            ((t, port), addr)
        });
    }
    let mut out = HashMap::new();
    while let Some(done) = set.join_next().await {
        if let Ok((t, addr)) = done {
            out.insert(t, addr);
        }
    }
    // Over TLS, the host name is what the gateway's certificate must prove
    // (given as an IP address, the certificate must name that address).
    for d in defs.iter().filter(|d| d.transport == Transport::Tls) {
        for t in [d.outbound_target(), d.register_target()] {
            let Some(Some(addr)) = out.get(&(t.clone(), default_port(d))) else {
                continue;
            };
            let Some((host, _)) = split_target(&t) else {
                continue;
            };
            if host.parse::<std::net::IpAddr>().is_err() {
                if let Err(e) = ctx.external.set_tls_name(*addr, &host) {
                    tracing::warn!("gateway {}: {e}", d.name);
                }
            }
        }
    }
    out
}

/// `HOST[:PORT]` as the host (IPv6 without brackets) and the port if given.
fn split_target(target: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = parse_host_port(target).ok()?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Some((host, port))
}

/// `HOST[:PORT]` (`default_port` when none is given) as a socket address.
async fn resolve(target: &str, default_port: u16) -> Option<SocketAddr> {
    let (host, port) = split_target(target)?;
    let port = port.unwrap_or(default_port);
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let lookup = tokio::net::lookup_host(format!("{host}:{port}"));
    match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(Ok(mut addrs)) => addrs.next(),
        _ => None,
    }
}

/// The state machines' settings of a gateway.
fn client_config(def: &Gateway) -> GatewayConfig {
    GatewayConfig {
        reg: RegConfig {
            register: def.registers(),
            expire_secs: def.expire_secs,
            retry_secs: def.retry_secs,
            ..RegConfig::default()
        },
        ping: PingConfig::every(if def.enabled { def.ping_secs } else { 0 }),
    }
}

impl Entry {
    fn new(ctx: &Ctx, key: u64, trunk: Arc<Trunk>, now: Instant) -> Entry {
        let def = &trunk.def;
        let registrar = trunk.registrar;
        let (aor, domain) = identity(def);
        let peer = gateway_peer(
            def,
            registrar.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        );
        let reg = Dialog {
            call_id: message::new_call_id(),
            local_tag: message::new_tag(),
            remote_tag: None,
            local_uri: format!("<{aor}>"),
            remote_uri: format!("<{aor}>"),
            remote_target: rsip::Uri::try_from(format!("sip:{domain}").as_str())
                .unwrap_or_else(|_| ctx_uri(ctx)),
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer,
        };
        let mut client = GatewayClient::new(client_config(def), now);
        if !def.enabled {
            // Known but off: it neither registers nor pings.
            client.unregister(now);
        }
        Entry {
            key,
            trunk,
            client,
            reg,
            nonce_counts: HashMap::new(),
            leaving: false,
        }
    }

    /// Sends what the state machine wants sent now.
    fn drive(&mut self, ctx: &Ctx, now: Instant, heard: &mpsc::UnboundedSender<Heard>) {
        // Bounded: the machine asks for at most a REGISTER and a ping at once.
        for _ in 0..4 {
            let Some(action) = self.client.poll(now) else {
                break;
            };
            match action {
                GatewayAction::Reg(a) => self.send_register(ctx, &a, heard),
                GatewayAction::Ping(id) => self.send_ping(ctx, id, now, heard),
            }
        }
    }

    fn send_register(
        &mut self,
        ctx: &Ctx,
        action: &RegAction,
        heard: &mpsc::UnboundedSender<Heard>,
    ) {
        let id = action.id();
        let expires = match action {
            RegAction::Register { expires, .. } => *expires,
            RegAction::Unregister { .. } => 0,
        };
        let Some(to) = self.trunk.registrar else {
            self.client.on_reg_transport_error(
                Instant::now(),
                id,
                "the registrar does not resolve",
            );
            return;
        };
        self.reg.peer = gateway_peer(&self.trunk.def, to);
        let ep = &ctx.external;
        let transport = gateway_transport(&self.trunk.def);
        let via = ctx.sent_by_on(ep, transport);
        let contact = ctx.contact_on(ep, &contact_user(&self.trunk.def), transport);
        let mut req = self.reg.request(Method::Register, &via, &contact);
        req.headers
            .push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{contact}>;expires={expires}"
            ))));
        req.headers
            .push(Header::Expires(rsip::headers::Expires::new(
                expires.to_string(),
            )));
        if self.trunk.def.mode == Mode::Ims {
            req.headers
                .push(Header::Supported(rsip::headers::Supported::new("path")));
        }
        let uri = self.reg.remote_target.to_string();
        for answer in action.answers() {
            self.authorize(&mut req, answer, "REGISTER", &uri);
        }
        self.trunk.update_status(|s| s.registers_sent += 1);
        let key = self.key;
        let tx = heard.clone();
        ep.send_request(
            req,
            gateway_peer(&self.trunk.def, to),
            Arc::new(move |event| {
                if matches!(event, ClientEvent::Sent(_)) {
                    return;
                }
                let _ = tx.send(Heard {
                    key,
                    sent: Sent::Register(id),
                    event,
                });
            }),
        );
    }

    /// Adds the Authorization (or Proxy-Authorization) answering `answer`.
    fn authorize(
        &mut self,
        req: &mut rsip::Request,
        answer: &ChallengeToAnswer,
        method: &str,
        uri: &str,
    ) {
        let Ok(challenge) = sip::auth::Challenge::parse(&answer.header) else {
            return;
        };
        if self.nonce_counts.len() >= 16 && !self.nonce_counts.contains_key(&challenge.nonce) {
            // Old nonces are never answered again.
            self.nonce_counts.clear();
        }
        let nc = {
            let n = self
                .nonce_counts
                .entry(challenge.nonce.clone())
                .or_insert(0);
            *n += 1;
            *n
        };
        let cnonce = format!("{:016x}", fastrand::u64(..));
        let value = sip::auth::answer(
            &challenge,
            self.trunk.def.effective_auth_username(),
            &self.trunk.def.password,
            method,
            uri,
            &cnonce,
            nc,
        );
        req.headers.push(if answer.proxy {
            Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(value))
        } else {
            Header::Authorization(rsip::headers::Authorization::new(value))
        });
    }

    fn send_ping(
        &mut self,
        ctx: &Ctx,
        id: PingId,
        now: Instant,
        heard: &mpsc::UnboundedSender<Heard>,
    ) {
        let Some(to) = self.trunk.outbound else {
            self.client
                .on_ping_transport_error(now, id, "the gateway does not resolve");
            return;
        };
        let (aor, _) = identity(&self.trunk.def);
        let target = format!("sip:{}", self.trunk.def.proxy_target());
        let Ok(remote_target) = rsip::Uri::try_from(target.as_str()) else {
            self.client
                .on_ping_transport_error(now, id, "the gateway's address is not a SIP URI");
            return;
        };
        let mut dialog = Dialog {
            call_id: message::new_call_id(),
            local_tag: message::new_tag(),
            remote_tag: None,
            local_uri: format!("<{aor}>"),
            remote_uri: format!("<{target}>"),
            remote_target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer: gateway_peer(&self.trunk.def, to),
        };
        let ep = &ctx.external;
        let transport = gateway_transport(&self.trunk.def);
        let via = ctx.sent_by_on(ep, transport);
        let contact = ctx.contact_on(ep, &contact_user(&self.trunk.def), transport);
        let req = dialog.request(Method::Options, &via, &contact);
        self.trunk.update_status(|s| s.pings_sent += 1);
        let key = self.key;
        let tx = heard.clone();
        ep.send_request(
            req,
            gateway_peer(&self.trunk.def, to),
            Arc::new(move |event| {
                if matches!(event, ClientEvent::Sent(_)) {
                    return;
                }
                let _ = tx.send(Heard {
                    key,
                    sent: Sent::Ping(id),
                    event,
                });
            }),
        );
    }

    fn on_heard(&mut self, ctx: &Ctx, now: Instant, sent: Sent, event: ClientEvent) {
        let before = self.client.status();
        match (sent, event) {
            (_, ClientEvent::Sent(_)) => return,
            (Sent::Register(id), ClientEvent::Response(_, resp)) => {
                let code = resp.status_code.code();
                if code < 200 {
                    return;
                }
                if (200..300).contains(&code) {
                    self.learn_routes(&resp);
                }
                let r = reg_response(&resp, &contact_user(&self.trunk.def));
                self.client.on_reg_response(now, id, &r);
            }
            (Sent::Register(id), ClientEvent::Timeout(_)) => {
                self.client.on_reg_timeout(now, id);
            }
            (Sent::Ping(id), ClientEvent::Response(_, resp)) => {
                let code = resp.status_code.code();
                if code < 200 {
                    return;
                }
                self.client.on_ping_response(now, id, code);
            }
            (Sent::Ping(id), ClientEvent::Timeout(_)) => {
                self.client.on_ping_timeout(now, id);
            }
        }
        let after = self.client.status();
        if before.reg.state != after.reg.state || before.ping.health != after.ping.health {
            let text = describe(&after);
            let gw = &self.trunk.def.name;
            match after.reg.state {
                RegState::Failed | RegState::FailWait => tracing::warn!("gateway {gw}: {text}"),
                _ => tracing::info!("gateway {gw}: {text}"),
            }
            ctx.metrics
                .gateway_state_changes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// IMS: the Service-Route, Path and P-Associated-URI of a 200 to
    /// REGISTER (RFC 3608, RFC 3327, RFC 3455).
    fn learn_routes(&self, resp: &rsip::Response) {
        let service_route = header_list(resp, "Service-Route");
        let path = header_list(resp, "Path");
        let associated = header_list(resp, "P-Associated-URI");
        self.trunk.update_status(|s| {
            s.service_route = service_route;
            s.path = path;
            s.associated_uris = associated;
        });
    }

    /// Puts the client's status where calls and pages read it.
    fn publish(&self, now: Instant) {
        let status = self.client.status();
        let resolved = self.trunk.outbound.is_some();
        let usable = self.trunk.def.enabled && resolved && self.client.usable(now);
        let why_not = if !self.trunk.def.enabled {
            "disabled".to_string()
        } else if !resolved {
            format!("{} does not resolve", self.trunk.def.outbound_target())
        } else if usable {
            String::new()
        } else {
            describe(&status)
        };
        self.trunk.update_status(|s| {
            if s.client.as_ref() != Some(&status) || s.usable != usable {
                s.changed_at = Some(SystemTime::now());
            }
            s.client = Some(status);
            s.usable = usable;
            s.why_not = why_not;
        });
    }
}

/// A placeholder URI (never sent: only used when the gateway's domain is
/// not a valid URI host, which validation prevents).
fn ctx_uri(ctx: &Ctx) -> rsip::Uri {
    rsip::Uri {
        host_with_port: rsip::HostWithPort::from(ctx.advertise),
        ..Default::default()
    }
}

/// The address of record we register (and call from) and the domain the
/// REGISTER's Request-URI names: UNI `sip:username@realm`; IMS the IMPU and
/// the home domain.
fn identity(def: &Gateway) -> (String, String) {
    if def.mode == Mode::Ims && !def.impu.is_empty() {
        let domain = if def.home_domain.is_empty() {
            def.effective_realm().to_string()
        } else {
            def.home_domain.clone()
        };
        return (def.impu.clone(), domain);
    }
    let domain = def.effective_from_domain().to_string();
    let user = def.username.clone();
    let aor = if user.is_empty() {
        format!("sip:{domain}")
    } else {
        format!("sip:{user}@{domain}")
    };
    (aor, def.effective_realm().to_string())
}

/// The user part of our Contact towards a gateway: its username (carriers
/// send calls for us to it), else the gateway's name.
pub fn contact_user(def: &Gateway) -> String {
    if def.username.is_empty() {
        format!("gw+{}", def.name)
    } else {
        def.username.clone()
    }
}

/// Every value of the headers named `name` (any case), as one list split at
/// top-level commas.
fn header_list(msg: &impl HasHeaders, name: &str) -> Vec<String> {
    message::header_values(msg, name)
        .iter()
        .flat_map(|v| message::split_header_list(v))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// What the state machine needs of an answer to REGISTER.
fn reg_response(resp: &rsip::Response, our_user: &str) -> RegResponse {
    let code = resp.status_code.code();
    let reason = message::reason_text(resp);
    let num = |name: &str| -> Option<u32> {
        message::header_values(resp, name)
            .first()
            .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
    };
    // The Contact that is ours (the carrier lists every binding of the AOR):
    // its expires parameter is what we were granted.
    let granted = message::contacts(resp).ok().and_then(|list| {
        list.iter().find_map(|c| match c {
            sip::contact::ContactEntry::Addr(a) if a.uri.contains(&format!("{our_user}@")) => a
                .param("expires")
                .and_then(|p| p.unquoted())
                .and_then(|v| v.trim().parse::<u32>().ok()),
            _ => None,
        })
    });
    let challenge = ["WWW-Authenticate", "Proxy-Authenticate"]
        .iter()
        .find_map(|name| {
            let header = message::header_values(resp, name).into_iter().find(|v| {
                // Prefer a challenge we can answer: MD5 or SHA-256 digest.
                sip::auth::Challenge::parse(v).is_ok()
            })?;
            let stale = sip::auth::Challenge::parse(&header)
                .map(|c| c.stale)
                .unwrap_or(false);
            Some(Challenge {
                proxy: *name == "Proxy-Authenticate",
                header,
                stale,
            })
        })
        .filter(|_| code == 401 || code == 407);
    RegResponse {
        code,
        reason,
        expires: granted.or_else(|| num("Expires")),
        min_expires: num("Min-Expires"),
        retry_after: num("Retry-After"),
        challenge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(text: &str) -> rsip::Response {
        rsip::Response::try_from(text.replace('\n', "\r\n").as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn our_contacts_expires_wins_over_the_expires_header() {
        let r = response(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\n\
             From: <sip:alice@carrier>;tag=1\nTo: <sip:alice@carrier>;tag=2\nCall-ID: x\n\
             CSeq: 2 REGISTER\nContact: <sip:bob@10.0.0.9>;expires=900, <sip:alice@127.0.0.1:5080>;expires=120\n\
             Expires: 3600\nService-Route: <sip:orig@scscf.ims.test;lr>\nContent-Length: 0\n\n",
        );
        let r = reg_response(&r, "alice");
        assert_eq!((r.code, r.expires), (200, Some(120)));
        assert_eq!(
            header_list(
                &response(
                    "SIP/2.0 200 OK\nService-Route: <sip:a@x;lr>, <sip:b@y;lr>\nPath: <sip:p@pcscf;lr>\nContent-Length: 0\n\n"
                ),
                "service-route"
            ),
            vec!["<sip:a@x;lr>", "<sip:b@y;lr>"]
        );
    }

    #[test]
    fn challenges_retry_after_and_min_expires_are_read() {
        let r = response(
            "SIP/2.0 401 Unauthorized\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\n\
             WWW-Authenticate: Digest realm=\"carrier\", nonce=\"abc\", qop=\"auth\", stale=true\n\
             Content-Length: 0\n\n",
        );
        let r = reg_response(&r, "alice");
        let c = r.challenge.unwrap();
        assert!(!c.proxy && c.stale && c.header.contains("nonce=\"abc\""));
        let r = reg_response(
            &response("SIP/2.0 503 Service Unavailable\nRetry-After: 120 (maintenance)\nContent-Length: 0\n\n"),
            "alice",
        );
        assert_eq!(
            (r.code, r.retry_after, r.reason.as_str()),
            (503, Some(120), "Service Unavailable")
        );
        let r = reg_response(
            &response("SIP/2.0 423 Interval Too Brief\nMin-Expires: 1800\nContent-Length: 0\n\n"),
            "alice",
        );
        assert_eq!(r.min_expires, Some(1800));
    }

    #[test]
    fn the_registered_identity_is_the_username_at_the_realm_or_the_impu() {
        let mut g = Gateway::new("carrier", Mode::Uni, "127.0.0.9");
        g.username = "02150001".into();
        g.realm = "voip.carrier.test".into();
        assert_eq!(
            identity(&g),
            (
                "sip:02150001@voip.carrier.test".into(),
                "voip.carrier.test".into()
            )
        );
        let mut ims = Gateway::new("ims", Mode::Ims, "127.0.0.9");
        ims.impu = "sip:+8651200000000@ims.test".into();
        ims.home_domain = "ims.test".into();
        assert_eq!(
            identity(&ims),
            ("sip:+8651200000000@ims.test".into(), "ims.test".into())
        );
        assert_eq!(
            contact_user(&Gateway::new("peer", Mode::Nni, "127.0.0.9")),
            "gw+peer"
        );
    }
}
