//! User accounts (the manual's 3.1.1): list with search and paging,
//! create, edit (flags, bound extension, enabled, roles, departments) and
//! reset password.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Value};

use crate::auth::permissions::USERS_EDIT;
use crate::auth::{password, Identity};
use crate::form::{encode, Errors, Fields, Form, QueryFields};
use crate::pages::grid::department_paths;
use crate::pages::login::{check_new_password, MAX_USERNAME};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Longest name, e-mail, mobile accepted.
const MAX_NAME: usize = 100;
const MAX_EMAIL: usize = 254;

/// Whether `s` looks like an e-mail address: one `@`, a non-empty local
/// part, a dotted domain, no spaces or control characters.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && s.len() <= MAX_EMAIL
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether `s` is an acceptable username: 1-64 of `A-Z a-z 0-9 . _ @ -`.
pub fn valid_username(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_USERNAME
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

/// Whether `s` is an acceptable mobile number: 3-20 digits, spaces, `+-()`.
fn valid_mobile(s: &str) -> bool {
    (3..=20).contains(&s.len())
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
}

/// `GET /users?q=&page=`.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let search = q.text("q");
    let size = state.settings().page_size.max(1);
    let page = q
        .text("page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let result = state
        .store()
        .list_users(&store::UserQuery {
            search: search.clone(),
            offset: (page - 1) * size,
            limit: size,
        })
        .await;
    let found = match result {
        Ok(p) => p,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let pages = ((found.total + size - 1) / size).max(1);
    let flash = match q.text("done").as_str() {
        "created" => Some("form.created"),
        _ => None,
    };
    ctx.render(
        "users.html",
        context! {
            users => found.users, total => found.total, q => search.clone(), q_enc => encode(&search),
            page => page, pages => pages,
            prev_page => (page > 1).then_some(page - 1),
            next_page => (page < pages).then_some(page + 1),
            can_edit => identity.allows(USERS_EDIT), flash => flash,
        },
    )
}

/// What the user form shows: values, errors, role and department choices.
pub(crate) struct FormView {
    pub(crate) values: store::UserFields,
    pub(crate) roles: BTreeSet<i64>,
    pub(crate) departments: BTreeSet<i64>,
    pub(crate) errors: Errors,
    reset_errors: Errors,
}

impl FormView {
    fn new(values: store::UserFields) -> FormView {
        FormView {
            values,
            roles: BTreeSet::new(),
            departments: BTreeSet::new(),
            errors: Errors::default(),
            reset_errors: Errors::default(),
        }
    }
}

/// Renders the new (`id` None) or edit form.
async fn render_form(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<i64>,
    view: FormView,
    status: StatusCode,
    flash: Option<&str>,
) -> Response {
    let roles = match state.store().list_roles().await {
        Ok(r) => r,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let departments = match state.store().list_departments().await {
        Ok(d) => d,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let paths = department_paths(&departments);
    let role_choices: Vec<Value> = roles
        .iter()
        .map(|r| context! { id => r.id, name => r.name.clone(), checked => view.roles.contains(&r.id) })
        .collect();
    let mut dept_choices: Vec<(String, Value)> = departments
        .iter()
        .map(|d| {
            let path = paths.get(&d.id).cloned().unwrap_or_else(|| d.name.clone());
            (
                path.clone(),
                context! { id => d.id, path => path, checked => view.departments.contains(&d.id) },
            )
        })
        .collect();
    dept_choices.sort_by(|a, b| a.0.cmp(&b.0));
    ctx.render_status(
        status,
        "user_form.html",
        context! {
            editing => id.is_some(), id => id,
            action => id.map(|i| format!("/users/{i}")).unwrap_or_else(|| "/users".into()),
            v => view.values, errors => view.errors, reset_errors => view.reset_errors,
            roles => role_choices,
            departments => dept_choices.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            can_edit => identity.allows(USERS_EDIT), flash => flash,
        },
    )
}

/// `GET /users/new`.
pub async fn new_form(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    let values = store::UserFields {
        enabled: true,
        ..Default::default()
    };
    render_form(
        &state,
        &ctx,
        &identity,
        None,
        FormView::new(values),
        StatusCode::OK,
        None,
    )
    .await
}

/// `GET /users/{id}`.
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let Some(user) = load(&state, &ctx, &id).await else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        );
    };
    let mut view = FormView::new(fields_of(&user));
    match memberships(&state, user.id).await {
        Ok((roles, departments)) => {
            view.roles = roles;
            view.departments = departments;
        }
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    }
    let flash = match q.text("done").as_str() {
        "saved" => Some("form.saved"),
        "created" => Some("form.created"),
        "password" => Some("users.password_reset_done"),
        _ => None,
    };
    render_form(
        &state,
        &ctx,
        &identity,
        Some(user.id),
        view,
        StatusCode::OK,
        flash,
    )
    .await
}

/// The user with the id in the path, if it parses and exists.
async fn load(state: &AppState, ctx: &PageCtx, id: &str) -> Option<store::User> {
    let id = id.parse::<i64>().ok()?;
    match state.store().get_user(id).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(lang = ?ctx.lang, "reading user {id}: {e}");
            None
        }
    }
}

