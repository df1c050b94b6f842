//! The agent desk (manual 2.2 and 4.3; FEATURES A1, A3): the page an agent
//! works in all day, its push channel, and the voice toolbar's actions.
//!
//! A signed-in user who is a call-center agent (the user's "agent" flag)
//! logs the toolbar in with an extension and its SIP password (manual
//! 2.2); the extension is the agent id of the queues. From then on the
//! page shows the agent's state, the offer ringing them and the call they
//! are on, pushed over `/desk/ws` ([`hub`]); every button is a POST here
//! that acts on the agent's own state and calls only, never another's.
//! On an offer and on answer the page pops the caller's history up
//! ([`pop`]), and it shows the agent's figures of the day.

pub mod board;
pub mod hub;
pub mod pop;
pub mod supervise;
mod ws;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use dashmap::DashMap;
use serde_json::json;

use crate::auth::Identity;
use crate::form::Form;
use crate::state::AppState;
use crate::view::{json, PageCtx};

/// How the agent's calls are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phone {
    /// The page's own WebRTC phone.
    Browser,
    /// A desk phone or softphone at the extension, answering queue offers
    /// by itself (Call-Info answer-after=0).
    Desk,
}

/// Where a user's toolbar is logged in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeskLogin {
    /// The extension, also the agent id.
    pub extension: String,
    /// How calls are answered.
    pub phone: Phone,
    /// Whether the extension is an agent of some queue (else only calls
    /// out and direct calls: an outbound agent, manual 2.2).
    pub queue_agent: bool,
}

/// Toolbar logins by user id (kept in memory: after a restart the agent
/// logs the toolbar in again; the ACD keeps their status).
pub type Logins = DashMap<i64, DeskLogin>;

/// The desk's routes (mounted behind sign-in; only agents and
/// administrators get through).
pub fn routes() -> Router<AppState> {
    let routes = Router::new()
        .route("/desk", get(page))
        .route("/desk/ws", get(ws::upgrade))
        .route("/desk/state", get(state))
        .route("/desk/login", post(login))
        .route("/desk/logout", post(logout))
        .route("/desk/status", post(status))
        .route("/desk/call/{action}", post(call_action))
        .route("/desk/dial", post(dial))
        .route("/desk/pop", get(pop::pop))
        .route("/desk/history", get(pop::history))
        .route("/desk/today", get(pop::today))
        .route("/desk/floor", get(supervise::floor))
        .route("/desk/supervise/{action}", post(supervise::act));
    crate::auth::require_agent(routes)
}

/// An error for the page's script: `{"error": msg}`.
fn fail(code: StatusCode, msg: impl Into<String>) -> Response {
    json(code, &json!({ "error": msg.into() }))
}

fn login_of(state: &AppState, who: &Identity) -> Option<DeskLogin> {
    state.desk_logins().get(&who.user.id).map(|l| l.clone())
}

/// The reasons an agent may give for not being ready: value, message key.
const BREAK_REASONS: &[(&str, &str)] = &[
    ("rest", "desk.reason_rest"),
    ("meal", "desk.reason_meal"),
    ("meeting", "desk.reason_meeting"),
    ("training", "desk.reason_training"),
];

