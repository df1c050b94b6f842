//! Starting and stopping the engine: database, directory, both SIP profiles,
//! the media runtime, background loops (directory refresh, registration expiry
//! and write-behind, CDR writer) and graceful shutdown.
//!
//! The top layer: it may use every other. It builds `Ctx`, plugs into it the
//! ports the calls layer asks for (the applications' launcher, the queue
//! service, the media library), and holds the state of the layers that keep
//! their own (the SIP edge's [`Edge`], the services), which [`Engine`] hands
//! to the web module.

use crate::base::config::Config;
use crate::base::context::{now_ms, Ctx};
use crate::base::directory::Directory;
use crate::base::metrics::{Exposition, Metrics, Outcome};
use crate::base::registrar::{Binding, Registrar, RegistrarConfig};
use crate::calls::{CallInfo, CallMsg};
use crate::services::callcenter_settings::SettingsAdmin;
use crate::services::media_library::MediaLibrary;
use crate::services::queues::QueueService;
use crate::sip::auth_guard::AuthGuard;
use crate::sip::keepalive::Registered;
use crate::sip::profile::{self, Profile};
use crate::sip::voice_lists::VoiceLists;
use crate::sip::Edge;
use anyhow::Context as _;
use sip::auth::{Algorithm, DigestServer};
use sip::endpoint::{Endpoint, EndpointConfig};
use sip::transaction::TxConfig;
use sip::transport::{SipStats, TlsSettings};
use sip::{Peer, TransportKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::sync::mpsc;

/// A metric family of one sample per gateway: name, kind, help, samples.
type Family<'a> = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'a str, u64)>,
);
/// A running engine.
pub struct Engine {
    ctx: Arc<Ctx>,
    edge: Arc<Edge>,
    queues: QueueService,
    media_library: Arc<MediaLibrary>,
    store: Store,
    media_rt: std::sync::Mutex<Option<MediaRuntime>>,
    internal_stats: Arc<SipStats>,
    external_stats: Arc<SipStats>,
    cdr_done: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    cdr_stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    started: std::time::Instant,
    trunk_client: crate::sip::trunk_client::TrunkClient,
}

impl Engine {
    /// Open the database, seed it on first run, bind both profiles and start serving.
    pub async fn start(cfg: Config) -> anyhow::Result<Engine> {
        cfg.validate()?;
        std::fs::create_dir_all(&cfg.server.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.server.data_dir.display()))?;
        let store = Store::open(&cfg.database_url())
            .await
            .with_context(|| format!("opening database {}", cfg.database_url()))?;
        seed(&store, &cfg).await?;
        let callcenter = crate::services::callcenter_settings::load_at_start(&cfg, &store).await?;
        let directory = Directory::default();
        directory.refresh(&store).await?;

        let advertise = cfg.advertise();
        // Every Opus encoder made from here on (one per browser leg).
        media::codec::opus::set_complexity(cfg.media.opus_complexity);
        let full_ice = cfg.media.webrtc_ice == "full";
        let (lo, hi) = cfg.rtp_range()?;
        let media_runtime =
            media::media_runtime(cfg.media_threads()).context("starting the media runtime")?;
        let media_handle = media_runtime.handle().clone();
        let media_rt = MediaRuntime(Some(media_runtime));
        let ports =
            media::PortAllocator::with_runtime(cfg.server.bind, lo, hi, media_handle.clone())
                .map_err(|e| anyhow::anyhow!("RTP ports {lo}-{hi}: {e}"))?;
        if let Some((host, port)) = cfg.stun_server()? {
            let server = resolve_stun_server(&host, port, cfg.server.bind).await?;
            ports
                .enable_stun(server)
                .map_err(|e| anyhow::anyhow!("media.stun_server: {e}"))?;
            tracing::info!(
                "WebRTC legs learn their server-reflexive address from STUN server {host}:{port} ({server})"
            );
        }
        let stun_mappings = ports.mappings();

        let timers = TxConfig {
            t1: Duration::from_millis(cfg.sip.t1_ms.max(50)),
            ..TxConfig::default()
        };
        if !sip::message::set_user_agent(&cfg.sip.user_agent)
            && sip::message::user_agent().unwrap_or_default() != cfg.sip.user_agent
        {
            // Only when one process starts two engines (tests).
            tracing::warn!("sip.user_agent: the value of an earlier start stays in force");
        }
        warn_tcp_keepalive(&cfg);
        let internal_stats = Arc::new(SipStats::default());
        let external_stats = Arc::new(SipStats::default());
        let (internal_tls, external_tls) = crate::sip::tls::settings(&cfg)?;
        let ep_cfg = |port: u16, tls: TlsSettings| EndpointConfig {
            bind: SocketAddr::new(cfg.server.bind, port),
            timers: timers.clone(),
            log_messages: cfg.server.log_sip,
            tcp: cfg.sip.tcp.limits(),
            tls,
        };
        let internal = Endpoint::start(
            ep_cfg(cfg.server.sip_port, internal_tls),
            internal_stats.clone(),
        )
        .await
        .with_context(|| {
            format!(
                "binding SIP port {} (TLS port {})",
                cfg.server.sip_port, cfg.sip.tls_port
            )
        })?;
        let external = Endpoint::start(
            ep_cfg(cfg.server.trunk_port, external_tls),
            external_stats.clone(),
        )
        .await
        .with_context(|| {
            format!(
                "binding trunk port {} (TLS port {})",
                cfg.server.trunk_port, cfg.sip.trunk_tls_port
            )
        })?;

