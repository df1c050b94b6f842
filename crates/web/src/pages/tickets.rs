//! The ticket pages (the manual's chapter 6): the overview counts and the
//! tabs of 6.2 (`/tickets`), the create form of 6.1.1 (`/tickets/new`,
//! also opened from the desk with the caller's number and call), a ticket
//! with its details, replies (public or private), history and attachments
//! (`/tickets/{id}`), and the ticket types (`/tickets/types`, 6.2.6). As
//! the API, every page shows only what the user's data scope covers.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use callcenter::tickets::{Priority, TicketStatus};
use minijinja::{context, Value};
use store::{CrmScope, StoreError, Ticket, TicketFields, TicketQuery};

use super::crm::{failed, local_minute, not_found, parse_local};
use super::voice::cc_forms::{groups_view, opt, Errs, FieldSpec};
use crate::api::tickets as api;
use crate::auth::permissions::{TICKETS_EDIT, TICKETS_MANAGE, TICKETS_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::richtext;
use crate::state::AppState;
use crate::upload::{self, SpoolError};
use crate::view::{self, PageCtx};

const PAGE_SIZE: i64 = 50;

/// The tabs of 6.2, in order.
const TABS: &[&str] = &[
    "open",
    "mine",
    "pending",
    "unassigned",
    "followed",
    "closed",
    "all",
];

/// The ticket page routes, each group behind its permission.
pub fn routes() -> Router<AppState> {
    let view_routes = Router::new()
        .route("/tickets", get(list))
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/files/{file}", get(api::download));
    let edit = Router::new()
        .route("/tickets/new", get(new_ticket))
        .route("/tickets", post(create))
        .route("/tickets/{id}", post(update))
        .route("/tickets/{id}/reply", post(reply))
        .route("/tickets/{id}/follow", post(follow))
        .route("/tickets/{id}/attach", post(attach));
    let manage = Router::new()
        .route("/tickets/types", get(types).post(create_type))
        .route("/tickets/types/{id}/delete", post(delete_type))
        .route("/tickets/{id}/delete", post(delete));
    require(TICKETS_VIEW, view_routes)
        .merge(require(TICKETS_EDIT, edit))
        .merge(require(TICKETS_MANAGE, manage))
}

/// Usernames (with display names) of every user, for names and choices.
async fn users(state: &AppState) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    let q = store::UserQuery {
        limit: 1000,
        ..Default::default()
    };
    if let Ok(page) = state.store().list_users(&q).await {
        for u in page.users {
            let label = if u.name.is_empty() {
                u.username.clone()
            } else {
                format!("{} ({})", u.username, u.name)
            };
            out.insert(u.id, label);
        }
    }
    out
}

fn label(lang: Lang, group: &str, value: &str) -> String {
    lang.t(&format!("tickets.{group}.{value}"), &[])
}