/// What the page's script shows, by its name there: message keys.
const SCRIPT_WORDS: &[(&str, &str)] = &[
    ("gender_unknown", "desk.gender_unknown"),
    ("gender_male", "desk.gender_male"),
    ("gender_female", "desk.gender_female"),
    ("ctype_normal", "desk.ctype_normal"),
    ("ctype_vip", "desk.ctype_vip"),
    ("ctype_old", "desk.ctype_old"),
    ("ctype_agent", "desk.ctype_agent"),
    ("ctype_supplier", "desk.ctype_supplier"),
    ("ctype_partner", "desk.ctype_partner"),
    ("ctype_other", "desk.ctype_other"),
    ("connecting", "desk.connecting"),
    ("online", "desk.online"),
    ("offline", "desk.offline"),
    ("not_logged_in", "desk.not_logged_in"),
    ("no_agent", "desk.no_agent"),
    ("status_Available", "desk.status_available"),
    ("status_On Break", "desk.status_on_break"),
    ("status_Logged Out", "desk.status_logged_out"),
    ("status_Available (On Demand)", "desk.status_on_demand"),
    ("state_Waiting", "desk.state_waiting"),
    ("state_Receiving", "desk.state_receiving"),
    ("state_In a queue call", "desk.state_in_call"),
    ("state_Idle", "desk.state_idle"),
    ("state_Reserved", "desk.state_reserved"),
    ("acw", "desk.acw"),
    ("offer_from", "desk.offer_from"),
    ("waited", "desk.waited"),
    ("on_call_with", "desk.on_call_with"),
    ("call_ended", "desk.call_ended"),
    ("no_call", "desk.no_call"),
    ("mute", "desk.mute"),
    ("unmute", "desk.unmute"),
    ("phone_ready", "desk.phone_ready"),
    ("phone_failed", "desk.phone_failed"),
    ("phone_connecting", "desk.phone_connecting"),
    ("pop_never", "desk.pop_never"),
    ("pop_none", "desk.pop_none"),
    ("yes", "desk.yes"),
    ("no", "desk.no"),
    ("dir_inbound", "desk.dir_inbound"),
    ("dir_outbound", "desk.dir_outbound"),
    ("dir_internal", "desk.dir_internal"),
    ("floor_listen", "desk.floor_listen"),
    ("floor_whisper", "desk.floor_whisper"),
    ("floor_barge", "desk.floor_barge"),
    ("floor_takeover", "desk.floor_takeover"),
    ("floor_ready", "desk.floor_ready"),
    ("floor_not_ready", "desk.floor_not_ready"),
    ("floor_logout", "desk.floor_logout"),
    ("floor_none", "desk.floor_none"),
    ("reminder", "desk.reminder"),
];

/// `GET /desk`: the page (its script does the rest).
async fn page(ctx: PageCtx, who: Identity, State(state): State<AppState>) -> Response {
    let login = login_of(&state, &who);
    // The script's words, in the page's language.
    let words: serde_json::Map<String, serde_json::Value> = SCRIPT_WORDS
        .iter()
        .map(|(k, key)| (k.to_string(), json!(ctx.t(key))))
        .collect();
    ctx.render(
        "desk.html",
        minijinja::Value::from_serialize(json!({
            "i18n_json": serde_json::Value::Object(words).to_string(),
            "login": login,
            "supervisor": supervise::is_supervisor(&who),
            "bound_extension": who.user.extension,
            "break_reasons": BREAK_REASONS
                .iter()
                .map(|(value, key)| json!({"value": value, "label": ctx.t(key)}))
                .collect::<Vec<_>>(),
        })),
    )
}

/// `GET /desk/state`: what the push channel's first message says (for
/// scripts and tests; the page itself is pushed to).
async fn state(who: Identity, State(state): State<AppState>) -> Response {
    let login = login_of(&state, &who);
    let mut snap = match &login {
        Some(l) => state.desk().snapshot(&l.extension),
        None => json!({"type": "snapshot"}),
    };
    snap["login"] = json!(login);
    json(StatusCode::OK, &snap)
}

