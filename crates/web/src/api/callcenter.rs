//! The call-center settings over the API, as the pages change them: agents
//! and tiers (the queue pages), IVR menus and routing rules. A body is read
//! as the page's form fields and goes through the page's own check and
//! save (`put_agent_form`, `put_menu_form`, `put_rule_form`), hence through
//! the engine's settings admin
//! ([`SettingsAdmin`](engine::callcenter_settings::SettingsAdmin)): checked
//! against the whole set of settings, stored, applied live. A refusal
//! changes nothing and names the field (400 `{"error", "field", "errors"}`,
//! in the request's language).
//!
//! PUT and POST give a whole record: what the body leaves out takes the
//! value a new record has on the page's form. What GET shows can be sent
//! back changed.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::acd::{AgentConfig, TierConfig};
use engine::apps::ivr::IvrMenu;
use engine::callcenter_settings::{CallcenterSettings, SettingsError};
use engine::routing::Rule;
use serde_json::{Map, Value};

use super::{
    body_json, engine, err, fill_defaults, form_of, named_body, no_engine, refused_messages,
    scalar_text,
};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::i18n::Lang;
use crate::pages::voice::cc_forms::{is_storage, live, place_error, refusal, Errs, Live, Refused};
use crate::pages::voice::ivr::{entry_row, put_menu_form};
use crate::pages::voice::queues::agents::put_agent_form;
use crate::pages::voice::queues::tiers::level_position;
use crate::pages::voice::routes::{
    blank_rule, kind_code, put_rule_form, rule_groups, rule_values, swap_order, tester,
};
use crate::state::AppState;
use crate::view::{api_error, json};

// ---------------------------------------------------------------------------
// Shared.
// ---------------------------------------------------------------------------

/// The answer to a refused change of `what` (nothing was changed).
fn refused(r: Refused, what: &str) -> Response {
    match r {
        Refused::NotFound => err(StatusCode::NOT_FOUND, format!("no such {what}")),
        Refused::Storage(e) => storage(what, &e),
        Refused::Input(errs) => refused_messages(StatusCode::BAD_REQUEST, &errs),
    }
}

/// Logs a storage failure and answers 500 without its details.
fn storage(what: &str, e: &SettingsError) -> Response {
    tracing::error!("saving {what}: {e}");
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("saving the {what} failed, see the server log"),
    )
}

/// The answer to a refused removal: 500 for a storage failure, else 409
/// saying what still uses it.
fn removal_refused(lang: Lang, what: &str, e: &SettingsError) -> Response {
    if is_storage(e) {
        return storage(what, e);
    }
    api_error(StatusCode::CONFLICT, &refusal(lang, e), e.field.as_deref())
}

// ---------------------------------------------------------------------------
// Agents.
// ---------------------------------------------------------------------------

/// An agent's settings (mod_callcenter names, as `PUT` takes them), the
/// queues it is in and its live status and state.
fn agent_json(a: &AgentConfig, s: &CallcenterSettings, live: &Live) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    let queues: Vec<&str> = s
        .tiers
        .iter()
        .filter(|t| t.agent == a.id)
        .map(|t| t.queue.as_str())
        .collect();
    let (status, state) = live.agents.get(&a.id).cloned().unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("queues".into(), queues.into());
        o.insert("status".into(), status.into());
        o.insert("state".into(), state.into());
    }
    v
}

/// `GET /api/callcenter/agents`: every agent's settings, queues and live
/// status (the queue page's agent list).
#[utoipa::path(get, path = "/api/callcenter/agents", tag = "callcenter", responses((status = 200, description = "[{id, type, contact, max-no-answer, wrap-up-time, ..., queues, status, state}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn agents(State(state): State<AppState>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    let live = live(engine).await;
    let list: Vec<Value> = s.agents.iter().map(|a| agent_json(a, &s, &live)).collect();
    json(StatusCode::OK, &list)
}

