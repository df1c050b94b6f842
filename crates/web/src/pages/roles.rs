//! Roles (the manual's 3.1.2): list, create, edit with the permission
//! grid, delete; on the edit page the members, with "add users to the
//! role" (a multi-select of the enabled users who are not members) and a
//! remove button per member. Users are given roles on the user form too.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::auth::permissions::ROLES_EDIT;
use crate::auth::Identity;
use crate::form::{Errors, Form, QueryFields};
use crate::pages::grid::{grant_grid, grants_from};
use crate::pages::members::{self, not_found};
use crate::state::AppState;
use crate::view::{self, PageCtx};

const MAX_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 200;

/// `GET /roles`.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let roles = match state.store().list_roles().await {
        Ok(r) => r,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let flash = (q.text("done") == "deleted").then_some("form.deleted");
    ctx.render(
        "roles.html",
        context! { roles => roles, can_edit => identity.allows(ROLES_EDIT), flash => flash },
    )
}

/// The form's values.
#[derive(Default)]
pub(crate) struct Values {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) grants: BTreeSet<String>,
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<i64>,
    v: &Values,
    errors: Errors,
    status: StatusCode,
    flash: Option<&str>,
) -> Response {
    // The members panel (shown on the edit page only).
    let panel = match id {
        Some(id) => match state.store().role_members(id).await {
            Ok(m) => members::panel(state, m).await,
            Err(e) => Err(e),
        },
        None => Ok((Vec::new(), Vec::new())),
    };
    let (members, candidates) = match panel {
        Ok(p) => p,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    ctx.render_status(
        status,
        "role_form.html",
        context! {
            editing => id.is_some(), id => id,
            action => id.map(|i| format!("/roles/{i}")).unwrap_or_else(|| "/roles".into()),
            v => context! { name => v.name.clone(), description => v.description.clone() },
            grid => grant_grid(&v.grants), errors => errors,
            members => members, candidates => candidates,
            can_edit => identity.allows(ROLES_EDIT), flash => flash,
        },
    )
}

/// `GET /roles/new`.
pub async fn new_form(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    render_form(
        &state,
        &ctx,
        &identity,
        None,
        &Values::default(),
        Errors::default(),
        StatusCode::OK,
        None,
    )
    .await
}

/// Shows the stored role `id` (the 404 page if there is none), with
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
    let role = match state.store().get_role(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(ctx, identity),
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let v = Values {
        name: role.name,
        description: role.description,
        grants: role.grants.into_iter().collect(),
    };
    render_form(
        state,
        ctx,
        identity,
        Some(role.id),
        &v,
        errors,
        status,
        flash,
    )
    .await
}

/// `GET /roles/{id}`.
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
        "members_added" => Some("roles.members_added"),
        "member_removed" => Some("roles.member_removed"),
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

pub(crate) fn read(f: &crate::form::Fields) -> (Values, Errors) {
    let mut errors = Errors::default();
    let v = Values {
        name: f.text("name"),
        description: f.text("description"),
        grants: grants_from(f, &mut errors),
    };
    if v.name.is_empty() {
        errors.add("name", "form.required");
    } else if v.name.chars().count() > MAX_NAME {
        errors.add("name", "form.too_long");
    }
    if v.description.chars().count() > MAX_DESCRIPTION {
        errors.add("description", "form.too_long");
    }
    (v, errors)
}

/// `POST /roles`.
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let (v, mut errors) = read(&f);
    if errors.is_empty() {
        let grants: Vec<String> = v.grants.iter().cloned().collect();
        match state
            .store()
            .create_role(&v.name, &v.description, &grants)
            .await
        {
            Ok(id) => {
                tracing::info!(by = identity.user.username, role = v.name, "role created");
                return Redirect::to(&format!("/roles/{id}?done=created")).into_response();
            }
            Err(store::StoreError::RoleNameTaken(_)) => errors.add("name", "role.name_taken"),
            Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
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

/// `POST /roles/{id}`.
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
        let grants: Vec<String> = v.grants.iter().cloned().collect();
        match state
            .store()
            .update_role(id, &v.name, &v.description, &grants)
            .await
        {
            Ok(()) => {
                tracing::info!(by = identity.user.username, role = v.name, "role changed");
                return Redirect::to(&format!("/roles/{id}?done=saved")).into_response();
            }
            Err(store::StoreError::RoleNameTaken(_)) => errors.add("name", "role.name_taken"),
            Err(store::StoreError::RoleNotFound(_)) => {
                return view::error_page(
                    StatusCode::NOT_FOUND,
                    ctx.lang,
                    Some(&identity),
                    "error.not_found",
                )
            }
            Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
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

/// `POST /roles/{id}/delete`.
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
    match state.store().delete_role(id).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, role = id, "role deleted");
            Redirect::to("/roles?done=deleted").into_response()
        }
        Err(store::StoreError::RoleNotFound(_)) => view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(&identity),
            "error.not_found",
        ),
        Err(e) => view::internal_error(false, ctx.lang, &e.into()),
    }
}

/// `POST /roles/{id}/members`: adds the chosen users (`user`, repeated) to
/// the role, all or none. Members already in it stay; no user chosen, or
/// one that does not exist, is shown next to the field.
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
    match members::add_from_page(members::Group::Role, &state, &ctx, &identity, id, &f).await {
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

/// `POST /roles/{id}/members/{user}/remove`: takes the user out of the
/// role (404 if the role does not exist or the user is no member).
pub async fn remove_member(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(ids): Path<(String, String)>,
) -> Response {
    members::remove_from_page(members::Group::Role, &state, &ctx, &identity, ids).await
}
