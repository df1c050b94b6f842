//! SIP over WebSocket on the HTTP port (`GET /ws`, RFC 7118), for trials
//! behind a proxy that terminates TLS (browsers refuse plain `ws:` from a
//! page served over HTTPS). The handler checks the opening handshake and
//! the SIP transports' connection caps, answers 101, and leaves a
//! hand-over in the request's [`Upgrade`] slot; the listener
//! ([`crate::listener`]) then gives the connection's stream to the
//! internal profile's SIP transports, still counted under the HTTP
//! listener's caps until it closes.
//!
//! No session is needed: SIP's digest authentication is the gate, so a
//! page of another site cannot use a visitor's cookies here. A trusted
//! proxy's X-Forwarded-For is not read (the web module has no notion of
//! a trusted proxy): the SIP source is the connection's peer address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sip::transport::{offers_sip_protocol, ws_accept_key, WsIo, WsRefused, WS_PROTOCOL};

use crate::state::AppState;

/// What the listener runs once the 101 has been sent: the connection's
/// stream and the bytes it had already read past the request.
pub type HandOver = Box<dyn FnOnce(Box<dyn WsIo>, Vec<u8>) + Send>;

/// A connection's slot for a [`HandOver`]: the listener puts one in each
/// request's extensions, the handler fills it when it switches protocols.
#[derive(Clone, Default)]
pub struct Upgrade(Arc<Mutex<Option<HandOver>>>);

impl Upgrade {
    /// Leaves the hand-over to run after the response.
    pub fn set(&self, f: HandOver) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    /// The hand-over, if the response switched protocols.
    pub fn take(&self) -> Option<HandOver> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// `GET /ws`: switches to SIP over WebSocket, or says why not.
pub async fn upgrade(State(state): State<AppState>, req: Request) -> Response {
    let Some(engine) = state.engine() else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "SIP is not running");
    };
    let acceptor = engine.ctx().internal.ws_acceptor().clone();
    let (Some(slot), Some(ConnectInfo(peer))) = (
        req.extensions().get::<Upgrade>().cloned(),
        req.extensions().get::<ConnectInfo<SocketAddr>>().copied(),
    ) else {
        // Only the server's own listener can hand a connection over.
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "no WebSocket here");
    };
    let (method, headers) = (req.method(), req.headers());
    let key = match check(method, headers) {
        Ok(key) => key,
        Err((status, why)) => {
            acceptor.handshake_failed(peer, why);
            let mut r = refuse(status, why);
            if status == StatusCode::UPGRADE_REQUIRED {
                r.headers_mut().insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            return r;
        }
    };
    let ticket = match acceptor.admit(peer) {
        Ok(t) => t,
        Err(WsRefused::Stopped) => {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "SIP is not running")
        }
        Err(_) => return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many SIP connections"),
    };
    slot.set(Box::new(move |io, read_ahead| {
        if !ticket.start(io, read_ahead) {
            tracing::debug!("websocket from {peer} dropped: SIP has stopped");
        }
    }));
    let accept = HeaderValue::from_str(&ws_accept_key(&key));
    let Ok(accept) = accept else {
        // A key that passed `check` always makes a valid header value.
        let _ = slot.take();
        return refuse(StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key");
    };
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::CONNECTION, HeaderValue::from_static("Upgrade")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
            (
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(WS_PROTOCOL),
            ),
        ],
    )
        .into_response()
}

/// A plain-text refusal.
fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

/// The opening handshake's checks (RFC 6455 §4.2.1, RFC 7118 §4.1): the
/// client's key, or the status and reason to refuse with.
fn check(method: &Method, headers: &HeaderMap) -> Result<String, (StatusCode, &'static str)> {
    let key = handshake(method, headers)?;
    if !headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(offers_sip_protocol)
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "SIP over WebSocket needs Sec-WebSocket-Protocol: sip",
        ));
    }
    Ok(key)
}

/// The opening handshake's checks any WebSocket of ours makes (RFC 6455
/// §4.2.1: GET, Upgrade, Connection, version 13, one key): the client's
/// key, or the status and reason to refuse with. The desks' push channel
/// uses it too.
pub(crate) fn handshake(
    method: &Method,
    headers: &HeaderMap,
) -> Result<String, (StatusCode, &'static str)> {
    let value = |name: header::HeaderName| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    let has_token = |name: header::HeaderName, token: &str| {
        value(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if *method != Method::GET {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "a WebSocket opens with GET"));
    }
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err((StatusCode::BAD_REQUEST, "not a WebSocket handshake"));
    }
    if value(header::SEC_WEBSOCKET_VERSION) != ["13"] {
        return Err((StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only"));
    }
    let key = match value(header::SEC_WEBSOCKET_KEY).as_slice() {
        // 16 bytes in base64.
        [k] if k.trim().len() == 24 => k.trim().to_string(),
        _ => return Err((StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key")),
    };
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-protocol", "chat, sip"),
    ];

    #[test]
    fn a_browsers_handshake_passes_and_gets_its_accept_key() {
        let key = check(&Method::GET, &headers(GOOD)).expect("accepted");
        // The example of RFC 6455 §1.3.
        assert_eq!(ws_accept_key(&key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn what_is_not_a_sip_websocket_is_refused_with_a_reason() {
        let without = |name: &str| -> HeaderMap {
            headers(
                &GOOD
                    .iter()
                    .copied()
                    .filter(|(n, _)| *n != name)
                    .collect::<Vec<_>>(),
            )
        };
        let no_sip = {
            let mut h = without("sec-websocket-protocol");
            h.insert("sec-websocket-protocol", HeaderValue::from_static("chat"));
            h
        };
        let old = {
            let mut h = without("sec-websocket-version");
            h.insert("sec-websocket-version", HeaderValue::from_static("8"));
            h
        };
        let cases = [
            (Method::POST, headers(GOOD), StatusCode::METHOD_NOT_ALLOWED),
            (Method::GET, without("upgrade"), StatusCode::BAD_REQUEST),
            (Method::GET, without("connection"), StatusCode::BAD_REQUEST),
            (
                Method::GET,
                without("sec-websocket-key"),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::GET,
                without("sec-websocket-protocol"),
                StatusCode::BAD_REQUEST,
            ),
            (Method::GET, no_sip, StatusCode::BAD_REQUEST),
            (Method::GET, old, StatusCode::UPGRADE_REQUIRED),
        ];
        for (method, h, status) in cases {
            let got = check(&method, &h).expect_err("refused");
            assert_eq!(got.0, status, "{h:?}: {}", got.1);
        }
    }
}