        let algorithms: Vec<Algorithm> = cfg
            .sip
            .auth_algorithms
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let digest = DigestServer::new(
            cfg.sip.realm.clone(),
            algorithms,
            Duration::from_secs(cfg.sip.nonce_ttl_secs),
        );
        let metrics = Arc::new(Metrics::default());
        close_cut_cdrs(&store).await?;
        let events = crate::base::events::EventBus::default();
        let (cdr_tx, cdr_rx) = mpsc::unbounded_channel();
        let (cdr_stop, stop_rx) = tokio::sync::oneshot::channel();
        let cdr_done = tokio::spawn(crate::calls::cdr::run(
            store.clone(),
            cdr_rx,
            metrics.clone(),
            events.clone(),
            Duration::from_secs(cfg.calls.cdr_heartbeat_secs),
            crate::calls::cdr::Backlog {
                max_in_memory: cfg.calls.cdr_backlog_max,
                journal: cfg.server.data_dir.join("cdr-journal.jsonl"),
            },
            stop_rx,
        ));
        let media_library = Arc::new(MediaLibrary::default());
        media_library
            .load(&cfg.media.uploads_dir, &store)
            .await
            .context("reading the media resources")?;
        let voice = crate::sip::voice_lists::VoiceLists::default();
        voice.load_at_start(&store, &cfg.trunk.acl).await?;
        let edge = Arc::new(Edge {
            guard: AuthGuard::new(
                cfg.sip.auth_fail_limit,
                Duration::from_secs(cfg.sip.auth_ban_secs),
            ),
            voice,
            mwi: Default::default(),
            reachability: Default::default(),
        });
        let queues = QueueService::start(events.clone(), Some(store.clone()));
        let toll_guard = crate::base::toll_guard::TollGuard::new(&cfg.trunk);
        let ctx = Arc::new(Ctx {
            reg_cfg: RegistrarConfig {
                min_expires: cfg.sip.min_expires,
                max_expires: cfg.sip.max_expires,
                default_expires: cfg.sip.default_expires,
                max_contacts: cfg.sip.max_contacts,
            },
            cfg,
            callcenter: Default::default(),
            internal,
            external,
            advertise,
            webrtc: match media::webrtc::WebRtcIdentity::generate() {
                Ok(id) => Some(id.with_full_ice(full_ice).with_mappings(stun_mappings)),
                Err(e) => {
                    tracing::error!("WebRTC disabled: {e}");
                    None
                }
            },
            registrar: Registrar::new(),
            directory,
            trunks: Default::default(),
            toll_guard,
            digest,
            metrics,
            ports,
            media_rt: media_handle,
            relay_stats: Arc::new(media::RelayStats::new()),
            session_stats: Arc::new(media::session::SessionStats::default()),
            audio_cache: media::audio_file::AudioCache::new(),
            conferences: dashmap::DashMap::new(),
            store: store.clone(),
            calls: Default::default(),
            dialogs: Default::default(),
            cdr_tx,
            shutting_down: AtomicBool::new(false),
            next_call_id: AtomicU64::new(1),
            events: events.clone(),
            apps: Arc::new(crate::apps::Launcher::new(edge.clone())),
            queue_reports: Arc::new(queues.clone()),
            sounds: media_library.clone(),
        });
        restore_bindings(&ctx, &store).await;
        load_callcenter(&ctx, &queues, &store, callcenter).await?;
        profile::install(ctx.clone(), edge.clone(), Profile::Internal);
        profile::install(ctx.clone(), edge.clone(), Profile::External);
        tokio::spawn(preload_sounds(ctx.clone()));
        let trunk_client = crate::sip::trunk_client::TrunkClient::start(ctx.clone());
        tokio::spawn(directory_loop(
            ctx.clone(),
            edge.clone(),
            queues.clone(),
            store.clone(),
            trunk_client.clone(),
        ));
        tokio::spawn(registrar_loop(ctx.clone(), store.clone()));
        tokio::spawn(crate::sip::keepalive::run(ctx.clone(), edge.clone()));
        let mut tls = match ctx.internal.tls_local_addr() {
            Some(a) => format!(", TLS {a}"),
            None => String::new(),
        };
        let trunk_tls = match ctx.external.tls_local_addr() {
            Some(a) => format!(", TLS {a}"),
            None => String::new(),
        };
        if let Some(a) = ctx.internal.wss_local_addr() {
            tls.push_str(&format!(", WSS {a}"));
        }
        tracing::info!(
            "switchboard ready: SIP {} (internal){tls}, {} (trunks){trunk_tls}, RTP {lo}-{hi}, advertising {advertise}",
            ctx.internal.local_addr(),
            ctx.external.local_addr()
        );
        Ok(Engine {
            ctx,
            edge,
            queues,
            media_library,
            store,
            media_rt: std::sync::Mutex::new(Some(media_rt)),
            internal_stats,
            external_stats,
            cdr_done: tokio::sync::Mutex::new(Some(cdr_done)),
            cdr_stop: std::sync::Mutex::new(Some(cdr_stop)),
            started: std::time::Instant::now(),
            trunk_client,
        })
    }

    /// Subscribe to live engine events.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::base::events::Event>> {
        self.ctx.events.subscribe()
    }

    /// Applies a change of the extensions at once (the pages and the API
    /// call this after writing) instead of at the directory loop's next
    /// tick: a phone registering right after its extension was made is
    /// known, and the phones of a removed one are dropped.
    pub async fn extensions_changed(&self) {
        refresh_directory(&self.ctx).await;
    }

    /// Tells the phones subscribed to mailbox `ext` its counts again (a
    /// message was marked heard or deleted from the web): their
    /// message-waiting lamps follow at once.
    pub async fn mailbox_changed(&self, ext: &str) {
        crate::sip::mwi::notify(&self.ctx, &self.edge.mwi, ext).await;
    }

    /// Shared state, for the web module.
    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    /// Live calls.
    /// Three-way call: call `id` (its two parties) and the other party of
    /// the consultation call `with` meet in one room; the consultation
    /// call's first leg (the party who placed it, also in `id`) is released.
    pub async fn three_way(&self, id: u64, with: u64) -> Result<(), String> {
        use crate::calls::control::Command;
        let tx = |n: u64| {
            self.ctx
                .calls
                .get(&n)
                .map(|c| c.value().0.clone())
                .ok_or_else(|| format!("no live call {n}"))
        };
        let (main, consult) = (tx(id)?, tx(with)?);
        if id == with {
            return Err("a call cannot be joined with itself".into());
        }
        let room = media::conference::Conference::start(&self.ctx.media_rt, media::audio::RATE_8K);
        let (reply, rx) = tokio::sync::oneshot::channel();
        let _ = main.send(CallMsg::Control(Command::Monitor {
            room: Some(room.clone()),
            reply,
        }));
        // A call already in a room (monitored) answers with that one.
        let room = rx
            .await
            .map_err(|_| format!("call {id} has ended"))?
            .map_err(|e| format!("call {id}: {e}"))?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let _ = consult.send(CallMsg::Control(Command::Attend {
            room,
            keep: crate::calls::Side::B,
            partner: id,
            reply,
        }));
        rx.await
            .map_err(|_| format!("call {with} has ended"))?
            .map_err(|e| format!("call {with}: {e}"))?;
        tracing::info!("three-way: call {id} joined by the other party of call {with}");
        Ok(())
    }

    /// Completes an attended transfer made by joining (the desk's
    /// "Complete transfer", the API's `hand_over`): the agent leaves call
    /// `id` and its other party stays with the joined call `with` (a
    /// consulted party, a 3-way party). `agent` is the agent's number
    /// (default: [`CallInfo::default_agent`](crate::calls::CallInfo::default_agent));
    /// it may be the called party (a queue's agent) or the caller of a call
    /// the agent placed (click-to-dial), whichever leg that is.
    pub async fn hand_over(&self, id: u64, with: u64, agent: Option<&str>) -> Result<(), String> {
        let info = |n: u64| {
            self.ctx
                .calls
                .get(&n)
                .map(|c| c.value().1.clone())
                .ok_or_else(|| format!("no live call {n}"))
        };
        let (main, joined) = (info(id)?, info(with)?);
        if joined.joined.is_none_or(|(t, _)| t != id) {
            return Err(format!("call {with} is not joined to call {id}"));
        }
        let agent = agent.map_or_else(|| main.default_agent(), str::to_string);
        if !main.has_party(&agent) {
            return Err(format!("{agent} is not a party of call {id}"));
        }
        let side = main.side_of(&agent);
        self.control(id)?
            .hand_over(with, side)
            .await
            .map_err(|e| format!("call {id}: {e}"))?;
        tracing::info!("hand-over: agent {agent} left call {id}, which goes on with call {with}");
        Ok(())
    }

    /// The queue service (ACD): agent status changes and the live view.
    pub fn queues(&self) -> &QueueService {
        &self.queues
    }

    /// Changes to the call-center settings (queues, agents, tiers, IVR
    /// menus, routing rules), checked, written and applied at once.
    pub fn settings(&self) -> SettingsAdmin<'_> {
        SettingsAdmin::new(&self.ctx, &self.queues)
    }

    /// Uploaded prompts and music.
    pub fn media_library(&self) -> &MediaLibrary {
        &self.media_library
    }

    /// The access list, blacklist and number pool (the trunk profile and
    /// the INVITE check use them; the admin pages change them).
    pub fn voice_lists(&self) -> &VoiceLists {
        &self.edge.voice
    }

    /// Every gateway's registration, ping and call status (manual 3.2.8).
    pub fn gateways(&self) -> Vec<crate::base::trunks::TrunkReport> {
        self.ctx.trunks.report(std::time::Instant::now())
    }

    /// Every registered contact, with what the keep-alive pings found.
    pub fn registered(&self) -> Vec<Registered> {
        crate::sip::keepalive::registered(&self.ctx, &self.edge.reachability)
    }

    /// The call-control handle of live call `id`, if an application drives
    /// it (engine-answered calls: IVR, queue, test extensions); the reason
    /// otherwise.
    pub fn control(&self, id: u64) -> Result<crate::calls::control::CallControl, String> {
        let Some(entry) = self.ctx.calls.get(&id) else {
            return Err(format!("no live call {id}"));
        };
        let (tx, info) = entry.value();
        if info.app.is_none() {
            return Err(format!(
                "call {id} is a direct call between two parties; only calls answered by the engine can be controlled yet"
            ));
        }
        if info.state != "answered" {
            return Err(format!("call {id} is not answered yet ({})", info.state));
        }
        Ok(crate::calls::control::CallControl::new(id, tx.clone()))
    }

    pub fn calls(&self) -> Vec<CallInfo> {
        let mut v: Vec<CallInfo> = self.ctx.calls.iter().map(|e| e.value().1.clone()).collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// The `switchboard_gateway_*` families: one sample per gateway.
    fn gateway_metrics(&self, e: &mut Exposition) {
        use std::sync::atomic::Ordering::Relaxed;
        let trunks = self.ctx.trunks.all();
        let mut families: [Family; 7] = [
            ("switchboard_gateway_up", "gauge", "1 when calls may go out through the gateway (registered if it registers, not DOWN by its pings, enabled).", Vec::new()),
            ("switchboard_gateway_registered", "gauge", "1 while the gateway's registration is valid (a refresh in flight included).", Vec::new()),
            ("switchboard_gateway_calls", "gauge", "Calls in progress through the gateway.", Vec::new()),
            ("switchboard_gateway_calls_total", "counter", "Calls placed through the gateway.", Vec::new()),
            ("switchboard_gateway_calls_failed_total", "counter", "Calls through the gateway that it failed (3xx-6xx or no answer).", Vec::new()),
            ("switchboard_gateway_registers_sent_total", "counter", "REGISTER requests sent to the gateway (challenges answered and refreshes included).", Vec::new()),
            ("switchboard_gateway_ping_rtt_ms", "gauge", "Round-trip time of the gateway's last answered OPTIONS ping, milliseconds.", Vec::new()),
        ];
        for t in &trunks {
            let st = t.status();
            let name = t.def.name.as_str();
            // Registered while the binding is valid, refresh in flight or not.
            let now = std::time::Instant::now();
            let reged = st
                .client
                .as_ref()
                .is_some_and(|c| c.reg.registered_until.is_some_and(|t| t > now));
            let rtt = st
                .client
                .as_ref()
                .and_then(|c| crate::base::trunks::rtt_ms(c.ping.last_rtt));
            let values = [
                u64::from(st.usable),
                u64::from(reged),
                u64::from(t.calls.load(Relaxed)),
                t.calls_total.load(Relaxed),
                t.calls_failed.load(Relaxed),
                st.registers_sent,
                rtt.unwrap_or(0),
            ];
            for (f, v) in families.iter_mut().zip(values) {
                f.3.push((name, v));
            }
        }
        for (name, kind, help, values) in &families {
            e.labelled(name, kind, help, "gateway", values);
        }
        let guard = &self.ctx.toll_guard;
        e.metric(
            "switchboard_outbound_calls",
            "gauge",
            "Calls out through gateways in progress (the toll-fraud guard's count).",
            guard.in_progress(),
        );
        e.metric(
            "switchboard_toll_fraud_refused_total",
            "counter",
            "Calls out refused by the toll-fraud guard (denied number, per-extension or total limit).",
            guard.refused.load(Relaxed),
        );
        e.metric(
            "switchboard_toll_fraud_alarms_total",
            "counter",
            "Extensions that dialled out far more than usual (trunk.alarm_calls_per_10min).",
            guard.alarms.load(Relaxed),
        );
        e.metric(
            "switchboard_gateway_state_changes_total",
            "counter",
            "Gateway registration or ping state changes.",
            self.ctx.metrics.gateway_state_changes.load(Relaxed),
        );
    }

    /// Prometheus text for `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        let m = &self.ctx.metrics;
        let mut e = Exposition::default();
        e.metric(
            "switchboard_uptime_seconds",
            "gauge",
            "Seconds since start.",
            self.started.elapsed().as_secs(),
        );
        e.metric(
            "switchboard_active_calls",
            "gauge",
            "Calls in progress.",
            m.active_calls.load(Relaxed),
        );
        let outcomes: Vec<(&str, u64)> = Outcome::ALL
            .iter()
            .map(|o| (o.label(), m.calls(*o)))
            .collect();
        e.labelled(
            "switchboard_calls_total",
            "counter",
            "Finished calls by outcome.",
            "outcome",
            &outcomes,
        );
        e.metric(
            "switchboard_registrations",
            "gauge",
            "Registered contacts (bindings).",
            self.ctx.registrar.binding_count(),
        );
        e.metric(
            "switchboard_registers_total",
            "counter",
            "Successful REGISTER requests.",
            m.registers_ok.load(Relaxed),
        );
        e.metric(
            "switchboard_auth_failures_total",
            "counter",
            "Failed digest authentications.",
            m.auth_failures.load(Relaxed),
        );
        e.metric(
            "switchboard_auth_banned_drops_total",
            "counter",
            "Requests ignored from banned addresses.",
            m.banned_drops.load(Relaxed),
        );
        e.metric(
            "switchboard_acl_rejects_total",
            "counter",
            "Requests on the trunk port refused by the ACL.",
            m.acl_rejects.load(Relaxed),
        );
        e.metric(
            "switchboard_sip_dialog_rejects_total",
            "counter",
            "In-dialog requests and CANCELs refused (unknown dialog, wrong tags, profile or source).",
            m.dialog_rejects.load(Relaxed),
        );
        e.metric(
            "switchboard_auth_replays_total",
            "counter",
            "Digest credentials replayed or used for another Request-URI.",
            m.auth_replays.load(Relaxed),
        );
        e.metric(
            "switchboard_sip_transactions",
            "gauge",
            "Live SIP transactions, both profiles.",
            self.ctx.internal.transactions() + self.ctx.external.transactions(),
        );
        e.metric(
            "switchboard_auth_banned_sources",
            "gauge",
            "Source addresses currently banned for failing authentication.",
            self.edge.guard.banned_count(std::time::Instant::now()),
        );
        e.metric(
            "switchboard_blacklist_rejects_total",
            "counter",
            "INVITEs refused because the caller is blacklisted.",
            m.blacklist_rejects.load(Relaxed),
        );
        let r = &self.ctx.relay_stats;
        e.metric(
            "switchboard_rtp_packets_relayed_total",
            "counter",
            "RTP packets relayed.",
            r.rtp_relayed.load(Relaxed),
        );
        e.metric(
            "switchboard_rtcp_packets_relayed_total",
            "counter",
            "RTCP packets relayed.",
            r.rtcp_relayed.load(Relaxed),
        );
        e.metric(
            "switchboard_rtp_packets_dropped_total",
            "counter",
            "RTP/RTCP packets dropped (invalid, unknown source).",
            r.dropped.load(Relaxed),
        );
        let (all, source, invalid, srtp) = (
            r.dropped.load(Relaxed),
            r.dropped_source.load(Relaxed),
            r.dropped_invalid.load(Relaxed),
            r.dropped_srtp.load(Relaxed),
        );
        e.labelled(
            "switchboard_rtp_dropped_total",
            "counter",
            "RTP/RTCP datagrams dropped, by reason: source (not the latched peer, nor allowed to latch), invalid (malformed or a payload type not negotiated), srtp (failed SRTP authentication or replay check), other (no destination yet, send failed).",
            "reason",
            &[
                ("source", source),
                ("invalid", invalid),
                ("srtp", srtp),
                ("other", all.saturating_sub(source + invalid + srtp)),
            ],
        );
        let q = &self.queues.stats;
        e.metric(
            "switchboard_queue_joined_total",
            "counter",
            "Callers who joined a queue.",
            q.joined.load(Relaxed),
        );
        e.metric(
            "switchboard_queue_offers_total",
            "counter",
            "Offers to agents (one per agent rung).",
            q.offers.load(Relaxed),
        );
        e.metric(
            "switchboard_queue_answered_total",
            "counter",
            "Queue callers connected to an agent.",
            q.answered.load(Relaxed),
        );
        e.metric(
            "switchboard_queue_abandoned_total",
            "counter",
            "Queue callers who left unserved.",
            q.abandoned.load(Relaxed),
        );
        q.offer_latency.expose(
            &mut e,
            "switchboard_queue_offer_latency_seconds",
            "From agent free (and caller waiting) to the offer leaving for the caller's call.",
        );
        let s = &self.ctx.session_stats;
        e.metric(
            "switchboard_media_rtp_in_total",
            "counter",
            "RTP packets received by processing media sessions.",
            s.rtp_in.load(Relaxed),
        );
        e.metric(
            "switchboard_media_rtp_out_total",
            "counter",
            "RTP packets sent by processing media sessions.",
            s.rtp_out.load(Relaxed),
        );
        e.metric(
            "switchboard_media_unknown_payload_type_total",
            "counter",
            "RTP packets dropped for a payload type the leg did not negotiate.",
            s.unknown_payload_type.load(Relaxed),
        );
        e.metric(
            "switchboard_media_frames_decoded_total",
            "counter",
            "Audio frames decoded (transcoding, recording, detection).",
            s.frames_decoded.load(Relaxed),
        );
        e.metric(
            "switchboard_media_frames_concealed_total",
            "counter",
            "Audio frames filled by packet loss concealment.",
            s.frames_concealed.load(Relaxed),
        );
        e.metric(
            "switchboard_dtmf_digits_total",
            "counter",
            "DTMF digits detected in media (RFC 4733 and in-band).",
            s.digits.load(Relaxed),
        );
        e.metric(
            "switchboard_rtp_ports_in_use",
            "gauge",
            "RTP/RTCP port pairs allocated.",
            self.ctx.ports.in_use(),
        );
        e.metric(
            "switchboard_media_timeouts_total",
            "counter",
            "Calls hung up for lack of RTP.",
            m.media_timeouts.load(Relaxed),
        );
        e.metric(
            "switchboard_webrtc_failures_total",
            "counter",
            "Calls ended because a browser's WebRTC leg failed (ICE, DTLS).",
            m.webrtc_failures.load(Relaxed),
        );
        let stun = self.ctx.ports.stun_stats().unwrap_or_default();
        e.metric(
            "switchboard_webrtc_stun_failures_total",
            "counter",
            "STUN Binding requests for an RTP port's server-reflexive address that got no \
             answer within 500 ms ([media] stun_server).",
            stun.failures.load(Relaxed),
        );
        e.metric(
            "switchboard_webrtc_stun_ignored_total",
            "counter",
            "Datagrams ignored while waiting for the STUN server's answer (another source, \
             another transaction, malformed).",
            stun.ignored.load(Relaxed),
        );
        e.metric(
            "switchboard_webrtc_stun_unmapped_total",
            "counter",
            "RTP port pairs handed out with no server-reflexive address ready (STUN server \
             silent, or a burst of calls): their WebRTC legs offer the host candidate only.",
            stun.unmapped.load(Relaxed),
        );
        e.metric(
            "switchboard_codec_mismatches_total",
            "counter",
            "Calls refused with 488: no codec both sides can use, even transcoding.",
            m.codec_mismatches.load(Relaxed),
        );
        e.metric(
            "switchboard_srtp_refused_total",
            "counter",
            "Calls refused with 488: an RTP/SAVP offer with no usable a=crypto (suite, MKI or parameters we do not implement).",
            m.srtp_refused.load(Relaxed),
        );
        e.metric(
            "switchboard_srtp_calls_total",
            "counter",
            "Call legs set up with SRTP (SDES).",
            m.srtp_legs.load(Relaxed),
        );
        e.metric(
            "switchboard_refer_rejects_total",
            "counter",
            "REFERs refused (bad Refer-To, unknown or unreachable target, unknown Replaces).",
            m.refer_rejects.load(Relaxed),
        );
        e.metric(
            "switchboard_transfers_total",
            "counter",
            "Transfers carried out by REFER (blind and attended).",
            m.transfers.load(Relaxed),
        );
        let sip = [&self.internal_stats, &self.external_stats];
        let sum =
            |f: fn(&SipStats) -> &AtomicU64| sip.iter().map(|s| f(s).load(Relaxed)).sum::<u64>();
        e.metric(
            "switchboard_sip_messages_received_total",
            "counter",
            "SIP messages received and parsed.",
            sum(|s| &s.messages_in),
        );
        e.metric(
            "switchboard_sip_messages_sent_total",
            "counter",
            "SIP messages sent.",
            sum(|s| &s.messages_out),
        );
        e.metric(
            "switchboard_sip_parse_errors_total",
            "counter",
            "SIP messages that failed to parse.",
            sum(|s| &s.parse_errors),
        );
        e.metric(
            "switchboard_sip_oversized_total",
            "counter",
            "SIP messages dropped for size.",
            sum(|s| &s.oversized),
        );
        e.metric(
            "switchboard_sip_tcp_framing_errors_total",
            "counter",
            "TCP connections closed for bad framing (no Content-Length).",
            sum(|s| &s.tcp_framing_errors),
        );
        e.metric(
            "switchboard_sip_send_errors_total",
            "counter",
            "SIP sends that failed.",
            sum(|s| &s.send_errors),
        );
        e.metric(
            "switchboard_sip_tcp_connections",
            "gauge",
            "SIP TCP connections open (accepted and opened by us).",
            sip.iter().map(|s| s.tcp_open.load(Relaxed)).sum::<i64>(),
        );
        e.labelled(
            "switchboard_sip_tcp_refused_total",
            "counter",
            "SIP TCP connections closed on accept: the cap in total or per source address was reached.",
            "reason",
            &[
                ("total", sum(|s| &s.tcp_refused_total)),
                ("per_ip", sum(|s| &s.tcp_refused_per_ip)),
            ],
        );
        e.labelled(
            "switchboard_sip_tcp_timeouts_total",
            "counter",
            "SIP TCP connections closed by a deadline: no first message, a message not completed (slow-loris), idle.",
            "reason",
            &[
                ("first_message", sum(|s| &s.tcp_timeout_first_message)),
                ("message", sum(|s| &s.tcp_timeout_message)),
                ("idle", sum(|s| &s.tcp_timeout_idle)),
            ],
        );
        e.metric(
            "switchboard_sip_tcp_send_overflows_total",
            "counter",
            "SIP TCP connections dropped because the peer did not read and the send queue was full.",
            sum(|s| &s.tcp_send_overflows),
        );
        e.metric(
            "switchboard_sip_tcp_accept_errors_total",
            "counter",
            "SIP TCP accept failures (typically too many open files).",
            sum(|s| &s.tcp_accept_errors),
        );
        e.metric(
            "switchboard_sip_tls_handshake_errors_total",
            "counter",
            "SIP TLS handshakes that failed or timed out (plain text on the TLS port, untrusted certificates).",
            sum(|s| &s.tls_handshake_errors),
        );
        let gauge = |f: fn(&SipStats) -> &std::sync::atomic::AtomicI64| {
            let n: i64 = sip.iter().map(|s| f(s).load(Relaxed)).sum();
            u64::try_from(n).unwrap_or(0)
        };
        e.labelled(
            "switchboard_sip_ws_connections",
            "gauge",
            "SIP over WebSocket connections open: ws (the HTTP port's /ws), wss (the WSS port).",
            "kind",
            &[
                ("ws", gauge(|s| &s.ws_open)),
                ("wss", gauge(|s| &s.wss_open)),
            ],
        );
        e.labelled(
            "switchboard_sip_ws_refused_total",
            "counter",
            "SIP WebSocket connections refused on accept: the cap (shared with TCP and TLS) in total or per source address was reached.",
            "reason",
            &[
                ("total", sum(|s| &s.ws_refused_total)),
                ("per_ip", sum(|s| &s.ws_refused_per_ip)),
            ],
        );
        e.metric(
            "switchboard_sip_ws_handshake_errors_total",
            "counter",
            "SIP WebSocket opening handshakes refused or failed (no sip subprotocol, not a WebSocket request, too slow).",
            sum(|s| &s.ws_handshake_errors),
        );
        e.labelled(
            "switchboard_sip_ws_closed_total",
            "counter",
            "SIP WebSocket connections closed for what they sent or did not send: protocol (bad frames, no SIP), oversized (a frame over the message size cap), first_message, idle (deadlines).",
            "reason",
            &[
                ("protocol", sum(|s| &s.ws_protocol_errors)),
                ("oversized", sum(|s| &s.ws_oversized)),
                ("first_message", sum(|s| &s.ws_timeout_first_message)),
                ("idle", sum(|s| &s.ws_timeout_idle)),
            ],
        );
        e.metric(
            "switchboard_webrtc_rejects_total",
            "counter",
            "Requests over WebSocket refused with 403: the extension does not have WebRTC enabled.",
            m.webrtc_rejects.load(Relaxed),
        );
        e.metric(
            "switchboard_sip_ws_bindings_dropped_total",
            "counter",
            "Registrations removed because the WebSocket connection they were made over closed.",
            m.ws_bindings_dropped.load(Relaxed),
        );
        e.metric(
            "switchboard_cdrs_written_total",
            "counter",
            "CDR rows written.",
            m.cdrs_written.load(Relaxed),
        );
        e.metric(
            "switchboard_cdr_write_errors_total",
            "counter",
            "CDR batch writes that failed (retried).",
            m.cdr_write_errors.load(Relaxed),
        );
        e.metric(
            "switchboard_cdr_backlog",
            "gauge",
            "CDR rows waiting for the database (in memory and in the journal file).",
            m.cdr_backlog.load(Relaxed),
        );
        e.metric(
            "switchboard_cdr_journal_rows",
            "gauge",
            "CDR rows kept in the journal file while the database is away.",
            m.cdr_journal_rows.load(Relaxed),
        );
        self.gateway_metrics(&mut e);
        m.cdr_write_latency.expose(
            &mut e,
            "switchboard_cdr_write_latency_seconds",
            "From a call's final record reaching the CDR writer to its row committed.",
        );
        e.metric(
            "switchboard_extensions",
            "gauge",
            "Configured extensions.",
            self.ctx.directory.len(),
        );
        e.finish()
    }

    /// Graceful stop: refuse new calls, end active ones (BYE), write their CDRs,
    /// persist registrations.
    pub async fn shutdown(&self) {
        self.ctx.shutting_down.store(true, Relaxed);
        let calls: Vec<_> = self.ctx.calls.iter().map(|e| e.value().0.clone()).collect();
        tracing::info!("shutting down: ending {} active calls", calls.len());
        for c in calls {
            let _ = c.send(CallMsg::Shutdown);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.ctx.metrics.active_calls.load(Relaxed) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the BYEs leave before the sockets go.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.trunk_client.stop(Duration::from_secs(3)).await;
        persist_bindings(&self.ctx, &self.store).await;
        if tokio::time::timeout(Duration::from_secs(5), self.queues.flush())
            .await
            .is_err()
        {
            tracing::error!("queue records and agent status not flushed in time");
        }
        // Every call has ended, so its CDR is queued: tell the writer to flush and stop.
        let stop = self.cdr_stop.lock().ok().and_then(|mut s| s.take());
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if let Some(done) = self.cdr_done.lock().await.take() {
            match tokio::time::timeout(Duration::from_secs(10), done).await {
                Ok(_) => tracing::info!("CDRs flushed"),
                Err(_) => tracing::error!("CDR writer did not finish in time"),
            }
        }
        self.store.close().await;
        let rt = self.media_rt.lock().ok().and_then(|mut r| r.take());
        drop(rt);
    }
}

