//! The JSON API under `/api`, authenticated by an API token
//! (`Authorization: Bearer ...`) or a signed-in session, with the same
//! permission checks as the pages. Errors are `{"error": "...", "field": ...}`
//! with a 4xx status (5xx only for server faults).
//!
//! | route | permission |
//! |---|---|
//! | `GET /api/me` | signed in |
//! | `GET /api/calls` | `calls:view` |
//! | `POST /api/calls/{id}/{action}` | `calls:control` |
//! | `GET /api/queues`, `GET /api/queues/{name}` | `voice.queues:view` |
//! | `PUT`, `DELETE /api/queues/{name}` | `voice.queues:edit` |
//! | `GET /api/voicemail/{ext}` | `voicemail:view` |
//! | `POST /api/agents/{id}/status\|login\|wrapup_done\|dial` | `agents:manage` |
//! | `GET /api/lists/{list}` | `voice.lists:view` |
//! | `POST /api/lists/{list}`, `DELETE /api/lists/{list}/{value}` | `voice.lists:edit` |
//! | `GET /api/registrations` | `voice.registrations:view` |
//! | `GET /api/media`, `GET /api/media/{name}` | `voice.media:view` |
//! | `POST /api/media`, `PUT`, `DELETE /api/media/{name}` | `voice.media:edit` |
//! | `GET /api/users`, `GET /api/users/{id}` | `system.users:view` |
//! | `POST /api/users`, `PUT /api/users/{id}` | `system.users:edit` |
//! | `GET /api/roles` | `system.roles:view` |
//! | `POST /api/roles`, `PUT`, `DELETE /api/roles/{id}` | `system.roles:edit` |
//! | `GET /api/departments` | `system.departments:view` |
//! | `POST /api/departments`, `PUT`, `DELETE /api/departments/{id}` | `system.departments:edit` |
//! | `GET /api/audit` | `system.audit:view` |
//! | `GET /api/settings`, `GET /api/dictionaries/{name}` | `system.settings:view` |

mod admin;
mod agents;
mod calls;
mod lists;
mod media;
mod queues;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::Router;
use engine::Engine;

use crate::auth::permissions::{
    AGENTS_MANAGE, AUDIT_VIEW, CALLS_CONTROL, CALLS_VIEW, DEPARTMENTS_EDIT, DEPARTMENTS_VIEW,
    LISTS_EDIT, LISTS_VIEW, MEDIA_EDIT, MEDIA_VIEW, QUEUES_EDIT, QUEUES_VIEW, REGISTRATIONS_VIEW,
    ROLES_EDIT, ROLES_VIEW, SETTINGS_VIEW, USERS_EDIT, USERS_VIEW, VOICEMAIL_VIEW,
};
use crate::auth::{require, Identity};
use crate::state::AppState;
use crate::view::{api_error, json};

