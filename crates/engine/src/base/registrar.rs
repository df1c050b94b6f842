//! The registrar (RFC 3261 §10.3): binding table in memory, keyed by extension.
//!
//! Sans-IO: [`Registrar::register`] takes the (already authenticated) REGISTER,
//! its real source and `now` (unix milliseconds, so bindings can be persisted and
//! restored across a restart) and returns the status and the bindings to report.
//! The reachable address of a binding is the address the REGISTER came from, not
//! what its Contact claims — phones behind NAT put private addresses there.
//!
//! A binding keeps its Contact's header parameters exactly as sent
//! (`+sip.instance`, `reg-id`, `+sip.ice`, `methods`...) and the 200 OK gives
//! them back with our `expires`: RFC 5626/5627 phones look for their instance
//! there. A contact carrying `+sip.instance` replaces the binding of the same
//! instance (and `reg-id`) even when its URI changed, the instance being what
//! identifies a phone (RFC 5626 §4.1): a phone that restarted on another port
//! leaves no stale binding for calls to fork to. Removal (`expires=0`) goes by
//! URI only.

use dashmap::DashMap;
use sip::Peer;

/// One registered contact of an extension.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The Contact URI, as the phone sent it.
    pub contact: String,
    /// The Contact's header parameters as sent, `expires` left out
    /// (`;+sip.instance="<urn:uuid:...>";reg-id=1`; empty when none).
    pub params: String,
    /// Where to send requests for it (source of the REGISTER).
    pub source: Peer,
    /// Unix milliseconds when it lapses.
    pub expires_at: u64,
    /// The phone's User-Agent.
    pub user_agent: String,
    /// REGISTER Call-ID and CSeq, for ordering (§10.3 step 7).
    pub call_id: String,
    /// CSeq number of the REGISTER that last refreshed it.
    pub cseq: u32,
    /// q-value as sent.
    pub q: Option<String>,
}

/// Registration limits.
#[derive(Clone, Debug)]
pub struct RegistrarConfig {
    /// Shorter expiries get 423.
    pub min_expires: u32,
    /// Longer expiries are cut to this.
    pub max_expires: u32,
    /// Used when none is given.
    pub default_expires: u32,
    /// Contacts per extension.
    pub max_contacts: usize,
}

/// A binding as a 200 OK to REGISTER lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    /// The Contact URI.
    pub contact: String,
    /// Its header parameters as sent (see [`Binding::params`]).
    pub params: String,
    /// Seconds left.
    pub expires: u32,
}

impl Reported {
    /// The Contact header value: `<uri>;params;expires=N`.
    pub fn header_value(&self) -> String {
        format!("<{}>{};expires={}", self.contact, self.params, self.expires)
    }
}

/// Longest Contact URI kept in a binding.
pub const MAX_CONTACT_URI: usize = 512;
/// Longest parameter list kept with a binding (Linphone's, the longest
/// seen, is about 200 bytes).
pub const MAX_CONTACT_PARAMS: usize = 1024;

