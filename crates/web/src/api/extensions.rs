//! Extensions (SIP accounts) over the API, as the extensions page does it:
//! the same search and paging, the same batch create (`101-110`, all or
//! none, numbers that already exist named), the same checks of every
//! setting, the same store calls (the running engine's directory picks
//! every change up by itself). SIP passwords are never shown, as on the
//! page (its list has none and its edit form leaves the field empty).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use store::Extension;

use super::{body_json, fill_defaults, form_of, named_body, refused_messages};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::i18n::Lang;
use crate::pages::voice::extensions::{
    create_batch, load, registered_now, search, update_one, ExtPage, Outcome,
};
use crate::state::AppState;
use crate::view::{api_error, internal_error, json};

/// An extension as the API shows it: every setting but the password, and
/// whether it is registered now (null without an engine).
fn ext_json(e: &Extension, registered: Option<bool>) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("password");
        o.insert("registered".into(), registered.into());
    }
    v
}

/// The settings of a new extension (as the page's new form shows them), for
/// the members a POST or PUT body leaves out.
fn defaults() -> serde_json::Value {
    let mut v = serde_json::to_value(Extension::default()).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        for k in ["number", "password", "caller_ids"] {
            o.remove(k);
        }
    }
    v
}

/// `GET /api/extensions?q=&page=`: a page of extensions, as the list page
/// shows it (same search, same page size).
#[utoipa::path(get, path = "/api/extensions", tag = "extensions", params(("q" = Option<String>, Query, description = "search in number, name, type, target, gateway, pickup group"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{extensions: [...], total, page, pages, page_size}; no passwords", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let page = q.text("page").parse::<usize>().unwrap_or(1);
    let found = match search(&state, &q.text("q"), page).await {
        Ok(f) => f,
        Err(e) => return internal_error(true, Lang::En, &e.into()),
    };
    let registered = registered_now(&state);
    let ExtPage {
        rows,
        total,
        page,
        pages,
        size,
    } = found;
    let extensions: Vec<serde_json::Value> = rows
        .iter()
        .map(|e| ext_json(e, registered.as_ref().map(|r| r.contains(&e.number))))
        .collect();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "extensions": extensions, "total": total, "page": page,
            "pages": pages, "page_size": size,
        }),
    )
}

/// `GET /api/extensions/{ext}`: one extension (without its password).
#[utoipa::path(get, path = "/api/extensions/{ext}", tag = "extensions", params(("ext" = String, Path, description = "extension number")), responses((status = 200, description = "the extension's settings (no password) and whether it is registered", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get(State(state): State<AppState>, Path(ext): Path<String>) -> Response {
    match load(&state, &ext).await {
        Ok(Some(e)) => {
            let registered = registered_now(&state).map(|r| r.contains(&e.number));
            json(StatusCode::OK, &ext_json(&e, registered))
        }
        Ok(None) => not_found(&ext),
        Err(e) => internal_error(true, Lang::En, &e),
    }
}

fn not_found(ext: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &format!("no extension '{ext}'"),
        None,
    )
}

/// `POST /api/extensions`: creates one extension or a batch, as the page's
/// batch create: `numbers` is `"101"`, `"101-110"`, `"101-103, 120"` (or a
/// list of those; `number` is taken for `numbers`), with one password and
/// the settings for all (those left out as on the page's new form: enabled,
/// direct, outbound calls allowed, auto-answer off). All or none: a number
/// that already exists is refused naming `numbers` (409 if it was created
/// meanwhile).
#[utoipa::path(post, path = "/api/extensions", tag = "extensions", request_body(content = serde_json::Value, content_type = "application/json", description = "numbers (\"101-110\"), password, display_name, kind (direct, ivr, queue, robot), target, announce_agent_id, allow_outbound, record, after_call_work, auto_answer (off, all, queue), pickup_group, gateway, webrtc, caller_ids: [numbers of the number pool], auth_algorithms (\"\" for the server's sip.auth_algorithms, MD5, SHA-256, SHA-256,MD5)"), responses((status = 200, description = "{created: [numbers]}", body = serde_json::Value), crate::api::doc::Errors))]
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
    if let Some(o) = value.as_object_mut() {
        if let Some(n) = o.remove("number") {
            o.entry("numbers").or_insert(n);
        }
        // The form has one specification: a list is its comma-separated parts.
        if let Some(serde_json::Value::Array(parts)) = o.get("numbers") {
            let parts: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            o.insert("numbers".into(), parts.join(",").into());
        }
    }
    fill_defaults(&mut value, defaults());
    let f = match form_of(&value) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match create_batch(&state, lang, &f, &identity.user.username).await {
        Ok(Outcome::Done(created)) => {
            json(StatusCode::OK, &serde_json::json!({ "created": created }))
        }
        Ok(Outcome::Refused(view, status)) => refused_messages(status, &view.errors),
        Ok(Outcome::NotFound) => not_found(""),
        Err(e) => internal_error(true, lang, &e),
    }
}

/// `PUT /api/extensions/{ext}`: replaces the extension's settings, checked
/// and saved as the edit form does: settings left out take a new
/// extension's values (as for POST), an empty or absent `password` keeps
/// the old one. The body of a GET can be sent back changed.
#[utoipa::path(put, path = "/api/extensions/{ext}", tag = "extensions", params(("ext" = String, Path, description = "extension number")), request_body(content = serde_json::Value, content_type = "application/json", description = "the settings as for POST (without numbers), plus enabled; an empty password keeps the old one"), responses((status = 200, description = "the extension (no password)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(ext): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let f = match named_body(&body, "number", &ext, defaults()).and_then(|v| form_of(&v)) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match update_one(&state, lang, &ext, &f, &identity.user.username).await {
        Ok(Outcome::Done(_)) => get(State(state), Path(ext)).await,
        Ok(Outcome::Refused(view, status)) => refused_messages(status, &view.errors),
        Ok(Outcome::NotFound) => not_found(&ext),
        Err(e) => internal_error(true, lang, &e),
    }
}

/// `DELETE /api/extensions/{ext}`: removes the extension, as the page's
/// remove button.
#[utoipa::path(delete, path = "/api/extensions/{ext}", tag = "extensions", params(("ext" = String, Path, description = "extension number")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove(
    State(state): State<AppState>,
    identity: Identity,
    Path(ext): Path<String>,
) -> Response {
    match state
        .store()
        .remove_extensions(std::slice::from_ref(&ext))
        .await
    {
        Ok(0) => not_found(&ext),
        Ok(_) => {
            crate::pages::voice::extensions::applied(&state).await;
            tracing::info!(by = identity.user.username, numbers = ?[&ext], "extensions removed");
            json(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "extension": ext }),
            )
        }
        Err(e) => internal_error(true, Lang::En, &e.into()),
    }
}
