//! The little header work the transaction layer needs: reading the top Via,
//! CSeq and Call-ID without rsip's typed parsers (they allocate and run nom on
//! every call; this is the hot path), stamping `received`/`rport`, and building
//! the messages the layer sends on its own (ACK for non-2xx, CANCEL, 100 Trying).
//!
//! Everything here is total: malformed input yields `None`, never a panic.
//! Whitespace inside the Via and CSeq values is SIP's (ASCII) linear white
//! space, not Unicode's.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

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

/// Sequence number and method of the CSeq header.
pub(crate) fn cseq(headers: &Headers) -> Option<(u32, Method)> {
    parse_cseq(headers.iter().find_map(|h| match h {
        Header::CSeq(v) => Some(v.value()),
        _ => None,
    })?)
}

/// The first Via (long or compact form), Call-ID (likewise, trimmed) and CSeq
/// header values, found in one pass over the headers; the Via and CSeq are the
/// ones [`top_via`] and [`cseq`] find.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Scan<'a> {
    pub(crate) via: Option<&'a str>,
    pub(crate) call_id: Option<&'a str>,
    pub(crate) cseq: Option<&'a str>,
}

/// Reads the headers matching needs in one pass.
pub(crate) fn scan(headers: &Headers) -> Scan<'_> {
    let mut scan = Scan::default();
    for h in headers.iter() {
        match h {
            Header::Via(v) if scan.via.is_none() => scan.via = Some(v.value()),
            Header::CallId(v) if scan.call_id.is_none() => scan.call_id = Some(v.value().trim()),
            Header::CSeq(v) if scan.cseq.is_none() => scan.cseq = Some(v.value()),
            Header::Other(name, v) if name.len() == 1 => {
                if scan.via.is_none() && name.eq_ignore_ascii_case("v") {
                    scan.via = Some(v.as_str());
                } else if scan.call_id.is_none() && name.eq_ignore_ascii_case("i") {
                    scan.call_id = Some(v.trim());
                }
            }
            _ => {}
        }
        if scan.via.is_some() && scan.call_id.is_some() && scan.cseq.is_some() {
            break;
        }
    }
    scan
}

/// Sequence number and method of a CSeq header value.
pub(crate) fn parse_cseq(value: &str) -> Option<(u32, Method)> {
    let mut parts = value.split_ascii_whitespace();
    let seq = parts.next()?.parse().ok()?;
    let method = parse_method(parts.next()?)?;
    Some((seq, method))
}

/// What identifies a request for matching, read once off its headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestIds<'a> {
    /// The first element of the top Via.
    pub(crate) element: &'a str,
    /// Its parts.
    pub(crate) via: ViaParts<'a>,
    pub(crate) call_id: &'a str,
    pub(crate) cseq: u32,
}

/// The top Via, Call-ID and CSeq number of a request, or `None` if any is
/// missing or unreadable.
pub(crate) fn request_ids(headers: &Headers) -> Option<RequestIds<'_>> {
    let scan = scan(headers);
    let via = scan.via?;
    let (start, end) = first_element(via);
    let element = &via[start..end];
    let parts = parse_via(element)?;
    let call_id = scan.call_id?;
    let (cseq, _) = parse_cseq(scan.cseq?)?;
    Some(RequestIds {
        element,
        via: parts,
        call_id,
        cseq,
    })
}

/// The branch of the first element of a top Via value, if any.
pub(crate) fn via_branch(via: &str) -> Option<&str> {
    let (start, end) = first_element(via);
    parse_via(&via[start..end]).and_then(|p| p.branch)
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
    let start = head.len() - head.trim_ascii_start().len();
    let end = head.trim_ascii_end().len().max(start);
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
    let head = segments.next()?;
    let mut tokens = head.split_ascii_whitespace();
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
            Some((n, v)) => (n.trim_ascii(), Some(v.trim_ascii())),
            None => (segment.trim_ascii(), None),
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

/// Whether a request whose top Via element has `parts`, received from
/// `source`, gets `received`/`rport` stamped.
///
/// Policy: `received=` is added when the sent-by host is not the source IP (a
/// hostname never is), and always when the client sent an empty `rport` (RFC 3581
/// §4 requires it then), in which case `rport` gets the source port.
pub(crate) fn needs_stamp(parts: &ViaParts<'_>, source: SocketAddr) -> bool {
    if parts.rport_empty {
        return true;
    }
    let source_ip = source.ip().to_canonical();
    !sent_by_host(parts.sent_by)
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical() == source_ip)
}