/// What the REGISTER handler decided.
#[derive(Debug, PartialEq)]
pub enum RegisterOutcome {
    /// 200 OK listing these bindings.
    Ok(Vec<Reported>),
    /// 423 Interval Too Brief.
    TooBrief {
        /// Value for Min-Expires.
        min: u32,
    },
    /// 400 with this reason.
    Bad(&'static str),
    /// 500: an out-of-order REGISTER (same Call-ID, lower CSeq).
    OutOfOrder,
    /// 403: more contacts than allowed.
    TooManyContacts,
}

/// The binding table.
#[derive(Default)]
pub struct Registrar {
    bindings: DashMap<String, Vec<Binding>>,
    dirty: DashMap<String, ()>,
}

/// One Contact of a REGISTER, as parsed.
struct ContactSpec {
    uri: String,
    params: String,
    expires: Option<u32>,
    q: Option<String>,
    instance: Option<InstanceKey>,
}

/// `+sip.instance` (unquoted, case-folded) and `reg-id` of a contact.
type InstanceKey = (String, Option<String>);

impl Registrar {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply a REGISTER for extension `aor`.
    pub fn register(
        &self,
        cfg: &RegistrarConfig,
        aor: &str,
        req: &rsip::Request,
        source: Peer,
        now_ms: u64,
    ) -> RegisterOutcome {
        let header_expires = sip::message::header_value(req, "Expires")
            .map(|v| v.trim().parse::<u32>().map_err(|_| ()))
            .transpose();
        let Ok(header_expires) = header_expires else {
            return RegisterOutcome::Bad("Malformed Expires header");
        };
        let (call_id, cseq) = match (sip::message::call_id(req), sip::message::cseq(req)) {
            (Some(c), Some((n, _))) => (c.to_string(), n),
            _ => return RegisterOutcome::Bad("Missing Call-ID or CSeq"),
        };
        let user_agent = sip::message::header_value(req, "User-Agent")
            .unwrap_or("")
            .to_string();
        let contacts = match parse_contacts(req) {
            Ok(c) => c,
            Err(why) => return RegisterOutcome::Bad(why),
        };
        let contacts = match contacts {
            Contacts::Star => {
                // §10.3 step 6: "*" only alone and only with Expires: 0.
                if header_expires != Some(0) {
                    return RegisterOutcome::Bad(
                        "Contact * needs Expires: 0 and no other contacts",
                    );
                }
                self.bindings.remove(aor);
                self.mark_dirty(aor);
                return RegisterOutcome::Ok(Vec::new());
            }
            Contacts::List(list) => list,
        };
        // Validate every expiry before changing anything: a REGISTER is all or nothing.
        let mut wanted = Vec::with_capacity(contacts.len());
        for c in contacts {
            let e = c.expires.or(header_expires).unwrap_or(cfg.default_expires);
            if e != 0 && e < cfg.min_expires {
                return RegisterOutcome::TooBrief {
                    min: cfg.min_expires,
                };
            }
            wanted.push((c, e.min(cfg.max_expires)));
        }
        let mut entry = self.bindings.entry(aor.to_string()).or_default();
        let list = entry.value_mut();
        list.retain(|b| b.expires_at > now_ms);
        for (c, _) in &wanted {
            if let Some(b) = list.iter().find(|b| same_binding(b, c)) {
                // An equal CSeq is the same REGISTER again (we answer REGISTER
                // statelessly, so retransmissions reach us): apply it again.
                if b.call_id == call_id && b.cseq > cseq {
                    return RegisterOutcome::OutOfOrder;
                }
            }
        }
        let mut next = list.clone();
        for (c, e) in wanted {
            if e > 0 {
                next.retain(|b| !same_binding(b, &c));
            } else {
                // Removal goes by URI only: Linphone, changing networks, sends
                // its new contact and its old one with expires=0, both with
                // the same instance, in one REGISTER.
                next.retain(|b| !same_uri(&b.contact, &c.uri));
            }
            if e > 0 {
                next.push(Binding {
                    contact: c.uri,
                    params: c.params,
                    source,
                    expires_at: now_ms + u64::from(e) * 1000,
                    user_agent: user_agent.clone(),
                    call_id: call_id.clone(),
                    cseq,
                    q: c.q,
                });
            }
        }
        if next.len() > cfg.max_contacts {
            return RegisterOutcome::TooManyContacts;
        }
        let report = report(&next, now_ms);
        let empty = next.is_empty();
        *list = next;
        drop(entry);
        if empty {
            self.bindings.remove_if(aor, |_, v| v.is_empty());
        }
        self.mark_dirty(aor);
        RegisterOutcome::Ok(report)
    }