/// `GET /api/callcenter/agents/{id}`: one agent.
#[utoipa::path(get, path = "/api/callcenter/agents/{id}", tag = "callcenter", params(("id" = String, Path, description = "agent id")), responses((status = 200, description = "the agent's settings, queues and live status", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn agent(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    match s.agents.iter().find(|a| a.id == id) {
        Some(a) => json(StatusCode::OK, &agent_json(a, &s, &live(engine).await)),
        None => err(StatusCode::NOT_FOUND, format!("no agent '{id}'")),
    }
}

/// `PUT /api/callcenter/agents/{id}`: adds or changes an agent, checked and
/// saved as the agent form does (a callback agent's contact must be an
/// extension); its live status is kept. Applied at once.
#[utoipa::path(put, path = "/api/callcenter/agents/{id}", tag = "callcenter", params(("id" = String, Path, description = "agent id")), request_body(content = serde_json::Value, content_type = "application/json", description = "type (callback, uuid-standby), contact, auto-answer, max-no-answer, wrap-up-time, reject-delay-time, busy-delay-time, no-answer-delay-time (seconds); left out: a new agent's values"), responses((status = 200, description = "the agent in force", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn put_agent(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let defaults = serde_json::to_value(AgentConfig::default()).unwrap_or_default();
    let f = match named_body(&body, "id", &id, defaults).and_then(|v| form_of(&v)) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let exists = engine
        .settings()
        .current()
        .agents
        .iter()
        .any(|a| a.id == id);
    let editing = exists.then_some(id.as_str());
    match put_agent_form(engine, editing, &f, lang, &identity.user.username).await {
        Ok(id) => agent(State(state), Path(id)).await,
        Err(r) => refused(r, "agent"),
    }
}

/// `DELETE /api/callcenter/agents/{id}`: removes the agent and its tiers.
#[utoipa::path(delete, path = "/api/callcenter/agents/{id}", tag = "callcenter", params(("id" = String, Path, description = "agent id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_agent(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let admin = engine.settings();
    if !admin.current().agents.iter().any(|a| a.id == id) {
        return err(StatusCode::NOT_FOUND, format!("no agent '{id}'"));
    }
    match admin.remove_agent(&id).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, agent = id, "agent removed");
            json(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "agent": id }),
            )
        }
        Err(e) => removal_refused(Lang::from_headers(&headers), "agent", &e),
    }
}

// ---------------------------------------------------------------------------
// Tiers.
// ---------------------------------------------------------------------------

/// `GET /api/callcenter/tiers?queue=&agent=`: which agent answers which
/// queue, at which level and position (optionally of one queue or agent).
#[utoipa::path(get, path = "/api/callcenter/tiers", tag = "callcenter", params(("queue" = Option<String>, Query, description = "only this queue's"), ("agent" = Option<String>, Query, description = "only this agent's")), responses((status = 200, description = "[{queue, agent, level, position}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn tiers(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let (queue, agent) = (q.text("queue"), q.text("agent"));
    let s = engine.settings().current();
    let list: Vec<&TierConfig> = s
        .tiers
        .iter()
        .filter(|t| queue.is_empty() || t.queue == queue)
        .filter(|t| agent.is_empty() || t.agent == agent)
        .collect();
    json(StatusCode::OK, &list)
}

/// `PUT /api/callcenter/tiers/{queue}/{agent}`: puts the agent in the
/// queue, or changes its level and position there (each 1 when left out),
/// as the queue page's agent rows do. An unknown queue or agent is refused
/// naming `queue` or `agent`.
#[utoipa::path(put, path = "/api/callcenter/tiers/{queue}/{agent}", tag = "callcenter", params(("queue" = String, Path, description = "queue name"), ("agent" = String, Path, description = "agent id")), request_body(content = serde_json::Value, content_type = "application/json", description = "{\"level\": 1, \"position\": 1} (each 1 when left out; lower levels are offered first)"), responses((status = 200, description = "the tier", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn put_tier(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path((queue, agent)): Path<(String, String)>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let value = if body.trim().is_empty() {
        Ok(Value::Object(Map::new()))
    } else {
        body_json(&body)
    };
    let f = match value.and_then(|v| form_of(&v)) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (level, position) = match level_position(&f, lang) {
        Ok(lp) => lp,
        Err((field, msg)) => return api_error(StatusCode::BAD_REQUEST, &msg, Some(&field)),
    };
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let tier = TierConfig::new(&queue, &agent, level, position);
    match engine.settings().put_tier(tier.clone()).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                queue,
                agent,
                level,
                position,
                "tier saved"
            );
            json(StatusCode::OK, &tier)
        }
        Err(e) if is_storage(&e) => storage("tier", &e),
        Err(e) => {
            let mut errs = Errs::new();
            place_error(
                &mut errs,
                &["queue", "agent", "level", "position"],
                lang,
                &e,
            );
            refused_messages(StatusCode::BAD_REQUEST, &errs)
        }
    }
}