/// Ends the records of the calls that were up when the last server process
/// died without ending them (crash, kill -9, power loss), at their last known
/// time. Runs before the CDR writer starts (its heartbeat would make them look
/// alive) and before any call is taken.
/// The address of `[media] stun_server` (`host`, `port`), of the family of
/// the RTP sockets bound to `bind` (an IPv4 socket cannot ask an IPv6
/// server). Resolved once, at start-up: a name that does not resolve is a
/// configuration error the operator sees at once, not a silent failure at
/// every call.
async fn resolve_stun_server(
    host: &str,
    port: u16,
    bind: std::net::IpAddr,
) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("media.stun_server: cannot resolve '{host}'"))?
        .collect();
    let usable = |a: &SocketAddr| match bind {
        std::net::IpAddr::V4(_) => a.is_ipv4(),
        std::net::IpAddr::V6(v6) => v6.is_unspecified() || a.is_ipv6(),
    };
    addrs.iter().copied().find(usable).ok_or_else(|| {
        anyhow::anyhow!(
            "media.stun_server: '{host}' has no address of the family of server.bind ({bind}): {addrs:?}"
        )
    })
}

async fn close_cut_cdrs(store: &Store) -> anyhow::Result<()> {
    let cause = crate::calls::HangupCause::ServerRestart.as_str();
    let closed = store
        .close_in_progress_cdrs(cause)
        .await
        .context("closing the CDRs of calls cut by the last stop")?;
    if closed > 0 {
        tracing::warn!(
            "closed {closed} CDRs of calls that were up when the server last stopped \
             without ending them (hangup cause {cause}, ended at their last known time)"
        );
    }
    Ok(())
}

