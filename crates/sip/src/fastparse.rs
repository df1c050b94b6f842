//! A fast path in front of rsip's parser for well-formed messages.
//!
//! rsip tokenises a whole message with nom and maps each header name through a
//! chain of 45 case-insensitive comparisons; under load (15,000 REGISTERs/s) that
//! was the largest user-space cost per message. This splits lines directly and
//! builds exactly the values rsip would (`Header::X(X::new(value))`), so the rest
//! of the stack cannot tell the difference — a test checks that against rsip on a
//! corpus. Anything unusual returns `None` and goes to rsip's parser, which then
//! decides and reports errors as before.

use rsip::headers::{self as h, Header, UntypedHeader};
use rsip::{Request, Response, SipMessage, StatusCode, Version};
use std::str::FromStr;

/// Parse a message that `parse::normalise` already put in canonical form.
pub(crate) fn parse(data: &[u8]) -> Option<SipMessage> {
    let head_end = find(data, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&data[..head_end]).ok()?;
    let body = data[head_end + 4..].to_vec();
    let (first, rest) = head.split_once("\r\n").unwrap_or((head, ""));
    let mut headers = Vec::with_capacity(16);
    if !rest.is_empty() {
        for line in rest.split("\r\n") {
            headers.push(header(line)?);
        }
    }
    let headers = rsip::Headers::from(headers);
    if let Some(status_line) = first.strip_prefix("SIP/2.0 ") {
        let (code, reason) = status_line.split_once(' ').unwrap_or((status_line, ""));
        if code.len() != 3 {
            return None;
        }
        let code: u16 = code.parse().ok()?;
        // rsip keeps the reason phrase only for codes it does not know.
        let status_code = match StatusCode::from(code) {
            StatusCode::Other(c, _) => StatusCode::Other(c, reason.to_string()),
            known => known,
        };
        return Some(SipMessage::Response(Response {
            status_code,
            version: Version::V2,
            headers,
            body,
        }));
    }
    let mut parts = first.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "SIP/2.0" {
        return None;
    }
    Some(SipMessage::Request(Request {
        method: rsip::Method::from_str(method).ok()?,
        uri: rsip::Uri::try_from(uri).ok()?,
        version: Version::V2,
        headers,
        body,
    }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// RFC 3261 token characters (what rsip accepts in a header name).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// One header line, mapped the way rsip maps it.
fn header(line: &str) -> Option<Header> {
    let (name, value) = line.split_once(':')?;
    if name.is_empty() || !name.bytes().all(is_token) {
        return None;
    }
    // rsip skips spaces and tabs after the colon and keeps the rest verbatim.
    let value = value.trim_start_matches([' ', '\t']);
    Some(named(name, value.to_string()))
}

macro_rules! by_name {
    ($name:expr, $value:expr, $( $text:literal => $variant:ident ),* $(,)?) => {{
        let name: &str = $name;
        $( if name.eq_ignore_ascii_case($text) {
            return Header::$variant(h::$variant::new($value));
        } )*
        Header::Other(name.to_string(), $value)
    }};
}

/// The rsip header for a name: the most frequent names are tried first, and the
/// list is rsip's own (headers/header.rs), so the mapping is identical.
fn named(name: &str, value: String) -> Header {
    by_name!(name, value,
        "Via" => Via,
        "From" => From,
        "To" => To,
        "Call-ID" => CallId,
        "CSeq" => CSeq,
        "Contact" => Contact,
        "Max-Forwards" => MaxForwards,
        "Content-Length" => ContentLength,
        "Content-Type" => ContentType,
        "Expires" => Expires,
        "User-Agent" => UserAgent,
        "Authorization" => Authorization,
        "Proxy-Authorization" => ProxyAuthorization,
        "WWW-Authenticate" => WwwAuthenticate,
        "Proxy-Authenticate" => ProxyAuthenticate,
        "Allow" => Allow,
        "Supported" => Supported,
        "Route" => Route,
        "Record-Route" => RecordRoute,
        "Server" => Server,
        "Accept" => Accept,
        "Accept-Encoding" => AcceptEncoding,
        "Accept-Language" => AcceptLanguage,
        "Alert-Info" => AlertInfo,
        "Authentication-Info" => AuthenticationInfo,
        "Call-Info" => CallInfo,
        "Content-Disposition" => ContentDisposition,
        "Content-Encoding" => ContentEncoding,
        "Content-Language" => ContentLanguage,
        "Date" => Date,
        "Error-Info" => ErrorInfo,
        "Event" => Event,
        "In-Reply-To" => InReplyTo,
        "Mime-Version" => MimeVersion,
        "Min-Expires" => MinExpires,
        "Organization" => Organization,
        "Priority" => Priority,
        "Proxy-Require" => ProxyRequire,
        "Reply-To" => ReplyTo,
        "Require" => Require,
        "Retry-After" => RetryAfter,
        "Subject" => Subject,
        "Timestamp" => Timestamp,
        "Unsupported" => Unsupported,
        "Warning" => Warning,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        let reg = "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7061;branch=z9hG4bK-1-2;rport\r\nFrom: <sip:1000@127.0.0.1>;tag=abc\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: 1-2@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContact: <sip:1000@127.0.0.1:7061;transport=UDP>\r\nAuthorization: Digest username=\"1000\",realm=\"switchboard\",nonce=\"00aa\",uri=\"sip:127.0.0.1\",response=\"ff\",algorithm=MD5,qop=auth,nc=00000001,cnonce=\"x\"\r\nExpires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: SIPp\r\nContent-Length: 0\r\n\r\n";
        let invite = "INVITE sip:1001@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7063;branch=z9hG4bK-9;rport\r\nFrom: \"Ext 1000\" <sip:1000@127.0.0.1>;tag=9\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: 9@h\r\nCSeq: 1 INVITE\r\nContact: <sip:1000@127.0.0.1:7063>\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nX-Custom:  two spaces\r\nSubscription-State: active\r\nContent-Type: application/sdp\r\nContent-Length: 12\r\n\r\nv=0\r\no=- 1 1\r\n";
        let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:7061;branch=z9hG4bK-1-2;rport=7061;received=127.0.0.1\r\nFrom: <sip:1000@127.0.0.1>;tag=abc\r\nTo: <sip:1000@127.0.0.1>;tag=def\r\nCall-ID: 1-2@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContact: <sip:1000@127.0.0.1:7061>;expires=3600\r\nContent-Length: 0\r\n\r\n";
        let custom = "SIP/2.0 299 Very Custom Reason\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let busy = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nWarning: 399 h \"tabs\tinside\"\r\nContent-Length: 0\r\n\r\n";
        [reg, invite, ok, custom, busy]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn matches_rsip_on_the_corpus() {
        for text in corpus() {
            let fast = parse(text.as_bytes()).expect("fast path takes well-formed messages");
            let slow = SipMessage::try_from(text.as_bytes()).expect("rsip parses it");
            assert_eq!(fast, slow, "{text}");
        }
    }

    #[test]
    fn matches_rsip_whenever_both_accept_mutated_input() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut compared = 0;
        for base in corpus() {
            for _ in 0..2000 {
                let mut data = base.clone().into_bytes();
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(..data.len());
                    data[at] = *b"abcXYZ :;\r\n\t-=<>@\"019"
                        .get(rng.usize(..22))
                        .unwrap_or(&b'a');
                }
                if let (Some(fast), Ok(slow)) =
                    (parse(&data), SipMessage::try_from(data.as_slice()))
                {
                    assert_eq!(fast, slow, "{}", String::from_utf8_lossy(&data));
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "only {compared} inputs compared");
    }

    #[test]
    fn unusual_input_is_left_to_rsip() {
        assert!(parse(b"OPTIONS sip:a SIP/2.0\r\nVia x\r\n\r\n").is_none());
        assert!(parse(b"OPTIONS sip:a SIP/3.0\r\nVia: x\r\n\r\n").is_none());
        assert!(parse(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n").is_none());
        assert!(parse(b"SIP/2.0 20 OK\r\nVia: x\r\n\r\n").is_none());
        assert!(parse(b"OPTIONS sip:a SIP/2.0\r\nV\xffa: x\r\n\r\n").is_none());
    }
}
