//! A SIP gateway (trunk) as the administrator defines it (manual 3.2.6, FEATURES
//! T10, issue 14): the serde model of the gateway form, its defaults
//! (FreeSWITCH mod_sofia's, REFERENCE §3) and its validation. Pure: no I/O,
//! so names are not resolved here; the engine resolves hosts when it uses them.
//!
//! Optional fields are kept as written and left empty when the administrator
//! leaves them empty; the methods named `effective_*` and `*_target` give the
//! value in force (e.g. the realm is the proxy's host unless one is given), so
//! a later change of the username or proxy moves the defaults with it.
//!
//! Three modes (manual 3.2.6):
//! - **NNI**: a peer trunk. We do not register; its calls reach our trunk port
//!   (5080) from the addresses in [`Gateway::addresses`] (default: the proxy).
//! - **UNI**: we register to the carrier with username and password.
//! - **IMS**: we register to an IMS core: public and private identities
//!   (IMPU, IMPI), the home domain, and the P-CSCF as outbound proxy.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The SIP port when none is given.
pub const DEFAULT_PORT: u16 = 5060;
/// Registration lifetime asked for (mod_sofia `expire-seconds`).
pub const DEFAULT_EXPIRE_SECS: u32 = 3600;
/// Wait before registering again after a failure (mod_sofia `retry-seconds`).
pub const DEFAULT_RETRY_SECS: u32 = 30;

/// Names a gateway cannot have: they are pages beside the gateways' own
/// (`/voice/gateways/new`, `/voice/gateways/status`).
pub const RESERVED_NAMES: [&str; 2] = ["new", "status"];

/// Codec names a gateway may be limited to: the audio codecs the media
/// engine speaks (`media::codec::Codec::ALL`, by their SDP names) and
/// RFC 4733 DTMF. This crate cannot depend on `media`; an end-to-end test
/// compares the two lists. Opus works only where libopus is installed;
/// without it a gateway limited to Opus is offered only a caller's own Opus.
pub const CODECS: [&str; 5] = ["PCMU", "PCMA", "G722", "opus", "telephone-event"];

/// Accepted ranges of the numeric settings (inclusive).
pub mod limits {
    /// Registration lifetime asked for, seconds. Re-registration happens 15 s
    /// before expiry, so shorter lifetimes would register all the time.
    pub const EXPIRE_SECS: (u32, u32) = (30, 86_400);
    /// Wait after a failure, seconds; at least 5 so a wrong password never
    /// turns into a tight loop.
    pub const RETRY_SECS: (u32, u32) = (5, 86_400);
    /// OPTIONS ping interval, seconds, when not 0 (off).
    pub const PING_SECS: (u32, u32) = (5, 3_600);
    /// Concurrent calls (0 is unlimited).
    pub const MAX_CALLS: (u32, u32) = (0, 1_000_000);
    /// Leading digits removed from a dialled number.
    pub const STRIP_DIGITS: (u32, u32) = (0, 32);
    /// Longest name.
    pub const NAME_LEN: usize = 64;
    /// Longest note.
    pub const NOTE_LEN: usize = 200;
    /// Longest user name, password, realm, identity.
    pub const TEXT_LEN: usize = 128;
    /// Longest host name (RFC 1035).
    pub const HOST_LEN: usize = 253;
    /// Longest prefix or caller-ID number.
    pub const NUMBER_LEN: usize = 32;
    /// Most NNI addresses.
    pub const ADDRESSES: usize = 64;
}

/// How we connect to the gateway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Peer trunk: no registration, its calls accepted by source address.
    #[default]
    Nni,
    /// We register to the carrier.
    Uni,
    /// We register to an IMS core.
    Ims,
}

/// SIP transport towards the gateway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP (the default of carriers and of mod_sofia).
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// TLS (RFC 3261 §26).
    Tls,
}

/// Whether our caller ID is withheld from the called party.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    /// Shown.
    #[default]
    None,
    /// Withheld: the identity header is sent with `Privacy: id` (RFC 3325),
    /// so the carrier knows the caller but does not pass it on.
    Id,
}

/// The header that carries the asserted caller ID (RFC 3325).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityHeader {
    /// No identity header: the caller ID is in From only.
    #[default]
    None,
    /// `P-Asserted-Identity` (trusted networks, IMS).
    Pai,
    /// `P-Preferred-Identity` (asking the carrier to assert it).
    Ppi,
}