    /// The current bindings of an extension (unexpired), for routing a call.
    pub fn lookup(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.bindings
            .get(aor)
            .map(|l| {
                l.iter()
                    .filter(|b| b.expires_at > now_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The bindings of an extension as a 200 OK reports them.
    pub fn report(&self, aor: &str, now_ms: u64) -> Vec<Reported> {
        report(&self.lookup(aor, now_ms), now_ms)
    }

    /// Drop expired bindings; returns how many were removed.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let mut removed = 0;
        let mut emptied = Vec::new();
        for mut e in self.bindings.iter_mut() {
            let before = e.len();
            e.retain(|b| b.expires_at > now_ms);
            if e.len() != before {
                removed += before - e.len();
                self.dirty.insert(e.key().clone(), ());
            }
            if e.is_empty() {
                emptied.push(e.key().clone());
            }
        }
        for k in emptied {
            self.bindings.remove_if(&k, |_, v| v.is_empty());
        }
        removed
    }

    /// Remove every binding of an extension (it was deleted).
    pub fn remove_aor(&self, aor: &str) {
        if self.bindings.remove(aor).is_some() {
            self.mark_dirty(aor);
        }
    }

    /// Remove every binding reached through `source` (a WebSocket
    /// connection that closed: nothing can reach that browser any more).
    /// Returns the extensions that lost a binding, each with how many
    /// bindings it has left.
    pub fn remove_source(&self, source: Peer) -> Vec<(String, usize)> {
        let mut touched = Vec::new();
        for mut e in self.bindings.iter_mut() {
            let before = e.len();
            e.retain(|b| b.source != source);
            if e.len() != before {
                touched.push((e.key().clone(), e.len()));
            }
        }
        for (aor, left) in &touched {
            self.mark_dirty(aor);
            if *left == 0 {
                self.bindings.remove_if(aor, |_, v| v.is_empty());
            }
        }
        touched
    }

    /// Total live bindings.
    pub fn binding_count(&self) -> usize {
        self.bindings.iter().map(|e| e.len()).sum()
    }

    /// Every extension with bindings, and them (for the registrations page).
    pub fn all(&self) -> Vec<(String, Vec<Binding>)> {
        self.bindings
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
    }

    /// Restore bindings loaded from the database at start.
    pub fn restore(&self, aor: &str, b: Binding) {
        self.bindings.entry(aor.to_string()).or_default().push(b);
    }

    /// Extensions changed since the last call, with their current bindings, for write-behind.
    pub fn take_dirty(&self) -> Vec<(String, Vec<Binding>)> {
        if self.dirty.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = self.dirty.iter().map(|e| e.key().clone()).collect();
        keys.into_iter()
            .map(|k| {
                self.dirty.remove(&k);
                let list = self.bindings.get(&k).map(|l| l.clone()).unwrap_or_default();
                (k, list)
            })
            .collect()
    }

    /// Have this extension's bindings written at the next write-behind.
    pub fn mark_dirty(&self, aor: &str) {
        // Checked first: under a registration storm most are already dirty.
        if !self.dirty.contains_key(aor) {
            self.dirty.insert(aor.to_string(), ());
        }
    }
}

fn report(list: &[Binding], now_ms: u64) -> Vec<Reported> {
    list.iter()
        .map(|b| {
            let secs = b.expires_at.saturating_sub(now_ms).div_ceil(1000);
            Reported {
                contact: b.contact.clone(),
                params: b.params.clone(),
                expires: u32::try_from(secs).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

/// URIs compare case-insensitively on scheme and host; a good-enough §19.1.4 for bindings.
fn same_uri(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Does contact `c` update binding `b`: the same URI, or the same instance
/// (and reg-id) of a phone whose URI changed.
fn same_binding(b: &Binding, c: &ContactSpec) -> bool {
    if same_uri(&b.contact, &c.uri) {
        return true;
    }
    match &c.instance {
        // Only parsed when the new contact has an instance at all: plain
        // phones (and registration storms) never pay for it.
        Some(key) => sip::contact::parse_params(&b.params)
            .ok()
            .and_then(|p| instance_key(&p))
            .is_some_and(|k| k == *key),
        None => false,
    }
}

fn instance_key(params: &[sip::contact::Param<'_>]) -> Option<InstanceKey> {
    let instance = params.iter().find(|p| p.is("+sip.instance"))?.unquoted()?;
    let reg_id = params
        .iter()
        .find(|p| p.is("reg-id"))
        .and_then(|p| p.unquoted())
        .map(|r| r.into_owned());
    Some((instance.to_ascii_lowercase(), reg_id))
}

/// The Contacts of a REGISTER.
enum Contacts {
    /// `*` (alone: anything else with it is refused).
    Star,
    /// Addresses (none: a query).
    List(Vec<ContactSpec>),
}

fn parse_contacts(req: &rsip::Request) -> Result<Contacts, &'static str> {
    let entries = sip::message::contacts(req).map_err(|e| e.reason())?;
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        match e {
            sip::contact::ContactEntry::Star if entries.len() == 1 => return Ok(Contacts::Star),
            sip::contact::ContactEntry::Star => {
                return Err("Contact * needs Expires: 0 and no other contacts")
            }
            sip::contact::ContactEntry::Addr(a) => out.push(contact_spec(a)?),
        }
    }
    Ok(Contacts::List(out))
}

fn contact_spec(a: &sip::contact::ContactAddr<'_>) -> Result<ContactSpec, &'static str> {
    let uri = a.uri;
    let has = |scheme: &str| {
        uri.len() > scheme.len()
            && uri
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    let scheme_ok = has("sip:") || has("sips:");
    if !scheme_ok {
        return Err("Contact URI must be sip: or sips:");
    }
    if uri.len() > MAX_CONTACT_URI {
        return Err("Contact URI too long");
    }
    if rsip::Uri::try_from(uri).is_err() {
        return Err("Malformed Contact URI");
    }
    let mut expires = None;
    let mut q = None;
    let mut params = String::new();
    for p in &a.params {
        if p.is("expires") {
            let v = p.unquoted().ok_or("Malformed Contact expires")?;
            expires = Some(
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| "Malformed Contact expires")?,
            );
            // Ours replaces it in the 200 OK.
            continue;
        }
        if p.is("q") {
            q = p.value.map(str::to_string);
        }
        p.render(&mut params);
        if params.len() > MAX_CONTACT_PARAMS {
            return Err("Contact parameters too long");
        }
    }
    Ok(ContactSpec {
        uri: uri.to_string(),
        instance: instance_key(&a.params),
        params,
        expires,
        q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RegistrarConfig {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 1800,
            max_contacts: 3,
        }
    }

    fn reg(contact: &str, expires: Option<&str>, call_id: &str, cseq: u32) -> rsip::Request {
        let mut s = format!(
            "REGISTER sip:sb SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{cseq}\r\nFrom: <sip:1000@sb>;tag=1\r\nTo: <sip:1000@sb>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nUser-Agent: TestPhone\r\n"
        );
        if !contact.is_empty() {
            s.push_str(&format!("Contact: {contact}\r\n"));
        }
        if let Some(e) = expires {
            s.push_str(&format!("Expires: {e}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        rsip::Request::try_from(s.as_str()).expect("valid REGISTER")
    }

    /// A 200 OK listing these (URI, seconds) bindings without parameters.
    fn ok(list: &[(&str, u32)]) -> RegisterOutcome {
        RegisterOutcome::Ok(
            list.iter()
                .map(|(c, e)| Reported {
                    contact: c.to_string(),
                    params: String::new(),
                    expires: *e,
                })
                .collect(),
        )
    }

    fn peer() -> Peer {
        Peer::udp("203.0.113.5:40000".parse().expect("addr"))
    }

    #[test]
    fn registers_with_header_expires_and_uses_source_address() {
        let r = Registrar::new();
        let out = r.register(
            &cfg(),
            "1000",
            &reg("<sip:1000@192.168.1.9:5060>", Some("120"), "c", 1),
            peer(),
            0,
        );
        assert_eq!(out, ok(&[("sip:1000@192.168.1.9:5060", 120)]));
        let b = r.lookup("1000", 1000);
        assert_eq!(b.len(), 1);
        assert_eq!(
            b[0].source,
            peer(),
            "NAT: reach the phone where REGISTER came from"
        );
        assert_eq!(b[0].user_agent, "TestPhone");
    }

    #[test]
    fn bindings_of_a_closed_websocket_go_and_others_stay() {
        let r = Registrar::new();
        let browser = Peer::ws("127.0.0.1:50000".parse().expect("addr"));
        let other_tab = Peer::ws("127.0.0.1:50001".parse().expect("addr"));
        let contact = "<sip:x1@df7jal23ls0d.invalid;transport=ws>";
        r.register(
            &cfg(),
            "1000",
            &reg(contact, Some("120"), "w1", 1),
            browser,
            0,
        );
        r.register(
            &cfg(),
            "1001",
            &reg("<sip:y@h>", Some("120"), "w2", 1),
            browser,
            0,
        );
        r.register(
            &cfg(),
            "1001",
            &reg("<sip:z@h>", Some("120"), "w3", 1),
            other_tab,
            0,
        );
        r.register(
            &cfg(),
            "1002",
            &reg("<sip:d@h>", Some("120"), "u", 1),
            peer(),
            0,
        );
        let _ = r.take_dirty();
        let mut gone = r.remove_source(browser);
        gone.sort();
        assert_eq!(gone, vec![("1000".to_string(), 0), ("1001".to_string(), 1)]);
        assert!(r.lookup("1000", 0).is_empty());
        assert_eq!(r.lookup("1001", 0)[0].source, other_tab);
        assert_eq!(r.lookup("1002", 0).len(), 1, "other phones keep theirs");
        let mut dirty: Vec<String> = r.take_dirty().into_iter().map(|(a, _)| a).collect();
        dirty.sort();
        assert_eq!(dirty, ["1000", "1001"], "written behind");
        assert!(
            r.remove_source(browser).is_empty(),
            "nothing left to remove"
        );
    }

    #[test]
    fn contact_param_overrides_header_and_max_caps() {
        let r = Registrar::new();
        let out = r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>;expires=99999", Some("120"), "c", 1),
            peer(),
            0,
        );
        assert_eq!(out, ok(&[("sip:a@h", 3600)]));
        let out = r.register(&cfg(), "1000", &reg("<sip:b@h>", None, "d", 1), peer(), 0);
        assert!(
            matches!(out, RegisterOutcome::Ok(ref v) if v.iter().any(|b| b.contact == "sip:b@h" && b.expires == 1800))
        );
    }

    #[test]
    fn too_brief_gets_423_and_changes_nothing() {
        let r = Registrar::new();
        let out = r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("30"), "c", 1),
            peer(),
            0,
        );
        assert_eq!(out, RegisterOutcome::TooBrief { min: 60 });
        assert!(r.lookup("1000", 0).is_empty());
    }

    #[test]
    fn several_contacts_and_unregister() {
        let r = Registrar::new();
        r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("120"), "c1", 1),
            peer(),
            0,
        );
        r.register(
            &cfg(),
            "1000",
            &reg("<sip:b@h>", Some("120"), "c2", 1),
            peer(),
            0,
        );
        assert_eq!(r.lookup("1000", 0).len(), 2);
        // Expires: 0 on one contact removes only it.
        r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("0"), "c1", 2),
            peer(),
            0,
        );
        assert_eq!(r.lookup("1000", 0).len(), 1);
        // "*" with Expires: 0 removes all.
        let out = r.register(&cfg(), "1000", &reg("*", Some("0"), "c3", 1), peer(), 0);
        assert_eq!(out, RegisterOutcome::Ok(vec![]));
        assert_eq!(r.binding_count(), 0);
    }

    #[test]
    fn wildcard_needs_expires_zero() {
        let r = Registrar::new();
        let out = r.register(&cfg(), "1000", &reg("*", Some("60"), "c", 1), peer(), 0);
        assert!(matches!(out, RegisterOutcome::Bad(_)));
    }

    #[test]
    fn query_without_contact_lists_bindings() {
        let r = Registrar::new();
        r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("120"), "c1", 1),
            peer(),
            0,
        );
        let out = r.register(&cfg(), "1000", &reg("", None, "c9", 1), peer(), 10_000);
        assert_eq!(out, ok(&[("sip:a@h", 110)]));
    }

    #[test]
    fn out_of_order_cseq_is_refused() {
        let r = Registrar::new();
        r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("120"), "c1", 5),
            peer(),
            0,
        );
        let out = r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("120"), "c1", 4),
            peer(),
            0,
        );
        assert_eq!(out, RegisterOutcome::OutOfOrder);
    }

