//! Voicemail (manual 11.1 语音信箱): a mailbox's messages, newest first,
//! played in the page (served with range requests), marked heard or new,
//! and deleted; each change updates the message-waiting lamps of the
//! mailbox's phones at once (MWI NOTIFY).
//!
//! `voicemail:view` opens any mailbox (`?ext=`); a user's own extension's
//! mailbox is the default. Changing a message needs `voicemail:manage`,
//! or the mailbox to be the user's own.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

use crate::api::records::{file_under, serve_wav};
use crate::auth::permissions::{VOICEMAIL_MANAGE, VOICEMAIL_VIEW};
use crate::auth::{require, Identity};
use crate::form::{encode, Form, QueryFields};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(
        VOICEMAIL_VIEW,
        Router::new()
            .route("/records/voicemail", get(mailbox))
            .route("/records/voicemail/{id}/audio", get(audio))
            .route("/records/voicemail/{id}/heard", post(mark))
            .route("/records/voicemail/{id}/delete", post(delete)),
    )
}

/// The mailbox asked for (`ext`), or the user's own extension.
fn mailbox_of(who: &Identity, asked: &str) -> String {
    if asked.is_empty() {
        who.user.extension.trim().to_string()
    } else {
        asked.to_string()
    }
}

/// Whether `who` may change the messages of mailbox `ext`.
fn may_change(who: &Identity, ext: &str) -> bool {
    who.allows(VOICEMAIL_MANAGE) || (!ext.is_empty() && who.user.extension.trim() == ext)
}

/// `GET /records/voicemail?ext=`.
async fn mailbox(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let ext = mailbox_of(&who, &q.text("ext"));
    let messages = if ext.is_empty() {
        Vec::new()
    } else {
        match state.store().list_voicemails(&ext).await {
            Ok(m) => m,
            Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
        }
    };
    let new = messages.iter().filter(|m| !m.heard).count();
    let flash = match q.text("done").as_str() {
        "heard" => Some(ctx.t("voicemail.marked")),
        "deleted" => Some(ctx.t("voicemail.deleted")),
        _ => None,
    };
    ctx.render(
        "records/voicemail.html",
        context! {
            ext => ext.clone(), ext_q => encode(&ext), messages => messages, new => new,
            may_change => may_change(&who, &ext), flash => flash,
        },
    )
}

/// The message `id` of mailbox `ext`, if it is there.
async fn message(
    state: &AppState,
    ext: &str,
    id: i64,
) -> Result<Option<store::Voicemail>, Response> {
    state
        .store()
        .list_voicemails(ext)
        .await
        .map(|all| all.into_iter().find(|m| m.id == Some(id)))
        .map_err(|e| view::internal_error(false, crate::i18n::Lang::En, &e.into()))
}

/// `GET /records/voicemail/{id}/audio?ext=`: the message's audio.
async fn audio(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    let ext = mailbox_of(&who, &q.text("ext"));
    let m = match message(&state, &ext, id).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return view::api_error(
                StatusCode::NOT_FOUND,
                &format!("no message {id} in mailbox {ext}"),
                None,
            )
        }
        Err(r) => return r,
    };
    match file_under(state.voicemail_dir(), &m.path).await {
        Ok(file) => serve_wav(&file, req).await,
        Err(why) => {
            tracing::warn!("voicemail {id} of {ext} ({}): {why}", m.path);
            crate::metrics::WebMetrics::inc(&state.metrics().recordings_missing);
            view::api_error(
                StatusCode::NOT_FOUND,
                &format!("the audio of message {id} is no longer on disk"),
                None,
            )
        }
    }
}

/// The mailbox (`ext` of the form, or the user's own) whose message `id`
/// `who` may change; the error page otherwise (403 without the right, 404
/// for a message not in that mailbox).
async fn changeable(
    state: &AppState,
    who: &Identity,
    ctx: &PageCtx,
    f: &crate::form::Fields,
    id: i64,
) -> Result<String, Response> {
    let ext = mailbox_of(who, &f.text("ext"));
    if !may_change(who, &ext) {
        return Err(view::error_page(
            StatusCode::FORBIDDEN,
            ctx.lang,
            Some(who),
            "error.forbidden",
        ));
    }
    match message(state, &ext, id).await? {
        Some(_) => Ok(ext),
        None => Err(view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(who),
            "error.not_found",
        )),
    }
}

/// `POST /records/voicemail/{id}/heard` (`ext`, `heard` 1 or 0).
async fn mark(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    let ext = match changeable(&state, &who, &ctx, &f, id).await {
        Ok(ext) => ext,
        Err(r) => return r,
    };
    if let Err(e) = state
        .store()
        .mark_voicemail_heard(id, f.flag("heard"))
        .await
    {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    if let Some(engine) = state.engine() {
        engine.mailbox_changed(&ext).await;
    }
    Redirect::to(&format!(
        "/records/voicemail?ext={}&done=heard",
        encode(&ext)
    ))
    .into_response()
}

/// `POST /records/voicemail/{id}/delete` (`ext`): the message and its audio.
async fn delete(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    let ext = match changeable(&state, &who, &ctx, &f, id).await {
        Ok(ext) => ext,
        Err(r) => return r,
    };
    match state.store().delete_voicemail(id).await {
        Ok(Some(m)) => {
            // The row is gone first, so a file that cannot be removed is
            // only disk space (logged), never a message listed without audio.
            if let Ok(file) = file_under(state.voicemail_dir(), &m.path).await {
                if let Err(e) = tokio::fs::remove_file(&file).await {
                    tracing::warn!("voicemail {id}: {} not removed: {e}", file.display());
                }
            }
        }
        Ok(None) => {
            return view::error_page(
                StatusCode::NOT_FOUND,
                ctx.lang,
                Some(&who),
                "error.not_found",
            )
        }
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    }
    if let Some(engine) = state.engine() {
        engine.mailbox_changed(&ext).await;
    }
    Redirect::to(&format!(
        "/records/voicemail?ext={}&done=deleted",
        encode(&ext)
    ))
    .into_response()
}