/// Gives the call-center settings to the queue service and to calls, and
/// restores the agents' status.
async fn load_callcenter(
    ctx: &Ctx,
    queues: &QueueService,
    store: &Store,
    settings: crate::services::callcenter_settings::CallcenterSettings,
) -> anyhow::Result<()> {
    use callcenter::acd::AcdInput;
    let none = crate::services::callcenter_settings::CallcenterSettings::default();
    crate::services::callcenter_settings::apply(queues, &none, &settings).await;
    // Agent status survives a restart (state does not: their calls are gone).
    for row in store.list_agents().await.context("reading agent status")? {
        if !settings.agents.iter().any(|a| a.id == row.id) {
            continue;
        }
        let Ok(status) = row.status.parse::<callcenter::acd::AgentStatus>() else {
            continue;
        };
        if status == callcenter::acd::AgentStatus::LoggedOut {
            continue;
        }
        queues
            .admin(AcdInput::SetAgentStatus {
                agent: row.id.clone(),
                status,
            })
            .await
            .map_err(|e| anyhow::anyhow!("restoring agent {}: {e}", row.id))?;
        tracing::info!("agent {} restored as {status}", row.id);
    }
    if !settings.queues.is_empty() || !settings.ivr.is_empty() {
        tracing::info!(
            "call center: {} queues, {} agents, {} tiers, {} IVR menus, {} routing rules",
            settings.queues.len(),
            settings.agents.len(),
            settings.tiers.len(),
            settings.ivr.len(),
            settings.routes.len()
        );
    }
    ctx.callcenter.set(settings);
    Ok(())
}

