//! Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
//!
//! This is a sans-IO core used on both sides of a challenge:
//!
//! * the **server** side ([`DigestServer`]) issues `WWW-Authenticate` /
//!   `Proxy-Authenticate` challenges and verifies the `Authorization` /
//!   `Proxy-Authorization` credentials that come back;
//! * the **client** side ([`answer`]) computes the credentials answering a
//!   challenge (gateways registering upstream, our test UA).
//!
//! Supported: algorithms `MD5` and `SHA-256` (not the `-sess` variants),
//! `qop=auth` and the legacy RFC 2069 form without `qop`. `qop=auth-int` is
//! refused because it would need the message body here.
//!
//! Nonces are signed, not stored: each one carries its issue time, a sequence
//! number and a keyed hash over both and the address the challenge was sent to,
//! so a nonce is only good from the address it was issued to. Replays are
//! refused by [`replay::NonceLog`]: one bit per issued nonce says whether it was
//! used, and the nonce count (`nc`) must increase from one use to the next; a
//! nonce sent without `nc` on an INVITE serves once. The caller checks that the
//! digest `uri` is the Request-URI ([`uri_matches`]).
//!
//! Time is always an argument (`now`), never read from the clock here, so
//! tests drive expiry with a virtual clock.

pub mod replay;

use std::borrow::Cow;
use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use replay::{NonceLog, Use};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Hash algorithm of a digest challenge or response (RFC 8760 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the RFC 3261 default, understood by every SIP device.
    Md5,
    /// `SHA-256` (RFC 7616 / RFC 8760): used for both H() and KD().
    Sha256,
}

impl Algorithm {
    /// The token as written in the `algorithm=` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    /// Parses `MD5` / `SHA-256`, case-insensitively. The `-sess` variants and
    /// anything else are reported as unsupported.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if t.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else {
            Err(AuthError::UnsupportedAlgorithm(t.to_owned()))
        }
    }
}

/// Why a challenge or credentials header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The auth scheme is not `Digest` (e.g. `Basic`), or there is no scheme.
    /// The payload says which kind of header was expected.
    #[error("not a Digest {0}")]
    NotDigest(&'static str),
    /// A mandatory parameter (`realm`, `nonce`, `username`, ...) is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A known parameter appears twice; refused because it is ambiguous which
    /// value the other side meant (and a classic smuggling trick).
    #[error("duplicate {0} parameter")]
    Duplicate(&'static str),
    /// The `algorithm=` value is not one we implement.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The parameter list is syntactically broken; the text says where.
    #[error("malformed parameters: {0}")]
    Malformed(String),
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space; goes into HA1, so the client must use it verbatim.
    pub realm: String,
    /// Server nonce, echoed back in the credentials.
    pub nonce: String,
    /// Opaque server token that must be echoed unchanged, if present.
    pub opaque: Option<String>,
    /// Hash algorithm (defaults to MD5 when the parameter is absent).
    pub algorithm: Algorithm,
    /// Offered qop values (`auth`, `auth-int`); empty means RFC 2069 style.
    pub qop: Vec<String>,
    /// True when the previous credentials were right but the nonce expired,
    /// telling the client to retry silently instead of asking for a password.
    pub stale: bool,
}

impl Challenge {
    /// Parses the value of a `WWW-Authenticate` / `Proxy-Authenticate` header
    /// (starting with `Digest `). Unknown parameters are ignored.
    pub fn parse(header_value: &str) -> Result<Challenge, AuthError> {
        let params = digest_params(header_value, "challenge")?;
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut stale = None;
        for p in params {
            let (name, value) = p?;
            let slot = if name.eq_ignore_ascii_case("realm") {
                (&mut realm, "realm")
            } else if name.eq_ignore_ascii_case("nonce") {
                (&mut nonce, "nonce")
            } else if name.eq_ignore_ascii_case("opaque") {
                (&mut opaque, "opaque")
            } else if name.eq_ignore_ascii_case("algorithm") {
                (&mut algorithm, "algorithm")
            } else if name.eq_ignore_ascii_case("qop") {
                (&mut qop, "qop")
            } else if name.eq_ignore_ascii_case("stale") {
                (&mut stale, "stale")
            } else {
                continue;
            };
            set_once(slot.0, slot.1, value)?;
        }
        let algorithm = match algorithm {
            Some(a) => a.parse()?,
            None => Algorithm::Md5,
        };
        // qop is a quoted, comma-separated list; tolerate a bare token too.
        let qop = qop
            .map(|q| {
                q.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Challenge {
            realm: realm.ok_or(AuthError::Missing("realm"))?.into_owned(),
            nonce: nonce.ok_or(AuthError::Missing("nonce"))?.into_owned(),
            opaque: opaque.map(Cow::into_owned),
            algorithm,
            qop,
            stale: stale.is_some_and(|s| s.trim().eq_ignore_ascii_case("true")),
        })
    }

    /// Formats the challenge as a header value, `Digest realm="…", nonce="…", …`.
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(
            64 + self.realm.len() + self.nonce.len() + self.opaque.as_ref().map_or(0, String::len),
        );
        out.push_str("Digest realm=\"");
        push_escaped(&mut out, &self.realm);
        out.push_str("\", nonce=\"");
        push_escaped(&mut out, &self.nonce);
        out.push('"');
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=\"");
            push_escaped(&mut out, opaque);
            out.push('"');
        }
        out.push_str(", algorithm=");
        out.push_str(self.algorithm.as_str());
        if !self.qop.is_empty() {
            out.push_str(", qop=\"");
            for (i, q) in self.qop.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_escaped(&mut out, q);
            }
            out.push('"');
        }
        if self.stale {
            out.push_str(", stale=TRUE");
        }
        out
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

/// Parsed `Authorization` / `Proxy-Authorization` Digest credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (unescaped); the caller looks the password up by it.
    pub username: String,
    /// Realm the client answered; must equal the server's.
    pub realm: String,
    /// Nonce from the challenge being answered.
    pub nonce: String,
    /// digest-uri the client hashed (normally the Request-URI).
    pub uri: String,
    /// The hex request-digest.
    pub response: String,
    /// Algorithm used (MD5 when the parameter is absent).
    pub algorithm: Algorithm,
    /// Client nonce; required with a qop.
    pub cnonce: Option<String>,
    /// Nonce count (8 hex digits); required with a qop.
    pub nc: Option<String>,
    /// Chosen qop (`auth`); absent in the RFC 2069 form.
    pub qop: Option<String>,
    /// Echo of the challenge's opaque value.
    pub opaque: Option<String>,
}

