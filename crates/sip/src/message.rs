//! Small helpers over `rsip` messages: reading the headers every layer needs,
//! building responses and serialising.
//!
//! rsip prints well-known status codes with CamelCase reasons ("486 BusyHere"), so
//! every status we send goes through [`status`], which uses the RFC reason phrase.

use bytes::Bytes;
use rsip::headers::{ContentLength, ContentType, Header, UntypedHeader};
use rsip::prelude::*;
use rsip::{Method, Request, Response, SipMessage, StatusCode};

/// Methods we implement, for Allow headers.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, NOTIFY, MESSAGE";

/// The User-Agent / Server value sent unless [`set_user_agent`] chose another.
/// Without a version: telling scanners which release runs helps them pick
/// exploits and tells nothing a phone needs.
pub const DEFAULT_USER_AGENT: &str = "Switchboard";

static USER_AGENT: std::sync::OnceLock<Box<str>> = std::sync::OnceLock::new();

/// Choose the User-Agent / Server value for the whole process, once, at
/// start ("" sends no such header). Returns false, changing nothing, when a
/// value was chosen before (the first one stays: headers already sent used it).
pub fn set_user_agent(value: &str) -> bool {
    USER_AGENT.set(value.into()).is_ok()
}

/// The User-Agent / Server value we send; None when it is off.
pub fn user_agent() -> Option<&'static str> {
    let v = USER_AGENT.get_or_init(|| DEFAULT_USER_AGENT.into());
    (!v.is_empty()).then_some(&**v)
}

/// The RFC 3261 reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

/// The reason phrase of a response: the one it carries when rsip keeps it
/// (a code it has no name for), else the standard one.
pub fn reason_text(r: &Response) -> String {
    match &r.status_code {
        StatusCode::Other(_, reason) => reason.clone(),
        other => reason_phrase(other.code()).to_string(),
    }
}

/// A status code carrying its proper reason phrase.
pub fn status(code: u16) -> StatusCode {
    StatusCode::Other(code, reason_phrase(code).to_string())
}

/// A status code with a custom reason phrase (e.g. a 400 that says what was wrong).
pub fn status_with_reason(code: u16, reason: &str) -> StatusCode {
    StatusCode::Other(code, crate::parse::sanitize_reason(reason))
}

/// Lower-case hex only: some peers (SIPp 3.6) search raw messages for header
/// names such as "CSeq", and a random tag containing one would confuse them.
const TOKEN_CHARS: &[u8] = b"0123456789abcdef";

fn random_token(len: usize) -> String {
    (0..len)
        .map(|_| TOKEN_CHARS[fastrand::usize(..TOKEN_CHARS.len())] as char)
        .collect()
}

/// A fresh From/To tag.
pub fn new_tag() -> String {
    random_token(12)
}

/// A fresh RFC 3261 branch (magic cookie + random token).
pub fn new_branch() -> String {
    let mut s = String::with_capacity(23);
    s.push_str("z9hG4bK");
    s.push_str(&random_token(16));
    s
}

/// A fresh Call-ID for a leg we originate.
pub fn new_call_id() -> String {
    random_token(24)
}

/// The Call-ID value.
pub fn call_id(msg: &impl HeadersExt) -> Option<&str> {
    msg.call_id_header().ok().map(|h| h.value())
}

/// CSeq number and method.
pub fn cseq(msg: &impl HeadersExt) -> Option<(u32, Method)> {
    let h = msg.cseq_header().ok()?;
    Some((h.seq().ok()?, h.method().ok()?))
}

/// The From tag.
pub fn from_tag(msg: &impl HeadersExt) -> Option<String> {
    msg.from_header()
        .ok()?
        .tag()
        .ok()
        .flatten()
        .map(|t| t.value().to_string())
}

/// The To tag.
pub fn to_tag(msg: &impl HeadersExt) -> Option<String> {
    msg.to_header()
        .ok()?
        .tag()
        .ok()
        .flatten()
        .map(|t| t.value().to_string())
}

/// The user part of a header's URI (From, To) or of the Request-URI.
pub fn uri_user(uri: &rsip::Uri) -> Option<String> {
    uri.auth.as_ref().map(|a| a.user.clone())
}

