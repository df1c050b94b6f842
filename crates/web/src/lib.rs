//! The embedded web module (axum, same runtime as the engine). For now:
//! `GET /metrics` (Prometheus text), `GET /api/calls` (live calls as JSON) and
//! call control on engine-answered calls: `POST /api/calls/{id}/hold`,
//! `/retrieve`, `/hangup`, `/dtmf?digits=...`. Until sign-in and permissions
//! arrive (the web issue), those POSTs are accepted from loopback only.
//! The admin UI, CRM and REST API grow here.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;

mod voice_api;

/// Build the router.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/calls", get(calls))
        .route("/api/calls/{id}/{action}", post(call_action))
        .route("/api/queues", get(queues))
        .route(
            "/api/queues/{name}",
            get(queue_settings).put(reload_queue).delete(remove_queue),
        )
        .route("/api/voicemail/{ext}", get(voicemail))
        .route("/api/agents/{id}/status", post(agent_status))
        .route("/api/agents/{id}/login", post(agent_login))
        .route("/api/agents/{id}/wrapup_done", post(agent_wrapup_done))
        .route("/api/agents/{id}/dial", post(agent_dial))
        .merge(voice_api::routes())
        .fallback(not_found)
        .with_state(engine)
}

/// Serve on `addr` until `shutdown` resolves.
pub async fn serve(
    engine: Arc<Engine>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("web on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        router(engine).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        engine.metrics_text(),
    )
        .into_response()
}

async fn calls(State(engine): State<Arc<Engine>>) -> Response {
    json(StatusCode::OK, &engine.calls())
}

/// Query of `POST /api/calls/{id}/dtmf`.
#[derive(serde::Deserialize)]
struct DtmfQuery {
    digits: Option<String>,
    /// Transfer target.
    to: Option<String>,
    /// The consultation call of a three-way call.
    with: Option<String>,
}

async fn call_action(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, action)): Path<(String, String)>,
    Query(q): Query<DtmfQuery>,
) -> Response {
    let err = |status: StatusCode, msg: String| json(status, &serde_json::json!({ "error": msg }));
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "call control is only accepted from this machine until sign-in exists".into(),
        );
    }
    let Ok(id) = id.parse::<u64>() else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("call id '{id}' is not a number"),
        );
    };
    let call = match engine.control(id) {
        Ok(c) => c,
        Err(e) if e.starts_with("no live call") => return err(StatusCode::NOT_FOUND, e),
        Err(e) => return err(StatusCode::CONFLICT, e),
    };
    match action.as_str() {
        "hold" => call.hold(true),
        "retrieve" => call.hold(false),
        "hangup" => call.hangup(engine::calls::HangupCause::NormalClearing),
        "survey" => call.send_to_survey(),
        "three_way" => {
            let Some(with) = q.with.as_deref().and_then(|w| w.parse::<u64>().ok()) else {
                return err(StatusCode::BAD_REQUEST, "give with=<the consultation call's id>".into());
            };
            if let Err(e) = engine.three_way(id, with).await {
                return err(StatusCode::CONFLICT, e);
            }
        }
        "transfer" => {
            let to = q.to.unwrap_or_default();
            if to.is_empty() || !to.chars().all(|c| c.is_ascii_digit()) {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("transfer target '{to}': give an extension"),
                );
            }
            call.transfer(&to);
        }
        "dtmf" => {
            let digits = q.digits.unwrap_or_default();
            if digits.is_empty() || !digits.chars().all(|c| "0123456789*#ABCDabcd".contains(c)) {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("digits '{digits}': give 0-9, *, #, A-D"),
                );
            }
            if let Err(e) = call.send_dtmf(&digits).await {
                return err(StatusCode::CONFLICT, e.to_string());
            }
        }
        other => {
            return err(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown action '{other}' (hold, retrieve, hangup, dtmf, transfer, survey, three_way)"
                ),
            )
        }
    }
    json(
        StatusCode::OK,
        &serde_json::json!({ "ok": true, "call": id, "action": action }),
    )
}

async fn voicemail(State(engine): State<Arc<Engine>>, Path(ext): Path<String>) -> Response {
    match engine.ctx().store.list_voicemails(&ext).await {
        Ok(list) => json(StatusCode::OK, &list),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({ "error": e.to_string() }),
        ),
    }
}

/// Adds or changes a queue ("reload queue"): the body is the queue's
/// settings as JSON (mod_callcenter names, kebab-case); callers already
/// waiting keep their place and get the new settings.
async fn reload_queue(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let err = |status: StatusCode, msg: String, field: Option<String>| {
        json(status, &serde_json::json!({ "error": msg, "field": field }))
    };
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "queue changes are only accepted from this machine until sign-in exists".into(),
            None,
        );
    }
    let mut value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("body is not JSON: {e}"),
                None,
            )
        }
    };
    if let Some(obj) = value.as_object_mut() {
        obj.entry("name")
            .or_insert_with(|| serde_json::Value::String(name.clone()));
    }
    let cfg: engine::acd::QueueConfig = match serde_json::from_value(value) {
        Ok(c) => c,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("queue settings: {e}"),
                None,
            )
        }
    };
    if cfg.name != name {
        return err(
            StatusCode::BAD_REQUEST,
            format!("the body names queue '{}', the URL '{name}'", cfg.name),
            Some("name".into()),
        );
    }
    let admin = engine::callcenter_settings::SettingsAdmin::new(engine.ctx());
    match admin.put_queue(cfg).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "queue": name }),
        ),
        Err(e) if e.thing == "database" => {
            err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None)
        }
        Err(e) => err(StatusCode::BAD_REQUEST, e.to_string(), e.field.clone()),
    }
}