/// `POST /desk/login` (extension, password, phone=browser|desk): logs the
/// toolbar in at the extension; a queue agent of that id starts on break
/// (not ready) until the agent presses Ready.
async fn login(who: Identity, State(state): State<AppState>, Form(f): Form) -> Response {
    let Some(engine) = state.engine().cloned() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running");
    };
    let ext = f.text("extension");
    let password = f.raw("password");
    let phone = match f.text("phone").as_str() {
        "" | "desk" => Phone::Desk,
        "browser" => Phone::Browser,
        other => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("phone '{other}': browser or desk"),
            )
        }
    };
    if ext.is_empty() || password.is_empty() {
        return fail(
            StatusCode::BAD_REQUEST,
            "give the extension and its password",
        );
    }
    if !who.user.extension.is_empty() && who.user.extension != ext && !who.user.is_admin {
        return fail(
            StatusCode::FORBIDDEN,
            format!("your account is bound to extension {}", who.user.extension),
        );
    }
    let known = engine.ctx().directory.get(&ext);
    let Some(extension) = known.filter(|e| e.enabled && e.password == password) else {
        return fail(StatusCode::FORBIDDEN, "wrong extension or password");
    };
    if phone == Phone::Browser && !extension.webrtc {
        return fail(
            StatusCode::FORBIDDEN,
            format!("extension {ext} may not use the browser phone (WebRTC is not enabled for it)"),
        );
    }
    // Another user's toolbar already at this extension: refuse, one desk
    // per extension (two tabs of the same user are fine).
    if let Some(other) = state
        .desk_logins()
        .iter()
        .find(|e| *e.key() != who.user.id && e.value().extension == ext)
    {
        return fail(
            StatusCode::CONFLICT,
            format!(
                "extension {ext} is in use by another user's desk (user {})",
                other.key()
            ),
        );
    }
    let queue_agent = match engine.queues().agent_config(&ext).await {
        Some(mut cfg) => {
            cfg.contact = ext.clone();
            cfg.auto_answer = phone == Phone::Desk;
            let status = engine::acd::AgentStatus::OnBreak;
            if let Err(e) = crate::api::agents::log_in(&engine, cfg, status).await {
                return fail(StatusCode::CONFLICT, e);
            }
            true
        }
        None => false,
    };
    let login = DeskLogin {
        extension: ext,
        phone,
        queue_agent,
    };
    state.desk_logins().insert(who.user.id, login.clone());
    json(StatusCode::OK, &json!({ "ok": true, "login": login }))
}

/// `POST /desk/logout`: the toolbar logs out; a queue agent is Logged Out.
async fn logout(who: Identity, State(state): State<AppState>) -> Response {
    let Some((_, login)) = state.desk_logins().remove(&who.user.id) else {
        return json(StatusCode::OK, &json!({ "ok": true }));
    };
    if let (Some(engine), true) = (state.engine(), login.queue_agent) {
        let input = engine::acd::AcdInput::SetAgentStatus {
            agent: login.extension.clone(),
            status: engine::acd::AgentStatus::LoggedOut,
        };
        if let Err(e) = engine.queues().admin(input).await {
            return fail(StatusCode::CONFLICT, e);
        }
    }
    json(StatusCode::OK, &json!({ "ok": true }))
}

/// The answer for a user whose toolbar is not logged in.
fn not_logged_in() -> Response {
    fail(StatusCode::CONFLICT, "log the voice toolbar in first")
}

/// `POST /desk/status` (status=ready|not_ready|acw_end, reason): the
/// agent's own status.
async fn status(who: Identity, State(state): State<AppState>, Form(f): Form) -> Response {
    let Some(engine) = state.engine().cloned() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running");
    };
    let Some(login) = login_of(&state, &who) else {
        return not_logged_in();
    };
    if !login.queue_agent {
        return fail(
            StatusCode::CONFLICT,
            format!("extension {} is not an agent of any queue", login.extension),
        );
    }
    let agent = login.extension.clone();
    let input = match f.text("status").as_str() {
        "ready" => engine::acd::AcdInput::SetAgentStatus {
            agent,
            status: engine::acd::AgentStatus::Available,
        },
        "not_ready" => {
            let reason = f.text("reason");
            if !reason.is_empty() && !BREAK_REASONS.iter().any(|(v, _)| *v == reason) {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!("reason '{reason}': rest, meal, meeting or training"),
                );
            }
            tracing::info!("agent {agent}: not ready ({reason})");
            engine.queues().set_break_reason(&agent, &reason);
            engine::acd::AcdInput::SetAgentStatus {
                agent,
                status: engine::acd::AgentStatus::OnBreak,
            }
        }
        "acw_end" => engine::acd::AcdInput::WrapUpDone { agent },
        other => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("status '{other}': ready, not_ready or acw_end"),
            )
        }
    };
    match engine.queues().admin(input).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => fail(StatusCode::CONFLICT, e),
    }
}

