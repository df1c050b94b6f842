//! The JSON API of users, roles, departments (with their members) and the
//! audit log. Input is checked by the same rules as the pages' forms
//! (the JSON object is read as form fields), and a refusal names the field
//! and says why in the request's language.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{fields, refused_messages};
use crate::auth::{password, Identity};
use crate::form::{Errors, QueryFields};
use crate::i18n::Lang;
use crate::pages::members::{self, Group};
use crate::pages::{departments, roles, users};
use crate::state::AppState;
use crate::view::{api_error, json};

/// 400 naming the first field at fault, with every message in `errors`.
fn refused(lang: Lang, errors: &Errors) -> Response {
    let all: std::collections::BTreeMap<String, String> = errors
        .0
        .iter()
        .map(|(f, key)| (f.clone(), lang.t(key, &[])))
        .collect();
    refused_messages(StatusCode::BAD_REQUEST, &all)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("API: {e}");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server error (see the server log)",
        None,
    )
}

fn not_found(what: &str) -> Response {
    api_error(StatusCode::NOT_FOUND, &format!("no such {what}"), None)
}

/// The user ids of a `{"users": [id, ...]}` body, or the 400 naming `users`
/// (none given, or a value that is not an id).
fn chosen_users(lang: Lang, body: &str) -> Result<Vec<i64>, Box<Response>> {
    let f = fields(body)?;
    members::chosen(&f, "users").map_err(|key| {
        let mut errors = Errors::default();
        errors.add("users", key);
        Box::new(refused(lang, &errors))
    })
}

/// The 400 naming `users` for user `id` that does not exist.
fn unknown_user(lang: Lang, id: i64) -> Response {
    let mut messages = std::collections::BTreeMap::new();
    messages.insert(
        "users".to_string(),
        lang.t("members.user_unknown_id", &[("id", &id.to_string())]),
    );
    refused_messages(StatusCode::BAD_REQUEST, &messages)
}

/// The members of a role or department as JSON, or 404 naming the group.
async fn members_of(group: Group, state: &AppState, id: i64) -> Response {
    match group.members(state, id).await {
        Ok(Some(m)) => json(StatusCode::OK, &m),
        Ok(None) => not_found(group.noun()),
        Err(e) => internal(e),
    }
}

/// Adds `{"users": [...]}` to a role or department; its members after.
async fn add_members(
    group: Group,
    state: AppState,
    headers: HeaderMap,
    id: i64,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let users = match chosen_users(lang, &body) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    match group.add(&state, id, &users).await {
        Ok(_) => members_of(group, &state, id).await,
        Err(e) if group.is_missing(&e) => not_found(group.noun()),
        Err(store::StoreError::UserNotFound(u)) => unknown_user(lang, u),
        Err(e) => internal(e),
    }
}

/// Takes `user` out of a role or department.
async fn remove_member(group: Group, state: AppState, id: i64, user: i64) -> Response {
    match group.remove(&state, id, user).await {
        Ok(true) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Ok(false) => not_found(&format!("member of this {}", group.noun())),
        Err(e) if group.is_missing(&e) => not_found(group.noun()),
        Err(e) => internal(e),
    }
}

/// A user as the API shows it, with memberships.
async fn user_json(
    state: &AppState,
    u: store::User,
) -> Result<serde_json::Value, store::StoreError> {
    let roles = state.store().user_role_ids(u.id).await?;
    let departments = state.store().user_department_ids(u.id).await?;
    let mut v = serde_json::to_value(&u).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("roles".into(), roles.into());
        o.insert("departments".into(), departments.into());
    }
    Ok(v)
}

/// `GET /api/users?q=&page=`.
#[utoipa::path(get, path = "/api/users", tag = "users", params(("q" = Option<String>, Query, description = "search in username, name, e-mail, mobile"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "a page of users", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_users(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let size = state.settings().page_size.max(1);
    let page = q
        .text("page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    match state
        .store()
        .list_users(&store::UserQuery {
            search: q.text("q"),
            offset: (page - 1) * size,
            limit: size,
        })
        .await
    {
        Ok(p) => json(
            StatusCode::OK,
            &serde_json::json!({ "users": p.users, "total": p.total, "page": page, "page_size": size }),
        ),
        Err(e) => internal(e),
    }
}

