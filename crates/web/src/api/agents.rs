//! Agent operations: status, log-in at an extension, end of wrap-up,
//! dial-out from the desk.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{engine, err, no_engine};
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::json;

/// `POST /api/agents/{id}/status?status=`: `available`, `on_demand`,
/// `on_break`, `logged_out` (or the FreeSWITCH names, e.g. "On Break").
#[utoipa::path(post, path = "/api/agents/{id}/status", tag = "agents", params(("id" = String, Path, description = "agent id"), ("status" = String, Query, description = "available, on_demand, on_break, logged_out"), ("reason" = Option<String>, Query, description = "with on_break: why (e.g. meal), counted apart in the work-time report")), responses((status = 200, description = "the agent's new status", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let given = q.text("status");
    let status = match parse_status(&given) {
        Ok(s) => s,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    // The break reason goes to the work-state log (manual 11.3.3).
    let reason = q.text("reason");
    if reason.len() > 32
        || !reason
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return err(
            StatusCode::BAD_REQUEST,
            "reason: up to 32 letters, digits, _ or -",
        );
    }
    if status == engine::acd::AgentStatus::OnBreak {
        engine.queues().set_break_reason(&id, &reason);
    }
    match engine
        .queues()
        .admin(engine::acd::AcdInput::SetAgentStatus {
            agent: id.clone(),
            status,
        })
        .await
    {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "agent": id, "status": status.to_string() }),
        ),
        Err(e) => err(StatusCode::CONFLICT, e),
    }
}

/// An agent status from its API or desk name: `available`, `on_demand`,
/// `on_break`, `logged_out`, or the FreeSWITCH names (e.g. "On Break").
pub(crate) fn parse_status(given: &str) -> Result<engine::acd::AgentStatus, String> {
    let name = match given.to_ascii_lowercase().replace(['_', '-'], " ").as_str() {
        "available" => "Available".to_string(),
        "on demand" | "available on demand" => "Available (On Demand)".to_string(),
        "on break" | "break" => "On Break".to_string(),
        "logged out" | "logout" => "Logged Out".to_string(),
        _ => given.to_string(),
    };
    name.parse::<engine::acd::AgentStatus>()
        .map_err(|_| format!("status '{given}': give available, on_demand, on_break or logged_out"))
}

/// Logs agent `cfg.id` in at `cfg.contact` (the ACD's agent updated) with
/// `status`.
pub(crate) async fn log_in(
    engine: &engine::Engine,
    cfg: engine::acd::AgentConfig,
    status: engine::acd::AgentStatus,
) -> Result<(), String> {
    let queues = engine.queues();
    let agent = cfg.id.clone();
    queues
        .admin(engine::acd::AcdInput::UpsertAgent(cfg))
        .await?;
    queues
        .admin(engine::acd::AcdInput::SetAgentStatus { agent, status })
        .await
}

/// `POST /api/agents/{id}/login?extension=&password=`: the agent logs in at
/// an extension (its SIP password proves it): offers ring that extension
/// from now on, and the agent is Available.
#[utoipa::path(post, path = "/api/agents/{id}/login", tag = "agents", params(("id" = String, Path, description = "agent id"), ("extension" = String, Query, description = "the extension"), ("password" = String, Query, description = "its SIP password")), responses((status = 200, description = "logged in", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn login(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let (ext, password) = (q.text("extension"), q.raw("password"));
    if ext.is_empty() || password.is_empty() {
        return err(StatusCode::BAD_REQUEST, "give extension and password");
    }
    let known = engine.ctx().directory.get(&ext);
    if !known.is_some_and(|e| e.enabled && e.password == password) {
        return err(
            StatusCode::FORBIDDEN,
            format!("extension {ext}: wrong extension or password"),
        );
    }
    let Some(mut cfg) = engine.queues().agent_config(&id).await else {
        return err(StatusCode::NOT_FOUND, format!("no agent '{id}'"));
    };
    cfg.contact = ext.clone();
    let status = engine::acd::AgentStatus::Available;
    match log_in(engine, cfg, status).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "agent": id, "extension": ext, "status": status.to_string() }),
        ),
        Err(e) => err(StatusCode::CONFLICT, e),
    }
}