/// Appends the stamped form of a Via element to `out` (see [`needs_stamp`]).
fn push_stamped(out: &mut String, element: &str, source: SocketAddr) {
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
    let _ = write!(out, ";received={}", source.ip().to_canonical());
}

/// The Via element with `received`/`rport` stamped for a request that came from
/// `source`, or `None` when nothing needs to change (see [`needs_stamp`]).
#[cfg(test)]
pub(crate) fn stamped_via(element: &str, source: SocketAddr) -> Option<String> {
    let parts = parse_via(element)?;
    if !needs_stamp(&parts, source) {
        return None;
    }
    let mut out = String::with_capacity(element.len() + 48);
    push_stamped(&mut out, element, source);
    Some(out)
}

/// Stamps the top Via of a request in place (see [`needs_stamp`]).
pub(crate) fn stamp_request(headers: &mut Headers, source: SocketAddr) {
    let Some(value) = top_via(headers) else {
        return;
    };
    let (start, end) = first_element(value);
    let element = &value[start..end];
    if !parse_via(element).is_some_and(|parts| needs_stamp(&parts, source)) {
        return;
    }
    let mut new_value = String::with_capacity(value.len() + 48);
    new_value.push_str(&value[..start]);
    push_stamped(&mut new_value, element, source);
    new_value.push_str(&value[end..]);
    set_top_via(headers, new_value);
}

/// Serialises a request exactly as rsip's `Display` does (start line, one
/// `name: value` line per header, blank line, body), but without a `String`
/// per header and with the body copied as is rather than through a lossy UTF-8
/// conversion. `scratch` (reused between calls) takes the start line; the
/// result is allocated once, at its exact size, since retransmission state
/// keeps it for up to 64*T1.
pub(crate) fn encode_request(request: &rsip::Request, scratch: &mut String) -> Bytes {
    scratch.clear();
    let _ = write!(
        scratch,
        "{} {} {}\r\n",
        request.method, request.uri, request.version
    );
    encode(scratch, &request.headers, &request.body)
}

/// Serialises a response like [`encode_request`].
pub(crate) fn encode_response(response: &rsip::Response, scratch: &mut String) -> Bytes {
    scratch.clear();
    let _ = write!(scratch, "{} {}\r\n", response.version, response.status_code);
    encode(scratch, &response.headers, &response.body)
}

/// Length of a header's line, CRLF included.
fn line_len(h: &Header) -> usize {
    let (name, value) = header_parts(h);
    name.len() + value.len() + 4
}

