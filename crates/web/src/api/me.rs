//! The caller's own account: which notifications they get by e-mail.
//! Any signed-in user (no permission needed), always about themselves.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::body_json;
use crate::auth::Identity;
use crate::notify::EmailSettings;
use crate::notify_crm::{self, KINDS};
use crate::state::AppState;
use crate::view::{api_error, json};

/// The caller's settings as the API shows them: each kind on or off, the
/// address the mail goes to, and whether a mail server is set at all.
async fn settings_of(state: &AppState, who: &Identity) -> Response {
    let off = notify_crm::switched_off(state.store(), who.user.id).await;
    let smtp_configured = match state.store().settings().await {
        Ok(m) => !EmailSettings::from_map(&m).host.trim().is_empty(),
        Err(e) => {
            tracing::error!("reading the SMTP settings: {e}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the settings failed, see the server log",
                None,
            );
        }
    };
    let kinds: Vec<Value> = KINDS
        .iter()
        .map(|k| json!({ "kind": k, "on": !off.iter().any(|o| o == k) }))
        .collect();
    json(
        StatusCode::OK,
        &json!({
            "kinds": kinds,
            "email": who.user.email,
            "smtp_configured": smtp_configured,
        }),
    )
}

/// `GET /api/me/notifications`: each kind of e-mail notification and
/// whether the caller gets it.
#[utoipa::path(get, path = "/api/me/notifications", tag = "account", responses((status = 200, description = "{kinds: [{kind, on}], email, smtp_configured}; kinds: ticket_assigned, ticket_replied, ticket_overdue, appointment_due, missed_call, voicemail", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn notifications(who: Identity, State(state): State<AppState>) -> Response {
    settings_of(&state, &who).await
}

/// `PUT /api/me/notifications` (`{"off": ["missed_call", ...]}`): the
/// kinds the caller does not want; every other kind is on. An unknown
/// kind is refused (400, naming it) and nothing changes.
#[utoipa::path(put, path = "/api/me/notifications", tag = "account", request_body(content = serde_json::Value, description = "{off: [kind, ...]}", content_type = "application/json"), responses((status = 200, description = "the settings now, as GET gives them", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn put_notifications(
    who: Identity,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(list) = v.get("off").and_then(Value::as_array) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            &format!("off: a list of kinds ({})", KINDS.join(", ")),
            Some("off"),
        );
    };
    let mut off = Vec::with_capacity(list.len());
    for item in list {
        match item.as_str() {
            Some(k) if KINDS.contains(&k) => off.push(k.to_string()),
            _ => {
                // Quoted as JSON: the text given may be anything.
                return api_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "off: unknown notification kind {item} (known: {})",
                        KINDS.join(", ")
                    ),
                    Some("off"),
                );
            }
        }
    }
    if let Err(e) = notify_crm::set_switched_off(state.store(), who.user.id, &off).await {
        tracing::error!(
            "saving the notification settings of {}: {e}",
            who.user.username
        );
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "saving failed, see the server log",
            None,
        );
    }
    tracing::info!(
        username = who.user.username,
        off = off.join(","),
        "notification settings changed"
    );
    settings_of(&state, &who).await
}
