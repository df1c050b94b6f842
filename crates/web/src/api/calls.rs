//! Live calls: list and control of calls the engine answered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{engine, err, no_engine};
use crate::auth::permissions::AGENTS_MANAGE;
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::json;

/// `GET /api/calls`: live calls as JSON.
#[utoipa::path(get, path = "/api/calls", tag = "calls", responses((status = 200, description = "live calls", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(State(state): State<AppState>) -> Response {
    match engine(&state) {
        Some(engine) => json(StatusCode::OK, &engine.calls()),
        None => no_engine(),
    }
}

/// `POST /api/calls/{id}/{action}`: hold, retrieve, hangup, survey,
/// `three_way?with=ID`, `transfer?to=EXT`, `dtmf?digits=...`,
/// `join?extension=EXT&mode=listen|whisper|barge|consult|conference[&agent=EXT]`
/// (ring EXT, answering by itself, and join it to the call once it
/// answers: a supervisor, a 3-way party, a consulted party; for consult
/// and conference EXT may also be an outside number, rung through the
/// gateways of its outbound rule as the agent's own call out; answers with
/// the joined call's id), `hand_over?with=ID[&agent=EXT]` (the agent
/// leaves, whichever leg it is on, and the other party stays with the
/// joined call ID: an attended transfer completed), `mode?mode=...` (on a
/// joined call: change how it takes part).
#[utoipa::path(post, path = "/api/calls/{id}/{action}", tag = "calls", params(("id" = String, Path, description = "call id"), ("action" = String, Path, description = "hold, retrieve, hangup, survey, three_way, transfer, dtmf, join, hand_over, mode"), ("with" = Option<String>, Query, description = "three_way: the other call; hand_over: the joined call (the agent leaves, the other party stays with it)"), ("to" = Option<String>, Query, description = "transfer: an extension, a queue's number (the caller waits in that queue) or a number out through a gateway"), ("digits" = Option<String>, Query, description = "dtmf: the digits"), ("extension" = Option<String>, Query, description = "join: the extension rung; with mode consult or conference also an outside number, rung through the gateways of its outbound rule with the agent's caller ID (the agent's extension must be allowed to dial out, else 403)"), ("mode" = Option<String>, Query, description = "join and mode: listen, whisper, barge, consult or conference; needs agents:manage"), ("agent" = Option<String>, Query, description = "join and hand_over: the agent on the call (whom a whisper reaches, who places an outside party's call, who leaves at a hand-over); default the called party, or the caller of a call the agent placed (click-to-dial)")), responses((status = 200, description = "the action was carried out", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn action(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, action)): Path<(String, String)>,
    QueryFields(q): QueryFields,
) -> Response {
    // Joining a call hears it: a supervisor's right, not only call control's.
    if matches!(action.as_str(), "join" | "mode") && !identity.allows(AGENTS_MANAGE) {
        return err(
            StatusCode::FORBIDDEN,
            format!("permission {} required", AGENTS_MANAGE.key()),
        );
    }
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
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
            let Ok(with) = q.text("with").parse::<u64>() else {
                return err(
                    StatusCode::BAD_REQUEST,
                    "give with=<the consultation call's id>",
                );
            };
            if let Err(e) = engine.three_way(id, with).await {
                return err(StatusCode::CONFLICT, e);
            }
        }
        "transfer" => {
            let to = q.text("to");
            if to.is_empty() || !to.chars().all(|c| c.is_ascii_digit()) {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("transfer target '{to}': give an extension"),
                );
            }
            call.transfer(&to);
        }
        "dtmf" => {
            let digits = q.text("digits");
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
        "join" => return join(engine, id, &q).await,
        "mode" => {
            use engine::calls::control::MonitorMode;
            let Some(mode) = MonitorMode::parse(&q.text("mode")) else {
                return err(
                    StatusCode::BAD_REQUEST,
                    "mode is listen, whisper, barge, consult or conference",
                );
            };
            let joined = engine
                .calls()
                .into_iter()
                .any(|c| c.id == id && c.joined.is_some());
            if !joined {
                return err(
                    StatusCode::CONFLICT,
                    format!("call {id} is not joined to another call"),
                );
            }
            call.set_monitor_mode(mode);
        }
        "hand_over" => {
            let Ok(with) = q.text("with").parse::<u64>() else {
                return err(StatusCode::BAD_REQUEST, "give with=<the joined call's id>");
            };
            let agent = q.text("agent");
            let agent = (!agent.is_empty()).then_some(agent.as_str());
            if let Err(e) = engine.hand_over(id, with, agent).await {
                return err(StatusCode::CONFLICT, e);
            }
        }
        other => {
            return err(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown action '{other}' (hold, retrieve, hangup, dtmf, transfer, survey, \
                     three_way, join, hand_over, mode)"
                ),
            )
        }
    }
    json(
        StatusCode::OK,
        &serde_json::json!({ "ok": true, "call": id, "action": action }),
    )
}

