//! `Ctx`: the handle every task of the engine holds. It keeps what every
//! layer needs: the configuration (the file's, and the call-center settings
//! in force), the two SIP endpoints, the registrar and the directory, the
//! media runtime with its ports and caches, the database, counters and the
//! event bus.
//!
//! It is the one file of the base layer that names the layer above it,
//! calls, because it carries what calls share with everyone: the live
//! calls and their mailboxes, the dialog table, and the ports through which
//! calls reach the layers above them (applications, the queue service, the
//! media library), which the server plugs in at start. A layer's own state
//! stays in that layer: the SIP edge's in `sip::Edge`, the services' with
//! the server.

use crate::base::config::Config;
use crate::base::directory::Directory;
use crate::base::metrics::Metrics;
use crate::base::registrar::{Registrar, RegistrarConfig};
use crate::calls::ports::{AppLauncher, QueueReports, SoundLibrary};
use crate::calls::{CallInfo, CallMsg};
use dashmap::DashMap;
use sip::auth::DigestServer;
use sip::endpoint::Endpoint;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A call actor's mailbox.
pub type CallTx = mpsc::UnboundedSender<CallMsg>;

/// Shared engine state; one per process, behind an `Arc`.
pub struct Ctx {
    /// Settings.
    pub cfg: Config,
    /// The call-center settings in force (queues, agents, IVR menus,
    /// routing rules), kept in the database and changed live.
    pub callcenter: crate::base::callcenter_settings::LiveSettings,
    /// Registrar limits derived from `cfg`.
    pub reg_cfg: RegistrarConfig,
    /// Internal profile (phones).
    pub internal: Endpoint,
    /// External profile (trunks).
    pub external: Endpoint,
    /// Address we advertise in Via/Contact/SDP.
    pub advertise: IpAddr,
    /// The DTLS identity of WebRTC legs (None if it could not be made:
    /// then browsers' calls are refused with the reason).
    pub webrtc: Option<media::webrtc::WebRtcIdentity>,
    /// Binding table.
    pub registrar: Registrar,
    /// Extensions.
    pub directory: Directory,
    /// Gateways (trunks) in force.
    pub trunks: crate::base::trunks::Trunks,
    /// The toll-fraud guard of calls out.
    pub toll_guard: crate::base::toll_guard::TollGuard,
    /// Digest challenges and verification.
    pub digest: DigestServer,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// RTP/RTCP ports.
    pub ports: media::ports::PortAllocator,
    /// The dedicated media runtime.
    pub media_rt: tokio::runtime::Handle,
    /// Relay counters.
    pub relay_stats: Arc<media::relay::RelayStats>,
    /// Processing media session counters.
    pub session_stats: Arc<media::session::SessionStats>,
    /// The database (settings, records).
    pub store: store::Store,
    /// Open conference rooms by name.
    pub conferences: DashMap<String, media::conference::Conference>,
    /// Prompts and music decoded once, at each call rate used.
    pub audio_cache: media::audio_file::AudioCache,
    /// Live calls (for the API, metrics and shutdown).
    pub calls: DashMap<u64, (CallTx, CallInfo)>,
    /// Each leg's dialog: the call owning it, and who may send in it.
    pub dialogs: crate::calls::dialogs::DialogTable,
    /// Call records (finished calls, and answered calls in progress), to the CDR writer.
    pub cdr_tx: mpsc::UnboundedSender<store::Cdr>,
    /// Set when shutdown starts: new calls are refused.
    pub shutting_down: AtomicBool,
    /// Call ids.
    pub next_call_id: AtomicU64,
    /// Live events for subscribers (web pages, wallboard).
    pub events: crate::base::events::EventBus,
    /// Starts applications on calls (the applications layer, plugged in at start).
    pub apps: Arc<dyn AppLauncher>,
    /// Where calls report their queue callers (the queue service).
    pub queue_reports: Arc<dyn QueueReports>,
    /// Uploaded sounds by name (the media library).
    pub sounds: Arc<dyn SoundLibrary>,
}

impl Ctx {
    /// `host:port` of a profile, for Via headers.
    pub fn sent_by(&self, ep: &Endpoint) -> String {
        let port = ep.local_addr().port();
        match self.advertise {
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
            IpAddr::V4(v4) => format!("{v4}:{port}"),
        }
    }

    /// Our Contact URI on a profile, with a user part.
    pub fn contact(&self, ep: &Endpoint, user: &str) -> String {
        format!("sip:{user}@{}", self.sent_by(ep))
    }

    /// Our address on a profile for `transport`: its TLS listener's port
    /// for TLS, its WSS listener's for secure WebSocket, when it has one
    /// (what a peer must connect to), else its SIP port.
    pub fn sent_by_on(&self, ep: &Endpoint, transport: sip::TransportKind) -> String {
        match (transport, ep.tls_local_addr()) {
            (sip::TransportKind::Tls, Some(tls)) => format!("{}:{}", self.host(), tls.port()),
            (sip::TransportKind::Wss, _) => match ep.wss_local_addr() {
                Some(wss) => format!("{}:{}", self.host(), wss.port()),
                None => self.sent_by(ep),
            },
            _ => self.sent_by(ep),
        }
    }

    /// Our Contact URI on a profile for a request to a peer reached over
    /// `transport`: plain for UDP and TCP (as phones expect), with the
    /// transport parameter otherwise (see [`Self::contact_on`]).
    pub fn contact_towards(
        &self,
        ep: &Endpoint,
        user: &str,
        transport: sip::TransportKind,
    ) -> String {
        match transport {
            sip::TransportKind::Udp | sip::TransportKind::Tcp => self.contact(ep, user),
            _ => self.contact_on(ep, user, transport),
        }
    }

    /// Our Contact URI on a profile for requests over `transport`, with the
    /// transport parameter for TCP, TLS and WebSocket so that what the peer sends back
    /// uses it too.
    pub fn contact_on(&self, ep: &Endpoint, user: &str, transport: sip::TransportKind) -> String {
        let param = match transport {
            sip::TransportKind::Udp => "",
            sip::TransportKind::Tcp => ";transport=tcp",
            sip::TransportKind::Tls => ";transport=tls",
            // RFC 7118 §5.2; a browser sends everything over the one
            // connection it has anyway.
            sip::TransportKind::Ws => ";transport=ws",
            sip::TransportKind::Wss => ";transport=wss",
        };
        format!("sip:{user}@{}{param}", self.sent_by_on(ep, transport))
    }

    /// Our host for From/To URIs.
    pub fn host(&self) -> String {
        match self.advertise {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        }
    }
}

/// Wall-clock unix milliseconds (CDRs and bindings survive restarts, so not `Instant`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