/// Checks the config file's call-center settings against the extensions in
/// `store`, the built-in prompts and the applications (`check-config`).
pub async fn check_ivrs(cfg: &Config, store: &Store) -> anyhow::Result<()> {
    let refs = crate::services::callcenter_settings::References::read(cfg, store).await?;
    crate::services::callcenter_settings::CallcenterSettings::from_config(&cfg.callcenter)
        .validate(&cfg.apps, Some(&refs))?;
    Ok(())
}

/// Decodes the built-in sounds into the cache off the async threads; a file
/// that cannot be played is reported now, by name, not in the middle of a call.
async fn preload_sounds(ctx: Arc<Ctx>) {
    let dir = ctx.cfg.media.sounds_dir.clone();
    let cache = ctx.audio_cache.clone();
    let loaded =
        tokio::task::spawn_blocking(move || crate::base::sounds::preload(&dir, 8000, &cache)).await;
    match loaded {
        Ok((ok, errors)) => {
            for e in &errors {
                tracing::error!("sound refused: {e}");
            }
            tracing::info!(
                "{ok} sounds loaded from {}, {} refused",
                ctx.cfg.media.sounds_dir.display(),
                errors.len()
            );
        }
        Err(e) => tracing::error!("loading sounds failed: {e}"),
    }
}

