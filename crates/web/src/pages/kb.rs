//! The knowledge base pages (the manual's chapter 7): the categories and
//! the search over title, similar questions and answer (`/kb`, 7.2; agents
//! see the articles valid now, editors every article), an article
//! (`/kb/{id}`), and its form for editors (7.1.2: title, validity window,
//! similar questions, hot flag, answer).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use store::{KbArticle, KbArticleFields, KbSearch, StoreError};

use super::crm::{failed, local_minute, parse_local};
use crate::auth::permissions::{KB_EDIT, KB_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::richtext;
use crate::state::AppState;
use crate::view::{self, PageCtx};

const PAGE_SIZE: i64 = 50;

/// The knowledge base's page routes.
pub fn routes() -> Router<AppState> {
    let read = Router::new()
        .route("/kb", get(index))
        .route("/kb/{id}", get(article));
    let write = Router::new()
        .route("/kb/new", get(new_article))
        .route("/kb", post(create))
        .route("/kb/{id}", post(update))
        .route("/kb/{id}/delete", post(delete))
        .route("/kb/categories", post(create_category))
        .route("/kb/categories/{id}/delete", post(delete_category));
    require(KB_VIEW, read).merge(require(KB_EDIT, write))
}

fn row(a: &KbArticle, now: i64) -> Value {
    let f = &a.fields;
    context! {
        id => a.id, title => f.title.clone(), hot => f.hot,
        from => local_minute(f.valid_from), to => local_minute(f.valid_to),
        valid => callcenter::kb::is_valid(f.valid_from, f.valid_to, now),
        questions => f.questions.clone(),
    }
}

/// `GET /kb?q=&category=&page=`: the search, or a category's articles.
async fn index(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let store = state.store();
    let categories = match store.list_kb_categories().await {
        Ok(c) => c,
        Err(e) => return failed(&ctx, e),
    };
    let category = q.text("category").parse::<i64>().ok();
    let page = q.text("page").parse::<i64>().unwrap_or(1).max(1);
    let text = q.text("q");
    let now = chrono::Utc::now().timestamp_millis();
    let editor = who.allows(KB_EDIT);
    let found = if text.trim().is_empty() {
        store
            .list_kb_articles(category, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            .await
    } else {
        store
            .search_kb(&KbSearch {
                q: text.chars().take(200).collect(),
                category_id: category,
                // Editors find expired articles too (to renew them).
                valid_at: (!editor).then_some(now),
                limit: PAGE_SIZE,
                offset: (page - 1) * PAGE_SIZE,
            })
            .await
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => return failed(&ctx, e),
    };
    let pages = ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let cats: Vec<Value> = categories
        .iter()
        .map(|c| context! { id => c.id, name => c.name.clone(), articles => c.articles, active => Some(c.id) == category })
        .collect();
    ctx.render(
        "kb/index.html",
        context! {
            categories => cats, category => category, search => text.clone(),
            searching => !text.trim().is_empty(),
            rows => found.rows.iter().map(|a| row(a, now)).collect::<Vec<_>>(),
            total => found.total, more => found.more, page => page, pages => pages,
            prev => (page > 1).then_some(page - 1), next => (page < pages).then_some(page + 1),
            search_enc => crate::form::encode(&text),
            can_edit => editor, done => q.text("done"),
            error => match q.text("error").as_str() {
                "taken" => Some(ctx.t("kb.error.taken")),
                "name" => Some(ctx.t("kb.error.name")),
                "not_empty" => Some(ctx.t("kb.error.not_empty")),
                _ => None,
            },
        },
    )
}

async fn render_article(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: Option<i64>,
    a: &KbArticleFields,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let categories = state.store().list_kb_categories().await.unwrap_or_default();
    ctx.render_status(
        status,
        "kb/article.html",
        context! {
            id => id, title => a.title.clone(), body => a.body.clone(), questions => a.questions.clone(),
            questions_text => a.questions.join("\n"), hot => a.hot,
            from => local_minute(a.valid_from), to => local_minute(a.valid_to),
            category_id => a.category_id,
            categories => categories.iter().map(|c| context! { id => c.id, name => c.name.clone() }).collect::<Vec<_>>(),
            error_field => error.as_ref().map(|e| e.0.clone()), error => error.map(|e| e.1),
            can_edit => who.allows(KB_EDIT),
        },
    )
}

/// `GET /kb/{id}`.
async fn article(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    match state.store().get_kb_article(id).await {
        Ok(Some(a)) => {
            render_article(
                &state,
                &ctx,
                &who,
                Some(id),
                &a.fields,
                None,
                StatusCode::OK,
            )
            .await
        }
        Ok(None) => view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        ),
        Err(e) => failed(&ctx, e),
    }
}

/// `GET /kb/new?category=`.
async fn new_article(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let a = KbArticleFields {
        category_id: q.text("category").parse().ok(),
        ..KbArticleFields::default()
    };
    render_article(&state, &ctx, &who, None, &a, None, StatusCode::OK).await
}

fn read(f: &Fields) -> Result<KbArticleFields, (String, String)> {
    let bad_time = |field: &str| (field.to_string(), "YYYY-MM-DD HH:MM".to_string());
    Ok(KbArticleFields {
        category_id: f.text("category_id").parse().ok(),
        title: f.text("title"),
        questions: f.text("questions").lines().map(str::to_string).collect(),
        body: richtext::clean(&f.text("body")),
        valid_from: parse_local(&f.text("valid_from")).map_err(|_| bad_time("valid_from"))?,
        valid_to: parse_local(&f.text("valid_to")).map_err(|_| bad_time("valid_to"))?,
        hot: f.text("hot") == "1",
    })
}

async fn save(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: Option<i64>,
    f: &Fields,
) -> Response {
    let fields = match read(f) {
        Ok(a) => a,
        Err(e) => {
            let shown = KbArticleFields {
                title: f.text("title"),
                body: f.text("body"),
                ..Default::default()
            };
            return render_article(
                state,
                ctx,
                who,
                id,
                &shown,
                Some(e),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let saved = match id {
        Some(id) => state
            .store()
            .update_kb_article(id, fields.clone())
            .await
            .map(|()| id),
        None => {
            state
                .store()
                .create_kb_article(fields.clone(), Some(who.user.id))
                .await
        }
    };
    match saved {
        Ok(id) => Redirect::to(&format!("/kb/{id}")).into_response(),
        Err(StoreError::InvalidField(e)) => {
            let msg = if e.why == "is required" {
                ctx.t("form.required")
            } else {
                ctx.lang.t("crm.invalid", &[("why", &e.why)])
            };
            render_article(
                state,
                ctx,
                who,
                id,
                &fields,
                Some((e.field.to_string(), msg)),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(StoreError::CrmNotFound(..)) => {
            render_article(
                state,
                ctx,
                who,
                id,
                &fields,
                Some(("category_id".into(), ctx.t("crm.gone"))),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => failed(ctx, e),
    }
}

/// `POST /kb`.
async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    save(&state, &ctx, &who, None, &f).await
}

/// `POST /kb/{id}`.
async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    save(&state, &ctx, &who, Some(id), &f).await
}

/// `POST /kb/{id}/delete`.
async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(_f): Form,
) -> Response {
    match state.store().delete_kb_article(id).await {
        Ok(()) | Err(StoreError::CrmNotFound(..)) => {
            Redirect::to("/kb?done=deleted").into_response()
        }
        Err(e) => failed(&ctx, e),
    }
}

/// `POST /kb/categories` (`name`, `description`).
async fn create_category(State(state): State<AppState>, ctx: PageCtx, Form(f): Form) -> Response {
    match state
        .store()
        .create_kb_category(&f.text("name"), &f.text("description"))
        .await
    {
        Ok(id) => Redirect::to(&format!("/kb?category={id}")).into_response(),
        Err(StoreError::CrmNameTaken(..)) => Redirect::to("/kb?error=taken").into_response(),
        Err(StoreError::InvalidField(_)) => Redirect::to("/kb?error=name").into_response(),
        Err(e) => failed(&ctx, e),
    }
}

/// `POST /kb/categories/{id}/delete`: empty categories only.
async fn delete_category(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(_f): Form,
) -> Response {
    match state.store().delete_kb_category(id).await {
        Ok(()) | Err(StoreError::CrmNotFound(..)) => Redirect::to("/kb").into_response(),
        Err(StoreError::InvalidField(_)) => {
            Redirect::to(&format!("/kb?category={id}&error=not_empty")).into_response()
        }
        Err(e) => failed(&ctx, e),
    }
}
