//! The little header work the transaction layer needs: reading the top Via,
//! CSeq and Call-ID without rsip's typed parsers (they allocate and run nom on
//! every call; this is the hot path), stamping `received`/`rport`, and building
//! the messages the layer sends on its own (ACK for non-2xx, CANCEL, 100 Trying).
//!
//! Everything here is total: malformed input yields `None`, never a panic.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use rsip::headers::UntypedHeader;
use rsip::{Header, Headers, Method};

/// RFC 3261 branches start with this; anything else is an RFC 2543 client.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

/// Whether `h` is the header `long`, or its compact form `compact` (rsip keeps
/// compact names as `Header::Other`).
fn is_compact(h: &Header, compact: &str) -> bool {
    matches!(h, Header::Other(name, _) if name.eq_ignore_ascii_case(compact))
}

/// Value of the first Via header (which may hold several comma-separated vias).
pub(crate) fn top_via(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(v.value()),
        Header::Other(name, v) if name.eq_ignore_ascii_case("v") => Some(v.as_str()),
        _ => None,
    })
}

/// Replaces the value of the first Via header.
fn set_top_via(headers: &mut Headers, value: String) {
    for h in headers.iter_mut() {
        match h {
            Header::Via(v) => {
                v.replace(value);
                return;
            }
            Header::Other(name, v) if name.eq_ignore_ascii_case("v") => {
                *v = value;
                return;
            }
            _ => {}
        }
    }
}

/// Value of the Call-ID header.
pub(crate) fn call_id(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::CallId(v) => Some(v.value().trim()),
        Header::Other(name, v) if name.eq_ignore_ascii_case("i") => Some(v.trim()),
        _ => None,
    })
}

/// Sequence number and method of the CSeq header.
pub(crate) fn cseq(headers: &Headers) -> Option<(u32, Method)> {
    let value = headers.iter().find_map(|h| match h {
        Header::CSeq(v) => Some(v.value()),
        _ => None,
    })?;
    let mut parts = value.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    let method = parse_method(parts.next()?)?;
    Some((seq, method))
}

/// rsip's `Method::from_str` runs a nom tokenizer; this is a plain table lookup.
pub(crate) fn parse_method(s: &str) -> Option<Method> {
    const TABLE: [(&str, Method); 14] = [
        ("INVITE", Method::Invite),
        ("ACK", Method::Ack),
        ("BYE", Method::Bye),
        ("CANCEL", Method::Cancel),
        ("REGISTER", Method::Register),
        ("OPTIONS", Method::Options),
        ("INFO", Method::Info),
        ("UPDATE", Method::Update),
        ("PRACK", Method::PRack),
        ("NOTIFY", Method::Notify),
        ("SUBSCRIBE", Method::Subscribe),
        ("REFER", Method::Refer),
        ("MESSAGE", Method::Message),
        ("PUBLISH", Method::Publish),
    ];
    TABLE
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, m)| *m)
}

/// Byte range of the first comma-separated element of a Via value, trimmed.
pub(crate) fn first_element(value: &str) -> (usize, usize) {
    let mut in_quotes = false;
    let mut end = value.len();
    for (i, b) in value.bytes().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let head = &value[..end];
    let start = head.len() - head.trim_start().len();
    let end = head.trim_end().len().max(start);
    (start, end)
}

/// The parts of one Via element the layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViaParts<'a> {
    /// `host[:port]` as written.
    pub(crate) sent_by: &'a str,
    /// The branch parameter, if present and non-empty.
    pub(crate) branch: Option<&'a str>,
    /// RFC 3581: the client asked for `rport` to be filled in.
    pub(crate) rport_empty: bool,
}

/// Splits `SIP/2.0/UDP host:port;branch=...;rport` into its parts.
pub(crate) fn parse_via(element: &str) -> Option<ViaParts<'_>> {
    let mut segments = element.split(';');
    let head = segments.next()?.trim();
    let mut tokens = head.split_whitespace();
    let protocol = tokens.next()?;
    if !protocol.get(..3)?.eq_ignore_ascii_case("SIP") {
        return None;
    }
    let sent_by = tokens.last()?;
    if sent_by.contains('/') {
        return None;
    }
    let mut branch = None;
    let mut rport_empty = false;
    for segment in segments {
        let (name, value) = match segment.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (segment.trim(), None),
        };
        if name.eq_ignore_ascii_case("branch") {
            branch = value.filter(|v| !v.is_empty());
        } else if name.eq_ignore_ascii_case("rport") && value.is_none_or(str::is_empty) {
            rport_empty = true;
        }
    }
    Some(ViaParts {
        sent_by,
        branch,
        rport_empty,
    })
}

