//! Reports over the API. So far the Erlang C staffing calculator:
//! `GET /api/reports/erlang-c?calls_per_interval=&interval_s=&aht_s=&target_sl=&target_s=`
//! answers `{"agents": N, ...}` with the service level and average speed of
//! answer N agents give, beside the agents logged in now.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use callcenter::erlang::{BadForecast, Forecast, Staffing};
use serde_json::json;

use crate::form::{Fields, QueryFields};
use crate::state::AppState;
use crate::view::{api_error, json};

/// The forecast a request asks for; the first bad parameter otherwise.
/// `target_sl` is a share (0.8) or a percentage (80); `target_s` defaults
/// to 20 and `target_sl` to 0.8 (the usual 80/20), `interval_s` to 1800.
pub fn forecast_of(q: &Fields) -> Result<Forecast, BadForecast> {
    let num = |field: &'static str, default: Option<f64>| -> Result<f64, BadForecast> {
        let text = q.text(field);
        if text.is_empty() {
            return default.ok_or(BadForecast {
                field,
                message: "required",
            });
        }
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(BadForecast {
                field,
                message: "a number",
            })
    };
    let mut target_sl = num("target_sl", Some(0.8))?;
    if target_sl >= 1.0 && target_sl < 100.0 {
        target_sl /= 100.0;
    }
    let f = Forecast {
        calls_per_interval: num("calls_per_interval", None)?,
        interval_s: num("interval_s", Some(1800.0))?,
        aht_s: num("aht_s", None)?,
        target_sl,
        target_s: num("target_s", Some(20.0))?,
    };
    f.check()?;
    Ok(f)
}

/// A staffing as JSON (an ASA that never ends is `null`).
pub fn staffing_json(s: &Staffing) -> serde_json::Value {
    json!({
        "agents": s.agents,
        "traffic_erlangs": s.traffic_erlangs,
        "probability_wait": s.probability_wait,
        "service_level": s.service_level,
        "asa_s": s.asa_s.is_finite().then_some(s.asa_s),
        "occupancy": s.occupancy,
    })
}

/// `GET /api/reports/erlang-c`: agents needed for a service-level target.
#[utoipa::path(get, path = "/api/reports/erlang-c", tag = "reports", params(
    ("calls_per_interval" = f64, Query, description = "calls expected in one interval"),
    ("interval_s" = Option<f64>, Query, description = "the interval, seconds (default 1800)"),
    ("aht_s" = f64, Query, description = "average handle time, seconds"),
    ("target_sl" = Option<f64>, Query, description = "share answered within target_s: 0.8 or 80 (default 0.8)"),
    ("target_s" = Option<f64>, Query, description = "answer-time target, seconds (default 20)")),
    responses((status = 200, description = "{agents, traffic_erlangs, probability_wait, service_level, asa_s, occupancy, target_sl, target_s, logged_in, alternatives: [{agents, service_level, asa_s, occupancy, ...}]}: `agents` is the fewest that meet the target (Erlang C); `logged_in` the agents logged in now", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn erlang_c(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let f = match forecast_of(&q) {
        Ok(f) => f,
        Err(b) => return api_error(StatusCode::BAD_REQUEST, b.message, Some(b.field)),
    };
    let needed = match f.needed() {
        Ok(s) => s,
        Err(b) => return api_error(StatusCode::BAD_REQUEST, b.message, Some(b.field)),
    };
    let mut body = staffing_json(&needed);
    let alternatives: Vec<serde_json::Value> = alternatives(&f, needed.agents)
        .iter()
        .map(staffing_json)
        .collect();
    if let Some(o) = body.as_object_mut() {
        o.insert("target_sl".into(), json!(f.target_sl));
        o.insert("target_s".into(), json!(f.target_s));
        o.insert("logged_in".into(), json!(state.desk().counters().online));
        o.insert("alternatives".into(), json!(alternatives));
    }
    json(StatusCode::OK, &body)
}

/// What a few agents fewer and more than `needed` give (the table beside
/// the answer), never below one more than the traffic.
pub fn alternatives(f: &Forecast, needed: u32) -> Vec<Staffing> {
    let floor = (f.traffic().floor() as u32).saturating_add(1).max(1);
    let from = needed.saturating_sub(2).max(floor.min(needed));
    (from..=needed.saturating_add(3))
        .map(|n| f.with_agents(n))
        .collect()
}
