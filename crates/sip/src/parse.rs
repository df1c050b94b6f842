//! Turning bytes off the wire into `rsip` messages without ever panicking, and
//! answering what cannot be parsed.
//!
//! rsip does not know compact header names (`v:`, `i:`…) or folded header lines, so
//! those are normalised first. When parsing fails, enough of the message is
//! scraped line by line to send a 400 (or 501 for an unknown method) whose reason
//! phrase says what was wrong — a phone's log then tells its admin why.

use bytes::Bytes;
use std::borrow::Cow;

/// Largest SIP message accepted (a UDP datagram or one framed TCP message).
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Why a message was not accepted, and the reply to send back if one is possible.
#[derive(Debug)]
pub struct ParseFailure {
    /// Human-readable reason, also used as the reason phrase of the reply.
    pub reason: String,
    /// A serialised 400/501 response, when the request was readable enough to answer.
    pub reply: Option<Bytes>,
}

/// The methods we recognise; anything else that looks like a request gets 501.
const KNOWN_METHODS: &[&str] = &[
    "ACK",
    "BYE",
    "CANCEL",
    "INFO",
    "INVITE",
    "MESSAGE",
    "NOTIFY",
    "OPTIONS",
    "PRACK",
    "PUBLISH",
    "REFER",
    "REGISTER",
    "SUBSCRIBE",
    "UPDATE",
];

/// Headers every request must carry (RFC 3261 §8.1.1) before the stack will touch it.
const MANDATORY: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq"];

/// Parse one complete SIP message (a datagram, or a TCP-framed message).
pub fn parse_message(data: &[u8]) -> Result<rsip::SipMessage, ParseFailure> {
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(ParseFailure {
            reason: format!("message too large ({} bytes)", data.len()),
            reply: None,
        });
    }
    let normalised = normalise(data);
    let is_request = !normalised.starts_with(b"SIP/");
    if is_request {
        if let Some(method) = request_method(&normalised) {
            if !KNOWN_METHODS.contains(&method) {
                let reply = scrape_reply(&normalised, 501, "Not Implemented");
                return Err(ParseFailure {
                    reason: format!("unknown method {method}"),
                    reply,
                });
            }
        }
    }
    // rsip is a nom parser; a panic there must not take the receive loop down.
    let parsed = match crate::fastparse::parse(normalised.as_ref()) {
        Some(msg) => Ok(Ok(msg)),
        None => std::panic::catch_unwind(|| rsip::SipMessage::try_from(normalised.as_ref())),
    };
    let result = match parsed {
        Ok(Ok(msg)) => validate(msg),
        Ok(Err(e)) => Err(format!("Malformed message: {}", first_line(&e.to_string()))),
        Err(_) => Err("Malformed message".to_string()),
    };
    result.map_err(|reason| {
        // rsip reports the first thing it tripped on; a missing mandatory header
        // is the more useful answer when that is the cause.
        let reason = match (is_request, missing_mandatory(&normalised)) {
            (true, Some(missing)) => format!("Missing {missing} header"),
            _ => reason,
        };
        let reply = if is_request {
            scrape_reply(&normalised, 400, &reason)
        } else {
            None
        };
        ParseFailure { reason, reply }
    })
}

