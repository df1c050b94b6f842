//! Tickets over the API (the manual's chapter 6): list by tab, create, read
//! with replies, history and attachments, change, delete, reply (public or
//! private), follow, attach files, the overview, and ticket types. Every
//! ticket is limited to the caller's data scope (requested by or assigned
//! to a user the scope covers): one outside it answers 404.

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use callcenter::tickets::ReplyBy;
use serde_json::{json, Value};
use store::{CrmScope, Ticket, TicketFields, TicketQuery, TicketView};

use super::body_json;
use super::crm::{merged, not_found, refused, scope_of, PAGE_SIZE};
use crate::attachments;
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::notify_crm;
use crate::richtext;
use crate::state::AppState;
use crate::view::{api_error, json};

/// Most bytes of one attachment: `tickets.attachment_max_mb` (MiB) or the
/// default.
pub async fn attachment_limit(state: &AppState) -> usize {
    state
        .store()
        .settings()
        .await
        .ok()
        .and_then(|m| m.get("tickets.attachment_max_mb").cloned())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|mb| (1..=512).contains(mb))
        .map_or(attachments::DEFAULT_MAX_BYTES, |mb| mb * 1024 * 1024)
}

/// The tab named `view` for user `me`.
pub fn view_of(view: &str, me: i64) -> Option<TicketView> {
    Some(match view {
        "" | "open" => TicketView::Open,
        "all" => TicketView::All,
        "mine" => TicketView::Mine(me),
        "pending" => TicketView::Pending(me),
        "unassigned" => TicketView::Unassigned,
        "followed" => TicketView::Followed(me),
        "closed" => TicketView::Closed,
        _ => return None,
    })
}

/// A JSON body for the ticket's fields: `tags` may be a list or one
/// comma-separated string; the body is sanitised.
fn ticket_patch(body: &str) -> Result<String, Box<Response>> {
    let mut v = body_json(body)?;
    if let Some(Value::String(tags)) = v.get("tags").cloned() {
        let list: Vec<Value> = tags
            .split([',', '，'])
            .map(|t| Value::String(t.trim().to_string()))
            .filter(|t| t.as_str().is_some_and(|s| !s.is_empty()))
            .collect();
        v["tags"] = Value::Array(list);
    }
    if let Some(Value::String(b)) = v.get("body").cloned() {
        v["body"] = Value::String(richtext::clean(&b));
    }
    Ok(v.to_string())
}

/// Ticket `id` if the caller's scope covers it, with that scope.
pub async fn visible_ticket(
    state: &AppState,
    who: &Identity,
    id: i64,
) -> Result<(Ticket, CrmScope), Response> {
    let scope = scope_of(state, who).await.map_err(refused)?;
    match state.store().get_ticket(id).await {
        Ok(Some(t)) if scope.covers_ticket(t.fields.requester_id, t.fields.assignee_id) => {
            Ok((t, scope))
        }
        Ok(_) => Err(not_found("ticket", id)),
        Err(e) => Err(refused(e)),
    }
}

/// A ticket the caller saves must stay within their scope: they (or a
/// user their scope covers) must be its requester or its handler, or it
/// would vanish from their own lists.
fn may_involve(scope: &CrmScope, f: &TicketFields) -> Result<(), Box<Response>> {
    if scope.covers_ticket(f.requester_id, f.assignee_id) {
        return Ok(());
    }
    Err(Box::new(api_error(
        StatusCode::BAD_REQUEST,
        "the ticket would be outside your data scope: its requester or handler must be you or a user your scope covers",
        Some("requester_id"),
    )))
}

