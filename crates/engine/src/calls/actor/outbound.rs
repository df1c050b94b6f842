//! Calls out through gateways (manual 3.2.3 outbound rules, 3.2.6
//! gateways): who may dial out, the caller ID sent (a number from the
//! caller's number pool, else the gateway's), the INVITE towards the
//! carrier (From, P-Asserted-Identity or P-Preferred-Identity, Privacy,
//! an IMS Service-Route), the carrier's digest challenge answered, and
//! failover to the rule's next gateway on 5xx, 408, no answer at all, or a
//! gateway that is DOWN or full.

use std::collections::VecDeque;

use callcenter::gateway::config::{IdentityHeader, Privacy};
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Response};
use sip::dialog::Dialog;
use sip::message::{self, SetBody};

use super::{Call, State, SDP};
use crate::base::toll_guard::{OutboundSlot, Refusal};
use crate::base::trunks::TrunkSlot;
use crate::calls::router::Outbound;
use crate::calls::HangupCause;

/// A call on its way out: the gateways left to try and the one in use.
pub(super) struct OutboundPlan {
    /// The rule's route.
    route: Outbound,
    /// Gateways not tried yet, in order.
    remaining: VecDeque<String>,
    /// The gateway carrying the current attempt, and its place (its call
    /// count), held until the call ends.
    slot: Option<TrunkSlot>,
    /// The caller ID sent.
    caller_id: String,
    /// The SDP offered to the gateway.
    offer: Vec<u8>,
    /// The current attempt answered a challenge already (a second one
    /// means wrong credentials).
    challenged: bool,
    /// Why gateways were skipped or failed, for the log.
    tried: Vec<String>,
    /// The call's place under the toll-fraud limits.
    _guard: OutboundSlot,
    /// The current attempt's fork and INVITE (sent again with credentials
    /// when challenged), and the From user it was sent with.
    invite: Option<(usize, rsip::Request, String)>,
}

impl Call {
    /// Sends the call out as `route` says, or refuses it with why.
    pub(super) fn setup_outbound(&mut self, route: Outbound, offer: Vec<u8>) {
        if let Some(why) = self.outbound_refusal(&route) {
            tracing::info!(
                "call {}: {} may not dial {} out: {why}",
                self.id,
                self.caller,
                route.dial
            );
            return self.fail_a(403, why, HangupCause::CallRejected, "system");
        }
        if self.direction == "internal" {
            self.direction = "outbound";
        }
        self.ring_timeout = (route.timeout_secs > 0).then_some(route.timeout_secs);
        self.state = State::Ringing;
        self.update_info(|i| i.state = State::Ringing.label());
        match self.begin_outbound(route, offer) {
            Ok(true) => {}
            Ok(false) => self.no_gateway_left(),
            Err(r) => self.fail_a(403, r.reason(), HangupCause::CallRejected, "system"),
        }
    }

    /// An application's caller is bridged to an outside number (an IVR's
    /// "to external number" entry, a transfer out): the call goes out
    /// through `route`'s gateways. The administrator chose the number, so
    /// no caller check applies. False when no gateway can take it.
    pub(super) fn bridge_out(&mut self, route: Outbound, offer: Vec<u8>) -> Result<bool, Refusal> {
        self.begin_outbound(route, offer)
    }

    /// Admits the call under the toll-fraud guard, sets up the plan for
    /// `route` and sends the call to its first usable gateway; false when
    /// none is.
    fn begin_outbound(&mut self, route: Outbound, offer: Vec<u8>) -> Result<bool, Refusal> {
        let extension = (self.direction != "inbound").then_some(self.caller.as_str());
        let guard =
            match self
                .ctx
                .toll_guard
                .admit(extension, &route.dial, std::time::Instant::now())
            {
                Ok(g) => g,
                Err(r) => {
                    tracing::warn!(
                        "call {}: {} may not dial {} out: {r}",
                        self.id,
                        self.caller,
                        route.dial
                    );
                    return Err(r);
                }
            };
        let caller_id = self.outbound_caller_id();
        tracing::info!(
            "call {}: {} dials {} out (rule {:?}, gateways {}), caller ID {}",
            self.id,
            self.caller,
            route.dial,
            route.rule,
            route.gateways.join(", "),
            if caller_id.is_empty() {
                "from the gateway"
            } else {
                caller_id.as_str()
            }
        );
        self.b_ep = self.ctx.external.clone();
        self.outbound = Some(OutboundPlan {
            remaining: route.gateways.iter().cloned().collect(),
            route,
            slot: None,
            caller_id,
            offer,
            challenged: false,
            tried: Vec::new(),
            _guard: guard,
            invite: None,
        });
        Ok(self.next_gateway())
    }

