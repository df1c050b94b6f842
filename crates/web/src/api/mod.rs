//! The JSON API under `/api`, authenticated by an API token
//! (`Authorization: Bearer ...`) or a signed-in session, with the same
//! permission checks as the pages. Errors are `{"error": "...", "field": ...}`
//! with a 4xx status (5xx only for server faults). The OpenAPI document of
//! every route is served at `GET /api/openapi.json` ([`doc`]).
//!
//! | route | permission |
//! |---|---|
//! | `GET /api/me` | signed in |
//! | `GET`, `PUT /api/me/notifications` | signed in (the caller's own) |
//! | `GET /api/calls` | `calls:view` |
//! | `POST /api/calls/{id}/{action}` | `calls:control` |
//! | `GET /api/queues`, `GET /api/queues/{name}` | `voice.queues:view` |
//! | `PUT`, `DELETE /api/queues/{name}` | `voice.queues:edit` |
//! | `GET /api/voicemail/{ext}` | `voicemail:view` |
//! | `POST /api/agents/{id}/status\|login\|wrapup_done\|dial` | `agents:manage` |
//! | `GET /api/agents/live` | `records:view` |
//! | `GET /api/lists/{list}` | `voice.lists:view` |
//! | `POST /api/lists/{list}`, `DELETE /api/lists/{list}/{value}` | `voice.lists:edit` |
//! | `GET /api/registrations` | `voice.registrations:view` |
//! | `GET /api/media`, `GET /api/media/{name}` | `voice.media:view` |
//! | `POST /api/media`, `PUT`, `DELETE /api/media/{name}` | `voice.media:edit` |
//! | `GET /api/users`, `GET /api/users/{id}` | `system.users:view` |
//! | `POST /api/users`, `PUT /api/users/{id}` | `system.users:edit` |
//! | `GET /api/roles`, `GET /api/roles/{id}/members` | `system.roles:view` |
//! | `POST /api/roles`, `PUT`, `DELETE /api/roles/{id}`, `POST /api/roles/{id}/members`, `DELETE /api/roles/{id}/members/{user}` | `system.roles:edit` |
//! | `GET /api/departments`, `GET /api/departments/{id}/members` | `system.departments:view` |
//! | `POST /api/departments`, `PUT`, `DELETE /api/departments/{id}`, `POST /api/departments/{id}/members`, `DELETE /api/departments/{id}/members/{user}` | `system.departments:edit` |
//! | `GET /api/audit` | `system.audit:view` |
//! | `GET /api/status` | `voice.status:view` |
//! | `GET /api/settings`, `GET /api/dictionaries[/{name}]` | `system.settings:view` |
//! | `PUT /api/settings`, `POST /api/settings/test-email\|test-sms`, `PUT`, `DELETE /api/dictionaries/{name}` | `system.settings:edit` |
//! | `GET /api/extensions`, `GET /api/extensions/{ext}` | `voice.extensions:view` |
//! | `POST /api/extensions`, `PUT`, `DELETE /api/extensions/{ext}` | `voice.extensions:edit` |
//! | `GET /api/gateways`, `GET /api/gateways/status`, `GET /api/gateways/{name}` | `voice.gateways:view` |
//! | `POST /api/gateways`, `PUT`, `DELETE /api/gateways/{name}` | `voice.gateways:edit` |
//! | `GET /api/callcenter/agents`, `GET /api/callcenter/agents/{id}`, `GET /api/callcenter/tiers` | `voice.queues:view` |
//! | `PUT`, `DELETE /api/callcenter/agents/{id}`, `PUT`, `DELETE /api/callcenter/tiers/{queue}/{agent}` | `voice.queues:edit` |
//! | `GET /api/ivr`, `GET /api/ivr/{name}` | `voice.ivr:view` |
//! | `PUT`, `DELETE /api/ivr/{name}` | `voice.ivr:edit` |
//! | `GET /api/routes`, `GET /api/routes/{id}`, `GET /api/routes/test` | `voice.routes:view` |
//! | `POST /api/routes`, `PUT`, `DELETE /api/routes/{id}`, `POST /api/routes/{id}/move` | `voice.routes:edit` |
//! | `GET /api/contacts`, `GET /api/contacts/{id}`, `GET /api/contacts/groups/{kind}`, `GET /api/lookup` | `crm.contacts:view` |
//! | `GET /api/contacts/export` | `crm.contacts:view` |
//! | `POST /api/contacts/import` | `crm.contacts:edit` |
//! | `POST /api/contacts`, `PUT`, `DELETE /api/contacts/{id}`, `POST /api/contacts/groups/{kind}`, `DELETE /api/contacts/groups/{kind}/{id}` | `crm.contacts:edit` |
//! | `GET /api/customers`, `GET /api/customers/{id}` | `crm.customers:view` |
//! | `GET /api/customers/export` | `crm.customers:view` |
//! | `POST /api/customers/import` | `crm.customers:edit` |
//! | `POST /api/customers`, `PUT`, `DELETE /api/customers/{id}` | `crm.customers:edit` |
//! | `GET /api/tickets`, `GET /api/tickets/{id}`, `/history`, `/attachments/{file}`, `GET /api/tickets/overview`, `GET /api/tickets/types` | `tickets:view` |
//! | `POST /api/tickets`, `PUT /api/tickets/{id}`, `POST /api/tickets/{id}/replies`, `PUT /api/tickets/{id}/follow`, `POST /api/tickets/{id}/attachments` | `tickets:edit` |
//! | `DELETE /api/tickets/{id}`, `POST /api/tickets/types`, `PUT`, `DELETE /api/tickets/types/{id}` | `tickets:manage` |
//! | `GET /api/cdrs`, `GET /api/cdrs/{id}`, `GET /api/cdrs/{id}/recording` | `records:view` (own extension's calls; `records:all` every call) |
//! | `GET /api/reports/erlang-c`, `GET /api/reports/service-level` | `reports:view` |
//! | `GET /api/reports/traffic\|agent-traffic\|work-time\|inbound\|outbound\|satisfaction\|hourly\|tickets` | `reports:view` |
//! | `GET /api/kb/search`, `GET /api/kb/articles`, `GET /api/kb/articles/{id}`, `GET /api/kb/categories` | `kb:view` |
//! | `GET /api/kb/articles/export` | `kb:view` |
//! | `POST /api/kb/articles/import` | `kb:edit` |
//! | `POST /api/kb/articles`, `PUT`, `DELETE /api/kb/articles/{id}`, `POST /api/kb/categories`, `PUT`, `DELETE /api/kb/categories/{id}` | `kb:edit` |
//! | `GET /api/campaigns/batches`, `GET /api/campaigns/batches/{id}`, `/rows`, `/rows/{row}`, `/export`, `GET /api/campaigns/imports`, `GET /api/campaigns/filter-runs` | `outbound.batches:view` |
//! | `POST /api/campaigns/batches`, `PUT`, `DELETE /api/campaigns/batches/{id}`, `POST .../template`, `PUT .../fields/{key}`, `POST .../import`, `POST .../rows`, `PUT`, `DELETE .../rows/{row}`, `DELETE /api/campaigns/imports/{id}` | `outbound.batches:edit` |
//! | `GET /api/campaigns/filters`, `GET /api/campaigns/filters/{id}`, `/matches`, `POST /api/campaigns/filters/preview` | `outbound.filters:view` |
//! | `POST /api/campaigns/filters`, `PUT`, `DELETE /api/campaigns/filters/{id}` | `outbound.filters:edit` |
//!
//! The CRM's routes ([`crm`]) also limit every record to the caller's data
//! scope (`crm.data:all`, `crm.data:department`, else their own and shared
//! records).
//!
//! Extensions, gateways, agents, tiers, IVR menus and routing rules are
//! read as the pages' form fields and checked and saved by the pages' own
//! functions ([`extensions`], [`gateways`], [`callcenter`]): the same rules,
//! the same live effect.

