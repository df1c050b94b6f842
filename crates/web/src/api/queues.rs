//! Queues (inspect, add or change) and voicemail lists.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{engine, err, no_engine};
use crate::state::AppState;
use crate::view::{api_error, json};

/// `GET /api/queues`: queues with their agents and waiting callers.
pub async fn list(State(state): State<AppState>) -> Response {
    match engine(&state) {
        Some(engine) => json(StatusCode::OK, &engine.queues().inspect().await),
        None => no_engine(),
    }
}

/// `GET /api/voicemail/{ext}`: the mailbox's messages.
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
/// kebab-case); callers already waiting keep their place and get the new
/// settings.
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
    if let Err(e) = cfg.validate() {
        return api_error(StatusCode::BAD_REQUEST, &e.to_string(), Some(e.field));
    }
    match engine
        .queues()
        .admin(engine::acd::AcdInput::UpsertQueue(cfg))
        .await
    {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "queue": name }),
        ),
        Err(e) => err(StatusCode::CONFLICT, e),
    }
}