/// The value of the first header with this name (case-insensitive), covering
/// headers rsip keeps as `Other`.
pub fn header_value<'a>(msg: &'a impl HasHeaders, name: &str) -> Option<&'a str> {
    msg.headers().iter().find_map(|h| match h {
        Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.as_str()),
        Header::Expires(v) if name.eq_ignore_ascii_case("Expires") => Some(v.value()),
        Header::UserAgent(v) if name.eq_ignore_ascii_case("User-Agent") => Some(v.value()),
        Header::Authorization(v) if name.eq_ignore_ascii_case("Authorization") => Some(v.value()),
        Header::ProxyAuthorization(v) if name.eq_ignore_ascii_case("Proxy-Authorization") => {
            Some(v.value())
        }
        Header::ContentType(v) if name.eq_ignore_ascii_case("Content-Type") => Some(v.value()),
        Header::Event(v) if name.eq_ignore_ascii_case("Event") => Some(v.value()),
        Header::Warning(v) if name.eq_ignore_ascii_case("Warning") => Some(v.value()),
        Header::SubscriptionState(v) if name.eq_ignore_ascii_case("Subscription-State") => {
            Some(v.value())
        }
        _ => None,
    })
}

/// The values of every header named `name` (any case), typed by rsip or
/// not (WWW-Authenticate, Min-Expires, Service-Route, ...), in order. Reads
/// each header's text: meant for the few answers a client inspects (to
/// REGISTER, a challenge), not for every request.
pub fn header_values(msg: &impl HasHeaders, name: &str) -> Vec<String> {
    msg.headers()
        .iter()
        .filter_map(|h| {
            let text = h.to_string();
            let (n, v) = text.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

/// Max-Forwards of a request, when present and numeric.
pub fn max_forwards(req: &Request) -> Option<u32> {
    req.headers.iter().find_map(|h| match h {
        Header::MaxForwards(m) => m.value().trim().parse().ok(),
        _ => None,
    })
}

/// The URI of the first Contact header (where in-dialog requests go).
/// Parsed with [`crate::contact`]: rsip's typed Contact fails on the
/// `+sip.instance="<urn:...>"` that RFC 5626/5627 phones add to it.
pub fn contact_uri(msg: &impl HasHeaders) -> Option<rsip::Uri> {
    let value = msg.headers().iter().find_map(|h| match h {
        Header::Contact(c) => Some(c.value()),
        _ => None,
    })?;
    match crate::contact::parse(value).ok()?.first()? {
        crate::contact::ContactEntry::Addr(a) => rsip::Uri::try_from(a.uri).ok(),
        crate::contact::ContactEntry::Star => None,
    }
}

/// Every Contact of a message, all its Contact headers read as one list
/// (RFC 3261 §7.3.1), parsed exactly (see [`crate::contact`]).
pub fn contacts(
    msg: &impl HasHeaders,
) -> Result<Vec<crate::contact::ContactEntry<'_>>, crate::contact::ContactError> {
    crate::contact::parse_all(msg.headers().iter().filter_map(|h| match h {
        Header::Contact(c) => Some(c.value()),
        _ => None,
    }))
}

/// Build a response to `req`: Via, From, To, Call-ID and CSeq copied (§8.2.6.2);
/// a To tag added when the request had none and one is given.
pub fn response(req: &Request, code: StatusCode, to_tag: Option<&str>) -> Response {
    let mut headers = rsip::Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let has_tag = matches!(to.tag(), Ok(Some(_)));
                match to_tag {
                    Some(tag) if !has_tag => {
                        let v = format!("{};tag={}", to.value(), tag);
                        headers.push(Header::To(rsip::headers::To::new(v)));
                    }
                    _ => headers.push(h.clone()),
                }
            }
            _ => {}
        }
    }
    if let Some(ua) = user_agent() {
        headers.push(Header::Server(rsip::headers::Server::new(ua)));
    }
    headers.push(Header::ContentLength(ContentLength::from(0u32)));
    Response {
        status_code: code,
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Replace the body, setting Content-Type and Content-Length to match.
pub fn set_body(headers: &mut rsip::Headers, body: &mut Vec<u8>, new: Vec<u8>, ctype: &str) {
    headers.retain(|h| !matches!(h, Header::ContentLength(_) | Header::ContentType(_)));
    if !new.is_empty() {
        headers.push(Header::ContentType(ContentType::new(ctype)));
    }
    headers.push(Header::ContentLength(ContentLength::from(new.len() as u32)));
    *body = new;
}

/// Setting a body on a request or response (Content-Type and Content-Length follow).
pub trait SetBody {
    /// Replace the body; an empty body drops Content-Type.
    fn set_body(&mut self, body: Vec<u8>, ctype: &str);
}

impl SetBody for Request {
    fn set_body(&mut self, new: Vec<u8>, ctype: &str) {
        set_body(&mut self.headers, &mut self.body, new, ctype);
    }
}

impl SetBody for Response {
    fn set_body(&mut self, new: Vec<u8>, ctype: &str) {
        set_body(&mut self.headers, &mut self.body, new, ctype);
    }
}

/// Split a comma-separated header value (Contact, Record-Route lists) on the
/// commas that separate entries, not those inside quotes or `<...>`.
pub fn split_header_list(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                out.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim());
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// Serialise a message once for the wire.
pub fn to_bytes(msg: impl Into<SipMessage>) -> Bytes {
    Bytes::from(msg.into().to_string())
}

/// Is this an SDP body?
pub fn has_sdp(msg: &impl HasHeaders, body: &[u8]) -> bool {
    !body.is_empty()
        && header_value(msg, "Content-Type")
            .map(|v| v.trim().to_ascii_lowercase().starts_with("application/sdp"))
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        let raw = "INVITE sip:1001@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport=5060;received=10.0.0.1\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKdef\r\nFrom: \"Alice\" <sip:1000@x>;tag=f1\r\nTo: <sip:1001@x>\r\nCall-ID: cid\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n";
        Request::try_from(raw).expect("valid")
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let r = response(&req(), status(486), Some("t9"));
        let text = r.to_string();
        assert!(text.starts_with("SIP/2.0 486 Busy Here\r\n"), "{text}");
        assert_eq!(
            r.headers
                .iter()
                .filter(|h| matches!(h, Header::Via(_)))
                .count(),
            2
        );
        assert_eq!(to_tag(&r).as_deref(), Some("t9"));
        assert_eq!(from_tag(&r).as_deref(), Some("f1"));
        assert_eq!(cseq(&r), Some((5, Method::Invite)));
        assert_eq!(call_id(&r), Some("cid"));
    }

    #[test]
    fn server_header_names_no_version_by_default() {
        // No test of this crate calls set_user_agent: the default is in force.
        let text = response(&req(), status(200), None).to_string();
        assert!(text.contains("\r\nServer: Switchboard\r\n"), "{text}");
        assert!(!text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    }

    #[test]
    fn contact_uri_reads_instance_and_outbound_contacts() {
        for (contact, uri) in [
            (
                "<sip:1004@127.0.0.1:5062;transport=udp>;+sip.instance=\"<urn:uuid:7f4c2a1e>\"",
                // rsip writes the transport in capitals.
                "sip:1004@127.0.0.1:5062;transport=UDP",
            ),
            (
                "<sip:1004@127.0.0.1:5064;ob>;reg-id=1;+sip.instance=\"<urn:uuid:1>\"",
                "sip:1004@127.0.0.1:5064;ob",
            ),
            ("\"A, B\" <sip:a@h>;expires=60", "sip:a@h"),
            ("sip:a@h:5070;expires=60", "sip:a@h:5070"),
        ] {
            let raw = format!(
                "INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContact: {contact}\r\nContent-Length: 0\r\n\r\n"
            );
            let msg = crate::parse::parse_message(raw.as_bytes()).expect("parses");
            let got = contact_uri(&msg).map(|u| u.to_string());
            assert_eq!(got.as_deref(), Some(uri), "{contact}");
        }
    }

    #[test]
    fn tokens_are_fresh_and_well_formed() {
        let a = new_branch();
        assert!(a.starts_with("z9hG4bK") && a.len() == 23);
        assert_ne!(a, new_branch());
        assert_ne!(new_tag(), new_tag());
    }

    #[test]
    fn set_body_updates_length() {
        let mut r = response(&req(), status(200), Some("t"));
        let (mut h, mut b) = (r.headers.clone(), r.body.clone());
        set_body(&mut h, &mut b, b"v=0\r\n".to_vec(), "application/sdp");
        r.headers = h;
        r.body = b;
        let text = r.to_string();
        assert!(text.contains("Content-Length: 5"), "{text}");
        assert!(has_sdp(&r, &r.body));
    }
}
