//! IVR menus (3.2.4 IVR配置) as a tree with entries.
//!
//! Routes (view: `voice.ivr:view`, change: `voice.ivr:edit`):
//! - `GET /voice/ivr`: the menus as a tree: root menus (those no other
//!   menu leads to), with their entries and, under an entry leading to a
//!   submenu, that submenu;
//! - `GET /voice/ivr/new`, `POST /voice/ivr`: add a menu;
//! - `GET|POST /voice/ivr/{id}`: edit a menu's attributes and entries (one
//!   row per entry, plus blank rows to add some);
//! - `POST /voice/ivr/{id}/delete`: remove a menu (refused while used).
//!
//! `SettingsAdmin::put_ivr_menu` checks the whole set of menus: loops,
//! missing prompts or extensions, unknown submenus and applications are
//! refused naming the menu and the entry, which the form shows next to
//! that entry's row.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::apps::ivr::{IvrAction, IvrEntry, IvrMenu};
use engine::callcenter_settings::{CallcenterSettings, SettingsError};
use engine::Engine;
use minijinja::{context, Value};

use super::cc_forms::{
    builtin_prompts, engine_or_503, groups_view, is_storage, not_found, number, optional_number,
    optional_text, prompt_options, refusal, seg, valid_key, Errs, FieldSpec, FormPage, Refused,
};
use crate::auth::permissions::{IVR_EDIT, IVR_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view_routes = Router::new()
        .route("/voice/ivr", get(list))
        .route("/voice/ivr/{id}", get(edit_form));
    let edit_routes = Router::new()
        .route("/voice/ivr/new", get(new_form))
        .route("/voice/ivr", post(create))
        .route("/voice/ivr/{id}", post(update))
        .route("/voice/ivr/{id}/delete", post(delete));
    require(IVR_VIEW, view_routes).merge(require(IVR_EDIT, edit_routes))
}

/// The entry types of the manual's form, as the form's values.
pub(crate) const ENTRY_TYPES: [&str; 8] = [
    "extension",
    "external",
    "hangup",
    "app",
    "submenu",
    "back",
    "top",
    "play_file",
];

/// Blank entry rows offered below the existing ones.
const BLANK_ROWS: usize = 3;

/// The prompt attributes of a menu, as form field names (the engine's).
const PROMPTS: [&str; 6] = [
    "greet_long",
    "greet_short",
    "invalid_sound",
    "exit_sound",
    "transfer_sound",
    "confirm_sound",
];

fn menu_groups(prompts: &[Value], editing: bool) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let mut sounds: Vec<FieldSpec> = PROMPTS
        .iter()
        .map(|p| FieldSpec::new(p, "prompt").options(prompts.to_vec()))
        .collect();
    if let Some(first) = sounds.first_mut() {
        first.required = true;
    }
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("id", "text").required().readonly(editing),
                FieldSpec::new("name", "text"),
            ],
        ),
        ("prompts", sounds),
        (
            "input",
            vec![
                FieldSpec::new("timeout_ms", "number"),
                FieldSpec::new("inter_digit_timeout_ms", "number"),
                FieldSpec::new("max_failures", "number"),
                FieldSpec::new("max_timeouts", "number"),
                FieldSpec::new("digit_len", "number"),
                FieldSpec::new("confirm_key", "text"),
                FieldSpec::new("confirm_attempts", "number"),
            ],
        ),
    ]
}

fn field_names() -> Vec<&'static str> {
    menu_groups(&[], false)
        .into_iter()
        .flat_map(|(_, fs)| fs.into_iter().map(|f| f.name))
        .collect()
}

/// An entry as the form's row values: label, digits, type, value, arg.
pub(crate) fn entry_row(e: &IvrEntry) -> [String; 5] {
    let (kind, value, arg) = match &e.action {
        IvrAction::Extension { number } => ("extension", number.clone(), String::new()),
        IvrAction::External { number } => ("external", number.clone(), String::new()),
        IvrAction::Hangup => ("hangup", String::new(), String::new()),
        IvrAction::App { name, arg } => ("app", name.clone(), arg.clone()),
        IvrAction::Submenu { menu } => ("submenu", menu.clone(), String::new()),
        IvrAction::Back => ("back", String::new(), String::new()),
        IvrAction::Top => ("top", String::new(), String::new()),
        IvrAction::PlayFile { file } => ("play_file", file.clone(), String::new()),
    };
    [
        e.label.clone(),
        e.digits.clone(),
        kind.to_string(),
        value,
        arg,
    ]
}

