//! The two SIP profiles' dispatchers: what happens to each request that starts
//! a transaction. Internal (phones): REGISTER and INVITE are digest-challenged.
//! External (trunks): INVITEs only from ACL addresses, no registration.
//! In-dialog requests, ACKs and CANCELs are routed to the owning call by Call-ID.

use crate::calls::{actor, CallMsg, Side};
use crate::context::{now_ms, Ctx};
use crate::events::Event;
use crate::registrar::RegisterOutcome;
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
pub fn install(ctx: Arc<Ctx>, profile: Profile) {
    let ep = match profile {
        Profile::Internal => ctx.internal.clone(),
        Profile::External => ctx.external.clone(),
    };
    ep.clone().set_tu(Box::new(Dispatcher {
        ctx,
        profile,
        ep,
        replies: RefCell::new(Vec::new()),
    }));
}

struct Dispatcher {
    ctx: Arc<Ctx>,
    profile: Profile,
    ep: Endpoint,
    /// Answers produced while handling one event, sent through the driver's outbox.
    replies: RefCell<Vec<(TxId, rsip::Response)>>,
}

impl Tu for Dispatcher {
    fn on_event(&mut self, ev: ServerEvent, out: &mut Outbox<'_>) {
        // REGISTER and out-of-dialog OPTIONS are answered like a stateless server
        // (as Kamailio's registrar does): re-processing a retransmission gives the
        // same answer, and no transaction is kept for 32 s per request.
        let stateless = matches!(&ev, ServerEvent::Request { request, .. }
            if request.method == Method::Register
                || (request.method == Method::Options && message::to_tag(request).is_none()));
        self.event(ev);
        for (tx, r) in self.replies.get_mut().drain(..) {
            if stateless && r.status_code.code() >= 200 {
                out.respond_stateless(tx, r);
            } else {
                out.respond(tx, r);
            }
        }
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
            ServerEvent::Ack { request, from: _ } => {
                if let Some((call, side)) = self.call_of(&request) {
                    let _ = call.send(CallMsg::Ack { side, request });
                }
            }
            ServerEvent::StrayResponse { response, from } => self.end_stray(&response, from),
            ServerEvent::AckTimeout(tx) => {
                tracing::info!("2xx on {tx:?} was never acknowledged");
            }
        }
    }

    fn request(&self, tx: TxId, req: Request, from: Peer, is_cancel_of_known: bool) {
        let now = Instant::now();
        if self.ctx.guard.is_banned(from.addr.ip(), now) {
            // Ignored on purpose: an answer would help a password-guessing attacker.
            self.ctx.metrics.banned_drops.fetch_add(1, Relaxed);
            return;
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
            Method::Cancel => self.cancel(tx, &req, is_cancel_of_known),
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
            _ if in_dialog => match self.call_of(&req) {
                Some((call, side)) => {
                    let _ = call.send(CallMsg::Request {
                        side,
                        tx,
                        request: req,
                        from,
                    });
                }
                None => self.reply(tx, &req, status(481)),
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
            .unwrap_or(crate::mwi::MAX_EXPIRES)
            .min(crate::mwi::MAX_EXPIRES);
        let tag = message::to_tag(req).unwrap_or_else(message::new_tag);
        let sub = self.ctx.mwi.subscribe(&mailbox, req, from, &tag, expires);
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
        tokio::spawn(async move { crate::mwi::notify_one(&ctx, &mailbox, &sub).await });
    }

    fn reply(&self, tx: TxId, req: &Request, code: rsip::StatusCode) {
        let tag = message::new_tag();
        self.respond(tx, message::response(req, code, Some(&tag)));
    }

    fn call_of(&self, req: &Request) -> Option<(crate::context::CallTx, Side)> {
        let cid = message::call_id(req)?;
        self.ctx.dialogs.get(cid).map(|e| e.value().clone())
    }

    fn cancel(&self, tx: TxId, req: &Request, matched: bool) {
        match self.call_of(req) {
            Some((call, Side::A)) if matched => {
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
                for (contact, secs) in &bindings {
                    self.ctx.events.publish(|| Event::Registered {
                        extension: aor.clone(),
                        contact: contact.clone(),
                        source: from.to_string(),
                        expires: *secs,
                    });
                }
                let mut r = message::response(req, status(200), Some(&message::new_tag()));
                for (contact, secs) in bindings {
                    r.headers
                        .push(Header::Contact(rsip::headers::Contact::new(format!(
                            "<{contact}>;expires={secs}"
                        ))));
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
            Profile::External => {
                if !self.ctx.voice.get().acl.allows(from.addr.ip()) {
                    self.ctx.metrics.acl_rejects.fetch_add(1, Relaxed);
                    tracing::info!("INVITE from {from} refused by the trunk ACL");
                    return self.reply(tx, &req, status_with_reason(403, "Forbidden By ACL"));
                }
                let user = req
                    .headers
                    .iter()
                    .find_map(|h| match h {
                        Header::From(f) => f.uri().ok().and_then(|u| message::uri_user(&u)),
                        _ => None,
                    })
                    .unwrap_or_default();
                (user, from_display_name(&req).unwrap_or_default(), "inbound")
            }
        };
        if self.ctx.voice.get().blacklisted(&caller) {
            self.ctx.metrics.blacklist_rejects.fetch_add(1, Relaxed);
            tracing::info!("INVITE from {caller} ({from}) refused: the number is blacklisted");
            return self.reply(tx, &req, status_with_reason(603, "Decline (Blacklisted)"));
        }
        actor::spawn(
            self.ctx.clone(),
            actor::NewCall {
                a_ep: self.ep.clone(),
                tx,
                invite: req,
                from,
                caller,
                caller_name,
                direction,
            },
        );
    }

    // ---- digest auth ----------------------------------------------------------

    /// Check the request's credentials. Returns the authenticated user, or None
    /// after answering (challenge or refusal).
    fn authenticate(&self, tx: TxId, req: &Request, from: Peer, kind: Challenge) -> Option<String> {
        let header = match kind {
            Challenge::Www => "Authorization",
            Challenge::Proxy => "Proxy-Authorization",
        };
        let Some(value) = message::header_value(req, header) else {
            self.challenge(tx, req, kind, false);
            return None;
        };
        let creds = match Credentials::parse(value) {
            Ok(c) => c,
            Err(e) => {
                self.auth_failed(from, "?", &e.to_string());
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
            self.challenge(tx, req, kind, false);
            return None;
        }
        let Some(ext) = self
            .ctx
            .directory
            .get(&creds.username)
            .filter(|e| e.enabled)
        else {
            self.auth_failed(from, &creds.username, "unknown user");
            self.reply(tx, req, status(403));
            return None;
        };
        match self.ctx.digest.verify(
            &creds,
            req.method.to_string().as_str(),
            &ext.password,
            SystemTime::now(),
        ) {
            Verdict::Ok => {
                self.ctx.guard.success(from.addr.ip());
                Some(creds.username)
            }
            Verdict::Stale => {
                self.challenge(tx, req, kind, true);
                None
            }
            Verdict::Invalid(why) => {
                self.auth_failed(from, &creds.username, why);
                self.reply(tx, req, status_with_reason(403, "Forbidden"));
                None
            }
        }
    }

    fn challenge(&self, tx: TxId, req: &Request, kind: Challenge, stale: bool) {
        let code = match kind {
            Challenge::Www => 401,
            Challenge::Proxy => 407,
        };
        let mut r = message::response(req, status(code), Some(&message::new_tag()));
        for c in self.ctx.digest.challenges(SystemTime::now(), stale) {
            r.headers.push(match kind {
                Challenge::Www => Header::WwwAuthenticate(rsip::headers::WwwAuthenticate::new(c)),
                Challenge::Proxy => {
                    Header::ProxyAuthenticate(rsip::headers::ProxyAuthenticate::new(c))
                }
            });
        }
        self.respond(tx, r);
    }

    fn auth_failed(&self, from: Peer, user: &str, why: &str) {
        self.ctx.metrics.auth_failures.fetch_add(1, Relaxed);
        tracing::info!("auth failed for user '{user}' from {from}: {why}");
        if self.ctx.guard.failure(from.addr.ip(), Instant::now()) {
            tracing::warn!(
                "{} failed authentication {} times in a row: ignored for {} s",
                from.addr.ip(),
                self.ctx.cfg.sip.auth_fail_limit,
                self.ctx.cfg.sip.auth_ban_secs
            );
        }
    }
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
