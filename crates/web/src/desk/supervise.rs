//! The supervisor's part of the desk (issue 15, item 6): users with the
//! `agents:manage` permission (and administrators) see the agents of their
//! queues live on the same page and, from a click, listen to, whisper to or
//! barge into an agent's call, take the call over, or force the agent's
//! status.
//!
//! Listening and the rest are calls the engine places to the supervisor's
//! own phone (the browser phone or a desk phone that answers by itself)
//! that then join the agent's call (`Then::Join`); pressing another mode
//! while on that call only changes how the supervisor takes part.
//! "Their queues": the queues the supervisor's extension is an agent of;
//! a supervisor in no queue (an administrator, a floor manager) sees all.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::collections::BTreeSet;

use super::{fail, login_of, my_call, not_logged_in};
use crate::auth::permissions::Permission;
use crate::auth::Identity;
use crate::form::Form;
use crate::state::AppState;
use crate::view::json;
use engine::calls::control::MonitorMode;
use engine::calls::originate::{originate, Originate, Then};

/// Whether `who` may supervise on the desk.
pub fn is_supervisor(who: &Identity) -> bool {
    who.user.is_admin || who.allows(Permission::new("agents", "manage"))
}

/// The agents a supervisor at extension `ext` may act on: those of the
/// queues `ext` is an agent of, or None for every agent (in no queue, or
/// no extension). An unreadable store is an error, never "every agent".
pub async fn scope(state: &AppState, ext: &str) -> Result<Option<BTreeSet<String>>, String> {
    if ext.is_empty() {
        return Ok(None);
    }
    let tiers = state
        .store()
        .list_all_tiers()
        .await
        .map_err(|e| format!("reading the queues' agents: {e}"))?;
    let mine: BTreeSet<&str> = tiers
        .iter()
        .filter(|t| t.agent == ext)
        .map(|t| t.queue.as_str())
        .collect();
    if mine.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        tiers
            .iter()
            .filter(|t| mine.contains(t.queue.as_str()))
            .map(|t| t.agent.clone())
            .collect(),
    ))
}

/// The extension a supervisor's scope is read from: the one the toolbar is
/// logged in at, else the one bound to the user.
pub fn scope_extension(state: &AppState, who: &Identity) -> String {
    login_of(state, who).map_or_else(|| who.user.extension.clone(), |l| l.extension)
}

/// `GET /desk/floor`: the agents of the supervisor's queues, each with
/// status, state, time in state, the offer ringing them and their call
/// (the push channel sends the same rows as they change).
pub async fn floor(who: Identity, State(state): State<AppState>) -> Response {
    if !is_supervisor(&who) {
        return fail(StatusCode::FORBIDDEN, "supervisors only");
    }
    let scope = match scope(&state, &scope_extension(&state, &who)).await {
        Ok(s) => s,
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut rows = state.desk().floor();
    if let Some(scope) = &scope {
        rows.retain(|r| r["id"].as_str().is_some_and(|id| scope.contains(id)));
    }
    json(StatusCode::OK, &json!({ "agents": rows, "scope": scope }))
}

/// `POST /desk/supervise/{action}` with `agent`: `listen`, `whisper`,
/// `barge` (join the agent's call from the supervisor's phone, or change
/// the mode of the joining call), `takeover` (the caller is transferred to
/// the supervisor, the agent released), `status` with `status` =
/// ready | not_ready | logout (force the agent's status).
pub async fn act(
    who: Identity,
    State(state): State<AppState>,
    Path(action): Path<String>,
    Form(f): Form,
) -> Response {
    if !is_supervisor(&who) {
        return fail(StatusCode::FORBIDDEN, "supervisors only");
    }
    let Some(engine) = state.engine().cloned() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running");
    };
    let Some(login) = login_of(&state, &who) else {
        return not_logged_in();
    };
    let agent = f.text("agent");
    if agent.is_empty() || agent == login.extension {
        return fail(StatusCode::BAD_REQUEST, "name another agent");
    }
    match scope(&state, &login.extension).await {
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, e),
        Ok(Some(s)) if !s.contains(&agent) => {
            return fail(
                StatusCode::FORBIDDEN,
                format!("agent {agent} is not in your queues"),
            )
        }
        Ok(_) => {}
    }
    if action == "status" {
        return force_status(&engine, &agent, &f.text("status")).await;
    }
    let Some(call) = my_call(&engine, &agent) else {
        return fail(
            StatusCode::CONFLICT,
            format!("agent {agent} is not on a call"),
        );
    };
    // The supervisor's own call already joined to it, if any.
    let joined = engine
        .calls()
        .into_iter()
        .find(|c| c.caller == login.extension && c.joined.is_some_and(|(t, _)| t == call))
        .map(|c| c.id);
    if action == "takeover" {
        let control = match engine.control(call) {
            Ok(c) => c,
            Err(e) => return fail(StatusCode::CONFLICT, e),
        };
        if let Some(mine) = joined.and_then(|j| engine.control(j).ok()) {
            mine.hangup(engine::calls::HangupCause::NormalClearing);
        }
        tracing::info!(
            "desk: {} takes over call {call} from agent {agent}",
            login.extension
        );
        control.transfer(&login.extension);
        return json(StatusCode::OK, &json!({ "ok": true, "call": call }));
    }
    let supervisor_mode = |m: &MonitorMode| {
        matches!(
            m,
            MonitorMode::Listen | MonitorMode::Whisper | MonitorMode::Barge
        )
    };
    let Some(mode) = MonitorMode::parse(&action).filter(supervisor_mode) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("unknown action '{action}': listen, whisper, barge, takeover, status"),
        );
    };
    if let Some(mine) = joined.and_then(|j| engine.control(j).ok()) {
        mine.set_monitor_mode(mode);
        return json(
            StatusCode::OK,
            &json!({ "ok": true, "call": call, "mode": mode.as_str() }),
        );
    }
    let req = Originate {
        extension: login.extension.clone(),
        number: agent.clone(),
        // The supervisor asked for the call: both phones answer by themselves.
        auto_answer: true,
        ring_timeout: std::time::Duration::from_secs(30),
        then: Then::Join { call, mode },
    };
    tracing::info!(
        "desk: {} {} agent {agent} (call {call})",
        login.extension,
        mode.as_str()
    );
    tokio::spawn(async move {
        if let Err(e) = originate(engine.ctx(), req).await {
            tracing::info!("desk {} of call {call}: {e}", mode.as_str());
        }
    });
    json(
        StatusCode::ACCEPTED,
        &json!({ "ok": true, "call": call, "mode": mode.as_str() }),
    )
}

/// Forces agent `agent` to `status` (ready, not_ready, logout).
async fn force_status(engine: &engine::Engine, agent: &str, status: &str) -> Response {
    use engine::acd::AgentStatus;
    let status = match status {
        "ready" => AgentStatus::Available,
        "not_ready" => AgentStatus::OnBreak,
        "logout" => AgentStatus::LoggedOut,
        other => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("status '{other}': ready, not_ready or logout"),
            )
        }
    };
    tracing::info!("desk: agent {agent} forced to {status}");
    let input = engine::acd::AcdInput::SetAgentStatus {
        agent: agent.to_string(),
        status,
    };
    match engine.queues().admin(input).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => fail(StatusCode::CONFLICT, e),
    }
}