/// `DELETE /api/callcenter/tiers/{queue}/{agent}`: takes the agent out of
/// the queue.
#[utoipa::path(delete, path = "/api/callcenter/tiers/{queue}/{agent}", tag = "callcenter", params(("queue" = String, Path, description = "queue name"), ("agent" = String, Path, description = "agent id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_tier(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path((queue, agent)): Path<(String, String)>,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let admin = engine.settings();
    let known = admin
        .current()
        .tiers
        .iter()
        .any(|t| t.queue == queue && t.agent == agent);
    if !known {
        return err(
            StatusCode::NOT_FOUND,
            format!("agent '{agent}' is not in queue '{queue}'"),
        );
    }
    match admin.remove_tier(&queue, &agent).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                queue,
                agent,
                "agent taken out of queue"
            );
            json(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "queue": queue, "agent": agent }),
            )
        }
        Err(e) => removal_refused(Lang::from_headers(&headers), "tier", &e),
    }
}

// ---------------------------------------------------------------------------
// IVR menus.
// ---------------------------------------------------------------------------

/// The members of an entry object, as the menu form's row fields.
const ENTRY_KEYS: [(&str, &str); 5] = [
    ("label", "entry_label"),
    ("digits", "entry_digits"),
    ("type", "entry_type"),
    ("value", "entry_value"),
    ("arg", "entry_arg"),
];

/// A menu as the API shows it: its attributes (the engine's names) and its
/// entries as the form's rows `{label, digits, type, value, arg}`.
fn menu_json(m: &IvrMenu) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or_default();
    let entries: Vec<Value> = m
        .entries
        .iter()
        .map(|e| {
            let row = entry_row(e);
            let obj: Map<String, Value> = ENTRY_KEYS
                .iter()
                .zip(row)
                .map(|((k, _), v)| (k.to_string(), Value::String(v)))
                .collect();
            Value::Object(obj)
        })
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("entries".into(), entries.into());
    }
    v
}

/// `GET /api/ivr`: every IVR menu with its entries.
#[utoipa::path(get, path = "/api/ivr", tag = "ivr", responses((status = 200, description = "[menu]: id, name, prompts, timeouts, entries: [{label, digits, type, value, arg}]", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn menus(State(state): State<AppState>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    let list: Vec<Value> = s.ivr.iter().map(menu_json).collect();
    json(StatusCode::OK, &list)
}

/// `GET /api/ivr/{name}`: one menu with its entries.
#[utoipa::path(get, path = "/api/ivr/{name}", tag = "ivr", params(("name" = String, Path, description = "menu id")), responses((status = 200, description = "the menu and its entries", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn menu(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    match s.ivr.iter().find(|m| m.id == name) {
        Some(m) => json(StatusCode::OK, &menu_json(m)),
        None => err(StatusCode::NOT_FOUND, format!("no IVR menu '{name}'")),
    }
}

