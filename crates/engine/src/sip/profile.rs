//! The two SIP profiles' dispatchers: what happens to each request that starts
//! a transaction. Internal (phones): REGISTER and INVITE are digest-challenged.
//! External (trunks): INVITEs only from ACL addresses, no registration.
//! In-dialog requests, ACKs and CANCELs reach the owning call only if they
//! belong to its dialog and come from where it lives ([`crate::calls::dialogs`]).
//!
//! Nothing unauthenticated makes state: a banned source is dropped before the
//! transaction layer sees it ([`Tu::screen`]), and every answer given here —
//! challenges, refusals, 481s — is sent once, statelessly, so a forged source
//! address draws one response per request and leaves no transaction behind.

use crate::base::context::{now_ms, Ctx};
use crate::base::events::Event;
use crate::base::registrar::RegisterOutcome;
use crate::calls::{CallMsg, NewCall, Side};
use crate::sip::auth_guard::FailureOutcome;
use crate::sip::Edge;
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request};
use sip::auth::{Credentials, Verdict};
use sip::endpoint::{Endpoint, Outbox, ServerEvent, Tu};
use sip::message::{self, status, status_with_reason};
use sip::transaction::TxId;
use sip::Peer;
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Which profile a dispatcher serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Phones on the SIP port.
    Internal,
    /// Trunks on the trunk port.
    External,
}

/// Install the dispatcher of a profile as its endpoint's transaction user: it
/// runs inside the endpoint's driver task, so registrations and challenges are
/// answered without a hop between tasks.
pub fn install(ctx: Arc<Ctx>, edge: Arc<Edge>, profile: Profile) {
    let ep = match profile {
        Profile::Internal => ctx.internal.clone(),
        Profile::External => ctx.external.clone(),
    };
    ep.clone().set_tu(Box::new(Dispatcher {
        ctx,
        edge,
        profile,
        ep,
        replies: RefCell::new(Vec::new()),
    }));
}

struct Dispatcher {
    ctx: Arc<Ctx>,
    /// The SIP edge's own state: guard, voice lists, subscriptions.
    edge: Arc<Edge>,
    profile: Profile,
    ep: Endpoint,
    /// Answers produced while handling one event, sent through the driver's outbox.
    replies: RefCell<Vec<(TxId, rsip::Response)>>,
}

impl Tu for Dispatcher {
    fn on_event(&mut self, ev: ServerEvent, out: &mut Outbox<'_>) {
        self.event(ev);
        // Every final answer given right here is stateless (as Kamailio's
        // registrar and a stateless proxy's challenges are): re-processing a
        // retransmission gives the same answer, no transaction is kept for
        // 32 s per request, and an INVITE's refusal or challenge is sent once
        // instead of eleven times to an address that may be forged. Calls
        // answer later, from their actors, on ordinary transactions.
        for (tx, r) in self.replies.get_mut().drain(..) {
            if r.status_code.code() >= 200 {
                out.respond_stateless(tx, r);
            } else {
                out.respond(tx, r);
            }
        }
    }

    fn screen(&mut self, _request: &Request, from: Peer) -> bool {
        if self.edge.guard.is_banned(from.addr.ip(), Instant::now()) {
            // Dropped on purpose, before any transaction exists: no 100 Trying,
            // no answer that would help a password-guessing attacker, no state.
            self.ctx.metrics.banned_drops.fetch_add(1, Relaxed);
            return false;
        }
        true
    }
}

/// Which credentials header a method is challenged with.
#[derive(Clone, Copy)]
enum Challenge {
    /// 401 + WWW-Authenticate / Authorization (REGISTER).
    Www,
    /// 407 + Proxy-Authenticate / Proxy-Authorization (INVITE).
    Proxy,
}

