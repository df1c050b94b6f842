//! The access list, blacklist, number pool (3.2 访问列表, 黑名单,
//! 3.2.9 号码池) and the outbound do-not-call list (免打扰号码): one page
//! for the four. Each lists its values with note and date; values are
//! added one or many at a time (one per line or comma-separated, all or
//! none: a bad value is named and nothing is added) and removed. Changes go through the engine, which applies them
//! to calls at once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Serialize;
use store::VoiceList;

use super::status::engine_or_503;
use crate::auth::permissions::{LISTS_EDIT, LISTS_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Longest note accepted (characters).
const MAX_NOTE: usize = 200;

/// Most values added at once.
const MAX_VALUES: usize = 1000;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view = Router::new().route("/voice/lists/{list}", get(page));
    let edit = Router::new()
        .route("/voice/lists/{list}", post(add))
        .route("/voice/lists/{list}/remove", post(remove));
    require(LISTS_VIEW, view).merge(require(LISTS_EDIT, edit))
}

/// Message keys of a list's page: title and explanation.
fn texts(list: VoiceList) -> (&'static str, &'static str, &'static str) {
    match list {
        VoiceList::Acl => (
            "voice.lists.acl_title",
            "voice.lists.acl_intro",
            "voice.lists.acl_hint",
        ),
        VoiceList::Blacklist => (
            "voice.lists.blacklist_title",
            "voice.lists.blacklist_intro",
            "voice.lists.number_hint",
        ),
        VoiceList::NumberPool => (
            "voice.lists.number_pool_title",
            "voice.lists.number_pool_intro",
            "voice.lists.number_hint",
        ),
        VoiceList::Dnc => (
            "voice.lists.dnc_title",
            "voice.lists.dnc_intro",
            "voice.lists.number_hint",
        ),
    }
}

