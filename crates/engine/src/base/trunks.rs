//! The gateways (trunks) in force, as every layer sees them: their
//! definitions with resolved addresses, what the registration client last
//! found (state, pings, IMS routes), and the calls each carries.
//!
//! The SIP edge's registration client (`sip::trunk_client`) loads the
//! definitions from the database, resolves their hosts and keeps the status
//! here; the calls layer picks a gateway for an outbound call
//! ([`Trunks::acquire`], which also holds the gateway's call limit) and the
//! trunk profile asks which gateway an inbound request came from
//! ([`Trunks::by_source`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use callcenter::gateway::config::{parse_network, Gateway, Transport};
use callcenter::gateway::{GatewayStatus, Health, RegState};

/// One gateway in force.
#[derive(Debug)]
pub struct Trunk {
    /// Its definition.
    pub def: Gateway,
    /// Where its INVITEs (and pings) go, resolved; None while the host does
    /// not resolve.
    pub outbound: Option<SocketAddr>,
    /// Where its REGISTERs go, resolved.
    pub registrar: Option<SocketAddr>,
    /// Networks its requests may come from (NNI peers, and the carrier's
    /// proxy for UNI and IMS).
    pub networks: Vec<(IpAddr, u8)>,
    /// Calls in progress through it.
    pub calls: AtomicU32,
    /// Calls placed through it since start.
    pub calls_total: AtomicU64,
    /// Calls it failed (a final answer of 3xx-6xx, or none).
    pub calls_failed: AtomicU64,
    /// Calls refused before being sent because it was full.
    pub calls_refused_full: AtomicU64,
    /// What the registration client and the pings found.
    pub status: RwLock<TrunkStatus>,
}

/// What the registration client found about a gateway.
#[derive(Clone, Debug, Default)]
pub struct TrunkStatus {
    /// Registration and ping state (None until the client ran once).
    pub client: Option<GatewayStatus>,
    /// Whether calls may go out through it now.
    pub usable: bool,
    /// Why not, when it is not (for logs and the status page).
    pub why_not: String,
    /// IMS (RFC 3608): the Service-Route of the last 200 to REGISTER, used
    /// as the route set of calls out.
    pub service_route: Vec<String>,
    /// IMS (RFC 3327): the Path of the last 200 to REGISTER.
    pub path: Vec<String>,
    /// IMS: the identities the network associated with us
    /// (P-Associated-URI).
    pub associated_uris: Vec<String>,
    /// When the status last changed (wall clock, for the page).
    pub changed_at: Option<SystemTime>,
    /// REGISTERs sent since start.
    pub registers_sent: u64,
    /// OPTIONS pings sent since start.
    pub pings_sent: u64,
}

impl Trunk {
    /// A gateway as configured, resolved to these addresses.
    pub fn new(def: Gateway, outbound: Option<SocketAddr>, registrar: Option<SocketAddr>) -> Trunk {
        let mut networks: Vec<(IpAddr, u8)> = def
            .inbound_addresses()
            .iter()
            .filter_map(|a| parse_network(a))
            .collect();
        // A proxy given by name is known by the addresses it resolved to.
        for addr in [outbound, registrar].into_iter().flatten() {
            let host = (addr.ip(), if addr.is_ipv4() { 32 } else { 128 });
            if def.addresses.is_empty() && !networks.contains(&host) {
                networks.push(host);
            }
        }
        let usable = !def.registers() && def.enabled && outbound.is_some();
        Trunk {
            def,
            outbound,
            registrar,
            networks,
            calls: AtomicU32::new(0),
            calls_total: AtomicU64::new(0),
            calls_failed: AtomicU64::new(0),
            calls_refused_full: AtomicU64::new(0),
            status: RwLock::new(TrunkStatus {
                usable,
                ..TrunkStatus::default()
            }),
        }
    }

    /// Whether `ip` is one of the addresses its requests may come from.
    pub fn sends_from(&self, ip: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|(net, bits)| in_network(ip, *net, *bits))
    }

    /// A copy of its status.
    pub fn status(&self) -> TrunkStatus {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Changes its status.
    pub fn update_status(&self, f: impl FnOnce(&mut TrunkStatus)) {
        if let Ok(mut s) = self.status.write() {
            f(&mut s);
        }
    }

    /// Whether it is full (`max_calls` in progress).
    pub fn full(&self) -> bool {
        self.def.max_calls > 0 && self.calls.load(Relaxed) >= self.def.max_calls
    }
}