/// `GET /api/users/{id}`.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path, description = "user id")), responses((status = 200, description = "the user with role and department ids", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_user(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().get_user(id).await {
        Ok(Some(u)) => match user_json(&state, u).await {
            Ok(v) => json(StatusCode::OK, &v),
            Err(e) => internal(e),
        },
        Ok(None) => not_found("user"),
        Err(e) => internal(e),
    }
}

/// `POST /api/users`: creates a user (who must change the password at
/// first sign-in).
#[utoipa::path(post, path = "/api/users", tag = "users", request_body(content = serde_json::Value, content_type = "application/json", description = "username, name, email, mobile, password, is_admin, is_agent, is_multimedia_agent, extension, roles: [id], departments: [id]"), responses((status = 200, description = "the new user", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_user(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let mut f = match fields(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if f.raw("confirm").is_empty() {
        let pw = f.raw("password");
        f.push("confirm", &pw);
    }
    let mut view = match users::read_form(&state, &identity, &f, None).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    if !view.errors.is_empty() {
        return refused(lang, &view.errors);
    }
    let hash = match password::hash_async(f.raw("password")).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let id = match state.store().create_user(&view.values, &hash, true).await {
        Ok(id) => id,
        Err(err) => {
            return match users::field_error(&err) {
                Some((field, key)) => {
                    view.errors.add(field, key);
                    refused(lang, &view.errors)
                }
                None => internal(err),
            }
        }
    };
    let roles: Vec<i64> = view.roles.iter().copied().collect();
    let depts: Vec<i64> = view.departments.iter().copied().collect();
    if let Err(e) = state.store().set_user_roles(id, &roles).await {
        return internal(e);
    }
    if let Err(e) = state.store().set_user_departments(id, &depts).await {
        return internal(e);
    }
    get_user(State(state), Path(id)).await
}

/// `PUT /api/users/{id}`: replaces the user's fields and memberships.
#[utoipa::path(put, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path, description = "user id")), request_body(content = serde_json::Value, content_type = "application/json", description = "the user's fields as for POST (without password), plus enabled"), responses((status = 200, description = "the user", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_user(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let f = match fields(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let user = match state.store().get_user(id).await {
        Ok(Some(u)) => u,
        Ok(None) => return not_found("user"),
        Err(e) => return internal(e),
    };
    let mut view = match users::read_form(&state, &identity, &f, Some(&user)).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    if !view.errors.is_empty() {
        return refused(lang, &view.errors);
    }
    let roles: Vec<i64> = view.roles.iter().copied().collect();
    let depts: Vec<i64> = view.departments.iter().copied().collect();
    let store = state.store();
    let saved = async {
        store.update_user(id, &view.values).await?;
        store.set_user_roles(id, &roles).await?;
        store.set_user_departments(id, &depts).await
    };
    if let Err(err) = saved.await {
        return match users::field_error(&err) {
            Some((field, key)) => {
                view.errors.add(field, key);
                refused(lang, &view.errors)
            }
            None => internal(err),
        };
    }
    get_user(State(state), Path(id)).await
}

/// `GET /api/roles`.
#[utoipa::path(get, path = "/api/roles", tag = "roles", responses((status = 200, description = "the roles with their grants", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_roles(State(state): State<AppState>) -> Response {
    match state.store().list_roles().await {
        Ok(r) => json(StatusCode::OK, &r),
        Err(e) => internal(e),
    }
}

/// `POST /api/roles` (`{"name", "description", "grant": ["system.users:view", ...]}`).
#[utoipa::path(post, path = "/api/roles", tag = "roles", request_body(content = serde_json::Value, content_type = "application/json", description = "{\"name\", \"description\", \"grant\": [\"system.users:view\", ...]}"), responses((status = 200, description = "the new role", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let f = match fields(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (v, mut errors) = roles::read(&f);
    if !errors.is_empty() {
        return refused(lang, &errors);
    }
    let grants: Vec<String> = v.grants.iter().cloned().collect();
    match state
        .store()
        .create_role(&v.name, &v.description, &grants)
        .await
    {
        Ok(id) => match state.store().get_role(id).await {
            Ok(r) => json(StatusCode::OK, &r),
            Err(e) => internal(e),
        },
        Err(store::StoreError::RoleNameTaken(_)) => {
            errors.add("name", "role.name_taken");
            refused(lang, &errors)
        }
        Err(e) => internal(e),
    }
}

