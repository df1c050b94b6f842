//! The voice platform's lists (trunk access list, blacklist, number pool,
//! the outbound campaigns' do-not-call list `dnc`) and the live
//! registrations.
//!
//! `GET /api/lists/{list}`, `POST /api/lists/{list}` with
//! `{"values": ["..."], "note": "..."}` (one bad value refuses all, naming
//! it), `DELETE /api/lists/{list}/{value}`. Changes apply to calls at once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use engine::voice_lists::AddError;
use store::VoiceList;

use super::{engine, err, no_engine};
use crate::state::AppState;
use crate::view::{api_error, json};

/// The list named in the URL, or the 404 that says which lists exist.
fn which(name: &str) -> Result<VoiceList, Box<Response>> {
    name.parse::<VoiceList>()
        .map_err(|e| Box::new(err(StatusCode::NOT_FOUND, e)))
}

/// Logs a storage error and answers 500 without its details.
fn storage_error(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!("{what}: {e}");
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{what} failed, see the server log"),
    )
}

/// `GET /api/lists/{list}`: the list's entries.
#[utoipa::path(get, path = "/api/lists/{list}", tag = "lists", params(("list" = String, Path, description = "acl, blacklist, number_pool or dnc (the outbound do-not-call list)")), responses((status = 200, description = "the list's entries", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    match state.store().list_entries(list).await {
        Ok(entries) => json(StatusCode::OK, &entries),
        Err(e) => storage_error("reading the list", e),
    }
}

/// Body of `POST /api/lists/{list}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    values: Vec<String>,
    #[serde(default)]
    note: String,
}

/// `POST /api/lists/{list}`: adds values (all or none).
#[utoipa::path(post, path = "/api/lists/{list}", tag = "lists", params(("list" = String, Path, description = "acl, blacklist, number_pool or dnc (the outbound do-not-call list)")), request_body(content = serde_json::Value, content_type = "application/json", description = "{\"values\": [\"...\"], \"note\": \"...\"}; one bad value refuses all, naming it"), responses((status = 200, description = "the entries added", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn add(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let body: AddBody = match serde_json::from_str(&body) {
        Ok(b) => b,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("body: {e} (expected {{\"values\": [...], \"note\": \"...\"}})"),
            )
        }
    };
    if body.values.is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "give at least one value",
            Some("values"),
        );
    }
    let entries: Vec<(String, String)> = body
        .values
        .into_iter()
        .map(|v| (v, body.note.clone()))
        .collect();
    let ctx = engine.ctx();
    match engine.voice_lists().add(&ctx.store, list, &entries).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(AddError::Invalid(e)) => {
            api_error(StatusCode::BAD_REQUEST, &e.to_string(), Some("values"))
        }
        Err(AddError::Store(e)) => storage_error("saving the list", e),
    }
}

/// `DELETE /api/lists/{list}/{value}`.
#[utoipa::path(delete, path = "/api/lists/{list}/{value}", tag = "lists", params(("list" = String, Path, description = "acl, blacklist, number_pool or dnc (the outbound do-not-call list)"), ("value" = String, Path, description = "the entry")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove(
    State(state): State<AppState>,
    Path((name, value)): Path<(String, String)>,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let ctx = engine.ctx();
    match engine.voice_lists().remove(&ctx.store, list, &value).await {
        Ok(true) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Ok(false) => err(
            StatusCode::NOT_FOUND,
            format!("'{value}' is not in the {name} list"),
        ),
        Err(e) => storage_error("changing the list", e),
    }
}

/// `GET /api/registrations`: the registered phones (manual 3.2.7): user,
/// agent, status, ping time, contact host and parameters, network address.
#[utoipa::path(get, path = "/api/registrations", tag = "registrations", responses((status = 200, description = "registered phones: user, agent, status, ping time, contact and its parameters as sent, network address", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn registrations(State(state): State<AppState>) -> Response {
    match engine(&state) {
        Some(engine) => json(StatusCode::OK, &engine.registered()),
        None => no_engine(),
    }
}