/// A menu as form values and entry rows.
pub(crate) fn menu_values(m: &IvrMenu) -> (BTreeMap<String, String>, Vec<[String; 5]>) {
    let opt_str = |o: &Option<String>| o.clone().unwrap_or_default();
    let pairs = [
        ("id", m.id.clone()),
        ("name", m.name.clone()),
        ("greet_long", opt_str(&m.greet_long)),
        ("greet_short", opt_str(&m.greet_short)),
        ("invalid_sound", opt_str(&m.invalid_sound)),
        ("exit_sound", opt_str(&m.exit_sound)),
        ("transfer_sound", opt_str(&m.transfer_sound)),
        ("confirm_sound", opt_str(&m.confirm_sound)),
        ("timeout_ms", m.timeout_ms.to_string()),
        (
            "inter_digit_timeout_ms",
            m.inter_digit_timeout_ms
                .map(|v| v.to_string())
                .unwrap_or_default(),
        ),
        ("max_failures", m.max_failures.to_string()),
        (
            "max_timeouts",
            m.max_timeouts.map(|v| v.to_string()).unwrap_or_default(),
        ),
        ("digit_len", m.digit_len.to_string()),
        (
            "confirm_key",
            m.confirm_key.map(String::from).unwrap_or_default(),
        ),
        ("confirm_attempts", m.confirm_attempts.to_string()),
    ];
    let values = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    (values, m.entries.iter().map(entry_row).collect())
}

/// The entry rows as sent (every row, blank ones included).
fn sent_rows(f: &Fields) -> Vec<[String; 5]> {
    let labels = f.all("entry_label");
    let digits = f.all("entry_digits");
    let kinds = f.all("entry_type");
    let values = f.all("entry_value");
    let args = f.all("entry_arg");
    let n = digits.len();
    let at = |v: &Vec<String>, i: usize| v.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
    (0..n)
        .map(|i| {
            [
                at(&labels, i),
                at(&digits, i),
                at(&kinds, i),
                at(&values, i),
                at(&args, i),
            ]
        })
        .collect()
}

/// Whether a row is blank (nothing typed: it is ignored).
fn blank_row(r: &[String; 5]) -> bool {
    r[0].is_empty() && r[1].is_empty() && r[3].is_empty() && r[4].is_empty()
}

