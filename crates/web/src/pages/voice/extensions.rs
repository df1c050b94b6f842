//! Extensions (3.2.1 分机配置): list with search and paging (and whether
//! each is registered now), batch create with the manual's range syntax
//! (`101-110`, one password for the batch), edit one (every T4 field; an
//! empty password keeps the old one), remove one or the ticked ones.
//!
//! Refused, changing nothing: numbers that already exist (named), a queue
//! or IVR target the call-center settings do not have, caller IDs not in
//! the number pool. Every change is applied to the running engine's
//! directory before the answer ([`applied`]).

use std::collections::{BTreeMap, HashSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Serialize;
use store::{
    Extension, StoreError, VoiceList, AUTH_ALGORITHM_CHOICES, AUTO_ANSWER_MODES, EXTENSION_KINDS,
};

use crate::auth::permissions::{EXTENSIONS_EDIT, EXTENSIONS_VIEW};
use crate::auth::{require, Identity};
use crate::form::{encode, Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Longest display name, target, gateway (characters).
const MAX_TEXT: usize = 64;
/// Longest pickup group name.
const MAX_GROUP: usize = 32;
/// Shortest and longest SIP password.
const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 4..=64;
/// Numbers named at most in the "already exist" message.
const NAMED_AT_MOST: usize = 20;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view = Router::new()
        .route("/voice/extensions", get(list))
        .route("/voice/extensions/{number}", get(edit_form));
    let edit = Router::new()
        .route("/voice/extensions/new", get(new_form))
        .route("/voice/extensions", post(create))
        .route("/voice/extensions/remove", post(remove))
        .route("/voice/extensions/{number}", post(update));
    require(EXTENSIONS_VIEW, view).merge(require(EXTENSIONS_EDIT, edit))
}

/// Messages by field, already in the page's language.
type Msgs = BTreeMap<String, String>;

/// The label of an extension type.
fn kind_label(lang: Lang, kind: &str) -> String {
    let key = match kind {
        "direct" => "voice.ext.kind_direct",
        "ivr" => "voice.ext.kind_ivr",
        "queue" => "voice.ext.kind_queue",
        "robot" => "voice.ext.kind_robot",
        other => return other.to_string(),
    };
    lang.t(key, &[])
}

/// One row of the list.
#[derive(Clone, Debug, Serialize)]
struct Row {
    number: String,
    name: String,
    kind: String,
    kind_label: String,
    target: String,
    enabled: bool,
    flags: Vec<(&'static str, String)>,
    registered: Option<bool>,
}

/// The flags of `e` shown as badges: (data-test suffix, label).
fn flags_of(lang: Lang, e: &Extension) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut add = |on: bool, id: &'static str, key: &str| {
        if on {
            out.push((id, lang.t(key, &[])));
        }
    };
    add(e.allow_outbound, "outbound", "voice.ext.flag_outbound");
    add(e.record, "record", "voice.ext.flag_record");
    add(e.announce_agent_id, "announce", "voice.ext.flag_announce");
    add(e.after_call_work, "acw", "voice.ext.flag_acw");
    add(e.webrtc, "webrtc", "voice.ext.flag_webrtc");
    add(
        e.auth_algorithms.starts_with("SHA-256"),
        "sha256",
        "voice.ext.flag_sha256",
    );
    add(
        e.auto_answer == "all",
        "auto-all",
        "voice.ext.flag_auto_all",
    );
    add(
        e.auto_answer == "queue",
        "auto-queue",
        "voice.ext.flag_auto_queue",
    );
    if !e.pickup_group.is_empty() {
        out.push((
            "group",
            lang.t("voice.ext.flag_group", &[("group", &e.pickup_group)]),
        ));
    }
    out
}

/// Whether `e` matches the search text (number, name, type, target,
/// gateway; case-insensitive).
fn matches(e: &Extension, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    [
        &e.number,
        &e.display_name,
        &e.kind,
        &e.target,
        &e.gateway,
        &e.pickup_group,
    ]
    .iter()
    .any(|s| s.to_lowercase().contains(&q))
}

