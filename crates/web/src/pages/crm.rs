//! The CRM pages (the manual's chapters 4 and 5): contacts with the tabs of
//! chapter 4 and their form (4.1.3, with the status and appointment of
//! 4.2.2), customers with the type column of 5.2 and their form (5.1), a
//! customer's contacts on its page. Each page lists, opens and changes only
//! what the user's data scope covers (as the API: [`crate::api::crm_scope_of`]);
//! anything else is a 404.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use callcenter::crm::{CustomerKind, CustomerType, Gender, Sharing};
use chrono::{Local, NaiveDateTime, TimeZone};
use minijinja::{context, Value};
use store::{
    Contact, ContactFields, ContactQuery, CrmScope, Customer, CustomerFields, CustomerQuery,
    GroupKind, StoreError,
};

use super::voice::cc_forms::{groups_view, opt, Errs, FieldSpec};
use crate::auth::permissions::{
    CRM_CONTACTS_EDIT, CRM_CONTACTS_VIEW, CRM_CUSTOMERS_EDIT, CRM_CUSTOMERS_VIEW,
};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Rows of a list page.
const PAGE_SIZE: i64 = 50;

/// The CRM's page routes, each group behind its permission.
pub fn routes() -> Router<AppState> {
    let contacts_view = Router::new()
        .route("/crm/contacts", get(contacts))
        .route("/crm/contacts/{id}", get(contact_form));
    let contacts_edit = Router::new()
        .route("/crm/contacts/new", get(new_contact))
        .route("/crm/contacts", post(create_contact))
        .route("/crm/contacts/{id}", post(update_contact))
        .route("/crm/contacts/{id}/delete", post(delete_contact));
    let customers_view = Router::new()
        .route("/crm/customers", get(customers))
        .route("/crm/customers/{id}", get(customer_form));
    let customers_edit = Router::new()
        .route("/crm/customers/new", get(new_customer))
        .route("/crm/customers", post(create_customer))
        .route("/crm/customers/{id}", post(update_customer))
        .route("/crm/customers/{id}/delete", post(delete_customer));
    require(CRM_CONTACTS_VIEW, contacts_view)
        .merge(require(CRM_CONTACTS_EDIT, contacts_edit))
        .merge(require(CRM_CUSTOMERS_VIEW, customers_view))
        .merge(require(CRM_CUSTOMERS_EDIT, customers_edit))
}

/// The customer tabs of 5.1.
const CUSTOMER_TABS: &[&str] = &["all", "today", "week", "enterprise"];

async fn scope(state: &AppState, who: &Identity) -> Result<CrmScope, StoreError> {
    crate::api::crm_scope_of(state, who).await
}

pub(super) fn not_found(ctx: &PageCtx) -> Response {
    view::error_page(
        StatusCode::NOT_FOUND,
        ctx.lang,
        ctx.identity.as_ref(),
        "error.not_found",
    )
}

pub(super) fn failed(ctx: &PageCtx, e: StoreError) -> Response {
    view::internal_error(false, ctx.lang, &e.into())
}

/// Unix ms as `YYYY-MM-DD HH:MM` in local time ("" for none).
pub(super) fn local_minute(ms: Option<i64>) -> String {
    ms.and_then(|t| Local.timestamp_millis_opt(t).single())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Unix ms as `YYYY-MM-DD` in local time.
fn local_day(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `YYYY-MM-DD[ HH:MM]` in local time as unix ms; None for "", Err for
/// anything else.
pub(super) fn parse_local(s: &str) -> Result<Option<i64>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let with_time = if s.len() == 10 {
        format!("{s} 00:00")
    } else {
        s.replace('T', " ")
    };
    let t = NaiveDateTime::parse_from_str(&with_time, "%Y-%m-%d %H:%M").map_err(|_| ())?;
    Local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| Some(t.timestamp_millis()))
        .ok_or(())
}

/// Local midnight today and this week's Monday.
fn today_and_week() -> (i64, i64) {
    use chrono::Datelike;
    let now = Local::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .map_or(0, |t| t.timestamp_millis());
    (
        midnight,
        midnight - i64::from(now.weekday().num_days_from_monday()) * 86_400_000,
    )
}