/// `GET /tickets?view=&q=&status=&priority=&page=`.
async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let tab = match q.text("view").as_str() {
        "" => "open".to_string(),
        t if TABS.contains(&t) => t.to_string(),
        _ => return not_found(&ctx),
    };
    let Some(view) = api::view_of(&tab, who.user.id) else {
        return not_found(&ctx);
    };
    let scope = match crate::api::crm_scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let page = q.text("page").parse::<i64>().unwrap_or(1).max(1);
    let status = Some(q.text("status")).filter(|s| TicketStatus::parse(s).is_some());
    let priority = Some(q.text("priority")).filter(|p| Priority::parse(p).is_some());
    let query = TicketQuery {
        view,
        scope: scope.clone(),
        search: q.text("q"),
        status,
        category_id: None,
        priority,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let store = state.store();
    let found = match store.list_tickets(&query).await {
        Ok(f) => f,
        Err(e) => return failed(&ctx, e),
    };
    let overview = match store.ticket_overview(&scope, who.user.id).await {
        Ok(o) => o,
        Err(e) => return failed(&ctx, e),
    };
    let names = users(&state).await;
    let types: BTreeMap<i64, String> = store
        .list_ticket_categories()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let name = |id: Option<i64>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let rows: Vec<Value> = found
        .rows
        .iter()
        .map(|t| {
            let f = &t.fields;
            context! {
                id => t.id, title => f.title.clone(), requester => name(f.requester_id),
                assignee => name(f.assignee_id), status => f.status.clone(),
                status_label => label(ctx.lang, "status", &f.status),
                priority => f.priority.clone(), priority_label => label(ctx.lang, "priority", &f.priority),
                category => f.category_id.and_then(|c| types.get(&c).cloned()).unwrap_or_default(),
                phone => f.phone.clone(), updated => local_minute(Some(t.updated_at)),
                overdue => callcenter::tickets::is_overdue(
                    TicketStatus::parse(&f.status).unwrap_or_default(), f.due_at, chrono::Utc::now().timestamp_millis()),
            }
        })
        .collect();
    let tabs: Vec<Value> = TABS
        .iter()
        .map(|t| context! { id => *t, label => ctx.t(&format!("tickets.tab.{t}")), active => *t == tab })
        .collect();
    let by_status: Vec<Value> = overview
        .by_status
        .iter()
        .map(|(s, n)| context! { label => label(ctx.lang, "status", s), n => *n })
        .collect();
    let by_type: Vec<Value> = overview
        .by_category
        .iter()
        .map(|(c, n)| context! {
            label => c.and_then(|c| types.get(&c).cloned()).unwrap_or_else(|| ctx.t("tickets.no_type")),
            n => *n,
        })
        .collect();
    let pages = ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    ctx.render(
        "tickets/list.html",
        context! {
            rows => rows, total => found.total, more => found.more, tabs => tabs, tab => tab,
            search => q.text("q"), search_enc => crate::form::encode(&q.text("q")),
            overview => context! { total => overview.total, open => overview.open, mine => overview.mine, pending => overview.pending },
            by_status => by_status, by_type => by_type,
            page => page, pages => pages, prev => (page > 1).then_some(page - 1), next => (page < pages).then_some(page + 1),
            can_edit => who.allows(TICKETS_EDIT), can_manage => who.allows(TICKETS_MANAGE),
        },
    )
}

/// The form's fields (6.1.1).
async fn form_groups(
    state: &AppState,
    lang: Lang,
    scope: &CrmScope,
    current_contact: Option<i64>,
) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let store = state.store();
    let none = || vec![opt("", &lang.t("crm.none", &[]))];
    let mut people = none();
    for (id, name) in users(state).await {
        people.push(opt(&id.to_string(), &name));
    }
    let mut departments = none();
    for d in store.list_departments().await.unwrap_or_default() {
        departments.push(opt(&d.id.to_string(), &d.name));
    }
    let mut types = none();
    for c in store.list_ticket_categories().await.unwrap_or_default() {
        types.push(opt(&c.id.to_string(), &c.name));
    }
    // The newest contacts in scope, and the ticket's own.
    let mut contacts = none();
    let q = store::ContactQuery {
        view: store::ContactView::All,
        scope: scope.clone(),
        search: String::new(),
        category_id: None,
        limit: 200,
        offset: 0,
        team: Vec::new(),
    };
    let mut seen = Vec::new();
    if let Some(id) = current_contact {
        if let Ok(Some(c)) = store.get_contact(id).await {
            contacts.push(opt(&c.id.to_string(), &c.fields.name));
            seen.push(c.id);
        }
    }
    if let Ok(page) = store.list_contacts(&q).await {
        for c in page.rows.into_iter().filter(|c| !seen.contains(&c.id)) {
            let label = format!("{} {}", c.fields.name, c.fields.mobile);
            contacts.push(opt(&c.id.to_string(), label.trim()));
        }
    }
    let statuses: Vec<Value> = TicketStatus::ALL
        .iter()
        .map(|s| opt(s.as_str(), &label(lang, "status", s.as_str())))
        .collect();
    let priorities: Vec<Value> = Priority::ALL
        .iter()
        .map(|p| opt(p.as_str(), &label(lang, "priority", p.as_str())))
        .collect();
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("contact_id", "select").options(contacts),
                FieldSpec::new("requester_id", "select").options(people.clone()),
                FieldSpec::new("department_id", "select").options(departments),
                FieldSpec::new("assignee_id", "select").options(people),
                FieldSpec::new("status", "select").options(statuses),
                FieldSpec::new("category_id", "select").options(types),
                FieldSpec::new("priority", "select").options(priorities),
                FieldSpec::new("tags", "text"),
                FieldSpec::new("phone", "text"),
                FieldSpec::new("due_at", "text"),
            ],
        ),
        (
            "content",
            vec![
                FieldSpec::new("title", "text").required(),
                FieldSpec::new("body", "textarea"),
            ],
        ),
    ]
}