fn fields_of(u: &store::User) -> store::UserFields {
    store::UserFields {
        username: u.username.clone(),
        name: u.name.clone(),
        email: u.email.clone(),
        mobile: u.mobile.clone(),
        is_admin: u.is_admin,
        is_agent: u.is_agent,
        is_multimedia_agent: u.is_multimedia_agent,
        extension: u.extension.clone(),
        enabled: u.enabled,
    }
}

async fn memberships(state: &AppState, id: i64) -> anyhow::Result<(BTreeSet<i64>, BTreeSet<i64>)> {
    let roles = state.store().user_role_ids(id).await?.into_iter().collect();
    let depts = state
        .store()
        .user_department_ids(id)
        .await?
        .into_iter()
        .collect();
    Ok((roles, depts))
}

/// Reads and validates the user form. `editing`: the user being changed.
pub(crate) async fn read_form(
    state: &AppState,
    identity: &Identity,
    f: &Fields,
    editing: Option<&store::User>,
) -> anyhow::Result<FormView> {
    let values = store::UserFields {
        username: f.text("username"),
        name: f.text("name"),
        email: f.text("email"),
        mobile: f.text("mobile"),
        is_admin: f.flag("is_admin"),
        is_agent: f.flag("is_agent"),
        is_multimedia_agent: f.flag("is_multimedia_agent"),
        extension: f.text("extension"),
        // A new user is enabled; the edit form has the checkbox.
        enabled: editing.is_none() || f.flag("enabled"),
    };
    let mut view = FormView::new(values);
    let v = &view.values;
    let e = &mut view.errors;
    if v.username.is_empty() {
        e.add("username", "form.required");
    } else if !valid_username(&v.username) {
        e.add("username", "user.username_invalid");
    } else if let Some(owner) = state.store().user_credentials(&v.username).await? {
        // Checked here so the message shows with the others; the store
        // refuses a duplicate anyway (a race ends in the same message).
        if editing.is_none_or(|u| u.id != owner.user.id) {
            e.add("username", "user.username_taken");
        }
    }
    if v.name.chars().count() > MAX_NAME {
        e.add("name", "form.too_long");
    }
    if !v.email.is_empty() && !valid_email(&v.email) {
        e.add("email", "user.email_invalid");
    }
    if !v.mobile.is_empty() && !valid_mobile(&v.mobile) {
        e.add("mobile", "user.mobile_invalid");
    }
    if !v.extension.is_empty() {
        let known =
            v.extension.len() <= 32 && state.store().get_extension(&v.extension).await?.is_some();
        if !known {
            e.add("extension", "user.extension_unknown");
        }
    }
    if let Some(u) = editing {
        if u.id == identity.user.id {
            if u.is_admin && !v.is_admin {
                e.add("is_admin", "user.cannot_demote_self");
            }
            if !v.enabled {
                e.add("enabled", "user.cannot_disable_self");
            }
        }
    }
    if editing.is_none() {
        let (new, confirm) = (f.raw("password"), f.raw("confirm"));
        check_new_password(e, &new, &confirm, &v.username, "password", "confirm");
    }
    let known_roles: BTreeSet<i64> = state
        .store()
        .list_roles()
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    let known_depts: BTreeSet<i64> = state
        .store()
        .list_departments()
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    match f.ids("roles") {
        Ok(ids) => {
            if ids.iter().any(|i| !known_roles.contains(i)) {
                e.add("roles", "form.invalid_choice");
            }
            view.roles = ids
                .into_iter()
                .filter(|i| known_roles.contains(i))
                .collect();
        }
        Err(_) => e.add("roles", "form.invalid_choice"),
    }
    match f.ids("departments") {
        Ok(ids) => {
            if ids.iter().any(|i| !known_depts.contains(i)) {
                e.add("departments", "form.invalid_choice");
            }
            view.departments = ids
                .into_iter()
                .filter(|i| known_depts.contains(i))
                .collect();
        }
        Err(_) => e.add("departments", "form.invalid_choice"),
    }
    Ok(view)
}

/// Store errors a form can show next to a field.
pub(crate) fn field_error(err: &store::StoreError) -> Option<(&'static str, &'static str)> {
    match err {
        store::StoreError::UsernameTaken(_) => Some(("username", "user.username_taken")),
        store::StoreError::RoleNotFound(_) => Some(("roles", "form.invalid_choice")),
        store::StoreError::DepartmentNotFound(_) => Some(("departments", "form.invalid_choice")),
        _ => None,
    }
}

