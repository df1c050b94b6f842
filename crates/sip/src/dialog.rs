//! Dialog state (RFC 3261 §12) for one leg of a B2BUA call: enough to build
//! in-dialog requests (BYE, re-INVITE, INFO) and to recognise the peer's.

use crate::message;
use crate::peer::Peer;
use rsip::headers::{ContentLength, Header, UntypedHeader};
use rsip::{Method, Request};

/// One side's dialog, from our point of view (we are the "local" end).
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Call-ID of this leg (each leg of a call has its own).
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag, once known.
    pub remote_tag: Option<String>,
    /// Our name-addr without tag, e.g. `"Alice" <sip:1000@10.0.0.1>`.
    pub local_uri: String,
    /// The peer's name-addr without tag.
    pub remote_uri: String,
    /// Where in-dialog requests are addressed (the peer's Contact).
    pub remote_target: rsip::Uri,
    /// Route header values, in the order to send them (loose routing).
    pub route_set: Vec<String>,
    /// Last CSeq number we used.
    pub local_cseq: u32,
    /// Highest CSeq number the peer used.
    pub remote_cseq: u32,
    /// Where to send: the peer's real address (NAT-safe), not what its Contact claims.
    pub peer: Peer,
}

impl Dialog {
    /// Build an in-dialog request with the next CSeq. `via` is our sent-by
    /// (`host:port`), `contact` our Contact URI.
    pub fn request(&mut self, method: Method, via: &str, contact: &str) -> Request {
        if method != Method::Ack && method != Method::Cancel {
            self.local_cseq += 1;
        }
        self.request_with_cseq(
            method,
            self.local_cseq,
            via,
            contact,
            &message::new_branch(),
        )
    }

    /// Build an in-dialog request with a given CSeq and branch (ACK reuses the INVITE's number).
    pub fn request_with_cseq(
        &self,
        method: Method,
        cseq: u32,
        via: &str,
        contact: &str,
        branch: &str,
    ) -> Request {
        let mut headers = rsip::Headers::default();
        let transport = self.peer.transport.via_token();
        headers.push(Header::Via(rsip::headers::Via::new(format!(
            "SIP/2.0/{transport} {via};branch={branch};rport"
        ))));
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
        for r in &self.route_set {
            headers.push(Header::Route(rsip::headers::Route::new(r.clone())));
        }
        headers.push(Header::From(rsip::headers::From::new(format!(
            "{};tag={}",
            self.local_uri, self.local_tag
        ))));
        let to = match &self.remote_tag {
            Some(t) => format!("{};tag={}", self.remote_uri, t),
            None => self.remote_uri.clone(),
        };
        headers.push(Header::To(rsip::headers::To::new(to)));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{cseq} {method}"
        ))));
        if matches!(
            method,
            Method::Invite | Method::Update | Method::Subscribe | Method::Refer
        ) {
            headers.push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{contact}>"
            ))));
        }
        if let Some(ua) = message::user_agent() {
            headers.push(Header::UserAgent(rsip::headers::UserAgent::new(ua)));
        }
        headers.push(Header::ContentLength(ContentLength::from(0u32)));
        Request {
            method,
            uri: self.remote_target.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }
}

/// The Record-Route values of a message, in order.
pub fn record_routes(msg: &impl rsip::message::HasHeaders) -> Vec<String> {
    msg.headers()
        .iter()
        .filter_map(|h| match h {
            Header::RecordRoute(r) => Some(r.value().to_string()),
            _ => None,
        })
        .flat_map(|v| {
            crate::message::split_header_list(&v)
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The name-addr part of a From/To value without its tag parameter.
pub fn strip_tag(value: &str) -> String {
    // The tag is a header parameter, after the closing '>' when there is one.
    let (addr, params) = match value.rfind('>') {
        Some(i) => value.split_at(i + 1),
        None => match value.find(';') {
            Some(i) => value.split_at(i),
            None => (value, ""),
        },
    };
    let kept: Vec<&str> = params
        .split(';')
        .filter(|p| !p.trim().is_empty() && !p.trim().to_ascii_lowercase().starts_with("tag="))
        .collect();
    if kept.is_empty() {
        addr.trim().to_string()
    } else {
        format!("{};{}", addr.trim(), kept.join(";"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsip::prelude::*;

    #[test]
    fn builds_bye_with_next_cseq_and_route_set() {
        let mut d = Dialog {
            call_id: "abc".into(),
            local_tag: "l1".into(),
            remote_tag: Some("r1".into()),
            local_uri: "<sip:1000@10.0.0.1>".into(),
            remote_uri: "<sip:1001@10.0.0.1>".into(),
            remote_target: rsip::Uri::try_from("sip:1001@10.0.0.2:5062").expect("uri"),
            route_set: vec!["<sip:proxy;lr>".into()],
            local_cseq: 1,
            remote_cseq: 0,
            peer: Peer::udp("10.0.0.2:5062".parse().expect("addr")),
        };
        let bye = d.request(Method::Bye, "10.0.0.1:5060", "sip:10.0.0.1:5060");
        assert_eq!(crate::message::cseq(&bye), Some((2, Method::Bye)));
        assert_eq!(crate::message::to_tag(&bye).as_deref(), Some("r1"));
        assert_eq!(crate::message::from_tag(&bye).as_deref(), Some("l1"));
        assert!(bye.to_string().contains("Route: <sip:proxy;lr>"));
        let again = rsip::SipMessage::try_from(bye.to_string().as_str()).expect("parses");
        assert!(again.via_header().is_ok());
    }

    #[test]
    fn strips_tags() {
        assert_eq!(strip_tag("\"A\" <sip:a@b>;tag=123"), "\"A\" <sip:a@b>");
        assert_eq!(strip_tag("<sip:a@b>;x=1;tag=9"), "<sip:a@b>;x=1");
        assert_eq!(strip_tag("sip:a@b;tag=9"), "sip:a@b");
    }

    #[test]
    fn splits_record_route_lists() {
        assert_eq!(
            crate::message::split_header_list("<sip:a;lr>, <sip:b,c;lr>"),
            vec!["<sip:a;lr>", "<sip:b,c;lr>"]
        );
    }
}
