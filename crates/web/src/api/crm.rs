//! The CRM over the API (the manual's chapters 4 and 5): contacts, their
//! categories and projects, customers, and the number lookup the screen
//! pop makes. Every list, read, change and lookup is limited to what the
//! caller's data scope covers ([`scope_of`]): a record outside it answers
//! 404, as if it did not exist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Local, TimeZone};
use serde_json::{json, Value};
use store::{
    ContactFields, ContactQuery, ContactView, CrmScope, CustomerFields, CustomerQuery, GroupKind,
    StoreError,
};

use super::body_json;
use crate::auth::permissions::{CRM_DATA_ALL, CRM_DATA_DEPARTMENT};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{api_error, internal_error, json};

/// Rows of one page of a list.
pub const PAGE_SIZE: i64 = 50;

/// What `who` may see of the CRM: everything (administrators, and holders
/// of `crm.data:all`), the records of the users in their departments and
/// the departments below them (`crm.data:department`), or their own; and
/// records shared with everyone in any case.
pub async fn scope_of(state: &AppState, who: &Identity) -> Result<CrmScope, StoreError> {
    if who.user.is_admin || who.allows(CRM_DATA_ALL) {
        return Ok(CrmScope::All);
    }
    let owners = if who.allows(CRM_DATA_DEPARTMENT) {
        department_users(state, who).await?
    } else {
        vec![who.user.id]
    };
    Ok(CrmScope::Owners(owners))
}

/// The user `who` and the users of their departments and of the
/// departments below them (the "my department" tab's handlers, and the
/// department data scope).
pub async fn department_users(state: &AppState, who: &Identity) -> Result<Vec<i64>, StoreError> {
    let mut users = vec![who.user.id];
    let store = state.store();
    let all = store.list_departments().await?;
    let mut wanted = store.user_department_ids(who.user.id).await?;
    // The departments below the user's, level by level.
    let mut i = 0;
    while i < wanted.len() {
        let parent = wanted[i];
        for d in &all {
            if d.parent_id == Some(parent) && !wanted.contains(&d.id) {
                wanted.push(d.id);
            }
        }
        i += 1;
    }
    for d in wanted {
        for u in store.department_members(d).await? {
            if !users.contains(&u.id) {
                users.push(u.id);
            }
        }
    }
    Ok(users)
}

/// The contact tabs of chapter 4 by their names in URLs, in order.
pub const CONTACT_TABS: &[&str] = &[
    "all",
    "today",
    "week",
    "mine",
    "department",
    "unassigned",
    "voided",
    "appointments",
    "failed",
];

/// The contact tab named `name` ("" is all) for `who`, with its handlers
/// for the department tab; None for no such tab.
pub async fn contact_tab(
    state: &AppState,
    who: &Identity,
    name: &str,
) -> Result<Option<(ContactView, Vec<i64>)>, StoreError> {
    let (today, week) = today_and_week_start();
    let view = match name {
        "" | "all" => ContactView::All,
        "today" => ContactView::CreatedSince(today),
        "week" => ContactView::CreatedSince(week),
        "mine" => ContactView::OwnedBy(who.user.id),
        "department" => {
            return Ok(Some((
                ContactView::Department,
                department_users(state, who).await?,
            )))
        }
        "unassigned" => ContactView::Unassigned,
        "voided" => ContactView::Voided,
        "appointments" => ContactView::Appointments,
        "failed" => ContactView::CallFailed,
        _ => return Ok(None),
    };
    Ok(Some((view, Vec::new())))
}

/// A refusal of an unknown `view=`, naming the tabs.
pub fn bad_view(name: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        &format!("view '{name}': one of {}", CONTACT_TABS.join(", ")),
        Some("view"),
    )
}

/// Local midnight today and on this week's Monday, unix ms.
fn today_and_week_start() -> (i64, i64) {
    let now = Local::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .map_or(0, |t| t.timestamp_millis());
    let monday = midnight - i64::from(now.weekday().num_days_from_monday()) * 86_400_000;
    (midnight, monday)
}

