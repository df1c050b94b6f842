//! The JSON API under `/api`, authenticated by an API token
//! (`Authorization: Bearer ...`) or a signed-in session, with the same
//! permission checks as the pages. Errors are `{"error": "...", "field": ...}`
//! with a 4xx status (5xx only for server faults). The OpenAPI document of
//! every route is served at `GET /api/openapi.json` ([`doc`]).
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
pub mod doc;
mod lists;
mod media;
mod queues;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use engine::Engine;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::permissions::{
    AGENTS_MANAGE, AUDIT_VIEW, CALLS_CONTROL, CALLS_VIEW, DEPARTMENTS_EDIT, DEPARTMENTS_VIEW,
    LISTS_EDIT, LISTS_VIEW, MEDIA_EDIT, MEDIA_VIEW, QUEUES_EDIT, QUEUES_VIEW, REGISTRATIONS_VIEW,
    ROLES_EDIT, ROLES_VIEW, SETTINGS_VIEW, USERS_EDIT, USERS_VIEW, VOICEMAIL_VIEW,
};
use crate::auth::Identity;
use crate::state::AppState;
use crate::view::{api_error, json};
use doc::guard;

/// The API routes (mounted behind `authenticate`) and their OpenAPI
/// document. Each group is mounted behind its permission by
/// [`doc::guard`]; `routes!` takes one path's handlers at a time.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = || OpenApiRouter::<AppState>::new();
    let signed_in = api().routes(routes!(me));
    let calls_view = api().routes(routes!(calls::list));
    let calls_control = api().routes(routes!(calls::action));
    let queues_view = api()
        .routes(routes!(queues::list))
        .routes(routes!(queues::settings));
    let queues_edit = api().routes(routes!(queues::reload, queues::remove));
    let voicemail_view = api().routes(routes!(queues::voicemail));
    let agents_manage = api()
        .routes(routes!(agents::status))
        .routes(routes!(agents::login))
        .routes(routes!(agents::wrapup_done))
        .routes(routes!(agents::dial));
    let lists_view = api().routes(routes!(lists::list));
    let lists_edit = api()
        .routes(routes!(lists::add))
        .routes(routes!(lists::remove));
    let registrations_view = api().routes(routes!(lists::registrations));
    let media_view = api()
        .routes(routes!(media::list))
        .routes(routes!(media::file));
    // The media limit is checked in the upload handler, with a JSON
    // answer; this only keeps a runaway body from being read whole.
    let media_edit = api()
        .routes(routes!(media::upload))
        .routes(routes!(media::rename, media::remove))
        .layer(DefaultBodyLimit::max(media::MAX_BODY));
    let users_view = api()
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::get_user));
    let users_edit = api()
        .routes(routes!(admin::create_user))
        .routes(routes!(admin::update_user));
    let roles_view = api().routes(routes!(admin::list_roles));
    let roles_edit = api()
        .routes(routes!(admin::create_role))
        .routes(routes!(admin::update_role, admin::delete_role));
    let departments_view = api().routes(routes!(admin::list_departments));
    let departments_edit = api()
        .routes(routes!(admin::create_department))
        .routes(routes!(admin::update_department, admin::delete_department));
    let audit_view = api().routes(routes!(admin::audit));
    let settings_view = api()
        .routes(routes!(admin::settings))
        .routes(routes!(admin::dictionary));
    let (router, openapi) = signed_in
        .merge(guard(USERS_VIEW, users_view))
        .merge(guard(USERS_EDIT, users_edit))
        .merge(guard(ROLES_VIEW, roles_view))
        .merge(guard(ROLES_EDIT, roles_edit))
        .merge(guard(DEPARTMENTS_VIEW, departments_view))
        .merge(guard(DEPARTMENTS_EDIT, departments_edit))
        .merge(guard(AUDIT_VIEW, audit_view))
        .merge(guard(SETTINGS_VIEW, settings_view))
        .merge(guard(CALLS_VIEW, calls_view))
        .merge(guard(CALLS_CONTROL, calls_control))
        .merge(guard(QUEUES_VIEW, queues_view))
        .merge(guard(QUEUES_EDIT, queues_edit))
        .merge(guard(VOICEMAIL_VIEW, voicemail_view))
        .merge(guard(AGENTS_MANAGE, agents_manage))
        .merge(guard(LISTS_VIEW, lists_view))
        .merge(guard(LISTS_EDIT, lists_edit))
        .merge(guard(REGISTRATIONS_VIEW, registrations_view))
        .merge(guard(MEDIA_VIEW, media_view))
        .merge(guard(MEDIA_EDIT, media_edit))
        .split_for_parts();
    (router, doc::finish(openapi))
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
#[utoipa::path(get, path = "/api/me", tag = "account", responses((status = 200, description = "id, username, name, is_admin, permissions", body = serde_json::Value), crate::api::doc::Errors))]
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