/// `GET /api/tickets?view=&q=&status=&type=&priority=&page=`: a page of one
/// of 6.2's tabs within the caller's scope.
#[utoipa::path(get, path = "/api/tickets", tag = "tickets", params(("view" = Option<String>, Query, description = "open (default), all, mine (requested by me), pending (assigned to me, not closed), unassigned, followed, closed"), ("q" = Option<String>, Query, description = "a ticket number (#12), the start of a phone number, or words of the title"), ("status" = Option<String>, Query, description = "new, replied, closed, reopened"), ("type" = Option<i64>, Query, description = "a ticket type id"), ("priority" = Option<String>, Query, description = "low, medium, high, urgent"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{tickets: [...], total (counted up to 10,000), more, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_tickets(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let Some(view) = view_of(&q.text("view"), who.user.id) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "view: open, all, mine, pending, unassigned, followed or closed",
            Some("view"),
        );
    };
    let status = q.text("status");
    if !status.is_empty() && callcenter::tickets::TicketStatus::parse(&status).is_none() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "status: new, replied, closed or reopened",
            Some("status"),
        );
    }
    let priority = q.text("priority");
    if !priority.is_empty() && callcenter::tickets::Priority::parse(&priority).is_none() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "priority: low, medium, high or urgent",
            Some("priority"),
        );
    }
    let category = match q.text("type").as_str() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => return api_error(StatusCode::BAD_REQUEST, "type: an id", Some("type")),
        },
    };
    let page = q.text("page").parse::<i64>().unwrap_or(1).max(1);
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let query = TicketQuery {
        view,
        scope,
        search: q.text("q"),
        status: (!status.is_empty()).then_some(status),
        category_id: category,
        priority: (!priority.is_empty()).then_some(priority),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    match state.store().list_tickets(&query).await {
        Ok(p) => json(
            StatusCode::OK,
            &json!({ "tickets": p.rows, "total": p.total, "more": p.more, "page": page, "page_size": PAGE_SIZE }),
        ),
        Err(e) => refused(e),
    }
}

/// `POST /api/tickets`: a new ticket (JSON with at least `title`; `body`
/// rich text or plain, `priority` low/medium/high/urgent). The caller is
/// its requester unless the body says `requester_id`.
#[utoipa::path(post, path = "/api/tickets", tag = "tickets", request_body(content = serde_json::Value, description = "title (required), body (HTML or plain text; sanitised), priority (low, medium (default), high, urgent), status (new (default), replied, closed, reopened), contact_id, requester_id, department_id, assignee_id, category_id, tags (list or comma-separated), phone, call_id (the call it comes from), due_at (unix ms; default by priority)", content_type = "application/json"), responses((status = 200, description = "the ticket as saved, with its id", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_ticket(who: Identity, State(state): State<AppState>, body: String) -> Response {
    let body = match ticket_patch(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let base = TicketFields {
        requester_id: Some(who.user.id),
        ..TicketFields::default()
    };
    let fields: TicketFields = match merged(&base, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    if let Err(r) = may_involve(&scope, &fields) {
        return *r;
    }
    let id = match state.store().create_ticket(fields, Some(who.user.id)).await {
        Ok(id) => id,
        Err(e) => return refused(e),
    };
    match state.store().get_ticket(id).await {
        Ok(Some(t)) => {
            notify_crm::ticket_created(&state, &t, who.user.id);
            json(StatusCode::OK, &t)
        }
        Ok(None) => not_found("ticket", id),
        Err(e) => refused(e),
    }
}

/// `GET /api/tickets/{id}`: the ticket with its replies (private ones
/// marked), history, attachments and followers.
#[utoipa::path(get, path = "/api/tickets/{id}", tag = "tickets", params(("id" = i64, Path, description = "ticket number")), responses((status = 200, description = "the ticket, with replies, history, attachments, followers and the linked call (cdr) when it was opened from one", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_ticket(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    let (t, _) = match visible_ticket(&state, &who, id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let store = state.store();
    let replies = match store.ticket_replies(id, true).await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let history = match store.ticket_changes(id).await {
        Ok(h) => h,
        Err(e) => return refused(e),
    };
    let files = match store.ticket_attachments(id).await {
        Ok(a) => a,
        Err(e) => return refused(e),
    };
    let followers = match store.ticket_followers(id).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let cdr = if t.fields.call_id.is_empty() {
        None
    } else {
        store.cdr_of_call(&t.fields.call_id).await.ok().flatten()
    };
    let mut v = serde_json::to_value(&t).unwrap_or_default();
    if let Value::Object(o) = &mut v {
        o.insert("replies".into(), json!(replies));
        o.insert("history".into(), json!(history));
        o.insert("attachments".into(), json!(files));
        o.insert("followers".into(), json!(followers));
        o.insert("cdr".into(), json!(cdr));
    }
    json(StatusCode::OK, &v)
}