/// One page of the extension list, as the list page and the API show it.
pub(crate) struct ExtPage {
    /// The extensions of the page, by number.
    pub rows: Vec<Extension>,
    /// How many match the search in all.
    pub total: usize,
    /// The page shown (clamped to the pages there are), from 1.
    pub page: usize,
    /// How many pages there are (at least 1).
    pub pages: usize,
    /// Extensions per page.
    pub size: usize,
}

/// The extensions matching `search` (number, name, type, target, gateway,
/// pickup group), page `page` (from 1, clamped) of the configured size.
pub(crate) async fn search(
    state: &AppState,
    search: &str,
    page: usize,
) -> Result<ExtPage, StoreError> {
    let size = usize::try_from(state.settings().page_size.max(1)).unwrap_or(20);
    let all = state.store().list_extensions().await?;
    let found: Vec<Extension> = all.into_iter().filter(|e| matches(e, search)).collect();
    let total = found.len();
    let pages = total.div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let rows = found
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Ok(ExtPage {
        rows,
        total,
        page,
        pages,
        size,
    })
}

/// The numbers registered now; None without an engine (unknown).
pub(crate) fn registered_now(state: &AppState) -> Option<HashSet<String>> {
    state
        .engine()
        .map(|e| e.registered().into_iter().map(|r| r.user).collect())
}

/// `GET /voice/extensions?q=&page=`.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let search_text = q.text("q");
    let page = q.text("page").parse::<usize>().unwrap_or(1);
    let found = match search(&state, &search_text, page).await {
        Ok(f) => f,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let registered = registered_now(&state);
    let ExtPage {
        rows: page_rows,
        total,
        page,
        pages,
        ..
    } = found;
    let rows: Vec<Row> = page_rows
        .iter()
        .map(|e| Row {
            number: e.number.clone(),
            name: e.display_name.clone(),
            kind: e.kind.clone(),
            kind_label: kind_label(ctx.lang, &e.kind),
            target: e.target.clone(),
            enabled: e.enabled,
            flags: flags_of(ctx.lang, e),
            registered: registered.as_ref().map(|r| r.contains(&e.number)),
        })
        .collect();
    let n = q.text("n");
    let n = if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
        n
    } else {
        "0".into()
    };
    let flash = match q.text("done").as_str() {
        "created" => Some((false, ctx.lang.t("voice.ext.created", &[("n", &n)]))),
        "removed" => Some((false, ctx.lang.t("voice.ext.removed", &[("n", &n)]))),
        "none" => Some((true, ctx.lang.t("voice.ext.none_selected", &[]))),
        _ => None,
    };
    ctx.render(
        "voice/extensions.html",
        context! {
            rows => rows, total => i64::try_from(total).unwrap_or(i64::MAX),
            q => search_text.clone(), q_enc => encode(&search_text),
            page => page, pages => pages,
            prev_page => (page > 1).then_some(page - 1),
            next_page => (page < pages).then_some(page + 1),
            can_edit => identity.allows(EXTENSIONS_EDIT),
            running => state.engine().is_some(),
            flash => flash.as_ref().map(|(_, m)| m.clone()),
            flash_bad => flash.as_ref().is_some_and(|(bad, _)| *bad),
        },
    )
}

/// What the form shows.
pub(crate) struct FormView {
    /// New: the number specification; edit: the number.
    pub numbers: String,
    /// The settings (as sent, after a refusal).
    pub values: Extension,
    /// Messages by field, in the page's language (`_form`: the whole form).
    pub errors: Msgs,
}