/// Reads the menu form. `id`: the menu being edited. Errors by field;
/// entry rows' errors are `entry-N` (N: the row's index as sent).
pub(crate) fn parse_menu(f: &Fields, id: Option<&str>, lang: Lang) -> (IvrMenu, Errs) {
    let mut errs = Errs::new();
    let menu_id = match id {
        Some(id) => id.to_string(),
        None => {
            let id = f.text("id");
            if id.is_empty() {
                errs.insert("id".into(), lang.t("form.required", &[]));
            } else if !valid_key(&id) || id == "new" {
                errs.insert("id".into(), lang.t("cc.ivr.id_invalid", &[]));
            }
            id
        }
    };
    let mut m = IvrMenu::new(&menu_id);
    m.name = f.text("name");
    m.greet_long = optional_text(f, "greet_long");
    m.greet_short = optional_text(f, "greet_short");
    m.invalid_sound = optional_text(f, "invalid_sound");
    m.exit_sound = optional_text(f, "exit_sound");
    m.transfer_sound = optional_text(f, "transfer_sound");
    m.confirm_sound = optional_text(f, "confirm_sound");
    if let Some(v) = number::<u64>(f, "timeout_ms", lang, &mut errs) {
        m.timeout_ms = v;
    }
    m.inter_digit_timeout_ms = optional_number(f, "inter_digit_timeout_ms", lang, &mut errs);
    if let Some(v) = number::<u32>(f, "max_failures", lang, &mut errs) {
        m.max_failures = v;
    }
    m.max_timeouts = optional_number(f, "max_timeouts", lang, &mut errs);
    if let Some(v) = number::<usize>(f, "digit_len", lang, &mut errs) {
        m.digit_len = v;
    }
    let key = f.text("confirm_key");
    let mut chars = key.chars();
    m.confirm_key = match (chars.next(), chars.next()) {
        (None, _) => None,
        (Some(c), None) => Some(c),
        _ => {
            errs.insert("confirm_key".into(), lang.t("cc.ivr.one_key", &[]));
            None
        }
    };
    if let Some(v) = number::<u32>(f, "confirm_attempts", lang, &mut errs) {
        m.confirm_attempts = v;
    }
    for (i, row) in sent_rows(f).iter().enumerate() {
        if blank_row(row) {
            continue;
        }
        let [label, digits, kind, value, arg] = row.clone();
        let field = format!("entry-{i}");
        if digits.is_empty() {
            errs.insert(field.clone(), lang.t("cc.ivr.entry_no_digits", &[]));
        }
        let needs_value = matches!(
            kind.as_str(),
            "extension" | "external" | "app" | "submenu" | "play_file"
        );
        if needs_value && value.is_empty() {
            errs.entry(field.clone())
                .or_insert_with(|| lang.t("cc.ivr.entry_no_value", &[]));
        }
        let action = match kind.as_str() {
            "extension" => IvrAction::Extension { number: value },
            "external" => IvrAction::External { number: value },
            "hangup" => IvrAction::Hangup,
            "app" => IvrAction::App { name: value, arg },
            "submenu" => IvrAction::Submenu { menu: value },
            "back" => IvrAction::Back,
            "top" => IvrAction::Top,
            "play_file" => IvrAction::PlayFile { file: value },
            _ => {
                errs.entry(field)
                    .or_insert_with(|| lang.t("form.invalid_choice", &[]));
                continue;
            }
        };
        m.entries.push(IvrEntry {
            label,
            digits,
            action,
        });
    }
    (m, errs)
}

/// Places a refusal of the engine: an entry's problem next to its row, a
/// menu attribute's next to its field, anything else on the form.
pub(crate) fn place_ivr_error(
    errs: &mut Errs,
    menu: &IvrMenu,
    rows: &[[String; 5]],
    e: &SettingsError,
    lang: Lang,
) {
    let msg = refusal(lang, e);
    let about_this = e.thing == format!("IVR menu '{}'", menu.id);
    if about_this {
        if let Some(binding) = e
            .field
            .as_deref()
            .and_then(|f| f.strip_prefix("entry '"))
            .and_then(|f| f.strip_suffix('\''))
        {
            if let Some(i) = rows.iter().position(|r| !blank_row(r) && r[1] == binding) {
                errs.insert(format!("entry-{i}"), msg);
                return;
            }
        }
        if e.field.is_none() {
            // Menu attributes: the engine's message starts with, or ends
            // with, the attribute's name.
            let names = field_names();
            let found = names.iter().find(|n| {
                e.message.starts_with(&format!("{n}:"))
                    || e.message.starts_with(&format!("{n} "))
                    || e.message.contains(&format!("({n})"))
            });
            if let Some(n) = found {
                errs.insert(n.to_string(), msg);
                return;
            }
            if e.message.contains("no entries") || e.message.contains("every binding") {
                errs.insert("entries".into(), msg);
                return;
            }
        }
    }
    errs.insert("_form".into(), msg);
}

/// Numbers (`[apps] ivr` and IVR routing rules) leading to each menu.
fn menu_numbers(s: &CallcenterSettings, engine: &Engine) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (number, menu) in &engine.ctx().cfg.apps.ivr {
        out.entry(menu.clone()).or_default().push(number.clone());
    }
    for r in s.routes.rules() {
        if let engine::routing::RuleKind::Ivr { menu: Some(m) } = &r.kind {
            out.entry(m.clone())
                .or_default()
                .push(r.pattern.as_str().to_string());
        }
    }
    out
}