/// A store refusal as messages next to the form's fields.
fn field_errors(lang: Lang, e: &StoreError) -> Option<Errs> {
    let mut errs = Errs::new();
    match e {
        StoreError::InvalidField(f) => {
            let msg = if f.why == "is required" {
                lang.t("form.required", &[])
            } else {
                lang.t("crm.invalid", &[("why", &f.why)])
            };
            errs.insert(f.field.to_string(), msg);
        }
        StoreError::CrmNotFound(what, _) => {
            errs.insert(format!("{what}_id"), lang.t("crm.gone", &[]));
        }
        _ => return None,
    }
    Some(errs)
}

fn choices(lang: Lang, what: &str, values: &[&str]) -> Vec<Value> {
    values
        .iter()
        .map(|v| opt(v, &lang.t(&format!("crm.{what}.{v}"), &[])))
        .collect()
}

fn page_of(q: &Fields) -> i64 {
    q.text("page").parse::<i64>().unwrap_or(1).max(1)
}

/// Page links for a list of `total` rows at page `page`.
fn pager(total: i64, page: i64) -> Value {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    context! { page => page, pages => pages, prev => (page > 1).then_some(page - 1), next => (page < pages).then_some(page + 1) }
}

// ---- contacts ----

/// `GET /crm/contacts?view=&q=&category=&page=`.
async fn contacts(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let tab = match q.text("view").as_str() {
        "" => "all".to_string(),
        t => t.to_string(),
    };
    let (view, team) = match crate::api::contact_tab(&state, &who, &tab).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&ctx),
        Err(e) => return failed(&ctx, e),
    };
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let page = page_of(&q);
    let category = q.text("category").parse::<i64>().ok();
    let query = ContactQuery {
        view,
        scope,
        search: q.text("q"),
        category_id: category,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
        team,
    };
    let store = state.store();
    let found = match store.list_contacts(&query).await {
        Ok(f) => f,
        Err(e) => return failed(&ctx, e),
    };
    let categories = store
        .list_crm_groups(GroupKind::Category)
        .await
        .unwrap_or_default();
    let mut names = BTreeMap::new();
    for c in &found.rows {
        for id in [c.fields.owner_id, c.creator_id].into_iter().flatten() {
            if let std::collections::btree_map::Entry::Vacant(v) = names.entry(id) {
                if let Ok(Some(u)) = store.get_user(id).await {
                    v.insert(u.username);
                }
            }
        }
    }
    let name_of = |id: Option<i64>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let rows: Vec<Value> = found
        .rows
        .iter()
        .map(|c| {
            let f = &c.fields;
            context! {
                id => c.id, name => f.name.clone(), mobile => f.mobile.clone(), phone => f.phone.clone(),
                city => f.city.clone(), gender => ctx.t(&format!("crm.gender.{}", f.gender)),
                owner => name_of(f.owner_id), creator => name_of(c.creator_id),
                assigned => f.owner_id.is_some(), updated => local_minute(Some(c.updated_at)),
                appointment => local_minute(f.appointment_at), voided => f.voided,
                business_status => f.business_status.clone(),
            }
        })
        .collect();
    let tabs: Vec<Value> = crate::api::CONTACT_TABS
        .iter()
        .map(|t| context! { id => *t, label => ctx.t(&format!("crm.contacts.tab.{t}")), active => *t == tab })
        .collect();
    let flash = match q.text("done").as_str() {
        "deleted" => Some(ctx.t("crm.contacts.deleted")),
        _ => None,
    };
    ctx.render(
        "crm/contacts.html",
        context! {
            rows => rows, total => found.total, more => found.more, tabs => tabs, tab => tab, search => q.text("q"),
            search_enc => crate::form::encode(&q.text("q")),
            categories => categories.iter().map(|g| context! { id => g.id, name => g.name.clone() }).collect::<Vec<_>>(),
            category => category, pager => pager(found.total, page), flash => flash,
            can_edit => who.allows(CRM_CONTACTS_EDIT),
        },
    )
}