impl Dispatcher {
    fn event(&self, ev: ServerEvent) {
        match ev {
            ServerEvent::Request {
                tx,
                request,
                from,
                cancels,
            } => self.request(tx, request, from, cancels.is_some()),
            ServerEvent::Ack { request, from } => {
                // An ACK of nothing of ours (the ACK of a stateless 407 among
                // them) or of a stranger is dropped: ACKs are never answered.
                if let Ok((call, side)) = self.route(&request, from) {
                    let _ = call.send(CallMsg::Ack { side, request });
                }
            }
            ServerEvent::StrayResponse { response, from } => self.end_stray(&response, from),
            ServerEvent::AckTimeout(tx) => {
                tracing::info!("2xx on {tx:?} was never acknowledged");
            }
            ServerEvent::ConnectionClosed(peer) => self.connection_closed(peer),
        }
    }

    /// A browser's WebSocket connection ended: what it registered is
    /// unreachable now (no one can open a connection to a browser), so
    /// it goes at once rather than at its expiry.
    fn connection_closed(&self, peer: Peer) {
        if !peer.transport.is_websocket() {
            return;
        }
        for (aor, left) in self.ctx.registrar.remove_source(peer) {
            self.ctx.metrics.ws_bindings_dropped.fetch_add(1, Relaxed);
            tracing::info!("{aor}: registration over {peer} removed, its connection closed");
            if left == 0 {
                self.ctx.events.publish(|| Event::Unregistered {
                    extension: aor.clone(),
                });
            }
        }
    }

    fn request(&self, tx: TxId, req: Request, from: Peer, is_cancel_of_known: bool) {
        if self.profile == Profile::External
            && !self.edge.voice.get().acl.allows(from.addr.ip())
            && self.ctx.trunks.by_source(from.addr.ip()).is_none()
        {
            // The trunk port serves the ACL's peers only: every method, in
            // dialog or not, so a stranger cannot reach a trunk call's dialog.
            self.ctx.metrics.acl_rejects.fetch_add(1, Relaxed);
            tracing::info!("{} from {from} refused by the trunk ACL", req.method);
            return self.reply(tx, &req, status_with_reason(403, "Forbidden By ACL"));
        }
        let in_dialog = message::to_tag(&req).is_some();
        match req.method {
            Method::Register => match self.profile {
                Profile::Internal => self.register(tx, &req, from),
                Profile::External => self.reply(
                    tx,
                    &req,
                    status_with_reason(403, "Registration Not Allowed On Trunk Port"),
                ),
            },
            Method::Cancel => self.cancel(tx, &req, from, is_cancel_of_known),
            Method::Options if !in_dialog => {
                let mut r = message::response(&req, status(200), Some(&message::new_tag()));
                r.headers
                    .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
                r.headers.push(Header::Accept(rsip::headers::Accept::new(
                    "application/sdp",
                )));
                self.respond(tx, r);
            }
            Method::Subscribe => self.subscribe(tx, &req, from),
            _ if in_dialog => match self.route(&req, from) {
                Ok((call, side)) => {
                    let _ = call.send(CallMsg::Request {
                        side,
                        tx,
                        request: req,
                        from,
                    });
                }
                Err(why) => self.reply(tx, &req, status_with_reason(481, why.reason())),
            },
            Method::Invite => self.invite(tx, req, from),
            Method::Bye | Method::Info | Method::Update | Method::PRack | Method::Notify => {
                self.reply(tx, &req, status(481))
            }
            _ => {
                let mut r = message::response(&req, status(405), Some(&message::new_tag()));
                r.headers
                    .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
                self.respond(tx, r);
            }
        }
    }

    fn respond(&self, tx: TxId, r: rsip::Response) {
        self.replies.borrow_mut().push((tx, r));
    }