/// A choice named by its lower-case text, for forms, the CLI and the API.
macro_rules! named {
    ($ty:ident, $what:literal, $($variant:ident = $text:literal),+) => {
        impl $ty {
            /// Every choice, in the order forms list them.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The choice as written in forms, the CLI, the API and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(t))
                    .ok_or_else(|| {
                        let all: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} {t:?} (use {})", $what, all.join(", "))
                    })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named!(Mode, "mode", Nni = "nni", Uni = "uni", Ims = "ims");
named!(
    Transport,
    "transport",
    Udp = "udp",
    Tcp = "tcp",
    Tls = "tls"
);
named!(Privacy, "privacy", None = "none", Id = "id");
named!(
    IdentityHeader,
    "identity header",
    None = "none",
    Pai = "pai",
    Ppi = "ppi"
);

impl Mode {
    /// Whether we register to a gateway of this mode (mod_sofia `register`).
    pub fn registers(self) -> bool {
        self != Mode::Nni
    }
}

/// One gateway (SIP网关): everything the form, the CLI and the API set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Gateway {
    /// Unique name (名称): letters, digits, `.`, `_`, `-`; rules and metrics
    /// refer to it.
    pub name: String,
    /// Free text for the administrator (备注).
    pub note: String,
    /// NNI, UNI or IMS.
    pub mode: Mode,
    /// The gateway's host name or IP address (SIP网关地址/域名), without
    /// port; an IPv6 address is written in brackets, as in SIP URIs.
    pub proxy: String,
    /// Its SIP port (端口).
    pub port: u16,
    /// Transport for registration and calls.
    pub transport: Transport,
    /// The account the carrier gave us (认证用户名); needed for UNI and IMS.
    pub username: String,
    /// Digest user name when it differs from `username`; empty: `username`
    /// (for IMS: the IMPI).
    pub auth_username: String,
    /// Digest password (认证密码); needed for UNI and IMS. Kept in clear in
    /// the database because the engine must compute digest answers with it;
    /// never shown by the pages or the API.
    pub password: String,
    /// Digest realm when the carrier's differs; empty: the proxy's host (for
    /// IMS: the home domain).
    pub realm: String,
    /// User part of our From; empty: `username` (mod_sofia `from-user`).
    pub from_user: String,
    /// Host part of our From; empty: the realm (mod_sofia `from-domain`).
    pub from_domain: String,
    /// Where REGISTERs go when not to the proxy (注册代理), `HOST[:PORT]`.
    pub register_proxy: String,
    /// Where INVITEs go when not to the proxy (呼出代理), `HOST[:PORT]`.
    pub outbound_proxy: String,
    /// Registration lifetime asked for, seconds (the server's answer wins).
    pub expire_secs: u32,
    /// Wait before registering again after a failure, seconds.
    pub retry_secs: u32,
    /// OPTIONS ping interval, seconds; 0: no pings.
    pub ping_secs: u32,
    /// Put the caller's number in From (true) or our username (false, the
    /// default as in mod_sofia, with the caller ID in an identity header).
    pub caller_id_in_from: bool,
    /// Codecs offered to this gateway, from [`CODECS`], in order of
    /// preference; empty: the server's `media.codecs`.
    pub codecs: Vec<String>,
    /// Most concurrent calls through this gateway; 0: unlimited.
    pub max_calls: u32,
    /// Leading digits removed from the number before it is sent.
    pub strip_digits: u32,
    /// Prefix put before the number after stripping.
    pub add_prefix: String,
    /// Caller-ID number used when the calling extension has none from the
    /// number pool; empty: the caller's own number.
    pub caller_id: String,
    /// Whether the caller ID is withheld (`Privacy: id`).
    pub privacy: Privacy,
    /// Which identity header carries the caller ID.
    pub identity: IdentityHeader,
    /// A disabled gateway keeps its settings but neither registers nor
    /// carries calls.
    pub enabled: bool,
    /// IMS public user identity (IMPU, 归属用户名), a `sip:`, `sips:` or `tel:` URI.
    pub impu: String,
    /// IMS private user identity (IMPI), e.g. `+8651200000000@ims.example.net`.
    pub impi: String,
    /// IMS home network domain (归属域名).
    pub home_domain: String,
    /// IMS P-CSCF (or SBC), `HOST[:PORT]`: REGISTERs and calls go there.
    pub pcscf: String,
    /// NNI: the addresses (IPs or CIDR networks) the trunk's calls come
    /// from; empty: the proxy's address.
    pub addresses: Vec<String>,
    /// Offer SRTP (SDES keys, RTP/SAVP) on calls out through the gateway
    /// (FreeSWITCH's rtp_secure_media=mandatory): for carriers that demand
    /// it, with TLS so that the keys stay secret. Calls in are answered
    /// with SRTP whenever the carrier offers it, whatever this says.
    pub srtp: bool,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            name: String::new(),
            note: String::new(),
            mode: Mode::default(),
            proxy: String::new(),
            port: DEFAULT_PORT,
            transport: Transport::default(),
            username: String::new(),
            auth_username: String::new(),
            password: String::new(),
            realm: String::new(),
            from_user: String::new(),
            from_domain: String::new(),
            register_proxy: String::new(),
            outbound_proxy: String::new(),
            expire_secs: DEFAULT_EXPIRE_SECS,
            retry_secs: DEFAULT_RETRY_SECS,
            ping_secs: 0,
            caller_id_in_from: false,
            codecs: Vec::new(),
            max_calls: 0,
            strip_digits: 0,
            add_prefix: String::new(),
            caller_id: String::new(),
            privacy: Privacy::default(),
            identity: IdentityHeader::default(),
            enabled: true,
            impu: String::new(),
            impi: String::new(),
            home_domain: String::new(),
            pcscf: String::new(),
            addresses: Vec::new(),
            srtp: false,
        }
    }
}

impl Gateway {
    /// A gateway of `mode` named `name` at `proxy` with every other setting
    /// at its default.
    pub fn new(name: &str, mode: Mode, proxy: &str) -> Gateway {
        Gateway {
            name: name.to_string(),
            mode,
            proxy: proxy.to_string(),
            ..Gateway::default()
        }
    }