fn push_line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn encode(start_line: &str, headers: &Headers, body: &[u8]) -> Bytes {
    let len = start_line.len() + headers.iter().map(line_len).sum::<usize>() + 2 + body.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(start_line.as_bytes());
    for h in headers.iter() {
        let (name, value) = header_parts(h);
        push_line(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    debug_assert_eq!(out.len(), len);
    Bytes::from(out)
}

/// The name rsip's `Display` gives a header, and its value. rsip keeps every
/// header as its raw value, so `Display` is always `name: value`, reached
/// through three levels of `fmt` per header; this is a `match`.
pub(crate) fn header_parts(h: &Header) -> (&str, &str) {
    macro_rules! parts {
        ($($variant:ident => $name:literal,)*) => {
            match h {
                $(Header::$variant(v) => ($name, v.value()),)*
                Header::Other(name, value) => (name.as_str(), value.as_str()),
            }
        };
    }
    parts! {
        Accept => "Accept",
        AcceptEncoding => "Accept-Encoding",
        AcceptLanguage => "Accept-Language",
        AlertInfo => "Alert-Info",
        Allow => "Allow",
        AuthenticationInfo => "Authentication-Info",
        Authorization => "Authorization",
        CSeq => "CSeq",
        CallId => "Call-ID",
        CallInfo => "Call-Info",
        Contact => "Contact",
        ContentDisposition => "Content-Disposition",
        ContentEncoding => "Content-Encoding",
        ContentLanguage => "Content-Language",
        ContentLength => "Content-Length",
        ContentType => "Content-Type",
        Date => "Date",
        ErrorInfo => "Error-Info",
        Event => "Event",
        Expires => "Expires",
        From => "From",
        InReplyTo => "In-Reply-To",
        MaxForwards => "Max-Forwards",
        MimeVersion => "Mime-Version",
        MinExpires => "Min-Expires",
        Organization => "Organization",
        Priority => "Priority",
        ProxyAuthenticate => "Proxy-Authenticate",
        ProxyAuthorization => "Proxy-Authorization",
        ProxyRequire => "Proxy-Require",
        RecordRoute => "Record-Route",
        ReplyTo => "Reply-To",
        Require => "Require",
        RetryAfter => "Retry-After",
        Route => "Route",
        Server => "Server",
        Subject => "Subject",
        SubscriptionState => "Subscription-State",
        Supported => "Supported",
        Timestamp => "Timestamp",
        To => "To",
        Unsupported => "Unsupported",
        UserAgent => "User-Agent",
        Via => "Via",
        Warning => "Warning",
        WwwAuthenticate => "WWW-Authenticate",
    }
}

/// What the layer keeps from a client INVITE to build its ACK (non-2xx) and
/// CANCEL later: the INVITE as sent (shared with the transaction's
/// retransmission state) and where in it the lines the ACK and CANCEL copy are,
/// so capturing them allocates nothing and building them is concatenation.
#[derive(Debug, Clone)]
pub(crate) struct InviteHeaders {
    invite: Bytes,
    uri: Range<usize>,
    /// The first element of the top Via.
    via: Range<usize>,
    /// Lines, without their CRLF.
    from: Option<Range<usize>>,
    to: Option<Range<usize>>,
    call_id: Option<Range<usize>>,
    routes: Vec<Range<usize>>,
    cseq: u32,
}

/// The To line of an ACK or CANCEL.
enum ToLine<'a> {
    /// The INVITE's.
    Invite,
    /// A response's (with its tag).
    Header(&'a str, &'a str),
}

impl InviteHeaders {
    /// Captures the headers of the INVITE the TU is sending, `invite` being
    /// what [`encode_request`] made of it.
    pub(crate) fn new(request: &rsip::Request, invite: Bytes) -> Self {
        let headers = &request.headers;
        // encode_request wrote the start line, then one line per header, a
        // blank line and the body: walk the same lengths.
        let lines: usize = headers.iter().map(line_len).sum();
        let start_line = invite.len().saturating_sub(lines + 2 + request.body.len());
        // "METHOD uri SIP/2.0\r\n": the method has no space, the version is 7 bytes.
        let uri_start = invite[..start_line]
            .iter()
            .position(|&b| b == b' ')
            .map_or(0, |i| i + 1);
        let uri = uri_start..start_line.saturating_sub(10).max(uri_start);
        let mut parts = InviteHeaders {
            invite: Bytes::new(),
            uri,
            via: 0..0,
            from: None,
            to: None,
            call_id: None,
            routes: Vec::new(),
            cseq: cseq(headers).map(|(n, _)| n).unwrap_or(0),
        };
        let mut via_seen = false;
        let mut at = start_line;
        for h in headers.iter() {
            let (name, value) = header_parts(h);
            let line = at..at + name.len() + 2 + value.len();
            at = line.end + 2;
            let is = |typed: bool, compact: &str| typed || is_compact(h, compact);
            if !via_seen && is(matches!(h, Header::Via(_)), "v") {
                via_seen = true;
                let (start, end) = first_element(value);
                let value_start = line.end - value.len();
                parts.via = value_start + start..value_start + end;
            } else if parts.from.is_none() && is(matches!(h, Header::From(_)), "f") {
                parts.from = Some(line);
            } else if parts.to.is_none() && is(matches!(h, Header::To(_)), "t") {
                parts.to = Some(line);
            } else if parts.call_id.is_none() && is(matches!(h, Header::CallId(_)), "i") {
                parts.call_id = Some(line);
            } else if matches!(h, Header::Route(_)) {
                parts.routes.push(line);
            }
        }
        if at > invite.len() {
            // Not what encode_request makes (cannot happen): copy nothing rather
            // than slice out of bounds.
            debug_assert!(
                false,
                "InviteHeaders given bytes that do not match the request"
            );
            parts = InviteHeaders {
                uri: 0..0,
                via: 0..0,
                from: None,
                to: None,
                call_id: None,
                routes: Vec::new(),
                ..parts
            };
        }
        parts.invite = invite;
        parts
    }

    /// §17.1.1.3 / §9.1: ACK and CANCEL share everything but the method and To.
    fn build(&self, method: &str, to: ToLine<'_>) -> Bytes {
        let b = &self.invite[..];
        let mut out = Vec::with_capacity(b.len().min(1024));
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&b[self.uri.clone()]);
        out.extend_from_slice(b" SIP/2.0\r\nVia: ");
        out.extend_from_slice(&b[self.via.clone()]);
        out.extend_from_slice(b"\r\n");
        for route in &self.routes {
            out.extend_from_slice(&b[route.clone()]);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Max-Forwards: 70\r\n");
        if let Some(from) = &self.from {
            out.extend_from_slice(&b[from.clone()]);
            out.extend_from_slice(b"\r\n");
        }
        match to {
            ToLine::Header(name, value) => push_line(&mut out, name, value),
            ToLine::Invite => {
                if let Some(to) = &self.to {
                    out.extend_from_slice(&b[to.clone()]);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        if let Some(call_id) = &self.call_id {
            out.extend_from_slice(&b[call_id.clone()]);
            out.extend_from_slice(b"\r\n");
        }
        let _ = write!(
            ByteWriter(&mut out),
            "CSeq: {} {method}\r\nContent-Length: 0\r\n\r\n",
            self.cseq
        );
        Bytes::from(out)
    }

    /// The ACK for a non-2xx final response (To, with its tag, from the response).
    pub(crate) fn ack(&self, response: &rsip::Response) -> Bytes {
        let to = response
            .headers
            .iter()
            .find(|h| matches!(h, Header::To(_)) || is_compact(h, "t"))
            .map_or(ToLine::Invite, |h| {
                let (name, value) = header_parts(h);
                ToLine::Header(name, value)
            });
        self.build("ACK", to)
    }

    /// The CANCEL for this INVITE.
    pub(crate) fn cancel(&self) -> Bytes {
        self.build("CANCEL", ToLine::Invite)
    }
}

/// `fmt::Write` into bytes.
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Whether the 100 Trying copies this header (§8.2.6.1: Via, From, To,
/// Call-ID, CSeq and Timestamp).
fn copied_to_trying(h: &Header) -> bool {
    matches!(
        h,
        Header::Via(_)
            | Header::From(_)
            | Header::To(_)
            | Header::CallId(_)
            | Header::CSeq(_)
            | Header::Timestamp(_)
    ) || ["v", "f", "t", "i"].iter().any(|c| is_compact(h, c))
}

/// The 100 Trying a server INVITE transaction sends on its own (§8.2.6.1: copies
/// Via, From, To, Call-ID, CSeq and Timestamp; no To tag).
pub(crate) fn trying(request: &rsip::Request) -> Bytes {
    const START: &str = "SIP/2.0 100 Trying\r\n";
    const END: &str = "Content-Length: 0\r\n\r\n";
    let copied = || request.headers.iter().filter(|h| copied_to_trying(h));
    let len = START.len() + copied().map(line_len).sum::<usize>() + END.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(START.as_bytes());
    for h in copied() {
        let (name, value) = header_parts(h);
        push_line(&mut out, name, value);
    }
    out.extend_from_slice(END.as_bytes());
    Bytes::from(out)
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
    fn transaction_wire_header_parts_match_display() {
        macro_rules! check {
            ($($variant:ident),*) => {
                $(
                    let h = Header::$variant(rsip::headers::$variant::new("v a;l=ue, <sip:x>"));
                    let (name, value) = header_parts(&h);
                    assert_eq!(format!("{name}: {value}"), h.to_string());
                )*
            };
        }
        check!(
            Accept,
            AcceptEncoding,
            AcceptLanguage,
            AlertInfo,
            Allow,
            AuthenticationInfo,
            Authorization,
            CSeq,
            CallId,
            CallInfo,
            Contact,
            ContentDisposition,
            ContentEncoding,
            ContentLanguage,
            ContentLength,
            ContentType,
            Date,
            ErrorInfo,
            Event,
            Expires,
            From,
            InReplyTo,
            MaxForwards,
            MimeVersion,
            MinExpires,
            Organization,
            Priority,
            ProxyAuthenticate,
            ProxyAuthorization,
            ProxyRequire,
            RecordRoute,
            ReplyTo,
            Require,
            RetryAfter,
            Route,
            Server,
            Subject,
            SubscriptionState,
            Supported,
            Timestamp,
            To,
            Unsupported,
            UserAgent,
            Via,
            Warning,
            WwwAuthenticate
        );
        let h = Header::Other("X-Foo".into(), "bar".into());
        let (name, value) = header_parts(&h);
        assert_eq!(format!("{name}: {value}"), h.to_string());
    }

    #[test]
    fn transaction_wire_encode_matches_rsip() {
        let text = "INVITE sip:bob@example.com SIP/2.0\r\n\
                    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n\
                    v: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2\r\n\
                    Max-Forwards: 70\r\n\
                    From: <sip:alice@example.com>;tag=1\r\n\
                    To: <sip:bob@example.com>\r\n\
                    Call-ID: abc@10.0.0.1\r\n\
                    CSeq: 1 INVITE\r\n\
                    X-Custom: héllo\r\n\
                    Content-Type: application/sdp\r\n\
                    Content-Length: 5\r\n\r\nv=0\r\n";
        let request = rsip::Request::try_from(text).unwrap();
        let mut scratch = String::new();
        assert_eq!(
            encode_request(&request, &mut scratch),
            request.to_string().as_bytes()
        );
        let response = rsip::Response::try_from(
            "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            encode_response(&response, &mut scratch),
            response.to_string().as_bytes()
        );
        // Unlike rsip's Display, a body that is not UTF-8 goes out as it is.
        let mut binary = response.clone();
        binary.body = vec![0xff, 0x00, 0xfe];
        assert!(encode_response(&binary, &mut scratch).ends_with(&[0xff, 0x00, 0xfe]));
    }

    /// The ACK and CANCEL as this layer built them from `String`s before
    /// they became ranges of the INVITE.
    fn reference_ack_or_cancel(
        request: &rsip::Request,
        method: &str,
        response: Option<&rsip::Response>,
    ) -> String {
        let headers = &request.headers;
        let line = |pred: &dyn Fn(&Header) -> bool| {
            headers.iter().find(|h| pred(h)).map(|h| h.to_string())
        };
        let via = top_via(headers)
            .map(|v| {
                let (start, end) = first_element(v);
                v[start..end].to_owned()
            })
            .unwrap_or_default();
        let mut to = line(&|h| matches!(h, Header::To(_)) || is_compact(h, "t"));
        if let Some(r) = response {
            let theirs = r
                .headers
                .iter()
                .find(|h| matches!(h, Header::To(_)) || is_compact(h, "t"))
                .map(|h| h.to_string());
            to = theirs.or(to);
        }
        let mut s = format!("{method} {} SIP/2.0\r\nVia: {via}\r\n", request.uri);
        for route in headers.iter().filter(|h| matches!(h, Header::Route(_))) {
            s.push_str(&format!("{route}\r\n"));
        }
        s.push_str("Max-Forwards: 70\r\n");
        for l in [
            line(&|h| matches!(h, Header::From(_)) || is_compact(h, "f")),
            to,
            line(&|h| matches!(h, Header::CallId(_)) || is_compact(h, "i")),
        ]
        .into_iter()
        .flatten()
        {
            s.push_str(&l);
            s.push_str("\r\n");
        }
        let cseq = cseq(headers).map(|(n, _)| n).unwrap_or(0);
        s + &format!("CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")
    }

    #[test]
    fn transaction_wire_ack_and_cancel_copy_the_invite() {
        let invites = [
            "INVITE sip:bob@example.com;transport=udp SIP/2.0\r\n\
             v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1 , SIP/2.0/UDP 10.0.0.9\r\n\
             Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n\
             Route: <sip:p1.example.com;lr>\r\n\
             Record-Route: <sip:rr.example.com;lr>\r\n\
             Route: <sip:p2.example.com;lr>\r\n\
             f: <sip:alice@example.com>;tag=1\r\n\
             t: <sip:bob@example.com>\r\n\
             i: abc@10.0.0.1\r\n\
             CSeq: 42 INVITE\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: 9\r\n\r\nv=0\r\né\r\n",
            "INVITE sip:bob@example.com SIP/2.0\r\n\
             Max-Forwards: 70\r\n\
             Via: SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK3\r\n\
             From: Alice <sip:alice@example.com>;tag=a\r\n\
             To: \"Bob, B.\" <sip:bob@example.com>\r\n\
             Call-ID: x@y\r\n\
             CSeq: 7 INVITE\r\n\
             Content-Length: 0\r\n\r\n",
            "INVITE sip:nobody@example.com SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n",
        ];
        let with_tag = rsip::Response::try_from(
            "SIP/2.0 486 Busy Here\r\nTo: <sip:bob@example.com>;tag=zz\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .unwrap();
        let without_to =
            rsip::Response::try_from("SIP/2.0 500 Oops\r\nCSeq: 1 INVITE\r\n\r\n").unwrap();
        let mut scratch = String::new();
        for text in invites {
            let request = rsip::Request::try_from(text).unwrap();
            let parts = InviteHeaders::new(&request, encode_request(&request, &mut scratch));
            let text = |b: Bytes| String::from_utf8(b.to_vec()).unwrap();
            assert_eq!(
                text(parts.cancel()),
                reference_ack_or_cancel(&request, "CANCEL", None)
            );
            for response in [&with_tag, &without_to] {
                assert_eq!(
                    text(parts.ack(response)),
                    reference_ack_or_cancel(&request, "ACK", Some(response))
                );
            }
        }
    }

    #[test]
    fn transaction_wire_cseq_and_method() {
        assert_eq!(parse_method("prack"), Some(Method::PRack));
        assert_eq!(parse_method("FOO"), None);
    }
}