mod admin;
pub(crate) mod agents;
mod callcenter;
mod calls;
pub(crate) mod campaign_activities;
pub(crate) mod campaigns;
mod crm;
pub mod doc;
mod extensions;
pub mod import;
mod kb;
mod me;
pub mod records;
pub mod report_views;
pub mod reports;
pub mod tickets;

pub use crm::scope_of as crm_scope_of;
pub use crm::{contact_tab, CONTACT_TABS};
mod gateways;
mod lists;
mod media;
mod queues;
mod system;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use engine::Engine;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::permissions::{
    AGENTS_MANAGE, AUDIT_VIEW, CALLS_CONTROL, CALLS_VIEW, CRM_CONTACTS_EDIT, CRM_CONTACTS_VIEW,
    CRM_CUSTOMERS_EDIT, CRM_CUSTOMERS_VIEW, DEPARTMENTS_EDIT, DEPARTMENTS_VIEW, EXTENSIONS_EDIT,
    EXTENSIONS_VIEW, GATEWAYS_EDIT, GATEWAYS_VIEW, IVR_EDIT, IVR_VIEW, KB_EDIT, KB_VIEW,
    LISTS_EDIT, LISTS_VIEW, MEDIA_EDIT, MEDIA_VIEW, OUTBOUND_ACTIVITIES_EDIT,
    OUTBOUND_ACTIVITIES_VIEW, OUTBOUND_BATCHES_EDIT, OUTBOUND_BATCHES_VIEW, OUTBOUND_FILTERS_EDIT,
    OUTBOUND_FILTERS_VIEW, QUEUES_EDIT, QUEUES_VIEW, RECORDS_VIEW, REGISTRATIONS_VIEW,
    REPORTS_VIEW, ROLES_EDIT, ROLES_VIEW, ROUTES_EDIT, ROUTES_VIEW, SETTINGS_EDIT, SETTINGS_VIEW,
    STATUS_VIEW, TICKETS_EDIT, TICKETS_MANAGE, TICKETS_VIEW, USERS_EDIT, USERS_VIEW,
    VOICEMAIL_VIEW,
};
use crate::auth::Identity;
use crate::form::Fields;
use crate::state::AppState;
use crate::view::{api_error, json};
use doc::guard;