/// The media runtime, shut down without blocking when dropped: dropping a tokio
/// runtime inside async code (an error path of `Engine::start`) would panic.
struct MediaRuntime(Option<tokio::runtime::Runtime>);

impl Drop for MediaRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

async fn seed(store: &Store, cfg: &Config) -> anyhow::Result<()> {
    if cfg.seed.extensions.trim().is_empty() {
        return Ok(());
    }
    let numbers = store::parse_numbers(&cfg.seed.extensions).context("seed.extensions")?;
    let random = cfg.seed.password.is_empty();
    let exts: Vec<store::Extension> = numbers
        .into_iter()
        .map(|number| store::Extension {
            number,
            password: if random {
                demo_password()
            } else {
                cfg.seed.password.clone()
            },
            display_name: String::new(),
            enabled: true,
            ..Default::default()
        })
        .collect();
    let n = store.seed_extensions_if_empty(&exts).await?;
    if n == 0 {
        return Ok(());
    }
    tracing::info!(
        "first run: seeded {n} demo extensions ({})",
        cfg.seed.extensions
    );
    if random {
        let path = cfg.server.data_dir.join(DEMO_PASSWORDS_FILE);
        let mut text = String::from(
            "# Demo extensions created on the first run, with their random passwords.\n\
             # Shown once; change or remove them before exposing the server.\n",
        );
        for e in &exts {
            text.push_str(&format!("{} {}\n", e.number, e.password));
            tracing::info!("demo extension {}: password {}", e.number, e.password);
        }
        match write_private(&path, &text) {
            Ok(()) => tracing::info!("demo extension passwords written to {}", path.display()),
            Err(e) => tracing::warn!(
                "demo extension passwords could not be written to {}: {e} (they are in this log only)",
                path.display()
            ),
        }
    }
    Ok(())
}