/// `PUT /api/tickets/{id}`: changes the fields the body gives (each change
/// recorded in the history).
#[utoipa::path(put, path = "/api/tickets/{id}", tag = "tickets", params(("id" = i64, Path, description = "ticket number")), request_body(content = serde_json::Value, description = "the fields to change", content_type = "application/json"), responses((status = 200, description = "the ticket as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_ticket(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let (current, scope) = match visible_ticket(&state, &who, id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match ticket_patch(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let fields: TicketFields = match merged(&current.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(r) = may_involve(&scope, &fields) {
        return *r;
    }
    let changes = match state
        .store()
        .update_ticket(id, fields, Some(who.user.id))
        .await
    {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    match state.store().get_ticket(id).await {
        Ok(Some(t)) => {
            notify_crm::ticket_changed(&state, &t, &changes, who.user.id);
            json(StatusCode::OK, &t)
        }
        Ok(None) => not_found("ticket", id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/tickets/{id}`: the ticket, its replies, history and files.
#[utoipa::path(delete, path = "/api/tickets/{id}", tag = "tickets", params(("id" = i64, Path, description = "ticket number")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_ticket(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_ticket(&state, &who, id).await {
        return r;
    }
    match state.store().delete_ticket(id).await {
        Ok(files) => {
            if let Some(dir) = state.data_dir() {
                let dir = attachments::dir(&dir);
                for f in files {
                    // A file already gone is no reason to fail the delete.
                    let _ = tokio::fs::remove_file(dir.join(f)).await;
                }
            }
            json(StatusCode::OK, &json!({ "ok": true }))
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/tickets/{id}/replies`: a reply (`body`; `private`: true for
/// a note only agents see). A public answer by anyone but the requester
/// marks the ticket replied; the requester answering an answered or closed
/// ticket reopens it.
#[utoipa::path(post, path = "/api/tickets/{id}/replies", tag = "tickets", params(("id" = i64, Path, description = "ticket number")), request_body(content = serde_json::Value, description = "{body, private}", content_type = "application/json"), responses((status = 200, description = "{id, status}: the reply's id and the ticket's status after it", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn reply(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let (t, _) = match visible_ticket(&state, &who, id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let text = v.get("body").and_then(Value::as_str).unwrap_or("");
    let private = v.get("private").and_then(Value::as_bool).unwrap_or(false);
    add_reply(&state, &who, &t, text, private).await
}

/// Adds a reply to `t` by `who` and answers as the API does (the pages use
/// it too).
pub async fn add_reply(
    state: &AppState,
    who: &Identity,
    t: &Ticket,
    text: &str,
    private: bool,
) -> Response {
    let by = if t.fields.requester_id == Some(who.user.id)
        && t.fields.assignee_id != Some(who.user.id)
    {
        ReplyBy::Requester
    } else {
        ReplyBy::Handler
    };
    let clean = richtext::clean(text);
    match state
        .store()
        .add_ticket_reply(t.id, Some(who.user.id), &clean, private, by)
        .await
    {
        Ok((rid, status)) => {
            if !private {
                notify_crm::ticket_replied(state, t, &clean, who.user.id);
            }
            json(
                StatusCode::OK,
                &json!({ "id": rid, "status": status.as_str() }),
            )
        }
        Err(e) => refused(e),
    }
}

/// `GET /api/tickets/{id}/history`: every change, oldest first.
#[utoipa::path(get, path = "/api/tickets/{id}/history", tag = "tickets", params(("id" = i64, Path, description = "ticket number")), responses((status = 200, description = "[{user_id, field, old_value, new_value, changed_at}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn history(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_ticket(&state, &who, id).await {
        return r;
    }
    match state.store().ticket_changes(id).await {
        Ok(h) => json(StatusCode::OK, &h),
        Err(e) => refused(e),
    }
}

/// `PUT /api/tickets/{id}/follow` (`{"follow": true|false}`): the caller
/// follows the ticket (关注) or stops.
#[utoipa::path(put, path = "/api/tickets/{id}/follow", tag = "tickets", params(("id" = i64, Path, description = "ticket number")), request_body(content = serde_json::Value, description = "{follow: bool}", content_type = "application/json"), responses((status = 200, description = "{following}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn follow(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    if let Err(r) = visible_ticket(&state, &who, id).await {
        return r;
    }
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(on) = v.get("follow").and_then(Value::as_bool) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "follow: true or false",
            Some("follow"),
        );
    };
    match state.store().follow_ticket(id, who.user.id, on).await {
        Ok(()) => json(StatusCode::OK, &json!({ "following": on })),
        Err(e) => refused(e),
    }
}