/// A queue's settings as they are in force.
async fn queue_settings(State(engine): State<Arc<Engine>>, Path(name): Path<String>) -> Response {
    let settings = engine::callcenter_settings::SettingsAdmin::new(engine.ctx()).current();
    match settings.queue(&name) {
        Some(q) => json(StatusCode::OK, q),
        None => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": format!("no queue '{name}'") }),
        ),
    }
}

/// Removes a queue; refused while callers wait in it or something routes to it.
async fn remove_queue(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
) -> Response {
    let err = |status: StatusCode, msg: String| json(status, &serde_json::json!({ "error": msg }));
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "queue changes are only accepted from this machine until sign-in exists".into(),
        );
    }
    let admin = engine::callcenter_settings::SettingsAdmin::new(engine.ctx());
    match admin.remove_queue(&name).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "queue": name }),
        ),
        Err(e) if e.message == "no such queue" => err(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => err(StatusCode::CONFLICT, e.to_string()),
    }
}

async fn queues(State(engine): State<Arc<Engine>>) -> Response {
    json(StatusCode::OK, &engine.queues().inspect().await)
}

/// Query of `POST /api/agents/{id}/status`.
#[derive(serde::Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

/// Sets an agent's status: `available`, `on_demand`, `on_break`,
/// `logged_out` (or the FreeSWITCH names, e.g. "On Break").
async fn agent_status(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    let err = |status: StatusCode, msg: String| json(status, &serde_json::json!({ "error": msg }));
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "agent changes are only accepted from this machine until sign-in exists".into(),
        );
    }
    let given = q.status.unwrap_or_default();
    let name = match given.to_ascii_lowercase().replace(['_', '-'], " ").as_str() {
        "available" => "Available".to_string(),
        "on demand" | "available on demand" => "Available (On Demand)".to_string(),
        "on break" | "break" => "On Break".to_string(),
        "logged out" | "logout" => "Logged Out".to_string(),
        _ => given.clone(),
    };
    let Ok(status) = name.parse::<engine::acd::AgentStatus>() else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("status '{given}': give available, on_demand, on_break or logged_out"),
        );
    };
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

/// Query of `POST /api/agents/{id}/login`.
#[derive(serde::Deserialize)]
struct LoginQuery {
    extension: Option<String>,
    password: Option<String>,
}

/// An agent logs in at an extension (its SIP password proves it): offers
/// ring that extension from now on, and the agent is Available.
async fn agent_login(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let err = |status: StatusCode, msg: String| json(status, &serde_json::json!({ "error": msg }));
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "agent log-in is only accepted from this machine until sign-in exists".into(),
        );
    }
    let (Some(ext), Some(password)) = (q.extension, q.password) else {
        return err(
            StatusCode::BAD_REQUEST,
            "give extension and password".into(),
        );
    };
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
    let queues = engine.queues();
    if let Err(e) = queues.admin(engine::acd::AcdInput::UpsertAgent(cfg)).await {
        return err(StatusCode::CONFLICT, e);
    }
    let status = engine::acd::AgentStatus::Available;
    match queues
        .admin(engine::acd::AcdInput::SetAgentStatus {
            agent: id.clone(),
            status,
        })
        .await
    {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "agent": id, "extension": ext, "status": status.to_string() }),
        ),
        Err(e) => err(StatusCode::CONFLICT, e),
    }
}

/// Query of `POST /api/agents/{id}/dial`.
#[derive(serde::Deserialize)]
struct DialQuery {
    number: Option<String>,
    /// `call` (default): the engine rings the agent's phone, then the
    /// number; `refer`: the phone is asked (REFER) to place the call itself.
    mode: Option<String>,
    /// With `call`: ask the phone to answer by itself (default yes).
    auto_answer: Option<bool>,
}

/// Dial-out from the desk (click-to-dial) for an agent.
async fn agent_dial(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<DialQuery>,
) -> Response {
    let err = |status: StatusCode, msg: String| json(status, &serde_json::json!({ "error": msg }));
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "dialing is only accepted from this machine until sign-in exists".into(),
        );
    }
    let Some(number) = q.number.filter(|n| !n.is_empty()) else {
        return err(StatusCode::BAD_REQUEST, "give number".into());
    };
    // The agent's phone: the extension the agent is logged in at.
    let extension = match engine.queues().agent_config(&id).await {
        Some(a) if !a.contact.is_empty() => a.contact,
        _ => id.clone(),
    };
    if q.mode.as_deref() == Some("refer") {
        return match engine::click_to_dial::dial(engine.ctx(), &extension, &number).await {
            Ok(phones) => json(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "agent": id, "extension": extension, "number": number, "phones": phones }),
            ),
            Err(e) => err(StatusCode::CONFLICT, e),
        };
    }
    if q.mode.as_deref().is_some_and(|m| m != "call") {
        return err(StatusCode::BAD_REQUEST, "mode is call or refer".into());
    }
    use engine::calls::originate::{originate, Originate, OriginateError};
    let req = Originate {
        extension: extension.clone(),
        number: number.clone(),
        auto_answer: q.auto_answer.unwrap_or(true),
        ring_timeout: std::time::Duration::from_secs(30),
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

/// The agent finished after-call work before the wrap-up time ran out.
async fn agent_wrapup_done(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    let err = |status: StatusCode, msg: String| json(status, &serde_json::json!({ "error": msg }));
    if !peer.ip().is_loopback() {
        return err(
            StatusCode::FORBIDDEN,
            "agent changes are only accepted from this machine until sign-in exists".into(),
        );
    }
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

async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": "not found" }),
    )
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{{\"error\":\"serialising response: {e}\"}}"),
        )
            .into_response(),
    }
}