/// A store error as the API answers it.
pub(super) fn refused(e: StoreError) -> Response {
    match e {
        StoreError::InvalidField(f) => {
            api_error(StatusCode::BAD_REQUEST, &f.to_string(), Some(f.field))
        }
        StoreError::CrmNotFound(what, id) => {
            // A reference in the body (customer_id, category_id, ...).
            let field = format!("{what}_id");
            api_error(
                StatusCode::BAD_REQUEST,
                &format!("{what} {id} does not exist"),
                Some(&field),
            )
        }
        StoreError::InvalidRows(rows) => json(
            StatusCode::BAD_REQUEST,
            &json!({
                "error": format!("{} rows cannot be saved; nothing was saved", rows.len()),
                "rows": rows
                    .iter()
                    .map(|(i, e)| json!({ "index": i, "field": e.field, "error": e.why }))
                    .collect::<Vec<_>>(),
            }),
        ),
        StoreError::CrmNameTaken(what, name) => api_error(
            StatusCode::CONFLICT,
            &format!("a {what} named '{name}' already exists"),
            Some("name"),
        ),
        other => internal_error(true, Lang::En, &other.into()),
    }
}

pub(super) fn not_found(what: &str, id: i64) -> Response {
    api_error(StatusCode::NOT_FOUND, &format!("no {what} {id}"), None)
}

/// `body` over `base` (the record as it is, or a new one's defaults): a
/// PUT may give only what it changes.
pub(super) fn merged<T: serde::Serialize + serde::de::DeserializeOwned>(
    base: &T,
    body: &str,
) -> Result<T, Box<Response>> {
    let patch = body_json(body)?;
    let Value::Object(patch) = patch else {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
            None,
        )));
    };
    let mut whole = serde_json::to_value(base).unwrap_or_default();
    if let Value::Object(o) = &mut whole {
        for (k, v) in patch {
            if o.contains_key(&k) {
                o.insert(k, v);
            } else {
                return Err(Box::new(api_error(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown field '{k}'"),
                    Some(&k),
                )));
            }
        }
    }
    serde_json::from_value(whole).map_err(|e| {
        Box::new(api_error(
            StatusCode::BAD_REQUEST,
            &format!("a field has the wrong type: {e}"),
            None,
        ))
    })
}

/// `GET /api/contacts?view=&q=&category=&page=`: a page of contacts of one
/// of chapter 4's tabs, within the caller's scope.
#[utoipa::path(get, path = "/api/contacts", tag = "crm", params(("view" = Option<String>, Query, description = "all (default), today, week, mine, department (handled by the users of my departments), unassigned, voided, appointments, failed"), ("q" = Option<String>, Query, description = "the start of the name, or of a number (normalised)"), ("category" = Option<i64>, Query, description = "only this category"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{contacts: [...], total (counted up to 10,000), more (true when there are more than that), page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_contacts(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let (view, team) = match contact_tab(&state, &who, &q.text("view")).await {
        Ok(Some(tab)) => tab,
        Ok(None) => return bad_view(&q.text("view")),
        Err(e) => return refused(e),
    };
    let category = match q.text("category").as_str() {
        "" => None,
        c => match c.parse::<i64>() {
            Ok(c) => Some(c),
            Err(_) => {
                return api_error(StatusCode::BAD_REQUEST, "category: an id", Some("category"))
            }
        },
    };
    let page = q.text("page").parse::<i64>().unwrap_or(1).max(1);
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let query = ContactQuery {
        view,
        scope,
        search: q.text("q"),
        category_id: category,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
        team,
    };
    match state.store().list_contacts(&query).await {
        Ok(p) => json(
            StatusCode::OK,
            &json!({ "contacts": p.rows, "total": p.total, "more": p.more, "page": page, "page_size": PAGE_SIZE }),
        ),
        Err(e) => refused(e),
    }
}

