//! Process settings, read from `conf/switchboard.toml`; every port, path and
//! database setting can also be given by flag or environment variable (the
//! binary applies those on top).

use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

/// Everything the engine needs to start.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening addresses, ports and paths.
    pub server: ServerConfig,
    /// SIP protocol settings.
    pub sip: SipConfig,
    /// Call handling.
    pub calls: CallsConfig,
    /// Anchored media.
    pub media: MediaConfig,
    /// The external (trunk) profile.
    pub trunk: TrunkConfig,
    /// Call recording.
    pub recording: RecordingConfig,
    /// Voicemail.
    pub voicemail: VoicemailConfig,
    /// Built-in test extensions and application numbers.
    pub apps: AppsConfig,
    /// Queues, agents and tiers.
    pub callcenter: CallcenterConfig,
    /// First-run seed data.
    pub seed: SeedConfig,
    /// The web admin's HTTP listener and outbound calls.
    pub web: WebConfig,
}

/// Listening addresses, ports and paths.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address every socket binds to.
    pub bind: IpAddr,
    /// Address put in Via, Contact and SDP. Defaults to `bind`, or 127.0.0.1 when bind is unspecified.
    pub advertise: Option<IpAddr>,
    /// Internal profile (phones).
    pub sip_port: u16,
    /// External profile (trunks).
    pub trunk_port: u16,
    /// Web and metrics.
    pub http_port: u16,
    /// RTP port range, "LOW-HIGH".
    pub rtp_ports: String,
    /// Data directory (database, state).
    pub data_dir: PathBuf,
    /// Database URL; default `sqlite://<data_dir>/switchboard.db`.
    pub database_url: Option<String>,
    /// Log every SIP message.
    pub log_sip: bool,
    /// Threads of the dedicated media runtime; 0 = one per CPU core.
    pub media_threads: usize,
}

/// SIP protocol settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Digest realm.
    pub realm: String,
    /// Digest algorithms offered, most preferred first ("SHA-256", "MD5");
    /// default MD5 alone, which every softphone answers.
    pub auth_algorithms: Vec<String>,
    /// Nonce lifetime; older nonces get a stale=true challenge.
    pub nonce_ttl_secs: u64,
    /// REGISTER Expires below this gets 423.
    pub min_expires: u32,
    /// Expires above this is cut down.
    pub max_expires: u32,
    /// Used when REGISTER gives no Expires.
    pub default_expires: u32,
    /// Contacts kept per extension.
    pub max_contacts: usize,
    /// Auth failures from one address for one username (within `auth_ban_secs`)
    /// before the address is ignored (see `auth_guard`).
    pub auth_fail_limit: u32,
    /// How long an address is ignored after too many failures; also the window
    /// failures are counted in.
    pub auth_ban_secs: u64,
    /// RFC 3261 T1 in milliseconds.
    pub t1_ms: u64,
    /// Keep-alive OPTIONS to every registered phone this often, seconds
    /// (0: never). Keeps NAT bindings open and shows which phones answer.
    pub ping_secs: u64,
    /// Server / User-Agent header value ("" sends none).
    pub user_agent: String,
    /// Caps and timeouts of SIP over TCP (`[sip.tcp]`); TLS connections
    /// are held to the same ones.
    pub tcp: SipTcpConfig,
    /// Port of SIP over TLS for phones (internal profile); 0: no TLS
    /// listener. Gateways with `transport = tls` work either way.
    pub tls_port: u16,
    /// Port of SIP over secure WebSocket (RFC 7118) for browsers
    /// (internal profile); 0: none. Same certificate as `tls_port`. Plain
    /// `ws` is on the HTTP port's `/ws` path.
    pub wss_port: u16,
    /// Port of SIP over TLS on the trunk side (external profile), for
    /// carriers that send calls over TLS and for the requests a TLS
    /// gateway sends back to our Contact; 0: none (calls out over TLS
    /// still work, but a carrier cannot open a connection to us).
    pub trunk_tls_port: u16,
    /// PEM file of the TLS certificate chain (leaf first). With neither
    /// this nor `tls_key`, a self-signed certificate is made on first run
    /// in `<data_dir>/tls/`.
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the TLS certificate's private key.
    pub tls_key: Option<PathBuf>,
    /// PEM file of more certificate authorities to trust for gateways over
    /// TLS (a carrier's private CA), besides the Mozilla roots.
    pub tls_ca: Option<PathBuf>,
}

/// Caps and timeouts of SIP over TCP, per profile (5060 and 5080 each).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipTcpConfig {
    /// Accepted connections open at once; more are closed as they come.
    pub max_connections: usize,
    /// Accepted connections open at once from one address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// A new connection that has not sent a complete message by then is closed.
    pub first_message_timeout_secs: u64,
    /// A message that has started must be complete within this (slow-loris).
    pub message_timeout_secs: u64,
    /// A connection with no message and no CRLF keep-alive for this long is closed.
    pub idle_timeout_secs: u64,
    /// Bytes waiting to be written to one peer before it is disconnected
    /// for not reading.
    pub send_queue_bytes: usize,
}