/// The contact form's fields.
async fn contact_groups(
    state: &AppState,
    lang: Lang,
    scope: &CrmScope,
) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let store = state.store();
    let none = || vec![opt("", &lang.t("crm.none", &[]))];
    let mut categories = none();
    let mut projects = none();
    for (kind, list) in [
        (GroupKind::Category, &mut categories),
        (GroupKind::Project, &mut projects),
    ] {
        for g in store.list_crm_groups(kind).await.unwrap_or_default() {
            list.push(opt(&g.id.to_string(), &g.name));
        }
    }
    let mut customers = none();
    let q = CustomerQuery {
        scope: scope.clone(),
        customer_type: None,
        enterprise_only: false,
        created_since: None,
        search: String::new(),
        limit: 500,
        offset: 0,
    };
    if let Ok(page) = store.list_customers(&q).await {
        for c in page.rows {
            customers.push(opt(&c.id.to_string(), &c.fields.name));
        }
    }
    let genders: Vec<&str> = Gender::ALL.iter().map(|g| g.as_str()).collect();
    let sharing: Vec<&str> = Sharing::ALL.iter().map(|s| s.as_str()).collect();
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("name", "text").required(),
                FieldSpec::new("gender", "select").options(choices(lang, "gender", &genders)),
                FieldSpec::new("birthday", "text"),
                FieldSpec::new("mobile", "text"),
                FieldSpec::new("phone", "text"),
                FieldSpec::new("email", "text"),
                FieldSpec::new("wechat", "text"),
                FieldSpec::new("city", "text"),
                FieldSpec::new("address", "text"),
            ],
        ),
        (
            "filing",
            vec![
                FieldSpec::new("customer_id", "select").options(customers),
                FieldSpec::new("category_id", "select").options(categories),
                FieldSpec::new("project_id", "select").options(projects),
                FieldSpec::new("acquired_at", "text"),
                FieldSpec::new("sharing", "select").options(choices(lang, "sharing", &sharing)),
                FieldSpec::new("remarks", "textarea"),
            ],
        ),
        (
            "status",
            vec![
                FieldSpec::new("business_status", "text"),
                FieldSpec::new("appointment_at", "text"),
                FieldSpec::new("appointment_note", "textarea"),
                FieldSpec::new("voided", "check"),
            ],
        ),
    ]
}

