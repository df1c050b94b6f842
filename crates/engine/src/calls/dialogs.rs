//! Which call owns each dialog, and who may speak in it.
//!
//! Every leg of every call has its own Call-ID. A request inside a dialog
//! (BYE, re-INVITE, INFO, UPDATE, REFER, ACK, CANCEL) reaches the call only
//! if it belongs to that dialog by RFC 3261 §12.2.2 — the Call-ID, our tag as
//! its To tag and the peer's tag as its From tag — and comes from where the
//! dialog lives: the profile (SIP port) it was set up on, and the transport
//! address it was set up with (or the first hop of its route set). A phone
//! whose NAT binding changed is recognised by its registration: a request
//! from the address the extension is now registered from is accepted, and the
//! dialog follows it there. Anything else is a stranger guessing at a live
//! call, answered 481 and counted.

use crate::base::context::CallTx;
use crate::base::registrar::Registrar;
use crate::calls::Side;
use dashmap::DashMap;
use rsip::Request;
use sip::dialog::{record_routes, strip_tag, Dialog};
use sip::message;
use sip::Peer;
use std::net::SocketAddr;

/// One leg's dialog, as the dispatcher checks requests against it.
#[derive(Clone, Debug)]
pub struct DialogRoute {
    /// The call actor owning the leg.
    pub call: CallTx,
    /// Which leg of that call.
    pub side: Side,
    /// Our tag in the dialog: the To tag of the peer's requests.
    pub local_tag: String,
    /// The peer's tag (From tag of its requests), once its answer told it.
    pub remote_tag: Option<String>,
    /// The transport address the dialog was set up with.
    pub peer: Peer,
    /// Where a Record-Route proxy in front of the peer sends from, if any.
    pub proxy: Option<SocketAddr>,
    /// Local port of the profile the dialog lives on.
    pub port: u16,
    /// The extension at the far end, if it is a registered phone: its
    /// registration tells where it may have moved.
    pub user: Option<String>,
}

/// Why a request was not let into a dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No dialog with this Call-ID here.
    Unknown,
    /// The Call-ID is known but the tags are not this dialog's.
    Tags,
    /// The dialog lives on the other SIP profile.
    Profile,
    /// The request came from an address the dialog was not set up with.
    Source,
}

impl Refusal {
    /// Short text for logs and the 481's reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unknown => "Call/Transaction Does Not Exist",
            Refusal::Tags => "Dialog Tags Do Not Match",
            Refusal::Profile | Refusal::Source => "Call/Transaction Does Not Exist",
        }
    }
}

/// All live dialogs, by Call-ID.
#[derive(Debug, Default)]
pub struct DialogTable {
    by_call_id: DashMap<String, DialogRoute>,
}

impl DialogTable {
    /// Make a leg's dialog findable.
    pub fn insert(&self, call_id: String, route: DialogRoute) {
        self.by_call_id.insert(call_id, route);
    }

    /// Forget a leg's dialog.
    pub fn remove(&self, call_id: &str) {
        self.by_call_id.remove(call_id);
    }

    /// Whether a dialog with this Call-ID is live.
    pub fn contains(&self, call_id: &str) -> bool {
        self.by_call_id.contains_key(call_id)
    }

    /// The call and leg owning a Call-ID, without any check: for the engine's
    /// own lookups (a Replaces header of an authenticated REFER), never for
    /// requests off the wire.
    pub fn owner(&self, call_id: &str) -> Option<(CallTx, Side)> {
        self.by_call_id
            .get(call_id)
            .map(|r| (r.call.clone(), r.side))
    }

    /// The registered extension at the far end of a leg, if it is a phone.
    pub fn user(&self, call_id: &str) -> Option<String> {
        self.by_call_id.get(call_id).and_then(|r| r.user.clone())
    }

    /// The leg's side changed: a call whose caller transferred the callee
    /// away makes the callee's leg its leg A.
    pub fn set_side(&self, call_id: &str, side: Side) {
        if let Some(mut r) = self.by_call_id.get_mut(call_id) {
            r.side = side;
        }
    }

    /// The peer's answer fixed its tag (and, for a proxied peer, the route).
    pub fn confirm(&self, call_id: &str, remote_tag: Option<String>, proxy: Option<SocketAddr>) {
        if let Some(mut r) = self.by_call_id.get_mut(call_id) {
            if remote_tag.is_some() {
                r.remote_tag = remote_tag;
            }
            if proxy.is_some() {
                r.proxy = proxy;
            }
        }
    }

    /// Number of live dialogs.
    pub fn len(&self) -> usize {
        self.by_call_id.len()
    }

    /// Whether no dialog is live.
    pub fn is_empty(&self) -> bool {
        self.by_call_id.is_empty()
    }

    /// The owner of the dialog an in-dialog request (one with a To tag: BYE,
    /// re-INVITE, ACK of a 2xx, ...) belongs to, if it may enter it: see the
    /// module docs. `port` is the local port the request arrived on.
    pub fn admit(
        &self,
        req: &Request,
        from: Peer,
        port: u16,
        registrar: &Registrar,
        now_ms: u64,
    ) -> Result<(CallTx, Side), Refusal> {
        let (call_id, route) = self.lookup(req)?;
        if message::to_tag(req).as_deref() != Some(route.local_tag.as_str()) {
            return Err(Refusal::Tags);
        }
        if let Some(remote) = &route.remote_tag {
            if message::from_tag(req).as_deref() != Some(remote.as_str()) {
                return Err(Refusal::Tags);
            }
        }
        self.check_source(call_id, &route, from, port, registrar, now_ms)?;
        Ok((route.call, route.side))
    }