/// The API routes (mounted behind `authenticate`).
pub fn routes() -> Router<AppState> {
    let signed_in = Router::new().route("/api/me", get(me));
    let calls_view = Router::new().route("/api/calls", get(calls::list));
    let calls_control = Router::new().route("/api/calls/{id}/{action}", post(calls::action));
    let queues_view = Router::new()
        .route("/api/queues", get(queues::list))
        .route("/api/queues/{name}", get(queues::settings));
    let queues_edit = Router::new().route(
        "/api/queues/{name}",
        put(queues::reload).delete(queues::remove),
    );
    let lists_view = Router::new().route("/api/lists/{list}", get(lists::list));
    let lists_edit = Router::new()
        .route("/api/lists/{list}", post(lists::add))
        .route("/api/lists/{list}/{value}", delete(lists::remove));
    let registrations_view = Router::new().route("/api/registrations", get(lists::registrations));
    let media_view = Router::new()
        .route("/api/media", get(media::list))
        .route("/api/media/{name}", get(media::file));
    // The media limit is checked in the upload handler, with a JSON
    // answer; this only keeps a runaway body from being read whole.
    let media_edit = Router::new()
        .route("/api/media", post(media::upload))
        .route(
            "/api/media/{name}",
            put(media::rename).delete(media::remove),
        )
        .layer(DefaultBodyLimit::max(media::MAX_BODY));
    let voicemail_view = Router::new().route("/api/voicemail/{ext}", get(queues::voicemail));
    let agents_manage = Router::new()
        .route("/api/agents/{id}/status", post(agents::status))
        .route("/api/agents/{id}/login", post(agents::login))
        .route("/api/agents/{id}/wrapup_done", post(agents::wrapup_done))
        .route("/api/agents/{id}/dial", post(agents::dial));
    let users_view = Router::new()
        .route("/api/users", get(admin::list_users))
        .route("/api/users/{id}", get(admin::get_user));
    let users_edit = Router::new()
        .route("/api/users", post(admin::create_user))
        .route("/api/users/{id}", put(admin::update_user));
    let roles_view = Router::new().route("/api/roles", get(admin::list_roles));
    let roles_edit = Router::new()
        .route("/api/roles", post(admin::create_role))
        .route(
            "/api/roles/{id}",
            put(admin::update_role).delete(admin::delete_role),
        );
    let departments_view = Router::new().route("/api/departments", get(admin::list_departments));
    let departments_edit = Router::new()
        .route("/api/departments", post(admin::create_department))
        .route(
            "/api/departments/{id}",
            put(admin::update_department).delete(admin::delete_department),
        );
    let audit_view = Router::new().route("/api/audit", get(admin::audit));
    let settings_view = Router::new()
        .route("/api/settings", get(admin::settings))
        .route("/api/dictionaries/{name}", get(admin::dictionary));
    signed_in
        .merge(require(USERS_VIEW, users_view))
        .merge(require(USERS_EDIT, users_edit))
        .merge(require(ROLES_VIEW, roles_view))
        .merge(require(ROLES_EDIT, roles_edit))
        .merge(require(DEPARTMENTS_VIEW, departments_view))
        .merge(require(DEPARTMENTS_EDIT, departments_edit))
        .merge(require(AUDIT_VIEW, audit_view))
        .merge(require(SETTINGS_VIEW, settings_view))
        .merge(require(CALLS_VIEW, calls_view))
        .merge(require(CALLS_CONTROL, calls_control))
        .merge(require(QUEUES_VIEW, queues_view))
        .merge(require(QUEUES_EDIT, queues_edit))
        .merge(require(VOICEMAIL_VIEW, voicemail_view))
        .merge(require(AGENTS_MANAGE, agents_manage))
        .merge(require(LISTS_VIEW, lists_view))
        .merge(require(LISTS_EDIT, lists_edit))
        .merge(require(REGISTRATIONS_VIEW, registrations_view))
        .merge(require(MEDIA_VIEW, media_view))
        .merge(require(MEDIA_EDIT, media_edit))
}

/// `GET /metrics`: Prometheus text, open to scrapers (no sign-in).
pub async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use axum::response::IntoResponse;
    match state.engine() {
        Some(engine) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            engine.metrics_text(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "engine not running\n").into_response(),
    }
}

/// `GET /api/me`: who the token or session belongs to and what it may do.
async fn me(identity: Identity) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({
            "id": identity.user.id,
            "username": identity.user.username,
            "name": identity.user.name,
            "is_admin": identity.user.is_admin,
            "permissions": identity.grants.keys,
        }),
    )
}

/// `{"error": msg}` with `status`.
fn err(status: StatusCode, msg: impl AsRef<str>) -> Response {
    api_error(status, msg.as_ref(), None)
}

/// The engine, when one runs in this process (see [`no_engine`]).
fn engine(state: &AppState) -> Option<&Arc<Engine>> {
    state.engine()
}

/// The answer when no engine runs in this process (router tests).
fn no_engine() -> Response {
    err(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running")
}

/// API JSON 404 for unknown `/api` paths.
pub async fn not_found() -> Response {
    err(StatusCode::NOT_FOUND, "not found")
}