impl Credentials {
    /// Parses the value of an `Authorization` / `Proxy-Authorization` header
    /// (starting with `Digest `). Unknown parameters are ignored. When a qop
    /// is present, `cnonce` and `nc` are mandatory (RFC 2617 §3.2.2).
    pub fn parse(header_value: &str) -> Result<Credentials, AuthError> {
        let params = digest_params(header_value, "credentials")?;
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut cnonce = None;
        let mut nc = None;
        let mut qop = None;
        let mut opaque = None;
        for p in params {
            let (name, value) = p?;
            let slot = if name.eq_ignore_ascii_case("username") {
                (&mut username, "username")
            } else if name.eq_ignore_ascii_case("realm") {
                (&mut realm, "realm")
            } else if name.eq_ignore_ascii_case("nonce") {
                (&mut nonce, "nonce")
            } else if name.eq_ignore_ascii_case("uri") {
                (&mut uri, "uri")
            } else if name.eq_ignore_ascii_case("response") {
                (&mut response, "response")
            } else if name.eq_ignore_ascii_case("algorithm") {
                (&mut algorithm, "algorithm")
            } else if name.eq_ignore_ascii_case("cnonce") {
                (&mut cnonce, "cnonce")
            } else if name.eq_ignore_ascii_case("nc") {
                (&mut nc, "nc")
            } else if name.eq_ignore_ascii_case("qop") {
                (&mut qop, "qop")
            } else if name.eq_ignore_ascii_case("opaque") {
                (&mut opaque, "opaque")
            } else {
                continue;
            };
            set_once(slot.0, slot.1, value)?;
        }
        let algorithm = match algorithm {
            Some(a) => a.parse()?,
            None => Algorithm::Md5,
        };
        let username = username.ok_or(AuthError::Missing("username"))?;
        let realm = realm.ok_or(AuthError::Missing("realm"))?;
        let nonce = nonce.ok_or(AuthError::Missing("nonce"))?;
        let uri = uri.ok_or(AuthError::Missing("uri"))?;
        let response = response.ok_or(AuthError::Missing("response"))?;
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(AuthError::Missing("cnonce"));
            }
            if nc.is_none() {
                return Err(AuthError::Missing("nc"));
            }
        }
        Ok(Credentials {
            username: username.into_owned(),
            realm: realm.into_owned(),
            nonce: nonce.into_owned(),
            uri: uri.into_owned(),
            response: response.into_owned(),
            algorithm,
            cnonce: cnonce.map(Cow::into_owned),
            nc: nc.map(Cow::into_owned),
            qop: qop.map(|q| q.trim().to_owned()),
            opaque: opaque.map(Cow::into_owned),
        })
    }

    /// Formats the credentials as a header value, `Digest username="…", …`.
    /// `qop`, `nc` and `algorithm` are written as tokens, the rest quoted, as
    /// RFC 3261 §25.1 requires (some devices are strict about it).
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(
            160 + self.username.len() + self.realm.len() + self.nonce.len() + self.uri.len(),
        );
        out.push_str("Digest username=\"");
        push_escaped(&mut out, &self.username);
        out.push_str("\", realm=\"");
        push_escaped(&mut out, &self.realm);
        out.push_str("\", nonce=\"");
        push_escaped(&mut out, &self.nonce);
        out.push_str("\", uri=\"");
        push_escaped(&mut out, &self.uri);
        out.push_str("\", response=\"");
        push_escaped(&mut out, &self.response);
        out.push_str("\", algorithm=");
        out.push_str(self.algorithm.as_str());
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", cnonce=\"");
            push_escaped(&mut out, cnonce);
            out.push('"');
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=\"");
            push_escaped(&mut out, opaque);
            out.push('"');
        }
        if let Some(qop) = &self.qop {
            out.push_str(", qop=");
            push_token(&mut out, qop);
        }
        if let Some(nc) = &self.nc {
            out.push_str(", nc=");
            push_token(&mut out, nc);
        }
        out
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

/// Outcome of [`DigestServer::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Credentials are correct and the nonce is fresh: let the request in.
    Ok,
    /// The response is correct for the password but the nonce has expired:
    /// re-challenge with `stale=true` so the client retries without a prompt.
    Stale,
    /// Reject (re-challenge with `stale=false`, or 403). The reason is short,
    /// fixed text meant for logs, never for the wire: "wrong realm",
    /// "algorithm not offered", "unsupported qop", "missing cnonce",
    /// "missing nc", "opaque mismatch", "bad nonce", "nonce from the future",
    /// "wrong password".
    Invalid(&'static str),
    /// The credentials are right but were used before (same nonce, a nonce
    /// count not above the last one, or a second use of a single-use nonce), or
    /// the nonce is too old to tell: re-challenge with `stale=true`. A client
    /// retries with the fresh nonce; a replaying attacker, lacking the
    /// password, cannot.
    Replayed,
}

impl Verdict {
    /// True only for [`Verdict::Ok`].
    pub fn is_ok(self) -> bool {
        self == Verdict::Ok
    }
}

/// How far in the future a nonce's timestamp may be before we refuse it.
/// Our own nonces are never dated ahead; this only absorbs clock steps
/// between workers sharing a secret.
const FUTURE_TOLERANCE_MS: u64 = 5_000;
/// Nonce layout: 16 hex issue time (ms since epoch) ‖ 16 hex sequence number ‖
/// 32 hex MAC over both, the realm and the address the challenge went to.
const NONCE_LEN: usize = 64;
const NONCE_MAC_BYTES: usize = 16;

/// Server side of digest authentication for one realm: issues challenges and
/// verifies credentials. Clones share the record of used nonces, so it can be
/// shared (behind `&`/`Arc`, or cloned) by any number of tasks.
#[derive(Clone)]
pub struct DigestServer {
    realm: String,
    algorithms: Vec<Algorithm>,
    nonce_ttl: Duration,
    secret: [u8; 32],
    opaque: Option<String>,
    log: Arc<Mutex<NonceLog>>,
    fingerprints: std::collections::hash_map::RandomState,
}

/// The address nonces are bound to when the caller names none
/// ([`DigestServer::challenges`], [`DigestServer::verify`]).
const ANY_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

impl fmt::Debug for DigestServer {
    // Hand-written so the nonce secret never ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("nonce_ttl", &self.nonce_ttl)
            .field("opaque", &self.opaque)
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// Creates a server for `realm`, offering `algorithms` in order of
    /// preference (an empty list means MD5 only), with nonces valid for
    /// `nonce_ttl`. The nonce-signing secret comes from the OS RNG.
    pub fn new(realm: impl Into<String>, algorithms: Vec<Algorithm>, nonce_ttl: Duration) -> Self {
        let mut secret = [0u8; 32];
        if let Err(e) = getrandom::getrandom(&mut secret) {
            // Keep serving rather than crash: a guessable secret only lets an
            // attacker forge nonce *freshness* (defeating expiry), never pass
            // without the password. Mix what entropy we still have.
            tracing::error!(error = %e, "OS RNG unavailable; deriving digest nonce secret from fastrand");
            let mut h = Sha256::new();
            for _ in 0..8 {
                h.update(fastrand::u64(..).to_le_bytes());
            }
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            h.update(t.to_le_bytes());
            secret.copy_from_slice(&h.finalize());
        }
        Self::with_secret(realm, algorithms, nonce_ttl, secret)
    }

