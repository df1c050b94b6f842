//! The JSON API of this node's status, the system settings (with the test
//! e-mail and test SMS) and the dictionaries. Input is checked by the
//! settings page's own rules; a refusal names the setting.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::form::Fields;
use crate::i18n::Lang;
use crate::notify::{self, EmailSettings, SmsSettings};
use crate::pages::system::settings::{
    check, field, parse_items, shown, valid_dictionary_name, valid_test_mobile, KEYS,
};
use crate::state::AppState;
use crate::view::{api_error, json};

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("API: {e}");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server error (see the server log)",
        None,
    )
}

/// The body as a JSON object, or the 400 that says what is wrong.
fn object(body: &str) -> Result<serde_json::Map<String, serde_json::Value>, Box<Response>> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
            None,
        ))),
        Err(e) => Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
            None,
        ))),
    }
}

/// A string member of `body` (numbers are taken as their text).
fn text(body: &serde_json::Map<String, serde_json::Value>, key: &str) -> String {
    match body.get(key) {
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `GET /api/status`: this node's version, uptime, active calls and
/// registrations (`running: false` when no engine runs in the process).
#[utoipa::path(get, path = "/api/status", tag = "status", responses((status = 200, description = "version, running, uptime_secs, active_calls, registrations", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn status(State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &crate::pages::home::node_status(&state))
}

/// `GET /api/settings`: the system settings with their defaults, by key
/// (`system.name`, `smtp.host`, ...). The SMTP password is never shown:
/// `smtp.password_set` says whether one is stored.
#[utoipa::path(get, path = "/api/settings", tag = "settings", responses((status = 200, description = "the settings by key", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn settings(State(state): State<AppState>) -> Response {
    match state.store().settings().await {
        Ok(stored) => json(StatusCode::OK, &by_key(&stored)),
        Err(e) => internal(e),
    }
}

/// The settings as the API shows them: every key, defaults filled in.
fn by_key(stored: &BTreeMap<String, String>) -> serde_json::Value {
    let form = shown(stored);
    let mut out = serde_json::Map::new();
    for key in KEYS.iter().filter(|k| **k != "smtp.password") {
        let value = form.get(&field(key)).cloned().unwrap_or_default();
        out.insert(key.to_string(), value.into());
    }
    let set = stored.get("smtp.password").is_some_and(|p| !p.is_empty());
    out.insert("smtp.password_set".into(), set.into());
    serde_json::Value::Object(out)
}

/// `PUT /api/settings`: changes the settings given (by key); the others
/// keep their values, and an empty or missing `smtp.password` keeps the
/// stored one. All are checked as on the settings page; a refusal names
/// the first setting at fault and changes nothing.
#[utoipa::path(put, path = "/api/settings", tag = "settings", request_body(content = serde_json::Value, content_type = "application/json", description = "settings by key, e.g. {\"system.name\": \"Hotline\", \"audit.retention_days\": 90}"), responses((status = 200, description = "the settings in force", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn put_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(unknown) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return api_error(StatusCode::BAD_REQUEST, "no such setting", Some(unknown));
    }
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    // The page's form: what is stored, overridden by what was sent.
    let mut f = Fields::default();
    for (name, value) in shown(&stored) {
        let key = KEYS.iter().find(|k| field(k) == name);
        match key.filter(|k| body.contains_key(**k)) {
            Some(k) => f.push(&name, &text(&body, k)),
            None => f.push(&name, &value),
        }
    }
    let values = match check(&f) {
        Ok(v) => v,
        Err(errors) => {
            let all: serde_json::Map<String, serde_json::Value> = errors
                .0
                .iter()
                .map(|(name, msg)| {
                    let key = KEYS
                        .iter()
                        .find(|k| field(k) == *name)
                        .map_or(name.clone(), |k| k.to_string());
                    (key, lang.t(msg, &[]).into())
                })
                .collect();
            let (first, message) = all
                .iter()
                .next()
                .map(|(k, m)| (k.clone(), m.as_str().unwrap_or_default().to_string()))
                .unwrap_or_default();
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": message, "field": first, "errors": all }),
            );
        }
    };
    if let Err(e) = state.store().put_settings(&values).await {
        return internal(e);
    }
    state.set_site_name(&f.text("system_name"));
    settings(State(state)).await
}

/// `POST /api/settings/test-email` (`{"to": "ops@example.com"}`): sends a
/// test message with the saved settings; `ok` and the server's answer.
#[utoipa::path(post, path = "/api/settings/test-email", tag = "settings", request_body(content = serde_json::Value, content_type = "application/json", description = "{\"to\": \"address\"}"), responses((status = 200, description = "{ok, answer}: the SMTP server's answer or why it failed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn test_email(State(state): State<AppState>, body: String) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let to = text(&body, "to");
    if to.parse::<lettre::message::Mailbox>().is_err() {
        return api_error(StatusCode::BAD_REQUEST, "not an e-mail address", Some("to"));
    }
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let site = state.site_name();
    let outcome = notify::send_email(
        &EmailSettings::from_map(&stored),
        &to,
        &format!("{site}: test e-mail"),
        &format!("This is a test message from {site}."),
    )
    .await;
    let (ok, answer) = match outcome {
        Ok(a) => (true, a),
        Err(why) => (false, why),
    };
    json(
        StatusCode::OK,
        &serde_json::json!({ "ok": ok, "answer": answer }),
    )
}