fn values(f: &TicketFields) -> BTreeMap<String, String> {
    let id = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_default();
    [
        ("contact_id", id(f.contact_id)),
        ("requester_id", id(f.requester_id)),
        ("department_id", id(f.department_id)),
        ("assignee_id", id(f.assignee_id)),
        ("status", f.status.clone()),
        ("category_id", id(f.category_id)),
        ("priority", f.priority.clone()),
        ("tags", f.tags.join(", ")),
        ("phone", f.phone.clone()),
        ("due_at", local_minute(f.due_at)),
        ("title", f.title.clone()),
        ("body", f.body.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The form as ticket fields over `base`; bad ids and times in `errs`.
fn read_form(f: &Fields, base: &TicketFields, lang: Lang, errs: &mut Errs) -> TicketFields {
    let mut t = base.clone();
    t.title = f.text("title");
    t.body = richtext::clean(&f.text("body"));
    t.status = f.text("status");
    t.priority = f.text("priority");
    t.phone = f.text("phone");
    t.tags = vec![f.text("tags")];
    for (field, slot) in [
        ("contact_id", &mut t.contact_id),
        ("requester_id", &mut t.requester_id),
        ("department_id", &mut t.department_id),
        ("assignee_id", &mut t.assignee_id),
        ("category_id", &mut t.category_id),
    ] {
        *slot = match f.text(field).as_str() {
            "" => None,
            v => match v.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    errs.insert(field.into(), lang.t("crm.gone", &[]));
                    None
                }
            },
        };
    }
    match parse_local(&f.text("due_at")) {
        Ok(t2) => t.due_at = t2.or(base.due_at),
        Err(()) => {
            errs.insert("due_at".into(), lang.t("crm.bad_time", &[]));
        }
    }
    if f.text("call_id").len() <= 200 && !f.text("call_id").is_empty() {
        t.call_id = f.text("call_id");
    }
    t
}

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
            let field = match *what {
                "ticket type" => "category_id".to_string(),
                "user" => "assignee_id".to_string(),
                w => format!("{w}_id"),
            };
            errs.insert(field, lang.t("crm.gone", &[]));
        }
        _ => return None,
    }
    Some(errs)
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    ctx: &PageCtx,
    scope: &CrmScope,
    values: BTreeMap<String, String>,
    errs: Errs,
    call_id: &str,
    status: StatusCode,
) -> Response {
    let contact = values.get("contact_id").and_then(|v| v.parse().ok());
    let groups = form_groups(state, ctx.lang, scope, contact).await;
    ctx.render_status(
        status,
        "tickets/form.html",
        context! {
            groups => groups_view(ctx.lang, "tickets", &groups, &values, &errs),
            form_error => errs.get("_form").cloned(), call_id => call_id,
            file_error => errs.get("file").cloned(), max_files => MAX_FILES,
        },
    )
}

/// `GET /tickets/new?contact=&phone=&call=`: the form, filled from the
/// desk's call when it comes from one.
async fn new_ticket(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = match crate::api::crm_scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let f = TicketFields {
        requester_id: Some(who.user.id),
        status: TicketStatus::New.as_str().into(),
        priority: Priority::Medium.as_str().into(),
        contact_id: q.text("contact").parse().ok(),
        phone: q.text("phone"),
        ..TicketFields::default()
    };
    let call = q.text("call");
    let call = if call.len() <= 200 {
        call
    } else {
        String::new()
    };
    render_form(
        &state,
        &ctx,
        &scope,
        values(&f),
        Errs::new(),
        &call,
        StatusCode::OK,
    )
    .await
}

/// `POST /tickets`.
/// The most files one form may attach at once.
const MAX_FILES: usize = 10;

/// Why a multipart form of the ticket pages was not read.
enum UploadError {
    /// Refused: what to tell the user, the status, and the text fields read
    /// before (so the form shows them again).
    Refused {
        why: String,
        status: StatusCode,
        text: Fields,
    },
    /// The server failed (no data dir, a full disk): the page that says so.
    Failed(Response),
}

