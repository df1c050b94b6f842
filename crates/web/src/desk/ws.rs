//! `GET /desk/ws`: a desk's push channel (a WebSocket, RFC 6455). The
//! first message is the snapshot (agent, offer, call, counters, login);
//! then the hub's messages as they come. The page sends nothing but
//! pings.
//!
//! Only pages of this site may open it (the `Origin` must be this host):
//! a WebSocket carries the session cookie, and another site's script must
//! not read an agent's calls through it. When the last desk of a queue
//! agent goes away and does not come back within [`GRACE`], an agent left
//! Available is put on break, so queue calls go to agents who are there.
//!
//! The web listener hands the upgraded connection over after the 101
//! ([`crate::sipws::Upgrade`], as for SIP on `/ws`): one WebSocket stack
//! (tungstenite) for both.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{fail, login_of};
use crate::auth::Identity;
use crate::state::AppState;

/// How long a queue agent's desk may be gone (a network drop, a reload)
/// before an agent left Available is put on break.
pub const GRACE: Duration = Duration::from_secs(15);

/// Largest message a page may send (it sends only pings).
const MAX_IN: usize = 4096;

/// A page that sends nothing for this long (not even the pongs to our
/// pings) is gone.
const IDLE: Duration = Duration::from_secs(75);

/// How often the server pings the page (keeps proxies from closing an idle
/// channel, and finds a vanished page).
const PING_EVERY: Duration = Duration::from_secs(25);

/// Does the request come from a page of this site (same host in `Origin`
/// and `Host`)? Browsers always send `Origin` on WebSocket requests; a
/// request without one is not a browser page and is let through (the
/// session cookie still has to be valid).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or_default();
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The upgrade.
pub async fn upgrade(who: Identity, State(state): State<AppState>, req: Request) -> Response {
    if !same_origin(req.headers()) {
        return fail(
            StatusCode::FORBIDDEN,
            "a desk opens only from this site's pages",
        );
    }
    let key = match crate::sipws::handshake(req.method(), req.headers()) {
        Ok(key) => key,
        Err((status, why)) => return fail(status, why),
    };
    let Some(slot) = req.extensions().get::<crate::sipws::Upgrade>().cloned() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "no WebSocket here");
    };
    let Ok(accept) = HeaderValue::from_str(&sip::transport::ws_accept_key(&key)) else {
        return fail(StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key");
    };
    let ext = login_of(&state, &who)
        .map(|l| l.extension)
        .unwrap_or_default();
    slot.set(Box::new(move |io, read_ahead| {
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(MAX_IN);
        config.max_frame_size = Some(MAX_IN);
        // tungstenite's default read buffer (128 KiB) is allocated per
        // desk and zeroed on every read attempt; a desk sends small
        // commands, so a small buffer keeps 500 desks cheap.
        config.read_buffer_size = 4096;
        tokio::spawn(async move {
            let socket =
                WebSocketStream::from_partially_read(io, read_ahead, Role::Server, Some(config))
                    .await;
            serve(socket, state, who, ext).await;
        });
    }));
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::CONNECTION, HeaderValue::from_static("Upgrade")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

async fn serve<S>(mut socket: WebSocketStream<S>, state: AppState, who: Identity, ext: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let hub = state.desk();
    // A supervisor's desk gets the floor of its scope; if the scope cannot
    // be read, no floor at all (never every agent by mistake).
    let floor = match super::supervise::is_supervisor(&who) {
        false => None,
        true => {
            let ext = super::supervise::scope_extension(&state, &who);
            match super::supervise::scope(&state, &ext).await {
                Ok(scope) => Some(scope.map(std::sync::Arc::new)),
                Err(e) => {
                    tracing::warn!("desk of {ext}: no floor view: {e}");
                    None
                }
            }
        }
    };
    let (id, mut snapshot, mut rx) = hub.connect(&ext, floor);
    snapshot["login"] = json!(login_of(&state, &who));
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut heard = tokio::time::Instant::now();
    if socket
        .send(Message::Text(snapshot.to_string().into()))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(text) = msg else { break };
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                incoming = socket.next() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => heard = tokio::time::Instant::now(),
                },
                _ = ping.tick() => {
                    if heard.elapsed() > IDLE
                        || socket.send(Message::Ping(Vec::new().into())).await.is_err()
                    {
                        break;
                    }
                }
            }
        }
    }
    let _ = socket.close(None).await;
    hub.disconnect(&ext, id);
    if !ext.is_empty() && hub.desks_of(&ext) == 0 {
        tokio::spawn(after_grace(state, who.user.id, ext));
    }
}
/// After [`GRACE`] without a desk: a queue agent still logged in and
/// Available is put on break.
async fn after_grace(state: AppState, user: i64, ext: String) {
    tokio::time::sleep(GRACE).await;
    let hub = state.desk();
    if hub.desks_of(&ext) > 0 {
        return;
    }
    let still = state
        .desk_logins()
        .get(&user)
        .is_some_and(|l| l.extension == ext && l.queue_agent);
    let Some(engine) = state.engine() else { return };
    let available = hub.snapshot(&ext)["agent"]["status"] == "Available";
    if !still || !available {
        return;
    }
    tracing::info!("desk of agent {ext} gone for {GRACE:?}: put on break");
    let input = engine::acd::AcdInput::SetAgentStatus {
        agent: ext.clone(),
        status: engine::acd::AgentStatus::OnBreak,
    };
    if let Err(e) = engine.queues().admin(input).await {
        tracing::warn!("desk of agent {ext}: cannot put on break: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn desk_ws_only_this_sites_pages_may_open_it() {
        assert!(same_origin(&headers(
            Some("http://127.0.0.1:8080"),
            "127.0.0.1:8080"
        )));
        assert!(same_origin(&headers(
            Some("https://cc.example"),
            "CC.example"
        )));
        assert!(!same_origin(&headers(
            Some("https://evil.example"),
            "cc.example"
        )));
        assert!(!same_origin(&headers(Some("null"), "cc.example")));
        assert!(!same_origin(&headers(
            Some("http://cc.example:81"),
            "cc.example"
        )));
        assert!(
            same_origin(&headers(None, "cc.example")),
            "not a browser page"
        );
    }
}