    /// Like [`DigestServer::new`] with a caller-chosen secret: deterministic
    /// tests, or several processes that must accept each other's nonces.
    pub fn with_secret(
        realm: impl Into<String>,
        algorithms: Vec<Algorithm>,
        nonce_ttl: Duration,
        secret: [u8; 32],
    ) -> Self {
        let algorithms = if algorithms.is_empty() {
            vec![Algorithm::Md5]
        } else {
            algorithms
        };
        DigestServer {
            realm: realm.into(),
            algorithms,
            nonce_ttl,
            secret,
            opaque: None,
            log: Arc::new(Mutex::new(NonceLog::default())),
            fingerprints: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Makes the challenges carry `opaque` and requires clients to echo it.
    /// Off by default: it adds nothing to a stateless nonce and a few old
    /// phones mishandle it.
    pub fn with_opaque(mut self, opaque: impl Into<String>) -> Self {
        self.opaque = Some(opaque.into());
        self
    }

    /// The realm this server authenticates.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The algorithms offered, most preferred first.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Header values for `WWW-Authenticate` (registrar) or
    /// `Proxy-Authenticate` (proxy/B2BUA), one per offered algorithm, most
    /// preferred first (RFC 8760 §2.4: the client picks the first it
    /// supports). Pass `stale = true` when re-challenging after
    /// [`Verdict::Stale`]. All values share one fresh nonce.
    pub fn challenges(&self, now: SystemTime, stale: bool) -> Vec<String> {
        self.challenges_for(ANY_SOURCE, now, stale)
    }

    /// [`Self::challenges`] for a request from `source`: the nonce is only
    /// accepted back from that address ([`Self::verify_from`]), so credentials
    /// captured on the way cannot be used from anywhere else.
    pub fn challenges_for(&self, source: IpAddr, now: SystemTime, stale: bool) -> Vec<String> {
        self.challenges_offering(&[], source, now, stale)
    }

    /// [`Self::challenges_for`] offering `algorithms` (an extension's own
    /// choice) instead of the server's; an empty list offers the server's.
    /// Verify the answer with [`Self::verify_offered`] and the same list.
    pub fn challenges_offering(
        &self,
        algorithms: &[Algorithm],
        source: IpAddr,
        now: SystemTime,
        stale: bool,
    ) -> Vec<String> {
        let seq = self.with_log(|log| log.issue());
        let nonce = self.make_nonce(now, seq, source);
        self.offered(algorithms)
            .iter()
            .map(|&algorithm| {
                Challenge {
                    realm: self.realm.clone(),
                    nonce: nonce.clone(),
                    opaque: self.opaque.clone(),
                    algorithm,
                    qop: vec!["auth".to_owned()],
                    stale,
                }
                .to_header_value()
            })
            .collect()
    }

    /// Checks `creds` against the user's plain-text `password`. `method` is
    /// the request method (`REGISTER`, `INVITE`, ...) that goes into HA2.
    ///
    /// The caller remains responsible for looking the password up by
    /// `creds.username` and, if it wants, for checking that `creds.uri`
    /// matches the Request-URI.
    pub fn verify(
        &self,
        creds: &Credentials,
        method: &str,
        password: &str,
        now: SystemTime,
    ) -> Verdict {
        // Every call is a request of its own: never taken for a retransmission.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = CALLS
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_string();
        self.verify_from(creds, method, password, ANY_SOURCE, &id, now)
    }

    /// [`Self::verify`] for a request from `source`, which must be the address
    /// the nonce was issued to. Correct credentials are then checked against
    /// earlier uses of the nonce: the nonce count must go up from one request
    /// to the next, and an INVITE without a nonce count may use a nonce once
    /// ([`Verdict::Replayed`] otherwise). `request_id` names the request
    /// (Call-ID, CSeq and branch): a retransmission of the request that used
    /// the nonce last is accepted again, since stateless answers let it reach
    /// us again.
    pub fn verify_from(
        &self,
        creds: &Credentials,
        method: &str,
        password: &str,
        source: IpAddr,
        request_id: &str,
        now: SystemTime,
    ) -> Verdict {
        self.verify_offered(creds, &[], method, password, source, request_id, now)
    }

    /// [`Self::verify_from`] for an answer to a challenge that offered
    /// `algorithms` ([`Self::challenges_offering`]; empty: the server's):
    /// an answer with an algorithm not among them is refused.
    #[allow(clippy::too_many_arguments)]
    pub fn verify_offered(
        &self,
        creds: &Credentials,
        algorithms: &[Algorithm],
        method: &str,
        password: &str,
        source: IpAddr,
        request_id: &str,
        now: SystemTime,
    ) -> Verdict {
        let offered = self.offered(algorithms);
        let verdict = self.verify_with(creds, offered, method, password, |nonce| {
            self.check_nonce(nonce, source, now)
        });
        if verdict != Verdict::Ok {
            return verdict;
        }
        let Some(seq) = nonce_seq(&creds.nonce) else {
            return Verdict::Invalid("bad nonce");
        };
        let nc = match creds.nc.as_deref() {
            None => None,
            Some(hex) => match u32::from_str_radix(hex, 16) {
                Ok(n) if n > 0 => Some(n),
                _ => return Verdict::Invalid("bad nc"),
            },
        };
        let single_use = method.eq_ignore_ascii_case("INVITE");
        // Keyed by a per-process secret, so nobody can make another request
        // collide with a captured one's fingerprint.
        let fp = self.fingerprints.hash_one(request_id) as u32;
        match self.with_log(|log| log.record(seq, nc, single_use, fp)) {
            Use::Fresh => Verdict::Ok,
            Use::Replayed | Use::Forgotten => Verdict::Replayed,
        }
    }

    /// Whether `nonce` is one of ours, issued to `source` (expired or not).
    /// A request carrying such a nonce proves its source receives what we send
    /// there: it is not a forged source address.
    pub fn nonce_is_ours(&self, nonce: &str, source: IpAddr, now: SystemTime) -> bool {
        self.check_nonce(nonce, source, now).is_ok()
    }

    /// `algorithms`, or the server's own when it is empty.
    fn offered<'a>(&'a self, algorithms: &'a [Algorithm]) -> &'a [Algorithm] {
        if algorithms.is_empty() {
            &self.algorithms
        } else {
            algorithms
        }
    }

    fn with_log<T>(&self, f: impl FnOnce(&mut NonceLog) -> T) -> T {
        // A panic while holding the lock cannot leave the log inconsistent
        // (each operation is a few bit flips), so a poisoned lock is used as is.
        let mut log = match self.log.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut log)
    }

    /// Shared verification path; `nonce_state` decides whether the nonce is
    /// ours and fresh, so tests can feed RFC example nonces through it.
    fn verify_with(
        &self,
        creds: &Credentials,
        offered: &[Algorithm],
        method: &str,
        password: &str,
        nonce_state: impl FnOnce(&str) -> Result<Freshness, &'static str>,
    ) -> Verdict {
        if creds.realm != self.realm {
            return Verdict::Invalid("wrong realm");
        }
        if !offered.contains(&creds.algorithm) {
            return Verdict::Invalid("algorithm not offered");
        }
        let qop = match creds.qop.as_deref() {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let Some(cnonce) = creds.cnonce.as_deref() else {
                    return Verdict::Invalid("missing cnonce");
                };
                let Some(nc) = creds.nc.as_deref() else {
                    return Verdict::Invalid("missing nc");
                };
                Some(QopParts { qop: q, nc, cnonce })
            }
            Some(_) => return Verdict::Invalid("unsupported qop"),
        };
        if let Some(expected) = &self.opaque {
            if creds.opaque.as_deref() != Some(expected.as_str()) {
                return Verdict::Invalid("opaque mismatch");
            }
        }
        // Check the nonce before hashing the password: a forged nonce is
        // rejected for the price of one SHA-256.
        let freshness = match nonce_state(&creds.nonce) {
            Ok(f) => f,
            Err(reason) => return Verdict::Invalid(reason),
        };
        let expected = compute_response(
            creds.algorithm,
            &creds.username,
            &self.realm,
            password,
            method,
            &creds.uri,
            &creds.nonce,
            qop,
        );
        if !ct_eq_hex(expected.as_bytes(), creds.response.as_bytes()) {
            return Verdict::Invalid("wrong password");
        }
        match freshness {
            Freshness::Fresh => Verdict::Ok,
            Freshness::Expired => Verdict::Stale,
        }
    }