/// The API routes (mounted behind `authenticate`) and their OpenAPI
/// document. Each group is mounted behind its permission by
/// [`doc::guard`]; `routes!` takes one path's handlers at a time.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = || OpenApiRouter::<AppState>::new();
    let signed_in = api()
        .routes(routes!(me))
        .routes(routes!(me::notifications, me::put_notifications));
    let calls_view = api().routes(routes!(calls::list));
    let calls_control = api().routes(routes!(calls::action));
    let queues_view = api()
        .routes(routes!(queues::list))
        .routes(routes!(queues::settings))
        .routes(routes!(callcenter::agents))
        .routes(routes!(callcenter::agent))
        .routes(routes!(callcenter::tiers));
    let queues_edit = api()
        .routes(routes!(queues::reload, queues::remove))
        .routes(routes!(callcenter::put_agent, callcenter::delete_agent))
        .routes(routes!(callcenter::put_tier, callcenter::delete_tier));
    let extensions_view = api()
        .routes(routes!(extensions::list))
        .routes(routes!(extensions::get));
    let extensions_edit = api()
        .routes(routes!(extensions::create))
        .routes(routes!(extensions::update, extensions::remove));
    let gateways_view = api()
        .routes(routes!(gateways::list))
        .routes(routes!(gateways::status))
        .routes(routes!(gateways::get));
    let gateways_edit = api()
        .routes(routes!(gateways::create))
        .routes(routes!(gateways::update, gateways::remove));
    let ivr_view = api()
        .routes(routes!(callcenter::menus))
        .routes(routes!(callcenter::menu));
    let ivr_edit = api().routes(routes!(callcenter::put_menu, callcenter::delete_menu));
    let routes_view = api()
        .routes(routes!(callcenter::rules))
        .routes(routes!(callcenter::rule))
        .routes(routes!(callcenter::test_route));
    let routes_edit = api()
        .routes(routes!(callcenter::create_rule))
        .routes(routes!(callcenter::update_rule, callcenter::delete_rule))
        .routes(routes!(callcenter::move_rule));
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
    // The media limit is enforced by the upload handler as it streams
    // the body to disk (a JSON 413 at the first byte past it).
    let media_edit = api()
        .routes(routes!(media::upload))
        .routes(routes!(media::rename, media::remove));
    let users_view = api()
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::get_user));
    let users_edit = api()
        .routes(routes!(admin::create_user))
        .routes(routes!(admin::update_user));
    let roles_view = api()
        .routes(routes!(admin::list_roles))
        .routes(routes!(admin::role_members));
    let roles_edit = api()
        .routes(routes!(admin::create_role))
        .routes(routes!(admin::update_role, admin::delete_role))
        .routes(routes!(admin::add_role_members))
        .routes(routes!(admin::remove_role_member));
    let departments_view = api()
        .routes(routes!(admin::list_departments))
        .routes(routes!(admin::department_members));
    let departments_edit = api()
        .routes(routes!(admin::create_department))
        .routes(routes!(admin::update_department, admin::delete_department))
        .routes(routes!(admin::add_department_members))
        .routes(routes!(admin::remove_department_member));
    let audit_view = api().routes(routes!(admin::audit));
    let settings_view = api()
        .routes(routes!(system::settings))
        .routes(routes!(system::dictionaries))
        .routes(routes!(system::dictionary));
    let settings_edit = api()
        .routes(routes!(system::put_settings))
        .routes(routes!(system::test_email))
        .routes(routes!(system::test_sms))
        .routes(routes!(system::put_dictionary, system::delete_dictionary));
    let status_view = api().routes(routes!(system::status));
    let contacts_view = api()
        .routes(routes!(crm::list_contacts))
        .routes(routes!(crm::get_contact))
        .routes(routes!(crm::list_groups))
        .routes(routes!(crm::lookup))
        .routes(routes!(import::export_contacts));
    let contacts_edit = api()
        .routes(routes!(crm::create_contact))
        .routes(routes!(import::import_contacts))
        .routes(routes!(crm::update_contact, crm::delete_contact))
        .routes(routes!(crm::create_group))
        .routes(routes!(crm::delete_group));
    let customers_view = api()
        .routes(routes!(crm::list_customers))
        .routes(routes!(crm::get_customer))
        .routes(routes!(import::export_customers));
    let customers_edit = api()
        .routes(routes!(crm::create_customer))
        .routes(routes!(import::import_customers))
        .routes(routes!(crm::update_customer, crm::delete_customer));
    let tickets_view = api()
        .routes(routes!(tickets::list_tickets))
        .routes(routes!(tickets::get_ticket))
        .routes(routes!(tickets::history))
        .routes(routes!(tickets::download))
        .routes(routes!(tickets::overview))
        .routes(routes!(tickets::list_types));
    let tickets_edit = api()
        .routes(routes!(tickets::create_ticket))
        .routes(routes!(tickets::update_ticket))
        .routes(routes!(tickets::reply))
        .routes(routes!(tickets::follow))
        .routes(routes!(tickets::attach));
    let tickets_manage = api()
        .routes(routes!(tickets::delete_ticket))
        .routes(routes!(tickets::create_type))
        .routes(routes!(tickets::rename_type, tickets::delete_type));
    let records_view = api()
        .routes(routes!(records::list))
        .routes(routes!(records::get))
        .routes(routes!(records::recording))
        .routes(routes!(agents::live));
    let reports_view = api()
        .routes(routes!(reports::erlang_c))
        .routes(routes!(reports::service_level))
        .routes(routes!(reports::traffic))
        .routes(routes!(reports::agent_traffic))
        .routes(routes!(reports::work_time))
        .routes(routes!(reports::inbound))
        .routes(routes!(reports::outbound))
        .routes(routes!(reports::satisfaction))
        .routes(routes!(reports::hourly))
        .routes(routes!(reports::tickets));
    let kb_view = api()
        .routes(routes!(kb::search))
        .routes(routes!(kb::list_articles))
        .routes(routes!(kb::get_article))
        .routes(routes!(kb::list_categories))
        .routes(routes!(import::export_articles));
    let kb_edit = api()
        .routes(routes!(kb::create_article))
        .routes(routes!(import::import_articles))
        .routes(routes!(kb::update_article, kb::delete_article))
        .routes(routes!(kb::create_category))
        .routes(routes!(kb::update_category, kb::delete_category));
    let batches_view = api()
        .routes(routes!(campaigns::list_batches))
        .routes(routes!(campaigns::get_batch))
        .routes(routes!(campaigns::list_rows))
        .routes(routes!(campaigns::get_row))
        .routes(routes!(campaigns::export))
        .routes(routes!(campaigns::list_imports))
        .routes(routes!(campaigns::list_filter_runs));
    let batches_edit = api()
        .routes(routes!(campaigns::create_batch))
        .routes(routes!(campaigns::update_batch, campaigns::delete_batch))
        .routes(routes!(campaigns::upload_template))
        .routes(routes!(campaigns::update_field))
        .routes(routes!(campaigns::import_data))
        .routes(routes!(campaigns::create_row))
        .routes(routes!(campaigns::update_row, campaigns::delete_row))
        .routes(routes!(campaigns::delete_import));
    let filters_view = api()
        .routes(routes!(campaigns::list_filters))
        .routes(routes!(campaigns::get_filter))
        .routes(routes!(campaigns::filter_matches))
        .routes(routes!(campaigns::preview_filter));
    let filters_edit = api()
        .routes(routes!(campaigns::create_filter))
        .routes(routes!(campaigns::update_filter, campaigns::delete_filter));
    let activities_view = api()
        .routes(routes!(campaign_activities::list_activities))
        .routes(routes!(campaign_activities::get_activity))
        .routes(routes!(campaign_activities::activity_runs));
    let activities_edit = api()
        .routes(routes!(campaign_activities::create_activity))
        .routes(routes!(
            campaign_activities::update_activity,
            campaign_activities::delete_activity
        ))
        .routes(routes!(campaign_activities::start_activity))
        .routes(routes!(campaign_activities::pause_activity))
        .routes(routes!(campaign_activities::stop_activity))
        .routes(routes!(campaign_activities::recall_activity));
    let (router, openapi) = signed_in
        .merge(guard(USERS_VIEW, users_view))
        .merge(guard(USERS_EDIT, users_edit))
        .merge(guard(ROLES_VIEW, roles_view))
        .merge(guard(ROLES_EDIT, roles_edit))
        .merge(guard(DEPARTMENTS_VIEW, departments_view))
        .merge(guard(DEPARTMENTS_EDIT, departments_edit))
        .merge(guard(AUDIT_VIEW, audit_view))
        .merge(guard(SETTINGS_VIEW, settings_view))
        .merge(guard(SETTINGS_EDIT, settings_edit))
        .merge(guard(STATUS_VIEW, status_view))
        .merge(guard(CALLS_VIEW, calls_view))
        .merge(guard(CALLS_CONTROL, calls_control))
        .merge(guard(QUEUES_VIEW, queues_view))
        .merge(guard(QUEUES_EDIT, queues_edit))
        .merge(guard(EXTENSIONS_VIEW, extensions_view))
        .merge(guard(EXTENSIONS_EDIT, extensions_edit))
        .merge(guard(GATEWAYS_VIEW, gateways_view))
        .merge(guard(GATEWAYS_EDIT, gateways_edit))
        .merge(guard(IVR_VIEW, ivr_view))
        .merge(guard(IVR_EDIT, ivr_edit))
        .merge(guard(ROUTES_VIEW, routes_view))
        .merge(guard(ROUTES_EDIT, routes_edit))
        .merge(guard(VOICEMAIL_VIEW, voicemail_view))
        .merge(guard(AGENTS_MANAGE, agents_manage))
        .merge(guard(LISTS_VIEW, lists_view))
        .merge(guard(LISTS_EDIT, lists_edit))
        .merge(guard(REGISTRATIONS_VIEW, registrations_view))
        .merge(guard(MEDIA_VIEW, media_view))
        .merge(guard(MEDIA_EDIT, media_edit))
        .merge(guard(CRM_CONTACTS_VIEW, contacts_view))
        .merge(guard(CRM_CONTACTS_EDIT, contacts_edit))
        .merge(guard(CRM_CUSTOMERS_VIEW, customers_view))
        .merge(guard(CRM_CUSTOMERS_EDIT, customers_edit))
        .merge(guard(TICKETS_VIEW, tickets_view))
        .merge(guard(TICKETS_EDIT, tickets_edit))
        .merge(guard(TICKETS_MANAGE, tickets_manage))
        .merge(guard(RECORDS_VIEW, records_view))
        .merge(guard(REPORTS_VIEW, reports_view))
        .merge(guard(KB_VIEW, kb_view))
        .merge(guard(KB_EDIT, kb_edit))
        .merge(guard(OUTBOUND_BATCHES_VIEW, batches_view))
        .merge(guard(OUTBOUND_BATCHES_EDIT, batches_edit))
        .merge(guard(OUTBOUND_FILTERS_VIEW, filters_view))
        .merge(guard(OUTBOUND_FILTERS_EDIT, filters_edit))
        .merge(guard(OUTBOUND_ACTIVITIES_VIEW, activities_view))
        .merge(guard(OUTBOUND_ACTIVITIES_EDIT, activities_edit))
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
            engine.metrics_text() + &state.metrics().render() + &state.desk().stats.render(),
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