/// Whether `ip` is inside `net`/`bits` (IPv4-mapped IPv6 compares as IPv4).
fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let canon = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
        v4 => v4,
    };
    match (canon(ip), canon(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(bits.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(bits.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Why a gateway was not used for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// No gateway of that name.
    Unknown,
    /// Disabled, not registered, DOWN by its pings, or its host does not
    /// resolve; the text says which.
    Down(String),
    /// `max_calls` calls in progress.
    Full(u32),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::Unknown => f.write_str("no such gateway"),
            Unavailable::Down(why) => f.write_str(why),
            Unavailable::Full(n) => write!(f, "full ({n} calls)"),
        }
    }
}

/// A call's place on a gateway: counted while held, given back on drop.
#[derive(Debug)]
pub struct TrunkSlot {
    /// The gateway.
    pub trunk: Arc<Trunk>,
}

impl Drop for TrunkSlot {
    fn drop(&mut self) {
        self.trunk.calls.fetch_sub(1, Relaxed);
    }
}

/// The gateways in force, by name.
#[derive(Debug, Default)]
pub struct Trunks {
    by_name: RwLock<HashMap<String, Arc<Trunk>>>,
}

impl Trunks {
    /// Replaces the table; a gateway whose definition and addresses did not
    /// change keeps its entry (and so its status and call counts).
    pub fn replace(&self, trunks: Vec<Trunk>) {
        let Ok(mut map) = self.by_name.write() else {
            return;
        };
        let mut next = HashMap::with_capacity(trunks.len());
        for t in trunks {
            let kept = map.remove(&t.def.name).filter(|old| {
                old.def == t.def && old.outbound == t.outbound && old.registrar == t.registrar
            });
            let entry = kept.unwrap_or_else(|| Arc::new(t));
            next.insert(entry.def.name.clone(), entry);
        }
        *map = next;
    }

    /// The gateway named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Trunk>> {
        self.by_name.read().ok()?.get(name).cloned()
    }

    /// Every gateway, by name.
    pub fn all(&self) -> Vec<Arc<Trunk>> {
        let mut v: Vec<Arc<Trunk>> = self
            .by_name
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.def.name.cmp(&b.def.name));
        v
    }

    /// How many gateways there are.
    pub fn len(&self) -> usize {
        self.by_name.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The enabled gateway whose requests may come from `ip`, if any.
    pub fn by_source(&self, ip: IpAddr) -> Option<Arc<Trunk>> {
        self.by_source_where(ip, |_| true)
    }

    /// Like [`Trunks::by_source`], among the gateways for which `pred`
    /// holds (several gateways may share a carrier's address); the first by
    /// name when more than one does. Runs for requests on the trunk port:
    /// no copy of the table.
    pub fn by_source_where(&self, ip: IpAddr, pred: impl Fn(&Trunk) -> bool) -> Option<Arc<Trunk>> {
        let map = self.by_name.read().ok()?;
        map.values()
            .filter(|t| t.def.enabled && t.sends_from(ip) && pred(t))
            .min_by(|a, b| a.def.name.cmp(&b.def.name))
            .cloned()
    }

    /// Takes a call's place on gateway `name` when it can carry one now.
    pub fn acquire(&self, name: &str) -> Result<TrunkSlot, Unavailable> {
        let trunk = self.get(name).ok_or(Unavailable::Unknown)?;
        if !trunk.def.enabled {
            return Err(Unavailable::Down("disabled".into()));
        }
        // Read in place: this runs for every call out.
        let down = trunk.status.read().ok().and_then(|s| {
            (!s.usable).then(|| match s.why_not.as_str() {
                "" => "not ready".to_string(),
                why => why.to_string(),
            })
        });
        if let Some(why) = down {
            return Err(Unavailable::Down(why));
        }
        // Count first, then check, so two calls racing for the last place
        // cannot both get it.
        let n = trunk.calls.fetch_add(1, Relaxed) + 1;
        let max = trunk.def.max_calls;
        if max > 0 && n > max {
            trunk.calls.fetch_sub(1, Relaxed);
            trunk.calls_refused_full.fetch_add(1, Relaxed);
            return Err(Unavailable::Full(max));
        }
        trunk.calls_total.fetch_add(1, Relaxed);
        Ok(TrunkSlot { trunk })
    }
}

