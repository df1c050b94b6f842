//! SIP gateways over the API, as the gateway pages do it: a body is read as
//! the form's fields and checked and saved by the pages' own functions
//! ([`crate::pages::voice::gateways`]), so the rules and messages are the
//! same. Passwords are write-only: no answer holds one (`password_set`
//! says whether one is stored), and a PUT without one keeps it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use callcenter::gateway::config::Gateway;
use serde_json::Value;

use super::{body_json, engine, fill_defaults, form_of, named_body, no_engine, refused_messages};
use crate::auth::Identity;
use crate::i18n::Lang;
use crate::pages::voice::gateways::{load, remove as remove_gateway, save, Outcome};
use crate::state::AppState;
use crate::view::{api_error, internal_error, json};

/// A gateway as the API shows it: every setting but the password.
fn gateway_json(g: &Gateway) -> Value {
    let mut v = serde_json::to_value(g).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("password");
        o.insert("password_set".into(), (!g.password.is_empty()).into());
    }
    v
}

/// A new gateway's settings (mod_sofia's defaults), for what a POST or PUT
/// body leaves out.
fn defaults() -> Value {
    let mut v = serde_json::to_value(Gateway::default()).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("name");
        o.remove("password");
    }
    v
}

fn not_found(name: &str) -> Response {
    api_error(StatusCode::NOT_FOUND, &format!("no gateway '{name}'"), None)
}

/// `GET /api/gateways`: every gateway, by name.
#[utoipa::path(get, path = "/api/gateways", tag = "gateways", responses((status = 200, description = "{gateways: [...]}: every setting but the password (password_set says whether one is stored)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(State(state): State<AppState>) -> Response {
    match state.store().list_gateways().await {
        Ok(all) => {
            let gateways: Vec<Value> = all.iter().map(gateway_json).collect();
            json(StatusCode::OK, &serde_json::json!({ "gateways": gateways }))
        }
        Err(e) => internal_error(true, Lang::En, &e.into()),
    }
}

/// `GET /api/gateways/status`: every gateway's live status (manual
/// 3.2.8): registration state and why, last answer, next attempt, pings,
/// calls in progress and since start, the IMS Service-Route.
#[utoipa::path(get, path = "/api/gateways/status", tag = "gateways", responses((status = 200, description = "{gateways: [{name, mode, enabled, state (NOREG, UNREGED, TRYING, REGISTER, REGED, FAILED, FAIL_WAIT, UNREGISTER, DOWN), status, usable, why_not, last_response, failures, next_attempt_secs, registered_secs_left, granted_expires, ping (UP, DOWN, UNKNOWN), ping_rtt_ms, calls, max_calls, calls_total, calls_failed, registers_sent, service_route, associated_uris}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn status(State(state): State<AppState>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    json(
        StatusCode::OK,
        &serde_json::json!({ "gateways": engine.gateways() }),
    )
}

/// `GET /api/gateways/{name}`: one gateway (without its password).
#[utoipa::path(get, path = "/api/gateways/{name}", tag = "gateways", params(("name" = String, Path, description = "gateway name")), responses((status = 200, description = "the gateway's settings (no password)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match load(&state, &name).await {
        Ok(Some(g)) => json(StatusCode::OK, &gateway_json(&g)),
        Ok(None) => not_found(&name),
        Err(e) => internal_error(true, Lang::En, &e),
    }
}

/// Saves `value` (a JSON object of the form's fields) and answers with the
/// gateway, or the refusal naming the fields at fault.
async fn put(
    state: &AppState,
    identity: &Identity,
    lang: Lang,
    editing: Option<&str>,
    value: &Value,
) -> Response {
    let f = match form_of(value) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match save(state, lang, editing, &f, &identity.user.username).await {
        Ok(Outcome::Done(name)) => match load(state, &name).await {
            Ok(Some(g)) => json(StatusCode::OK, &gateway_json(&g)),
            Ok(None) => not_found(&name),
            Err(e) => internal_error(true, lang, &e),
        },
        Ok(Outcome::NotFound) => not_found(editing.unwrap_or_default()),
        Ok(Outcome::Refused(_, errs, status)) => refused_messages(status, &errs),
        Err(e) => internal_error(true, lang, &e),
    }
}

/// `POST /api/gateways`: adds a gateway, checked as the page's form does
/// (409 naming `name` if it exists). Settings left out take a new
/// gateway's defaults.
#[utoipa::path(post, path = "/api/gateways", tag = "gateways", request_body(content = serde_json::Value, content_type = "application/json", description = "name, note, mode (nni, uni, ims), proxy (HOST or HOST:PORT), port (5060), transport (udp, tcp, tls), username, password, auth_username, realm, from_user, from_domain, register_proxy, outbound_proxy, expire_secs (3600), retry_secs (30), ping_secs (0: off), caller_id_in_from (false), codecs ([PCMU, PCMA, G722, opus, telephone-event]; empty: the server's), max_calls (0: unlimited), strip_digits, add_prefix, caller_id, privacy (none, id), identity (none, pai, ppi), enabled (true), impu, impi, home_domain, pcscf (IMS), addresses ([IP or CIDR], NNI)"), responses((status = 200, description = "the gateway (no password)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let mut value = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    fill_defaults(&mut value, defaults());
    put(&state, &identity, lang, None, &value).await
}

/// `PUT /api/gateways/{name}`: replaces the gateway's settings, checked as
/// the edit form does: settings left out take a new gateway's defaults, an
/// empty or absent `password` keeps the stored one. The body of a GET can
/// be sent back changed.
#[utoipa::path(put, path = "/api/gateways/{name}", tag = "gateways", params(("name" = String, Path, description = "gateway name")), request_body(content = serde_json::Value, content_type = "application/json", description = "the settings as for POST; an empty or absent password keeps the stored one"), responses((status = 200, description = "the gateway (no password)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let value = match named_body(&body, "name", &name, defaults()) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    put(&state, &identity, lang, Some(&name), &value).await
}

/// `DELETE /api/gateways/{name}`: removes the gateway (409 while a routing
/// rule sends calls through it).
#[utoipa::path(delete, path = "/api/gateways/{name}", tag = "gateways", params(("name" = String, Path, description = "gateway name")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    match remove_gateway(&state, lang, &name, &identity.user.username).await {
        Ok(Outcome::Done(name)) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "gateway": name }),
        ),
        Ok(Outcome::NotFound) => not_found(&name),
        Ok(Outcome::Refused(_, errs, status)) => refused_messages(status, &errs),
        Err(e) => internal_error(true, lang, &e),
    }
}