/// `POST /api/tickets/{id}/attachments?name=FILE`: the request body is the
/// file. Its content decides whether it is accepted (pictures, PDF, office
/// documents, audio, plain text) and its type; the size limit is
/// `tickets.attachment_max_mb` (10 MiB by default).
#[utoipa::path(post, path = "/api/tickets/{id}/attachments", tag = "tickets", params(("id" = i64, Path, description = "ticket number"), ("name" = String, Query, description = "the file's name")), request_body(content = Vec<u8>, description = "the file", content_type = "application/octet-stream"), responses((status = 200, description = "the attachment's record", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn attach(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    if let Err(r) = visible_ticket(&state, &who, id).await {
        return r;
    }
    let name = q.text("name");
    if name.trim().is_empty() || name.chars().count() > 200 {
        return api_error(
            StatusCode::BAD_REQUEST,
            "name: the file's name (up to 200 characters)",
            Some("name"),
        );
    }
    let limit = attachment_limit(&state).await;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = attachments::Refused::TooLarge(limit).to_string();
    if declared.is_some_and(|n| n > limit as u64) {
        return api_error(StatusCode::PAYLOAD_TOO_LARGE, &too_large, Some("file"));
    }
    let Some(data_dir) = state.data_dir() else {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no data directory to keep attachments in",
            None,
        );
    };
    let bytes = match super::receive_body(&data_dir, req, limit, &too_large, "an attachment").await
    {
        Ok(b) => b,
        Err(r) => return *r,
    };
    store_attachment(&state, &who, id, &name, &bytes, &data_dir).await
}

/// Checks and keeps an attachment of ticket `id` (the pages use it too).
pub async fn store_attachment(
    state: &AppState,
    who: &Identity,
    id: i64,
    name: &str,
    bytes: &[u8],
    data_dir: &std::path::Path,
) -> Response {
    let limit = attachment_limit(state).await;
    let checked = match attachments::check(name, bytes, limit) {
        Ok(c) => c,
        Err(why) => {
            let status = match why {
                attachments::Refused::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            return api_error(status, &why.to_string(), Some("file"));
        }
    };
    let dir = attachments::dir(data_dir);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        tracing::error!("creating {}: {e}", dir.display());
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "keeping the attachment failed, see the server log",
            None,
        );
    }
    let stored = attachments::stored_name(id);
    if let Err(e) = tokio::fs::write(dir.join(&stored), bytes).await {
        tracing::error!("writing an attachment: {e}");
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "keeping the attachment failed, see the server log",
            None,
        );
    }
    let mut record = store::TicketAttachment {
        id: 0,
        ticket_id: id,
        file_name: attachments::download_name(name),
        content_type: checked.content_type,
        size: bytes.len() as i64,
        sha256: checked.sha256,
        stored_name: stored.clone(),
        uploaded_by: Some(who.user.id),
        created_at: 0,
    };
    match state.store().add_ticket_attachment(&record).await {
        Ok(aid) => {
            record.id = aid;
            json(StatusCode::OK, &record)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(dir.join(stored)).await;
            refused(e)
        }
    }
}