/// `status` (400: bad input; 409: a conflict) naming the first field at
/// fault (a form-wide message, `_form`, only when no field has one), with
/// every message (already in the request's language) in `errors`.
fn refused_messages(status: StatusCode, messages: &BTreeMap<String, String>) -> Response {
    let first = messages
        .iter()
        .find(|(f, _)| f.as_str() != "_form")
        .or_else(|| messages.iter().next());
    let (field, message) = match first {
        Some((f, m)) if f == "_form" => (None, m.clone()),
        Some((f, m)) => (Some(f.clone()), m.clone()),
        None => (None, String::new()),
    };
    json(
        status,
        &serde_json::json!({ "error": message, "field": field, "errors": messages }),
    )
}

/// The request body as bytes, received through a temporary file in the
/// data dir and never more than `limit` bytes of it (see
/// [`crate::upload::spool`]); or the answer that says what went wrong:
/// 413 with `too_large`, 400 for a body that could not be read, 500 (the
/// reason in the log, `what` naming the upload) when the disk failed.
async fn receive_body(
    data_dir: &std::path::Path,
    req: axum::extract::Request,
    limit: usize,
    too_large: &str,
    what: &str,
) -> Result<Vec<u8>, Box<Response>> {
    use crate::upload::{self, SpoolError};
    let failed = || {
        Box::new(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "receiving the upload failed, see the server log",
            None,
        ))
    };
    let spooled = match upload::spool(
        &data_dir.join(upload::TEMP_DIR),
        req.into_body().into_data_stream(),
        limit,
    )
    .await
    {
        Ok(s) => s,
        Err(SpoolError::TooLarge { .. }) => {
            return Err(Box::new(api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                too_large,
                Some("file"),
            )))
        }
        Err(SpoolError::Body(why)) => {
            return Err(Box::new(api_error(
                StatusCode::BAD_REQUEST,
                &format!("the upload could not be read: {why}"),
                Some("file"),
            )))
        }
        Err(SpoolError::Storage(why)) => {
            tracing::error!("receiving {what}: {why}");
            return Err(failed());
        }
    };
    spooled.read().await.map_err(|e| {
        tracing::error!("reading {what} back: {e:?}");
        failed()
    })
}

