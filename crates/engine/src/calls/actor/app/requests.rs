//! In-dialog requests on an application call's caller leg.

use super::*;

impl Call {
    /// In-dialog requests on an application call (no B leg to relay to).
    pub(in crate::calls::actor) fn on_app_request(&mut self, tx: TxId, req: Request) {
        let ep = self.a_ep.clone();
        match req.method {
            Method::Bye => {
                ep.respond(tx, message::response(&req, status(200), None));
                self.cancel_forks(None);
                self.bye(Side::B);
                self.finish(HangupCause::NormalClearing, "caller", 200);
            }
            Method::Info => {
                let ctype = message::header_value(&req, "Content-Type").unwrap_or("");
                let body = String::from_utf8_lossy(&req.body);
                match media::dtmf::info::parse_info(ctype, &body) {
                    Ok(ev) => {
                        ep.respond(tx, message::response(&req, status(200), None));
                        self.on_digit(Side::A, ev.digit);
                    }
                    Err(e) if req.body.is_empty() => {
                        // An empty INFO is a keep-alive probe.
                        let _ = e;
                        ep.respond(tx, message::response(&req, status(200), None));
                    }
                    Err(e) => {
                        // An unknown body type is 415; a DTMF body we cannot read is 400.
                        let code = match e {
                            media::dtmf::info::DtmfInfoError::UnknownContentType(_) => 415,
                            _ => 400,
                        };
                        let reason = format!("Bad INFO: {e}");
                        ep.respond(
                            tx,
                            message::response(
                                &req,
                                sip::message::status_with_reason(code, &reason),
                                None,
                            ),
                        );
                    }
                }
            }
            Method::Invite | Method::Update => {
                // A re-INVITE (hold, refresh): same codec, our same port.
                if let Some(Ok(sdp)) = self.parse_sdp(&req) {
                    self.media.set_hold(sdp.is_hold());
                    self.learn_remote(Side::A, &sdp);
                    self.a_offer = Some(sdp);
                }
                let mut ok = self.a_response_to(&req);
                if let Some(body) = self.app_sdp() {
                    ok.set_body(body, SDP);
                }
                ep.respond(tx, ok);
            }
            Method::Options => ep.respond(tx, message::response(&req, status(200), None)),
            _ => ep.respond(tx, message::response(&req, status(501), None)),
        }
    }

    /// The caller's ACK on an app call: with a delayed offer it carries the
    /// answer to our offer.
    pub(in crate::calls::actor) fn on_app_ack(&mut self, ack: &Request) {
        if self.formats[0].is_some() {
            return;
        }
        let Some(Ok(answer)) = self.parse_sdp(ack) else {
            return;
        };
        let prefs = self.prefs();
        if let Some(f) =
            negotiate::audio_section(&answer).and_then(|(_, m)| negotiate::accepted(m, &prefs))
        {
            self.set_format(Side::A, f);
            if f.te_pt.is_none() {
                if let Some(s) = self.media.session() {
                    s.detect_inband(Side::A, true);
                }
            }
        }
        self.learn_remote(Side::A, &answer);
    }

    /// A 200 for an in-dialog request on the caller's leg, with our Contact.
    pub(in crate::calls::actor) fn a_response_to(&self, req: &Request) -> rsip::Response {
        let mut r = message::response(req, status(200), None);
        let contact = self.contact_for(Side::A);
        r.headers
            .push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{contact}>"
            ))));
        r
    }
}
