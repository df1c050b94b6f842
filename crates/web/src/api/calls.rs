//! Live calls: list and control of calls the engine answered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{engine, err, no_engine};
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
/// `three_way?with=ID`, `transfer?to=EXT`, `dtmf?digits=...`.
#[utoipa::path(post, path = "/api/calls/{id}/{action}", tag = "calls", params(("id" = String, Path, description = "call id"), ("action" = String, Path, description = "hold, retrieve, hangup, survey, three_way, transfer, dtmf"), ("with" = Option<String>, Query, description = "three_way: the other call"), ("to" = Option<String>, Query, description = "transfer: the extension"), ("digits" = Option<String>, Query, description = "dtmf: the digits")), responses((status = 200, description = "the action was carried out", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    QueryFields(q): QueryFields,
) -> Response {
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
                return err(StatusCode::BAD_REQUEST, "give with=<the consultation call's id>");
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