/// The body as JSON, or the 400 that says what is wrong with it.
fn body_json(body: &str) -> Result<serde_json::Value, Box<Response>> {
    serde_json::from_str(body).map_err(|e| {
        Box::new(api_error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
            None,
        ))
    })
}

/// A JSON object as form fields (so the pages' checks apply), or the 400
/// naming the member that is not a string, number, boolean or list of them.
fn form_of(value: &serde_json::Value) -> Result<Fields, Box<Response>> {
    if !value.is_object() {
        return Err(Box::new(err(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )));
    }
    Fields::from_json(value).map_err(|field| {
        Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "give a string, number, boolean or a list of them",
            Some(&field),
        ))
    })
}

/// The body as form fields, or the 400 that says what is wrong with it.
fn fields(body: &str) -> Result<Fields, Box<Response>> {
    form_of(&body_json(body)?)
}

/// Adds each member of `defaults` that the object `value` lacks: a POST or
/// PUT gives a whole record (as `PUT /api/queues/{name}` does), and what it
/// leaves out takes the value a new record has on its page's form.
fn fill_defaults(value: &mut serde_json::Value, defaults: serde_json::Value) {
    if let (Some(o), serde_json::Value::Object(d)) = (value.as_object_mut(), defaults) {
        for (k, v) in d {
            o.entry(k).or_insert(v);
        }
    }
}

/// A JSON scalar as form text (what `Fields::from_json` would make of it).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

/// The body of a PUT to the record `name`: a JSON object whose `key` is
/// `name` (a body naming another record is refused naming `key`), with
/// `defaults` for what it leaves out. An empty body is `{}`.
fn named_body(body: &str, key: &str, name: &str, defaults: Value) -> Result<Value, Box<Response>> {
    let mut value = if body.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        body_json(body)?
    };
    let Some(o) = value.as_object_mut() else {
        return Err(Box::new(err(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )));
    };
    if let Some(given) = o.get(key).filter(|v| !v.is_null()) {
        if scalar_text(given).as_deref() != Some(name) {
            return Err(Box::new(api_error(
                StatusCode::BAD_REQUEST,
                &format!("the body names {key} {given}, the URL '{name}'"),
                Some(key),
            )));
        }
    }
    o.insert(key.into(), Value::String(name.to_string()));
    fill_defaults(&mut value, defaults);
    Ok(value)
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