/// The host part of a sent-by, without IPv6 brackets.
fn sent_by_host(sent_by: &str) -> &str {
    if let Some(rest) = sent_by.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        sent_by.split(':').next().unwrap_or(sent_by)
    }
}

/// The Via element with `received`/`rport` stamped for a request that came from
/// `source`, or `None` when nothing needs to change.
///
/// Policy: `received=` is added when the sent-by host is not the source IP (a
/// hostname never is), and always when the client sent an empty `rport` (RFC 3581
/// §4 requires it then), in which case `rport` gets the source port.
pub(crate) fn stamped_via(element: &str, source: SocketAddr) -> Option<String> {
    let parts = parse_via(element)?;
    let source_ip = source.ip().to_canonical();
    let same_ip = sent_by_host(parts.sent_by)
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical() == source_ip);
    if same_ip && !parts.rport_empty {
        return None;
    }
    let mut out = String::with_capacity(element.len() + 48);
    let mut segments = element.split(';');
    out.push_str(segments.next().unwrap_or_default().trim_end());
    for segment in segments {
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        let (name, value) = match segment.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (segment, ""),
        };
        if name.eq_ignore_ascii_case("received") {
            // Replaced below with what we actually saw.
            continue;
        }
        if name.eq_ignore_ascii_case("rport") && value.is_empty() {
            let _ = write!(out, ";rport={}", source.port());
            continue;
        }
        out.push(';');
        out.push_str(segment);
    }
    let _ = write!(out, ";received={source_ip}");
    Some(out)
}

/// Stamps the top Via of a request in place (see [`stamped_via`]).
pub(crate) fn stamp_request(headers: &mut Headers, source: SocketAddr) {
    let Some(value) = top_via(headers) else {
        return;
    };
    let (start, end) = first_element(value);
    let Some(element) = stamped_via(&value[start..end], source) else {
        return;
    };
    let mut new_value = String::with_capacity(value.len() + 48);
    new_value.push_str(&value[..start]);
    new_value.push_str(&element);
    new_value.push_str(&value[end..]);
    set_top_via(headers, new_value);
}

/// What the layer keeps from a client INVITE to build its ACK (non-2xx) and
/// CANCEL later, pre-rendered as header lines so building them is concatenation.
#[derive(Debug, Clone)]
pub(crate) struct InviteHeaders {
    uri: String,
    via: String,
    from: Option<String>,
    to: Option<String>,
    call_id: Option<String>,
    cseq: u32,
    routes: Vec<String>,
}

impl InviteHeaders {
    /// Captures the headers of the INVITE the TU is sending.
    pub(crate) fn from_request(request: &rsip::Request) -> Self {
        let headers = &request.headers;
        let via = top_via(headers)
            .map(|v| {
                let (start, end) = first_element(v);
                v[start..end].to_owned()
            })
            .unwrap_or_default();
        let line = |pred: &dyn Fn(&Header) -> bool| {
            headers.iter().find(|h| pred(h)).map(|h| h.to_string())
        };
        InviteHeaders {
            uri: request.uri.to_string(),
            via,
            from: line(&|h| matches!(h, Header::From(_)) || is_compact(h, "f")),
            to: line(&|h| matches!(h, Header::To(_)) || is_compact(h, "t")),
            call_id: line(&|h| matches!(h, Header::CallId(_)) || is_compact(h, "i")),
            cseq: cseq(headers).map(|(n, _)| n).unwrap_or(0),
            routes: headers
                .iter()
                .filter(|h| matches!(h, Header::Route(_)))
                .map(|h| h.to_string())
                .collect(),
        }
    }