/// `PUT /api/ivr/{name}`: adds or replaces a menu with its entries, checked
/// and saved as the menu form does. The engine checks the whole set of
/// menus: a loop, a missing prompt, extension, submenu or application is
/// refused naming the entry (`entries[N]`, N its index in the list) or the
/// attribute. Applied to new calls at once.
#[utoipa::path(put, path = "/api/ivr/{name}", tag = "ivr", params(("name" = String, Path, description = "menu id")), request_body(content = serde_json::Value, content_type = "application/json", description = "name, greet_long, greet_short, invalid_sound, exit_sound, transfer_sound, confirm_sound, timeout_ms, inter_digit_timeout_ms, max_failures, max_timeouts, digit_len, confirm_key, confirm_attempts, entries: [{label, digits, type (extension, external, hangup, app, submenu, back, top, play_file), value, arg}]; left out: a new menu's values"), responses((status = 200, description = "the menu in force", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn put_menu(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let mut defaults = serde_json::to_value(IvrMenu::new(&name)).unwrap_or_default();
    if let Some(o) = defaults.as_object_mut() {
        o.remove("entries");
    }
    let mut value = match named_body(&body, "id", &name, defaults) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let entries = value
        .as_object_mut()
        .and_then(|o| o.remove("entries"))
        .unwrap_or(Value::Null);
    let mut f = match form_of(&value) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let entries = match entries {
        Value::Null => Vec::new(),
        Value::Array(list) => list,
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "give a list of {label, digits, type, value, arg}",
                Some("entries"),
            )
        }
    };
    for (i, entry) in entries.iter().enumerate() {
        let Some(obj) = entry.as_object() else {
            return api_error(
                StatusCode::BAD_REQUEST,
                "give {label, digits, type, value, arg}",
                Some(&format!("entries[{i}]")),
            );
        };
        if let Some(k) = obj.keys().find(|k| !ENTRY_KEYS.iter().any(|(n, _)| n == k)) {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("unknown member '{k}': an entry has label, digits, type, value, arg"),
                Some(&format!("entries[{i}].{k}")),
            );
        }
        // Every row gets all five fields, so the form's rows line up.
        for (key, field) in ENTRY_KEYS {
            let text = match obj.get(key) {
                None | Some(Value::Null) => String::new(),
                Some(v) => match scalar_text(v) {
                    Some(t) => t,
                    None => {
                        return api_error(
                            StatusCode::BAD_REQUEST,
                            "give a string or a number",
                            Some(&format!("entries[{i}].{key}")),
                        )
                    }
                },
            };
            f.push(field, &text);
        }
    }
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let exists = engine.settings().current().ivr.iter().any(|m| m.id == name);
    let editing = exists.then_some(name.as_str());
    match put_menu_form(engine, editing, &f, lang, &identity.user.username).await {
        Ok(id) => menu(State(state), Path(id)).await,
        Err(Refused::Input(errs)) => {
            // The form's rows are the list's entries, in order.
            let errs: BTreeMap<String, String> = errs
                .into_iter()
                .map(|(k, v)| match k.strip_prefix("entry-") {
                    Some(n) => (format!("entries[{n}]"), v),
                    None => (k, v),
                })
                .collect();
            refused_messages(StatusCode::BAD_REQUEST, &errs)
        }
        Err(r) => refused(r, "IVR menu"),
    }
}

/// `DELETE /api/ivr/{name}`: removes a menu; refused (409) while a number,
/// routing rule or other menu leads to it, naming them.
#[utoipa::path(delete, path = "/api/ivr/{name}", tag = "ivr", params(("name" = String, Path, description = "menu id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_menu(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let admin = engine.settings();
    if !admin.current().ivr.iter().any(|m| m.id == name) {
        return err(StatusCode::NOT_FOUND, format!("no IVR menu '{name}'"));
    }
    match admin.remove_ivr_menu(&name).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, menu = name, "IVR menu removed");
            json(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "menu": name }),
            )
        }
        Err(e) => removal_refused(Lang::from_headers(&headers), "IVR menu", &e),
    }
}

// ---------------------------------------------------------------------------
// Routing rules.
// ---------------------------------------------------------------------------