    /// Whether we register to it (UNI and IMS) and it is enabled.
    pub fn registers(&self) -> bool {
        self.enabled && self.mode.registers()
    }

    /// The digest user name in force: `auth_username`, else (IMS) the IMPI,
    /// else `username`.
    pub fn effective_auth_username(&self) -> &str {
        first_of(&[
            &self.auth_username,
            if self.mode == Mode::Ims {
                &self.impi
            } else {
                ""
            },
            &self.username,
        ])
    }

    /// The digest realm in force: `realm`, else (IMS) the home domain, else
    /// the proxy's host.
    pub fn effective_realm(&self) -> &str {
        first_of(&[
            &self.realm,
            if self.mode == Mode::Ims {
                &self.home_domain
            } else {
                ""
            },
            &self.proxy,
        ])
    }

    /// The From user in force: `from_user`, else `username`.
    pub fn effective_from_user(&self) -> &str {
        first_of(&[&self.from_user, &self.username])
    }

    /// The From host in force: `from_domain`, else the realm in force.
    pub fn effective_from_domain(&self) -> &str {
        first_of(&[&self.from_domain, self.effective_realm()])
    }

    /// `HOST:PORT` of the proxy itself.
    pub fn proxy_target(&self) -> String {
        format!("{}:{}", self.proxy, self.port)
    }

    /// Where REGISTERs go, `HOST[:PORT]`: the register proxy, else (IMS)
    /// the P-CSCF, else the proxy.
    pub fn register_target(&self) -> String {
        let ims = if self.mode == Mode::Ims {
            self.pcscf.as_str()
        } else {
            ""
        };
        match first_of(&[&self.register_proxy, ims]) {
            "" => self.proxy_target(),
            t => t.to_string(),
        }
    }

    /// Where INVITEs go, `HOST[:PORT]`: (IMS) the P-CSCF, else the outbound
    /// proxy, else the proxy.
    pub fn outbound_target(&self) -> String {
        let ims = if self.mode == Mode::Ims {
            self.pcscf.as_str()
        } else {
            ""
        };
        match first_of(&[ims, &self.outbound_proxy]) {
            "" => self.proxy_target(),
            t => t.to_string(),
        }
    }

    /// The addresses calls from this gateway may come from: the configured
    /// ones, else the proxy's host (a name the engine resolves, or an
    /// address; an IPv6 address without its brackets).
    pub fn inbound_addresses(&self) -> Vec<String> {
        if !self.addresses.is_empty() {
            return self.addresses.clone();
        }
        let host = self.proxy.trim_start_matches('[').trim_end_matches(']');
        vec![host.to_string()]
    }

    /// The number sent for `dialled`: `strip_digits` leading characters
    /// removed, then `add_prefix` put in front. `None` when stripping leaves
    /// nothing to dial.
    pub fn rewrite_number(&self, dialled: &str) -> Option<String> {
        let skip = usize::try_from(self.strip_digits).unwrap_or(usize::MAX);
        // By characters: a number from the wire may hold anything.
        let rest = match dialled.char_indices().nth(skip) {
            Some((at, _)) => &dialled[at..],
            None => "",
        };
        (!rest.is_empty()).then(|| format!("{}{rest}", self.add_prefix))
    }