impl Default for SipTcpConfig {
    fn default() -> Self {
        let d = sip::transport::TcpLimits::default();
        SipTcpConfig {
            max_connections: d.max_connections,
            max_connections_per_ip: d.max_per_ip,
            first_message_timeout_secs: d.first_message_timeout.as_secs(),
            message_timeout_secs: d.message_timeout.as_secs(),
            idle_timeout_secs: d.idle_timeout.as_secs(),
            send_queue_bytes: d.send_queue_bytes,
        }
    }
}

impl SipTcpConfig {
    /// The limits the transports take.
    pub fn limits(&self) -> sip::transport::TcpLimits {
        sip::transport::TcpLimits {
            max_connections: self.max_connections,
            max_per_ip: self.max_connections_per_ip,
            first_message_timeout: std::time::Duration::from_secs(self.first_message_timeout_secs),
            message_timeout: std::time::Duration::from_secs(self.message_timeout_secs),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            send_queue_bytes: self.send_queue_bytes,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (name, v) in [
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            (
                "first_message_timeout_secs",
                self.first_message_timeout_secs,
            ),
            ("message_timeout_secs", self.message_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if v == 0 {
                anyhow::bail!("sip.tcp.{name} must be at least 1");
            }
        }
        // One message of the largest size must fit, or it could never be sent.
        if self.send_queue_bytes < sip::parse::MAX_MESSAGE_SIZE {
            anyhow::bail!(
                "sip.tcp.send_queue_bytes: {} is less than one message of the largest size ({})",
                self.send_queue_bytes,
                sip::parse::MAX_MESSAGE_SIZE
            );
        }
        Ok(())
    }
}

/// Checks a Server / User-Agent value: a header value of printable ASCII
/// (no CR or LF that would start another header), of sane length.
fn validate_user_agent(v: &str) -> anyhow::Result<()> {
    if v.len() > 128 {
        anyhow::bail!("sip.user_agent: longer than 128 characters");
    }
    if let Some(c) = v.chars().find(|c| !(' '..='~').contains(c)) {
        anyhow::bail!("sip.user_agent: {c:?} is not allowed (printable ASCII only)");
    }
    if v.trim() != v {
        anyhow::bail!("sip.user_agent: no leading or trailing spaces");
    }
    Ok(())
}

/// Call handling.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallsConfig {
    /// Ring time before a call is given up as not answered.
    pub no_answer_secs: u64,
    /// How often the CDR rows of answered calls in progress get their "last
    /// seen" time refreshed: after a crash, such a call's record ends at most
    /// this long before the crash. At least 1.
    pub cdr_heartbeat_secs: u64,
    /// CDR rows kept in memory while the database is away; beyond this
    /// they go to the journal file `cdr-journal.jsonl` in the data
    /// directory, written to the database when it is back. At least 1.
    pub cdr_backlog_max: usize,
}

/// Anchored media.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// A call with no RTP for this long (not while on hold) is hung up.
    pub rtp_timeout_secs: u64,
    /// After a leg's first RTP packet latches, how long the same stream may
    /// still move to another port of its address (a NAT settling); after it
    /// the latch is fixed until a re-INVITE names a new address.
    pub rtp_learning_ms: u64,
    /// Codecs we offer and accept, most preferred first ("PCMU", "PCMA",
    /// "G722", "OPUS"; any case). Opus needs the system's libopus at run
    /// time (Debian package libopus0): listed without it, start-up fails
    /// saying so. The default leaves Opus out.
    pub codecs: Vec<String>,
    /// ICE on browsers' legs: "lite" (the server answers checks only; it
    /// needs an advertised address browsers can reach) or "full" (it also
    /// sends checks, for a server behind NAT whose advertised address
    /// browsers cannot reach: its checks open the way out).
    pub webrtc_ice: String,
    /// A STUN server ("host:port", a hostname or an IP; port 3478 when
    /// left out) that tells a server behind NAT the public address of each
    /// browser leg's RTP port: the leg then offers it as a server-reflexive
    /// candidate (`typ srflx`) beside its host candidate, so that browsers
    /// can reach the server even before its own checks opened the NAT.
    /// Each port is asked from its own socket (NATs map ports one by one),
    /// ahead of the calls that use it; a server that does not answer
    /// within 500 ms leaves the legs with their host candidate
    /// (`switchboard_webrtc_stun_failures_total`). Resolved once at
    /// start-up. Needs `webrtc_ice = "full"`. Empty: none.
    pub stun_server: String,
    /// Opus encoder complexity, 0 (cheapest) to 10 (libopus's own
    /// default): 1 (the default) costs a fifth of 10 per frame; raise it
    /// on a server with few calls for a little more quality.
    pub opus_complexity: i32,
    /// Call-progress tones by country ("cn", "us", "uk", "de").
    pub tone_plan: String,
    /// Built-in prompts (`<sounds_dir>/<language>/...`, `<sounds_dir>/moh/`).
    pub sounds_dir: PathBuf,
    /// Language of the built-in prompts ("en" or "zh").
    pub language: String,
    /// When the callee rings without early media (180, no SDP), answer the
    /// caller's offer ourselves (183) and play the tone plan's ringback,
    /// instead of passing the 180 on for the caller's phone to ring itself.
    pub local_ringback: bool,
    /// Uploaded media resources are kept here.
    pub uploads_dir: PathBuf,
    /// Largest media upload accepted, bytes.
    pub max_upload_bytes: usize,
}

