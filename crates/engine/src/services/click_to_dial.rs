//! Dial-out from the agent desk (click-to-dial) by REFER: the engine asks
//! the agent's phone, outside any dialog (RFC 3515 section 2.4.2), to call
//! the number; the phone then places an ordinary call through us, routed,
//! authenticated and recorded like any other. Desk phones support this
//! (it is how CTI dialing works with them); the answer to the REFER says
//! whether the phone accepted.

use crate::base::context::{now_ms, Ctx};
use sip::dialog::Dialog;
use sip::endpoint::ClientEvent;
use sip::message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Asks every registered phone of `extension` to call `number`; Ok with the
/// number of phones that accepted (2xx), or why none did.
pub async fn dial(ctx: &Arc<Ctx>, extension: &str, number: &str) -> Result<usize, String> {
    if number.is_empty()
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || "*#+".contains(c))
    {
        return Err(format!("'{number}' is not a number to dial"));
    }
    let bindings = ctx.registrar.lookup(extension, now_ms());
    if bindings.is_empty() {
        return Err(format!("extension {extension} has no registered phone"));
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let host = ctx.host();
    let ep = &ctx.internal;
    for b in &bindings {
        let Ok(target) = rsip::Uri::try_from(b.contact.as_str()) else {
            continue;
        };
        let mut dialog = Dialog {
            call_id: message::new_call_id(),
            local_tag: message::new_tag(),
            remote_tag: None,
            local_uri: format!("\"Dial {number}\" <sip:{number}@{host}>"),
            remote_uri: format!("<sip:{extension}@{host}>"),
            remote_target: target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer: b.source,
        };
        let via = ctx.sent_by(ep);
        let contact = ctx.contact(ep, extension);
        let mut req = dialog.request(rsip::Method::Refer, &via, &contact);
        req.headers.push(rsip::Header::Other(
            "Refer-To".into(),
            format!("<sip:{number}@{host}>"),
        ));
        req.headers.push(rsip::Header::Other(
            "Referred-By".into(),
            format!("<sip:{extension}@{host}>"),
        ));
        let tx = tx.clone();
        ep.send_request(
            req,
            b.source,
            Arc::new(move |ev| {
                let _ = tx.send(ev);
            }),
        );
    }
    drop(tx);
    let mut accepted = 0;
    let mut last = String::from("no answer from the phone");
    // Phones answer a REFER at once; a desk should not hang for Timer F.
    let wait = tokio::time::sleep(Duration::from_secs(8));
    tokio::pin!(wait);
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ClientEvent::Response(_, r)) => {
                    let code = r.status_code.code();
                    if (200..300).contains(&code) {
                        accepted += 1;
                    } else if code >= 300 {
                        last = format!("the phone answered {code}");
                    }
                }
                Some(ClientEvent::Timeout(_)) => last = "the phone did not answer".into(),
                Some(ClientEvent::Sent(_)) => {}
                None => break,
            },
            _ = &mut wait => break,
        }
        if accepted > 0 {
            break;
        }
    }
    if accepted > 0 {
        tracing::info!("click-to-dial: {extension} asked to call {number}");
        Ok(accepted)
    } else {
        Err(last)
    }
}