/// `join`: rings `extension` (asking it to answer by itself) and joins it
/// to call `id` in `mode` once it answers. For a consult or a 3-way,
/// `extension` may be a number outside, which the originate places through
/// its outbound rule's gateways for the agent (see
/// [`engine::calls::originate`]).
async fn join(engine: &engine::Engine, id: u64, q: &crate::form::Fields) -> Response {
    use engine::calls::control::MonitorMode;
    use engine::calls::originate::{originate, Originate, OriginateError, Then};
    let Some(mode) = MonitorMode::parse(&q.text("mode")) else {
        return err(
            StatusCode::BAD_REQUEST,
            "mode is listen, whisper, barge, consult or conference",
        );
    };
    let extension = q.text("extension");
    if !dialable(&extension) {
        return err(
            StatusCode::BAD_REQUEST,
            "give extension=<the phone to ring, or for consult and conference a number outside>",
        );
    }
    let agent = match q.text("agent") {
        a if !a.is_empty() => a,
        _ => engine
            .calls()
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.default_agent())
            .unwrap_or_default(),
    };
    if engine.ctx().directory.get(&extension).is_none() {
        // A number outside takes part in the agent's conversation only;
        // listening in and whispering are for supervisors' phones.
        if !matches!(mode, MonitorMode::Consult | MonitorMode::Conference) {
            return err(
                StatusCode::BAD_REQUEST,
                format!(
                    "no extension {extension}: only consult and conference ring numbers outside"
                ),
            );
        }
        // It leaves through a gateway as the agent's call out.
        if !engine::calls::originate::may_reach(engine.ctx(), &agent, &extension) {
            return err(
                StatusCode::FORBIDDEN,
                format!("extension {agent} may not call numbers outside (allow outbound is off)"),
            );
        }
    }
    let req = Originate {
        extension: extension.clone(),
        number: agent,
        auto_answer: true,
        ring_timeout: std::time::Duration::from_secs(30),
        then: Then::Join { call: id, mode },
    };
    match originate(engine.ctx(), req).await {
        Ok(joined) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "call": id, "action": "join", "joined": joined, "mode": mode.as_str() }),
        ),
        Err(e @ OriginateError::Invalid(_)) => err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ OriginateError::NotAnswered(..)) => err(StatusCode::CONFLICT, e.to_string()),
        Err(e @ OriginateError::Unavailable(_)) => {
            err(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

/// A number to ring: 1 to 32 digits, an optional leading `+` (E.164).
fn dialable(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && s.len() <= 32 && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::dialable;

    #[test]
    fn join_rings_extensions_and_numbers_outside() {
        for ok in ["1004", "0555", "+8613800000000", "0"] {
            assert!(dialable(ok), "{ok}");
        }
        for bad in ["", "+", "10a4", "sip:1004", "1004 ", "++1", &"1".repeat(33)] {
            assert!(!dialable(bad), "{bad}");
        }
    }
}
