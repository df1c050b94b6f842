//! The knowledge base over the API (the manual's chapter 7): categories,
//! articles, and the search over title, similar questions and answer that
//! works for Chinese and English (`GET /api/kb/search?q=`). Agents search
//! the articles valid now; editors may list every article.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use store::{KbArticleFields, KbSearch, StoreError};

use super::body_json;
use super::crm::{merged, not_found, refused, PAGE_SIZE};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::richtext;
use crate::state::AppState;
use crate::view::{api_error, json};

fn page_of(q: &crate::form::Fields) -> i64 {
    q.text("page").parse::<i64>().unwrap_or(1).max(1)
}

fn category_of(q: &crate::form::Fields) -> Result<Option<i64>, Box<Response>> {
    match q.text("category").as_str() {
        "" => Ok(None),
        c => c.parse::<i64>().map(Some).map_err(|_| {
            Box::new(api_error(
                StatusCode::BAD_REQUEST,
                "category: an id",
                Some("category"),
            ))
        }),
    }
}

/// `GET /api/kb/search?q=&category=&page=`: the articles valid now that
/// match `q` (words in any language; Chinese needs no spaces), best first.
#[utoipa::path(get, path = "/api/kb/search", tag = "kb", params(("q" = String, Query, description = "what to look for: a question, words, a phrase"), ("category" = Option<i64>, Query, description = "only in this category"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{articles: [...] best first, total (counted up to 10,000), more, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn search(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let text = q.text("q");
    if text.trim().is_empty() || text.chars().count() > 200 {
        return api_error(
            StatusCode::BAD_REQUEST,
            "q: what to look for (1 to 200 characters)",
            Some("q"),
        );
    }
    let category = match category_of(&q) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let page = page_of(&q);
    let s = KbSearch {
        q: text,
        category_id: category,
        valid_at: Some(chrono::Utc::now().timestamp_millis()),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    match state.store().search_kb(&s).await {
        Ok(p) => json(
            StatusCode::OK,
            &json!({ "articles": p.rows, "total": p.total, "more": p.more, "page": page, "page_size": PAGE_SIZE }),
        ),
        Err(e) => refused(e),
    }
}

/// `GET /api/kb/articles?category=&page=`: a page of articles (hot first,
/// then the newest change), valid or not.
#[utoipa::path(get, path = "/api/kb/articles", tag = "kb", params(("category" = Option<i64>, Query, description = "only this category"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{articles, total, more, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_articles(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let category = match category_of(&q) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let page = page_of(&q);
    match state
        .store()
        .list_kb_articles(category, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await
    {
        Ok(p) => json(
            StatusCode::OK,
            &json!({ "articles": p.rows, "total": p.total, "more": p.more, "page": page, "page_size": PAGE_SIZE }),
        ),
        Err(e) => refused(e),
    }
}

/// An article's JSON with its answer sanitised and `questions` accepted as
/// a list or as one text of lines.
fn article_patch(body: &str) -> Result<String, Box<Response>> {
    let mut v = body_json(body)?;
    if let Some(Value::String(qs)) = v.get("questions").cloned() {
        v["questions"] = Value::Array(qs.lines().map(|l| Value::String(l.into())).collect());
    }
    if let Some(Value::String(b)) = v.get("body").cloned() {
        v["body"] = Value::String(richtext::clean(&b));
    }
    Ok(v.to_string())
}

/// `POST /api/kb/articles`: a new article (JSON with at least `title`;
/// `body` the answer, HTML or plain text).
#[utoipa::path(post, path = "/api/kb/articles", tag = "kb", request_body(content = serde_json::Value, description = "title (required), body (the answer; HTML or plain text, sanitised), questions (similar questions: a list, or lines), category_id, valid_from and valid_to (unix ms or null), hot", content_type = "application/json"), responses((status = 200, description = "the article as saved, with its id", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_article(
    who: Identity,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let body = match article_patch(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let fields: KbArticleFields = match merged(&KbArticleFields::default(), &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state
        .store()
        .create_kb_article(fields, Some(who.user.id))
        .await
    {
        Ok(id) => match state.store().get_kb_article(id).await {
            Ok(Some(a)) => json(StatusCode::OK, &a),
            Ok(None) => not_found("article", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// `GET /api/kb/articles/{id}`.
#[utoipa::path(get, path = "/api/kb/articles/{id}", tag = "kb", params(("id" = i64, Path, description = "article id")), responses((status = 200, description = "the article", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_article(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().get_kb_article(id).await {
        Ok(Some(a)) => json(StatusCode::OK, &a),
        Ok(None) => not_found("article", id),
        Err(e) => refused(e),
    }
}

/// `PUT /api/kb/articles/{id}`: changes the fields the body gives.
#[utoipa::path(put, path = "/api/kb/articles/{id}", tag = "kb", params(("id" = i64, Path, description = "article id")), request_body(content = serde_json::Value, description = "the fields to change", content_type = "application/json"), responses((status = 200, description = "the article as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_article(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let current = match state.store().get_kb_article(id).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found("article", id),
        Err(e) => return refused(e),
    };
    let body = match article_patch(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let fields: KbArticleFields = match merged(&current.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(e) = state.store().update_kb_article(id, fields).await {
        return refused(e);
    }
    match state.store().get_kb_article(id).await {
        Ok(Some(a)) => json(StatusCode::OK, &a),
        Ok(None) => not_found("article", id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/kb/articles/{id}`.
#[utoipa::path(delete, path = "/api/kb/articles/{id}", tag = "kb", params(("id" = i64, Path, description = "article id")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_article(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().delete_kb_article(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}

/// `GET /api/kb/categories`: every category with its article count.
#[utoipa::path(get, path = "/api/kb/categories", tag = "kb", responses((status = 200, description = "[{id, name, description, articles}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_categories(State(state): State<AppState>) -> Response {
    match state.store().list_kb_categories().await {
        Ok(l) => json(StatusCode::OK, &l),
        Err(e) => refused(e),
    }
}

fn name_and_description(body: &str) -> Result<(String, String), Box<Response>> {
    let v = body_json(body)?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok((text("name"), text("description")))
}

/// `POST /api/kb/categories` (`{"name", "description"}`).
#[utoipa::path(post, path = "/api/kb/categories", tag = "kb", request_body(content = serde_json::Value, description = "{name, description}", content_type = "application/json"), responses((status = 200, description = "{id}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_category(State(state): State<AppState>, body: String) -> Response {
    let (name, description) = match name_and_description(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.store().create_kb_category(&name, &description).await {
        Ok(id) => json(StatusCode::OK, &json!({ "id": id })),
        Err(e) => refused(e),
    }
}

/// `PUT /api/kb/categories/{id}` (`{"name", "description"}`).
#[utoipa::path(put, path = "/api/kb/categories/{id}", tag = "kb", params(("id" = i64, Path, description = "category id")), request_body(content = serde_json::Value, description = "{name, description}", content_type = "application/json"), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_category(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let (name, description) = match name_and_description(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state
        .store()
        .update_kb_category(id, &name, &description)
        .await
    {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/kb/categories/{id}`: an empty category only (400 naming
/// how many articles it holds otherwise).
#[utoipa::path(delete, path = "/api/kb/categories/{id}", tag = "kb", params(("id" = i64, Path, description = "category id")), responses((status = 200, description = "{ok: true}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_category(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store().delete_kb_category(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}
