//! Queues (inspect, add or change) and voicemail lists.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{engine, err, no_engine};
use crate::pages::voice::queues::valid_queue_name;
use crate::state::AppState;
use crate::view::{api_error, json};

/// `GET /api/queues`: queues with their agents and waiting callers.
#[utoipa::path(get, path = "/api/queues", tag = "queues", responses((status = 200, description = "queues with agents and waiting callers", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(State(state): State<AppState>) -> Response {
    match engine(&state) {
        Some(engine) => json(StatusCode::OK, &engine.queues().inspect().await),
        None => no_engine(),
    }
}

/// `GET /api/voicemail/{ext}`: the mailbox's messages.
#[utoipa::path(get, path = "/api/voicemail/{ext}", tag = "voicemail", params(("ext" = String, Path, description = "mailbox extension")), responses((status = 200, description = "the mailbox's messages", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn voicemail(State(state): State<AppState>, Path(ext): Path<String>) -> Response {
    match state.store().list_voicemails(&ext).await {
        Ok(list) => json(StatusCode::OK, &list),
        Err(e) => {
            tracing::error!("listing voicemail of {ext}: {e}");
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading voicemail failed, see the server log",
            )
        }
    }
}

/// `PUT /api/queues/{name}`: adds or changes a queue ("reload queue"): the
/// body is the queue's settings as JSON (mod_callcenter names,
/// kebab-case). The settings are checked as a whole and kept in the
/// database; callers already waiting keep their place and get the new
/// settings. A new queue's name is 1-64 of `A-Z a-z 0-9 _ . -`.
#[utoipa::path(put, path = "/api/queues/{name}", tag = "queues", params(("name" = String, Path, description = "queue name")), request_body(content = serde_json::Value, content_type = "application/json", description = "the queue's settings (mod_callcenter names, kebab-case: strategy, moh-sound, max-wait-time, ...)"), responses((status = 200, description = "the settings in force", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn reload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let mut value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    if let Some(obj) = value.as_object_mut() {
        obj.entry("name")
            .or_insert_with(|| serde_json::Value::String(name.clone()));
    }
    let cfg: engine::acd::QueueConfig = match serde_json::from_value(value) {
        Ok(c) => c,
        Err(e) => return err(StatusCode::BAD_REQUEST, format!("queue settings: {e}")),
    };
    if cfg.name != name {
        return api_error(
            StatusCode::BAD_REQUEST,
            &format!("the body names queue '{}', the URL '{name}'", cfg.name),
            Some("name"),
        );
    }
    let admin = engine.settings();
    // A queue that exists keeps its name; a new one gets a safe name.
    if admin.current().queue(&name).is_none() && !valid_queue_name(&name) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "queue names are 1-64 letters, digits, '_', '.' or '-' (not 'new' or 'agents')",
            Some("name"),
        );
    }
    match admin.put_queue(cfg).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "queue": name }),
        ),
        Err(e) if e.thing == "database" => {
            tracing::error!("saving queue {name}: {e}");
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "saving the queue failed, see the server log",
            )
        }
        Err(e) => api_error(StatusCode::BAD_REQUEST, &e.to_string(), e.field.as_deref()),
    }
}

/// `GET /api/queues/{name}`: a queue's settings as they are in force.
#[utoipa::path(get, path = "/api/queues/{name}", tag = "queues", params(("name" = String, Path, description = "queue name")), responses((status = 200, description = "the queue's settings in force", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn settings(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let settings = engine.settings().current();
    match settings.queue(&name) {
        Some(q) => json(StatusCode::OK, q),
        None => err(StatusCode::NOT_FOUND, format!("no queue '{name}'")),
    }
}

/// `DELETE /api/queues/{name}`: removes a queue; refused while callers wait
/// in it or something routes to it.
#[utoipa::path(delete, path = "/api/queues/{name}", tag = "queues", params(("name" = String, Path, description = "queue name")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let admin = engine.settings();
    match admin.remove_queue(&name).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "queue": name }),
        ),
        Err(e) if e.message == "no such queue" => err(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => err(StatusCode::CONFLICT, e.to_string()),
    }
}