    /// Checks every setting; all problems at once, at most one per field,
    /// in form order.
    pub fn validate(&self) -> Result<(), GatewayErrors> {
        let mut errs = Vec::new();
        let mut fail = |field: &'static str, problem: Problem| {
            if !errs.iter().any(|e: &FieldError| e.field == field) {
                errs.push(FieldError { field, problem });
            }
        };
        if let Err(p) = check_name(&self.name) {
            fail("name", p);
        }
        if self.note.chars().count() > limits::NOTE_LEN {
            fail("note", Problem::TooLong(limits::NOTE_LEN));
        } else if self.note.chars().any(char::is_control) {
            fail("note", Problem::Chars);
        }
        if self.proxy.is_empty() {
            fail("proxy", Problem::Required);
        } else if let Err(p) = check_host(&self.proxy) {
            fail("proxy", p);
        }
        if self.port == 0 {
            fail("port", Problem::Port);
        }
        let registers = self.mode.registers();
        for (field, value, required, at_ok) in [
            ("username", &self.username, registers, true),
            ("auth_username", &self.auth_username, false, true),
            ("from_user", &self.from_user, false, false),
        ] {
            if value.is_empty() {
                if required {
                    fail(field, Problem::Required);
                }
            } else if let Err(p) = check_sip_text(value, at_ok) {
                fail(field, p);
            }
        }
        if self.password.is_empty() {
            if registers {
                fail("password", Problem::Required);
            }
        } else if self.password.chars().count() > limits::TEXT_LEN {
            fail("password", Problem::TooLong(limits::TEXT_LEN));
        } else if self.password.chars().any(char::is_control) {
            fail("password", Problem::Chars);
        }
        if !self.realm.is_empty() {
            if let Err(p) = check_sip_text(&self.realm, true) {
                fail("realm", p);
            }
        }
        for (field, value) in [
            ("from_domain", &self.from_domain),
            ("home_domain", &self.home_domain),
        ] {
            if !value.is_empty() {
                if let Err(p) = check_host(value) {
                    fail(field, p);
                }
            }
        }
        for (field, value) in [
            ("register_proxy", &self.register_proxy),
            ("outbound_proxy", &self.outbound_proxy),
            ("pcscf", &self.pcscf),
        ] {
            if !value.is_empty() {
                if let Err(p) = parse_host_port(value) {
                    fail(field, p);
                }
            }
        }
        let ranges = [
            ("expire_secs", self.expire_secs, limits::EXPIRE_SECS, false),
            ("retry_secs", self.retry_secs, limits::RETRY_SECS, false),
            ("ping_secs", self.ping_secs, limits::PING_SECS, true),
            ("max_calls", self.max_calls, limits::MAX_CALLS, false),
            (
                "strip_digits",
                self.strip_digits,
                limits::STRIP_DIGITS,
                false,
            ),
        ];
        for (field, value, (min, max), zero_is_off) in ranges {
            let off = zero_is_off && value == 0;
            if !off && !(min..=max).contains(&value) {
                fail(
                    field,
                    Problem::Range {
                        min,
                        max,
                        off: zero_is_off,
                    },
                );
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for c in &self.codecs {
            if !CODECS.contains(&c.as_str()) {
                fail("codecs", Problem::Codec(c.clone()));
            } else if seen.contains(&c.as_str()) {
                fail("codecs", Problem::DuplicateCodec(c.clone()));
            }
            seen.push(c);
        }
        for (field, value) in [
            ("add_prefix", &self.add_prefix),
            ("caller_id", &self.caller_id),
        ] {
            if let Err(p) = check_digits(value) {
                fail(field, p);
            }
        }
        let ims = self.mode == Mode::Ims;
        if self.impu.is_empty() {
            if ims {
                fail("impu", Problem::Required);
            }
        } else if let Err(p) = check_uri(&self.impu) {
            fail("impu", p);
        }
        if self.impi.is_empty() {
            if ims {
                fail("impi", Problem::Required);
            }
        } else if let Err(p) = check_sip_text(&self.impi, true) {
            fail("impi", p);
        }
        if ims && self.home_domain.is_empty() {
            fail("home_domain", Problem::Required);
        }
        if self.addresses.len() > limits::ADDRESSES {
            fail("addresses", Problem::TooMany(limits::ADDRESSES));
        }
        for a in &self.addresses {
            if parse_network(a).is_none() {
                fail("addresses", Problem::Address(a.clone()));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(GatewayErrors {
                gateway: self.name.clone(),
                errors: errs,
            })
        }
    }
}

/// The first non-empty of `values`, or "".
fn first_of<'a>(values: &[&'a str]) -> &'a str {
    values.iter().copied().find(|v| !v.is_empty()).unwrap_or("")
}

/// What is wrong with one setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It must be given (for this mode).
    Required,
    /// Longer than this many characters.
    TooLong(usize),
    /// More entries than this.
    TooMany(usize),
    /// A name with other characters than letters, digits, `.`, `_`, `-`.
    Name,
    /// One of [`RESERVED_NAMES`].
    Reserved,
    /// Spaces, control characters, or characters that break SIP headers.
    Chars,
    /// Not a host name or IP address.
    Host(String),
    /// Not `HOST[:PORT]`.
    HostPort(String),
    /// A port must be 1-65535.
    Port,
    /// Out of `min..=max` (or 0 for off, when `off`).
    Range {
        /// Smallest value.
        min: u32,
        /// Largest value.
        max: u32,
        /// 0 is accepted too (the feature is off).
        off: bool,
    },
    /// Not one of [`CODECS`].
    Codec(String),
    /// The codec is listed twice.
    DuplicateCodec(String),
    /// Something else than digits (and `*`, `#`, a leading `+`).
    Digits,
    /// Not an IP address or CIDR network.
    Address(String),
    /// Not a `sip:`, `sips:` or `tel:` URI.
    Uri,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => f.write_str("is required"),
            Problem::TooLong(max) => write!(f, "is longer than {max} characters"),
            Problem::TooMany(max) => write!(f, "has more than {max} entries"),
            Problem::Name => f.write_str(
                "must start with a letter or digit and hold only letters, digits, '.', '_' and '-'",
            ),
            Problem::Reserved => write!(f, "must not be {}", RESERVED_NAMES.join(" or ")),
            Problem::Chars => {
                f.write_str("must not contain spaces, control characters, '<', '>' or '\"'")
            }
            Problem::Host(h) => write!(f, "{h:?} is not a host name or IP address"),
            Problem::HostPort(h) => write!(f, "{h:?} is not HOST or HOST:PORT"),
            Problem::Port => f.write_str("must be a port number from 1 to 65535"),
            Problem::Range { min, max, off } if *off => {
                write!(f, "must be 0 (off) or from {min} to {max}")
            }
            Problem::Range { min, max, .. } => write!(f, "must be from {min} to {max}"),
            Problem::Codec(c) => write!(f, "unknown codec {c:?} (use {})", CODECS.join(", ")),
            Problem::DuplicateCodec(c) => write!(f, "lists {c} twice"),
            Problem::Digits => {
                f.write_str("must be digits, '*' and '#', with an optional leading '+'")
            }
            Problem::Address(a) => write!(f, "{a:?} is not an IP address or network (CIDR)"),
            Problem::Uri => f.write_str("must be a sip:, sips: or tel: URI"),
        }
    }
}

/// A setting at fault: the field (as the form and the API name it) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, e.g. `proxy`.
    pub field: &'static str,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