    /// A 2xx nobody waits for (a fork that answered after the call was decided,
    /// or a duplicate): ACK it and hang it up, or that phone stays off-hook.
    fn end_stray(&self, resp: &rsip::Response, from: Peer) {
        use rsip::prelude::*;
        let (Some(call_id), Some((cseq, method))) = (message::call_id(resp), message::cseq(resp))
        else {
            return;
        };
        if method != Method::Invite {
            return;
        }
        let (Ok(from_h), Ok(to_h)) = (resp.from_header(), resp.to_header()) else {
            return;
        };
        let Some(remote_target) = message::contact_uri(resp) else {
            return;
        };
        let mut route_set = sip::dialog::record_routes(resp);
        route_set.reverse();
        let mut dialog = sip::dialog::Dialog {
            call_id: call_id.to_string(),
            local_tag: message::from_tag(resp).unwrap_or_default(),
            remote_tag: message::to_tag(resp),
            local_uri: sip::dialog::strip_tag(from_h.value()),
            remote_uri: sip::dialog::strip_tag(to_h.value()),
            remote_target,
            route_set,
            local_cseq: cseq,
            remote_cseq: 0,
            peer: from,
        };
        let via = self.ctx.sent_by(&self.ep);
        let contact = format!("sip:{}", via);
        let ack =
            dialog.request_with_cseq(Method::Ack, cseq, &via, &contact, &message::new_branch());
        self.ep.send_stateless(message::to_bytes(ack), from);
        let bye = dialog.request(Method::Bye, &via, &contact);
        self.ep.send_request(bye, from, Arc::new(|_| {}));
        tracing::debug!("ended stray 2xx from {from} (Call-ID {call_id})");
    }