    /// The next bridge goes to an extension: leave the gateways' profile.
    pub(super) fn end_outbound(&mut self) {
        self.outbound = None;
        self.b_ep = self.ctx.internal.clone();
    }

    /// Why this caller may not dial out through `route`, if not.
    fn outbound_refusal(&self, route: &Outbound) -> Option<&'static str> {
        match self.direction {
            // A trunk's caller reaches an outside number only through an
            // inbound rule that forwards it there, never by dialling it.
            "inbound" if !route.forwarded => Some("Outbound Calls Not Allowed From A Trunk"),
            "inbound" => None,
            _ => match self.ctx.directory.get(&self.caller) {
                Some(ext) if ext.allow_outbound => None,
                _ => Some("Outbound Calls Not Allowed"),
            },
        }
    }

    /// A number from the caller's number pool (one at random per call), else
    /// none here: the gateway's default or the caller's own number is used
    /// when the gateway is chosen.
    fn outbound_caller_id(&self) -> String {
        let pool: Vec<String> = self
            .ctx
            .directory
            .get(&self.caller)
            .map(|e| {
                e.caller_ids
                    .split([',', ' ', ';'])
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if pool.is_empty() {
            String::new()
        } else {
            pool[fastrand::usize(..pool.len())].clone()
        }
    }

    /// Sends the call to the next usable gateway of the plan; false when
    /// none is left.
    fn next_gateway(&mut self) -> bool {
        loop {
            let Some(plan) = self.outbound.as_mut() else {
                return false;
            };
            // The previous gateway's place is given back before the next is taken.
            plan.slot = None;
            plan.challenged = false;
            let Some(name) = plan.remaining.pop_front() else {
                return false;
            };
            match self.ctx.trunks.acquire(&name) {
                Ok(slot) => plan.slot = Some(slot),
                Err(why) => {
                    tracing::info!("call {}: gateway {name} skipped: {why}", self.id);
                    plan.tried.push(format!("{name}: {why}"));
                    continue;
                }
            }
            if self.send_to_gateway() {
                return true;
            }
            if let Some(plan) = self.outbound.as_mut() {
                plan.tried
                    .push(format!("{name}: no INVITE could be made for it"));
            }
        }
    }

    /// The INVITE towards the plan's current gateway; false (said in the
    /// log) when none can be made, so that the next gateway is tried
    /// rather than the call left ringing with nothing sent.
    fn send_to_gateway(&mut self) -> bool {
        let Some(plan) = self.outbound.as_ref() else {
            return false;
        };
        let Some(slot) = plan.slot.as_ref() else {
            return false;
        };
        let trunk = slot.trunk.clone();
        let def = &trunk.def;
        let Some(to) = trunk.outbound else {
            tracing::warn!("call {}: gateway {} has no address", self.id, def.name);
            return false;
        };
        let number = def
            .rewrite_number(&plan.route.dial)
            .unwrap_or_else(|| plan.route.dial.clone());
        let caller_id = [plan.caller_id.as_str(), def.caller_id.as_str()]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or(self.caller.as_str())
            .to_string();
        let domain = def.effective_from_domain().to_string();
        let from_user = if def.caller_id_in_from || def.effective_from_user().is_empty() {
            caller_id.clone()
        } else {
            def.effective_from_user().to_string()
        };
        let target = format!("sip:{number}@{}", def.proxy_target());
        let Ok(remote_target) = rsip::Uri::try_from(target.as_str()) else {
            tracing::warn!("call {}: {target} is not a SIP URI", self.id);
            return false;
        };
        let display = if self.caller_name.is_empty() || def.privacy == Privacy::Id {
            String::new()
        } else {
            format!("\"{}\" ", self.caller_name.replace(['"', '\\'], ""))
        };
        let route_set = trunk.status().service_route;
        let mut dialog = Dialog {
            call_id: message::new_call_id(),
            local_tag: message::new_tag(),
            remote_tag: None,
            local_uri: format!("{display}<sip:{from_user}@{domain}>"),
            remote_uri: format!("<sip:{number}@{}>", def.proxy),
            remote_target,
            route_set,
            local_cseq: 0,
            remote_cseq: 0,
            peer: crate::base::trunks::gateway_peer(def, to),
        };
        let transport = crate::base::trunks::gateway_transport(def);
        let via = self.ctx.sent_by_on(&self.b_ep, transport);
        let contact = self.ctx.contact_on(&self.b_ep, &from_user, transport);
        let mut req = dialog.request(Method::Invite, &via, &contact);
        let identity = format!("<sip:{caller_id}@{domain}>");
        match def.identity {
            IdentityHeader::Pai => req
                .headers
                .push(Header::Other("P-Asserted-Identity".into(), identity)),
            IdentityHeader::Ppi => req
                .headers
                .push(Header::Other("P-Preferred-Identity".into(), identity)),
            IdentityHeader::None => {}
        }
        if def.privacy == Privacy::Id {
            req.headers
                .push(Header::Other("Privacy".into(), "id".into()));
        }
        let hops = message::max_forwards(&self.invite)
            .unwrap_or(70)
            .saturating_sub(1);
        for h in req.headers.iter_mut() {
            if let Header::MaxForwards(m) = h {
                *m = rsip::headers::MaxForwards::new(hops.to_string());
            }
        }
        req.headers
            .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
        let offer = restricted_offer(&plan.offer, &def.codecs, self.id);
        req.set_body(self.offer_for_new_b(offer, def.srtp), SDP);
        tracing::debug!(
            "call {}: INVITE {target} through gateway {} at {to}",
            self.id,
            def.name
        );
        self.update_info(|i| i.b_party = Some(number.clone()));
        let fork = self.forks.len();
        if let Some(plan) = self.outbound.as_mut() {
            plan.invite = Some((fork, req.clone(), from_user));
        }
        self.launch_fork(dialog, req, None);
        true
    }

    /// The gateway challenged our INVITE (401/407): send it again with
    /// credentials, once. True when the challenge was answered.
    pub(super) fn gateway_challenged(&mut self, i: usize, resp: &Response) -> bool {
        let code = resp.status_code.code();
        let Some(plan) = self.outbound.as_mut() else {
            return false;
        };
        let Some(trunk) = plan.slot.as_ref().map(|s| s.trunk.clone()) else {
            return false;
        };
        let name = if code == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let challenge = message::header_values(resp, name)
            .iter()
            .find_map(|v| sip::auth::Challenge::parse(v).ok());
        let Some(challenge) = challenge else {
            return false;
        };
        if (plan.challenged && !challenge.stale) || trunk.def.password.is_empty() {
            tracing::warn!(
                "call {}: gateway {} refused our credentials ({code} after auth)",
                self.id,
                trunk.def.name
            );
            return false;
        }
        plan.challenged = true;
        let fork = &mut self.forks[i];
        // The challenge's To tag belongs to a transaction, not a dialog.
        fork.dialog.remote_tag = None;
        fork.final_code = None;
        let uri = fork.dialog.remote_target.to_string();
        let cnonce = format!("{:016x}", fastrand::u64(..));
        let value = sip::auth::answer(
            &challenge,
            trunk.def.effective_auth_username(),
            &trunk.def.password,
            "INVITE",
            &uri,
            &cnonce,
            1,
        );
        // The first INVITE's own headers again (identity, Privacy, Allow),
        // with the new CSeq, branch and credentials.
        let Some((_, first, from_user)) = plan.invite.clone().filter(|(f, _, _)| *f == i) else {
            return false;
        };
        let transport = self.forks[i].dialog.peer.transport;
        let via = self.ctx.sent_by_on(&self.b_ep, transport);
        let contact = self.ctx.contact_on(&self.b_ep, &from_user, transport);
        let fork = &mut self.forks[i];
        let mut req = fork.dialog.request(Method::Invite, &via, &contact);
        for h in first.headers.iter() {
            match h {
                Header::Other(n, _)
                    if ["P-Asserted-Identity", "P-Preferred-Identity", "Privacy"]
                        .iter()
                        .any(|k| n.eq_ignore_ascii_case(k)) =>
                {
                    req.headers.push(h.clone())
                }
                Header::Allow(_) => req.headers.push(h.clone()),
                _ => {}
            }
        }
        req.headers.push(if code == 407 {
            Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(value))
        } else {
            Header::Authorization(rsip::headers::Authorization::new(value))
        });
        req.set_body(first.body.clone(), SDP);
        let peer = fork.dialog.peer;
        if let Some(plan) = self.outbound.as_mut() {
            plan.invite = Some((i, req.clone(), from_user));
        }
        let token = self.token(super::Pending::Fork(i));
        self.b_ep.send_request(req, peer, self.sink(token));
        true
    }

    /// Fork `i`, a call out, failed with `code`: try the next gateway when
    /// the failure is the gateway's (5xx, 408, or no answer at all), not the
    /// callee's. True when another gateway takes the call.
    pub(super) fn gateway_failed(&mut self, code: u16) -> bool {
        let waiting = self.state == State::Ringing || self.bridging();
        let Some(plan) = self.outbound.as_mut() else {
            return false;
        };
        if let Some(slot) = &plan.slot {
            slot.trunk
                .calls_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            plan.tried.push(format!("{}: {code}", slot.trunk.def.name));
        }
        let gateway_fault = code == 408 || (500..600).contains(&code);
        if !gateway_fault || !waiting || self.winner.is_some() {
            return false;
        }
        if plan.remaining.is_empty() {
            return false;
        }
        tracing::info!(
            "call {}: gateway failed with {code}; trying the next ({})",
            self.id,
            plan.remaining
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.next_gateway()
    }

    /// No gateway of the rule could take the call.
    fn no_gateway_left(&mut self) {
        let tried = self
            .outbound
            .as_ref()
            .map(|p| p.tried.join("; "))
            .unwrap_or_default();
        tracing::warn!(
            "call {}: no gateway can take the call ({tried}): 503",
            self.id
        );
        self.fail_a(
            503,
            "No Gateway Available",
            HangupCause::NormalTemporaryFailure,
            "system",
        );
    }

    /// The number a call out was sent to (after the rule), if this is one.
    pub(super) fn outbound_number(&self) -> Option<String> {
        self.outbound.as_ref().map(|p| p.route.dial.clone())
    }

    /// Whether the outbound rule of this call asks for it to be recorded
    /// (是否录音).
    pub(super) fn outbound_records(&self) -> bool {
        self.outbound.as_ref().is_some_and(|p| p.route.record)
    }
}

/// The offer for a gateway that takes only `codecs` (its codec list; empty:
/// any): the others are left out (we transcode when the caller's is not
/// among them: the offer carries ours too). Unchanged when none of them
/// is in it, so the gateway's answer decides.
fn restricted_offer(offer: &[u8], codecs: &[String], call: u64) -> Vec<u8> {
    let allowed: Vec<media::codec::Codec> = codecs
        .iter()
        .filter_map(|n| media::codec::Codec::from_name(n))
        .collect();
    if allowed.is_empty() {
        return offer.to_vec();
    }
    let Ok(mut sdp) = media::sdp::SessionDescription::parse(&String::from_utf8_lossy(offer)) else {
        return offer.to_vec();
    };
    let Some(i) = media::negotiate::audio_section(&sdp).map(|(i, _)| i) else {
        return offer.to_vec();
    };
    if !media::negotiate::restrict_to(&mut sdp.media[i], &allowed) {
        tracing::warn!(
            "call {call}: the offer holds none of the gateway's codecs ({}); sent unchanged",
            codecs.join(", ")
        );
        return offer.to_vec();
    }
    sdp.to_string().into_bytes()
}
