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
    /// Digest algorithms offered, most preferred first ("SHA-256", "MD5").
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
    /// Consecutive auth failures from one address before it is ignored.
    pub auth_fail_limit: u32,
    /// How long an address is ignored after too many failures.
    pub auth_ban_secs: u64,
    /// RFC 3261 T1 in milliseconds.
    pub t1_ms: u64,
    /// Keep-alive OPTIONS to every registered phone this often, seconds
    /// (0: never). Keeps NAT bindings open and shows which phones answer.
    pub ping_secs: u64,
}

/// Call handling.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallsConfig {
    /// Ring time before a call is given up as not answered.
    pub no_answer_secs: u64,
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
    /// Codecs we offer and accept, most preferred first ("PCMU", "PCMA", "G722").
    pub codecs: Vec<String>,
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
    pub queues: Vec<crate::acd::QueueConfig>,
    /// Agents.
    pub agents: Vec<crate::acd::AgentConfig>,
    /// Which agent is in which queue, at what level and position.
    pub tiers: Vec<crate::acd::TierConfig>,
    /// IVR menus (`[[callcenter.ivr]]`), entered by the numbers of `apps.ivr`.
    pub ivr: Vec<crate::apps::ivr::IvrMenu>,
    /// Routing rules (`[[callcenter.routes]]`, manual 3.2.3), tried after the
    /// built-in numbers of `[apps]`; none means only the basic rule
    /// `^(\d{3,4})$` (local extensions). Validated as they are read: an error
    /// names the rule. `id` and `order` may be left out (see `routes_from_list`).
    #[serde(deserialize_with = "routes_from_list")]
    pub routes: crate::routing::RouteTable,
}

/// Reads `[[callcenter.routes]]`. `id` and `order` may be left out of every
/// rule: the ids are then 1, 2, ... and the list order is the matching order
/// (orders 10, 20, ...). Where any rule gives one, all are used as written
/// (and must be unique).
fn routes_from_list<'de, D>(d: D) -> Result<crate::routing::RouteTable, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let mut rules = Vec::<crate::routing::Rule>::deserialize(d)?;
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
    crate::routing::RouteTable::new(rules).map_err(serde::de::Error::custom)
}

impl CallcenterConfig {
    /// The routing rules, if any are configured.
    pub fn route_table(&self) -> Option<&crate::routing::RouteTable> {
        (!self.routes.is_empty()).then_some(&self.routes)
    }
}

/// External profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrunkConfig {
    /// Addresses (CIDR) allowed to send INVITEs to the trunk port.
    pub acl: Vec<String>,
}

/// First-run seed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedConfig {
    /// Extensions to create on first run, in the batch syntax ("1000-1019").
    pub extensions: String,
    /// Their password.
    pub password: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            sip: SipConfig::default(),
            calls: CallsConfig { no_answer_secs: 30 },
            media: MediaConfig::default(),
            trunk: TrunkConfig {
                acl: vec!["127.0.0.0/8".into(), "::1/128".into()],
            },
            recording: RecordingConfig::default(),
            voicemail: VoicemailConfig::default(),
            apps: AppsConfig::default(),
            callcenter: CallcenterConfig::default(),
            seed: SeedConfig::default(),
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
            auth_algorithms: vec!["MD5".into(), "SHA-256".into()],
            nonce_ttl_secs: 300,
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts: 10,
            auth_fail_limit: 10,
            auth_ban_secs: 300,
            t1_ms: 500,
            ping_secs: 0,
        }
    }
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig { no_answer_secs: 30 }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_timeout_secs: 60,
            rtp_learning_ms: media::latch::DEFAULT_LEARNING_MS,
            codecs: vec!["PCMU".into(), "PCMA".into(), "G722".into()],
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
            crate::acl::Cidr::parse(a).map_err(|e| anyhow::anyhow!("trunk.acl: {e}"))?;
        }
        self.codecs()?;
        self.tone_plan()?;
        if !matches!(self.media.language.as_str(), "en" | "zh") {
            anyhow::bail!(
                "media.language: '{}' is not one of en, zh",
                self.media.language
            );
        }
        self.record_layout()?;
        crate::callcenter_settings::CallcenterSettings::from_config(&self.callcenter)
            .validate(&self.apps, None)
            .map_err(|e| anyhow::anyhow!("callcenter: {e}"))?;
        if !matches!(self.recording.rate, 8000 | 16000) {
            anyhow::bail!(
                "recording.rate: {} is not 8000 or 16000",
                self.recording.rate
            );
        }
        if self.sip.min_expires > self.sip.max_expires {
            anyhow::bail!("sip.min_expires is larger than sip.max_expires");
        }
        Ok(())
    }

    /// The codec preference list, parsed.
    pub fn codecs(&self) -> anyhow::Result<Vec<media::codec::Codec>> {
        let mut out = Vec::new();
        for name in &self.media.codecs {
            let c = media::codec::Codec::from_name(name).ok_or_else(|| {
                anyhow::anyhow!("media.codecs: unknown codec '{name}' (known: PCMU, PCMA, G722)")
            })?;
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
        let text = include_str!("../../../conf/switchboard.toml");
        let cfg = Config::from_toml(text).expect("conf/switchboard.toml is valid");
        assert_eq!(cfg.server.sip_port, 5060);
        assert_eq!(cfg.server.trunk_port, 5080);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Config::from_toml("[server]\nsip_prot = 1\n").is_err());
        assert!(Config::from_toml("[server]\nrtp_ports = \"30000-20000\"\n").is_err());
        assert!(Config::from_toml("[sip]\nauth_algorithms = [\"SHA-1\"]\n").is_err());
        assert!(Config::from_toml("[trunk]\nacl = [\"10.0.0.0/99\"]\n").is_err());
        assert!(Config::from_toml("[media]\ncodecs = [\"GSM\"]\n").is_err());
        assert!(Config::from_toml("[media]\ntone_plan = \"xx\"\n").is_err());
        assert!(Config::from_toml("[media]\nlanguage = \"fr\"\n").is_err());
        assert!(Config::from_toml("[recording]\nlayout = \"quad\"\n").is_err());
        assert!(Config::from_toml("[recording]\nrate = 44100\n").is_err());
    }

    #[test]
    fn port_range() {
        assert_eq!(parse_port_range("20000-20100").ok(), Some((20000, 20100)));
        assert!(parse_port_range("20000").is_err());
    }
}