/// Every problem of one gateway definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayErrors {
    /// The gateway's name as given.
    pub gateway: String,
    /// One per field at fault, in form order; never empty.
    pub errors: Vec<FieldError>,
}

impl GatewayErrors {
    /// The problem of `field`, if it has one.
    pub fn of(&self, field: &str) -> Option<&Problem> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| &e.problem)
    }
}

impl fmt::Display for GatewayErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        write!(f, "gateway {:?}: {}", self.gateway, all.join("; "))
    }
}

impl std::error::Error for GatewayErrors {}

/// A gateway name: 1-64 of letters, digits, `.`, `_`, `-`, starting with a
/// letter or digit, not one of [`RESERVED_NAMES`] (names appear in URLs,
/// metric labels and the CLI).
pub fn check_name(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::Required);
    }
    if name.chars().count() > limits::NAME_LEN {
        return Err(Problem::TooLong(limits::NAME_LEN));
    }
    let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        Err(Problem::Name)
    } else if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        Err(Problem::Reserved)
    } else {
        Ok(())
    }
}

/// Text that goes into SIP headers and digest parameters: no whitespace,
/// no control characters, none of `<`, `>`, `"` (nor `@` and `:` when
/// `at_ok` is false: a user part).
fn check_sip_text(text: &str, at_ok: bool) -> Result<(), Problem> {
    if text.chars().count() > limits::TEXT_LEN {
        return Err(Problem::TooLong(limits::TEXT_LEN));
    }
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"')
            || (!at_ok && matches!(c, '@' | ':'))
    };
    if text.chars().any(bad) {
        Err(Problem::Chars)
    } else {
        Ok(())
    }
}

/// A host: a DNS name, an IPv4 address, or an IPv6 address in brackets.
pub fn check_host(host: &str) -> Result<(), Problem> {
    let bad = || Problem::Host(host.to_string());
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(bad)?;
        return inner.parse::<Ipv6Addr>().map(|_| ()).map_err(|_| bad());
    }
    if host.is_empty() || host.len() > limits::HOST_LEN {
        return Err(bad());
    }
    let labels: Vec<&str> = host.split('.').collect();
    // All-numeric labels are an IPv4 address, and must be a valid one.
    if labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return host.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| bad());
    }
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if labels.iter().all(label_ok) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Splits `HOST[:PORT]` (IPv6 as `[ADDR]:PORT`, or a bare IPv6 address
/// without port) into the host, as it is written in SIP URIs, and the
/// port if one is given.
pub fn parse_host_port(text: &str) -> Result<(String, Option<u16>), Problem> {
    let t = text.trim();
    let bad = || Problem::HostPort(text.to_string());
    if t.parse::<Ipv6Addr>().is_ok() {
        return Ok((format!("[{t}]"), None));
    }
    let (host, port) = if t.starts_with('[') {
        match t.split_once(']') {
            Some((h, rest)) => {
                let host = format!("{h}]");
                match rest {
                    "" => (host, None),
                    r => (host, Some(r.strip_prefix(':').ok_or_else(bad)?)),
                }
            }
            None => return Err(bad()),
        }
    } else {
        match t.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (t.to_string(), None),
        }
    };
    check_host(&host).map_err(|_| bad())?;
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.chars().all(|c| c.is_ascii_digit()) => Some(n),
            _ => return Err(bad()),
        },
    };
    Ok((host, port))
}

/// Digits, `*`, `#`, with an optional leading `+`; empty is fine.
fn check_digits(text: &str) -> Result<(), Problem> {
    if text.chars().count() > limits::NUMBER_LEN {
        return Err(Problem::TooLong(limits::NUMBER_LEN));
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    if body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#'))
        && !(text.starts_with('+') && body.is_empty())
    {
        Ok(())
    } else {
        Err(Problem::Digits)
    }
}

/// A public identity: `sip:user@host`, `sips:user@host` (optionally
/// `:port`) or `tel:+number`.
fn check_uri(uri: &str) -> Result<(), Problem> {
    if uri.chars().count() > limits::TEXT_LEN {
        return Err(Problem::TooLong(limits::TEXT_LEN));
    }
    let lower = uri.to_ascii_lowercase();
    if let Some(number) = lower.strip_prefix("tel:") {
        return match check_digits(number) {
            Ok(()) if !number.is_empty() => Ok(()),
            _ => Err(Problem::Uri),
        };
    }
    let rest = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"))
        .ok_or(Problem::Uri)?;
    let (user, hostport) = rest.split_once('@').ok_or(Problem::Uri)?;
    if user.is_empty() || check_sip_text(user, false).is_err() {
        return Err(Problem::Uri);
    }
    parse_host_port(hostport)
        .map(|_| ())
        .map_err(|_| Problem::Uri)
}

/// An IP address or a CIDR network (`192.0.2.0/24`, `2001:db8::/32`):
/// the address and the prefix length.
pub fn parse_network(text: &str) -> Option<(IpAddr, u8)> {
    let t = text.trim();
    let (addr, len) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) if !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()) => l.parse().ok()?,
        Some(_) => return None,
    };
    (len <= max).then_some((ip, len))
}

/// The canonical name of a codec from [`CODECS`], ignoring case.
pub fn codec_name(name: &str) -> Option<&'static str> {
    CODECS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(name.trim()))
}