/// What an entry does, in a few words.
fn entry_summary(e: &IvrEntry, lang: Lang) -> String {
    let [_, _, kind, value, arg] = entry_row(e);
    let label = lang.t(&format!("cc.ivr.type.{kind}"), &[]);
    match (value.is_empty(), arg.is_empty()) {
        (true, _) => label,
        (false, true) => format!("{label}: {value}"),
        (false, false) => format!("{label}: {value} {arg}"),
    }
}

/// The menus as a tree: roots first, each entry with the submenu it leads to.
fn tree(s: &CallcenterSettings, numbers: &BTreeMap<String, Vec<String>>, lang: Lang) -> Vec<Value> {
    let by_id: BTreeMap<&str, &IvrMenu> = s.ivr.iter().map(|m| (m.id.as_str(), m)).collect();
    let targets: BTreeSet<&str> = s
        .ivr
        .iter()
        .flat_map(|m| m.entries.iter())
        .filter_map(|e| match &e.action {
            IvrAction::Submenu { menu } if by_id.contains_key(menu.as_str()) => Some(menu.as_str()),
            _ => None,
        })
        .collect();
    fn node(
        m: &IvrMenu,
        by_id: &BTreeMap<&str, &IvrMenu>,
        numbers: &BTreeMap<String, Vec<String>>,
        lang: Lang,
        path: &mut Vec<String>,
    ) -> Value {
        path.push(m.id.clone());
        let entries: Vec<Value> = m
            .entries
            .iter()
            .map(|e| {
                let child = match &e.action {
                    // A loop (refused on save, possible in an old database)
                    // is not followed twice.
                    IvrAction::Submenu { menu } if !path.contains(menu) && path.len() < 16 => by_id
                        .get(menu.as_str())
                        .map(|c| node(c, by_id, numbers, lang, path)),
                    _ => None,
                };
                context! {
                    digits => e.digits.clone(), label => e.label.clone(),
                    summary => entry_summary(e, lang), child => child,
                }
            })
            .collect();
        path.pop();
        context! {
            id => m.id.clone(), name => m.display_name(), href => format!("/voice/ivr/{}", seg(&m.id)),
            numbers => numbers.get(&m.id).cloned().unwrap_or_default(),
            entries => entries,
        }
    }
    let mut roots: Vec<&IvrMenu> = s
        .ivr
        .iter()
        .filter(|m| !targets.contains(m.id.as_str()))
        .collect();
    // Menus only reachable through a loop have no root: show them too.
    if roots.is_empty() {
        roots = s.ivr.iter().collect();
    }
    roots
        .into_iter()
        .map(|m| node(m, &by_id, numbers, lang, &mut Vec::new()))
        .collect()
}

/// `GET /voice/ivr`.
async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let flash = (q.text("done") == "deleted").then(|| ctx.t("form.deleted"));
    render_list(&engine, &ctx, &identity, flash, None, StatusCode::OK)
}

fn render_list(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let s = engine.settings().current();
    let numbers = menu_numbers(&s, engine);
    ctx.render_status(
        status,
        "callcenter/ivr.html",
        context! {
            tree => tree(&s, &numbers, ctx.lang), count => s.ivr.len(),
            flash => flash, error => error,
            can_edit => identity.allows(IVR_EDIT),
        },
    )
}