/// Renders the new (`editing` None) or edit form.
async fn render_form(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    editing: Option<&str>,
    view: FormView,
    status: StatusCode,
    flash: Option<String>,
) -> Response {
    let pool: Vec<String> = match state.store().list_entries(VoiceList::NumberPool).await {
        Ok(p) => p.into_iter().map(|e| e.value).collect(),
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let selected: Vec<String> = split_ids(&view.values.caller_ids);
    // Numbers chosen before that left the pool stay visible (and refused).
    let mut choices = pool.clone();
    choices.extend(selected.iter().filter(|s| !pool.contains(s)).cloned());
    let (queues, menus) = match state.engine() {
        Some(e) => {
            let cc = e.ctx().callcenter.get();
            (
                cc.queues.iter().map(|q| q.name.clone()).collect::<Vec<_>>(),
                cc.ivr.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    let kinds: Vec<_> = EXTENSION_KINDS
        .iter()
        .map(|k| context! { value => *k, label => kind_label(ctx.lang, k) })
        .collect();
    let modes: Vec<_> = AUTO_ANSWER_MODES
        .iter()
        .map(|m| {
            let key = match *m {
                "all" => "voice.ext.auto_all",
                "queue" => "voice.ext.auto_queue",
                _ => "voice.ext.auto_off",
            };
            context! { value => *m, label => ctx.lang.t(key, &[]) }
        })
        .collect();
    let auths: Vec<_> = AUTH_ALGORITHM_CHOICES
        .iter()
        .map(|a| {
            let key = match *a {
                "" => "voice.ext.auth_default",
                "MD5" => "voice.ext.auth_md5",
                "SHA-256" => "voice.ext.auth_sha256",
                _ => "voice.ext.auth_both",
            };
            let id = if a.is_empty() { "default" } else { a };
            context! { value => *a, id => id, label => ctx.lang.t(key, &[]) }
        })
        .collect();
    ctx.render_status(
        status,
        "voice/extension_form.html",
        context! {
            editing => editing.is_some(),
            number => editing,
            action => editing
                .map(|n| format!("/voice/extensions/{}", super::media::path_segment(n)))
                .unwrap_or_else(|| "/voice/extensions".into()),
            numbers => view.numbers, v => view.values, errors => view.errors,
            selected => selected, pool => choices, queues => queues, menus => menus,
            kinds => kinds, modes => modes, auths => auths,
            can_edit => identity.allows(EXTENSIONS_EDIT),
            running => state.engine().is_some(),
            flash => flash,
        },
    )
}

/// The caller IDs of a stored comma-separated list.
fn split_ids(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `GET /voice/extensions/new`.
pub async fn new_form(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    let view = FormView {
        numbers: String::new(),
        values: Extension::default(),
        errors: Msgs::new(),
    };
    render_form(&state, &ctx, &identity, None, view, StatusCode::OK, None).await
}

/// The extension in the path, if it exists.
pub(crate) async fn load(state: &AppState, number: &str) -> anyhow::Result<Option<Extension>> {
    if number.is_empty() || number.len() > store::MAX_NUMBER_DIGITS * 2 {
        return Ok(None);
    }
    Ok(state.store().get_extension(number).await?)
}

/// The 404 page.
fn not_found(ctx: &PageCtx) -> Response {
    view::error_page(
        StatusCode::NOT_FOUND,
        ctx.lang,
        ctx.identity.as_ref(),
        "error.not_found",
    )
}

/// `GET /voice/extensions/{number}`.
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(number): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let ext = match load(&state, &number).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found(&ctx),
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    let flash = (q.text("done") == "saved").then(|| ctx.t("voice.ext.saved"));
    let mut values = ext.clone();
    values.password = String::new();
    let view = FormView {
        numbers: ext.number.clone(),
        values,
        errors: Msgs::new(),
    };
    render_form(
        &state,
        &ctx,
        &identity,
        Some(&ext.number),
        view,
        StatusCode::OK,
        flash,
    )
    .await
}

/// The settings of the form (number and password left to the caller).
fn read_values(f: &Fields, editing: bool) -> Extension {
    let caller_ids: Vec<String> = f
        .all("caller_ids")
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    Extension {
        number: String::new(),
        password: f.raw("password"),
        display_name: f.text("display_name"),
        // A new extension is enabled; the edit form has the checkbox.
        enabled: !editing || f.flag("enabled"),
        kind: f.text("kind"),
        target: f.text("target"),
        announce_agent_id: f.flag("announce_agent_id"),
        allow_outbound: f.flag("allow_outbound"),
        record: f.flag("record"),
        after_call_work: f.flag("after_call_work"),
        auto_answer: f.text("auto_answer"),
        pickup_group: f.text("pickup_group"),
        gateway: f.text("gateway"),
        webrtc: f.flag("webrtc"),
        caller_ids: caller_ids.join(","),
        auth_algorithms: f.text("auth_algorithms"),
    }
}

/// Whether `s` has no control characters and at most `max` characters.
fn plain(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Checks the settings of `v` (not the numbers), recording messages in
/// `errors`. `editing`: an empty password keeps the old one.
async fn check(
    state: &AppState,
    lang: Lang,
    v: &mut Extension,
    editing: bool,
    errors: &mut Msgs,
) -> anyhow::Result<()> {
    let mut add = |field: &str, msg: String| {
        errors.entry(field.to_string()).or_insert(msg);
    };
    if v.password.is_empty() {
        if !editing {
            add("password", lang.t("voice.common.required", &[]));
        }
    } else if !PASSWORD_LEN.contains(&v.password.chars().count())
        || v.password
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        add("password", lang.t("voice.ext.password_rule", &[]));
    }
    if !plain(&v.display_name, MAX_TEXT) {
        add(
            "display_name",
            lang.t("voice.common.too_long", &[("max", &MAX_TEXT.to_string())]),
        );
    }
    if !EXTENSION_KINDS.contains(&v.kind.as_str()) {
        add("kind", lang.t("voice.common.invalid_choice", &[]));
    } else if v.kind == "direct" {
        v.target.clear();
    } else if v.target.is_empty() {
        add("target", lang.t("voice.ext.target_required", &[]));
    } else if !plain(&v.target, MAX_TEXT) {
        add(
            "target",
            lang.t("voice.common.too_long", &[("max", &MAX_TEXT.to_string())]),
        );
    } else if v.kind == "queue" || v.kind == "ivr" {
        match state.engine() {
            None => add("target", lang.t("voice.ext.target_unchecked", &[])),
            Some(e) => {
                let cc = e.ctx().callcenter.get();
                let known = if v.kind == "queue" {
                    cc.queue(&v.target).is_some()
                } else {
                    cc.ivr.iter().any(|m| m.id == v.target)
                };
                if !known {
                    let key = if v.kind == "queue" {
                        "voice.ext.unknown_queue"
                    } else {
                        "voice.ext.unknown_ivr"
                    };
                    add("target", lang.t(key, &[("name", &v.target)]));
                }
            }
        }
    }
    if !AUTO_ANSWER_MODES.contains(&v.auto_answer.as_str()) {
        add("auto_answer", lang.t("voice.common.invalid_choice", &[]));
    }
    if !AUTH_ALGORITHM_CHOICES.contains(&v.auth_algorithms.as_str()) {
        add(
            "auth_algorithms",
            lang.t("voice.common.invalid_choice", &[]),
        );
    }
    if !plain(&v.gateway, MAX_TEXT) || v.gateway.chars().any(char::is_whitespace) {
        add("gateway", lang.t("voice.ext.gateway_rule", &[]));
    }
    if v.pickup_group.chars().count() > MAX_GROUP
        || !v
            .pickup_group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        add("pickup_group", lang.t("voice.ext.group_rule", &[]));
    }
    let ids = split_ids(&v.caller_ids);
    if !ids.is_empty() {
        let pool: HashSet<String> = state
            .store()
            .list_entries(VoiceList::NumberPool)
            .await?
            .into_iter()
            .map(|e| e.value)
            .collect();
        if let Some(bad) = ids.iter().find(|id| !pool.contains(*id)) {
            add(
                "caller_ids",
                lang.t("voice.ext.caller_id_unknown", &[("number", bad)]),
            );
        }
    }
    Ok(())
}

/// The message of a number specification that does not parse.
fn numbers_message(lang: Lang, e: &StoreError) -> String {
    match e {
        StoreError::InvalidRange { part, reason } => {
            lang.t("voice.ext.bad_range", &[("part", part), ("reason", reason)])
        }
        StoreError::InvalidNumber { part, reason } => lang.t(
            "voice.ext.bad_number",
            &[("part", part), ("reason", reason)],
        ),
        StoreError::InvalidNumberList { reason, .. } => {
            lang.t("voice.ext.bad_numbers", &[("reason", reason)])
        }
        other => lang.t("voice.ext.bad_numbers", &[("reason", &other.to_string())]),
    }
}

/// `existing` numbers named for the "already exist" message (the first
/// [`NAMED_AT_MOST`], then how many more).
fn name_numbers(lang: Lang, existing: &[String]) -> String {
    let mut named = existing
        .iter()
        .take(NAMED_AT_MOST)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if existing.len() > NAMED_AT_MOST {
        named.push_str(&lang.t(
            "voice.ext.and_more",
            &[("n", &(existing.len() - NAMED_AT_MOST).to_string())],
        ));
    }
    named
}

/// Applies a written change of the extensions to the running engine now.
pub(crate) async fn applied(state: &AppState) {
    if let Some(engine) = state.engine() {
        engine.extensions_changed().await;
    }
}

/// What became of a create or an edit.
pub(crate) enum Outcome {
    /// Written: the numbers created or changed.
    Done(Vec<String>),
    /// No such extension (edit).
    NotFound,
    /// Refused, nothing written: the form as sent with its messages, and
    /// the status (400 bad input, 409 numbers created meanwhile by someone
    /// else). The password is still in the values: clear it before showing.
    Refused(Box<FormView>, StatusCode),
}

/// Creates the batch the form describes (`numbers`, e.g. `101-110`, and
/// the settings), all or none: numbers that already exist are named, every
/// setting is checked as [`check`] does.
pub(crate) async fn create_batch(
    state: &AppState,
    lang: Lang,
    f: &Fields,
    by: &str,
) -> anyhow::Result<Outcome> {
    let mut view = FormView {
        numbers: f.text("numbers"),
        values: read_values(f, false),
        errors: Msgs::new(),
    };
    let mut numbers = Vec::new();
    if view.numbers.is_empty() {
        view.errors
            .insert("numbers".into(), lang.t("voice.common.required", &[]));
    } else {
        match store::parse_numbers(&view.numbers) {
            Ok(n) => numbers = n,
            Err(e) => {
                view.errors
                    .insert("numbers".into(), numbers_message(lang, &e));
            }
        }
    }
    if !numbers.is_empty() {
        let existing: HashSet<String> = state
            .store()
            .list_extensions()
            .await?
            .into_iter()
            .map(|e| e.number)
            .collect();
        let taken: Vec<String> = numbers
            .iter()
            .filter(|n| existing.contains(*n))
            .cloned()
            .collect();
        if !taken.is_empty() {
            view.errors.insert(
                "numbers".into(),
                lang.t(
                    "voice.ext.exist",
                    &[("numbers", &name_numbers(lang, &taken))],
                ),
            );
        }
    }
    check(state, lang, &mut view.values, false, &mut view.errors).await?;
    if !view.errors.is_empty() {
        return Ok(Outcome::Refused(Box::new(view), StatusCode::BAD_REQUEST));
    }
    let batch: Vec<Extension> = numbers
        .iter()
        .map(|n| Extension {
            number: n.clone(),
            ..view.values.clone()
        })
        .collect();
    match state.store().add_extensions(&batch).await {
        Ok(report) => {
            applied(state).await;
            tracing::info!(
                by,
                added = ?report.added,
                skipped = ?report.skipped,
                "extensions created"
            );
            if !report.skipped.is_empty() {
                // Created by someone else in the meantime: say which.
                view.errors.insert(
                    "numbers".into(),
                    lang.t(
                        "voice.ext.exist",
                        &[("numbers", &name_numbers(lang, &report.skipped))],
                    ),
                );
                return Ok(Outcome::Refused(Box::new(view), StatusCode::CONFLICT));
            }
            Ok(Outcome::Done(report.added))
        }
        Err(StoreError::InvalidExtension { reason, .. }) => {
            view.errors.insert(
                "_form".into(),
                lang.t("voice.ext.invalid", &[("reason", reason)]),
            );
            Ok(Outcome::Refused(Box::new(view), StatusCode::BAD_REQUEST))
        }
        Err(e) => Err(e.into()),
    }
}

/// Saves the edit form of extension `number` (an empty password keeps the
/// old one; every setting is checked as [`check`] does).
pub(crate) async fn update_one(
    state: &AppState,
    lang: Lang,
    number: &str,
    f: &Fields,
    by: &str,
) -> anyhow::Result<Outcome> {
    let Some(ext) = load(state, number).await? else {
        return Ok(Outcome::NotFound);
    };
    let mut view = FormView {
        numbers: ext.number.clone(),
        values: read_values(f, true),
        errors: Msgs::new(),
    };
    view.values.number = ext.number.clone();
    check(state, lang, &mut view.values, true, &mut view.errors).await?;
    if view.errors.is_empty() {
        match state.store().update_extension(&view.values).await {
            Ok(()) => {
                applied(state).await;
                tracing::info!(by, number = ext.number, "extension changed");
                return Ok(Outcome::Done(vec![ext.number]));
            }
            Err(StoreError::ExtensionNotFound(_)) => return Ok(Outcome::NotFound),
            Err(StoreError::InvalidExtension { reason, .. }) => {
                view.errors.insert(
                    "_form".into(),
                    lang.t("voice.ext.invalid", &[("reason", reason)]),
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Outcome::Refused(Box::new(view), StatusCode::BAD_REQUEST))
}

/// `POST /voice/extensions`: creates the batch (all or none).
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let lang = ctx.lang;
    match create_batch(&state, lang, &f, &identity.user.username).await {
        Ok(Outcome::Done(added)) => {
            Redirect::to(&format!("/voice/extensions?done=created&n={}", added.len()))
                .into_response()
        }
        Ok(Outcome::Refused(mut view, status)) => {
            view.values.password.clear();
            render_form(&state, &ctx, &identity, None, *view, status, None).await
        }
        Ok(Outcome::NotFound) => not_found(&ctx),
        Err(e) => view::internal_error(false, lang, &e),
    }
}

/// `POST /voice/extensions/{number}`: saves the edit form.
pub async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(number): Path<String>,
    Form(f): Form,
) -> Response {
    let lang = ctx.lang;
    match update_one(&state, lang, &number, &f, &identity.user.username).await {
        Ok(Outcome::Done(_)) => Redirect::to(&format!(
            "/voice/extensions/{}?done=saved",
            super::media::path_segment(&number)
        ))
        .into_response(),
        Ok(Outcome::Refused(mut view, status)) => {
            view.values.password.clear();
            let editing = view.numbers.clone();
            render_form(&state, &ctx, &identity, Some(&editing), *view, status, None).await
        }
        Ok(Outcome::NotFound) => not_found(&ctx),
        Err(e) => view::internal_error(false, lang, &e),
    }
}

/// `POST /voice/extensions/remove`: removes `one`, or every ticked `number`.
pub async fn remove(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let one = f.text("one");
    let numbers: Vec<String> = if one.is_empty() {
        f.all("number")
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        vec![one]
    };
    if numbers.is_empty() {
        return Redirect::to("/voice/extensions?done=none").into_response();
    }
    match state.store().remove_extensions(&numbers).await {
        Ok(n) => {
            applied(&state).await;
            tracing::info!(by = identity.user.username, ?numbers, "extensions removed");
            Redirect::to(&format!("/voice/extensions?done=removed&n={n}")).into_response()
        }
        Err(e) => view::internal_error(false, ctx.lang, &e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_flags_and_messages() {
        let e = Extension {
            number: "1001".into(),
            display_name: "Zhang San".into(),
            record: true,
            auto_answer: "queue".into(),
            pickup_group: "sales".into(),
            ..Default::default()
        };
        assert!(matches(&e, ""));
        assert!(matches(&e, "zhang"));
        assert!(matches(&e, "100"));
        assert!(matches(&e, "SALES"));
        assert!(!matches(&e, "2002"));
        let ids: Vec<&str> = flags_of(Lang::En, &e).iter().map(|f| f.0).collect();
        assert_eq!(ids, ["outbound", "record", "auto-queue", "group"]);
        assert_eq!(split_ids(" 1, ,2 "), ["1", "2"]);
        let many: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        let named = name_numbers(Lang::En, &many);
        assert!(named.starts_with("0, 1, 2"), "{named}");
        assert!(named.ends_with("and 5 more"), "{named}");
        let e = store::parse_numbers("10-5").unwrap_err();
        assert!(numbers_message(Lang::Zh, &e).contains("10-5"));
    }
}