/// `POST /users`: creates a user, who must choose a new password at first sign-in.
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let mut view = match read_form(&state, &identity, &f, None).await {
        Ok(v) => v,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    if !view.errors.is_empty() {
        return render_form(
            &state,
            &ctx,
            &identity,
            None,
            view,
            StatusCode::BAD_REQUEST,
            None,
        )
        .await;
    }
    let hash = match password::hash_async(f.raw("password")).await {
        Ok(h) => h,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    let id = match state.store().create_user(&view.values, &hash, true).await {
        Ok(id) => id,
        Err(err) => {
            if let Some((field, key)) = field_error(&err) {
                view.errors.add(field, key);
                return render_form(
                    &state,
                    &ctx,
                    &identity,
                    None,
                    view,
                    StatusCode::BAD_REQUEST,
                    None,
                )
                .await;
            }
            return view::internal_error(false, ctx.lang, &err.into());
        }
    };
    let roles: Vec<i64> = view.roles.iter().copied().collect();
    let depts: Vec<i64> = view.departments.iter().copied().collect();
    let store = state.store();
    let assigned = async {
        store.set_user_roles(id, &roles).await?;
        store.set_user_departments(id, &depts).await
    };
    if let Err(e) = assigned.await {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    tracing::info!(
        by = identity.user.username,
        username = view.values.username,
        "user created"
    );
    Redirect::to(&format!("/users/{id}?done=created")).into_response()
}

/// `POST /users/{id}`: saves the edit form.
pub async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    let Some(user) = load(&state, &ctx, &id).await else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        );
    };
    let mut view = match read_form(&state, &identity, &f, Some(&user)).await {
        Ok(v) => v,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    if view.errors.is_empty() {
        let store = state.store();
        let roles: Vec<i64> = view.roles.iter().copied().collect();
        let depts: Vec<i64> = view.departments.iter().copied().collect();
        let saved = async {
            store.update_user(user.id, &view.values).await?;
            store.set_user_roles(user.id, &roles).await?;
            store.set_user_departments(user.id, &depts).await
        };
        match saved.await {
            Ok(()) => {
                tracing::info!(
                    by = identity.user.username,
                    username = view.values.username,
                    "user changed"
                );
                return Redirect::to(&format!("/users/{}?done=saved", user.id)).into_response();
            }
            Err(err) => match field_error(&err) {
                Some((field, key)) => view.errors.add(field, key),
                None => return view::internal_error(false, ctx.lang, &err.into()),
            },
        }
    }
    render_form(
        &state,
        &ctx,
        &identity,
        Some(user.id),
        view,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await
}

/// `POST /users/{id}/password`: an administrator sets a new password; the
/// user must change it at the next sign-in and their sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    let Some(user) = load(&state, &ctx, &id).await else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        );
    };
    let (new, confirm) = (f.raw("new_password"), f.raw("new_confirm"));
    let mut errors = Errors::default();
    check_new_password(
        &mut errors,
        &new,
        &confirm,
        &user.username,
        "new_password",
        "new_confirm",
    );
    if !errors.is_empty() {
        let mut view = FormView::new(fields_of(&user));
        if let Ok((roles, depts)) = memberships(&state, user.id).await {
            view.roles = roles;
            view.departments = depts;
        }
        view.reset_errors = errors;
        return render_form(
            &state,
            &ctx,
            &identity,
            Some(user.id),
            view,
            StatusCode::BAD_REQUEST,
            None,
        )
        .await;
    }
    let hash = match password::hash_async(new).await {
        Ok(h) => h,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    // Resetting one's own password here keeps the current session.
    let keep = match &identity.via {
        crate::auth::Via::Session { id, .. } if user.id == identity.user.id => Some(id.as_str()),
        _ => None,
    };
    if let Err(e) = state
        .store()
        .set_user_password(user.id, &hash, true, keep)
        .await
    {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    tracing::info!(
        by = identity.user.username,
        username = user.username,
        "password reset"
    );
    Redirect::to(&format!("/users/{}?done=password", user.id)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules() {
        assert!(valid_email("zhang.san1@itibia.com"));
        assert!(!valid_email("no-at.example.com"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a@@b.com"));
        assert!(!valid_email("a b@c.com"));
        assert!(!valid_email("@c.com"));
        assert!(!valid_email("a@.c.com"));
        assert!(valid_username("agent_01.x@y-z"));
        assert!(!valid_username("has space"));
        assert!(!valid_username("张三"));
        assert!(!valid_username(&"x".repeat(65)));
        assert!(valid_mobile("+86 138-0000-0000"));
        assert!(!valid_mobile("12"));
        assert!(!valid_mobile("phone"));
    }
}