async fn render_form(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<&str>,
    page: FormPage,
    rows: Vec<[String; 5]>,
    status: StatusCode,
) -> Response {
    let FormPage {
        values,
        errs,
        flash,
    } = page;
    let lang = ctx.lang;
    let prompts = prompt_options(engine, lang).await;
    let groups = menu_groups(&prompts, id.is_some());
    let s = engine.settings().current();
    let types: Vec<Value> = ENTRY_TYPES
        .iter()
        .map(|t| context! { value => *t, label => lang.t(&format!("cc.ivr.type.{t}"), &[]) })
        .collect();
    let mut rows = rows;
    rows.extend((0..BLANK_ROWS).map(|_| {
        [
            String::new(),
            String::new(),
            "extension".to_string(),
            String::new(),
            String::new(),
        ]
    }));
    let rows: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .map(|(i, [label, digits, kind, value, arg])| {
            context! {
                index => i, label => label, digits => digits, kind => kind, value => value, arg => arg,
                error => errs.get(&format!("entry-{i}")).cloned(),
            }
        })
        .collect();
    let mut suggestions: Vec<String> = builtin_prompts(engine).await;
    if let Ok(files) = engine.ctx().store.list_media_files().await {
        suggestions.extend(files.into_iter().map(|m| m.name));
    }
    let extensions: Vec<String> = engine
        .ctx()
        .store
        .list_extensions()
        .await
        .map(|l| l.into_iter().map(|e| e.number).collect())
        .unwrap_or_default();
    ctx.render_status(
        status,
        "callcenter/ivr_form.html",
        context! {
            editing => id.is_some(), id => id,
            action => id.map(|i| format!("/voice/ivr/{}", seg(i))).unwrap_or_else(|| "/voice/ivr".into()),
            seg => id.map(seg),
            groups => groups_view(lang, "cc.ivr", &groups, &values, &errs),
            rows => rows, types => types,
            menus => s.ivr.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            prompts => suggestions, extensions => extensions,
            form_error => errs.get("_form").cloned(), entries_error => errs.get("entries").cloned(),
            flash => flash,
            can_edit => identity.allows(IVR_EDIT),
        },
    )
}

/// `GET /voice/ivr/new`.
async fn new_form(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let (values, rows) = menu_values(&IvrMenu::new(""));
    let page = FormPage {
        values,
        errs: Errs::new(),
        flash: None,
    };
    render_form(&engine, &ctx, &identity, None, page, rows, StatusCode::OK).await
}

/// `GET /voice/ivr/{id}`.
async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let s = engine.settings().current();
    let Some(menu) = s.ivr.iter().find(|m| m.id == id) else {
        return not_found(&ctx);
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("form.created")),
        "saved" => Some(ctx.t("cc.saved_live")),
        _ => None,
    };
    let (values, rows) = menu_values(menu);
    let page = FormPage {
        values,
        errs: Errs::new(),
        flash,
    };
    render_form(
        &engine,
        &ctx,
        &identity,
        Some(&id),
        page,
        rows,
        StatusCode::OK,
    )
    .await
}

/// Checks the menu form and saves the menu: `id` is the menu being edited
/// (None: a new menu, its id in `f`). The engine checks the whole set of
/// menus (loops, missing prompts, extensions, submenus, applications).
/// Refusals of an entry are `entry-N`, N the row's index as sent. Returns
/// the menu's id.
pub(crate) async fn put_menu_form(
    engine: &Engine,
    id: Option<&str>,
    f: &Fields,
    lang: Lang,
    by: &str,
) -> Result<String, Refused> {
    let admin = engine.settings();
    if let Some(id) = id {
        if !admin.current().ivr.iter().any(|m| m.id == id) {
            return Err(Refused::NotFound);
        }
    }
    let (menu, mut errs) = parse_menu(f, id, lang);
    if id.is_none() && errs.is_empty() && admin.current().ivr.iter().any(|m| m.id == menu.id) {
        errs.insert("id".into(), lang.t("cc.ivr.id_taken", &[]));
    }
    if !errs.is_empty() {
        return Err(Refused::Input(errs));
    }
    let menu_id = menu.id.clone();
    match admin.put_ivr_menu(menu.clone()).await {
        Ok(()) => {
            tracing::info!(by, menu = menu_id, "IVR menu saved");
            Ok(menu_id)
        }
        Err(e) if is_storage(&e) => Err(Refused::Storage(e)),
        Err(e) => {
            place_ivr_error(&mut errs, &menu, &sent_rows(f), &e, lang);
            Err(Refused::Input(errs))
        }
    }
}