    /// SUBSCRIBE to a mailbox's message-summary (RFC 3842), new or refresh:
    /// digest-authenticated, own mailbox only; a NOTIFY follows at once.
    fn subscribe(&self, tx: TxId, req: &Request, from: Peer) {
        if self.profile != Profile::Internal {
            return self.reply(
                tx,
                req,
                status_with_reason(403, "Subscriptions Not Allowed On Trunk Port"),
            );
        }
        let event = message::header_value(req, "Event").unwrap_or("");
        if !event
            .trim()
            .to_ascii_lowercase()
            .starts_with("message-summary")
        {
            return self.reply(tx, req, status_with_reason(489, "Bad Event"));
        }
        let Some(user) = self.authenticate(tx, req, from, Challenge::Www) else {
            return;
        };
        let mailbox = message::uri_user(&req.uri)
            .filter(|u| !u.is_empty())
            .or_else(|| {
                req.headers.iter().find_map(|h| match h {
                    Header::To(t) => t.uri().ok().and_then(|u| message::uri_user(&u)),
                    _ => None,
                })
            })
            .unwrap_or_default();
        if mailbox != user {
            return self.reply(tx, req, status_with_reason(403, "Not Your Mailbox"));
        }
        let expires = message::header_value(req, "Expires")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(crate::sip::mwi::MAX_EXPIRES)
            .min(crate::sip::mwi::MAX_EXPIRES);
        let tag = message::to_tag(req).unwrap_or_else(message::new_tag);
        let sub = self.edge.mwi.subscribe(&mailbox, req, from, &tag, expires);
        let mut ok = message::response(req, status(200), Some(&tag));
        ok.headers.push(Header::Expires(rsip::headers::Expires::new(
            expires.to_string(),
        )));
        let contact = self.ctx.contact(&self.ep, &mailbox);
        ok.headers
            .push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{contact}>"
            ))));
        self.respond(tx, ok);
        let ctx = self.ctx.clone();
        tokio::spawn(async move { crate::sip::mwi::notify_one(&ctx, &mailbox, &sub).await });
    }

    fn reply(&self, tx: TxId, req: &Request, code: rsip::StatusCode) {
        let tag = message::new_tag();
        self.respond(tx, message::response(req, code, Some(&tag)));
    }

    /// The call and leg an in-dialog request may enter (see [`crate::calls::dialogs`]).
    fn route(
        &self,
        req: &Request,
        from: Peer,
    ) -> Result<(crate::base::context::CallTx, Side), crate::calls::dialogs::Refusal> {
        let port = self.ep.local_addr().port();
        let r = self
            .ctx
            .dialogs
            .admit(req, from, port, &self.ctx.registrar, now_ms());
        self.note_refusal(req, from, &r);
        r
    }

    fn note_refusal<T>(
        &self,
        req: &Request,
        from: Peer,
        r: &Result<T, crate::calls::dialogs::Refusal>,
    ) {
        if let Err(why) = r {
            self.ctx.metrics.dialog_rejects.fetch_add(1, Relaxed);
            tracing::debug!(
                "{} from {from} refused ({why:?}), Call-ID {}",
                req.method,
                message::call_id(req).unwrap_or("-")
            );
        }
    }

    fn cancel(&self, tx: TxId, req: &Request, from: Peer, matched: bool) {
        let port = self.ep.local_addr().port();
        let owner = self
            .ctx
            .dialogs
            .admit_cancel(req, from, port, &self.ctx.registrar, now_ms());
        self.note_refusal(req, from, &owner);
        match owner {
            Ok((call, Side::A)) if matched => {
                self.reply(tx, req, status(200));
                let _ = call.send(CallMsg::Cancel);
            }
            _ => self.reply(tx, req, status(481)),
        }
    }

    // ---- REGISTER -----------------------------------------------------------

    fn register(&self, tx: TxId, req: &Request, from: Peer) {
        use rsip::prelude::*;
        let Some(to) = req.to_header().ok().and_then(|t| t.uri().ok()) else {
            return self.reply(tx, req, status_with_reason(400, "Malformed To header"));
        };
        let Some(aor) = message::uri_user(&to) else {
            let reason = status_with_reason(400, "To header has no user part");
            return self.reply(tx, req, reason);
        };
        let Some(user) = self.authenticate(tx, req, from, Challenge::Www) else {
            return;
        };
        if user != aor {
            self.auth_failed(
                from,
                &user,
                true,
                "username does not match the registered extension",
            );
            return self.reply(tx, req, status_with_reason(403, "Username Does Not Match"));
        }
        let now = now_ms();
        match self
            .ctx
            .registrar
            .register(&self.ctx.reg_cfg, &aor, req, from, now)
        {
            RegisterOutcome::Ok(bindings) => {
                self.ctx.metrics.registers_ok.fetch_add(1, Relaxed);
                if bindings.is_empty() {
                    self.ctx.events.publish(|| Event::Unregistered {
                        extension: aor.clone(),
                    });
                }
                for b in &bindings {
                    self.ctx.events.publish(|| Event::Registered {
                        extension: aor.clone(),
                        contact: b.contact.clone(),
                        source: from.to_string(),
                        expires: b.expires,
                    });
                }
                let mut r = message::response(req, status(200), Some(&message::new_tag()));
                for b in bindings {
                    r.headers.push(Header::Contact(rsip::headers::Contact::new(
                        b.header_value(),
                    )));
                }
                self.respond(tx, r);
            }
            RegisterOutcome::TooBrief { min } => {
                let mut r = message::response(req, status(423), Some(&message::new_tag()));
                r.headers
                    .push(Header::MinExpires(rsip::headers::MinExpires::new(
                        min.to_string(),
                    )));
                self.respond(tx, r);
            }
            RegisterOutcome::Bad(why) => self.reply(tx, req, status_with_reason(400, why)),
            RegisterOutcome::OutOfOrder => {
                self.reply(tx, req, status_with_reason(500, "Out Of Order CSeq"))
            }
            RegisterOutcome::TooManyContacts => {
                self.reply(tx, req, status_with_reason(403, "Too Many Contacts"))
            }
        }
    }

    // ---- INVITE -------------------------------------------------------------

    fn invite(&self, tx: TxId, req: Request, from: Peer) {
        if self.ctx.shutting_down.load(Relaxed) {
            return self.reply(tx, &req, status_with_reason(503, "Shutting Down"));
        }
        if message::max_forwards(&req) == Some(0) {
            return self.reply(tx, &req, status(483));
        }
        let (caller, caller_name, direction) = match self.profile {
            Profile::Internal => {
                let Some(user) = self.authenticate(tx, &req, from, Challenge::Proxy) else {
                    return;
                };
                let name = self
                    .ctx
                    .directory
                    .get(&user)
                    .map(|e| e.display_name.clone())
                    .filter(|n| !n.is_empty())
                    .or_else(|| from_display_name(&req))
                    .unwrap_or_default();
                (user, name, "internal")
            }
            // The ACL (or a gateway's addresses) was checked in `request`,
            // for every method.
            Profile::External => {
                let from_user = req
                    .headers
                    .iter()
                    .find_map(|h| match h {
                        Header::From(f) => f.uri().ok().and_then(|u| message::uri_user(&u)),
                        _ => None,
                    })
                    .unwrap_or_default();
                // A carrier names the caller in P-Asserted-Identity or
                // Remote-Party-ID when From is its own account or anonymous.
                let user = trunk_caller_id(&req).unwrap_or(from_user);
                (user, from_display_name(&req).unwrap_or_default(), "inbound")
            }
        };
        // A call through a registered gateway is sent to the Contact we
        // registered (its user is our account there): the number dialled
        // is then in To (mod_sofia's auto_to_user).
        // Any registered gateway at that address whose account the
        // Request-URI names (an NNI peer may share the carrier's address).
        let by_account = match (self.profile, message::uri_user(&req.uri)) {
            (Profile::External, Some(ruri_user)) => {
                self.ctx.trunks.by_source_where(from.addr.ip(), |t| {
                    t.def.registers() && ruri_user == crate::sip::trunk_client::contact_user(&t.def)
                })
            }
            _ => None,
        };
        let dialled = by_account.as_ref().and_then(|_| to_user(&req));
        // The gateway the call came by, for its record: the one whose
        // account it was sent to, else the first at that address.
        let gateway = match self.profile {
            Profile::External => by_account
                .or_else(|| self.ctx.trunks.by_source_where(from.addr.ip(), |_| true))
                .map(|t| t.def.name.clone()),
            Profile::Internal => None,
        };
        if self.edge.voice.get().blacklisted(&caller) {
            self.ctx.metrics.blacklist_rejects.fetch_add(1, Relaxed);
            tracing::info!("INVITE from {caller} ({from}) refused: the number is blacklisted");
            return self.reply(tx, &req, status_with_reason(603, "Decline (Blacklisted)"));
        }
        crate::calls::spawn(
            self.ctx.clone(),
            NewCall {
                a_ep: self.ep.clone(),
                tx,
                invite: req,
                from,
                caller,
                caller_name,
                direction,
                dialled,
                gateway,
            },
        );
    }

    // ---- digest auth ----------------------------------------------------------

    /// Check the request's credentials. Returns the authenticated user, or None
    /// after answering (challenge or refusal).
    ///
    /// Credentials count only from the address their nonce was issued to, for
    /// the Request-URI they were computed for, and once per nonce count
    /// (`sip::auth`): a captured Authorization is of no use to anyone else.
    fn authenticate(&self, tx: TxId, req: &Request, from: Peer, kind: Challenge) -> Option<String> {
        let header = match kind {
            Challenge::Www => "Authorization",
            Challenge::Proxy => "Proxy-Authorization",
        };
        let Some(value) = message::header_value(req, header) else {
            self.challenge(tx, req, from, kind, false);
            return None;
        };
        let creds = match Credentials::parse(value) {
            Ok(c) => c,
            Err(e) => {
                self.auth_failed(from, "?", false, &e.to_string());
                self.reply(
                    tx,
                    req,
                    status_with_reason(400, &format!("Malformed {header}: {e}")),
                );
                return None;
            }
        };
        if creds.realm != self.ctx.digest.realm() {
            // Credentials for another realm: offer ours.
            self.challenge(tx, req, from, kind, false);
            return None;
        }
        let ip = from.addr.ip();
        let now = SystemTime::now();
        // A source that answers with a nonce we sent to it receives what we
        // send: it is not a forged UDP address, so its failures may ban it.
        // Asked only on the failure paths: a success needs no second MAC.
        let proven =
            || from.transport.is_reliable() || self.ctx.digest.nonce_is_ours(&creds.nonce, ip, now);
        let Some(ext) = self
            .ctx
            .directory
            .get(&creds.username)
            .filter(|e| e.enabled)
        else {
            self.auth_failed(from, &creds.username, proven(), "unknown user");
            self.reply(tx, req, status(403));
            return None;
        };
        if !sip::auth::uri_matches(&creds.uri, &req.uri) {
            self.ctx.metrics.auth_replays.fetch_add(1, Relaxed);
            self.auth_failed(
                from,
                &creds.username,
                proven(),
                "digest uri is not the Request-URI",
            );
            self.reply(tx, req, status_with_reason(403, "Digest URI Mismatch"));
            return None;
        }
        // Which request this is: a UDP retransmission (same Call-ID, CSeq and
        // top Via) of the one that used the nonce is the same request again.
        let top_via = req.headers.iter().find_map(|h| match h {
            Header::Via(v) => Some(v.value()),
            _ => None,
        });
        let request_id = format!(
            "{}\n{:?}\n{}",
            message::call_id(req).unwrap_or(""),
            message::cseq(req),
            top_via.unwrap_or("")
        );
        match self.ctx.digest.verify_offered(
            &creds,
            &own_algorithms(Some(&ext)),
            req.method.to_string().as_str(),
            &ext.password,
            ip,
            &request_id,
            now,
        ) {
            Verdict::Ok => {
                self.edge.guard.success(ip, &creds.username);
                if from.transport.is_websocket() && !ext.webrtc {
                    // The right password, but browsers are for the
                    // extensions an administrator enabled WebRTC on.
                    self.ctx.metrics.webrtc_rejects.fetch_add(1, Relaxed);
                    tracing::info!(
                        "{} of '{}' from {from} refused: WebRTC is not enabled for the extension",
                        req.method,
                        creds.username
                    );
                    self.reply(
                        tx,
                        req,
                        status_with_reason(403, "WebRTC not enabled for this extension"),
                    );
                    return None;
                }
                Some(creds.username)
            }
            Verdict::Stale => {
                self.challenge(tx, req, from, kind, true);
                None
            }
            Verdict::Replayed => {
                // Right credentials, used before: a replay, or a client that
                // lost count. A fresh challenge serves the client; an
                // attacker without the password can do nothing with it.
                self.ctx.metrics.auth_replays.fetch_add(1, Relaxed);
                tracing::info!(
                    "credentials of '{}' from {from} used again: re-challenged",
                    creds.username
                );
                self.challenge(tx, req, from, kind, true);
                None
            }
            Verdict::Invalid(why) => {
                self.auth_failed(from, &creds.username, proven(), why);
                self.reply(tx, req, status_with_reason(403, "Forbidden"));
                None
            }
        }
    }

    fn challenge(&self, tx: TxId, req: &Request, from: Peer, kind: Challenge, stale: bool) {
        let code = match kind {
            Challenge::Www => 401,
            Challenge::Proxy => 407,
        };
        let mut r = message::response(req, status(code), Some(&message::new_tag()));
        use rsip::prelude::*;
        // Whose phone this is: the registered extension (To) of a REGISTER,
        // the caller (From) of anything else.
        let user = match kind {
            Challenge::Www => req.to_header().ok().and_then(|h| h.uri().ok()),
            Challenge::Proxy => req.from_header().ok().and_then(|h| h.uri().ok()),
        }
        .and_then(|u| message::uri_user(&u));
        let ext = user.and_then(|u| self.ctx.directory.get(&u).filter(|e| e.enabled));
        let nonces = self.ctx.digest.challenges_offering(
            &own_algorithms(ext.as_deref()),
            from.addr.ip(),
            SystemTime::now(),
            stale,
        );
        for c in nonces {
            r.headers.push(match kind {
                Challenge::Www => Header::WwwAuthenticate(rsip::headers::WwwAuthenticate::new(c)),
                Challenge::Proxy => {
                    Header::ProxyAuthenticate(rsip::headers::ProxyAuthenticate::new(c))
                }
            });
        }
        self.respond(tx, r);
    }

    fn auth_failed(&self, from: Peer, user: &str, proven: bool, why: &str) {
        self.ctx.metrics.auth_failures.fetch_add(1, Relaxed);
        tracing::info!("auth failed for user '{user}' from {from}: {why}");
        let outcome = self
            .edge
            .guard
            .failure(from.addr.ip(), user, proven, Instant::now());
        if outcome == FailureOutcome::Banned {
            tracing::warn!(
                "{} kept failing authentication (last as '{user}'): ignored for {} s",
                from.addr.ip(),
                self.ctx.cfg.sip.auth_ban_secs
            );
        }
    }
}