/// Where the random passwords of the demo extensions are written (in the
/// data directory).
pub const DEMO_PASSWORDS_FILE: &str = "demo-extensions.txt";

/// A random demo password: 12 letters and digits (about 71 bits), none of
/// the look-alike characters (0/O, 1/l/I) that are misread from a screen.
fn demo_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..12)
        .map(|_| char::from(CHARS[fastrand::usize(..CHARS.len())]))
        .collect()
}

/// Writes `text` to `path`, readable and writable by the owner only.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Re-reads the extensions if they changed; the phones of removed ones
/// are dropped from the registrar.
async fn refresh_directory(ctx: &Ctx) {
    match ctx.directory.refresh(&ctx.store).await {
        Ok(Some(removed)) => {
            tracing::info!("extensions reloaded ({} now)", ctx.directory.len());
            for r in removed {
                ctx.registrar.remove_aor(&r);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("reloading extensions failed: {e}"),
    }
}

/// TCP phones that neither send keep-alives nor get our OPTIONS pings more
/// often than the idle timeout lose their connection, and with it the calls
/// to them (until they register again): say so at start.
fn warn_tcp_keepalive(cfg: &Config) {
    let idle = cfg.sip.tcp.idle_timeout_secs;
    let ping = cfg.sip.ping_secs;
    if ping == 0 || ping >= idle {
        tracing::warn!(
            "sip.tcp.idle_timeout_secs is {idle} and sip.ping_secs is {ping}: phones on TCP are \
             disconnected after {idle} s without traffic unless they send keep-alives; set \
             sip.ping_secs below {idle}"
        );
    }
}

/// Keeps the extensions, the voice lists and the call-center settings in
/// step with the database, whoever changed it (the web admin, the CLI,
/// another server on the same PostgreSQL). Changes are announced by the
/// store's settings watch (LISTEN/NOTIFY on PostgreSQL, a one-query poll of
/// the change counters on SQLite); every area is also re-read now and then
/// as a safety net, and every second if the watch cannot be started.
async fn directory_loop(
    ctx: Arc<Ctx>,
    edge: Arc<Edge>,
    queues: QueueService,
    store: Store,
    trunk_client: crate::sip::trunk_client::TrunkClient,
) {
    let mut callcenter_version = store
        .config_version(store::CALLCENTER_VERSION)
        .await
        .unwrap_or(0);
    let mut watch = match store.watch_settings().await {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("settings changes will be polled every second: {e}");
            None
        }
    };
    let period = if watch.is_some() { 60 } else { 1 };
    let mut resync = tokio::time::interval(Duration::from_secs(period));
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let area = tokio::select! {
            change = next_change(&mut watch) => match change {
                Some(store::SettingsChange::Changed(area)) => Some(area),
                Some(store::SettingsChange::Resync) => None,
                None => {
                    tracing::warn!("the settings watch ended; polling every second");
                    watch = None;
                    resync = tokio::time::interval(Duration::from_secs(1));
                    None
                }
            },
            _ = resync.tick() => None,
        };
        let all = area.is_none();
        let is = |name: &str| all || area.as_deref() == Some(name);
        if is(store::EXTENSIONS_VERSION) {
            refresh_directory(&ctx).await;
        }
        if is(store::GATEWAYS_VERSION) {
            trunk_client.reload();
        }
        if is(store::VOICE_VERSION) {
            match edge.voice.refresh(&store, false).await {
                Ok(true) => tracing::info!("voice lists reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!("reloading the voice lists failed: {e}"),
            }
        }
        if is(store::CALLCENTER_VERSION) {
            match store.config_version(store::CALLCENTER_VERSION).await {
                Ok(v) if v != callcenter_version => {
                    // Our own changes come back this way too; applying the
                    // same settings again changes nothing.
                    match SettingsAdmin::new(&ctx, &queues).reload().await {
                        Ok(()) => tracing::debug!("call-center settings reloaded"),
                        Err(e) => tracing::warn!("call-center settings not reloaded: {e}"),
                    }
                    callcenter_version = v;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("reading the call-center settings version failed: {e}")
                }
            }
        }
    }
}

/// The watch's next change; never, without a watch.
async fn next_change(watch: &mut Option<store::SettingsWatch>) -> Option<store::SettingsChange> {
    match watch {
        Some(w) => w.recv().await,
        None => std::future::pending().await,
    }
}

async fn registrar_loop(ctx: Arc<Ctx>, store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let n = ctx.registrar.sweep(now_ms());
        if n > 0 {
            tracing::debug!("{n} registrations expired");
        }
        persist_bindings(&ctx, &store).await;
    }
}

