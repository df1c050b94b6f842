//! JSON API of the voice platform's lists (access list, blacklist, number
//! pool): `GET /api/lists/{list}`, `POST /api/lists/{list}` with
//! `{"values": ["..."], "note": "..."}` (one bad value refuses all, naming
//! it), `DELETE /api/lists/{list}/{value}`. Changes apply to calls at once.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use engine::voice_lists::AddError;
use engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;
use store::VoiceList;

use crate::json;

/// The routes of this module.
pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/api/lists/{list}", get(list).post(add))
        .route("/api/lists/{list}/{value}", delete(remove))
        .route("/api/registrations", get(registrations))
}

fn error(status: StatusCode, message: String, field: Option<&str>) -> Response {
    json(
        status,
        &serde_json::json!({ "error": message, "field": field }),
    )
}

/// The list named in the URL, or the 404 that says which lists exist.
fn which(name: &str) -> Result<VoiceList, Box<Response>> {
    name.parse::<VoiceList>()
        .map_err(|e| Box::new(error(StatusCode::NOT_FOUND, e, None)))
}

async fn list(State(engine): State<Arc<Engine>>, Path(name): Path<String>) -> Response {
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    match engine.ctx().store.list_entries(list).await {
        Ok(entries) => json(StatusCode::OK, &entries),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

/// The registered phones (manual 3.2.7): user, agent, status, ping time,
/// contact host, network address.
async fn registrations(State(engine): State<Arc<Engine>>) -> Response {
    json(StatusCode::OK, &engine::keepalive::registered(engine.ctx()))
}

/// Body of `POST /api/lists/{list}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    values: Vec<String>,
    #[serde(default)]
    note: String,
}

async fn add(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    if !peer.ip().is_loopback() {
        return error(
            StatusCode::FORBIDDEN,
            "list changes are only accepted from this machine until sign-in exists".into(),
            None,
        );
    }
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let body: AddBody = match serde_json::from_str(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body: {e} (expected {{\"values\": [...], \"note\": \"...\"}})"),
                None,
            )
        }
    };
    if body.values.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "give at least one value".into(),
            Some("values"),
        );
    }
    let entries: Vec<(String, String)> = body
        .values
        .into_iter()
        .map(|v| (v, body.note.clone()))
        .collect();
    let ctx = engine.ctx();
    match ctx.voice.add(&ctx.store, list, &entries).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(AddError::Invalid(e)) => error(StatusCode::BAD_REQUEST, e.to_string(), Some("values")),
        Err(AddError::Store(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

async fn remove(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((name, value)): Path<(String, String)>,
) -> Response {
    if !peer.ip().is_loopback() {
        return error(
            StatusCode::FORBIDDEN,
            "list changes are only accepted from this machine until sign-in exists".into(),
            None,
        );
    }
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let ctx = engine.ctx();
    match ctx.voice.remove(&ctx.store, list, &value).await {
        Ok(true) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("'{value}' is not in the {name} list"),
            None,
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}