/// Call recording.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// Record every answered call between two parties.
    pub enabled: bool,
    /// "stereo" (caller left, callee right) or "mono" (both mixed).
    pub layout: String,
    /// 8000 or 16000.
    pub rate: u32,
    /// Where recordings go, in one directory per date (YYYY/MM/DD).
    pub dir: PathBuf,
    /// File name template: ${date} ${time} ${caller} ${callee} ${call_id}.
    pub template: String,
}

/// Voicemail: a call to an extension that does not answer (or is busy, or
/// not registered) goes to the extension's voicemail.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoicemailConfig {
    /// Voicemail on or off.
    pub enabled: bool,
    /// When the extension does not answer in `calls.no_answer_secs`.
    pub on_no_answer: bool,
    /// When the extension is busy (486/600).
    pub on_busy: bool,
    /// When the extension is not registered.
    pub on_unavailable: bool,
    /// Where messages go, one directory per extension.
    pub dir: PathBuf,
    /// Longest message.
    pub max_secs: u64,
}

impl Default for VoicemailConfig {
    fn default() -> Self {
        VoicemailConfig {
            enabled: false,
            on_no_answer: true,
            on_busy: true,
            on_unavailable: true,
            dir: PathBuf::from("media/voicemail"),
            max_secs: 120,
        }
    }
}

/// Built-in test extensions (empty string = off).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppsConfig {
    /// Echo test: what the caller says is played back.
    pub echo: String,
    /// DTMF readback: every key pressed is read back (spoken digits) and reported.
    pub readback: String,
    /// Tone test: plays a 1 kHz tone, then the tone plan's ringback.
    pub tone: String,
    /// Conference: every caller of this number joins one room.
    pub conference: String,
    /// Dial-through: asks for an extension (digits then #) and connects to it.
    pub dial: String,
    /// Queue numbers: number -> queue name (callers of the number wait in it).
    pub queues: std::collections::BTreeMap<String, String>,
    /// IVR numbers: number -> the id of the IVR's top menu.
    pub ivr: std::collections::BTreeMap<String, String>,
    /// Feature code of supervisor monitoring: this prefix + an extension.
    pub eavesdrop: String,
    /// Extensions allowed to monitor calls.
    pub supervisors: Vec<String>,
    /// Feature code of directed pickup (intercept): this prefix + an extension.
    pub pickup: String,
    /// Feature code of group pickup: a call ringing in the caller's pickup group.
    pub group_pickup: String,
}

/// Call-center settings read at start (the web admin edits them in the
/// database in a later issue): queues, agents and tiers, with the ACD's
/// settings (FreeSWITCH mod_callcenter names, kebab-case).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallcenterConfig {
    /// Queues.
    pub queues: Vec<callcenter::acd::QueueConfig>,
    /// Agents.
    pub agents: Vec<callcenter::acd::AgentConfig>,
    /// Which agent is in which queue, at what level and position.
    pub tiers: Vec<callcenter::acd::TierConfig>,
    /// IVR menus (`[[callcenter.ivr]]`), entered by the numbers of `apps.ivr`.
    pub ivr: Vec<callcenter::ivr::IvrMenu>,
    /// Routing rules (`[[callcenter.routes]]`, manual 3.2.3), tried after the
    /// built-in numbers of `[apps]`; none means only the basic rule
    /// `^(\d{3,4})$` (local extensions). Validated as they are read: an error
    /// names the rule. `id` and `order` may be left out (see `routes_from_list`).
    #[serde(deserialize_with = "routes_from_list")]
    pub routes: callcenter::routing::RouteTable,
}