/// A rule as the form's fields (numbers and checkboxes typed) with its id:
/// what POST and PUT take. `all`: every type's fields (their defaults, for
/// a body of any type), else those of the rule's type only.
fn rule_fields(r: &Rule, all: bool) -> Value {
    let values = rule_values(r);
    let kind = kind_code(&r.kind);
    let mut o = Map::new();
    o.insert("id".into(), r.id.into());
    for spec in rule_groups(Lang::En, &[])
        .into_iter()
        .flat_map(|(_, fields)| fields)
        .filter(|s| all || s.for_kind.is_empty() || s.for_kind == kind)
    {
        let text = values.get(spec.name).cloned().unwrap_or_default();
        let v = match spec.kind {
            "check" => Value::Bool(!matches!(text.as_str(), "" | "0" | "false" | "off")),
            "number" => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(text)),
            _ => Value::String(text),
        };
        o.insert(spec.name.to_string(), v);
    }
    Value::Object(o)
}

/// A rule as the API shows it: the fields of its type.
fn rule_json(r: &Rule) -> Value {
    rule_fields(r, false)
}

/// What a body leaves out takes from `blank` (a new rule's values).
fn rule_defaults(blank: &Rule) -> Value {
    let mut v = rule_fields(blank, true);
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    v
}

/// The rule `id` of the path (None: not a number or no such rule).
fn find_rule(s: &CallcenterSettings, id: &str) -> Option<Rule> {
    let id = id.parse::<i64>().ok()?;
    s.routes.rules().find(|r| r.id == id).cloned()
}

/// `GET /api/routes`: the routing rules in matching order.
#[utoipa::path(get, path = "/api/routes", tag = "routes", responses((status = 200, description = "[rule]: id, name, order, pattern, type, enabled and the fields of its type", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn rules(State(state): State<AppState>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    let list: Vec<Value> = s.routes.rules().map(rule_json).collect();
    json(StatusCode::OK, &list)
}

/// `GET /api/routes/{id}`: one rule.
#[utoipa::path(get, path = "/api/routes/{id}", tag = "routes", params(("id" = i64, Path, description = "rule id")), responses((status = 200, description = "the rule", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn rule(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    match find_rule(&s, &id) {
        Some(r) => json(StatusCode::OK, &rule_json(&r)),
        None => err(StatusCode::NOT_FOUND, format!("no routing rule {id}")),
    }
}

/// Saves the rule of `value` (new when `id` is None) as the rule form does.
async fn save_rule(
    state: AppState,
    identity: &Identity,
    headers: &HeaderMap,
    id: Option<i64>,
    value: &Value,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let f = match form_of(value) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let lang = Lang::from_headers(headers);
    match put_rule_form(engine, id, &f, lang, &identity.user.username).await {
        Ok(id) => rule(State(state), Path(id.to_string())).await,
        Err(r) => refused(r, "routing rule"),
    }
}