/// The values of the add form's text: one per line or comma-separated,
/// trimmed, empty ones dropped.
pub fn split_values(text: &str) -> Vec<String> {
    text.split(['\n', '\r', ',', '，'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// Checks every value for `list`: the values as stored, or the message
/// (in `lang`) naming the first bad one.
pub fn check_values(lang: Lang, list: VoiceList, values: &[String]) -> Result<Vec<String>, String> {
    if values.is_empty() {
        return Err(lang.t("voice.common.required", &[]));
    }
    if values.len() > MAX_VALUES {
        return Err(lang.t("voice.lists.too_many", &[("max", &MAX_VALUES.to_string())]));
    }
    values
        .iter()
        .map(|v| {
            engine::voice_lists::check_value(list, v).map_err(|e| {
                lang.t(
                    "voice.lists.bad_value",
                    &[("value", &e.value), ("reason", &e.message)],
                )
            })
        })
        .collect()
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
struct Row {
    value: String,
    note: String,
    created_at: i64,
    slug: String,
}

/// What the add form shows again after an error.
#[derive(Clone, Debug, Default, Serialize)]
struct AddForm {
    values: String,
    note: String,
    values_error: Option<String>,
    note_error: Option<String>,
}

/// The list named in the path, or the 404 page.
fn which(ctx: &PageCtx, name: &str) -> Result<VoiceList, Box<Response>> {
    name.parse::<VoiceList>().map_err(|_| {
        Box::new(view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        ))
    })
}

/// Renders the list page with `form` and a flash message.
async fn render(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    list: VoiceList,
    form: AddForm,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let entries = match state.store().list_entries(list).await {
        Ok(e) => e,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let rows: Vec<Row> = entries
        .into_iter()
        .map(|e| Row {
            slug: super::media::slug(&e.value),
            value: e.value,
            note: e.note,
            created_at: e.created_at,
        })
        .collect();
    let (title, intro, hint) = texts(list);
    ctx.render_status(
        status,
        "voice/list.html",
        context! {
            list => list.as_str(), title_key => title, intro_key => intro, hint_key => hint,
            rows => rows, form => form,
            flash => flash.as_ref().map(|(_, m)| m.clone()),
            flash_bad => flash.as_ref().is_some_and(|(bad, _)| *bad),
            can_edit => identity.allows(LISTS_EDIT),
        },
    )
}

/// `GET /voice/lists/{list}`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let list = match which(&ctx, &name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let flash = flash_of(ctx.lang, &q);
    render(
        &state,
        &ctx,
        &identity,
        list,
        AddForm::default(),
        flash,
        StatusCode::OK,
    )
    .await
}

/// The message of a `done=` redirect.
fn flash_of(lang: Lang, q: &Fields) -> Option<(bool, String)> {
    let n = q.text("n");
    let n = if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
        n
    } else {
        "0".to_string()
    };
    match q.text("done").as_str() {
        "added" => {
            let skipped = q.text("skipped");
            let mut msg = lang.t("voice.lists.added", &[("n", &n)]);
            if skipped != "0" && !skipped.is_empty() && skipped.chars().all(|c| c.is_ascii_digit())
            {
                msg.push(' ');
                msg.push_str(&lang.t("voice.lists.skipped", &[("n", &skipped)]));
            }
            Some((false, msg))
        }
        "removed" => Some((false, lang.t("voice.lists.removed", &[("n", &n)]))),
        "none" => Some((true, lang.t("voice.lists.none_selected", &[]))),
        _ => None,
    }
}

/// `POST /voice/lists/{list}`: adds the values of the form (all or none).
pub async fn add(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    Form(f): Form,
) -> Response {
    let list = match which(&ctx, &name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let mut form = AddForm {
        values: f.text("values"),
        note: f.text("note"),
        ..Default::default()
    };
    let checked = check_values(ctx.lang, list, &split_values(&form.values));
    if form.note.chars().count() > MAX_NOTE {
        form.note_error = Some(
            ctx.lang
                .t("voice.common.too_long", &[("max", &MAX_NOTE.to_string())]),
        );
    } else if form.note.chars().any(char::is_control) {
        form.note_error = Some(ctx.lang.t("voice.common.no_control", &[]));
    }
    let values = match checked {
        Ok(v) if form.note_error.is_none() => v,
        Ok(_) => {
            return render(
                &state,
                &ctx,
                &identity,
                list,
                form,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(msg) => {
            form.values_error = Some(msg);
            return render(
                &state,
                &ctx,
                &identity,
                list,
                form,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let entries: Vec<(String, String)> =
        values.into_iter().map(|v| (v, form.note.clone())).collect();
    let ectx = engine.ctx();
    match engine.voice_lists().add(&ectx.store, list, &entries).await {
        Ok(report) => {
            tracing::info!(
                by = identity.user.username,
                list = list.as_str(),
                added = ?report.added,
                "voice list values added"
            );
            Redirect::to(&format!(
                "/voice/lists/{}?done=added&n={}&skipped={}",
                list.as_str(),
                report.added.len(),
                report.skipped.len()
            ))
            .into_response()
        }
        Err(engine::voice_lists::AddError::Invalid(e)) => {
            form.values_error = Some(ctx.lang.t(
                "voice.lists.bad_value",
                &[("value", &e.value), ("reason", &e.message)],
            ));
            render(
                &state,
                &ctx,
                &identity,
                list,
                form,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(engine::voice_lists::AddError::Store(e)) => {
            view::internal_error(false, ctx.lang, &e.into())
        }
    }
}

/// `POST /voice/lists/{list}/remove`: removes `one`, or every ticked `value`.
pub async fn remove(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    Form(f): Form,
) -> Response {
    let list = match which(&ctx, &name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let one = f.text("one");
    let values: Vec<String> = if one.is_empty() {
        f.all("value")
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .collect()
    } else {
        vec![one]
    };
    if values.is_empty() {
        return Redirect::to(&format!("/voice/lists/{}?done=none", list.as_str())).into_response();
    }
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let ectx = engine.ctx();
    let mut removed = 0usize;
    for v in &values {
        match engine.voice_lists().remove(&ectx.store, list, v).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
        }
    }
    tracing::info!(
        by = identity.user.username,
        list = list.as_str(),
        ?values,
        "voice list values removed"
    );
    Redirect::to(&format!(
        "/voice/lists/{}?done=removed&n={removed}",
        list.as_str()
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_split_and_checked() {
        assert_eq!(
            split_values(" 62620668, 62620669\r\n\n+8613800000000，123 "),
            ["62620668", "62620669", "+8613800000000", "123"]
        );
        assert!(split_values(" ,\n ").is_empty());
        let ok = check_values(Lang::En, VoiceList::Acl, &["10.0.0.0/8".into()]);
        assert_eq!(ok, Ok(vec!["10.0.0.0/8".to_string()]));
        let bad = check_values(
            Lang::En,
            VoiceList::Blacklist,
            &["123".into(), "12-3".into()],
        )
        .unwrap_err();
        assert!(bad.contains("12-3"), "{bad}");
        let bad = check_values(Lang::Zh, VoiceList::Acl, &["10.0.0.0/33".into()]).unwrap_err();
        assert!(bad.contains("10.0.0.0/33"), "{bad}");
        assert!(check_values(Lang::En, VoiceList::NumberPool, &[]).is_err());
    }
}