    /// Builds `hex(ms) ‖ hex(seq) ‖ hex(mac)`. The sequence number makes every
    /// challenge unique even within one millisecond and indexes the replay log.
    fn make_nonce(&self, now: SystemTime, seq: u64, source: IpAddr) -> String {
        let ms = unix_ms(now);
        let mut out = String::with_capacity(NONCE_LEN);
        push_hex(&mut out, &ms.to_be_bytes());
        push_hex(&mut out, &seq.to_be_bytes());
        push_hex(&mut out, &self.nonce_mac(ms, seq, source));
        out
    }

    /// Keyed hash binding a nonce's time and sequence number to this secret,
    /// the address it was issued to and the realm. secret ‖ fixed-width fields
    /// ‖ realm: the server always recomputes the whole message itself, so
    /// SHA-256 length extension gains nothing.
    fn nonce_mac(&self, ms: u64, seq: u64, source: IpAddr) -> [u8; NONCE_MAC_BYTES] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(ms.to_be_bytes());
        h.update(seq.to_be_bytes());
        match source {
            IpAddr::V4(v4) => h.update(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => h.update(v6.octets()),
        }
        h.update(self.realm.as_bytes());
        let full = h.finalize();
        let mut mac = [0u8; NONCE_MAC_BYTES];
        for (m, f) in mac.iter_mut().zip(full.iter()) {
            *m = *f;
        }
        mac
    }

    /// Validates a nonce's shape and signature and classifies its age.
    fn check_nonce(
        &self,
        nonce: &str,
        source: IpAddr,
        now: SystemTime,
    ) -> Result<Freshness, &'static str> {
        let b = nonce.as_bytes();
        if b.len() != NONCE_LEN {
            return Err("bad nonce");
        }
        let (Some(ms_hex), Some(salt_hex), Some(mac_hex)) =
            (b.get(0..16), b.get(16..32), b.get(32..NONCE_LEN))
        else {
            return Err("bad nonce");
        };
        let (Some(ms), Some(salt)) = (parse_hex_u64(ms_hex), parse_hex_u64(salt_hex)) else {
            return Err("bad nonce");
        };
        let mut expected = [0u8; 2 * NONCE_MAC_BYTES];
        hex_into(&self.nonce_mac(ms, salt, source), &mut expected);
        // Strict (lowercase-only) compare: we only ever emit lowercase, so
        // any other spelling is not our nonce.
        if !ct_eq(&expected, mac_hex) {
            return Err("bad nonce");
        }
        let now_ms = unix_ms(now);
        if ms > now_ms.saturating_add(FUTURE_TOLERANCE_MS) {
            return Err("nonce from the future");
        }
        let ttl_ms = u64::try_from(self.nonce_ttl.as_millis()).unwrap_or(u64::MAX);
        if now_ms.saturating_sub(ms) > ttl_ms {
            Ok(Freshness::Expired)
        } else {
            Ok(Freshness::Fresh)
        }
    }
}

/// The sequence number of one of our nonces (not checked: verify first).
fn nonce_seq(nonce: &str) -> Option<u64> {
    parse_hex_u64(nonce.as_bytes().get(16..32)?)
}

/// Whether a digest `uri` names the Request-URI of the request it came with
/// (RFC 3261 §22.4: the server checks they are the same): scheme, user, host
/// and port must agree; URI parameters may differ in spelling and are ignored.
/// Credentials computed for one target are thereby useless for another.
///
/// One looser form is accepted: a digest uri with no user part naming the
/// Request-URI's host and port (`sip:192.0.2.1:5060` for
/// `sip:9196@192.0.2.1:5060`), which SIPp's `[authentication]` sends. It names
/// no target, so it cannot be moved from one to another; replays of it are
/// refused by the nonce count like any other.
pub fn uri_matches(digest_uri: &str, request_uri: &rsip::Uri) -> bool {
    let digest_uri = digest_uri.trim();
    if digest_uri == request_uri.to_string() {
        return true;
    }
    let Ok(d) = rsip::Uri::try_from(digest_uri) else {
        return false;
    };
    let user = |u: &rsip::Uri| u.auth.as_ref().map(|a| a.user.clone());
    let scheme = |u: &rsip::Uri| u.scheme.clone().unwrap_or(rsip::Scheme::Sip);
    let port = |u: &rsip::Uri| u.host_with_port.port.map(|p| *p.value());
    scheme(&d) == scheme(request_uri)
        && (user(&d) == user(request_uri) || user(&d).is_none())
        && d.host_with_port
            .host
            .to_string()
            .eq_ignore_ascii_case(&request_uri.host_with_port.host.to_string())
        && port(&d) == port(request_uri)
}

/// Age class of a nonce whose signature checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Fresh,
    Expired,
}

/// Client side: the `Authorization` / `Proxy-Authorization` header value
/// answering `challenge` for `username`/`password`, for a request with
/// `method` and Request-URI `uri`.
///
/// `cnonce` should be fresh random text per challenge; `nc` counts the
/// requests made with this nonce, starting at 1. Uses `qop=auth` when the
/// challenge offers it, the RFC 2069 form when it offers no qop at all. When
/// it offers only qops we cannot do (`auth-int`), falls back to the RFC 2069
/// form as the best remaining chance.
pub fn answer(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    let use_auth = challenge
        .qop
        .iter()
        .any(|q| q.trim().eq_ignore_ascii_case("auth"));
    let nc_text = format!("{nc:08x}");
    let qop = use_auth.then_some(QopParts {
        qop: "auth",
        nc: &nc_text,
        cnonce,
    });
    let response = compute_response(
        challenge.algorithm,
        username,
        &challenge.realm,
        password,
        method,
        uri,
        &challenge.nonce,
        qop,
    );
    Credentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response: response.as_str().to_owned(),
        algorithm: challenge.algorithm,
        cnonce: use_auth.then(|| cnonce.to_owned()),
        nc: use_auth.then_some(nc_text),
        qop: use_auth.then(|| "auth".to_owned()),
        opaque: challenge.opaque.clone(),
    }
    .to_header_value()
}

// ---------------------------------------------------------------------------
// Digest computation

/// The qop-related inputs of the request-digest (RFC 2617 §3.2.2.1).
#[derive(Debug, Clone, Copy)]
struct QopParts<'a> {
    qop: &'a str,
    nc: &'a str,
    cnonce: &'a str,
}

/// Lowercase hex of a digest, on the stack (at most SHA-256 = 64 chars).
struct HexDigest {
    buf: [u8; 64],
    len: usize,
}