/// Reads `[[callcenter.routes]]`. `id` and `order` may be left out of every
/// rule: the ids are then 1, 2, ... and the list order is the matching order
/// (orders 10, 20, ...). Where any rule gives one, all are used as written
/// (and must be unique).
fn routes_from_list<'de, D>(d: D) -> Result<callcenter::routing::RouteTable, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let mut rules = Vec::<callcenter::routing::Rule>::deserialize(d)?;
    if rules.iter().all(|r| r.id == 0) {
        for (rule, id) in rules.iter_mut().zip(1..) {
            rule.id = id;
        }
    }
    if rules.iter().all(|r| r.order == 0) {
        for (rule, order) in rules.iter_mut().zip((10..).step_by(10)) {
            rule.order = order;
        }
    }
    callcenter::routing::RouteTable::new(rules).map_err(serde::de::Error::custom)
}

impl CallcenterConfig {
    /// The routing rules, if any are configured.
    pub fn route_table(&self) -> Option<&callcenter::routing::RouteTable> {
        (!self.routes.is_empty()).then_some(&self.routes)
    }
}

/// External profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrunkConfig {
    /// Addresses (CIDR) allowed to send INVITEs to the trunk port.
    pub acl: Vec<String>,
    /// Toll-fraud guard: most outbound calls one extension may have in
    /// progress at once (0: no limit).
    pub max_outbound_per_extension: u32,
    /// Most outbound calls in progress at once, all callers together (0: no
    /// limit beyond each gateway's own).
    pub max_outbound_calls: u32,
    /// Dialled numbers (as an outbound rule sends them, before a gateway's
    /// prefix) matching one of these regular expressions are refused with
    /// 403, unless they also match one of `allow_dial`. By default
    /// international numbers (`00...`, `+...`) are off-limits until allowed.
    pub deny_dial: Vec<String>,
    /// Exceptions to `deny_dial` (e.g. `^0044` for one country).
    pub allow_dial: Vec<String>,
    /// An extension that places more than this many outbound calls in 10
    /// minutes, and more than five times its own 10-minute average of the
    /// last day, raises the toll-fraud alarm (log and metric); 0: never.
    pub alarm_calls_per_10min: u32,
}

/// First-run seed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedConfig {
    /// Extensions to create on first run, in the batch syntax ("1000-1019").
    pub extensions: String,
    /// Their password; empty (the default): each gets its own random one,
    /// shown once in the log and written to `<data_dir>/demo-extensions.txt`
    /// (readable by the owner only), so that no two installations share a
    /// published password.
    pub password: String,
}

/// The web admin's HTTP listener (limits that keep idle, slow and
/// numerous connections from starving it) and its outbound calls.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// A connection must send a complete request head within this time of
    /// opening, or of its previous response (slow-loris and idle keep-alive).
    pub header_read_timeout_secs: u64,
    /// A connection with no byte received or sent for this long is closed
    /// (a stalled upload or download; live pages send every 15 s).
    pub idle_timeout_secs: u64,
    /// Open HTTP connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open HTTP connections per client address at most (IPv6: per /64).
    pub max_connections_per_ip: usize,
    /// Let the SMS gateway URL point at loopback, link-local or cloud
    /// metadata addresses (off: a stolen admin session cannot make the
    /// server probe itself).
    pub sms_allow_private_targets: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 512,
            max_connections_per_ip: 64,
            sms_allow_private_targets: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            sip: SipConfig::default(),
            calls: CallsConfig::default(),
            media: MediaConfig::default(),
            trunk: TrunkConfig {
                acl: vec!["127.0.0.0/8".into(), "::1/128".into()],
                max_outbound_per_extension: 4,
                max_outbound_calls: 0,
                deny_dial: vec![r"^00".into(), r"^\+".into()],
                allow_dial: Vec::new(),
                alarm_calls_per_10min: 30,
            },
            recording: RecordingConfig::default(),
            voicemail: VoicemailConfig::default(),
            apps: AppsConfig::default(),
            callcenter: CallcenterConfig::default(),
            seed: SeedConfig::default(),
            web: WebConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: IpAddr::from([0, 0, 0, 0]),
            advertise: None,
            sip_port: 5060,
            trunk_port: 5080,
            http_port: 8080,
            rtp_ports: "16384-32767".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            log_sip: false,
            media_threads: 0,
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            realm: "switchboard".into(),
            // One challenge: baresip 1.0 (Debian 12's) gives up on a 401
            // with two WWW-Authenticate headers instead of answering the MD5
            // one ("Function not implemented").
            auth_algorithms: vec!["MD5".into()],
            nonce_ttl_secs: 300,
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts: 10,
            auth_fail_limit: 10,
            auth_ban_secs: 300,
            t1_ms: 500,
            ping_secs: 0,
            user_agent: sip::message::DEFAULT_USER_AGENT.into(),
            tcp: SipTcpConfig::default(),
            // Off unless configured: tests and second instances would
            // otherwise collide on 5061 (conf/switchboard.toml turns it on).
            tls_port: 0,
            wss_port: 0,
            trunk_tls_port: 0,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
        }
    }
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            no_answer_secs: 30,
            cdr_heartbeat_secs: 15,
            cdr_backlog_max: 100_000,
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_timeout_secs: 60,
            rtp_learning_ms: media::latch::DEFAULT_LEARNING_MS,
            codecs: vec!["PCMU".into(), "PCMA".into(), "G722".into()],
            opus_complexity: media::codec::opus::DEFAULT_COMPLEXITY,
            webrtc_ice: "lite".into(),
            stun_server: String::new(),
            tone_plan: "cn".into(),
            sounds_dir: PathBuf::from("sounds"),
            language: "en".into(),
            local_ringback: false,
            uploads_dir: PathBuf::from("media/prompts"),
            max_upload_bytes: 20 * 1024 * 1024,
        }
    }
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            enabled: false,
            layout: "stereo".into(),
            rate: 8000,
            dir: PathBuf::from("media/recordings"),
            template: media::recorder::DEFAULT_TEMPLATE.into(),
        }
    }
}

