//! The registrar (RFC 3261 §10.3): binding table in memory, keyed by extension.
//!
//! Sans-IO: [`Registrar::register`] takes the (already authenticated) REGISTER,
//! its real source and `now` (unix milliseconds, so bindings can be persisted and
//! restored across a restart) and returns the status and the bindings to report.
//! The reachable address of a binding is the address the REGISTER came from, not
//! what its Contact claims — phones behind NAT put private addresses there.

use dashmap::DashMap;
use sip::Peer;

/// One registered contact of an extension.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The Contact URI, as the phone sent it.
    pub contact: String,
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

/// What the REGISTER handler decided.
#[derive(Debug, PartialEq)]
pub enum RegisterOutcome {
    /// 200 OK listing these bindings (with their remaining seconds).
    Ok(Vec<(String, u32)>),
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
    expires: Option<u32>,
    q: Option<String>,
}

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
        let wildcard = contacts.iter().any(|c| c.uri == "*");
        if wildcard {
            // §10.3 step 6: "*" only alone and only with Expires: 0.
            if contacts.len() != 1 || header_expires != Some(0) {
                return RegisterOutcome::Bad("Contact * needs Expires: 0 and no other contacts");
            }
            self.bindings.remove(aor);
            self.mark_dirty(aor);
            return RegisterOutcome::Ok(Vec::new());
        }
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
            if let Some(b) = list.iter().find(|b| same_uri(&b.contact, &c.uri)) {
                // An equal CSeq is the same REGISTER again (we answer REGISTER
                // statelessly, so retransmissions reach us): apply it again.
                if b.call_id == call_id && b.cseq > cseq {
                    return RegisterOutcome::OutOfOrder;
                }
            }
        }
        let mut next = list.clone();
        for (c, e) in wanted {
            next.retain(|b| !same_uri(&b.contact, &c.uri));
            if e > 0 {
                next.push(Binding {
                    contact: c.uri,
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
    pub fn report(&self, aor: &str, now_ms: u64) -> Vec<(String, u32)> {
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

fn report(list: &[Binding], now_ms: u64) -> Vec<(String, u32)> {
    list.iter()
        .map(|b| {
            let secs = b.expires_at.saturating_sub(now_ms).div_ceil(1000);
            (b.contact.clone(), u32::try_from(secs).unwrap_or(u32::MAX))
        })
        .collect()
}

/// URIs compare case-insensitively on scheme and host; a good-enough §19.1.4 for bindings.
fn same_uri(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn parse_contacts(req: &rsip::Request) -> Result<Vec<ContactSpec>, &'static str> {
    use rsip::headers::UntypedHeader;
    let mut out = Vec::new();
    for h in req.headers.iter() {
        let rsip::Header::Contact(c) = h else {
            continue;
        };
        for item in sip::message::split_header_list(c.value()) {
            out.push(parse_contact(item)?);
        }
    }
    Ok(out)
}

fn parse_contact(item: &str) -> Result<ContactSpec, &'static str> {
    let item = item.trim();
    if item == "*" {
        return Ok(ContactSpec {
            uri: "*".into(),
            expires: None,
            q: None,
        });
    }
    let (uri, params) = match (item.find('<'), item.rfind('>')) {
        (Some(l), Some(r)) if l < r => (&item[l + 1..r], &item[r + 1..]),
        (None, None) => match item.find(';') {
            Some(i) => (&item[..i], &item[i..]),
            None => (item, ""),
        },
        _ => return Err("Malformed Contact header"),
    };
    let uri = uri.trim();
    if !(uri.starts_with("sip:") || uri.starts_with("sips:")) || uri.len() < 5 {
        return Err("Contact URI must be sip: or sips:");
    }
    if rsip::Uri::try_from(uri).is_err() {
        return Err("Malformed Contact URI");
    }
    let mut expires = None;
    let mut q = None;
    for p in params.split(';') {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let k = k.trim();
        if k.eq_ignore_ascii_case("expires") {
            expires = Some(
                v.trim()
                    .trim_matches('"')
                    .parse::<u32>()
                    .map_err(|_| "Malformed Contact expires")?,
            );
        } else if k.eq_ignore_ascii_case("q") {
            q = Some(v.trim().to_string());
        }
    }
    Ok(ContactSpec {
        uri: uri.to_string(),
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
        assert_eq!(
            out,
            RegisterOutcome::Ok(vec![("sip:1000@192.168.1.9:5060".into(), 120)])
        );
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
    fn contact_param_overrides_header_and_max_caps() {
        let r = Registrar::new();
        let out = r.register(
            &cfg(),
            "1000",
            &reg("<sip:a@h>;expires=99999", Some("120"), "c", 1),
            peer(),
            0,
        );
        assert_eq!(out, RegisterOutcome::Ok(vec![("sip:a@h".into(), 3600)]));
        let out = r.register(&cfg(), "1000", &reg("<sip:b@h>", None, "d", 1), peer(), 0);
        assert!(matches!(out, RegisterOutcome::Ok(ref v) if v.contains(&("sip:b@h".into(), 1800))));
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
        assert_eq!(out, RegisterOutcome::Ok(vec![("sip:a@h".into(), 110)]));
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
}