/// `POST /api/agents/{id}/dial?number=[&mode=call|refer][&auto_answer=false]`:
/// dial-out from the desk (click-to-dial). `call` (default): the engine
/// rings the agent's phone (asking it to answer by itself unless
/// `auto_answer=false`), then the number, and connects them; `refer`: the
/// phone is asked (REFER) to place the call itself.
#[utoipa::path(post, path = "/api/agents/{id}/dial", tag = "agents", params(("id" = String, Path, description = "agent id"), ("number" = String, Query, description = "the number to call"), ("mode" = Option<String>, Query, description = "call (default) or refer"), ("auto_answer" = Option<bool>, Query, description = "ask the phone to answer by itself (default true)")), responses((status = 200, description = "the call was started", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn dial(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let number = q.text("number");
    if number.is_empty() {
        return err(StatusCode::BAD_REQUEST, "give number");
    }
    let auto_answer = match q.text("auto_answer").as_str() {
        "" | "true" | "1" => true,
        "false" | "0" => false,
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("auto_answer '{other}': give true or false"),
            )
        }
    };
    // The agent's phone: the extension the agent is logged in at.
    let extension = match engine.queues().agent_config(&id).await {
        Some(a) if !a.contact.is_empty() => a.contact,
        _ => id.clone(),
    };
    match q.text("mode").as_str() {
        "refer" => {
            return match engine::click_to_dial::dial(engine.ctx(), &extension, &number).await {
                Ok(phones) => json(
                    StatusCode::OK,
                    &serde_json::json!({ "ok": true, "agent": id, "extension": extension, "number": number, "phones": phones }),
                ),
                Err(e) => err(StatusCode::CONFLICT, e),
            };
        }
        "" | "call" => {}
        _ => return err(StatusCode::BAD_REQUEST, "mode is call or refer"),
    }
    use engine::calls::originate::{originate, Originate, OriginateError};
    let req = Originate {
        extension: extension.clone(),
        number: number.clone(),
        auto_answer,
        ring_timeout: std::time::Duration::from_secs(30),
        then: Default::default(),
    };
    match originate(engine.ctx(), req).await {
        Ok(call) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "agent": id, "extension": extension, "number": number, "call": call }),
        ),
        Err(e @ OriginateError::Invalid(_)) => err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ OriginateError::NotAnswered(..)) => err(StatusCode::CONFLICT, e.to_string()),
        Err(e @ OriginateError::Unavailable(_)) => {
            err(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

/// `POST /api/agents/{id}/wrapup_done`: the agent finished after-call work
/// before the wrap-up time ran out.
#[utoipa::path(post, path = "/api/agents/{id}/wrapup_done", tag = "agents", params(("id" = String, Path, description = "agent id")), responses((status = 200, description = "the agent is available again", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn wrapup_done(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    match engine
        .queues()
        .admin(engine::acd::AcdInput::WrapUpDone { agent: id.clone() })
        .await
    {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "agent": id }),
        ),
        Err(e) => err(StatusCode::CONFLICT, e),
    }
}

/// `GET /api/agents/live[?online=1]`: every agent of the floor now (those
/// not logged out with `online=1`) with their extension's registration,
/// ACD status and state, what the wallboard shows (`tile`), seconds in
/// state, and their figures of today; the floor's counters, the callers
/// waiting and the longest wait. Without `records:all`, the user's own
/// extension only.
#[utoipa::path(get, path = "/api/agents/live", tag = "agents", params(("online" = Option<String>, Query, description = "1: agents not logged out only")), responses((status = 200, description = "{agents: [{id, registered, status, state, tile, state_secs, caller, queue, calls_today, missed_today, talk_secs_today, avg_talk_secs}], counters, tiles, waiting, longest_wait_s}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn live(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let online = q.text("online") == "1";
    json(
        StatusCode::OK,
        &crate::pages::agents::live_json(&state, &who, online).await,
    )
}