async fn save(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<&str>,
    f: &Fields,
) -> Response {
    let engine = match engine_or_503(state, ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let lang = ctx.lang;
    let errs = match put_menu_form(&engine, id, f, lang, &identity.user.username).await {
        Ok(menu_id) => {
            let done = if id.is_some() { "saved" } else { "created" };
            return Redirect::to(&format!("/voice/ivr/{}?done={done}", seg(&menu_id)))
                .into_response();
        }
        Err(Refused::NotFound) => return not_found(ctx),
        Err(Refused::Storage(e)) => {
            return view::internal_error(false, lang, &anyhow::anyhow!("saving IVR menu: {e}"))
        }
        Err(Refused::Input(errs)) => errs,
    };
    let rows = sent_rows(f);
    let mut values: BTreeMap<String, String> = field_names()
        .into_iter()
        .map(|n| (n.to_string(), f.text(n)))
        .collect();
    if let Some(id) = id {
        values.insert("id".into(), id.to_string());
    }
    // Keep the rows as sent (blank ones dropped: fresh blanks are added).
    let kept: Vec<[String; 5]> = rows.into_iter().filter(|r| !blank_row(r)).collect();
    // Row errors were indexed over the rows as sent: re-index them.
    let sent = sent_rows(f);
    let mut reindexed = Errs::new();
    for (k, v) in errs {
        match k
            .strip_prefix("entry-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(i) => {
                let new_index = sent[..i.min(sent.len())]
                    .iter()
                    .filter(|r| !blank_row(r))
                    .count();
                reindexed.insert(format!("entry-{new_index}"), v);
            }
            None => {
                reindexed.insert(k, v);
            }
        }
    }
    let page = FormPage {
        values,
        errs: reindexed,
        flash: None,
    };
    render_form(
        &engine,
        ctx,
        identity,
        id,
        page,
        kept,
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// `POST /voice/ivr`: adds a menu.
async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    save(&state, &ctx, &identity, None, &f).await
}

/// `POST /voice/ivr/{id}`: saves a menu.
async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    save(&state, &ctx, &identity, Some(&id), &f).await
}