/// A list written `a, b c` (commas, semicolons, blanks or new lines), its
/// entries trimmed, empty ones dropped: the form's and the CLI's lists.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\n', '\r', '\t', '，'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A codec list as written by an administrator, names put in their
/// canonical case (`pcmu` is `PCMU`); unknown names are kept as written, for
/// [`Gateway::validate`] to name.
pub fn parse_codecs(text: &str) -> Vec<String> {
    split_list(text)
        .into_iter()
        .map(|c| codec_name(&c).map_or(c, str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uni() -> Gateway {
        Gateway {
            username: "6001".into(),
            password: "secret".into(),
            ..Gateway::new("gw1", Mode::Uni, "192.0.2.10")
        }
    }

    fn ims() -> Gateway {
        Gateway {
            username: "+8651200000000".into(),
            password: "secret".into(),
            impu: "sip:+8651200000000@ims.example.net".into(),
            impi: "+8651200000000@ims.example.net".into(),
            home_domain: "ims.example.net".into(),
            pcscf: "198.51.100.7:5060".into(),
            ..Gateway::new("ims1", Mode::Ims, "ims.example.net")
        }
    }

    /// The problem `g.validate()` reports for `field`.
    fn problem(g: &Gateway, field: &str) -> Option<Problem> {
        g.validate().err().and_then(|e| e.of(field).cloned())
    }

    #[test]
    fn defaults_follow_mod_sofia() {
        let g = Gateway::default();
        assert_eq!(g.port, 5060);
        assert_eq!(g.expire_secs, 3600);
        assert_eq!(g.retry_secs, 30);
        assert_eq!(g.ping_secs, 0);
        assert!(!g.caller_id_in_from);
        assert_eq!(g.max_calls, 0);
        assert_eq!(g.transport, Transport::Udp);
        assert!(g.enabled);
        // A JSON document that leaves fields out takes the same defaults.
        let parsed: Gateway = serde_json::from_str(r#"{"name":"a","proxy":"h"}"#).unwrap();
        assert_eq!(parsed, Gateway::new("a", Mode::Nni, "h"));
    }

    #[test]
    fn defaults_of_the_derived_fields() {
        let g = uni();
        assert_eq!(g.effective_auth_username(), "6001");
        assert_eq!(g.effective_realm(), "192.0.2.10");
        assert_eq!(g.effective_from_user(), "6001");
        assert_eq!(g.effective_from_domain(), "192.0.2.10");
        assert_eq!(g.register_target(), "192.0.2.10:5060");
        assert_eq!(g.outbound_target(), "192.0.2.10:5060");
        let g = Gateway {
            auth_username: "auth".into(),
            realm: "carrier.example".into(),
            from_user: "from".into(),
            register_proxy: "reg.example:5070".into(),
            outbound_proxy: "sbc.example".into(),
            ..uni()
        };
        assert_eq!(g.effective_auth_username(), "auth");
        assert_eq!(g.effective_from_user(), "from");
        assert_eq!(g.effective_from_domain(), "carrier.example");
        assert_eq!(g.register_target(), "reg.example:5070");
        assert_eq!(g.outbound_target(), "sbc.example");
        let g = Gateway {
            from_domain: "d.example".into(),
            ..g
        };
        assert_eq!(g.effective_from_domain(), "d.example");
    }

    #[test]
    fn ims_defaults_use_the_identities_and_the_pcscf() {
        let g = ims();
        assert!(g.validate().is_ok(), "{:?}", g.validate());
        assert_eq!(
            g.effective_auth_username(),
            "+8651200000000@ims.example.net"
        );
        assert_eq!(g.effective_realm(), "ims.example.net");
        assert_eq!(g.register_target(), "198.51.100.7:5060");
        assert_eq!(g.outbound_target(), "198.51.100.7:5060");
        // Not IMS: the P-CSCF field means nothing.
        let g = Gateway {
            mode: Mode::Uni,
            ..ims()
        };
        assert_eq!(g.register_target(), "ims.example.net:5060");
        assert_eq!(g.effective_auth_username(), "+8651200000000");
    }

    #[test]
    fn nni_needs_only_name_and_proxy_and_accepts_its_proxy_by_default() {
        let g = Gateway::new("peer", Mode::Nni, "192.0.2.20");
        assert_eq!(g.validate(), Ok(()));
        assert!(!g.registers());
        assert_eq!(g.inbound_addresses(), ["192.0.2.20"]);
        let g = Gateway::new("peer6", Mode::Nni, "[2001:db8::1]");
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.inbound_addresses(), ["2001:db8::1"]);
        let g = Gateway {
            addresses: vec!["192.0.2.0/24".into(), "2001:db8::/32".into()],
            ..g
        };
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.inbound_addresses(), ["192.0.2.0/24", "2001:db8::/32"]);
    }

    #[test]
    fn uni_and_ims_need_username_and_password() {
        for mode in [Mode::Uni, Mode::Ims] {
            let g = Gateway::new("gw", mode, "carrier.example");
            assert!(g.mode.registers());
            assert_eq!(problem(&g, "username"), Some(Problem::Required));
            assert_eq!(problem(&g, "password"), Some(Problem::Required));
        }
        assert_eq!(uni().validate(), Ok(()));
        assert!(uni().registers());
        let off = Gateway {
            enabled: false,
            ..uni()
        };
        assert!(!off.registers());
    }

    #[test]
    fn ims_needs_its_identities_and_home_domain() {
        let g = Gateway {
            impu: String::new(),
            impi: String::new(),
            home_domain: String::new(),
            ..ims()
        };
        let e = g.validate().unwrap_err();
        for field in ["impu", "impi", "home_domain"] {
            assert_eq!(e.of(field), Some(&Problem::Required), "{field}");
        }
        for bad in [
            "+86512",
            "http://x",
            "sip:@host",
            "sip:user",
            "sip:a b@host",
        ] {
            let g = Gateway {
                impu: bad.into(),
                ..ims()
            };
            assert_eq!(problem(&g, "impu"), Some(Problem::Uri), "{bad}");
        }
        for good in [
            "sip:+861@ims.example.net",
            "sips:u@[2001:db8::1]:5061",
            "tel:+8651200",
        ] {
            let g = Gateway {
                impu: good.into(),
                ..ims()
            };
            assert_eq!(g.validate(), Ok(()), "{good}");
        }
    }

    #[test]
    fn names_are_safe_for_urls_and_metrics() {
        for good in ["gw1", "carrier-a.b_c", "9"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        assert_eq!(check_name(""), Err(Problem::Required));
        for bad in ["-gw", ".gw", "gw 1", "gw/1", "网关", "gw\"1"] {
            assert_eq!(check_name(bad), Err(Problem::Name), "{bad}");
        }
        assert_eq!(check_name(&"a".repeat(65)), Err(Problem::TooLong(64)));
        assert_eq!(check_name("new"), Err(Problem::Reserved));
        assert_eq!(check_name("Status"), Err(Problem::Reserved));
        assert_eq!(check_name("status2"), Ok(()));
        let g = Gateway {
            name: "bad name".into(),
            ..uni()
        };
        assert_eq!(problem(&g, "name"), Some(Problem::Name));
    }

    #[test]
    fn hosts_and_host_ports() {
        for good in [
            "carrier.example",
            "192.0.2.1",
            "[2001:db8::1]",
            "sip-1.a.example",
        ] {
            assert_eq!(check_host(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "999.1.1.1",
            "a..b",
            "-a.example",
            "a_b.example",
            "2001:db8::1",
            "[::1",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_host_port("sbc.example:5070"),
            Ok(("sbc.example".into(), Some(5070)))
        );
        assert_eq!(parse_host_port("192.0.2.1"), Ok(("192.0.2.1".into(), None)));
        assert_eq!(
            parse_host_port("[2001:db8::1]:5061"),
            Ok(("[2001:db8::1]".into(), Some(5061)))
        );
        assert_eq!(
            parse_host_port("2001:db8::1"),
            Ok(("[2001:db8::1]".into(), None))
        );
        for bad in [
            "host:",
            "host:0",
            "host:70000",
            "host:+5",
            "[::1]x",
            "a b:5060",
            ":5060",
        ] {
            assert_eq!(
                parse_host_port(bad),
                Err(Problem::HostPort(bad.into())),
                "{bad}"
            );
        }
        let g = Gateway {
            proxy: "not a host".into(),
            outbound_proxy: "sbc:99999".into(),
            register_proxy: "reg.example:5070".into(),
            ..uni()
        };
        let e = g.validate().unwrap_err();
        assert_eq!(e.of("proxy"), Some(&Problem::Host("not a host".into())));
        assert_eq!(
            e.of("outbound_proxy"),
            Some(&Problem::HostPort("sbc:99999".into()))
        );
        assert_eq!(e.of("register_proxy"), None);
        let g = Gateway {
            proxy: String::new(),
            port: 0,
            ..uni()
        };
        assert_eq!(problem(&g, "proxy"), Some(Problem::Required));
        assert_eq!(problem(&g, "port"), Some(Problem::Port));
    }

    #[test]
    fn ranges_name_their_bounds() {
        let g = Gateway {
            expire_secs: 10,
            retry_secs: 0,
            ping_secs: 2,
            max_calls: 2_000_000,
            strip_digits: 40,
            ..uni()
        };
        let e = g.validate().unwrap_err();
        assert_eq!(
            e.of("expire_secs"),
            Some(&Problem::Range {
                min: 30,
                max: 86_400,
                off: false
            })
        );
        assert!(e.of("retry_secs").is_some());
        assert_eq!(
            e.of("ping_secs").map(ToString::to_string).as_deref(),
            Some("must be 0 (off) or from 5 to 3600")
        );
        assert!(e.of("max_calls").is_some());
        assert!(e.of("strip_digits").is_some());
        let ok = Gateway {
            ping_secs: 0,
            expire_secs: 30,
            retry_secs: 5,
            max_calls: 0,
            ..uni()
        };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn codecs_must_be_known_and_listed_once() {
        assert_eq!(
            parse_codecs("pcma, g722 telephone-EVENT"),
            ["PCMA", "G722", "telephone-event"]
        );
        assert_eq!(parse_codecs("OPUS,pcmu"), ["opus", "PCMU"]);
        let g = Gateway {
            codecs: parse_codecs("PCMU,GSM"),
            ..uni()
        };
        assert_eq!(problem(&g, "codecs"), Some(Problem::Codec("GSM".into())));
        let g = Gateway {
            codecs: parse_codecs("PCMU,pcmu"),
            ..uni()
        };
        assert_eq!(
            problem(&g, "codecs"),
            Some(Problem::DuplicateCodec("PCMU".into()))
        );
        let g = Gateway {
            codecs: parse_codecs("PCMA PCMU"),
            ..uni()
        };
        assert_eq!(g.validate(), Ok(()));
    }

    #[test]
    fn prefixes_and_caller_ids_are_dialable() {
        for good in ["", "0", "+8610", "*#9"] {
            let g = Gateway {
                add_prefix: good.into(),
                caller_id: good.into(),
                ..uni()
            };
            assert_eq!(g.validate(), Ok(()), "{good}");
        }
        for bad in ["+", "12a", "1 2", "1+2"] {
            let g = Gateway {
                add_prefix: bad.into(),
                caller_id: bad.into(),
                ..uni()
            };
            let e = g.validate().unwrap_err();
            assert_eq!(e.of("add_prefix"), Some(&Problem::Digits), "{bad}");
            assert_eq!(e.of("caller_id"), Some(&Problem::Digits), "{bad}");
        }
    }

    #[test]
    fn user_names_and_texts_keep_sip_headers_intact() {
        let g = Gateway {
            username: "a b".into(),
            from_user: "x@y".into(),
            auth_username: "u<".into(),
            realm: "r\"".into(),
            password: "pw\r\n".into(),
            note: "line\u{7}".into(),
            ..uni()
        };
        let e = g.validate().unwrap_err();
        for field in [
            "username",
            "from_user",
            "auth_username",
            "realm",
            "password",
            "note",
        ] {
            assert_eq!(e.of(field), Some(&Problem::Chars), "{field}");
        }
        // IMS account names hold an @, and passwords may hold anything printable.
        let g = Gateway {
            username: "+861@ims.example.net".into(),
            password: "p@ss word:<>\"".into(),
            note: "主用中继".into(),
            ..uni()
        };
        assert_eq!(g.validate(), Ok(()));
        let g = Gateway {
            note: "x".repeat(201),
            ..uni()
        };
        assert_eq!(problem(&g, "note"), Some(Problem::TooLong(200)));
    }

    #[test]
    fn nni_addresses_are_ips_or_networks() {
        assert_eq!(
            parse_network("192.0.2.0/24"),
            Some(("192.0.2.0".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_network("2001:db8::1"),
            Some(("2001:db8::1".parse().unwrap(), 128))
        );
        for bad in [
            "192.0.2.0/33",
            "host.example",
            "10.0.0.1/",
            "10.0.0.1/x",
            "::/129",
        ] {
            assert_eq!(parse_network(bad), None, "{bad}");
        }
        let g = Gateway {
            addresses: vec!["10.0.0.1".into(), "carrier.example".into()],
            ..Gateway::new("peer", Mode::Nni, "10.0.0.1")
        };
        assert_eq!(
            problem(&g, "addresses"),
            Some(Problem::Address("carrier.example".into()))
        );
        let g = Gateway {
            addresses: (0..65).map(|i| format!("10.0.0.{i}")).collect(),
            ..Gateway::new("peer", Mode::Nni, "10.0.0.1")
        };
        assert_eq!(problem(&g, "addresses"), Some(Problem::TooMany(64)));
    }

    #[test]
    fn every_problem_is_reported_once_per_field_in_form_order() {
        let g = Gateway {
            name: String::new(),
            proxy: String::new(),
            ..Gateway::new("", Mode::Uni, "")
        };
        let e = g.validate().unwrap_err();
        let fields: Vec<&str> = e.errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "proxy", "username", "password"]);
        assert_eq!(
            e.to_string(),
            "gateway \"\": name is required; proxy is required; username is required; \
             password is required"
        );
    }

    #[test]
    fn choices_parse_from_their_names() {
        assert_eq!("IMS".parse::<Mode>(), Ok(Mode::Ims));
        assert_eq!("tls".parse::<Transport>(), Ok(Transport::Tls));
        assert_eq!("pai".parse::<IdentityHeader>(), Ok(IdentityHeader::Pai));
        assert_eq!("id".parse::<Privacy>(), Ok(Privacy::Id));
        assert_eq!(
            "sip".parse::<Mode>(),
            Err("unknown mode \"sip\" (use nni, uni, ims)".to_string())
        );
        assert_eq!(Mode::Uni.to_string(), "uni");
        let json = serde_json::to_value(Gateway {
            identity: IdentityHeader::Ppi,
            ..ims()
        })
        .unwrap();
        assert_eq!(json["mode"], "ims");
        assert_eq!(json["identity"], "ppi");
        assert_eq!(json["transport"], "udp");
    }

    #[test]
    fn numbers_are_stripped_then_prefixed() {
        let g = Gateway {
            strip_digits: 1,
            add_prefix: "0086".into(),
            ..uni()
        };
        assert_eq!(
            g.rewrite_number("913800138000").as_deref(),
            Some("008613800138000")
        );
        assert_eq!(g.rewrite_number("9"), None);
        assert_eq!(uni().rewrite_number("123").as_deref(), Some("123"));
    }

    #[test]
    fn lists_split_on_commas_and_blanks() {
        assert_eq!(split_list(" a, b;c\nd ，e,, "), ["a", "b", "c", "d", "e"]);
        assert!(split_list(" , ").is_empty());
    }
}