    /// The owner of the call a CANCEL is for (no To tag yet: it is matched to
    /// the INVITE by the transaction layer), if it comes from the caller.
    pub fn admit_cancel(
        &self,
        req: &Request,
        from: Peer,
        port: u16,
        registrar: &Registrar,
        now_ms: u64,
    ) -> Result<(CallTx, Side), Refusal> {
        let (call_id, route) = self.lookup(req)?;
        if route.side != Side::A || message::from_tag(req) != route.remote_tag {
            return Err(Refusal::Tags);
        }
        self.check_source(call_id, &route, from, port, registrar, now_ms)?;
        Ok((route.call, route.side))
    }

    /// The dialog a request's Call-ID names, copied out of the map so no shard
    /// lock is held while it is checked.
    fn lookup<'r>(&self, req: &'r Request) -> Result<(&'r str, DialogRoute), Refusal> {
        let call_id = message::call_id(req).ok_or(Refusal::Unknown)?;
        let route = self
            .by_call_id
            .get(call_id)
            .map(|r| r.clone())
            .ok_or(Refusal::Unknown)?;
        Ok((call_id, route))
    }

    fn check_source(
        &self,
        call_id: &str,
        route: &DialogRoute,
        from: Peer,
        port: u16,
        registrar: &Registrar,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        if route.port != port {
            return Err(Refusal::Profile);
        }
        if from.addr == route.peer.addr
            || Some(from.addr) == route.proxy
            || new_connection_of(from, route.peer)
        {
            return Ok(());
        }
        // NAT rebinding: the phone's registration moved to this address.
        let moved = route.user.as_deref().is_some_and(|user| {
            registrar
                .lookup(user, now_ms)
                .iter()
                .any(|b| b.source.addr == from.addr)
        });
        if !moved {
            return Err(Refusal::Source);
        }
        if let Some(mut r) = self.by_call_id.get_mut(call_id) {
            r.peer = from;
        }
        Ok(())
    }
}

/// Did `from` come over a new TCP or TLS connection from the host of a
/// dialog set up with `peer` over the same transport? A stream peer (a
/// carrier over TLS, say) opens its own connection for its requests, from
/// a port nobody can predict, to our Contact; a connection cannot be
/// spoofed from off the path, so its host is where the dialog lives.
/// Datagrams must come from the very address.
fn new_connection_of(from: Peer, peer: Peer) -> bool {
    from.transport == peer.transport
        && from.transport != sip::TransportKind::Udp
        && from.addr.ip().to_canonical() == peer.addr.ip().to_canonical()
}

/// The address of a route set's first hop (`<sip:192.0.2.1:5060;lr>`), when
/// it is written as an IP address: a proxy the dialog's requests pass through.
pub fn first_hop(route_set: &[String]) -> Option<SocketAddr> {
    let entry = route_set.first()?.trim();
    let inner = entry
        .strip_prefix('<')
        .and_then(|e| e.split('>').next())
        .unwrap_or(entry);
    let uri = rsip::Uri::try_from(inner).ok()?;
    let ip: std::net::IpAddr = uri
        .host_with_port
        .host
        .to_string()
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .ok()?;
    let port = uri.host_with_port.port.map(|p| *p.value()).unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

/// Our view of a dialog a request of `from` starts (the caller's leg of a
/// call, a subscription): we are the UAS, so our tag is the To tag.
pub(crate) fn a_leg_dialog(invite: &Request, from: Peer) -> Dialog {
    use rsip::prelude::*;
    let remote_target = message::contact_uri(invite).unwrap_or_else(|| invite.uri.clone());
    Dialog {
        call_id: message::call_id(invite).unwrap_or_default().to_string(),
        local_tag: message::new_tag(),
        remote_tag: message::from_tag(invite),
        local_uri: invite
            .to_header()
            .map(|h| strip_tag(h.value()))
            .unwrap_or_default(),
        remote_uri: invite
            .from_header()
            .map(|h| strip_tag(h.value()))
            .unwrap_or_default(),
        remote_target,
        route_set: record_routes(invite),
        local_cseq: 0,
        remote_cseq: message::cseq(invite).map(|c| c.0).unwrap_or(0),
        peer: from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialogs_a_stream_peer_may_speak_from_a_new_connection_of_its_host() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let carrier = Peer::tls(at("192.0.2.7:5061"));
        assert!(new_connection_of(Peer::tls(at("192.0.2.7:40123")), carrier));
        assert!(new_connection_of(
            Peer::tcp(at("192.0.2.7:40123")),
            Peer::tcp(at("192.0.2.7:5060"))
        ));
        // Another host, another transport, or datagrams: not the dialog's.
        assert!(!new_connection_of(
            Peer::tls(at("192.0.2.8:40123")),
            carrier
        ));
        assert!(!new_connection_of(
            Peer::tcp(at("192.0.2.7:40123")),
            carrier
        ));
        assert!(!new_connection_of(
            Peer::udp(at("192.0.2.7:40123")),
            Peer::udp(at("192.0.2.7:5060"))
        ));
    }

    #[test]
    fn dialogs_first_hop_of_a_route_set() {
        let rs = vec![
            "<sip:192.0.2.7:5070;lr>".to_string(),
            "<sip:10.0.0.1;lr>".into(),
        ];
        assert_eq!(first_hop(&rs), "192.0.2.7:5070".parse().ok());
        assert_eq!(
            first_hop(&["<sip:10.0.0.1;lr>".to_string()]),
            "10.0.0.1:5060".parse().ok()
        );
        assert_eq!(first_hop(&["<sip:proxy.example.com;lr>".to_string()]), None);
        assert_eq!(first_hop(&[]), None);
    }
}