/// `POST /api/routes`: adds a rule, checked as the rule form does: the
/// whole list with the new rule must make a valid table (an invalid regex
/// is refused naming `pattern`, a duplicate order `order`), and its queue
/// or menu must exist (`queue`, `menu`). Applied to the next call.
#[utoipa::path(post, path = "/api/routes", tag = "routes", request_body(content = serde_json::Value, content_type = "application/json", description = "name, order (left out: after the last rule), pattern (a number, or a regex), type (basic, inbound, outbound, queue, ivr, robot), enabled (default true) and the fields of the type: basic_target; target, schedule_on, hours_mon..hours_sun, holidays, after_hours (prompt, target), after_hours_prompt, after_hours_target; gateway (one name, or several comma-separated or as a list: tried in that order; each must exist), strip_digits, strip_prefix, add_prefix, timeout_secs, record; queue; menu; robot, voice_threshold, silence_threshold"), responses((status = 200, description = "the new rule with its id", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_rule(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    body: String,
) -> Response {
    // The body is checked (JSON, an object of form values) before the engine.
    let checked = body_json(&body).and_then(|v| form_of(&v).map(|_| v));
    let mut value = match checked {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let blank = blank_rule(&engine.settings().current());
    fill_defaults(&mut value, rule_defaults(&blank));
    save_rule(state, &identity, &headers, None, &value).await
}

/// `PUT /api/routes/{id}`: replaces a rule, checked as for POST; a rule
/// whose order is left out keeps its place.
#[utoipa::path(put, path = "/api/routes/{id}", tag = "routes", params(("id" = i64, Path, description = "rule id")), request_body(content = serde_json::Value, content_type = "application/json", description = "as for POST"), responses((status = 200, description = "the rule", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_rule(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let checked = named_body(&body, "id", &id, Value::Null).and_then(|v| form_of(&v).map(|_| v));
    let mut value = match checked {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let s = engine.settings().current();
    let Some(current) = find_rule(&s, &id) else {
        return err(StatusCode::NOT_FOUND, format!("no routing rule {id}"));
    };
    let mut blank = blank_rule(&s);
    blank.order = current.order;
    fill_defaults(&mut value, rule_defaults(&blank));
    save_rule(state, &identity, &headers, Some(current.id), &value).await
}

/// `DELETE /api/routes/{id}`: removes a rule.
#[utoipa::path(delete, path = "/api/routes/{id}", tag = "routes", params(("id" = i64, Path, description = "rule id")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_rule(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let admin = engine.settings();
    let s = admin.current();
    let Some(gone) = find_rule(&s, &id) else {
        return err(StatusCode::NOT_FOUND, format!("no routing rule {id}"));
    };
    let rules: Vec<Rule> = s
        .routes
        .rules()
        .filter(|r| r.id != gone.id)
        .cloned()
        .collect();
    match admin.put_routes(rules).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                rule = gone.id,
                "routing rule removed"
            );
            json(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "id": gone.id }),
            )
        }
        Err(e) => removal_refused(Lang::from_headers(&headers), "routing rules", &e),
    }
}

/// `POST /api/routes/{id}/move?dir=up|down`: swaps the rule's order with
/// the rule before or after it, as the list page's arrows do.
#[utoipa::path(post, path = "/api/routes/{id}/move", tag = "routes", params(("id" = i64, Path, description = "rule id"), ("dir" = String, Query, description = "up or down")), responses((status = 200, description = "{moved: false} for the first rule up or the last down; else the rules in their new order", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn move_rule(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let dir = q.text("dir");
    if !matches!(dir.as_str(), "up" | "down") {
        return api_error(StatusCode::BAD_REQUEST, "give up or down", Some("dir"));
    }
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let admin = engine.settings();
    let s = admin.current();
    let mut rules: Vec<Rule> = s.routes.rules().cloned().collect();
    let Some(rule_id) = find_rule(&s, &id).map(|r| r.id) else {
        return err(StatusCode::NOT_FOUND, format!("no routing rule {id}"));
    };
    if swap_order(&mut rules, rule_id, &dir) != Some(true) {
        return json(StatusCode::OK, &serde_json::json!({ "moved": false }));
    }
    match admin.put_routes(rules).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                rule = rule_id,
                "routing rule moved"
            );
            let s = admin.current();
            let list: Vec<Value> = s.routes.rules().map(rule_json).collect();
            json(
                StatusCode::OK,
                &serde_json::json!({ "moved": true, "rules": list }),
            )
        }
        Err(e) => removal_refused(Lang::from_headers(&headers), "routing rules", &e),
    }
}

/// `GET /api/routes/test?number=&at=`: which rule matches `number` (at
/// `at`, `YYYY-MM-DD HH:MM`, default now) and where the call would go: the
/// list page's tester.
#[utoipa::path(get, path = "/api/routes/test", tag = "routes", params(("number" = String, Query, description = "the dialled number"), ("at" = Option<String>, Query, description = "the moment, YYYY-MM-DD HH:MM (default now)")), responses((status = 200, description = "{number, at, checks: [{id, name, order, verdict_code, wins, ...}], winner, steps, route}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn test_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryFields(q): QueryFields,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let number = q.text("number");
    if number.is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            &lang.t("form.required", &[]),
            Some("number"),
        );
    }
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    match tester(engine, &number, &q.text("at"), lang) {
        Ok(v) => match serde_json::to_value(&v) {
            Ok(v) => json(StatusCode::OK, &v),
            Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Err(msg) => api_error(StatusCode::BAD_REQUEST, &msg, Some("at")),
    }
}