impl Default for AppsConfig {
    fn default() -> Self {
        AppsConfig {
            echo: "9196".into(),
            readback: "9197".into(),
            tone: "9198".into(),
            conference: "9300".into(),
            dial: "9199".into(),
            queues: Default::default(),
            ivr: Default::default(),
            eavesdrop: "88".into(),
            supervisors: Vec::new(),
            pickup: "**".into(),
            group_pickup: "*8".into(),
        }
    }
}

impl Default for TrunkConfig {
    fn default() -> Self {
        Config::default().trunk
    }
}

impl Config {
    /// Parse TOML text.
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = toml::from_str(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// `[media] stun_server` split into host and port (None when empty).
    /// A set server with ICE-lite is an error, not a warning: an ICE-lite
    /// agent has host candidates only (RFC 8445 §2.5), so the server would
    /// be asked for nothing, and an operator who configured one expects
    /// it to be used.
    pub fn stun_server(&self) -> anyhow::Result<Option<(String, u16)>> {
        let text = self.media.stun_server.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if self.media.webrtc_ice != "full" {
            anyhow::bail!(
                "media.stun_server: needs media.webrtc_ice = \"full\" (with ICE-lite the \
                 server offers host candidates only, RFC 8445 2.5, and would never use the \
                 address the STUN server gives)"
            );
        }
        let bad = |why: &str| anyhow::anyhow!("media.stun_server: '{text}' {why}");
        // "[v6]:port", "[v6]", "host:port", "host", or a bare IPv6 address.
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("has no closing ']'"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| bad("is not [address]:port"))?,
                    ),
                ),
            }
        } else if text.parse::<std::net::Ipv6Addr>().is_ok() {
            (text, None)
        } else {
            match text.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        let port = match port {
            None => media::stun::DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad("has no valid port (1-65535)")),
            },
        };
        let hostname_ok = host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if host.is_empty() || !(host.parse::<std::net::IpAddr>().is_ok() || hostname_ok) {
            return Err(bad("is not host:port (a hostname or an IP address)"));
        }
        Ok(Some((host.to_string(), port)))
    }

    /// Check values that would otherwise fail late.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.rtp_range()?;
        for a in &self.sip.auth_algorithms {
            a.parse::<sip::auth::Algorithm>()
                .map_err(|_| anyhow::anyhow!("sip.auth_algorithms: unknown algorithm '{a}'"))?;
        }
        if self.sip.auth_algorithms.is_empty() {
            anyhow::bail!("sip.auth_algorithms: at least one algorithm is needed");
        }
        for a in &self.trunk.acl {
            crate::base::acl::Cidr::parse(a).map_err(|e| anyhow::anyhow!("trunk.acl: {e}"))?;
        }
        crate::base::toll_guard::DialPolicy::new(&self.trunk.deny_dial, &self.trunk.allow_dial)?;
        self.codecs()?;
        if !matches!(self.media.webrtc_ice.as_str(), "lite" | "full") {
            anyhow::bail!(
                "media.webrtc_ice: '{}' is not lite or full",
                self.media.webrtc_ice
            );
        }
        self.stun_server()?;
        if !(0..=10).contains(&self.media.opus_complexity) {
            anyhow::bail!(
                "media.opus_complexity: {} is not 0 to 10",
                self.media.opus_complexity
            );
        }
        self.tone_plan()?;
        if !matches!(self.media.language.as_str(), "en" | "zh") {
            anyhow::bail!(
                "media.language: '{}' is not one of en, zh",
                self.media.language
            );
        }
        self.record_layout()?;
        crate::base::callcenter_settings::CallcenterSettings::from_config(&self.callcenter)
            .validate(&self.apps, None)
            .map_err(|e| anyhow::anyhow!("callcenter: {e}"))?;
        if !matches!(self.recording.rate, 8000 | 16000) {
            anyhow::bail!(
                "recording.rate: {} is not 8000 or 16000",
                self.recording.rate
            );
        }
        if self.sip.tls_cert.is_some() != self.sip.tls_key.is_some() {
            anyhow::bail!(
                "sip.tls_cert and sip.tls_key: give both, or neither for a self-signed certificate"
            );
        }
        if self.sip.tls_port != 0
            && (self.sip.tls_port == self.server.sip_port
                || self.sip.tls_port == self.server.trunk_port)
        {
            anyhow::bail!(
                "sip.tls_port: {} is taken by the SIP or trunk port (TCP)",
                self.sip.tls_port
            );
        }
        let taken = [
            self.server.sip_port,
            self.server.trunk_port,
            self.sip.tls_port,
        ];
        if self.sip.trunk_tls_port != 0 && taken.contains(&self.sip.trunk_tls_port) {
            anyhow::bail!(
                "sip.trunk_tls_port: {} is taken by the SIP, trunk or TLS port (TCP)",
                self.sip.trunk_tls_port
            );
        }
        if self.sip.wss_port != 0
            && [
                self.server.sip_port,
                self.server.trunk_port,
                self.sip.tls_port,
                self.sip.trunk_tls_port,
                self.server.http_port,
            ]
            .contains(&self.sip.wss_port)
        {
            anyhow::bail!(
                "sip.wss_port: {} is taken by the SIP, trunk, TLS, trunk TLS or HTTP port",
                self.sip.wss_port
            );
        }
        if self.sip.min_expires > self.sip.max_expires {
            anyhow::bail!("sip.min_expires is larger than sip.max_expires");
        }
        let w = &self.web;
        if w.header_read_timeout_secs == 0 || w.idle_timeout_secs == 0 {
            anyhow::bail!("web: header_read_timeout_secs and idle_timeout_secs must be at least 1");
        }
        if w.max_connections == 0 || w.max_connections_per_ip == 0 {
            anyhow::bail!("web: max_connections and max_connections_per_ip must be at least 1");
        }
        if self.calls.cdr_heartbeat_secs == 0 {
            anyhow::bail!("calls.cdr_heartbeat_secs: must be at least 1");
        }
        if self.calls.cdr_backlog_max == 0 {
            anyhow::bail!("calls.cdr_backlog_max: must be at least 1");
        }
        validate_user_agent(&self.sip.user_agent)?;
        self.sip.tcp.validate()?;
        Ok(())
    }

    /// The codec preference list, parsed. A codec this process cannot use
    /// (Opus without libopus) is an error naming the fix, not a codec
    /// quietly missing from every offer.
    pub fn codecs(&self) -> anyhow::Result<Vec<media::codec::Codec>> {
        let mut out = Vec::new();
        for name in &self.media.codecs {
            let c = media::codec::Codec::from_name(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "media.codecs: unknown codec '{name}' (known: PCMU, PCMA, G722, OPUS)"
                )
            })?;
            if c == media::codec::Codec::Opus {
                if let Err(why) = media::codec::opus::available() {
                    anyhow::bail!("media.codecs: '{name}' cannot be used: {why}");
                }
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.is_empty() {
            anyhow::bail!("media.codecs: at least one codec is needed");
        }
        Ok(out)
    }

    /// The configured tone plan.
    pub fn tone_plan(&self) -> anyhow::Result<&'static media::tones::TonePlan> {
        media::tones::tone_plan(&self.media.tone_plan).ok_or_else(|| {
            let known: Vec<&str> = media::tones::countries().collect();
            anyhow::anyhow!(
                "media.tone_plan: unknown country '{}' (known: {})",
                self.media.tone_plan,
                known.join(", ")
            )
        })
    }

    /// The recording layout, parsed.
    pub fn record_layout(&self) -> anyhow::Result<media::recorder::RecordLayout> {
        match self.recording.layout.as_str() {
            "stereo" => Ok(media::recorder::RecordLayout::Stereo),
            "mono" => Ok(media::recorder::RecordLayout::Mono),
            other => anyhow::bail!("recording.layout: '{other}' is not stereo or mono"),
        }
    }

    /// The RTP port range as numbers.
    pub fn rtp_range(&self) -> anyhow::Result<(u16, u16)> {
        parse_port_range(&self.server.rtp_ports)
    }

    /// The address we tell peers to use (Via, Contact, SDP): the configured one,
    /// else the bind address, else — when binding all interfaces — the address of
    /// the interface holding the default route, so phones on the LAN get audio.
    pub fn advertise(&self) -> IpAddr {
        match self.server.advertise {
            Some(a) => a,
            None if self.server.bind.is_unspecified() => {
                primary_interface_ip(self.server.bind.is_ipv6())
                    .unwrap_or_else(|| IpAddr::from([127, 0, 0, 1]))
            }
            None => self.server.bind,
        }
    }

    /// Media runtime threads, resolving 0 to the number of CPU cores.
    pub fn media_threads(&self) -> usize {
        match self.server.media_threads {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n => n,
        }
    }

    /// Open files the server may need at once: a socket per RTP port, both
    /// SIP profiles' TCP connection caps, the web server's connections and
    /// a margin for the database, logs, listening sockets, recordings and
    /// the runtime. Compared with RLIMIT_NOFILE at start.
    pub fn descriptors_needed(&self) -> anyhow::Result<u64> {
        let (lo, hi) = self.rtp_range()?;
        let rtp = u64::from(hi - lo) + 1;
        let sip_tcp = 2 * self.sip.tcp.max_connections as u64;
        let http = self.web.max_connections as u64;
        Ok(rtp + sip_tcp + http + DESCRIPTOR_MARGIN)
    }

    /// The database URL, defaulting to SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.server.database_url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => format!(
                "sqlite://{}",
                self.server.data_dir.join("switchboard.db").display()
            ),
        }
    }
}