/// A multipart form of the ticket pages: its text fields and its files
/// (`file` fields: name and bytes, at most [`MAX_FILES`] of at most
/// `limit` bytes each; an empty file input sends none).
async fn read_multipart(
    state: &AppState,
    ctx: &PageCtx,
    req: Request,
    limit: usize,
) -> Result<(Fields, Vec<(String, Vec<u8>)>), UploadError> {
    let Some(data_dir) = state.data_dir() else {
        return Err(UploadError::Failed(view::internal_error(
            false,
            ctx.lang,
            &anyhow::anyhow!("no data directory to keep attachments in"),
        )));
    };
    let mut text = Fields::default();
    let refused = |why: String, status: StatusCode, text: &Fields| UploadError::Refused {
        why,
        status,
        text: text.clone(),
    };
    let mut mp = Multipart::from_request(req, state).await.map_err(|_| {
        refused(
            ctx.t("tickets.file_required"),
            StatusCode::BAD_REQUEST,
            &text,
        )
    })?;
    let dir = data_dir.join(upload::TEMP_DIR);
    let mut files = Vec::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(refused(e.body_text(), StatusCode::BAD_REQUEST, &text)),
        };
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        if name != "file" {
            // Text fields are form-sized; a bigger one is not a form.
            let value = match field.text().await {
                Ok(v) if v.len() <= state.settings().max_form_bytes => v,
                Ok(_) => {
                    return Err(refused(
                        ctx.t("error.too_large"),
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &text,
                    ))
                }
                Err(e) => return Err(refused(e.body_text(), StatusCode::BAD_REQUEST, &text)),
            };
            text.push(&name, &value);
            continue;
        }
        let file_name = field.file_name().unwrap_or_default().to_string();
        let spooled = match upload::spool(&dir, field, limit).await {
            Ok(s) => s,
            Err(SpoolError::TooLarge { .. }) => {
                return Err(refused(
                    format!(
                        "{file_name}: {}",
                        crate::attachments::Refused::TooLarge(limit)
                    ),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &text,
                ))
            }
            Err(SpoolError::Body(why)) => return Err(refused(why, StatusCode::BAD_REQUEST, &text)),
            Err(SpoolError::Storage(why)) => {
                return Err(UploadError::Failed(view::internal_error(
                    false,
                    ctx.lang,
                    &anyhow::anyhow!("attachment: {why}"),
                )))
            }
        };
        let bytes = spooled.read().await.map_err(|e| {
            UploadError::Failed(view::internal_error(
                false,
                ctx.lang,
                &anyhow::anyhow!("attachment: {e:?}"),
            ))
        })?;
        if file_name.trim().is_empty() && bytes.is_empty() {
            continue;
        }
        if files.len() == MAX_FILES {
            return Err(refused(
                ctx.lang
                    .t("tickets.too_many_files", &[("max", &MAX_FILES.to_string())]),
                StatusCode::BAD_REQUEST,
                &text,
            ));
        }
        files.push((file_name, bytes));
    }
    Ok((text, files))
}

/// Ticket `t`'s page with `why` next to its file field (an attachment
/// refused or not kept), answered with `status`.
async fn with_file_error(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    t: &Ticket,
    scope: &CrmScope,
    why: String,
    status: StatusCode,
) -> Response {
    let mut errs = Errs::new();
    errs.insert("file".into(), why);
    render_ticket(
        state,
        ctx,
        who,
        t,
        scope,
        values(&t.fields),
        errs,
        String::new(),
        status,
    )
    .await
}