fn contact_values(f: &ContactFields) -> BTreeMap<String, String> {
    let id = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_default();
    [
        ("name", f.name.clone()),
        ("gender", f.gender.clone()),
        ("birthday", f.birthday.clone()),
        ("mobile", f.mobile.clone()),
        ("phone", f.phone.clone()),
        ("email", f.email.clone()),
        ("wechat", f.wechat.clone()),
        ("city", f.city.clone()),
        ("address", f.address.clone()),
        ("customer_id", id(f.customer_id)),
        ("category_id", id(f.category_id)),
        ("project_id", id(f.project_id)),
        (
            "acquired_at",
            if f.acquired_at > 0 {
                local_day(f.acquired_at)
            } else {
                String::new()
            },
        ),
        ("sharing", f.sharing.clone()),
        ("remarks", f.remarks.clone()),
        ("business_status", f.business_status.clone()),
        ("appointment_at", local_minute(f.appointment_at)),
        ("appointment_note", f.appointment_note.clone()),
        ("voided", if f.voided { "1" } else { "" }.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The form as contact fields over `base` (what the contact has now, or a
/// new one's defaults); bad ids and times are noted in `errs`.
fn read_contact(f: &Fields, base: &ContactFields, lang: Lang, errs: &mut Errs) -> ContactFields {
    let mut c = base.clone();
    for (field, slot) in [
        ("name", &mut c.name),
        ("gender", &mut c.gender),
        ("birthday", &mut c.birthday),
        ("mobile", &mut c.mobile),
        ("phone", &mut c.phone),
        ("email", &mut c.email),
        ("wechat", &mut c.wechat),
        ("city", &mut c.city),
        ("address", &mut c.address),
        ("sharing", &mut c.sharing),
        ("remarks", &mut c.remarks),
        ("business_status", &mut c.business_status),
        ("appointment_note", &mut c.appointment_note),
    ] {
        *slot = f.text(field);
    }
    for (field, slot) in [
        ("customer_id", &mut c.customer_id),
        ("category_id", &mut c.category_id),
        ("project_id", &mut c.project_id),
    ] {
        let text = f.text(field);
        *slot = match text.as_str() {
            "" => None,
            t => match t.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    errs.insert(field.into(), lang.t("crm.gone", &[]));
                    None
                }
            },
        };
    }
    c.voided = !f.text("voided").is_empty();
    match parse_local(&f.text("appointment_at")) {
        Ok(t) => c.appointment_at = t,
        Err(()) => {
            errs.insert("appointment_at".into(), lang.t("crm.bad_time", &[]));
        }
    }
    match parse_local(&f.text("acquired_at")) {
        Ok(Some(t)) => c.acquired_at = t,
        Ok(None) => {}
        Err(()) => {
            errs.insert("acquired_at".into(), lang.t("crm.bad_time", &[]));
        }
    }
    c
}

#[allow(clippy::too_many_arguments)]
async fn render_contact_form(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    scope: &CrmScope,
    editing: Option<i64>,
    values: BTreeMap<String, String>,
    errs: Errs,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let groups = contact_groups(state, ctx.lang, scope).await;
    ctx.render_status(
        status,
        "crm/contact_form.html",
        context! {
            editing => editing, name => values.get("name").cloned().unwrap_or_default(),
            action => editing.map(|i| format!("/crm/contacts/{i}")).unwrap_or_else(|| "/crm/contacts".into()),
            groups => groups_view(ctx.lang, "crm.contact", &groups, &values, &errs),
            form_error => errs.get("_form").cloned(), flash => flash,
            can_edit => who.allows(CRM_CONTACTS_EDIT),
        },
    )
}

/// `GET /crm/contacts/new?customer=ID`.
async fn new_contact(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let fields = ContactFields {
        gender: Gender::default().as_str().into(),
        sharing: Sharing::default().as_str().into(),
        customer_id: q.text("customer").parse().ok(),
        ..ContactFields::default()
    };
    render_contact_form(
        &state,
        &ctx,
        &who,
        &scope,
        None,
        contact_values(&fields),
        Errs::new(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The contact `id` if the user's scope covers it.
async fn visible_contact(
    state: &AppState,
    scope: &CrmScope,
    id: i64,
) -> Result<Option<Contact>, StoreError> {
    Ok(state
        .store()
        .get_contact(id)
        .await?
        .filter(|c| scope.covers(c.fields.owner_id, &c.fields.sharing)))
}

/// `GET /crm/contacts/{id}`.
async fn contact_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let c = match visible_contact(&state, &scope, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(&ctx),
        Err(e) => return failed(&ctx, e),
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("crm.contacts.created")),
        "saved" => Some(ctx.t("crm.contacts.saved")),
        _ => None,
    };
    render_contact_form(
        &state,
        &ctx,
        &who,
        &scope,
        Some(id),
        contact_values(&c.fields),
        Errs::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

async fn save_contact(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    editing: Option<i64>,
    f: &Fields,
) -> Response {
    let scope = match scope(state, who).await {
        Ok(s) => s,
        Err(e) => return failed(ctx, e),
    };
    let base = match editing {
        Some(id) => match visible_contact(state, &scope, id).await {
            Ok(Some(c)) => c.fields,
            Ok(None) => return not_found(ctx),
            Err(e) => return failed(ctx, e),
        },
        None => ContactFields {
            owner_id: Some(who.user.id),
            ..ContactFields::default()
        },
    };
    let mut errs = Errs::new();
    let fields = read_contact(f, &base, ctx.lang, &mut errs);
    let sent: BTreeMap<String, String> = contact_values(&fields)
        .into_keys()
        .map(|k| {
            let v = f.text(&k);
            (k, v)
        })
        .collect();
    if !errs.is_empty() {
        return render_contact_form(
            state,
            ctx,
            who,
            &scope,
            editing,
            sent,
            errs,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let store = state.store();
    let saved = match editing {
        Some(id) => store.update_contact(id, fields).await.map(|()| id),
        None => store.create_contact(fields, Some(who.user.id)).await,
    };
    match saved {
        Ok(id) => {
            let done = if editing.is_some() {
                "saved"
            } else {
                "created"
            };
            Redirect::to(&format!("/crm/contacts/{id}?done={done}")).into_response()
        }
        Err(e) => match field_errors(ctx.lang, &e) {
            Some(errs) => {
                render_contact_form(
                    state,
                    ctx,
                    who,
                    &scope,
                    editing,
                    sent,
                    errs,
                    None,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed(ctx, e),
        },
    }
}

/// `POST /crm/contacts`.
async fn create_contact(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    save_contact(&state, &ctx, &who, None, &f).await
}

/// `POST /crm/contacts/{id}`.
async fn update_contact(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    save_contact(&state, &ctx, &who, Some(id), &f).await
}

/// `POST /crm/contacts/{id}/delete`.
async fn delete_contact(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    match visible_contact(&state, &scope, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&ctx),
        Err(e) => return failed(&ctx, e),
    }
    match state.store().delete_contact(id).await {
        Ok(()) => Redirect::to("/crm/contacts?done=deleted").into_response(),
        Err(e) => failed(&ctx, e),
    }
}

// ---- customers ----

/// `GET /crm/customers?view=&type=&q=&page=`.
async fn customers(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let tab = match q.text("view").as_str() {
        "" => "all".to_string(),
        t if CUSTOMER_TABS.contains(&t) => t.to_string(),
        _ => return not_found(&ctx),
    };
    let ty = q.text("type");
    if !ty.is_empty() && CustomerType::parse(&ty).is_none() {
        return not_found(&ctx);
    }
    let (today, week) = today_and_week();
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let page = page_of(&q);
    let query = CustomerQuery {
        scope,
        customer_type: (!ty.is_empty()).then(|| ty.clone()),
        enterprise_only: tab == "enterprise",
        created_since: match tab.as_str() {
            "today" => Some(today),
            "week" => Some(week),
            _ => None,
        },
        search: q.text("q"),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let store = state.store();
    let found = match store.list_customers(&query).await {
        Ok(f) => f,
        Err(e) => return failed(&ctx, e),
    };
    let mut owners = BTreeMap::new();
    for c in &found.rows {
        if let Some(id) = c.fields.owner_id {
            if let std::collections::btree_map::Entry::Vacant(v) = owners.entry(id) {
                if let Ok(Some(u)) = store.get_user(id).await {
                    v.insert(u.username);
                }
            }
        }
    }
    let rows: Vec<Value> = found
        .rows
        .iter()
        .map(|c| {
            let f = &c.fields;
            context! {
                id => c.id, name => f.name.clone(),
                customer_type => ctx.t(&format!("crm.customer_type.{}", f.customer_type)),
                kind => ctx.t(&format!("crm.kind.{}", f.kind)),
                city => f.city.clone(), status => f.status.clone(), industry => f.industry.clone(),
                maturity => f.maturity.clone(), acquired => local_day(f.acquired_at),
                owner => f.owner_id.and_then(|o| owners.get(&o).cloned()).unwrap_or_default(),
            }
        })
        .collect();
    let tabs: Vec<Value> = CUSTOMER_TABS
        .iter()
        .map(|t| context! { id => *t, label => ctx.t(&format!("crm.customers.tab.{t}")), active => *t == tab })
        .collect();
    let types: Vec<Value> = CustomerType::ALL
        .iter()
        .map(|t| context! { id => t.as_str(), label => ctx.t(&format!("crm.customer_type.{}", t.as_str())), active => t.as_str() == ty })
        .collect();
    let flash = match q.text("done").as_str() {
        "deleted" => Some(ctx.t("crm.customers.deleted")),
        _ => None,
    };
    ctx.render(
        "crm/customers.html",
        context! {
            rows => rows, total => found.total, more => found.more, tabs => tabs, tab => tab, types => types,
            customer_type => ty, search => q.text("q"), search_enc => crate::form::encode(&q.text("q")), pager => pager(found.total, page),
            flash => flash, can_edit => who.allows(CRM_CUSTOMERS_EDIT),
        },
    )
}

fn customer_groups(lang: Lang) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let kinds: Vec<&str> = CustomerKind::ALL.iter().map(|k| k.as_str()).collect();
    let types: Vec<&str> = CustomerType::ALL.iter().map(|k| k.as_str()).collect();
    let sharing: Vec<&str> = Sharing::ALL.iter().map(|s| s.as_str()).collect();
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("acquired_at", "text"),
                FieldSpec::new("kind", "select").options(choices(lang, "kind", &kinds)),
                FieldSpec::new("sharing", "select").options(choices(lang, "sharing", &sharing)),
            ],
        ),
        (
            "company",
            vec![
                FieldSpec::new("name", "text").required(),
                FieldSpec::new("phone", "text"),
                FieldSpec::new("email", "text"),
                FieldSpec::new("province", "text"),
                FieldSpec::new("city", "text"),
                FieldSpec::new("address", "text"),
                FieldSpec::new("customer_type", "select").options(choices(
                    lang,
                    "customer_type",
                    &types,
                )),
                FieldSpec::new("level", "text"),
                FieldSpec::new("source", "text"),
                FieldSpec::new("maturity", "text"),
                FieldSpec::new("industry", "text"),
                FieldSpec::new("status", "text"),
                FieldSpec::new("description", "textarea"),
            ],
        ),
    ]
}

fn customer_values(f: &CustomerFields) -> BTreeMap<String, String> {
    [
        (
            "acquired_at",
            if f.acquired_at > 0 {
                local_day(f.acquired_at)
            } else {
                String::new()
            },
        ),
        ("kind", f.kind.clone()),
        ("sharing", f.sharing.clone()),
        ("name", f.name.clone()),
        ("phone", f.phone.clone()),
        ("email", f.email.clone()),
        ("province", f.province.clone()),
        ("city", f.city.clone()),
        ("address", f.address.clone()),
        ("customer_type", f.customer_type.clone()),
        ("level", f.level.clone()),
        ("source", f.source.clone()),
        ("maturity", f.maturity.clone()),
        ("industry", f.industry.clone()),
        ("status", f.status.clone()),
        ("description", f.description.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn read_customer(f: &Fields, base: &CustomerFields, lang: Lang, errs: &mut Errs) -> CustomerFields {
    let mut c = base.clone();
    for (field, slot) in [
        ("kind", &mut c.kind),
        ("sharing", &mut c.sharing),
        ("name", &mut c.name),
        ("phone", &mut c.phone),
        ("email", &mut c.email),
        ("province", &mut c.province),
        ("city", &mut c.city),
        ("address", &mut c.address),
        ("customer_type", &mut c.customer_type),
        ("level", &mut c.level),
        ("source", &mut c.source),
        ("maturity", &mut c.maturity),
        ("industry", &mut c.industry),
        ("status", &mut c.status),
        ("description", &mut c.description),
    ] {
        *slot = f.text(field);
    }
    match parse_local(&f.text("acquired_at")) {
        Ok(Some(t)) => c.acquired_at = t,
        Ok(None) => {}
        Err(()) => {
            errs.insert("acquired_at".into(), lang.t("crm.bad_time", &[]));
        }
    }
    c
}

#[allow(clippy::too_many_arguments)]
async fn render_customer_form(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    scope: &CrmScope,
    editing: Option<i64>,
    values: BTreeMap<String, String>,
    errs: Errs,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let contacts: Vec<Value> = match editing {
        Some(id) => state
            .store()
            .customer_contacts(id)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|c| scope.covers(c.fields.owner_id, &c.fields.sharing))
            .map(|c| {
                context! {
                    id => c.id, name => c.fields.name, mobile => c.fields.mobile,
                    phone => c.fields.phone, email => c.fields.email,
                }
            })
            .collect(),
        None => Vec::new(),
    };
    ctx.render_status(
        status,
        "crm/customer_form.html",
        context! {
            editing => editing, name => values.get("name").cloned().unwrap_or_default(),
            action => editing.map(|i| format!("/crm/customers/{i}")).unwrap_or_else(|| "/crm/customers".into()),
            groups => groups_view(ctx.lang, "crm.customer", &customer_groups(ctx.lang), &values, &errs),
            contacts => contacts, form_error => errs.get("_form").cloned(), flash => flash,
            can_edit => who.allows(CRM_CUSTOMERS_EDIT),
            can_add_contact => who.allows(CRM_CONTACTS_EDIT),
        },
    )
}

/// `GET /crm/customers/new?type=`.
async fn new_customer(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let ty = q.text("type");
    let fields = CustomerFields {
        kind: CustomerKind::default().as_str().into(),
        sharing: Sharing::default().as_str().into(),
        customer_type: CustomerType::parse(&ty).unwrap_or_default().as_str().into(),
        ..CustomerFields::default()
    };
    render_customer_form(
        &state,
        &ctx,
        &who,
        &CrmScope::Owners(Vec::new()),
        None,
        customer_values(&fields),
        Errs::new(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn visible_customer(
    state: &AppState,
    scope: &CrmScope,
    id: i64,
) -> Result<Option<Customer>, StoreError> {
    Ok(state
        .store()
        .get_customer(id)
        .await?
        .filter(|c| scope.covers(c.fields.owner_id, &c.fields.sharing)))
}

/// `GET /crm/customers/{id}`: the form and the customer's contacts.
async fn customer_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let c = match visible_customer(&state, &scope, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(&ctx),
        Err(e) => return failed(&ctx, e),
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("crm.customers.created")),
        "saved" => Some(ctx.t("crm.customers.saved")),
        _ => None,
    };
    render_customer_form(
        &state,
        &ctx,
        &who,
        &scope,
        Some(id),
        customer_values(&c.fields),
        Errs::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

async fn save_customer(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    editing: Option<i64>,
    f: &Fields,
) -> Response {
    let scope = match scope(state, who).await {
        Ok(s) => s,
        Err(e) => return failed(ctx, e),
    };
    let base = match editing {
        Some(id) => match visible_customer(state, &scope, id).await {
            Ok(Some(c)) => c.fields,
            Ok(None) => return not_found(ctx),
            Err(e) => return failed(ctx, e),
        },
        None => CustomerFields {
            owner_id: Some(who.user.id),
            ..CustomerFields::default()
        },
    };
    let mut errs = Errs::new();
    let fields = read_customer(f, &base, ctx.lang, &mut errs);
    let sent: BTreeMap<String, String> = customer_values(&fields)
        .into_keys()
        .map(|k| {
            let v = f.text(&k);
            (k, v)
        })
        .collect();
    let refuse = |errs: Errs| {
        render_customer_form(
            state,
            ctx,
            who,
            &scope,
            editing,
            sent.clone(),
            errs,
            None,
            StatusCode::BAD_REQUEST,
        )
    };
    if !errs.is_empty() {
        return refuse(errs).await;
    }
    let store = state.store();
    let saved = match editing {
        Some(id) => store.update_customer(id, fields).await.map(|()| id),
        None => store.create_customer(fields, Some(who.user.id)).await,
    };
    match saved {
        Ok(id) => {
            let done = if editing.is_some() {
                "saved"
            } else {
                "created"
            };
            Redirect::to(&format!("/crm/customers/{id}?done={done}")).into_response()
        }
        Err(e) => match field_errors(ctx.lang, &e) {
            Some(errs) => refuse(errs).await,
            None => failed(ctx, e),
        },
    }
}

/// `POST /crm/customers`.
async fn create_customer(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    save_customer(&state, &ctx, &who, None, &f).await
}

/// `POST /crm/customers/{id}`.
async fn update_customer(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    save_customer(&state, &ctx, &who, Some(id), &f).await
}

/// `POST /crm/customers/{id}/delete`: its contacts stay, unlinked.
async fn delete_customer(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    let scope = match scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    match visible_customer(&state, &scope, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&ctx),
        Err(e) => return failed(&ctx, e),
    }
    match state.store().delete_customer(id).await {
        Ok(()) => Redirect::to("/crm/customers?done=deleted").into_response(),
        Err(e) => failed(&ctx, e),
    }
}
