//! Calls out through gateways (manual 3.2.3 outbound rules, 3.2.6
//! gateways): who may dial out, the caller ID sent (a number from the
//! caller's number pool, else the gateway's), the INVITE towards the
//! carrier (From, P-Asserted-Identity or P-Preferred-Identity, Privacy,
//! an IMS Service-Route), the carrier's digest challenge answered, and
//! failover to the rule's next gateway on 5xx, 408, no answer at all, or a
//! gateway that is DOWN or full.

use std::collections::VecDeque;

use rsip::Response;
use sip::message::{self, SetBody};

use super::{Call, State, SDP};
use crate::base::toll_guard::{OutboundSlot, Refusal};
use crate::base::trunks::TrunkSlot;
use crate::calls::router::Outbound;
use crate::calls::trunk_invite::{self, TrunkInvite};
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
    /// no caller check applies (the desk's click-to-dial checked the
    /// agent's "allow outbound" before placing the call). False when no
    /// gateway can take it.
    pub(super) fn bridge_out(&mut self, route: Outbound, offer: Vec<u8>) -> Result<bool, Refusal> {
        // An extension's own call (click-to-dial) is an outbound call now.
        if self.direction == "internal" {
            self.direction = "outbound";
        }
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
        trunk_invite::pool_pick(&self.ctx, &self.caller)
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
        let hops = message::max_forwards(&self.invite)
            .unwrap_or(70)
            .saturating_sub(1);
        let caller = trunk_invite::Caller {
            number: &self.caller,
            name: &self.caller_name,
            pool_pick: &plan.caller_id,
        };
        let made = match trunk_invite::invite(
            &self.ctx,
            &self.b_ep,
            &trunk,
            &plan.route.dial,
            &caller,
            hops,
        ) {
            Ok(m) => m,
            Err(why) => {
                tracing::warn!("call {}: {why}", self.id);
                return false;
            }
        };
        let offer = trunk_invite::restricted_offer(&plan.offer, &trunk.def.codecs, self.id);
        let TrunkInvite {
            dialog,
            request: mut req,
            from_user,
            number,
        } = made;
        req.set_body(self.offer_for_new_b(offer, trunk.def.srtp), SDP);
        tracing::debug!(
            "call {}: INVITE {} through gateway {}",
            self.id,
            dialog.remote_target,
            trunk.def.name
        );
        self.update_info(|i| i.b_party = Some(number.clone()));
        self.handled.gateway = Some(trunk.def.name.clone());
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
        if (plan.challenged && !trunk_invite::challenge_is_stale(resp))
            || trunk.def.password.is_empty()
        {
            tracing::warn!(
                "call {}: gateway {} refused our credentials ({code} after auth)",
                self.id,
                trunk.def.name
            );
            return false;
        }
        plan.challenged = true;
        // The first INVITE's own headers again, with the new CSeq, branch
        // and credentials.
        let Some((_, first, from_user)) = plan.invite.clone().filter(|(f, _, _)| *f == i) else {
            return false;
        };
        let ep = self.b_ep.clone();
        let fork = &mut self.forks[i];
        fork.final_code = None;
        let Some(req) = trunk_invite::with_credentials(
            &self.ctx,
            &ep,
            &mut fork.dialog,
            &first,
            &from_user,
            resp,
            &trunk.def,
        ) else {
            return false;
        };
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
