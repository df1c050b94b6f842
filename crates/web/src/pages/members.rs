//! What the role and department pages share about members (the manual's
//! 3.1.2 and 3.1.3: "添加用户到角色" / "添加用户到部门"): the users who are
//! members, the enabled users who could be added, and reading the chosen
//! users of the add form (or of the API's `{"users": [...]}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Value};

use crate::auth::Identity;
use crate::form::{Errors, Fields};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// The members (as the page shows them) and the enabled users who are not
/// members yet, ordered by username.
pub(crate) async fn panel(
    state: &AppState,
    members: Vec<store::User>,
) -> Result<(Vec<Value>, Vec<Value>), store::StoreError> {
    let candidates = state
        .store()
        .all_users()
        .await?
        .into_iter()
        .filter(|u| u.enabled && !members.iter().any(|m| m.id == u.id))
        .map(|u| context! { id => u.id, username => u.username, name => u.name })
        .collect();
    let members = members
        .into_iter()
        .map(|u| {
            context! {
                id => u.id, username => u.username, name => u.name,
                email => u.email, mobile => u.mobile, enabled => u.enabled,
            }
        })
        .collect();
    Ok((members, candidates))
}

/// The user ids chosen in field `name` (repeated). Err: the message key
/// for that field (none chosen, or a value that is not an id).
pub(crate) fn chosen(f: &Fields, name: &str) -> Result<Vec<i64>, &'static str> {
    match f.ids(name) {
        Ok(ids) if ids.is_empty() => Err("members.none_chosen"),
        Ok(ids) => Ok(ids),
        Err(_) => Err("form.invalid_choice"),
    }
}

/// A kind of group users are members of. The role and department pages
/// (and their API) add and remove members the same way; this says where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// A role (`/roles/{id}`).
    Role,
    /// A department (`/departments/{id}`).
    Department,
}

impl Group {
    /// The group's word in logs and API messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Group::Role => "role",
            Group::Department => "department",
        }
    }

    /// Where the group's page is.
    fn page(self, id: i64) -> String {
        match self {
            Group::Role => format!("/roles/{id}"),
            Group::Department => format!("/departments/{id}"),
        }
    }

    /// Whether `e` says the group does not exist.
    pub(crate) fn is_missing(self, e: &store::StoreError) -> bool {
        matches!(
            (self, e),
            (Group::Role, store::StoreError::RoleNotFound(_))
                | (Group::Department, store::StoreError::DepartmentNotFound(_))
        )
    }

    /// The members of group `id`; `None` when the group does not exist.
    pub(crate) async fn members(
        self,
        state: &AppState,
        id: i64,
    ) -> Result<Option<Vec<store::User>>, store::StoreError> {
        let store = state.store();
        match self {
            Group::Role if store.get_role(id).await?.is_none() => Ok(None),
            Group::Role => store.role_members(id).await.map(Some),
            Group::Department if store.get_department(id).await?.is_none() => Ok(None),
            Group::Department => store.department_members(id).await.map(Some),
        }
    }

    /// Adds `users` to group `id`, all or none; how many were new.
    pub(crate) async fn add(
        self,
        state: &AppState,
        id: i64,
        users: &[i64],
    ) -> Result<u64, store::StoreError> {
        match self {
            Group::Role => state.store().add_role_members(id, users).await,
            Group::Department => state.store().add_department_members(id, users).await,
        }
    }

    /// Takes `user` out of group `id`; whether it was a member.
    pub(crate) async fn remove(
        self,
        state: &AppState,
        id: i64,
        user: i64,
    ) -> Result<bool, store::StoreError> {
        match self {
            Group::Role => state.store().remove_role_member(id, user).await,
            Group::Department => state.store().remove_department_member(id, user).await,
        }
    }
}

/// What became of the add form of a group's page.
pub(crate) enum Added {
    /// Done: where to go next.
    Done(Response),
    /// Refused: the form's errors, to show on the group's page (400).
    Refused(Errors),
}

/// `POST /{roles|departments}/{id}/members`: adds the chosen users
/// (`user`, repeated), all or none. Members already in it stay; no user
/// chosen, or one that does not exist, is an error on the field.
pub(crate) async fn add_from_page(
    group: Group,
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: i64,
    f: &Fields,
) -> Added {
    let mut errors = Errors::default();
    match chosen(f, "user") {
        Ok(users) => match group.add(state, id, &users).await {
            Ok(added) => {
                tracing::info!(
                    by = identity.user.username,
                    group = group.noun(),
                    id,
                    users = ?users,
                    added,
                    "users added"
                );
                let to = format!("{}?done=members_added#members", group.page(id));
                return Added::Done(Redirect::to(&to).into_response());
            }
            Err(e) if group.is_missing(&e) => return Added::Done(not_found(ctx, identity)),
            Err(store::StoreError::UserNotFound(_)) => errors.add("user", "members.user_unknown"),
            Err(e) => return Added::Done(view::internal_error(false, ctx.lang, &e.into())),
        },
        Err(key) => errors.add("user", key),
    }
    Added::Refused(errors)
}

/// `POST /{roles|departments}/{id}/members/{user}/remove`: takes the user
/// out (404 if the group does not exist or the user is no direct member).
pub(crate) async fn remove_from_page(
    group: Group,
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    (id, user): (String, String),
) -> Response {
    let (Ok(id), Ok(user)) = (id.parse::<i64>(), user.parse::<i64>()) else {
        return not_found(ctx, identity);
    };
    match group.remove(state, id, user).await {
        Ok(true) => {
            tracing::info!(
                by = identity.user.username,
                group = group.noun(),
                id,
                user,
                "user removed"
            );
            Redirect::to(&format!("{}?done=member_removed#members", group.page(id))).into_response()
        }
        Ok(false) => not_found(ctx, identity),
        Err(e) if group.is_missing(&e) => not_found(ctx, identity),
        Err(e) => view::internal_error(false, ctx.lang, &e.into()),
    }
}

/// The 404 page.
pub(crate) fn not_found(ctx: &PageCtx, identity: &Identity) -> Response {
    view::error_page(
        StatusCode::NOT_FOUND,
        ctx.lang,
        Some(identity),
        "error.not_found",
    )
}