/// `POST /voice/ivr/{id}/delete`: refused while a number, rule or menu
/// leads to it.
async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = engine.settings();
    if !admin.current().ivr.iter().any(|m| m.id == id) {
        return not_found(&ctx);
    }
    match admin.remove_ivr_menu(&id).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, menu = id, "IVR menu removed");
            Redirect::to("/voice/ivr?done=deleted").into_response()
        }
        Err(e) if is_storage(&e) => {
            view::internal_error(false, ctx.lang, &anyhow::anyhow!("removing IVR menu: {e}"))
        }
        Err(e) => {
            let msg = refusal(ctx.lang, &e);
            render_list(
                &engine,
                &ctx,
                &identity,
                None,
                Some(msg),
                StatusCode::CONFLICT,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(m: &IvrMenu) -> String {
        let (values, rows) = menu_values(m);
        let mut parts: Vec<String> = values
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", crate::form::encode(&v)))
            .collect();
        for r in rows {
            for (name, v) in [
                "entry_label",
                "entry_digits",
                "entry_type",
                "entry_value",
                "entry_arg",
            ]
            .iter()
            .zip(r.iter())
            {
                parts.push(format!("{name}={}", crate::form::encode(v)));
            }
        }
        parts.join("&")
    }

    fn entry(digits: &str, action: IvrAction) -> IvrEntry {
        IvrEntry {
            label: format!("label {digits}"),
            digits: digits.into(),
            action,
        }
    }

    #[test]
    fn a_menu_with_every_entry_type_round_trips_through_the_form() {
        let mut m = IvrMenu::new("main");
        m.name = "Main menu".into();
        m.greet_long = Some("welcome".into());
        m.greet_short = Some("enter_digits".into());
        m.invalid_sound = Some("invalid".into());
        m.exit_sound = Some("goodbye".into());
        m.transfer_sound = Some("transfer".into());
        m.confirm_sound = Some("enter_digits".into());
        m.timeout_ms = 6000;
        m.inter_digit_timeout_ms = Some(2000);
        m.max_failures = 4;
        m.max_timeouts = Some(2);
        m.digit_len = 4;
        m.confirm_key = Some('#');
        m.confirm_attempts = 2;
        m.entries = vec![
            entry(
                "1",
                IvrAction::Extension {
                    number: "1001".into(),
                },
            ),
            entry(
                "2",
                IvrAction::External {
                    number: "010123".into(),
                },
            ),
            entry("3", IvrAction::Hangup),
            entry(
                "4",
                IvrAction::App {
                    name: "queue".into(),
                    arg: "support".into(),
                },
            ),
            entry("5", IvrAction::Submenu { menu: "sub".into() }),
            entry("8", IvrAction::Back),
            entry("9", IvrAction::Top),
            entry(
                r"/^(\d{4})$/",
                IvrAction::PlayFile {
                    file: "welcome".into(),
                },
            ),
        ];
        let (back, errs) = parse_menu(&Fields::parse(body_of(&m).as_bytes()), None, Lang::En);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(back, m);
    }

    #[test]
    fn blank_rows_are_ignored_and_bad_rows_are_named() {
        let body = "id=m&greet_long=welcome&timeout_ms=10000&max_failures=3&digit_len=0&confirm_attempts=3\
            &entry_label=&entry_digits=&entry_type=extension&entry_value=&entry_arg=\
            &entry_label=&entry_digits=1&entry_type=extension&entry_value=&entry_arg=\
            &entry_label=x&entry_digits=&entry_type=hangup&entry_value=&entry_arg=\
            &entry_label=&entry_digits=3&entry_type=fly&entry_value=1&entry_arg=";
        let (m, errs) = parse_menu(&Fields::parse(body.as_bytes()), None, Lang::En);
        assert!(!errs.contains_key("entry-0"), "{errs:?}");
        assert!(errs.contains_key("entry-1"), "{errs:?}");
        assert!(errs.contains_key("entry-2"), "{errs:?}");
        assert!(errs.contains_key("entry-3"), "{errs:?}");
        assert_eq!(m.entries.len(), 2);
    }

    #[test]
    fn engine_refusals_land_on_the_entry_or_the_attribute() {
        let mut m = IvrMenu::new("main");
        m.entries = vec![entry("2", IvrAction::Submenu { menu: "sub".into() })];
        let (_, rows) = menu_values(&m);
        let e = SettingsError {
            thing: "IVR menu 'main'".into(),
            field: Some("entry '2'".into()),
            message: "submenu 'sub' loops back: main -> sub -> main".into(),
        };
        let mut errs = Errs::new();
        place_ivr_error(&mut errs, &m, &rows, &e, Lang::En);
        assert!(errs["entry-0"].contains("loops back"), "{errs:?}");
        let e = SettingsError {
            thing: "IVR menu 'main'".into(),
            field: None,
            message: "greet_short: prompt 'nope' does not exist".into(),
        };
        let mut errs = Errs::new();
        place_ivr_error(&mut errs, &m, &rows, &e, Lang::En);
        assert!(errs.contains_key("greet_short"), "{errs:?}");
        let e = SettingsError {
            thing: "IVR menu 'other'".into(),
            field: Some("entry '1'".into()),
            message: "x".into(),
        };
        let mut errs = Errs::new();
        place_ivr_error(&mut errs, &m, &rows, &e, Lang::En);
        assert!(errs.contains_key("_form"), "{errs:?}");
    }

    #[test]
    fn every_field_and_type_has_a_label_in_both_languages() {
        for lang in Lang::ALL {
            for (g, fields) in menu_groups(&[], false) {
                let key = format!("cc.ivr.group.{g}");
                assert_ne!(lang.t(&key, &[]), key);
                for f in fields {
                    let key = format!("cc.ivr.f.{}", f.name);
                    assert_ne!(lang.t(&key, &[]), key, "{}", lang.code());
                }
            }
            for t in ENTRY_TYPES {
                let key = format!("cc.ivr.type.{t}");
                assert_ne!(lang.t(&key, &[]), key);
            }
        }
    }
}