    #[test]
    fn retransmitted_register_is_applied_again() {
        let r = Registrar::new();
        let first = r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("120"), "c1", 5),
            peer(),
            0,
        );
        let again = r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("120"), "c1", 5),
            peer(),
            0,
        );
        assert_eq!(first, again);
        assert_eq!(r.lookup("1000", 0).len(), 1);
    }

    #[test]
    fn max_contacts_enforced() {
        let r = Registrar::new();
        for (i, c) in ["a", "b", "c"].iter().enumerate() {
            let out = r.register(
                &cfg(),
                "1000",
                &reg(&format!("<sip:{c}@h>"), Some("120"), c, i as u32 + 1),
                peer(),
                0,
            );
            assert!(matches!(out, RegisterOutcome::Ok(_)));
        }
        let out = r.register(
            &cfg(),
            "1000",
            &reg("<sip:d@h>", Some("120"), "d", 1),
            peer(),
            0,
        );
        assert_eq!(out, RegisterOutcome::TooManyContacts);
    }

    #[test]
    fn sweep_expires_bindings_and_marks_dirty() {
        let r = Registrar::new();
        r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>", Some("60"), "c1", 1),
            peer(),
            0,
        );
        assert_eq!(r.take_dirty().len(), 1);
        assert!(r.take_dirty().is_empty());
        assert_eq!(r.sweep(59_000), 0);
        assert_eq!(r.sweep(60_001), 1);
        assert_eq!(r.binding_count(), 0);
        let dirty = r.take_dirty();
        assert_eq!(dirty, vec![("1000".to_string(), vec![])]);
    }

    #[test]
    fn malformed_contacts_are_refused() {
        let r = Registrar::new();
        for bad in ["<sip:a@h", "<http://x>", "<sip:a@h>;expires=abc"] {
            let out = r.register(&cfg(), "1000", &reg(bad, Some("120"), "c", 1), peer(), 0);
            assert!(matches!(out, RegisterOutcome::Bad(_)), "{bad}: {out:?}");
        }
    }

    /// The 200 OK's Contact values of an outcome.
    fn contacts(out: &RegisterOutcome) -> Vec<String> {
        match out {
            RegisterOutcome::Ok(list) => list.iter().map(Reported::header_value).collect(),
            other => panic!("not a 200: {other:?}"),
        }
    }

    const LINPHONE: &str = "<sip:1004@192.168.1.20:5062;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:7f4c2a1e-0d3b-4f3e-9a55-0123456789ab>\";+org.linphone.specs=\"ephemeral/1.1,groupchat/1.2,lime\"";
    const PJSUA: &str = "<sip:1004@192.168.1.20:5064;ob>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000a1b2c3d4>\"";

    #[test]
    fn contact_parameters_come_back_exactly_with_our_expires() {
        let r = Registrar::new();
        let out = r.register(&cfg(), "1004", &reg(LINPHONE, None, "c", 1), peer(), 0);
        assert_eq!(
            contacts(&out),
            ["<sip:1004@192.168.1.20:5062;transport=udp>;+sip.instance=\"<urn:uuid:7f4c2a1e-0d3b-4f3e-9a55-0123456789ab>\";+org.linphone.specs=\"ephemeral/1.1,groupchat/1.2,lime\";expires=3600"]
        );
        let r = Registrar::new();
        let out = r.register(&cfg(), "1004", &reg(PJSUA, Some("300"), "c", 1), peer(), 0);
        assert_eq!(contacts(&out), [format!("{PJSUA};expires=300")]);
        let b = &r.lookup("1004", 0)[0];
        assert_eq!(b.contact, "sip:1004@192.168.1.20:5064;ob");
        assert!(
            b.params.starts_with(";reg-id=1;+sip.instance="),
            "{}",
            b.params
        );
    }

    #[test]
    fn several_contacts_in_one_header_and_in_several_headers() {
        let r = Registrar::new();
        let two = "\"Desk, left\" <sip:a@h>;q=0.7;+sip.ice, sip:b@h;expires=200;methods=\"INVITE, BYE\"\r\nContact: <sip:c@h>;audio";
        let out = r.register(&cfg(), "1000", &reg(two, Some("120"), "c", 1), peer(), 0);
        assert_eq!(
            contacts(&out),
            [
                "<sip:a@h>;q=0.7;+sip.ice;expires=120",
                "<sip:b@h>;methods=\"INVITE, BYE\";expires=200",
                "<sip:c@h>;audio;expires=120",
            ]
        );
        assert_eq!(r.lookup("1000", 0)[0].q.as_deref(), Some("0.7"));
    }

    #[test]
    fn the_same_instance_on_a_new_address_replaces_its_binding() {
        let r = Registrar::new();
        r.register(&cfg(), "1004", &reg(PJSUA, Some("300"), "c1", 1), peer(), 0);
        // Restarted on another port with a new Call-ID: one binding, the new one.
        let moved = PJSUA.replace(":5064", ":5070");
        let out = r.register(
            &cfg(),
            "1004",
            &reg(&moved, Some("300"), "c2", 1),
            peer(),
            0,
        );
        assert_eq!(contacts(&out), [format!("{moved};expires=300")]);
        // Another flow (reg-id) of the same instance is a binding of its own.
        let flow2 = PJSUA
            .replace("reg-id=1", "reg-id=2")
            .replace(":5064", ":5072");
        let out = r.register(
            &cfg(),
            "1004",
            &reg(&flow2, Some("300"), "c3", 1),
            peer(),
            0,
        );
        assert_eq!(contacts(&out).len(), 2);
        // Removal goes by URI: Linphone changing networks registers its new
        // contact and removes its old one, same instance, in one REGISTER.
        let r = Registrar::new();
        let old = "<sip:1004@10.0.0.5:5062>;+sip.instance=\"<urn:uuid:9>\"";
        r.register(&cfg(), "1004", &reg(old, Some("300"), "l", 1), peer(), 0);
        let new = "<sip:1004@10.0.9.9:5062>;+sip.instance=\"<urn:uuid:9>\"";
        let both = format!("{new}\r\nContact: {old};expires=0");
        let out = r.register(&cfg(), "1004", &reg(&both, Some("300"), "l", 2), peer(), 0);
        assert_eq!(contacts(&out), [format!("{new};expires=300")]);
    }

    #[test]
    fn hostile_contacts_get_a_clean_400() {
        let r = Registrar::new();
        let huge = format!("<sip:a@h>;x=\"{}\"", "a".repeat(2000));
        let many = format!("<sip:a@h>{}", ";p".repeat(600));
        let long_uri = format!("<sip:{}@h>", "a".repeat(600));
        for (bad, why) in [
            (
                "<sip:a@h>;+sip.instance=\"<urn:uuid:1>",
                "unterminated quoted string",
            ),
            (
                "<sip:a@h>;+sip.instance=\"<urn:uuid:1>\\\"",
                "unterminated quoted string",
            ),
            ("<sip:a@h>;;x", "parameter name"),
            ("<sip:a@h>, *", "Contact *"),
            ("<sip:a@h> <sip:b@h>", "expected"),
            (huge.as_str(), "too long"),
            (many.as_str(), "too long"),
            (long_uri.as_str(), "URI too long"),
            ("<tel:+12125551212>", "sip: or sips:"),
            ("<sip:>", "sip: or sips:"),
            ("<sip:a@h:port>", "Malformed Contact URI"),
        ] {
            let out = r.register(&cfg(), "1000", &reg(bad, Some("120"), "c", 1), peer(), 0);
            match out {
                RegisterOutcome::Bad(reason) => assert!(reason.contains(why), "{bad}: {reason}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(r.binding_count(), 0);
    }
}
