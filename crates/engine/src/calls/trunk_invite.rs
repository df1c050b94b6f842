//! The INVITE towards a gateway and its second try with the carrier's
//! challenge answered: what a call going out sends (actor/outbound.rs) and
//! what a leg the engine places through a gateway sends (originate.rs, a
//! party the agent desk brings into a call). The carrier sees the same
//! request either way: the rewritten number, the caller ID in From or
//! P-Asserted-Identity / P-Preferred-Identity, Privacy, the gateway's
//! Service-Route, Allow.

use crate::base::context::Ctx;
use crate::base::trunks::Trunk;
use callcenter::gateway::config::{Gateway, IdentityHeader, Privacy};
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request, Response};
use sip::dialog::Dialog;
use sip::endpoint::Endpoint;
use sip::message::{self, SetBody};

/// Who a call out is from.
pub(crate) struct Caller<'a> {
    /// The caller's own number: the caller ID when neither the caller's
    /// number pool nor the gateway gives one.
    pub number: &'a str,
    /// The caller's display name ("" for none).
    pub name: &'a str,
    /// A number picked from the caller's number pool ("" for none).
    pub pool_pick: &'a str,
}

/// A number from `extension`'s number pool, one at random per call ("" when
/// it has none: the gateway's default or the caller's own number is used).
pub(crate) fn pool_pick(ctx: &Ctx, extension: &str) -> String {
    let pool: Vec<String> = ctx
        .directory
        .get(extension)
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

/// An INVITE towards a gateway, without its body.
pub(crate) struct TrunkInvite {
    /// The new dialog, our tag as the From tag.
    pub dialog: Dialog,
    /// The request.
    pub request: Request,
    /// The From user it was sent with (the retry with credentials keeps it).
    pub from_user: String,
    /// The number as the gateway gets it (after its strip and prefix).
    pub number: String,
}

/// The INVITE for `dial` through `trunk`, sent from endpoint `ep`, with
/// Max-Forwards `hops`; Err (for the log) when none can be made.
pub(crate) fn invite(
    ctx: &Ctx,
    ep: &Endpoint,
    trunk: &Trunk,
    dial: &str,
    caller: &Caller,
    hops: u32,
) -> Result<TrunkInvite, String> {
    let def = &trunk.def;
    let Some(to) = trunk.outbound else {
        return Err(format!("gateway {} has no address", def.name));
    };
    let number = def.rewrite_number(dial).unwrap_or_else(|| dial.to_string());
    let caller_id = [caller.pool_pick, def.caller_id.as_str()]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or(caller.number)
        .to_string();
    let domain = def.effective_from_domain().to_string();
    let from_user = if def.caller_id_in_from || def.effective_from_user().is_empty() {
        caller_id.clone()
    } else {
        def.effective_from_user().to_string()
    };
    let target = format!("sip:{number}@{}", def.proxy_target());
    let remote_target =
        rsip::Uri::try_from(target.as_str()).map_err(|_| format!("{target} is not a SIP URI"))?;
    let display = if caller.name.is_empty() || def.privacy == Privacy::Id {
        String::new()
    } else {
        format!("\"{}\" ", caller.name.replace(['"', '\\'], ""))
    };
    let dialog = Dialog {
        call_id: message::new_call_id(),
        local_tag: message::new_tag(),
        remote_tag: None,
        local_uri: format!("{display}<sip:{from_user}@{domain}>"),
        remote_uri: format!("<sip:{number}@{}>", def.proxy),
        remote_target,
        route_set: trunk.status().service_route,
        local_cseq: 0,
        remote_cseq: 0,
        peer: crate::base::trunks::gateway_peer(def, to),
    };
    let mut dialog = dialog;
    let transport = crate::base::trunks::gateway_transport(def);
    let via = ctx.sent_by_on(ep, transport);
    let contact = ctx.contact_on(ep, &from_user, transport);
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
    for h in req.headers.iter_mut() {
        if let Header::MaxForwards(m) = h {
            *m = rsip::headers::MaxForwards::new(hops.to_string());
        }
    }
    req.headers
        .push(Header::Allow(rsip::headers::Allow::new(message::ALLOW)));
    Ok(TrunkInvite {
        dialog,
        request: req,
        from_user,
        number,
    })
}

/// The INVITE `first` again on `dialog` (from endpoint `ep`) with the
/// answer to the carrier's 401/407 `resp` for gateway `def`: its identity,
/// Privacy and Allow headers and body, a new CSeq and branch. None when the
/// response holds no challenge we can answer. The caller decides whether a
/// second challenge means wrong credentials.
pub(crate) fn with_credentials(
    ctx: &Ctx,
    ep: &Endpoint,
    dialog: &mut Dialog,
    first: &Request,
    from_user: &str,
    resp: &Response,
    def: &Gateway,
) -> Option<Request> {
    let code = resp.status_code.code();
    let name = if code == 407 {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    let challenge = message::header_values(resp, name)
        .iter()
        .find_map(|v| sip::auth::Challenge::parse(v).ok())?;
    // The challenge's To tag belongs to a transaction, not a dialog.
    dialog.remote_tag = None;
    let uri = dialog.remote_target.to_string();
    let cnonce = format!("{:016x}", fastrand::u64(..));
    let value = sip::auth::answer(
        &challenge,
        def.effective_auth_username(),
        &def.password,
        "INVITE",
        &uri,
        &cnonce,
        1,
    );
    let transport = dialog.peer.transport;
    let via = ctx.sent_by_on(ep, transport);
    let contact = ctx.contact_on(ep, from_user, transport);
    let mut req = dialog.request(Method::Invite, &via, &contact);
    for h in first.headers.iter() {
        match h {
            Header::Other(n, _)
                if ["P-Asserted-Identity", "P-Preferred-Identity", "Privacy"]
                    .iter()
                    .any(|k| n.eq_ignore_ascii_case(k)) =>
            {
                req.headers.push(h.clone())
            }
            Header::Allow(_) | Header::MaxForwards(_) => {
                req.headers
                    .retain(|x| std::mem::discriminant(x) != std::mem::discriminant(h));
                req.headers.push(h.clone())
            }
            _ => {}
        }
    }
    req.headers.push(if code == 407 {
        Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(value))
    } else {
        Header::Authorization(rsip::headers::Authorization::new(value))
    });
    req.set_body(first.body.clone(), "application/sdp");
    Some(req)
}

/// Whether a challenge in `resp` is marked stale (a new nonce, not wrong
/// credentials).
pub(crate) fn challenge_is_stale(resp: &Response) -> bool {
    ["Proxy-Authenticate", "WWW-Authenticate"]
        .iter()
        .flat_map(|n| message::header_values(resp, n))
        .filter_map(|v| sip::auth::Challenge::parse(&v).ok())
        .any(|c| c.stale)
}

/// `offer` cut down to the gateway's codecs (`codecs`, names; empty: all),
/// unchanged when that would leave none (said in the log for `call`).
pub(crate) fn restricted_offer(offer: &[u8], codecs: &[String], call: u64) -> Vec<u8> {
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