/// Keys a phone can dial: 1 to `max` of 0-9, * and #.
fn dialable(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|c| c.is_ascii_digit() || c == b'*' || c == b'#')
}

/// The agent's live call: the newest answered call their extension is on.
/// The answered call `ext` is a party of (its newest); a call joined to
/// another (a supervisor's, a 3-way party's) is not the agent's own.
fn my_call(engine: &engine::Engine, ext: &str) -> Option<u64> {
    engine
        .calls()
        .into_iter()
        .filter(|c| c.answer_at.is_some() && c.joined.is_none())
        .filter(|c| c.caller == ext || c.callee == ext || c.b_party.as_deref() == Some(ext))
        .map(|c| c.id)
        .max()
}

/// The live calls joined to call `call` (3-way and consulted parties,
/// supervisors), with how.
fn joined_to(engine: &engine::Engine, call: u64) -> Vec<(u64, &'static str)> {
    engine
        .calls()
        .into_iter()
        .filter_map(|c| match c.joined {
            Some((t, mode)) if t == call => Some((c.id, mode)),
            _ => None,
        })
        .collect()
}

/// `POST /desk/call/{action}` (hangup, hold, retrieve, transfer with
/// `to`, survey, dtmf with `digits`; conference and consult with `to`, an
/// extension or an outside number (through the gateways of its outbound
/// rule) that is rung and joins the call as a third party or, for
/// consult, talks with the agent alone; complete, which leaves the caller
/// with the consulted party; drop, which releases the parties joined):
/// on the agent's own call only.
async fn call_action(
    who: Identity,
    State(state): State<AppState>,
    Path(action): Path<String>,
    Form(f): Form,
) -> Response {
    let Some(engine) = state.engine().cloned() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running");
    };
    let Some(login) = login_of(&state, &who) else {
        return not_logged_in();
    };
    let Some(id) = my_call(&engine, &login.extension) else {
        return fail(StatusCode::CONFLICT, "you are not on a call");
    };
    let call = match engine.control(id) {
        Ok(c) => c,
        Err(e) => return fail(StatusCode::CONFLICT, e),
    };
    match action.as_str() {
        "hangup" => call.hangup(engine::calls::HangupCause::NormalClearing),
        "hold" => call.hold(true),
        "retrieve" => call.hold(false),
        "survey" => call.send_to_survey(),
        "transfer" => {
            let to = f.text("to");
            if !dialable(&to, 32) {
                return fail(StatusCode::BAD_REQUEST, "give the number to transfer to");
            }
            // The caller would leave through a gateway on the agent's word.
            if !engine::calls::originate::may_reach(engine.ctx(), &login.extension, &to) {
                return fail(
                    StatusCode::FORBIDDEN,
                    format!(
                        "extension {} may not send calls to numbers outside \
                         (allow outbound is off)",
                        login.extension
                    ),
                );
            }
            call.transfer(&to);
        }
        "dtmf" => {
            let digits = f.text("digits");
            if !dialable(&digits, 32) {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "give up to 32 keys of 0-9, * and #",
                );
            }
            if let Err(e) = call.send_dtmf(&digits).await {
                return fail(StatusCode::CONFLICT, e.to_string());
            }
        }
        "conference" | "consult" => {
            let to = f.text("to");
            if !dialable(&to, 32) || to == login.extension {
                return fail(StatusCode::BAD_REQUEST, "give the number to bring in");
            }
            if !engine::calls::originate::may_reach(engine.ctx(), &login.extension, &to) {
                return fail(
                    StatusCode::FORBIDDEN,
                    format!(
                        "extension {} may not call numbers outside (allow outbound is off)",
                        login.extension
                    ),
                );
            }
            let mode = match action.as_str() {
                "consult" => engine::calls::control::MonitorMode::Consult,
                _ => engine::calls::control::MonitorMode::Conference,
            };
            return bring_in(engine, &login.extension, id, &to, mode);
        }
        "complete" => {
            let consulted = joined_to(&engine, id)
                .into_iter()
                .find(|(_, mode)| *mode == "consult")
                .map(|(c, _)| c);
            let Some(consulted) = consulted else {
                return fail(
                    StatusCode::CONFLICT,
                    "no one is being consulted on this call",
                );
            };
            // The agent leaves from whichever leg it is on: the called
            // party of a queue call, the caller of a call it placed.
            if let Err(e) = engine
                .hand_over(id, consulted, Some(&login.extension))
                .await
            {
                return fail(StatusCode::CONFLICT, e);
            }
        }
        "drop" => {
            for (c, mode) in joined_to(&engine, id) {
                // The agent's own parties only, never a supervisor's barge.
                if matches!(mode, "consult" | "conference") {
                    if let Ok(c) = engine.control(c) {
                        c.hangup(engine::calls::HangupCause::NormalClearing);
                    }
                }
            }
        }
        other => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown action '{other}': hangup, hold, retrieve, transfer, survey, dtmf, \
                     conference, consult, complete, drop"
                ),
            )
        }
    }
    json(StatusCode::OK, &json!({ "ok": true, "call": id }))
}