impl HexDigest {
    fn from_bytes(bytes: &[u8]) -> Self {
        let mut buf = [0u8; 64];
        let len = hex_into(bytes, &mut buf);
        HexDigest { buf, len }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn as_str(&self) -> &str {
        // Always ASCII hex, so this never falls back.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// H(p1 ":" p2 ":" ...) as lowercase hex, without building the joined string.
fn hash_joined<D: Digest>(parts: &[&[u8]]) -> HexDigest {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    HexDigest::from_bytes(&h.finalize())
}

fn h(algorithm: Algorithm, parts: &[&[u8]]) -> HexDigest {
    match algorithm {
        Algorithm::Md5 => hash_joined::<Md5>(parts),
        Algorithm::Sha256 => hash_joined::<Sha256>(parts),
    }
}

/// request-digest per RFC 2617 §3.2.2 / RFC 7616 §3.4.1 (non-`-sess`):
/// KD(HA1, nonce:nc:cnonce:qop:HA2), or KD(HA1, nonce:HA2) without qop.
#[allow(clippy::too_many_arguments)] // mirrors the RFC's inputs one to one
fn compute_response(
    algorithm: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<QopParts<'_>>,
) -> HexDigest {
    let ha1 = h(
        algorithm,
        &[username.as_bytes(), realm.as_bytes(), password.as_bytes()],
    );
    let ha2 = h(algorithm, &[method.as_bytes(), uri.as_bytes()]);
    match qop {
        Some(q) => h(
            algorithm,
            &[
                ha1.as_bytes(),
                nonce.as_bytes(),
                q.nc.as_bytes(),
                q.cnonce.as_bytes(),
                q.qop.as_bytes(),
                ha2.as_bytes(),
            ],
        ),
        None => h(
            algorithm,
            &[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()],
        ),
    }
}

// ---------------------------------------------------------------------------
// Byte helpers

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes lowercase hex of `bytes` into `out`, returns the number of chars
/// written (stops early if `out` is short rather than panicking).
fn hex_into(bytes: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = HEX[usize::from(b >> 4)];
            *lo = HEX[usize::from(b & 0x0f)];
            n += 2;
        }
    }
    n
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// Strict lowercase-hex decoding of exactly 16 chars into a u64.
fn parse_hex_u64(s: &[u8]) -> Option<u64> {
    if s.len() != 16 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &c| {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | u64::from(v))
    })
}

/// Constant-time equality (the length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Constant-time compare of our lowercase hex digest with the client's,
/// accepting uppercase hex from sloppy clients. Lowercasing only touches
/// the client's own bytes, so it leaks nothing about the expected value.
fn ct_eq_hex(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (x, y)| acc | (x ^ y.to_ascii_lowercase()))
        == 0
}