/// `POST /api/contacts`: a new contact (JSON with at least `name`; `phone`
/// and `mobile` are its numbers). Its handler is the caller unless the body
/// says `owner_id` (null: unassigned).
#[utoipa::path(post, path = "/api/contacts", tag = "crm", request_body(content = serde_json::Value, description = "the contact's fields: name (required), gender, birthday, mobile, phone, email, wechat, city, address, category_id, project_id, customer_id, business_status, remarks, sharing (private, everyone), owner_id, voided, appointment_at, appointment_note, acquired_at", content_type = "application/json"), responses((status = 200, description = "the contact as saved, with its id", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_contact(
    who: Identity,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let base = ContactFields {
        owner_id: Some(who.user.id),
        ..ContactFields::default()
    };
    let fields = match merged(&base, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state
        .store()
        .create_contact(fields, Some(who.user.id))
        .await
    {
        Ok(id) => match state.store().get_contact(id).await {
            Ok(Some(c)) => json(StatusCode::OK, &c),
            Ok(None) => not_found("contact", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// The contact `id` if the caller's scope covers it.
async fn visible_contact(
    state: &AppState,
    who: &Identity,
    id: i64,
) -> Result<store::Contact, Response> {
    let scope = scope_of(state, who).await.map_err(refused)?;
    match state.store().get_contact(id).await {
        Ok(Some(c)) if scope.covers(c.fields.owner_id, &c.fields.sharing) => Ok(c),
        Ok(_) => Err(not_found("contact", id)),
        Err(e) => Err(refused(e)),
    }
}

/// `GET /api/contacts/{id}`: one contact.
#[utoipa::path(get, path = "/api/contacts/{id}", tag = "crm", params(("id" = i64, Path, description = "contact id")), responses((status = 200, description = "the contact", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_contact(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    match visible_contact(&state, &who, id).await {
        Ok(c) => json(StatusCode::OK, &c),
        Err(r) => r,
    }
}

/// `PUT /api/contacts/{id}`: changes the fields the body gives.
#[utoipa::path(put, path = "/api/contacts/{id}", tag = "crm", params(("id" = i64, Path, description = "contact id")), request_body(content = serde_json::Value, description = "the fields to change", content_type = "application/json"), responses((status = 200, description = "the contact as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_contact(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let current = match visible_contact(&state, &who, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match merged(&current.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(e) = state.store().update_contact(id, fields).await {
        return refused(e);
    }
    match state.store().get_contact(id).await {
        Ok(Some(c)) => json(StatusCode::OK, &c),
        Ok(None) => not_found("contact", id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/contacts/{id}`.
#[utoipa::path(delete, path = "/api/contacts/{id}", tag = "crm", params(("id" = i64, Path, description = "contact id")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_contact(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_contact(&state, &who, id).await {
        return r;
    }
    match state.store().delete_contact(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => refused(e),
    }
}

/// `GET /api/customers?view=&type=&enterprise=&q=&page=`: a page of
/// customers within the caller's scope.
#[utoipa::path(get, path = "/api/customers", tag = "crm", params(("view" = Option<String>, Query, description = "all (default), today, week"), ("type" = Option<String>, Query, description = "normal, vip, old, agent, supplier, partner, other"), ("enterprise" = Option<bool>, Query, description = "enterprise customers only"), ("q" = Option<String>, Query, description = "the start of the name, or of the phone (normalised)"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{customers: [...], total (counted up to 10,000), more, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_customers(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let (today, week) = today_and_week_start();
    let since = match q.text("view").as_str() {
        "" | "all" => None,
        "today" => Some(today),
        "week" => Some(week),
        other => {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("view '{other}': all, today or week"),
                Some("view"),
            )
        }
    };
    let ty = q.text("type");
    if !ty.is_empty() && callcenter::crm::CustomerType::parse(&ty).is_none() {
        return api_error(
            StatusCode::BAD_REQUEST,
            &format!("type '{ty}': normal, vip, old, agent, supplier, partner or other"),
            Some("type"),
        );
    }
    let page = q.text("page").parse::<i64>().unwrap_or(1).max(1);
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let query = CustomerQuery {
        scope,
        customer_type: (!ty.is_empty()).then_some(ty),
        enterprise_only: matches!(q.text("enterprise").as_str(), "true" | "1" | "on"),
        created_since: since,
        search: q.text("q"),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    match state.store().list_customers(&query).await {
        Ok(p) => json(
            StatusCode::OK,
            &json!({ "customers": p.rows, "total": p.total, "more": p.more, "page": page, "page_size": PAGE_SIZE }),
        ),
        Err(e) => refused(e),
    }
}

/// `POST /api/customers`: a new customer (JSON with at least `name`); its
/// owner is the caller unless the body says `owner_id`.
#[utoipa::path(post, path = "/api/customers", tag = "crm", request_body(content = serde_json::Value, description = "the customer's fields: name (required), kind (personal, enterprise), phone, email, province, city, address, customer_type (normal, vip, old, agent, supplier, partner, other), level, source, maturity, industry, status, description, sharing (private, everyone), owner_id, acquired_at", content_type = "application/json"), responses((status = 200, description = "the customer as saved, with its id", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_customer(
    who: Identity,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let base = CustomerFields {
        owner_id: Some(who.user.id),
        ..CustomerFields::default()
    };
    let fields = match merged(&base, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state
        .store()
        .create_customer(fields, Some(who.user.id))
        .await
    {
        Ok(id) => match state.store().get_customer(id).await {
            Ok(Some(c)) => json(StatusCode::OK, &c),
            Ok(None) => not_found("customer", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

async fn visible_customer(
    state: &AppState,
    who: &Identity,
    id: i64,
) -> Result<store::Customer, Response> {
    let scope = scope_of(state, who).await.map_err(refused)?;
    match state.store().get_customer(id).await {
        Ok(Some(c)) if scope.covers(c.fields.owner_id, &c.fields.sharing) => Ok(c),
        Ok(_) => Err(not_found("customer", id)),
        Err(e) => Err(refused(e)),
    }
}

/// `GET /api/customers/{id}`: one customer with its contacts (those the
/// caller may see).
#[utoipa::path(get, path = "/api/customers/{id}", tag = "crm", params(("id" = i64, Path, description = "customer id")), responses((status = 200, description = "the customer and its contacts", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_customer(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    let customer = match visible_customer(&state, &who, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let contacts: Vec<store::Contact> = match state.store().customer_contacts(id).await {
        Ok(list) => list
            .into_iter()
            .filter(|c| scope.covers(c.fields.owner_id, &c.fields.sharing))
            .collect(),
        Err(e) => return refused(e),
    };
    let mut v = serde_json::to_value(&customer).unwrap_or_default();
    if let Value::Object(o) = &mut v {
        o.insert("contacts".into(), json!(contacts));
    }
    json(StatusCode::OK, &v)
}

/// `PUT /api/customers/{id}`: changes the fields the body gives.
#[utoipa::path(put, path = "/api/customers/{id}", tag = "crm", params(("id" = i64, Path, description = "customer id")), request_body(content = serde_json::Value, description = "the fields to change", content_type = "application/json"), responses((status = 200, description = "the customer as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_customer(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let current = match visible_customer(&state, &who, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = match merged(&current.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(e) = state.store().update_customer(id, fields).await {
        return refused(e);
    }
    match state.store().get_customer(id).await {
        Ok(Some(c)) => json(StatusCode::OK, &c),
        Ok(None) => not_found("customer", id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/customers/{id}`: its contacts stay, unlinked.
#[utoipa::path(delete, path = "/api/customers/{id}", tag = "crm", params(("id" = i64, Path, description = "customer id")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_customer(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_customer(&state, &who, id).await {
        return r;
    }
    match state.store().delete_customer(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => refused(e),
    }
}

fn group_kind(kind: &str) -> Option<GroupKind> {
    match kind {
        "categories" => Some(GroupKind::Category),
        "projects" => Some(GroupKind::Project),
        _ => None,
    }
}

fn no_such_group_kind(kind: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &format!("'{kind}': categories or projects"),
        None,
    )
}