/// Rings `to` (an extension, or an outside number through a gateway) and,
/// once it answers, joins it to the agent's call
/// `id` in `mode` (a 3-way party, or consulted by the agent alone).
fn bring_in(
    engine: std::sync::Arc<engine::Engine>,
    agent: &str,
    id: u64,
    to: &str,
    mode: engine::calls::control::MonitorMode,
) -> Response {
    use engine::calls::originate::{originate, Originate, Then};
    let req = Originate {
        extension: to.to_string(),
        number: agent.to_string(),
        auto_answer: false,
        ring_timeout: std::time::Duration::from_secs(30),
        then: Then::Join { call: id, mode },
    };
    tracing::info!(
        "desk: agent {agent} brings {to} into call {id} ({})",
        mode.as_str()
    );
    let to = to.to_string();
    tokio::spawn(async move {
        if let Err(e) = originate(engine.ctx(), req).await {
            tracing::info!("desk: {to} into call {id}: {e}");
        }
    });
    json(
        StatusCode::ACCEPTED,
        &json!({ "ok": true, "call": id, "mode": mode.as_str() }),
    )
}

/// `POST /desk/dial` (number): rings the agent's phone (answering by itself
/// when it is a desk phone), then the number, and connects them.
async fn dial(who: Identity, State(state): State<AppState>, Form(f): Form) -> Response {
    let Some(engine) = state.engine().cloned() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running");
    };
    let Some(login) = login_of(&state, &who) else {
        return not_logged_in();
    };
    let number = f.text("number");
    if !dialable(&number, 32) {
        return fail(StatusCode::BAD_REQUEST, "give the number to dial");
    }
    use engine::calls::originate::{originate, Originate};
    let req = Originate {
        extension: login.extension.clone(),
        number: number.clone(),
        // Both phones answer by themselves: the agent asked for the call.
        auto_answer: true,
        ring_timeout: std::time::Duration::from_secs(30),
        then: Default::default(),
    };
    // The call runs on; the desk learns of it over the push channel.
    tokio::spawn(async move {
        if let Err(e) = originate(engine.ctx(), req).await {
            tracing::info!("desk dial of {number}: {e}");
        }
    });
    json(StatusCode::ACCEPTED, &json!({ "ok": true }))
}