/// `POST /api/settings/test-sms` (`{"mobile": "+8613800000000"}`): calls
/// the gateway with the saved settings; `ok` (a 2xx answer) and its
/// status (never its body), or why the call failed or was refused.
#[utoipa::path(post, path = "/api/settings/test-sms", tag = "settings", request_body(content = serde_json::Value, content_type = "application/json", description = "{\"mobile\": \"number\"}"), responses((status = 200, description = "{ok, status, answer}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn test_sms(State(state): State<AppState>, body: String) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mobile = text(&body, "mobile");
    if !valid_test_mobile(&mobile) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "digits and + only, up to 20",
            Some("mobile"),
        );
    }
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let text = format!("{}: test message", state.site_name());
    let allow_private = state.settings().sms_allow_private_targets;
    let sms = SmsSettings::from_map(&stored);
    let sent = notify::send_sms(&sms, &mobile, &text, allow_private);
    let answer = match sent.await {
        Ok(status) => serde_json::json!({
            "ok": (200..300).contains(&status), "status": status,
            "answer": format!("HTTP {status}"),
        }),
        Err(why) => serde_json::json!({ "ok": false, "status": null, "answer": why }),
    };
    json(StatusCode::OK, &answer)
}

/// `GET /api/dictionaries`: the names of the dictionaries.
#[utoipa::path(get, path = "/api/dictionaries", tag = "settings", responses((status = 200, description = "dictionary names", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn dictionaries(State(state): State<AppState>) -> Response {
    match state.store().dictionaries().await {
        Ok(names) => json(StatusCode::OK, &names),
        Err(e) => internal(e),
    }
}

/// `GET /api/dictionaries/{name}`: the items, in order.
#[utoipa::path(get, path = "/api/dictionaries/{name}", tag = "settings", params(("name" = String, Path, description = "dictionary name")), responses((status = 200, description = "the dictionary's items", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn dictionary(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.store().dictionary(&name).await {
        Ok(items) if !items.is_empty() => json(StatusCode::OK, &items),
        Ok(_) => api_error(StatusCode::NOT_FOUND, "no such dictionary", None),
        Err(e) => internal(e),
    }
}

/// `PUT /api/dictionaries/{name}` (`{"items": [{"value": "vip", "label":
/// "VIP"}, ...]}`): replaces the items; values are unique and non-empty.
#[utoipa::path(put, path = "/api/dictionaries/{name}", tag = "settings", params(("name" = String, Path, description = "dictionary name: letters, digits, _ - .")), request_body(content = serde_json::Value, content_type = "application/json", description = "{\"items\": [{\"value\", \"label\"}]}"), responses((status = 200, description = "the items saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn put_dictionary(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    if !valid_dictionary_name(&name) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "letters, digits, _ - . (1-64)",
            Some("name"),
        );
    }
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(serde_json::Value::Array(list)) = body.get("items") else {
        return api_error(StatusCode::BAD_REQUEST, "a list of items", Some("items"));
    };
    // The page's format, so the page's rules apply: `value=label` lines.
    let mut lines = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let (value, label) = match item {
            serde_json::Value::Object(o) => (text(o, "value"), text(o, "label")),
            serde_json::Value::String(s) => (s.trim().to_string(), String::new()),
            _ => (String::new(), String::new()),
        };
        if value.is_empty() || value.contains(['=', '\n', '\r']) || label.contains(['\n', '\r']) {
            return api_error(
                StatusCode::BAD_REQUEST,
                "each item needs a value without '=' or line breaks",
                Some(&format!("items[{i}]")),
            );
        }
        lines.push(if label.is_empty() {
            value
        } else {
            format!("{value}={label}")
        });
    }
    let items = match parse_items(&lines.join("\n")) {
        Ok(items) if !items.is_empty() => items,
        Ok(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "at least one item (DELETE removes a dictionary)",
                Some("items"),
            )
        }
        Err(line) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("a value is repeated or too long: {line}"),
                Some("items"),
            )
        }
    };
    match state.store().put_dictionary(&name, &items).await {
        Ok(()) => dictionary(State(state), Path(name)).await,
        Err(e) => internal(e),
    }
}

/// `DELETE /api/dictionaries/{name}`.
#[utoipa::path(delete, path = "/api/dictionaries/{name}", tag = "settings", params(("name" = String, Path, description = "dictionary name")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_dictionary(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Response {
    match state.store().dictionary(&name).await {
        Ok(items) if items.is_empty() => {
            return api_error(StatusCode::NOT_FOUND, "no such dictionary", None)
        }
        Ok(_) => {}
        Err(e) => return internal(e),
    }
    match state.store().put_dictionary(&name, &[]).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(e) => internal(e),
    }
}