/// Checks rsip leaves to us: typed forms of the headers the stack relies on.
fn validate(msg: rsip::SipMessage) -> Result<rsip::SipMessage, String> {
    use rsip::prelude::*;
    let cseq = msg
        .cseq_header()
        .map_err(|_| "Missing CSeq header".to_string())?;
    let (seq, method) = match (cseq.seq(), cseq.method()) {
        (Ok(s), Ok(m)) => (s, m),
        _ => return Err("Malformed CSeq header".into()),
    };
    let via = msg
        .via_header()
        .map_err(|_| "Missing Via header".to_string())?;
    if via.typed().is_err() {
        return Err("Malformed Via header".into());
    }
    msg.call_id_header()
        .map_err(|_| "Missing Call-ID header".to_string())?;
    let from = msg
        .from_header()
        .map_err(|_| "Missing From header".to_string())?;
    // Responses are matched by Via and CSeq; only requests need well-formed
    // From/To URIs (and a 400 saying so), so responses skip the URI parse. So
    // does REGISTER, the bulk of a registrar's traffic: the registrar parses its
    // To itself (answering 400) and never uses From.
    let check_uris =
        matches!(&msg, rsip::SipMessage::Request(r) if r.method != rsip::Method::Register);
    if check_uris && from.uri().is_err() {
        return Err("Malformed From header".into());
    }
    let to = msg
        .to_header()
        .map_err(|_| "Missing To header".to_string())?;
    if check_uris && to.uri().is_err() {
        return Err("Malformed To header".into());
    }
    if let rsip::SipMessage::Request(req) = &msg {
        if req.method != method {
            return Err("CSeq method does not match the request method".into());
        }
        if seq > 0x7fff_ffff {
            return Err("CSeq number out of range".into());
        }
    }
    Ok(msg)
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or("");
    // Reason phrases must stay short and single-line.
    match line.char_indices().nth(80) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

fn request_method(data: &[u8]) -> Option<&str> {
    let line_end = data.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let line = std::str::from_utf8(&data[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let _uri = parts.next()?;
    let version = parts.next()?;
    if version.starts_with("SIP/") && !method.is_empty() {
        Some(method)
    } else {
        None
    }
}

/// Expand compact header names and unfold continuation lines, copying only when needed.
fn normalise(data: &[u8]) -> Cow<'_, [u8]> {
    let head_end = find_head_end(data).unwrap_or(data.len());
    let head = &data[..head_end];
    let needs_work = head.split(|&b| b == b'\n').skip(1).any(|line| {
        matches!(line.first(), Some(b' ') | Some(b'\t'))
            || compact_name(line).is_some()
            || line_has_bare_name_space(line)
    });
    if !needs_work {
        return Cow::Borrowed(data);
    }
    let mut out: Vec<u8> = Vec::with_capacity(data.len() + 64);
    for (i, raw) in head.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if i > 0 && matches!(line.first(), Some(b' ') | Some(b'\t')) {
            // Folded line: join to the previous header with one space.
            while out.ends_with(b"\r\n") {
                out.truncate(out.len() - 2);
            }
            out.push(b' ');
            out.extend_from_slice(trim_start(line));
            out.extend_from_slice(b"\r\n");
            continue;
        }
        if i > 0 {
            if let Some((full, rest)) = compact_name(line) {
                out.extend_from_slice(full.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(trim_start(rest));
                out.extend_from_slice(b"\r\n");
                continue;
            }
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let name = trim_end(&line[..colon]);
                out.extend_from_slice(name);
                out.extend_from_slice(b": ");
                out.extend_from_slice(trim_start(&line[colon + 1..]));
                out.extend_from_slice(b"\r\n");
                continue;
            }
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    // `head` ends just before the blank line; keep the body exactly as it was.
    let rest = &data[head_end..];
    let rest = rest
        .strip_prefix(b"\r\n\r\n")
        .or_else(|| rest.strip_prefix(b"\n\n"))
        .or_else(|| rest.strip_prefix(b"\r\n"))
        .or_else(|| rest.strip_prefix(b"\n"))
        .unwrap_or(rest);
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

fn line_has_bare_name_space(line: &[u8]) -> bool {
    // "Via :" (space before the colon) is legal SIP but rsip rejects it.
    match line.iter().position(|&b| b == b':') {
        Some(c) if c > 0 => matches!(line[c - 1], b' ' | b'\t'),
        _ => false,
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &s[..s.len() - n]
}

/// `Some((full name, value part))` if the line uses a compact header name (RFC 3261 §7.3.3).
fn compact_name(line: &[u8]) -> Option<(&'static str, &[u8])> {
    let first = *line.first()?;
    let rest = &line[1..];
    let rest_trim = trim_start(rest);
    let value = rest_trim.strip_prefix(b":")?;
    let full = match first.to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'e' => "Content-Encoding",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'f' => "From",
        b's' => "Subject",
        b'k' => "Supported",
        b't' => "To",
        b'v' => "Via",
        b'o' => "Event",
        b'r' => "Refer-To",
        _ => return None,
    };
    Some((full, value))
}

/// Offset of the blank line ending the header block (`\r\n\r\n` or `\n\n`).
pub fn find_head_end(data: &[u8]) -> Option<usize> {
    // SIMD search: this runs on every message, often twice.
    let crlf = memchr::memmem::find(data, b"\r\n\r\n");
    // A bare "\n\n" can only come before the CRLF one if it starts earlier.
    let lf_scope = crlf
        .map(|c| &data[..(c + 2).min(data.len())])
        .unwrap_or(data);
    let lf = memchr::memmem::find(lf_scope, b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Header lines as (name, value) pairs, read leniently for error replies.
fn header_lines(data: &[u8]) -> Vec<(String, String)> {
    let head_end = find_head_end(data).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..head_end]);
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn missing_mandatory(data: &[u8]) -> Option<&'static str> {
    let lines = header_lines(data);
    MANDATORY
        .iter()
        .find(|name| !lines.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .copied()
}

/// Build a stateless reply from scraped headers. Without a Via there is nowhere
/// to answer to, so no reply.
/// A 400 with `reason` for a request that is readable enough to answer
/// (its Via, From, To, Call-ID and CSeq can be scraped); None for a
/// response or bytes that are no SIP at all.
pub(crate) fn bad_request(data: &[u8], reason: &str) -> Option<Bytes> {
    let normalised = normalise(data);
    if normalised.starts_with(b"SIP/") {
        return None;
    }
    scrape_reply(&normalised, 400, reason)
}

fn scrape_reply(data: &[u8], code: u16, reason: &str) -> Option<Bytes> {
    let lines = header_lines(data);
    let vias: Vec<&String> = lines
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Via"))
        .map(|(_, v)| v)
        .collect();
    if vias.is_empty() {
        return None;
    }
    let mut out = format!("SIP/2.0 {code} {}\r\n", sanitize_reason(reason));
    for v in vias {
        out.push_str("Via: ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if let Some((_, v)) = lines.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
    }
    if code == 501 || code == 405 {
        out.push_str("Allow: ");
        out.push_str(crate::message::ALLOW);
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

/// Reason phrases are single-line, printable text.
pub fn sanitize_reason(reason: &str) -> String {
    reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsip::prelude::*;

    const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\nFrom: <sip:1000@example.com>;tag=a\r\nTo: <sip:1000@example.com>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1000@10.0.0.1:5060>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn parses_and_round_trips_a_register() {
        let msg = parse_message(REGISTER.as_bytes()).expect("valid");
        let text = msg.to_string();
        let again = parse_message(text.as_bytes()).expect("round trip");
        assert_eq!(msg, again);
        assert_eq!(
            msg.call_id_header().map(|h| h.to_string()).ok(),
            Some("Call-ID: c1".into())
        );
    }

    #[test]
    fn compact_and_folded_headers_are_normalised() {
        let raw = "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nCSeq: 7\r\n OPTIONS\r\nl: 0\r\n\r\n";
        let msg = parse_message(raw.as_bytes()).expect("normalised");
        let cseq = msg.cseq_header().expect("cseq");
        assert_eq!(cseq.seq().ok(), Some(7));
        assert_eq!(
            msg.call_id_header().map(|c| c.value().to_string()).ok(),
            Some("abc".into())
        );
    }

    #[test]
    fn body_survives_normalisation() {
        let raw = "INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nCSeq: 1 INVITE\r\nc: application/sdp\r\nl: 4\r\n\r\nv=0\n";
        let msg = parse_message(raw.as_bytes()).expect("ok");
        assert_eq!(msg.body(), b"v=0\n");
    }

    #[test]
    fn missing_call_id_gets_400_with_reason() {
        let raw = REGISTER.replace("Call-ID: c1\r\n", "");
        let err = parse_message(raw.as_bytes()).expect_err("must fail");
        assert_eq!(err.reason, "Missing Call-ID header");
        let reply = String::from_utf8(err.reply.expect("reply").to_vec()).expect("utf8");
        assert!(
            reply.starts_with("SIP/2.0 400 Missing Call-ID header\r\n"),
            "{reply}"
        );
        assert!(reply.contains("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"));
    }

    #[test]
    fn unknown_method_gets_501() {
        let raw = REGISTER
            .replace("REGISTER sip", "FOO sip")
            .replace("1 REGISTER", "1 FOO");
        let err = parse_message(raw.as_bytes()).expect_err("must fail");
        let reply = String::from_utf8(err.reply.expect("reply").to_vec()).expect("utf8");
        assert!(
            reply.starts_with("SIP/2.0 501 Not Implemented\r\n"),
            "{reply}"
        );
        assert!(reply.contains("Allow: "));
    }

    #[test]
    fn mismatched_cseq_method_is_refused() {
        let raw = REGISTER.replace("1 REGISTER", "1 INVITE");
        let err = parse_message(raw.as_bytes()).expect_err("must fail");
        assert!(err.reason.contains("CSeq"), "{}", err.reason);
        assert!(err.reply.is_some());
    }

    #[test]
    fn oversized_message_is_refused_without_reply() {
        let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        let err = parse_message(&big).expect_err("too big");
        assert!(err.reply.is_none());
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(7);
        let base = REGISTER.as_bytes();
        for i in 0..3000 {
            let mut data = base.to_vec();
            // Mutate a few bytes, truncate sometimes: near-valid input finds parser edges.
            for _ in 0..(i % 8) + 1 {
                let at = rng.usize(..data.len());
                data[at] = rng.u8(..);
            }
            if i % 5 == 0 {
                let cut = rng.usize(..data.len());
                data.truncate(cut);
            }
            let _ = parse_message(&data);
        }
        for _ in 0..1000 {
            let len = rng.usize(..400);
            let data: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let _ = parse_message(&data);
        }
    }
}