/// The digest algorithms an extension's phones are offered when it chose
/// its own (`auth_algorithms`); empty (the server's `sip.auth_algorithms`)
/// otherwise, and for unknown users, who learn nothing from the challenge.
fn own_algorithms(ext: Option<&store::Extension>) -> Vec<sip::auth::Algorithm> {
    ext.map(|e| {
        e.auth_algorithms
            .split(',')
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

fn from_display_name(req: &Request) -> Option<String> {
    req.headers
        .iter()
        .find_map(|h| match h {
            Header::From(f) => f.display_name().ok().flatten(),
            _ => None,
        })
        .map(|n| n.trim_matches('"').to_string())
        .filter(|n| !n.is_empty())
}

/// The caller's number a carrier asserts: the user of P-Asserted-Identity
/// (RFC 3325), else of Remote-Party-ID (the draft older carriers still
/// send); a `tel:` URI's number too.
fn trunk_caller_id(req: &Request) -> Option<String> {
    ["P-Asserted-Identity", "Remote-Party-ID"]
        .iter()
        .find_map(|name| identity_user(message::header_value(req, name)?))
}

/// The user (or `tel:` number) of the first URI of an identity header.
fn identity_user(value: &str) -> Option<String> {
    let uri = match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next()?.trim(),
    };
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';']).next()?.trim();
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-*#._".contains(c));
    ok.then(|| user.to_string())
}

/// The user part of To.
fn to_user(req: &Request) -> Option<String> {
    use rsip::prelude::*;
    req.to_header()
        .ok()
        .and_then(|t| t.uri().ok())
        .and_then(|u| message::uri_user(&u))
}

#[cfg(test)]
mod tests {
    use super::identity_user;

    #[test]
    fn the_caller_is_read_from_an_identity_header_and_junk_is_refused() {
        assert_eq!(
            identity_user("\"Alice\" <sip:+8613800138000@carrier.test;user=phone>").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            identity_user("<tel:+861085551234>").as_deref(),
            Some("+861085551234")
        );
        assert_eq!(
            identity_user("<sip:02150001@10.0.0.1>;party=calling;privacy=off").as_deref(),
            Some("02150001")
        );
        assert_eq!(identity_user("sip:1234@h").as_deref(), Some("1234"));
        // Not a number we would route or log as one.
        assert_eq!(identity_user("<sip:a'b@h>"), None);
        assert_eq!(identity_user("<http://x>"), None);
        assert_eq!(identity_user("<sip:@h>"), None);
    }
}
