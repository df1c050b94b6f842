//! Departments (the manual's 3.1.3): the tree, create, edit (name, parent,
//! permission grid), delete. A move that would make a cycle is refused
//! with a message next to the parent field. The edit page lists the
//! direct members, with "add users to the department" (a multi-select of
//! the enabled users who are not members) and a remove button per member;
//! users are given departments on the user form too.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Value};

use crate::auth::permissions::DEPARTMENTS_EDIT;
use crate::auth::Identity;
use crate::form::{Errors, Form, QueryFields};
use crate::pages::grid::{department_paths, department_tree, grant_grid, grants_from};
use crate::pages::members::{self, not_found};
use crate::state::AppState;
use crate::view::{self, PageCtx};

const MAX_NAME: usize = 64;

/// `GET /departments`: the tree.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let all = match state.store().list_departments().await {
        Ok(d) => d,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let flash = (q.text("done") == "deleted").then_some("form.deleted");
    ctx.render(
        "departments.html",
        context! { tree => department_tree(&all), can_edit => identity.allows(DEPARTMENTS_EDIT), flash => flash },
    )
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<i64>,
    v: &store::DepartmentFields,
    errors: Errors,
    status: StatusCode,
    flash: Option<&str>,
) -> Response {
    let all = match state.store().list_departments().await {
        Ok(d) => d,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    // The members panel (shown on the edit page only).
    let panel = match id {
        Some(id) => match state.store().department_members(id).await {
            Ok(m) => members::panel(state, m).await,
            Err(e) => Err(e),
        },
        None => Ok((Vec::new(), Vec::new())),
    };
    let (members, candidates) = match panel {
        Ok(p) => p,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let paths = department_paths(&all);
    let mut parents: Vec<(String, Value)> = all
        .iter()
        .filter(|d| Some(d.id) != id)
        .map(|d| {
            let path = paths.get(&d.id).cloned().unwrap_or_else(|| d.name.clone());
            (
                path.clone(),
                context! { id => d.id, path => path, selected => v.parent_id == Some(d.id) },
            )
        })
        .collect();
    parents.sort_by(|a, b| a.0.cmp(&b.0));
    let granted: BTreeSet<String> = v.grants.iter().cloned().collect();
    ctx.render_status(
        status,
        "department_form.html",
        context! {
            editing => id.is_some(), id => id,
            action => id.map(|i| format!("/departments/{i}")).unwrap_or_else(|| "/departments".into()),
            v => context! { name => v.name.clone() },
            parents => parents.into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
            grid => grant_grid(&granted), errors => errors,
            members => members, candidates => candidates,
            can_edit => identity.allows(DEPARTMENTS_EDIT), flash => flash,
        },
    )
}

/// `GET /departments/new?parent=`.
pub async fn new_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let v = store::DepartmentFields {
        parent_id: q.text("parent").parse().ok(),
        ..Default::default()
    };
    render_form(
        &state,
        &ctx,
        &identity,
        None,
        &v,
        Errors::default(),
        StatusCode::OK,
        None,
    )
    .await
}

/// Shows the stored department `id` (the 404 page if there is none), with
/// `errors` (e.g. of the add-members form) and `flash`.
async fn render_stored(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: i64,
    errors: Errors,
    status: StatusCode,
    flash: Option<&str>,
) -> Response {
    let dept = match state.store().get_department(id).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(ctx, identity),
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let v = store::DepartmentFields {
        name: dept.name,
        parent_id: dept.parent_id,
        grants: dept.grants,
    };
    render_form(
        state,
        ctx,
        identity,
        Some(dept.id),
        &v,
        errors,
        status,
        flash,
    )
    .await
}

/// `GET /departments/{id}`.
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found(&ctx, &identity);
    };
    let flash = match q.text("done").as_str() {
        "saved" => Some("form.saved"),
        "created" => Some("form.created"),
        "members_added" => Some("departments.members_added"),
        "member_removed" => Some("departments.member_removed"),
        _ => None,
    };
    render_stored(
        &state,
        &ctx,
        &identity,
        id,
        Errors::default(),
        StatusCode::OK,
        flash,
    )
    .await
}