/// `GET /api/tickets/{id}/attachments/{file}`: the file, as a download.
#[utoipa::path(get, path = "/api/tickets/{id}/attachments/{file}", tag = "tickets", params(("id" = i64, Path, description = "ticket number"), ("file" = i64, Path, description = "attachment id")), responses((status = 200, description = "the file (Content-Disposition: attachment)", content_type = "application/octet-stream"), crate::api::doc::Errors))]
pub async fn download(
    who: Identity,
    State(state): State<AppState>,
    Path((id, file)): Path<(i64, i64)>,
) -> Response {
    if let Err(r) = visible_ticket(&state, &who, id).await {
        return r;
    }
    let a = match state.store().get_ticket_attachment(file).await {
        Ok(Some(a)) if a.ticket_id == id => a,
        Ok(_) => return not_found("attachment", file),
        Err(e) => return refused(e),
    };
    let Some(dir) = state.data_dir() else {
        return not_found("attachment", file);
    };
    match tokio::fs::read(attachments::dir(&dir).join(&a.stored_name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, a.content_type.clone()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
                        attachments::download_name(&a.file_name)
                            .replace(|c: char| !c.is_ascii(), "_"),
                        crate::form::encode(&a.file_name)
                    ),
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; sandbox".to_string(),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("attachment {file} of ticket {id}: {e}");
            api_error(
                StatusCode::GONE,
                &format!("the file of attachment {file} is missing from the data directory"),
                None,
            )
        }
    }
}

/// `GET /api/tickets/overview`: the counts of 6.1 within the caller's scope
/// (total, open, mine, pending; by status and by type).
#[utoipa::path(get, path = "/api/tickets/overview", tag = "tickets", responses((status = 200, description = "{total, open, mine, pending, by_status: [[status, n]], by_category: [[type id or null, n]]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn overview(who: Identity, State(state): State<AppState>) -> Response {
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match state.store().ticket_overview(&scope, who.user.id).await {
        Ok(o) => json(StatusCode::OK, &o),
        Err(e) => refused(e),
    }
}

/// `GET /api/tickets/types`: every ticket type (6.2.6).
#[utoipa::path(get, path = "/api/tickets/types", tag = "tickets", responses((status = 200, description = "[{id, name, created_at}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_types(State(state): State<AppState>) -> Response {
    match state.store().list_ticket_categories().await {
        Ok(l) => json(StatusCode::OK, &l),
        Err(e) => refused(e),
    }
}

fn name_of(body: &str) -> Result<String, Box<Response>> {
    let v = body_json(body)?;
    Ok(v.get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string())
}

/// `POST /api/tickets/types` (`{"name"}`): a new ticket type.
#[utoipa::path(post, path = "/api/tickets/types", tag = "tickets", request_body(content = serde_json::Value, description = "{name}", content_type = "application/json"), responses((status = 200, description = "{id}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_type(State(state): State<AppState>, body: String) -> Response {
    let name = match name_of(&body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    match state.store().create_ticket_category(&name).await {
        Ok(id) => json(StatusCode::OK, &json!({ "id": id })),
        Err(e) => refused(e),
    }
}

/// `PUT /api/tickets/types/{id}` (`{"name"}`): renames a type.
#[utoipa::path(put, path = "/api/tickets/types/{id}", tag = "tickets", params(("id" = i64, Path, description = "type id")), request_body(content = serde_json::Value, description = "{name}", content_type = "application/json"), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn rename_type(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let name = match name_of(&body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    match state.store().rename_ticket_category(id, &name).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(store::StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/tickets/types/{id}`: its tickets keep everything else.
#[utoipa::path(delete, path = "/api/tickets/types/{id}", tag = "tickets", params(("id" = i64, Path, description = "type id")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_type(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().delete_ticket_category(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(store::StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}