fn unix_ms(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Appends `s` as the inside of a quoted-string: `"` and `\` are escaped,
/// CR/LF become spaces so a value can never break out of its header line.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
}

/// Appends a token value; anything that is not a plain token is dropped
/// (tokens cannot be escaped, and these are `qop`/`nc` we produced).
fn push_token(out: &mut String, s: &str) {
    out.extend(
        s.chars()
            .filter(|c| c.is_ascii_graphic() && !matches!(c, '"' | ',' | '\\')),
    );
}

// ---------------------------------------------------------------------------
// Parameter parsing

/// Stores `value` in `slot`, refusing a second occurrence.
fn set_once<'a>(
    slot: &mut Option<Cow<'a, str>>,
    name: &'static str,
    value: Cow<'a, str>,
) -> Result<(), AuthError> {
    if slot.is_some() {
        return Err(AuthError::Duplicate(name));
    }
    *slot = Some(value);
    Ok(())
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Checks the `Digest` scheme and returns an iterator over the parameters.
/// `what` names the header kind for the error message.
fn digest_params<'a>(header_value: &'a str, what: &'static str) -> Result<Params<'a>, AuthError> {
    let s = header_value.trim_start_matches(is_lws);
    let end = s.find(is_lws).unwrap_or(s.len());
    let (scheme, rest) = s.split_at_checked(end).ok_or(AuthError::NotDigest(what))?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest(what));
    }
    Ok(Params { rest, done: false })
}

/// Iterator over `name=value` / `name="quoted \" value"` pairs separated by
/// commas. Names are returned as written (compare case-insensitively);
/// quoted values are unescaped, borrowing when there is nothing to unescape.
/// All slicing goes through `get`/`split_at_checked`, so no input panics.
struct Params<'a> {
    rest: &'a str,
    done: bool,
}

impl<'a> Params<'a> {
    fn fail(&mut self, msg: String) -> Option<Result<(&'a str, Cow<'a, str>), AuthError>> {
        self.done = true;
        Some(Err(AuthError::Malformed(msg)))
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<(&'a str, Cow<'a, str>), AuthError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Skip whitespace and empty list elements (",," is legal #rule).
        let s = self.rest.trim_start_matches(|c| is_lws(c) || c == ',');
        if s.is_empty() {
            self.done = true;
            return None;
        }
        let name_end = s
            .find(|c: char| is_lws(c) || matches!(c, '=' | ',' | '"'))
            .unwrap_or(s.len());
        let Some((name, after_name)) = s.split_at_checked(name_end) else {
            return self.fail("bad parameter name".to_owned());
        };
        if name.is_empty() {
            return self.fail("empty parameter name".to_owned());
        }
        let Some(after_eq) = after_name.trim_start_matches(is_lws).strip_prefix('=') else {
            return self.fail(format!("expected '=' after {name:?}"));
        };
        let v = after_eq.trim_start_matches(is_lws);
        let (value, rest) = if let Some(quoted) = v.strip_prefix('"') {
            // Find the closing quote, skipping backslash-escaped characters.
            let mut escaped = false;
            let mut has_escape = false;
            let mut close = None;
            for (i, c) in quoted.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                    has_escape = true;
                } else if c == '"' {
                    close = Some(i);
                    break;
                }
            }
            let Some(close) = close else {
                return self.fail(format!("unterminated quoted string in {name:?}"));
            };
            let (Some(inner), Some(rest)) = (quoted.get(..close), quoted.get(close + 1..)) else {
                return self.fail(format!("bad quoted string in {name:?}"));
            };
            let value = if has_escape {
                Cow::Owned(unescape(inner))
            } else {
                Cow::Borrowed(inner)
            };
            (value, rest)
        } else {
            let end = v
                .find(|c: char| is_lws(c) || matches!(c, ',' | '"'))
                .unwrap_or(v.len());
            let Some((token, rest)) = v.split_at_checked(end) else {
                return self.fail(format!("bad value for {name:?}"));
            };
            (Cow::Borrowed(token), rest)
        };
        let rest = rest.trim_start_matches(is_lws);
        if !rest.is_empty() && !rest.starts_with(',') {
            return self.fail(format!("expected ',' after {name:?}"));
        }
        self.rest = rest;
        Some(Ok((name, value)))
    }
}

/// Removes quoted-pair backslashes (`\x` → `x`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7u8; 32];

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn server(algs: Vec<Algorithm>) -> DigestServer {
        DigestServer::with_secret("switchboard.test", algs, Duration::from_secs(30), SECRET)
    }

    /// Challenge the client, answer it, parse the answer as the server would.
    fn round(srv: &DigestServer, issued: SystemTime, pick: usize, password: &str) -> Credentials {
        let values = srv.challenges(issued, false);
        let ch = Challenge::parse(&values[pick]).unwrap();
        let hv = answer(
            &ch,
            "alice",
            password,
            "REGISTER",
            "sip:switchboard.test",
            "abc123",
            1,
        );
        Credentials::parse(&hv).unwrap()
    }

    fn rfc2617_challenge() -> Challenge {
        Challenge::parse(
            r#"Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap()
    }

    #[test]
    fn auth_rfc2617_example_answer() {
        let ch = rfc2617_challenge();
        assert_eq!(ch.realm, "testrealm@host.com");
        assert_eq!(ch.algorithm, Algorithm::Md5);
        assert_eq!(ch.qop, vec!["auth", "auth-int"]);
        let hv = answer(
            &ch,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        );
        let c = Credentials::parse(&hv).unwrap();
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
    }

    #[test]
    fn auth_rfc2617_example_verify() {
        // The RFC's Authorization header, verbatim, through the verify path
        // with the nonce treated as one of ours and fresh.
        let c = Credentials::parse(
            r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let srv = DigestServer::with_secret(
            "testrealm@host.com",
            vec![Algorithm::Md5],
            Duration::from_secs(30),
            SECRET,
        )
        .with_opaque("5ccc069c403ebaf9f0171e9517f40e41");
        let fresh = |_: &str| Ok(Freshness::Fresh);
        assert_eq!(
            srv.verify_with(&c, srv.algorithms(), "GET", "Circle Of Life", fresh),
            Verdict::Ok
        );
        assert_eq!(
            srv.verify_with(&c, srv.algorithms(), "GET", "Circle of Life", fresh),
            Verdict::Invalid("wrong password")
        );
        assert_eq!(
            srv.verify_with(&c, srv.algorithms(), "GET", "Circle Of Life", |_| Ok(
                Freshness::Expired
            )),
            Verdict::Stale
        );
        // Uppercase hex from a sloppy client is still accepted.
        let mut upper = c.clone();
        upper.response = upper.response.to_ascii_uppercase();
        assert_eq!(
            srv.verify_with(&upper, srv.algorithms(), "GET", "Circle Of Life", fresh),
            Verdict::Ok
        );
        // The real nonce check refuses the RFC's nonce: it is not ours.
        assert_eq!(
            srv.verify(&c, "GET", "Circle Of Life", t(0)),
            Verdict::Invalid("bad nonce")
        );
    }

    #[test]
    fn auth_rfc7616_sha256_example() {
        let mut ch = Challenge::parse(
            r#"Digest
                realm="http-auth@example.org",
                qop="auth, auth-int",
                algorithm=SHA-256,
                nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let hv = answer(
            &ch,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cnonce,
            1,
        );
        let c = Credentials::parse(&hv).unwrap();
        assert_eq!(
            c.response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(c.algorithm, Algorithm::Sha256);
        // The same RFC section's MD5 variant.
        ch.algorithm = Algorithm::Md5;
        let hv = answer(
            &ch,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cnonce,
            1,
        );
        assert_eq!(
            Credentials::parse(&hv).unwrap().response,
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn auth_round_trip_md5_and_sha256() {
        let srv = server(vec![Algorithm::Sha256, Algorithm::Md5]);
        for pick in 0..2 {
            let c = round(&srv, t(0), pick, "s3cret");
            assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(0)), Verdict::Ok);
            let c = round(&srv, t(0), pick, "s3cret");
            assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(29)), Verdict::Ok);
            // Method is part of HA2.
            assert_eq!(
                srv.verify(&c, "INVITE", "s3cret", t(0)),
                Verdict::Invalid("wrong password")
            );
        }
        assert_eq!(round(&srv, t(0), 0, "x").algorithm, Algorithm::Sha256);
        assert_eq!(round(&srv, t(0), 1, "x").algorithm, Algorithm::Md5);
    }

    #[test]
    fn auth_replayed_credentials_are_refused() {
        let srv = server(vec![Algorithm::Md5]);
        let c = round(&srv, t(0), 0, "s3cret");
        assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(0)), Verdict::Ok);
        // The same Authorization again (same nonce, same nc): a replay.
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(1)),
            Verdict::Replayed
        );
        // The client's next request with the nonce counts up: accepted.
        let ch = Challenge {
            realm: srv.realm().to_owned(),
            nonce: c.nonce.clone(),
            opaque: None,
            algorithm: Algorithm::Md5,
            qop: vec!["auth".into()],
            stale: false,
        };
        let next = answer(
            &ch,
            "alice",
            "s3cret",
            "REGISTER",
            "sip:switchboard.test",
            "abc124",
            2,
        );
        let next = Credentials::parse(&next).unwrap();
        assert_eq!(srv.verify(&next, "REGISTER", "s3cret", t(2)), Verdict::Ok);
        assert_eq!(
            srv.verify(&next, "REGISTER", "s3cret", t(3)),
            Verdict::Replayed
        );
        // A wrong password is still wrong, not a replay.
        assert_eq!(
            srv.verify(&c, "REGISTER", "guess", t(3)),
            Verdict::Invalid("wrong password")
        );
    }

    #[test]
    fn auth_invite_without_qop_uses_a_nonce_once() {
        let srv = server(vec![Algorithm::Md5]);
        let values = srv.challenges(t(0), false);
        let mut ch = Challenge::parse(&values[0]).unwrap();
        ch.qop.clear(); // an RFC 2069 client: no qop, no nc
        let hv = answer(&ch, "alice", "s3cret", "INVITE", "sip:1001@sb", "", 1);
        let c = Credentials::parse(&hv).unwrap();
        assert!(c.nc.is_none());
        assert_eq!(srv.verify(&c, "INVITE", "s3cret", t(0)), Verdict::Ok);
        assert_eq!(srv.verify(&c, "INVITE", "s3cret", t(0)), Verdict::Replayed);
    }

    #[test]
    fn auth_nonce_is_bound_to_the_source_address() {
        let srv = server(vec![Algorithm::Md5]);
        let phone: IpAddr = "192.0.2.10".parse().unwrap();
        let attacker: IpAddr = "198.51.100.66".parse().unwrap();
        let values = srv.challenges_for(phone, t(0), false);
        let ch = Challenge::parse(&values[0]).unwrap();
        let hv = answer(&ch, "alice", "s3cret", "REGISTER", "sip:sb", "cn", 1);
        let c = Credentials::parse(&hv).unwrap();
        assert!(srv.nonce_is_ours(&c.nonce, phone, t(0)));
        assert!(!srv.nonce_is_ours(&c.nonce, attacker, t(0)));
        assert_eq!(
            srv.verify_from(&c, "REGISTER", "s3cret", attacker, "r1", t(0)),
            Verdict::Invalid("bad nonce")
        );
        assert_eq!(
            srv.verify_from(&c, "REGISTER", "s3cret", phone, "r1", t(0)),
            Verdict::Ok
        );
    }

    #[test]
    fn auth_digest_uri_must_be_the_request_uri() {
        let req: rsip::Uri = rsip::Uri::try_from("sip:9196@192.0.2.1:5060").unwrap();
        assert!(uri_matches("sip:9196@192.0.2.1:5060", &req));
        assert!(uri_matches("sip:9196@192.0.2.1:5060;transport=udp", &req));
        assert!(!uri_matches("sip:1010@192.0.2.1:5060", &req));
        assert!(!uri_matches("sip:9196@192.0.2.2:5060", &req));
        // SIPp's form: the server's address, no user.
        assert!(uri_matches("sip:192.0.2.1:5060", &req));
        assert!(!uri_matches("sip:192.0.2.9:5060", &req));
        assert!(!uri_matches("sip:9196@192.0.2.1", &req));
        assert!(!uri_matches("garbage", &req));
    }

    #[test]
    fn auth_wrong_password_invalid() {
        let srv = server(vec![Algorithm::Md5]);
        let c = round(&srv, t(0), 0, "guess");
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(1)),
            Verdict::Invalid("wrong password")
        );
    }

    #[test]
    fn auth_expired_nonce_stale_only_with_right_password() {
        let srv = server(vec![Algorithm::Sha256]);
        let good = round(&srv, t(0), 0, "s3cret");
        assert_eq!(
            srv.verify(&good, "REGISTER", "s3cret", t(31)),
            Verdict::Stale
        );
        let bad = round(&srv, t(0), 0, "guess");
        assert_eq!(
            srv.verify(&bad, "REGISTER", "s3cret", t(31)),
            Verdict::Invalid("wrong password")
        );
    }

    #[test]
    fn auth_tampered_nonce_invalid() {
        let srv = server(vec![Algorithm::Md5]);
        let values = srv.challenges(t(0), false);
        let mut ch = Challenge::parse(&values[0]).unwrap();
        let original = ch.nonce.clone();
        // Push the timestamp forward to extend its life, flip a MAC char,
        // truncate, uppercase: the client's response is computed over the
        // tampered nonce, so only the signature check can catch it.
        let mut extended = original.clone().into_bytes();
        extended[10] = if extended[10] == b'f' { b'e' } else { b'f' };
        let mut flipped = original.clone().into_bytes();
        flipped[63] = if flipped[63] == b'0' { b'1' } else { b'0' };
        for bad in [
            String::from_utf8(extended).unwrap(),
            String::from_utf8(flipped).unwrap(),
            original[..63].to_owned(),
            original.to_ascii_uppercase(),
            format!("+{}", &original[1..]),
            "é".repeat(32),
            String::new(),
        ] {
            ch.nonce = bad.clone();
            let hv = answer(&ch, "alice", "s3cret", "REGISTER", "sip:x", "cn", 1);
            let c = Credentials::parse(&hv).unwrap();
            assert_eq!(
                srv.verify(&c, "REGISTER", "s3cret", t(1)),
                Verdict::Invalid("bad nonce"),
                "{bad}"
            );
        }
        // A nonce signed with another secret is not ours either.
        let other = DigestServer::with_secret(
            "switchboard.test",
            vec![Algorithm::Md5],
            Duration::from_secs(30),
            [8u8; 32],
        );
        let c = round(&other, t(0), 0, "s3cret");
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("bad nonce")
        );
    }

    #[test]
    fn auth_future_nonce_invalid() {
        let srv = server(vec![Algorithm::Md5]);
        let c = round(&srv, t(60), 0, "s3cret");
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("nonce from the future")
        );
        // A small clock step between workers is tolerated.
        let c = round(&srv, t(3), 0, "s3cret");
        assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(0)), Verdict::Ok);
    }

    #[test]
    fn auth_wrong_realm_invalid() {
        let srv = server(vec![Algorithm::Md5]);
        let values = srv.challenges(t(0), false);
        let mut ch = Challenge::parse(&values[0]).unwrap();
        ch.realm = "evil.test".into();
        let c = Credentials::parse(&answer(&ch, "alice", "s3cret", "REGISTER", "sip:x", "c", 1))
            .unwrap();
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("wrong realm")
        );
    }

    #[test]
    fn auth_algorithm_not_offered_invalid() {
        let srv = server(vec![Algorithm::Sha256]);
        let values = srv.challenges(t(0), false);
        let mut ch = Challenge::parse(&values[0]).unwrap();
        ch.algorithm = Algorithm::Md5;
        let c = Credentials::parse(&answer(&ch, "alice", "s3cret", "REGISTER", "sip:x", "c", 1))
            .unwrap();
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("algorithm not offered")
        );
    }

    #[test]
    fn an_offer_of_its_own_is_challenged_and_verified_against_it() {
        // The server offers MD5; one user's phones are offered SHA-256 only.
        let srv = server(vec![Algorithm::Md5]);
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let own = [Algorithm::Sha256];
        let values = srv.challenges_offering(&own, ip, t(0), false);
        assert_eq!(values.len(), 1);
        let ch = Challenge::parse(&values[0]).unwrap();
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let c = Credentials::parse(&answer(&ch, "alice", "s3cret", "REGISTER", "sip:x", "c", 1))
            .unwrap();
        let verify = |offered: &[Algorithm], c: &Credentials, id: &str| {
            srv.verify_offered(c, offered, "REGISTER", "s3cret", ip, id, t(0))
        };
        assert_eq!(
            verify(&[], &c, "1"),
            Verdict::Invalid("algorithm not offered"),
            "the server's own offer has no SHA-256"
        );
        assert_eq!(verify(&own, &c, "2"), Verdict::Ok);
        // An MD5 answer (a downgrade) is refused for that user.
        let md5 = Challenge {
            algorithm: Algorithm::Md5,
            ..ch
        };
        let c = Credentials::parse(&answer(
            &md5, "alice", "s3cret", "REGISTER", "sip:x", "c", 2,
        ))
        .unwrap();
        assert_eq!(
            verify(&own, &c, "3"),
            Verdict::Invalid("algorithm not offered")
        );
        // An empty offer is the server's.
        let values = srv.challenges_offering(&[], ip, t(0), false);
        assert_eq!(
            Challenge::parse(&values[0]).unwrap().algorithm,
            Algorithm::Md5
        );
    }

    #[test]
    fn auth_legacy_no_qop_and_auth_int() {
        let srv = server(vec![Algorithm::Md5]);
        let values = srv.challenges(t(0), false);
        let mut ch = Challenge::parse(&values[0]).unwrap();
        ch.qop.clear();
        let hv = answer(&ch, "alice", "s3cret", "REGISTER", "sip:x", "c", 1);
        assert!(!hv.contains("qop") && !hv.contains("cnonce") && !hv.contains("nc="));
        let c = Credentials::parse(&hv).unwrap();
        assert_eq!(c.qop, None);
        assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(0)), Verdict::Ok);
        assert_eq!(
            srv.verify(&c, "REGISTER", "nope", t(0)),
            Verdict::Invalid("wrong password")
        );

        let mut c = round(&srv, t(0), 0, "s3cret");
        c.qop = Some("auth-int".into());
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("unsupported qop")
        );
        let mut c = round(&srv, t(0), 0, "s3cret");
        c.cnonce = None;
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("missing cnonce")
        );
    }

    #[test]
    fn auth_opaque_must_be_echoed() {
        let srv = server(vec![Algorithm::Md5]).with_opaque("op\"aque");
        let mut c = round(&srv, t(0), 0, "s3cret");
        assert_eq!(c.opaque.as_deref(), Some("op\"aque"));
        assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(0)), Verdict::Ok);
        c.opaque = None;
        assert_eq!(
            srv.verify(&c, "REGISTER", "s3cret", t(0)),
            Verdict::Invalid("opaque mismatch")
        );
        // Without server opaque, whatever the client sends is ignored.
        let srv = server(vec![Algorithm::Md5]);
        let mut c = round(&srv, t(0), 0, "s3cret");
        c.opaque = Some("junk".into());
        assert_eq!(srv.verify(&c, "REGISTER", "s3cret", t(0)), Verdict::Ok);
    }

    #[test]
    fn auth_challenges_order_and_stale() {
        let srv = server(vec![Algorithm::Sha256, Algorithm::Md5]);
        let v = srv.challenges(t(0), true);
        assert_eq!(v.len(), 2);
        let a = Challenge::parse(&v[0]).unwrap();
        let b = Challenge::parse(&v[1]).unwrap();
        assert_eq!(a.algorithm, Algorithm::Sha256);
        assert_eq!(b.algorithm, Algorithm::Md5);
        assert!(a.stale && b.stale);
        assert_eq!(a.realm, "switchboard.test");
        assert_eq!(a.qop, vec!["auth"]);
        assert!(v[0].starts_with("Digest "));
        let v = srv.challenges(t(0), false);
        assert!(!Challenge::parse(&v[0]).unwrap().stale);
        assert!(!v[0].contains("stale"));
        // Fresh nonces differ even at the same instant.
        assert_ne!(
            Challenge::parse(&srv.challenges(t(0), false)[0])
                .unwrap()
                .nonce,
            Challenge::parse(&srv.challenges(t(0), false)[0])
                .unwrap()
                .nonce
        );
        assert_eq!(server(vec![]).algorithms(), &[Algorithm::Md5]);
        assert_eq!(srv.realm(), "switchboard.test");
    }

    #[test]
    fn auth_algorithm_display_parse() {
        assert_eq!(Algorithm::Md5.to_string(), "MD5");
        assert_eq!(Algorithm::Sha256.to_string(), "SHA-256");
        assert_eq!("md5".parse::<Algorithm>().unwrap(), Algorithm::Md5);
        assert_eq!("sha-256".parse::<Algorithm>().unwrap(), Algorithm::Sha256);
        assert_eq!(
            "MD5-sess".parse::<Algorithm>().unwrap_err(),
            AuthError::UnsupportedAlgorithm("MD5-sess".into())
        );
    }

    #[test]
    fn auth_parse_quoted_escapes_and_whitespace() {
        let c = Credentials::parse(
            "  digest\tUSERNAME = \"bob \\\"the, builder\\\\\" ,,realm=\"a,b\"\r\n ,  NONCE=n1,\
             uri = \"sip:x;y=\\\"z\\\"\",Response=\"00ff\",qop=\"auth\",nc=00000002 , cnonce=\"c=1\"  ",
        )
        .unwrap();
        assert_eq!(c.username, "bob \"the, builder\\");
        assert_eq!(c.realm, "a,b");
        assert_eq!(c.nonce, "n1");
        assert_eq!(c.uri, "sip:x;y=\"z\"");
        assert_eq!(c.response, "00ff");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc.as_deref(), Some("00000002"));
        assert_eq!(c.cnonce.as_deref(), Some("c=1"));
        assert_eq!(c.algorithm, Algorithm::Md5);
        // Formatting and re-parsing is lossless, escapes included.
        assert_eq!(Credentials::parse(&c.to_header_value()).unwrap(), c);

        let ch = Challenge::parse("Digest nonce=\"x\",realm=\"r\\\"q\", stale=true, algorithm=\"sha-256\", domain=\"sip:a sip:b\"").unwrap();
        assert_eq!(ch.realm, "r\"q");
        assert!(ch.stale);
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        assert!(ch.qop.is_empty());
        assert_eq!(Challenge::parse(&ch.to_header_value()).unwrap(), ch);
    }

    #[test]
    fn auth_parse_errors() {
        use AuthError::*;
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(NotDigest("challenge"))
        );
        assert_eq!(Challenge::parse(""), Err(NotDigest("challenge")));
        assert_eq!(
            Challenge::parse("Digestrealm=\"x\""),
            Err(NotDigest("challenge"))
        );
        assert_eq!(
            Credentials::parse("Bearer abc"),
            Err(NotDigest("credentials"))
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x\""),
            Err(Missing("nonce"))
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"x\""),
            Err(Missing("realm"))
        );
        assert_eq!(Challenge::parse("Digest"), Err(Missing("realm")));
        assert_eq!(
            Challenge::parse("Digest realm=x, nonce=y, algorithm=MD5-sess"),
            Err(UnsupportedAlgorithm("MD5-sess".into()))
        );
        assert_eq!(
            Challenge::parse("Digest realm=x, realm=y, nonce=z"),
            Err(Duplicate("realm"))
        );
        let full =
            "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"ab\"";
        assert!(Credentials::parse(full).is_ok());
        for (field, err) in [
            ("username", "missing username"),
            ("realm", "missing realm"),
            ("nonce", "missing nonce"),
            ("uri", "missing uri"),
            ("response", "missing response"),
        ] {
            let without = full
                .split(", ")
                .filter(|p| !p.trim_start_matches("Digest ").starts_with(field))
                .collect::<Vec<_>>()
                .join(", ");
            let without = if without.starts_with("Digest") {
                without
            } else {
                format!("Digest {without}")
            };
            let e = Credentials::parse(&without).unwrap_err();
            assert_eq!(e.to_string(), err, "{without}");
        }
        assert_eq!(
            Credentials::parse(&format!("{full}, qop=auth, nc=00000001")),
            Err(Missing("cnonce"))
        );
        assert_eq!(
            Credentials::parse(&format!("{full}, qop=auth, cnonce=\"c\"")),
            Err(Missing("nc"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=\"unterminated, nonce=x"),
            Err(Malformed(m)) if m.contains("unterminated")
        ));
        assert!(matches!(
            Challenge::parse("Digest realm nonce=x"),
            Err(Malformed(m)) if m.contains("expected '='")
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"a\" nonce=x"),
            Err(Malformed(m)) if m.contains("expected ','")
        ));
        assert!(matches!(Challenge::parse("Digest =x"), Err(Malformed(_))));
        assert_eq!(NotDigest("challenge").to_string(), "not a Digest challenge");
    }

    #[test]
    fn auth_parse_garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let alphabet: &[&str] = &[
            "Digest ",
            "digest",
            "realm",
            "nonce",
            "username",
            "uri",
            "response",
            "qop",
            "nc",
            "cnonce",
            "opaque",
            "algorithm",
            "stale",
            "=",
            "\"",
            "\\",
            ",",
            " ",
            "\t",
            "\r\n",
            "auth",
            "MD5",
            "SHA-256",
            "é",
            "\u{1F600}",
            "x",
            "\0",
        ];
        for i in 0..5000 {
            let s = if i % 2 == 0 {
                let n = rng.usize(0..40);
                (0..n)
                    .map(|_| alphabet[rng.usize(0..alphabet.len())])
                    .collect::<String>()
            } else {
                let n = rng.usize(0..120);
                let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
                let mut s = String::from("Digest ");
                s.push_str(&String::from_utf8_lossy(&bytes));
                s
            };
            let _ = Challenge::parse(&s);
            if let Ok(c) = Credentials::parse(&s) {
                let srv = server(vec![Algorithm::Md5, Algorithm::Sha256]);
                let _ = srv.verify(&c, "REGISTER", "pw", t(0));
                let _ = Credentials::parse(&c.to_header_value());
            }
        }
    }
}