/// Keeps `files` as attachments of ticket `id`: None when all were kept,
/// else the failed store's answer (status and what it said).
async fn attach_all(
    state: &AppState,
    who: &Identity,
    id: i64,
    files: &[(String, Vec<u8>)],
) -> Option<(StatusCode, String)> {
    let data_dir = state.data_dir()?;
    for (name, bytes) in files {
        let r = api::store_attachment(state, who, id, name, bytes, &data_dir).await;
        if r.status() != StatusCode::OK {
            let status = r.status();
            let body = axum::body::to_bytes(r.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let why = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_default();
            return Some((status, format!("{name}: {why}")));
        }
    }
    None
}

/// `POST /tickets`: the create form, as a plain form or (with files to
/// attach) multipart with `?csrf=`. Every file is checked before the
/// ticket is made: a refused one (too large, a forbidden type) leaves
/// nothing behind and says which and why.
async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    req: Request,
) -> Response {
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let scope = match crate::api::crm_scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let limit = api::attachment_limit(&state).await;
    let mut errs = Errs::new();
    let (f, files) = if multipart {
        match read_multipart(&state, &ctx, req, limit).await {
            Ok(read) => read,
            Err(UploadError::Failed(r)) => return r,
            Err(UploadError::Refused { why, text, .. }) => {
                errs.insert("file".into(), why);
                (text, Vec::new())
            }
        }
    } else {
        match Form::from_request(req, &state).await {
            Ok(Form(f)) => (f, Vec::new()),
            Err(r) => return r,
        }
    };
    for (name, bytes) in &files {
        if let Err(why) = crate::attachments::check(name, bytes, limit) {
            errs.insert("file".into(), format!("{name}: {why}"));
            break;
        }
    }
    let base = TicketFields {
        requester_id: Some(who.user.id),
        ..TicketFields::default()
    };
    let fields = read_form(&f, &base, ctx.lang, &mut errs);
    let sent: BTreeMap<String, String> = values(&fields)
        .into_keys()
        .map(|k| {
            let v = f.text(&k);
            (k, v)
        })
        .collect();
    if !scope.covers_ticket(fields.requester_id, fields.assignee_id) {
        errs.insert("requester_id".into(), ctx.t("tickets.out_of_scope"));
    }
    if !errs.is_empty() {
        return render_form(
            &state,
            &ctx,
            &scope,
            sent,
            errs,
            &fields.call_id,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let call_id = fields.call_id.clone();
    match state.store().create_ticket(fields, Some(who.user.id)).await {
        Ok(id) => {
            let kept = attach_all(&state, &who, id, &files).await;
            match state.store().get_ticket(id).await {
                Ok(Some(t)) => {
                    crate::notify_crm::ticket_created(&state, &t, who.user.id);
                    if let Some((status, why)) = kept {
                        // The ticket is made; the file that could not be
                        // kept is named on its page, to attach again.
                        return with_file_error(&state, &ctx, &who, &t, &scope, why, status).await;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("ticket {id} made, reading it back failed: {e}"),
            }
            Redirect::to(&format!("/tickets/{id}?done=created")).into_response()
        }
        Err(e) => match field_errors(ctx.lang, &e) {
            Some(errs) => {
                render_form(
                    &state,
                    &ctx,
                    &scope,
                    sent,
                    errs,
                    &call_id,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed(&ctx, e),
        },
    }
}

/// Ticket `id` if the user's scope covers it (with that scope), else the
/// page to answer: 404 outside the scope, the error page when the store
/// failed.
async fn visible(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
) -> Result<(Ticket, CrmScope), Response> {
    let scope = crate::api::crm_scope_of(state, who)
        .await
        .map_err(|e| failed(ctx, e))?;
    match state.store().get_ticket(id).await {
        Ok(Some(t)) if scope.covers_ticket(t.fields.requester_id, t.fields.assignee_id) => {
            Ok((t, scope))
        }
        Ok(_) => Err(not_found(ctx)),
        Err(e) => Err(failed(ctx, e)),
    }
}

/// `GET /tickets/{id}`: details (editable), replies, history, files.
async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    let (t, scope) = match visible(&state, &ctx, &who, id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render_ticket(
        &state,
        &ctx,
        &who,
        &t,
        &scope,
        values(&t.fields),
        Errs::new(),
        q.text("done"),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_ticket(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    t: &Ticket,
    scope: &CrmScope,
    form_values: BTreeMap<String, String>,
    errs: Errs,
    done: String,
    status: StatusCode,
) -> Response {
    let store = state.store();
    let names = users(state).await;
    let name = |id: Option<i64>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let replies: Vec<Value> = store
        .ticket_replies(t.id, true)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            context! {
                id => r.id, author => name(r.author_id), at => local_minute(Some(r.created_at)),
                private => r.private, body => r.body,
            }
        })
        .collect();
    let history: Vec<Value> = store
        .ticket_changes(t.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let shown = |v: &str| -> String {
                match c.field.as_str() {
                    "assignee" | "requester" => {
                        v.parse().ok().map(|i| name(Some(i))).unwrap_or_default()
                    }
                    "status" | "created" if !v.is_empty() => label(ctx.lang, "status", v),
                    "priority" if !v.is_empty() => label(ctx.lang, "priority", v),
                    "due_at" => local_minute(v.parse().ok()),
                    _ => v.to_string(),
                }
            };
            context! {
                who => name(c.user_id), at => local_minute(Some(c.changed_at)),
                field => ctx.t(&format!("tickets.field.{}", c.field)),
                old => shown(&c.old_value), new => shown(&c.new_value),
            }
        })
        .collect();
    let files: Vec<Value> = store
        .ticket_attachments(t.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| context! { id => a.id, name => a.file_name, size => a.size, by => name(a.uploaded_by), at => local_minute(Some(a.created_at)) })
        .collect();
    let following = store
        .ticket_followers(t.id)
        .await
        .unwrap_or_default()
        .contains(&who.user.id);
    let cdr = if t.fields.call_id.is_empty() {
        None
    } else {
        store.cdr_of_call(&t.fields.call_id).await.ok().flatten()
    };
    let call = cdr.map(|c| {
        context! {
            caller => c.caller, callee => c.callee, start => local_minute(Some(c.start_at)),
            talk => c.talk_secs, recorded => c.recording_path.is_some(), id => c.id,
        }
    });
    let groups = form_groups(state, ctx.lang, scope, t.fields.contact_id).await;
    let flash = match done.as_str() {
        "created" => Some(ctx.t("tickets.created")),
        "saved" => Some(ctx.t("tickets.saved")),
        "replied" => Some(ctx.t("tickets.replied")),
        "attached" => Some(ctx.t("tickets.attached")),
        _ => None,
    };
    ctx.render_status(
        status,
        "tickets/ticket.html",
        context! {
            id => t.id, title => t.fields.title.clone(), body => t.fields.body.clone(),
            status => t.fields.status.clone(), status_label => label(ctx.lang, "status", &t.fields.status),
            priority_label => label(ctx.lang, "priority", &t.fields.priority),
            requester => name(t.fields.requester_id), assignee => name(t.fields.assignee_id),
            created => local_minute(Some(t.created_at)), updated => local_minute(Some(t.updated_at)),
            due => local_minute(t.fields.due_at), tags => t.fields.tags.clone(), phone => t.fields.phone.clone(),
            replies => replies, history => history, files => files, following => following, call => call,
            groups => groups_view(ctx.lang, "tickets", &groups, &form_values, &errs),
            form_error => errs.get("_form").cloned(), flash => flash,
            reply_error => errs.get("reply").cloned(), file_error => errs.get("file").cloned(),
            can_edit => who.allows(TICKETS_EDIT), can_manage => who.allows(TICKETS_MANAGE),
        },
    )
}

/// `POST /tickets/{id}`: the details changed (close and reopen are a
/// status).
async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    let (t, scope) = match visible(&state, &ctx, &who, id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut errs = Errs::new();
    let mut fields = read_form(&f, &t.fields, ctx.lang, &mut errs);
    // A status button ("close", "reopen") says only that.
    match f.text("set_status").as_str() {
        "" => {}
        s if TicketStatus::parse(s).is_some() => {
            fields = t.fields.clone();
            fields.status = s.to_string();
            errs.clear();
        }
        _ => {
            errs.insert("status".into(), ctx.t("tickets.bad_status"));
        }
    }
    let sent: BTreeMap<String, String> = if f.text("set_status").is_empty() {
        values(&fields)
            .into_keys()
            .map(|k| {
                let v = f.text(&k);
                (k, v)
            })
            .collect()
    } else {
        values(&fields)
    };
    if !scope.covers_ticket(fields.requester_id, fields.assignee_id) {
        errs.insert("requester_id".into(), ctx.t("tickets.out_of_scope"));
    }
    if !errs.is_empty() {
        return render_ticket(
            &state,
            &ctx,
            &who,
            &t,
            &scope,
            sent,
            errs,
            String::new(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match state
        .store()
        .update_ticket(id, fields, Some(who.user.id))
        .await
    {
        Ok(changes) => {
            if let Ok(Some(t)) = state.store().get_ticket(id).await {
                crate::notify_crm::ticket_changed(&state, &t, &changes, who.user.id);
            }
            Redirect::to(&format!("/tickets/{id}?done=saved")).into_response()
        }
        Err(e) => match field_errors(ctx.lang, &e) {
            Some(errs) => {
                render_ticket(
                    &state,
                    &ctx,
                    &who,
                    &t,
                    &scope,
                    sent,
                    errs,
                    String::new(),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed(&ctx, e),
        },
    }
}

/// `POST /tickets/{id}/reply` (`body`, `private`).
async fn reply(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    let (t, scope) = match visible(&state, &ctx, &who, id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let text = f.text("body");
    let private = f.text("private") == "1";
    let r = api::add_reply(&state, &who, &t, &text, private).await;
    if r.status() == StatusCode::OK {
        return Redirect::to(&format!("/tickets/{id}?done=replied#replies")).into_response();
    }
    let mut errs = Errs::new();
    errs.insert("reply".into(), ctx.t("tickets.reply_required"));
    render_ticket(
        &state,
        &ctx,
        &who,
        &t,
        &scope,
        values(&t.fields),
        errs,
        String::new(),
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// `POST /tickets/{id}/follow` (`follow` 1 or 0).
async fn follow(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    if let Err(r) = visible(&state, &ctx, &who, id).await {
        return r;
    }
    match state
        .store()
        .follow_ticket(id, who.user.id, f.text("follow") == "1")
        .await
    {
        Ok(()) => Redirect::to(&format!("/tickets/{id}")).into_response(),
        Err(e) => failed(&ctx, e),
    }
}

/// `POST /tickets/{id}/attach?csrf=` (multipart, field `file`).
async fn attach(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    req: Request,
) -> Response {
    let (t, scope) = match visible(&state, &ctx, &who, id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let limit = api::attachment_limit(&state).await;
    let fail = |why: String, status: StatusCode| {
        let (state, ctx, who, t, scope) = (&state, &ctx, &who, &t, &scope);
        async move { with_file_error(state, ctx, who, t, scope, why, status).await }
    };
    let files = match read_multipart(&state, &ctx, req, limit).await {
        Ok((_, files)) => files,
        Err(UploadError::Failed(r)) => return r,
        Err(UploadError::Refused { why, status, .. }) => return fail(why, status).await,
    };
    if files.is_empty() {
        return fail(ctx.t("tickets.file_required"), StatusCode::BAD_REQUEST).await;
    }
    match attach_all(&state, &who, id, &files).await {
        None => Redirect::to(&format!("/tickets/{id}?done=attached#files")).into_response(),
        Some((status, why)) => fail(why, status).await,
    }
}

/// `POST /tickets/{id}/delete`.
async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(_f): Form,
) -> Response {
    if let Err(r) = visible(&state, &ctx, &who, id).await {
        return r;
    }
    match state.store().delete_ticket(id).await {
        Ok(files) => {
            if let Some(dir) = state.data_dir() {
                for f in files {
                    let _ = tokio::fs::remove_file(crate::attachments::dir(&dir).join(f)).await;
                }
            }
            Redirect::to("/tickets?done=deleted").into_response()
        }
        Err(e) => failed(&ctx, e),
    }
}

/// `GET /tickets/types`.
async fn types(State(state): State<AppState>, ctx: PageCtx) -> Response {
    render_types(&state, &ctx, None, StatusCode::OK).await
}

async fn render_types(
    state: &AppState,
    ctx: &PageCtx,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let list: Vec<Value> = state
        .store()
        .list_ticket_categories()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| context! { id => c.id, name => c.name, created => local_minute(Some(c.created_at)) })
        .collect();
    ctx.render_status(
        status,
        "tickets/types.html",
        context! { types => list, error => error },
    )
}

/// `POST /tickets/types` (`name`).
async fn create_type(State(state): State<AppState>, ctx: PageCtx, Form(f): Form) -> Response {
    match state.store().create_ticket_category(&f.text("name")).await {
        Ok(_) => Redirect::to("/tickets/types").into_response(),
        Err(StoreError::CrmNameTaken(_, name)) => {
            render_types(
                &state,
                &ctx,
                Some(ctx.lang.t("tickets.type_taken", &[("name", &name)])),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(StoreError::InvalidField(_)) => {
            render_types(
                &state,
                &ctx,
                Some(ctx.t("form.required")),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => failed(&ctx, e),
    }
}

/// `POST /tickets/types/{id}/delete`.
async fn delete_type(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(_f): Form,
) -> Response {
    match state.store().delete_ticket_category(id).await {
        Ok(()) | Err(StoreError::CrmNotFound(..)) => Redirect::to("/tickets/types").into_response(),
        Err(e) => failed(&ctx, e),
    }
}