/// One gateway's status as the status page, the API and the CLI show it
/// (manual 3.2.8).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrunkReport {
    /// Name.
    pub name: String,
    /// nni, uni or ims.
    pub mode: &'static str,
    /// Enabled in its settings.
    pub enabled: bool,
    /// Registration state (REFERENCE §3 names: NOREG, REGED, FAILED, ...).
    pub state: String,
    /// The state with its reason, e.g. "FAILED: 403 after auth".
    pub status: String,
    /// Whether calls may go out through it now.
    pub usable: bool,
    /// Why not, when not.
    pub why_not: String,
    /// The last answer to REGISTER, e.g. "200 OK".
    pub last_response: Option<String>,
    /// Failures in a row.
    pub failures: u32,
    /// Seconds to the next REGISTER (refresh or retry), if one is planned.
    pub next_attempt_secs: Option<u64>,
    /// Seconds the registration has left.
    pub registered_secs_left: Option<u64>,
    /// Expires granted by the carrier.
    pub granted_expires: Option<u32>,
    /// UP, DOWN or UNKNOWN (pings off or no answer yet).
    pub ping: &'static str,
    /// Round trip of the last answered ping, milliseconds.
    pub ping_rtt_ms: Option<u64>,
    /// Calls in progress.
    pub calls: u32,
    /// Most concurrent calls (0: unlimited).
    pub max_calls: u32,
    /// Calls placed since start.
    pub calls_total: u64,
    /// Calls it failed since start.
    pub calls_failed: u64,
    /// REGISTERs sent since start.
    pub registers_sent: u64,
    /// IMS: the Service-Route calls out follow.
    pub service_route: Vec<String>,
    /// IMS: the identities the network associated with us.
    pub associated_uris: Vec<String>,
}

impl Trunks {
    /// Every gateway's status at `now`, by name.
    pub fn report(&self, now: Instant) -> Vec<TrunkReport> {
        self.all()
            .iter()
            .map(|t| {
                let st = t.status();
                let client = st.client.as_ref();
                TrunkReport {
                    name: t.def.name.clone(),
                    mode: t.def.mode.as_str(),
                    enabled: t.def.enabled,
                    state: client
                        .map(|c| c.reg.state.as_str().to_string())
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    status: client.map(describe).unwrap_or_else(|| "starting".into()),
                    usable: st.usable,
                    why_not: st.why_not.clone(),
                    last_response: client
                        .and_then(|c| c.reg.last_response.as_ref())
                        .map(|r| format!("{} {}", r.code, r.reason)),
                    failures: client.map_or(0, |c| c.reg.failures),
                    next_attempt_secs: client.and_then(|c| secs_until(c.reg.next_attempt, now)),
                    registered_secs_left: client
                        .and_then(|c| secs_until(c.reg.registered_until, now)),
                    granted_expires: client.and_then(|c| c.reg.granted_expires),
                    ping: client.map_or("UNKNOWN", |c| c.ping.health.as_str()),
                    ping_rtt_ms: client.and_then(|c| rtt_ms(c.ping.last_rtt)),
                    calls: t.calls.load(Relaxed),
                    max_calls: t.def.max_calls,
                    calls_total: t.calls_total.load(Relaxed),
                    calls_failed: t.calls_failed.load(Relaxed),
                    registers_sent: st.registers_sent,
                    service_route: st.service_route.clone(),
                    associated_uris: st.associated_uris.clone(),
                }
            })
            .collect()
    }
}

/// Where a gateway is reached: `addr` over the gateway's transport.
pub fn gateway_peer(def: &Gateway, addr: SocketAddr) -> sip::Peer {
    match def.transport {
        Transport::Udp => sip::Peer::udp(addr),
        Transport::Tcp => sip::Peer::tcp(addr),
        Transport::Tls => sip::Peer::tls(addr),
    }
}

/// The transport a gateway is reached over (and our Contact towards it
/// names, so that what it sends us uses it too).
pub fn gateway_transport(def: &Gateway) -> sip::TransportKind {
    match def.transport {
        Transport::Udp => sip::TransportKind::Udp,
        Transport::Tcp => sip::TransportKind::Tcp,
        Transport::Tls => sip::TransportKind::Tls,
    }
}

/// The port a gateway address without one means: 5061 for TLS (RFC 3261
/// §19.1.2), else 5060.
pub fn default_port(def: &Gateway) -> u16 {
    match def.transport {
        Transport::Tls => 5061,
        Transport::Udp | Transport::Tcp => 5060,
    }
}