/// Descriptors that are neither RTP sockets nor connections (database,
/// log, listening sockets, recordings, the runtime's own).
pub const DESCRIPTOR_MARGIN: u64 = 256;

/// The local address the kernel would use to reach the outside world. A UDP
/// `connect` only does a route lookup: no packet is sent. The target is a
/// documentation address (RFC 5737 / RFC 3849), never contacted.
fn primary_interface_ip(v6: bool) -> Option<IpAddr> {
    let (bind, target) = if v6 {
        ("[::]:0", "[2001:db8::1]:5060")
    } else {
        ("0.0.0.0:0", "192.0.2.1:5060")
    };
    let sock = std::net::UdpSocket::bind(bind).ok()?;
    sock.connect(target).ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Parse "LOW-HIGH" with LOW < HIGH and at least two ports (one RTP/RTCP pair).
pub fn parse_port_range(s: &str) -> anyhow::Result<(u16, u16)> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| anyhow::anyhow!("RTP port range '{s}' must look like LOW-HIGH"))?;
    let lo: u16 = a
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("RTP port range '{s}': '{a}' is not a port"))?;
    let hi: u16 = b
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("RTP port range '{s}': '{b}' is not a port"))?;
    if lo >= hi || lo < 1024 {
        anyhow::bail!("RTP port range '{s}': need 1024 <= LOW < HIGH");
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses() {
        let text = include_str!("../../../../conf/switchboard.toml");
        let cfg = Config::from_toml(text).expect("conf/switchboard.toml is valid");
        assert_eq!(cfg.server.sip_port, 5060);
        assert_eq!(cfg.server.trunk_port, 5080);
        assert_eq!(cfg.sip.tls_port, 5061);
        assert_eq!(cfg.sip.wss_port, 7443);
        assert_eq!(Config::default().sip.tls_port, 0, "off unless configured");
    }

    #[test]
    fn tls_settings_are_checked() {
        let e = Config::from_toml("[sip]\ntls_cert = \"c.pem\"\n").expect_err("key missing");
        assert!(e.to_string().contains("tls_key"), "{e}");
        let mut cfg = Config::default();
        cfg.sip.tls_port = cfg.server.sip_port;
        let e = cfg.validate().expect_err("port taken");
        assert!(e.to_string().contains("sip.tls_port"), "{e}");
        cfg.sip.tls_port = 5061;
        for taken in [cfg.server.trunk_port, 5061] {
            cfg.sip.trunk_tls_port = taken;
            let e = cfg.validate().expect_err("trunk TLS port taken");
            assert!(e.to_string().contains("sip.trunk_tls_port"), "{e}");
        }
        let mut cfg = Config::default();
        assert_eq!(cfg.sip.wss_port, 0, "no WSS listener unless configured");
        cfg.sip.wss_port = cfg.server.http_port;
        let e = cfg.validate().expect_err("port taken");
        assert!(e.to_string().contains("sip.wss_port"), "{e}");
        cfg.sip.wss_port = 7443;
        cfg.validate().expect("a free port");
    }

    #[test]
    fn the_stun_server_is_host_and_port_with_full_ice_only() {
        let full = |v: &str| {
            Config::from_toml(&format!(
                "[media]\nwebrtc_ice = \"full\"\nstun_server = \"{v}\"\n"
            ))
        };
        let ok = |v: &str| full(v).expect(v).stun_server().expect(v);
        assert_eq!(Config::default().stun_server().expect("none"), None);
        assert_eq!(
            ok("stun.example.net"),
            Some(("stun.example.net".into(), 3478))
        );
        assert_eq!(
            ok("stun.example.net:19302"),
            Some(("stun.example.net".into(), 19302))
        );
        assert_eq!(ok("192.0.2.1:3479"), Some(("192.0.2.1".into(), 3479)));
        assert_eq!(ok("[2001:db8::1]:3480"), Some(("2001:db8::1".into(), 3480)));
        assert_eq!(ok("2001:db8::1"), Some(("2001:db8::1".into(), 3478)));
        for bad in [
            "stun.example.net:0",
            "stun.example.net:99999",
            "host:port",
            ":3478",
            "a b:1",
            "[::1",
            "[::1]3478",
            "bad_name:1",
        ] {
            let e = full(bad).expect_err(bad);
            assert!(e.to_string().contains("media.stun_server"), "{bad}: {e}");
        }
        let e = Config::from_toml("[media]\nstun_server = \"stun.example.net\"\n")
            .expect_err("ICE-lite");
        assert!(e.to_string().contains("webrtc_ice = \"full\""), "{e}");
    }

    #[test]
    fn opus_is_accepted_in_any_case_and_left_out_of_the_default() {
        use media::codec::Codec;
        // libopus0 is installed wherever the tests run (tests/run checks).
        if let Err(e) = media::codec::opus::available() {
            panic!("{e}");
        }
        let cfg =
            Config::from_toml("[media]\ncodecs = [\"opus\", \"PCMU\", \"OPUS\"]\n").expect("valid");
        assert_eq!(cfg.codecs().unwrap(), [Codec::Opus, Codec::Pcmu]);
        assert_eq!(
            Config::default().codecs().unwrap(),
            [Codec::Pcmu, Codec::Pcma, Codec::G722]
        );
        assert_eq!(
            Config::default().media.opus_complexity,
            media::codec::opus::DEFAULT_COMPLEXITY
        );
        let cfg = Config::from_toml(
            "[media]
opus_complexity = 7
",
        )
        .expect("valid");
        assert_eq!(cfg.media.opus_complexity, 7);
        let e = Config::from_toml(
            "[media]
opus_complexity = 11
",
        )
        .expect_err("out of range");
        assert!(e.to_string().contains("media.opus_complexity"), "{e}");
    }

    #[test]
    fn user_agent_and_tcp_limits_are_read() {
        let cfg = Config::from_toml(
            "[sip]\nuser_agent = \"\"\n[sip.tcp]\nmax_connections = 10\nidle_timeout_secs = 7\n",
        )
        .expect("valid");
        assert_eq!(cfg.sip.user_agent, "");
        let l = cfg.sip.tcp.limits();
        assert_eq!(l.max_connections, 10);
        assert_eq!(l.idle_timeout, std::time::Duration::from_secs(7));
        assert_eq!(
            l.max_per_ip,
            sip::transport::TcpLimits::default().max_per_ip
        );
        assert_eq!(Config::default().sip.user_agent, "Switchboard");
    }

    #[test]
    fn descriptors_cover_rtp_ports_and_connection_caps() {
        let cfg = Config::from_toml(
            "[server]\nrtp_ports = \"20000-20999\"\n[sip.tcp]\nmax_connections = 100\n\
             [web]\nmax_connections = 300\n",
        )
        .expect("valid");
        assert_eq!(
            cfg.descriptors_needed().expect("range"),
            1000 + 200 + 300 + DESCRIPTOR_MARGIN
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Config::from_toml("[server]\nsip_prot = 1\n").is_err());
        assert!(Config::from_toml("[server]\nrtp_ports = \"30000-20000\"\n").is_err());
        assert!(Config::from_toml("[sip]\nauth_algorithms = [\"SHA-1\"]\n").is_err());
        assert!(Config::from_toml("[trunk]\nacl = [\"10.0.0.0/99\"]\n").is_err());
        assert!(Config::from_toml("[media]\ncodecs = [\"GSM\"]\n").is_err());
        let e = Config::from_toml("[media]\ncodecs = [\"G729\"]\n").unwrap_err();
        assert!(format!("{e:#}").contains("OPUS"), "{e:#}");
        assert!(Config::from_toml("[media]\ntone_plan = \"xx\"\n").is_err());
        assert!(Config::from_toml("[media]\nlanguage = \"fr\"\n").is_err());
        assert!(Config::from_toml("[recording]\nlayout = \"quad\"\n").is_err());
        assert!(Config::from_toml("[recording]\nrate = 44100\n").is_err());
        assert!(Config::from_toml("[sip]\nuser_agent = \"a\\r\\nVia: x\"\n").is_err());
        assert!(Config::from_toml("[sip]\nuser_agent = \" x\"\n").is_err());
        assert!(Config::from_toml("[sip.tcp]\nidle_timeout_secs = 0\n").is_err());
        assert!(Config::from_toml("[sip.tcp]\nmax_connections = 0\n").is_err());
        assert!(Config::from_toml("[sip.tcp]\nsend_queue_bytes = 1000\n").is_err());
        assert!(Config::from_toml("[sip.tcp]\nmax_connectons = 10\n").is_err());
    }

    #[test]
    fn port_range() {
        assert_eq!(parse_port_range("20000-20100").ok(), Some((20000, 20100)));
        assert!(parse_port_range("20000").is_err());
    }
}