/// `GET /api/contacts/groups/{kind}`: every contact category
/// (`categories`) or project (`projects`).
#[utoipa::path(get, path = "/api/contacts/groups/{kind}", tag = "crm", params(("kind" = String, Path, description = "categories or projects")), responses((status = 200, description = "[{id, name, description}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_groups(State(state): State<AppState>, Path(kind): Path<String>) -> Response {
    let Some(k) = group_kind(&kind) else {
        return no_such_group_kind(&kind);
    };
    match state.store().list_crm_groups(k).await {
        Ok(list) => json(StatusCode::OK, &list),
        Err(e) => refused(e),
    }
}

/// `POST /api/contacts/groups/{kind}`: a new category or project (JSON
/// `name`, `description`).
#[utoipa::path(post, path = "/api/contacts/groups/{kind}", tag = "crm", params(("kind" = String, Path, description = "categories or projects")), request_body(content = serde_json::Value, description = "{name, description}", content_type = "application/json"), responses((status = 200, description = "{id}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_group(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    body: String,
) -> Response {
    let Some(k) = group_kind(&kind) else {
        return no_such_group_kind(&kind);
    };
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    match state
        .store()
        .create_crm_group(k, &text("name"), &text("description"))
        .await
    {
        Ok(id) => json(StatusCode::OK, &json!({ "id": id })),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/contacts/groups/{kind}/{id}`: its contacts lose it.
#[utoipa::path(delete, path = "/api/contacts/groups/{kind}/{id}", tag = "crm", params(("kind" = String, Path, description = "categories or projects"), ("id" = i64, Path, description = "its id")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_group(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, i64)>,
) -> Response {
    let Some(k) = group_kind(&kind) else {
        return no_such_group_kind(&kind);
    };
    match state.store().delete_crm_group(k, id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}

/// `GET /api/lookup?number=N`: the contacts and customers whose number N
/// is, in any written form (+86, 0086, a leading 0, spaces and dashes), as
/// the screen pop shows them, within the caller's scope, with the open
/// tickets of the number or of those contacts (for callers who may see
/// tickets).
#[utoipa::path(get, path = "/api/lookup", tag = "crm", params(("number" = String, Query, description = "the number as it came")), responses((status = 200, description = "{number, normalized, contacts, customers, tickets}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn lookup(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let number = q.text("number");
    if number.is_empty() || number.len() > 64 {
        return api_error(
            StatusCode::BAD_REQUEST,
            "number: the phone number to look up",
            Some("number"),
        );
    }
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let m = match state.store().lookup_number(&number, &scope).await {
        Ok(m) => m,
        Err(e) => return refused(e),
    };
    let tickets = match open_tickets(&state, &who, &m, &scope).await {
        Ok(t) => t,
        Err(e) => return refused(e),
    };
    json(
        StatusCode::OK,
        &json!({
            "number": number,
            "normalized": m.normalized,
            "contacts": m.contacts,
            "customers": m.customers,
            "tickets": tickets,
        }),
    )
}

/// The open tickets of a looked-up number (about it, or about one of its
/// contacts) within `scope`, for callers who may see tickets; none for the
/// others, and none for text that is no number.
pub async fn open_tickets(
    state: &AppState,
    who: &Identity,
    m: &store::NumberMatch,
    scope: &CrmScope,
) -> Result<Vec<store::Ticket>, StoreError> {
    if m.normalized.is_empty() || !who.allows(crate::auth::permissions::TICKETS_VIEW) {
        return Ok(Vec::new());
    }
    let contacts: Vec<i64> = m.contacts.iter().map(|c| c.id).collect();
    state
        .store()
        .open_tickets_of(&m.normalized, &contacts, scope)
        .await
}
