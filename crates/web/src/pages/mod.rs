//! The HTML pages and their route table. Each group of routes is mounted
//! through [`require`] with the permission it needs; routes in the
//! "signed in" group need only a valid session.

pub mod agents;
pub mod campaigns;
pub mod crm;
pub mod crm_import;
pub mod departments;
pub mod grid;
pub mod home;
pub mod kb;
pub mod login;
pub(crate) mod members;
pub mod notifications;
pub mod records;
pub mod reports;
pub mod roles;
pub mod system;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod voice;
pub mod voicemail;

use axum::routing::{get, post};
use axum::Router;

use crate::auth::permissions::{
    DEPARTMENTS_EDIT, DEPARTMENTS_VIEW, ROLES_EDIT, ROLES_VIEW, USERS_EDIT, USERS_VIEW,
};
use crate::auth::require;
use crate::state::AppState;

/// Pages reachable without signing in.
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/lang/{code}", get(login::switch_language))
}

/// Pages that need a signed-in user (mounted behind `authenticate`).
pub fn protected() -> Router<AppState> {
    let signed_in = Router::new()
        .route("/", get(home::page))
        .route("/logout", post(login::logout))
        .route(
            "/password",
            get(login::password_form).post(login::password_submit),
        )
        .route("/account/tokens", get(tokens::list).post(tokens::create))
        .route("/account/tokens/{id}/revoke", post(tokens::revoke))
        .route(
            "/account/notifications",
            get(notifications::page).post(notifications::save),
        );
    let users_view = Router::new()
        .route("/users", get(users::list))
        .route("/users/{id}", get(users::edit_form));
    let users_edit = Router::new()
        .route("/users/new", get(users::new_form))
        .route("/users", post(users::create))
        .route("/users/{id}", post(users::update))
        .route("/users/{id}/password", post(users::reset_password));
    let roles_view = Router::new()
        .route("/roles", get(roles::list))
        .route("/roles/{id}", get(roles::edit_form));
    let roles_edit = Router::new()
        .route("/roles/new", get(roles::new_form))
        .route("/roles", post(roles::create))
        .route("/roles/{id}", post(roles::update))
        .route("/roles/{id}/delete", post(roles::delete))
        .route("/roles/{id}/members", post(roles::add_members))
        .route(
            "/roles/{id}/members/{user}/remove",
            post(roles::remove_member),
        );
    let departments_view = Router::new()
        .route("/departments", get(departments::list))
        .route("/departments/{id}", get(departments::edit_form));
    let departments_edit = Router::new()
        .route("/departments/new", get(departments::new_form))
        .route("/departments", post(departments::create))
        .route("/departments/{id}", post(departments::update))
        .route("/departments/{id}/delete", post(departments::delete))
        .route("/departments/{id}/members", post(departments::add_members))
        .route(
            "/departments/{id}/members/{user}/remove",
            post(departments::remove_member),
        );
    signed_in
        .merge(require(USERS_VIEW, users_view))
        .merge(require(USERS_EDIT, users_edit))
        .merge(require(ROLES_VIEW, roles_view))
        .merge(require(ROLES_EDIT, roles_edit))
        .merge(require(DEPARTMENTS_VIEW, departments_view))
        .merge(require(DEPARTMENTS_EDIT, departments_edit))
        .merge(voice::routes())
        .merge(crm_import::routes())
        .merge(campaigns::routes())
        .merge(crm::routes())
        .merge(tickets::routes())
        .merge(kb::routes())
        .merge(system::routes())
        .merge(records::routes())
        .merge(agents::routes())
        .merge(reports::routes())
        .merge(voicemail::routes())
}