pub(crate) fn read(f: &crate::form::Fields) -> (store::DepartmentFields, Errors) {
    let mut errors = Errors::default();
    let grants = grants_from(f, &mut errors).into_iter().collect();
    let parent_text = f.text("parent_id");
    let parent_id = if parent_text.is_empty() {
        None
    } else {
        match parent_text.parse::<i64>() {
            Ok(p) => Some(p),
            Err(_) => {
                errors.add("parent_id", "form.invalid_choice");
                None
            }
        }
    };
    let v = store::DepartmentFields {
        name: f.text("name"),
        parent_id,
        grants,
    };
    if v.name.is_empty() {
        errors.add("name", "form.required");
    } else if v.name.chars().count() > MAX_NAME {
        errors.add("name", "form.too_long");
    }
    (v, errors)
}

/// Store errors shown next to a field.
pub(crate) fn field_error(err: &store::StoreError) -> Option<(&'static str, &'static str)> {
    match err {
        store::StoreError::DepartmentCycle { .. } => Some(("parent_id", "department.cycle")),
        store::StoreError::DepartmentNotFound(_) => Some(("parent_id", "form.invalid_choice")),
        _ => None,
    }
}

/// `POST /departments`.
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let (v, mut errors) = read(&f);
    if errors.is_empty() {
        match state.store().create_department(&v).await {
            Ok(id) => {
                tracing::info!(
                    by = identity.user.username,
                    department = v.name,
                    "department created"
                );
                return Redirect::to(&format!("/departments/{id}?done=created")).into_response();
            }
            Err(err) => match field_error(&err) {
                Some((field, key)) => errors.add(field, key),
                None => return view::internal_error(false, ctx.lang, &err.into()),
            },
        }
    }
    render_form(
        &state,
        &ctx,
        &identity,
        None,
        &v,
        errors,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await
}

/// `POST /departments/{id}`.
pub async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(&identity),
            "error.not_found",
        );
    };
    let (v, mut errors) = read(&f);
    if errors.is_empty() {
        match state.store().update_department(id, &v).await {
            Ok(()) => {
                tracing::info!(
                    by = identity.user.username,
                    department = v.name,
                    "department changed"
                );
                return Redirect::to(&format!("/departments/{id}?done=saved")).into_response();
            }
            // The department itself is gone (the parent is checked by field_error).
            Err(store::StoreError::DepartmentNotFound(missing)) if missing == id => {
                return view::error_page(
                    StatusCode::NOT_FOUND,
                    ctx.lang,
                    Some(&identity),
                    "error.not_found",
                )
            }
            Err(err) => match field_error(&err) {
                Some((field, key)) => errors.add(field, key),
                None => return view::internal_error(false, ctx.lang, &err.into()),
            },
        }
    }
    render_form(
        &state,
        &ctx,
        &identity,
        Some(id),
        &v,
        errors,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await
}

/// `POST /departments/{id}/delete`: refused while departments sit below it.
pub async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(&identity),
            "error.not_found",
        );
    };
    match state.store().delete_department(id).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                department = id,
                "department deleted"
            );
            Redirect::to("/departments?done=deleted").into_response()
        }
        Err(store::StoreError::DepartmentHasChildren(_)) => {
            let mut errors = Errors::default();
            errors.add("_form", "department.has_children");
            render_stored(
                &state,
                &ctx,
                &identity,
                id,
                errors,
                StatusCode::CONFLICT,
                None,
            )
            .await
        }
        Err(store::StoreError::DepartmentNotFound(_)) => view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(&identity),
            "error.not_found",
        ),
        Err(e) => view::internal_error(false, ctx.lang, &e.into()),
    }
}

/// `POST /departments/{id}/members`: adds the chosen users (`user`,
/// repeated) to the department, all or none. Members already in it stay;
/// no user chosen, or one that does not exist, is shown next to the field.
pub async fn add_members(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found(&ctx, &identity);
    };
    match members::add_from_page(members::Group::Department, &state, &ctx, &identity, id, &f).await
    {
        members::Added::Done(resp) => resp,
        members::Added::Refused(errors) => {
            render_stored(
                &state,
                &ctx,
                &identity,
                id,
                errors,
                StatusCode::BAD_REQUEST,
                None,
            )
            .await
        }
    }
}

/// `POST /departments/{id}/members/{user}/remove`: takes the user out of
/// the department (404 if the department does not exist or the user is
/// no direct member).
pub async fn remove_member(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(ids): Path<(String, String)>,
) -> Response {
    members::remove_from_page(members::Group::Department, &state, &ctx, &identity, ids).await
}