/// Write changed bindings behind, in one transaction.
async fn persist_bindings(ctx: &Ctx, store: &Store) {
    let dirty = ctx.registrar.take_dirty();
    if dirty.is_empty() {
        return;
    }
    let batch: Vec<(String, Vec<store::BindingRow>)> = dirty
        .into_iter()
        .map(|(aor, list)| {
            let rows = list
                .into_iter()
                .map(|b| store::BindingRow {
                    aor: aor.clone(),
                    contact: b.contact,
                    source: format!(
                        "{}:{}",
                        b.source.transport.via_token().to_ascii_lowercase(),
                        b.source.addr
                    ),
                    expires_at: b.expires_at as i64,
                    user_agent: b.user_agent,
                    call_id: b.call_id,
                    cseq: i64::from(b.cseq),
                    q_value: b.q,
                    params: b.params,
                })
                .collect();
            (aor, rows)
        })
        .collect();
    if let Err(e) = store.save_bindings_batch(&batch).await {
        // Keep them dirty so the next tick writes them; otherwise nothing would
        // until those phones re-register, and a restart would restore stale rows.
        tracing::warn!(
            "saving {} registrations failed, will retry: {e}",
            batch.len()
        );
        for (aor, _) in &batch {
            ctx.registrar.mark_dirty(aor);
        }
    }
}

async fn restore_bindings(ctx: &Ctx, store: &Store) {
    match store.load_bindings(now_ms() as i64).await {
        Ok(rows) => {
            let n = rows.len();
            for r in rows {
                let Some(source) = parse_source(&r.source) else {
                    continue;
                };
                ctx.registrar.restore(
                    &r.aor,
                    Binding {
                        contact: r.contact,
                        params: r.params,
                        source,
                        expires_at: r.expires_at.max(0) as u64,
                        user_agent: r.user_agent,
                        call_id: r.call_id,
                        cseq: u32::try_from(r.cseq).unwrap_or(0),
                        q: r.q_value,
                    },
                );
            }
            if n > 0 {
                tracing::info!("restored {n} registrations");
            }
        }
        Err(e) => tracing::warn!("restoring registrations failed: {e}"),
    }
}

/// "udp:1.2.3.4:5060" back to a peer.
fn parse_source(s: &str) -> Option<Peer> {
    let (t, addr) = s.split_once(':')?;
    let addr: SocketAddr = addr.parse().ok()?;
    let transport = match t {
        "udp" => TransportKind::Udp,
        "tcp" => TransportKind::Tcp,
        "tls" => TransportKind::Tls,
        _ => return None,
    };
    Some(Peer { transport, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_sources_round_trip() {
        let p = parse_source("tcp:[::1]:5062").expect("parses");
        assert_eq!(p, Peer::tcp("[::1]:5062".parse().expect("addr")));
        assert_eq!(
            parse_source("udp:10.0.0.1:5060"),
            Some(Peer::udp("10.0.0.1:5060".parse().expect("addr")))
        );
        assert_eq!(parse_source("sctp:1.2.3.4:1"), None);
    }
}