/// `PUT /api/roles/{id}`.
#[utoipa::path(put, path = "/api/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "role id")), request_body(content = serde_json::Value, content_type = "application/json", description = "as for POST"), responses((status = 200, description = "the role", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let f = match fields(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (v, mut errors) = roles::read(&f);
    if !errors.is_empty() {
        return refused(lang, &errors);
    }
    let grants: Vec<String> = v.grants.iter().cloned().collect();
    match state
        .store()
        .update_role(id, &v.name, &v.description, &grants)
        .await
    {
        Ok(()) => match state.store().get_role(id).await {
            Ok(r) => json(StatusCode::OK, &r),
            Err(e) => internal(e),
        },
        Err(store::StoreError::RoleNameTaken(_)) => {
            errors.add("name", "role.name_taken");
            refused(lang, &errors)
        }
        Err(store::StoreError::RoleNotFound(_)) => not_found("role"),
        Err(e) => internal(e),
    }
}

/// `DELETE /api/roles/{id}`.
#[utoipa::path(delete, path = "/api/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "role id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_role(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().delete_role(id).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(store::StoreError::RoleNotFound(_)) => not_found("role"),
        Err(e) => internal(e),
    }
}

/// `GET /api/roles/{id}/members`: the users who are members of the role.
#[utoipa::path(get, path = "/api/roles/{id}/members", tag = "roles", params(("id" = i64, Path, description = "role id")), responses((status = 200, description = "the role's members (users), by username", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn role_members(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    members_of(Group::Role, &state, id).await
}

/// `POST /api/roles/{id}/members` (`{"users": [id, ...]}`): adds the users
/// to the role, all or none (an unknown user is refused naming its id);
/// members already in it stay.
#[utoipa::path(post, path = "/api/roles/{id}/members", tag = "roles", params(("id" = i64, Path, description = "role id")), request_body(content = serde_json::Value, content_type = "application/json", description = "{\"users\": [user id, ...]}"), responses((status = 200, description = "the role's members after the change", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn add_role_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    add_members(Group::Role, state, headers, id, body).await
}

/// `DELETE /api/roles/{id}/members/{user}`: takes the user out of the role.
#[utoipa::path(delete, path = "/api/roles/{id}/members/{user}", tag = "roles", params(("id" = i64, Path, description = "role id"), ("user" = i64, Path, description = "user id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove_role_member(
    State(state): State<AppState>,
    Path((id, user)): Path<(i64, i64)>,
) -> Response {
    remove_member(Group::Role, state, id, user).await
}

/// `GET /api/departments`.
#[utoipa::path(get, path = "/api/departments", tag = "departments", responses((status = 200, description = "the department tree (parent ids)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_departments(State(state): State<AppState>) -> Response {
    match state.store().list_departments().await {
        Ok(d) => json(StatusCode::OK, &d),
        Err(e) => internal(e),
    }
}

/// `POST /api/departments` (`{"name", "parent_id", "grant": [...]}`).
#[utoipa::path(post, path = "/api/departments", tag = "departments", request_body(content = serde_json::Value, content_type = "application/json", description = "{\"name\", \"parent_id\", \"grant\": [...]}"), responses((status = 200, description = "the new department", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_department(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    save_department(state, headers, None, body).await
}

/// `PUT /api/departments/{id}` (a move under its own sub-department is
/// refused, naming `parent_id`).
#[utoipa::path(put, path = "/api/departments/{id}", tag = "departments", params(("id" = i64, Path, description = "department id")), request_body(content = serde_json::Value, content_type = "application/json", description = "as for POST; a move under its own sub-department is refused naming parent_id"), responses((status = 200, description = "the department", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_department(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    save_department(state, headers, Some(id), body).await
}