/// The status of a gateway as the registration client reports it, put
/// into words for logs and the status page: e.g. "REGED", "FAILED: 403
/// after auth", "DOWN (pings)".
pub fn describe(status: &GatewayStatus) -> String {
    let reg = status.reg.state;
    let mut text = reg.as_str().to_string();
    if let Some(f) = &status.reg.failure {
        if matches!(
            reg,
            RegState::Failed | RegState::FailWait | RegState::Unreged
        ) {
            text = format!("{text}: {f}");
        }
    }
    if status.ping.health == Health::Down {
        text.push_str(" (pings: DOWN)");
    }
    text
}

/// Seconds from `now` until `at` (0 if past), for the status page.
pub fn secs_until(at: Option<Instant>, now: Instant) -> Option<u64> {
    at.map(|t| t.saturating_duration_since(now).as_secs())
}

/// A round-trip time in milliseconds, for the status page.
pub fn rtt_ms(rtt: Option<Duration>) -> Option<u64> {
    rtt.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcenter::gateway::config::Mode;

    fn nni(name: &str, proxy: &str, max_calls: u32) -> Trunk {
        let mut g = Gateway::new(name, Mode::Nni, proxy);
        g.max_calls = max_calls;
        let addr: SocketAddr = format!("{proxy}:5060").parse().unwrap();
        Trunk::new(g, Some(addr), Some(addr))
    }

    #[test]
    fn a_full_gateway_refuses_and_a_dropped_slot_gives_its_place_back() {
        let t = Trunks::default();
        t.replace(vec![nni("carrier", "127.0.0.9", 2)]);
        let a = t.acquire("carrier").unwrap();
        let _b = t.acquire("carrier").unwrap();
        assert_eq!(t.acquire("carrier").unwrap_err(), Unavailable::Full(2));
        drop(a);
        assert!(t.acquire("carrier").is_ok());
        assert_eq!(t.acquire("nope").unwrap_err(), Unavailable::Unknown);
    }

    #[test]
    fn requests_are_matched_to_gateways_by_source_network() {
        let t = Trunks::default();
        let mut g = Gateway::new("peer", Mode::Nni, "127.0.0.9");
        g.addresses = vec!["10.1.0.0/16".into(), "192.0.2.7".into()];
        t.replace(vec![
            Trunk::new(g, None, None),
            nni("other", "127.0.0.8", 0),
        ]);
        let name = |ip: &str| t.by_source(ip.parse().unwrap()).map(|x| x.def.name.clone());
        assert_eq!(name("10.1.200.3").as_deref(), Some("peer"));
        assert_eq!(name("192.0.2.7").as_deref(), Some("peer"));
        assert_eq!(name("::ffff:192.0.2.7").as_deref(), Some("peer"));
        assert_eq!(name("127.0.0.8").as_deref(), Some("other"));
        assert_eq!(
            name("127.0.0.9"),
            None,
            "listed addresses replace the proxy's"
        );
        assert_eq!(name("192.0.2.8"), None);
    }

    #[test]
    fn among_gateways_sharing_an_address_the_one_asked_for_is_found() {
        let t = Trunks::default();
        let mut uni = Gateway::new("zz-uni", Mode::Uni, "127.0.0.9");
        uni.username = "02150001".into();
        let addr: SocketAddr = "127.0.0.9:5060".parse().unwrap();
        t.replace(vec![
            nni("aa-peer", "127.0.0.9", 0),
            Trunk::new(uni, Some(addr), Some(addr)),
        ]);
        let ip = "127.0.0.9".parse().unwrap();
        assert_eq!(
            t.by_source(ip).unwrap().def.name,
            "aa-peer",
            "first by name"
        );
        let reg = t.by_source_where(ip, |x| x.def.registers()).unwrap();
        assert_eq!(reg.def.name, "zz-uni");
        assert!(t
            .by_source_where(ip, |x| x.def.username == "nobody")
            .is_none());
    }

    #[test]
    fn an_unchanged_gateway_keeps_its_counts_across_a_reload() {
        let t = Trunks::default();
        t.replace(vec![nni("carrier", "127.0.0.9", 0)]);
        let slot = t.acquire("carrier").unwrap();
        t.replace(vec![
            nni("carrier", "127.0.0.9", 0),
            nni("new", "127.0.0.8", 0),
        ]);
        assert_eq!(t.get("carrier").unwrap().calls.load(Relaxed), 1);
        drop(slot);
        assert_eq!(t.get("carrier").unwrap().calls.load(Relaxed), 0);
        t.replace(vec![nni("carrier", "127.0.0.9", 5)]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.get("carrier").unwrap().def.max_calls, 5);
    }
}