    /// §17.1.1.3 / §9.1: ACK and CANCEL share everything but the method and To.
    fn build(&self, method: &str, to: Option<&str>) -> Bytes {
        let mut s = String::with_capacity(512);
        let _ = write!(s, "{method} {} SIP/2.0\r\n", self.uri);
        let _ = write!(s, "Via: {}\r\n", self.via);
        for route in &self.routes {
            s.push_str(route);
            s.push_str("\r\n");
        }
        s.push_str("Max-Forwards: 70\r\n");
        for line in [self.from.as_deref(), to, self.call_id.as_deref()]
            .into_iter()
            .flatten()
        {
            s.push_str(line);
            s.push_str("\r\n");
        }
        let _ = write!(
            s,
            "CSeq: {} {method}\r\nContent-Length: 0\r\n\r\n",
            self.cseq
        );
        Bytes::from(s)
    }

    /// The ACK for a non-2xx final response (To, with its tag, from the response).
    pub(crate) fn ack(&self, response: &rsip::Response) -> Bytes {
        let to = response
            .headers
            .iter()
            .find(|h| matches!(h, Header::To(_)) || is_compact(h, "t"))
            .map(|h| h.to_string());
        self.build("ACK", to.as_deref().or(self.to.as_deref()))
    }

    /// The CANCEL for this INVITE.
    pub(crate) fn cancel(&self) -> Bytes {
        self.build("CANCEL", self.to.as_deref())
    }
}

/// The 100 Trying a server INVITE transaction sends on its own (§8.2.6.1: copies
/// Via, From, To, Call-ID, CSeq and Timestamp; no To tag).
pub(crate) fn trying(request: &rsip::Request) -> Bytes {
    let mut s = String::with_capacity(512);
    s.push_str("SIP/2.0 100 Trying\r\n");
    for h in request.headers.iter() {
        let copy = matches!(
            h,
            Header::Via(_)
                | Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::CSeq(_)
                | Header::Timestamp(_)
        ) || ["v", "f", "t", "i"].iter().any(|c| is_compact(h, c));
        if copy {
            let _ = write!(s, "{h}\r\n");
        }
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    Bytes::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_wire_parse_via() {
        let v = parse_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!(v.sent_by, "10.0.0.1:5060");
        assert_eq!(v.branch, Some("z9hG4bKabc"));
        assert!(v.rport_empty);
        let v =
            parse_via("SIP / 2.0 / TCP [2001:db8::1]:5070 ; BRANCH = z9hG4bKx ; rport=1").unwrap();
        assert_eq!(v.sent_by, "[2001:db8::1]:5070");
        assert_eq!(v.branch, Some("z9hG4bKx"));
        assert!(!v.rport_empty);
        assert!(parse_via("").is_none());
        assert!(parse_via("SIP/2.0/UDP").is_none());
        assert!(parse_via("garbage here").is_none());
        assert!(parse_via("é").is_none());
    }

    #[test]
    fn transaction_wire_first_element() {
        let v = " SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/UDP b";
        let (s, e) = first_element(v);
        assert_eq!(&v[s..e], "SIP/2.0/UDP a;branch=z9hG4bK1");
        let (s, e) = first_element("");
        assert_eq!((s, e), (0, 0));
    }

    #[test]
    fn transaction_wire_stamp() {
        let src: SocketAddr = "192.0.2.1:9988".parse().unwrap();
        assert_eq!(
            stamped_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", src),
            None
        );
        assert_eq!(
            stamped_via("SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK1", src).as_deref(),
            Some("SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bK1;received=192.0.2.1")
        );
        assert_eq!(
            stamped_via("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1", src).as_deref(),
            Some("SIP/2.0/UDP 192.0.2.1:5060;rport=9988;branch=z9hG4bK1;received=192.0.2.1")
        );
        assert_eq!(
            stamped_via("SIP/2.0/UDP phone.example.com;branch=z9hG4bK1", src).as_deref(),
            Some("SIP/2.0/UDP phone.example.com;branch=z9hG4bK1;received=192.0.2.1")
        );
        let v6: SocketAddr = "[2001:db8::9]:5062".parse().unwrap();
        assert_eq!(
            stamped_via("SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bK1", v6),
            None
        );
    }

    #[test]
    fn transaction_wire_cseq_and_method() {
        assert_eq!(parse_method("prack"), Some(Method::PRack));
        assert_eq!(parse_method("FOO"), None);
    }
}