async fn save_department(
    state: AppState,
    headers: HeaderMap,
    id: Option<i64>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let f = match fields(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (v, mut errors) = departments::read(&f);
    if !errors.is_empty() {
        return refused(lang, &errors);
    }
    let saved = match id {
        Some(id) => state.store().update_department(id, &v).await.map(|()| id),
        None => state.store().create_department(&v).await,
    };
    match saved {
        Ok(id) => match state.store().list_departments().await {
            Ok(all) => match all.into_iter().find(|d| d.id == id) {
                Some(d) => json(StatusCode::OK, &d),
                None => not_found("department"),
            },
            Err(e) => internal(e),
        },
        Err(store::StoreError::DepartmentNotFound(n)) if Some(n) == id => not_found("department"),
        Err(err) => match departments::field_error(&err) {
            Some((field, key)) => {
                errors.add(field, key);
                refused(lang, &errors)
            }
            None => internal(err),
        },
    }
}

/// `DELETE /api/departments/{id}`.
#[utoipa::path(delete, path = "/api/departments/{id}", tag = "departments", params(("id" = i64, Path, description = "department id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_department(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().delete_department(id).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(store::StoreError::DepartmentNotFound(_)) => not_found("department"),
        Err(e) => api_error(StatusCode::CONFLICT, &e.to_string(), None),
    }
}

/// `GET /api/departments/{id}/members`: the users who are direct members
/// of the department.
#[utoipa::path(get, path = "/api/departments/{id}/members", tag = "departments", params(("id" = i64, Path, description = "department id")), responses((status = 200, description = "the department's direct members (users), by username", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn department_members(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    members_of(Group::Department, &state, id).await
}

/// `POST /api/departments/{id}/members` (`{"users": [id, ...]}`): adds the
/// users to the department, all or none (an unknown user is refused
/// naming its id); members already in it stay.
#[utoipa::path(post, path = "/api/departments/{id}/members", tag = "departments", params(("id" = i64, Path, description = "department id")), request_body(content = serde_json::Value, content_type = "application/json", description = "{\"users\": [user id, ...]}"), responses((status = 200, description = "the department's direct members after the change", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn add_department_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    add_members(Group::Department, state, headers, id, body).await
}

/// `DELETE /api/departments/{id}/members/{user}`: takes the user out of
/// the department.
#[utoipa::path(delete, path = "/api/departments/{id}/members/{user}", tag = "departments", params(("id" = i64, Path, description = "department id"), ("user" = i64, Path, description = "user id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove_department_member(
    State(state): State<AppState>,
    Path((id, user)): Path<(i64, i64)>,
) -> Response {
    remove_member(Group::Department, state, id, user).await
}

/// `GET /api/audit?username=&ip=&method=&url=&params=&keyword=&action=&result=ok|failed&from=&to=&page=`
/// (`from`/`to` in unix milliseconds).
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(("username" = Option<String>, Query, description = ""), ("ip" = Option<String>, Query, description = ""), ("method" = Option<String>, Query, description = ""), ("url" = Option<String>, Query, description = ""), ("params" = Option<String>, Query, description = ""), ("keyword" = Option<String>, Query, description = ""), ("action" = Option<String>, Query, description = ""), ("result" = Option<String>, Query, description = "ok or failed"), ("from" = Option<i64>, Query, description = "unix milliseconds"), ("to" = Option<i64>, Query, description = "unix milliseconds"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "a page of audit entries", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn audit(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let size = 100;
    let page = q
        .text("page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    // The first field that is not unix milliseconds, if any.
    let time = |name: &'static str| -> Result<Option<i64>, &'static str> {
        let t = q.text(name);
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<i64>().map(Some).map_err(|_| name)
    };
    let (from, to) = match (time("from"), time("to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(field), _) | (_, Err(field)) => {
            return api_error(StatusCode::BAD_REQUEST, "unix milliseconds", Some(field))
        }
    };
    let query = store::AuditQuery {
        keyword: q.text("keyword"),
        username: q.text("username"),
        ip: q.text("ip"),
        method: q.text("method").to_ascii_uppercase(),
        url: q.text("url"),
        params: q.text("params"),
        action: q.text("action"),
        ok: match q.text("result").as_str() {
            "ok" => Some(true),
            "failed" => Some(false),
            _ => None,
        },
        from,
        to,
        offset: (page - 1) * size,
        limit: size,
    };
    match state.store().search_audit(&query).await {
        Ok(p) => json(
            StatusCode::OK,
            &serde_json::json!({ "entries": p.entries, "total": p.total, "page": page, "page_size": size }),
        ),
        Err(e) => internal(e),
    }
}
