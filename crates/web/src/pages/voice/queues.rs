//! Queues / skill groups (3.2.2 技能分组) with their agents and tiers.
//!
//! Every change goes through the engine's [`SettingsAdmin`]: it is checked
//! against the whole set of call-center settings, stored and applied live
//! (callers waiting in a queue keep their place: "reload" is implicit). A
//! refusal changes nothing and is shown next to the field it names.
//!
//! Routes (view: `voice.queues:view`, change: `voice.queues:edit`):
//! - `GET /voice/queues`: queues (strategy, agents, waiting callers,
//!   available agents) and agents (live status and state);
//! - `GET /voice/queues/new`, `POST /voice/queues`: add a queue;
//! - `GET|POST /voice/queues/{name}`: edit a queue, its agents (tiers) and
//!   the "import agents" multi-select; `POST .../delete` removes it;
//! - `POST /voice/queues/{name}/import`, `POST .../tiers/{agent}`,
//!   `POST .../tiers/{agent}/remove`: tiers;
//! - `GET /voice/queues/agents/new`, `POST /voice/queues/agents`,
//!   `GET|POST /voice/queues/agents/{id}`, `POST .../delete`,
//!   `POST .../status`: agents and their live status.
//!
//! The shared helpers of the call-center pages (engine lookup, field views,
//! prompt choices, number parsing) live here too, under "Shared helpers".

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::acd::{
    AcdInput, AgentConfig, AgentStatus, AgentType, QueueConfig, Strategy, TierConfig, TimeBaseScore,
};
use engine::callcenter_settings::{CallcenterSettings, SettingsAdmin, SettingsError};
use engine::Engine;
use minijinja::{context, Value};

use crate::auth::permissions::{QUEUES_EDIT, QUEUES_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view_routes = Router::new()
        .route("/voice/queues", get(list))
        .route("/voice/queues/{name}", get(edit_form))
        .route("/voice/queues/agents/{id}", get(agent_edit_form));
    let edit_routes = Router::new()
        .route("/voice/queues/new", get(new_form))
        .route("/voice/queues", post(create))
        .route("/voice/queues/{name}", post(update))
        .route("/voice/queues/{name}/delete", post(delete))
        .route("/voice/queues/{name}/import", post(import_agents))
        .route("/voice/queues/{name}/tiers/{agent}", post(update_tier))
        .route(
            "/voice/queues/{name}/tiers/{agent}/remove",
            post(remove_tier),
        )
        .route("/voice/queues/agents/new", get(agent_new_form))
        .route("/voice/queues/agents", post(agent_create))
        .route("/voice/queues/agents/{id}", post(agent_update))
        .route("/voice/queues/agents/{id}/delete", post(agent_delete))
        .route("/voice/queues/agents/{id}/status", post(agent_status));
    require(QUEUES_VIEW, view_routes).merge(require(QUEUES_EDIT, edit_routes))
}

// ---------------------------------------------------------------------------
// Shared helpers of the call-center pages (queues, routing rules, IVR menus).
// ---------------------------------------------------------------------------

/// Messages shown next to form fields, already in the page's language, by
/// field name (`_form` for the whole form).
pub(crate) type Errs = BTreeMap<String, String>;

/// The running engine, or the "engine not running" page (503).
pub(crate) fn engine_or_503(state: &AppState, ctx: &PageCtx) -> Result<Arc<Engine>, Box<Response>> {
    match state.engine() {
        Some(e) => Ok(Arc::clone(e)),
        None => Err(Box::new(view::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.lang,
            ctx.identity.as_ref(),
            "cc.no_engine",
        ))),
    }
}

/// A 404 page.
pub(crate) fn not_found(ctx: &PageCtx) -> Response {
    view::error_page(
        StatusCode::NOT_FOUND,
        ctx.lang,
        ctx.identity.as_ref(),
        "error.not_found",
    )
}

/// Percent-encodes `s` for one path segment (names may hold any character).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A refusal of the engine, in the page's language around the engine's
/// own (English) explanation.
pub(crate) fn refusal(lang: Lang, e: &SettingsError) -> String {
    lang.t("cc.refused", &[("why", &e.to_string())])
}

/// Whether a refusal is a storage failure (a server problem, not bad input).
pub(crate) fn is_storage(e: &SettingsError) -> bool {
    e.thing == "database"
}

/// Why a change sent through a form (or the JSON API, which reads its body
/// as the form's fields) was not made. Nothing was changed.
pub(crate) enum Refused {
    /// No such queue, agent, menu or rule.
    NotFound,
    /// The database failed: a server problem, not bad input.
    Storage(SettingsError),
    /// Bad input: messages by form field, in the request's language.
    Input(Errs),
}

/// Parses the number field `name`; an empty or malformed value is recorded
/// in `errs` and None returned.
pub(crate) fn number<T: FromStr>(f: &Fields, name: &str, lang: Lang, errs: &mut Errs) -> Option<T> {
    let text = f.text(name);
    if text.is_empty() {
        errs.entry(name.to_string())
            .or_insert_with(|| lang.t("form.required", &[]));
        return None;
    }
    match text.parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            errs.entry(name.to_string())
                .or_insert_with(|| lang.t("cc.not_a_number", &[]));
            None
        }
    }
}

/// Like [`number`], but an empty field is `None` without an error.
pub(crate) fn optional_number<T: FromStr>(
    f: &Fields,
    name: &str,
    lang: Lang,
    errs: &mut Errs,
) -> Option<T> {
    if f.text(name).is_empty() {
        None
    } else {
        number(f, name, lang, errs)
    }
}

/// A trimmed text field, `None` when empty.
pub(crate) fn optional_text(f: &Fields, name: &str) -> Option<String> {
    Some(f.text(name)).filter(|s| !s.is_empty())
}

/// Whether `s` is a name made of `A-Z a-z 0-9 _ . -` (1-64 characters),
/// as the manual recommends for queue names and menu ids.
pub(crate) fn valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// One option of a select: value and label (label already translated).
pub(crate) fn opt(value: &str, label: &str) -> Value {
    context! { value => value, label => label }
}

/// A form field as the `callcenter/macros.html` `fields` macro draws it:
/// id `f-NAME`, data-test `input-NAME`, error `f-NAME-error` /
/// `error-NAME`. `kind` is `text`, `number`, `check`, `select`,
/// `textarea` or `prompt` (a select of sounds).
#[derive(Clone, Debug)]
pub(crate) struct FieldSpec {
    /// Form name (and the engine's field name where there is one).
    pub name: &'static str,
    /// How it is drawn.
    pub kind: &'static str,
    /// Shown only for this rule type (`data-kind`); empty: always.
    pub for_kind: &'static str,
    /// Marked with `*`.
    pub required: bool,
    /// Options of a select.
    pub options: Vec<Value>,
    /// Id of a `<datalist>` of suggestions for a text field.
    pub list: &'static str,
    /// Not editable (e.g. a queue's name once created).
    pub readonly: bool,
}

impl FieldSpec {
    /// A field named `name` drawn as `kind`.
    pub(crate) fn new(name: &'static str, kind: &'static str) -> FieldSpec {
        FieldSpec {
            name,
            kind,
            for_kind: "",
            required: false,
            options: Vec::new(),
            list: "",
            readonly: false,
        }
    }

    /// Marked required.
    pub(crate) fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }

    /// With these select options.
    pub(crate) fn options(mut self, options: Vec<Value>) -> FieldSpec {
        self.options = options;
        self
    }

    /// Shown only for one rule type.
    pub(crate) fn for_kind(mut self, kind: &'static str) -> FieldSpec {
        self.for_kind = kind;
        self
    }

    /// With a datalist of suggestions.
    pub(crate) fn list(mut self, list: &'static str) -> FieldSpec {
        self.list = list;
        self
    }

    /// Read-only when `yes`.
    pub(crate) fn readonly(mut self, yes: bool) -> FieldSpec {
        self.readonly = yes;
        self
    }

    /// The field for the template: label `PREFIX.f.NAME`, hint
    /// `PREFIX.hint.NAME` when the catalog has one, value and error.
    pub(crate) fn view(
        &self,
        lang: Lang,
        prefix: &str,
        values: &BTreeMap<String, String>,
        errs: &Errs,
    ) -> Value {
        let label_key = format!("{prefix}.f.{}", self.name);
        let hint_key = format!("{prefix}.hint.{}", self.name);
        let hint = lang.t(&hint_key, &[]);
        let value = values.get(self.name).cloned().unwrap_or_default();
        let checked = !matches!(value.as_str(), "" | "0" | "false" | "off");
        let mut options = self.options.clone();
        // A current value that is not among the choices stays selectable.
        if (self.kind == "select" || self.kind == "prompt")
            && !value.is_empty()
            && !options.iter().any(|o| {
                o.get_attr("value")
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == value))
                    .unwrap_or(false)
            })
        {
            options.push(opt(&value, &value));
        }
        context! {
            name => self.name,
            kind => if self.kind == "prompt" { "select" } else { self.kind },
            for_kind => self.for_kind,
            required => self.required,
            readonly => self.readonly,
            list => self.list,
            label => lang.t(&label_key, &[]),
            hint => (hint != hint_key).then_some(hint),
            value => value,
            checked => checked,
            options => options,
            error => errs.get(self.name).cloned(),
        }
    }
}

/// Field groups for the template: `[{title, fields}]`.
pub(crate) fn groups_view(
    lang: Lang,
    prefix: &str,
    groups: &[(&str, Vec<FieldSpec>)],
    values: &BTreeMap<String, String>,
    errs: &Errs,
) -> Vec<Value> {
    groups
        .iter()
        .map(|(key, fields)| {
            context! {
                id => *key,
                title => lang.t(&format!("{prefix}.group.{key}"), &[]),
                fields => fields.iter().map(|f| f.view(lang, prefix, values, errs)).collect::<Vec<_>>(),
            }
        })
        .collect()
}

/// The sounds an admin can choose: built-in prompts (files of the sounds
/// directory in the configured language, by name) and uploaded media, as
/// select options with "none" first.
pub(crate) async fn prompt_options(engine: &Engine, lang: Lang) -> Vec<Value> {
    let mut out = vec![opt("", &lang.t("cc.none", &[]))];
    for name in builtin_prompts(engine).await {
        let label = lang.t("cc.builtin_prompt", &[("name", &name)]);
        out.push(opt(&name, &label));
    }
    match engine.ctx().store.list_media_files().await {
        Ok(files) => {
            for m in files {
                let label = lang.t("cc.media_prompt", &[("name", &m.name)]);
                out.push(opt(&m.name, &label));
            }
        }
        Err(e) => tracing::error!("listing media files for the prompt choices: {e}"),
    }
    out
}

/// Names of the built-in prompts (`<sounds_dir>/<language>/*.wav`).
pub(crate) async fn builtin_prompts(engine: &Engine) -> Vec<String> {
    let cfg = &engine.ctx().cfg;
    let dir = cfg.media.sounds_dir.join(&cfg.media.language);
    let mut names = BTreeSet::new();
    if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = entries.next_entry().await {
            let path = e.path();
            let is_wav = path
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("wav"));
            if is_wav {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    names.insert(stem.to_string());
                }
            }
        }
    }
    names.into_iter().collect()
}

/// The live view of the queue service: agents by id (status, state) and
/// the number of waiting callers by queue.
pub(crate) struct Live {
    /// `id -> (status, state)`.
    pub agents: BTreeMap<String, (String, String)>,
    /// `queue -> waiting callers` (number, waited ms).
    pub waiting: BTreeMap<String, Vec<(String, u64)>>,
}

/// Reads the live view.
pub(crate) async fn live(engine: &Engine) -> Live {
    let v = engine.queues().inspect().await;
    let agents = v["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let id = a["id"].as_str()?.to_string();
            let status = a["status"].as_str().unwrap_or_default().to_string();
            let state = a["state"].as_str().unwrap_or_default().to_string();
            Some((id, (status, state)))
        })
        .collect();
    let waiting = v["waiting"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(q, members)| {
            let list = members
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    (
                        m["caller_number"].as_str().unwrap_or_default().to_string(),
                        m["waited_ms"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            (q.clone(), list)
        })
        .collect();
    Live { agents, waiting }
}

/// Numbers of `[apps] queues` and queue routing rules that lead to `queue`.
fn queue_numbers(s: &CallcenterSettings, engine: &Engine, queue: &str) -> Vec<String> {
    let mut out: Vec<String> = engine
        .ctx()
        .cfg
        .apps
        .queues
        .iter()
        .filter(|(_, q)| *q == queue)
        .map(|(n, _)| n.clone())
        .collect();
    for r in s.routes.rules() {
        if let engine::routing::RuleKind::Queue { queue: q } = &r.kind {
            if q == queue {
                out.push(r.pattern.as_str().to_string());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Queues.
// ---------------------------------------------------------------------------

/// The queue form's fields, by group. Names are the engine's (kebab-case),
/// so a refusal's field lands next to the right input.
fn queue_groups(
    lang: Lang,
    prompts: &[Value],
    editing: bool,
) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let strategies = Strategy::ALL
        .iter()
        .map(|s| {
            opt(
                s.as_str(),
                &lang.t(&format!("cc.strategy.{}", s.as_str()), &[]),
            )
        })
        .collect();
    let bases = TimeBaseScore::ALL
        .iter()
        .map(|s| {
            opt(
                s.as_str(),
                &lang.t(&format!("cc.time_base.{}", s.as_str()), &[]),
            )
        })
        .collect();
    let no_answer = [AgentStatus::OnBreak, AgentStatus::LoggedOut]
        .iter()
        .map(|s| opt(s.as_str(), &status_label(lang, s.as_str())))
        .collect();
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("name", "text").required().readonly(editing),
                FieldSpec::new("strategy", "select").options(strategies),
                FieldSpec::new("ring-timeout", "number"),
                FieldSpec::new("ring-progressively-delay", "number"),
            ],
        ),
        (
            "sounds",
            vec![
                FieldSpec::new("moh-sound", "prompt").options(prompts.to_vec()),
                FieldSpec::new("announce-sound", "prompt").options(prompts.to_vec()),
                FieldSpec::new("announce-frequency", "number"),
                FieldSpec::new("announce-agent", "check"),
            ],
        ),
        (
            "waiting",
            vec![
                FieldSpec::new("time-base-score", "select").options(bases),
                FieldSpec::new("max-wait-time", "number"),
                FieldSpec::new("max-wait-time-with-no-agent", "number"),
                FieldSpec::new("max-wait-time-with-no-agent-time-reached", "number"),
                FieldSpec::new("exit-keys", "text"),
            ],
        ),
        (
            "tiers",
            vec![
                FieldSpec::new("tier-rules-apply", "check"),
                FieldSpec::new("tier-rule-wait-second", "number"),
                FieldSpec::new("tier-rule-wait-multiply-level", "check"),
                FieldSpec::new("tier-rule-no-agent-no-wait", "check"),
            ],
        ),
        (
            "abandoned",
            vec![
                FieldSpec::new("abandoned-resume-allowed", "check"),
                FieldSpec::new("discard-abandoned-after", "number"),
            ],
        ),
        (
            "agents",
            vec![
                FieldSpec::new("agent-no-answer-status", "select").options(no_answer),
                FieldSpec::new("skip-agents-with-external-calls", "check"),
                FieldSpec::new("record-template", "text"),
                FieldSpec::new("survey", "check"),
            ],
        ),
    ]
}

fn flag(b: bool) -> String {
    if b { "1" } else { "" }.to_string()
}

fn secs(d: Duration) -> String {
    d.as_secs().to_string()
}

/// A queue's settings as form values.
pub(crate) fn queue_values(q: &QueueConfig) -> BTreeMap<String, String> {
    let pairs = [
        ("name", q.name.clone()),
        ("strategy", q.strategy.as_str().to_string()),
        ("moh-sound", q.moh_sound.clone().unwrap_or_default()),
        (
            "announce-sound",
            q.announce_sound.clone().unwrap_or_default(),
        ),
        ("announce-frequency", secs(q.announce_frequency)),
        (
            "record-template",
            q.record_template.clone().unwrap_or_default(),
        ),
        ("time-base-score", q.time_base_score.as_str().to_string()),
        ("ring-progressively-delay", secs(q.ring_progressively_delay)),
        ("tier-rules-apply", flag(q.tier_rules_apply)),
        ("tier-rule-wait-second", secs(q.tier_rule_wait_second)),
        (
            "tier-rule-wait-multiply-level",
            flag(q.tier_rule_wait_multiply_level),
        ),
        (
            "tier-rule-no-agent-no-wait",
            flag(q.tier_rule_no_agent_no_wait),
        ),
        ("discard-abandoned-after", secs(q.discard_abandoned_after)),
        ("abandoned-resume-allowed", flag(q.abandoned_resume_allowed)),
        ("max-wait-time", secs(q.max_wait_time)),
        (
            "max-wait-time-with-no-agent",
            secs(q.max_wait_time_with_no_agent),
        ),
        (
            "max-wait-time-with-no-agent-time-reached",
            secs(q.max_wait_time_with_no_agent_time_reached),
        ),
        (
            "agent-no-answer-status",
            q.agent_no_answer_status.as_str().to_string(),
        ),
        (
            "skip-agents-with-external-calls",
            flag(q.skip_agents_with_external_calls),
        ),
        ("exit-keys", q.exit_keys.clone()),
        ("ring-timeout", secs(q.ring_timeout)),
        ("survey", flag(q.survey)),
        ("announce-agent", flag(q.announce_agent)),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Reads the queue form. `name` is the queue being edited (its name is
/// fixed), None for a new queue. Errors are by field.
pub(crate) fn parse_queue(f: &Fields, name: Option<&str>, lang: Lang) -> (QueueConfig, Errs) {
    let mut errs = Errs::new();
    let mut q = QueueConfig::default();
    match name {
        Some(n) => q.name = n.to_string(),
        None => {
            q.name = f.text("name");
            if q.name.is_empty() {
                errs.insert("name".into(), lang.t("form.required", &[]));
            } else if !valid_key(&q.name) || matches!(q.name.as_str(), "new" | "agents") {
                errs.insert("name".into(), lang.t("cc.queue.name_invalid", &[]));
            }
        }
    }
    match f.text("strategy").parse::<Strategy>() {
        Ok(s) => q.strategy = s,
        Err(_) => {
            errs.insert("strategy".into(), lang.t("form.invalid_choice", &[]));
        }
    }
    match f.text("time-base-score").parse::<TimeBaseScore>() {
        Ok(s) => q.time_base_score = s,
        Err(_) => {
            errs.insert("time-base-score".into(), lang.t("form.invalid_choice", &[]));
        }
    }
    match f.text("agent-no-answer-status").parse::<AgentStatus>() {
        Ok(s) => q.agent_no_answer_status = s,
        Err(_) => {
            errs.insert(
                "agent-no-answer-status".into(),
                lang.t("form.invalid_choice", &[]),
            );
        }
    }
    q.moh_sound = optional_text(f, "moh-sound");
    q.announce_sound = optional_text(f, "announce-sound");
    q.record_template = optional_text(f, "record-template");
    q.exit_keys = f.text("exit-keys");
    let mut dur = |field: &str, slot: &mut Duration| {
        if let Some(n) = number::<u64>(f, field, lang, &mut errs) {
            *slot = Duration::from_secs(n);
        }
    };
    dur("announce-frequency", &mut q.announce_frequency);
    dur("ring-progressively-delay", &mut q.ring_progressively_delay);
    dur("tier-rule-wait-second", &mut q.tier_rule_wait_second);
    dur("discard-abandoned-after", &mut q.discard_abandoned_after);
    dur("max-wait-time", &mut q.max_wait_time);
    dur(
        "max-wait-time-with-no-agent",
        &mut q.max_wait_time_with_no_agent,
    );
    dur(
        "max-wait-time-with-no-agent-time-reached",
        &mut q.max_wait_time_with_no_agent_time_reached,
    );
    dur("ring-timeout", &mut q.ring_timeout);
    q.tier_rules_apply = f.flag("tier-rules-apply");
    q.tier_rule_wait_multiply_level = f.flag("tier-rule-wait-multiply-level");
    q.tier_rule_no_agent_no_wait = f.flag("tier-rule-no-agent-no-wait");
    q.abandoned_resume_allowed = f.flag("abandoned-resume-allowed");
    q.skip_agents_with_external_calls = f.flag("skip-agents-with-external-calls");
    q.survey = f.flag("survey");
    q.announce_agent = f.flag("announce-agent");
    (q, errs)
}

/// The form values as sent (to show them again with the errors).
fn sent_values(f: &Fields, names: &[&str]) -> BTreeMap<String, String> {
    names.iter().map(|n| (n.to_string(), f.text(n))).collect()
}

/// Every field name of some groups.
fn names_of(groups: &[(&str, Vec<FieldSpec>)]) -> Vec<&'static str> {
    groups
        .iter()
        .flat_map(|(_, fs)| fs.iter().map(|f| f.name))
        .collect()
}

/// The label of an agent status in the page's language.
fn status_label(lang: Lang, status: &str) -> String {
    let key = format!("cc.status.{}", status_key(status));
    let text = lang.t(&key, &[]);
    if text == key {
        status.to_string()
    } else {
        text
    }
}

fn status_key(status: &str) -> String {
    status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn state_label(lang: Lang, state: &str) -> String {
    let key = format!("cc.state.{}", status_key(state));
    let text = lang.t(&key, &[]);
    if text == key {
        state.to_string()
    } else {
        text
    }
}

/// `GET /voice/queues`.
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
    let flash = match q.text("done").as_str() {
        "deleted" => Some(ctx.t("form.deleted")),
        "agent_deleted" => Some(ctx.t("cc.agent.deleted")),
        _ => None,
    };
    render_list(&engine, &ctx, &identity, flash, None, StatusCode::OK).await
}

async fn render_list(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let s = SettingsAdmin::new(engine.ctx()).current();
    let live = live(engine).await;
    let lang = ctx.lang;
    let queues: Vec<Value> = s
        .queues
        .iter()
        .map(|q| {
            let members: Vec<&TierConfig> = s.tiers.iter().filter(|t| t.queue == q.name).collect();
            let available = members
                .iter()
                .filter(|t| {
                    live.agents.get(&t.agent).is_some_and(|(st, _)| {
                        st.parse::<AgentStatus>().is_ok_and(|x| x.takes_calls())
                    })
                })
                .count();
            context! {
                name => q.name.clone(), href => format!("/voice/queues/{}", seg(&q.name)),
                strategy => lang.t(&format!("cc.strategy.{}", q.strategy.as_str()), &[]),
                strategy_code => q.strategy.as_str(),
                agents => members.len(), available => available,
                waiting => live.waiting.get(&q.name).map(Vec::len).unwrap_or(0),
                numbers => queue_numbers(&s, engine, &q.name),
            }
        })
        .collect();
    let agents: Vec<Value> = s
        .agents
        .iter()
        .map(|a| agent_row(lang, a, &s, &live))
        .collect();
    ctx.render_status(
        status,
        "callcenter/queues.html",
        context! {
            queues => queues, agents => agents, flash => flash, error => error,
            can_edit => identity.allows(QUEUES_EDIT),
        },
    )
}

fn agent_row(lang: Lang, a: &AgentConfig, s: &CallcenterSettings, live: &Live) -> Value {
    let (status, st) = live.agents.get(&a.id).cloned().unwrap_or_default();
    let queues: Vec<String> = s
        .tiers
        .iter()
        .filter(|t| t.agent == a.id)
        .map(|t| t.queue.clone())
        .collect();
    context! {
        id => a.id.clone(), href => format!("/voice/queues/agents/{}", seg(&a.id)),
        contact => a.contact.clone(), agent_type => a.agent_type.as_str(),
        status => status_label(lang, &status), status_code => status_key(&status),
        state => state_label(lang, &st), state_code => status_key(&st),
        queues => queues,
    }
}

/// What the queue page shows besides the form.
struct QueuePage {
    values: BTreeMap<String, String>,
    errs: Errs,
    flash: Option<String>,
    tier_errs: Errs,
}

async fn render_queue(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    name: Option<&str>,
    page: QueuePage,
    status: StatusCode,
) -> Response {
    let lang = ctx.lang;
    let prompts = prompt_options(engine, lang).await;
    let groups = queue_groups(lang, &prompts, name.is_some());
    let s = SettingsAdmin::new(engine.ctx()).current();
    let live = live(engine).await;
    let mut tiers = Vec::new();
    let mut candidates = Vec::new();
    let mut waiting = Vec::new();
    let mut numbers = Vec::new();
    if let Some(name) = name {
        let mut mine: Vec<&TierConfig> = s.tiers.iter().filter(|t| t.queue == name).collect();
        mine.sort_by_key(|t| (t.level, t.position, t.agent.clone()));
        for t in &mine {
            let (st, state) = live.agents.get(&t.agent).cloned().unwrap_or_default();
            tiers.push(context! {
                agent => t.agent.clone(), seg => seg(&t.agent), level => t.level, position => t.position,
                agent_href => format!("/voice/queues/agents/{}", seg(&t.agent)),
                status => status_label(lang, &st), status_code => status_key(&st),
                state => state_label(lang, &state),
            });
        }
        let inside: BTreeSet<&str> = mine.iter().map(|t| t.agent.as_str()).collect();
        for a in s.agents.iter().filter(|a| !inside.contains(a.id.as_str())) {
            let label = if a.contact.is_empty() || a.contact == a.id {
                a.id.clone()
            } else {
                format!("{} ({})", a.id, a.contact)
            };
            candidates.push(opt(&format!("agent:{}", a.id), &label));
        }
        // Extensions that are no agent yet: importing one makes it an agent
        // reached at that extension (the manual imports extensions).
        match engine.ctx().store.list_extensions().await {
            Ok(exts) => {
                for e in exts {
                    if !s.agents.iter().any(|a| a.id == e.number) {
                        let label = lang.t("cc.queue.import_extension", &[("number", &e.number)]);
                        candidates.push(opt(&format!("ext:{}", e.number), &label));
                    }
                }
            }
            Err(e) => tracing::error!("listing extensions for the import: {e}"),
        }
        waiting = live
            .waiting
            .get(name)
            .into_iter()
            .flatten()
            .map(|(n, ms)| context! { number => n.clone(), waited => lang.duration(ms / 1000) })
            .collect();
        numbers = queue_numbers(&s, engine, name);
    }
    let form_error = page.errs.get("_form").cloned();
    ctx.render_status(
        status,
        "callcenter/queue_form.html",
        context! {
            editing => name.is_some(), name => name,
            action => name.map(|n| format!("/voice/queues/{}", seg(n))).unwrap_or_else(|| "/voice/queues".into()),
            seg => name.map(seg),
            groups => groups_view(lang, "cc.queue", &groups, &page.values, &page.errs),
            form_error => form_error, flash => page.flash,
            tiers => tiers, candidates => candidates, waiting => waiting, numbers => numbers,
            tier_error => page.tier_errs.get("_form").cloned(),
            can_edit => identity.allows(QUEUES_EDIT),
        },
    )
}

/// `GET /voice/queues/new`.
async fn new_form(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let page = QueuePage {
        values: queue_values(&QueueConfig::default()),
        errs: Errs::new(),
        flash: None,
        tier_errs: Errs::new(),
    };
    render_queue(&engine, &ctx, &identity, None, page, StatusCode::OK).await
}

/// `GET /voice/queues/{name}`.
async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let s = SettingsAdmin::new(engine.ctx()).current();
    let Some(queue) = s.queue(&name) else {
        return not_found(&ctx);
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("form.created")),
        "saved" => Some(
            ctx.lang
                .t("cc.queue.saved_live", &[("waiting", &q.text("waiting"))]),
        ),
        "imported" => Some(ctx.t("cc.queue.imported")),
        "tier_saved" => Some(ctx.t("form.saved")),
        "tier_removed" => Some(ctx.t("cc.queue.tier_removed")),
        _ => None,
    };
    let page = QueuePage {
        values: queue_values(queue),
        errs: Errs::new(),
        flash,
        tier_errs: Errs::new(),
    };
    render_queue(&engine, &ctx, &identity, Some(&name), page, StatusCode::OK).await
}

/// Puts a refusal next to its field (when the form has that field) or on
/// the whole form.
pub(crate) fn place_error(errs: &mut Errs, fields: &[&str], lang: Lang, e: &SettingsError) {
    let msg = refusal(lang, e);
    match e.field.as_deref() {
        Some(f) if fields.contains(&f) => {
            errs.insert(f.to_string(), msg);
        }
        _ => {
            errs.insert("_form".into(), msg);
        }
    }
}

async fn save_queue(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    name: Option<&str>,
    f: &Fields,
) -> Response {
    let engine = match engine_or_503(state, ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let lang = ctx.lang;
    let admin = SettingsAdmin::new(engine.ctx());
    if let Some(n) = name {
        if admin.current().queue(n).is_none() {
            return not_found(ctx);
        }
    }
    let (q, mut errs) = parse_queue(f, name, lang);
    let groups = queue_groups(lang, &[], name.is_some());
    let names = names_of(&groups);
    if name.is_none() && errs.is_empty() && admin.current().queue(&q.name).is_some() {
        errs.insert("name".into(), lang.t("cc.queue.name_taken", &[]));
    }
    if errs.is_empty() {
        let queue_name = q.name.clone();
        match admin.put_queue(q).await {
            Ok(()) => {
                tracing::info!(
                    by = identity.user.username,
                    queue = queue_name,
                    "queue saved"
                );
                let href = format!("/voice/queues/{}", seg(&queue_name));
                let to = if name.is_some() {
                    let waiting = live(&engine)
                        .await
                        .waiting
                        .get(&queue_name)
                        .map(Vec::len)
                        .unwrap_or(0);
                    format!("{href}?done=saved&waiting={waiting}")
                } else {
                    format!("{href}?done=created")
                };
                return Redirect::to(&to).into_response();
            }
            Err(e) if is_storage(&e) => {
                return view::internal_error(false, lang, &anyhow::anyhow!("saving queue: {e}"))
            }
            Err(e) => place_error(&mut errs, &names, lang, &e),
        }
    }
    let mut values = sent_values(f, &names);
    if let Some(n) = name {
        values.insert("name".into(), n.to_string());
    }
    let page = QueuePage {
        values,
        errs,
        flash: None,
        tier_errs: Errs::new(),
    };
    render_queue(&engine, ctx, identity, name, page, StatusCode::BAD_REQUEST).await
}

/// `POST /voice/queues`: adds a queue.
async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    save_queue(&state, &ctx, &identity, None, &f).await
}

/// `POST /voice/queues/{name}`: saves a queue; waiting callers stay.
async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    Form(f): Form,
) -> Response {
    save_queue(&state, &ctx, &identity, Some(&name), &f).await
}

/// `POST /voice/queues/{name}/delete`: refused while in use (the list shows why).
async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = SettingsAdmin::new(engine.ctx());
    if admin.current().queue(&name).is_none() {
        return not_found(&ctx);
    }
    match admin.remove_queue(&name).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, queue = name, "queue removed");
            Redirect::to("/voice/queues?done=deleted").into_response()
        }
        Err(e) if is_storage(&e) => {
            view::internal_error(false, ctx.lang, &anyhow::anyhow!("removing queue: {e}"))
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
            .await
        }
    }
}

/// Shows the queue page again with a message about its agents.
async fn tier_refused(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    name: &str,
    msg: String,
) -> Response {
    let s = SettingsAdmin::new(engine.ctx()).current();
    let values = s.queue(name).map(queue_values).unwrap_or_default();
    let mut tier_errs = Errs::new();
    tier_errs.insert("_form".into(), msg);
    let page = QueuePage {
        values,
        errs: Errs::new(),
        flash: None,
        tier_errs,
    };
    render_queue(
        engine,
        ctx,
        identity,
        Some(name),
        page,
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// Level and position of the import and tier forms (default 1). Err: the
/// field at fault and the message naming it.
pub(crate) fn level_position(f: &Fields, lang: Lang) -> Result<(u32, u32), (String, String)> {
    let mut errs = Errs::new();
    let level = optional_number::<u32>(f, "level", lang, &mut errs).unwrap_or(1);
    let position = optional_number::<u32>(f, "position", lang, &mut errs).unwrap_or(1);
    match errs.into_iter().next() {
        Some((field, msg)) => {
            let msg = format!("{}: {msg}", lang.t(&format!("cc.tier.{field}"), &[]));
            Err((field, msg))
        }
        None => Ok((level, position)),
    }
}

/// `POST /voice/queues/{name}/import`: puts the chosen agents (or
/// extensions, which become agents) in the queue.
async fn import_agents(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    Form(f): Form,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let lang = ctx.lang;
    let admin = SettingsAdmin::new(engine.ctx());
    if admin.current().queue(&name).is_none() {
        return not_found(&ctx);
    }
    let chosen = f.all("agents");
    if chosen.iter().all(|c| c.trim().is_empty()) {
        let msg = lang.t("cc.queue.import_none", &[]);
        return tier_refused(&engine, &ctx, &identity, &name, msg).await;
    }
    let (level, position) = match level_position(&f, lang) {
        Ok(lp) => lp,
        Err((_, msg)) => return tier_refused(&engine, &ctx, &identity, &name, msg).await,
    };
    for c in chosen.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let agent = if let Some(number) = c.strip_prefix("ext:") {
            let known = engine
                .ctx()
                .store
                .get_extension(number)
                .await
                .ok()
                .flatten()
                .is_some();
            if !known {
                let msg = lang.t("cc.agent.contact_unknown", &[]);
                return tier_refused(&engine, &ctx, &identity, &name, msg).await;
            }
            if !admin.current().agents.iter().any(|a| a.id == number) {
                if let Err(e) = admin.put_agent(AgentConfig::callback(number, number)).await {
                    let msg = refusal(lang, &e);
                    return tier_refused(&engine, &ctx, &identity, &name, msg).await;
                }
            }
            number.to_string()
        } else {
            c.strip_prefix("agent:").unwrap_or(c).to_string()
        };
        if let Err(e) = admin
            .put_tier(TierConfig::new(&name, &agent, level, position))
            .await
        {
            let msg = refusal(lang, &e);
            return tier_refused(&engine, &ctx, &identity, &name, msg).await;
        }
    }
    tracing::info!(by = identity.user.username, queue = name, agents = ?chosen, "agents imported");
    Redirect::to(&format!("/voice/queues/{}?done=imported", seg(&name))).into_response()
}

/// `POST /voice/queues/{name}/tiers/{agent}`: level and position.
async fn update_tier(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path((name, agent)): Path<(String, String)>,
    Form(f): Form,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = SettingsAdmin::new(engine.ctx());
    let s = admin.current();
    if !s.tiers.iter().any(|t| t.queue == name && t.agent == agent) {
        return not_found(&ctx);
    }
    let (level, position) = match level_position(&f, ctx.lang) {
        Ok(lp) => lp,
        Err((_, msg)) => return tier_refused(&engine, &ctx, &identity, &name, msg).await,
    };
    match admin
        .put_tier(TierConfig::new(&name, &agent, level, position))
        .await
    {
        Ok(()) => {
            Redirect::to(&format!("/voice/queues/{}?done=tier_saved", seg(&name))).into_response()
        }
        Err(e) => {
            let msg = refusal(ctx.lang, &e);
            tier_refused(&engine, &ctx, &identity, &name, msg).await
        }
    }
}

/// `POST /voice/queues/{name}/tiers/{agent}/remove`.
async fn remove_tier(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path((name, agent)): Path<(String, String)>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = SettingsAdmin::new(engine.ctx());
    match admin.remove_tier(&name, &agent).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                queue = name,
                agent = agent,
                "agent taken out of queue"
            );
            Redirect::to(&format!("/voice/queues/{}?done=tier_removed", seg(&name))).into_response()
        }
        Err(_) if admin.current().queue(&name).is_none() => not_found(&ctx),
        Err(e) => {
            let msg = refusal(ctx.lang, &e);
            tier_refused(&engine, &ctx, &identity, &name, msg).await
        }
    }
}

// ---------------------------------------------------------------------------
// Agents.
// ---------------------------------------------------------------------------

fn agent_fields(lang: Lang, editing: bool) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let types = AgentType::ALL
        .iter()
        .map(|t| {
            opt(
                t.as_str(),
                &lang.t(&format!("cc.agent_type.{}", status_key(t.as_str())), &[]),
            )
        })
        .collect();
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("id", "text").required().readonly(editing),
                FieldSpec::new("type", "select").options(types),
                FieldSpec::new("contact", "text").list("cc-extensions"),
                FieldSpec::new("auto-answer", "check"),
            ],
        ),
        (
            "delays",
            vec![
                FieldSpec::new("max-no-answer", "number"),
                FieldSpec::new("wrap-up-time", "number"),
                FieldSpec::new("reject-delay-time", "number"),
                FieldSpec::new("busy-delay-time", "number"),
                FieldSpec::new("no-answer-delay-time", "number"),
            ],
        ),
    ]
}

/// An agent's settings as form values.
pub(crate) fn agent_values(a: &AgentConfig) -> BTreeMap<String, String> {
    [
        ("id", a.id.clone()),
        ("type", a.agent_type.as_str().to_string()),
        ("contact", a.contact.clone()),
        ("auto-answer", flag(a.auto_answer)),
        ("max-no-answer", a.max_no_answer.to_string()),
        ("wrap-up-time", secs(a.wrap_up_time)),
        ("reject-delay-time", secs(a.reject_delay_time)),
        ("busy-delay-time", secs(a.busy_delay_time)),
        ("no-answer-delay-time", secs(a.no_answer_delay_time)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Reads the agent form (`id`: the agent being edited).
pub(crate) fn parse_agent(f: &Fields, id: Option<&str>, lang: Lang) -> (AgentConfig, Errs) {
    let mut errs = Errs::new();
    let mut a = AgentConfig::default();
    match id {
        Some(id) => a.id = id.to_string(),
        None => {
            a.id = f.text("id");
            if a.id.is_empty() {
                errs.insert("id".into(), lang.t("form.required", &[]));
            } else if !valid_key(&a.id) || matches!(a.id.as_str(), "new") {
                errs.insert("id".into(), lang.t("cc.agent.id_invalid", &[]));
            }
        }
    }
    match f.text("type").parse::<AgentType>() {
        Ok(t) => a.agent_type = t,
        Err(_) => {
            errs.insert("type".into(), lang.t("form.invalid_choice", &[]));
        }
    }
    a.contact = f.text("contact");
    a.auto_answer = f.flag("auto-answer");
    if let Some(n) = number::<u32>(f, "max-no-answer", lang, &mut errs) {
        a.max_no_answer = n;
    }
    let mut dur = |field: &str, slot: &mut Duration| {
        if let Some(n) = number::<u64>(f, field, lang, &mut errs) {
            *slot = Duration::from_secs(n);
        }
    };
    dur("wrap-up-time", &mut a.wrap_up_time);
    dur("reject-delay-time", &mut a.reject_delay_time);
    dur("busy-delay-time", &mut a.busy_delay_time);
    dur("no-answer-delay-time", &mut a.no_answer_delay_time);
    (a, errs)
}

/// What a form page shows: values, errors by field, a message.
pub(crate) struct FormPage {
    /// Field values.
    pub values: BTreeMap<String, String>,
    /// Errors by field (`_form`: the whole form).
    pub errs: Errs,
    /// A message after a change ("saved").
    pub flash: Option<String>,
}

async fn render_agent(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<&str>,
    page: FormPage,
    status: StatusCode,
) -> Response {
    let FormPage {
        values,
        errs,
        flash,
    } = page;
    let lang = ctx.lang;
    let groups = agent_fields(lang, id.is_some());
    let s = SettingsAdmin::new(engine.ctx()).current();
    let live = live(engine).await;
    let extensions: Vec<String> = match engine.ctx().store.list_extensions().await {
        Ok(list) => list.into_iter().map(|e| e.number).collect(),
        Err(e) => {
            tracing::error!("listing extensions: {e}");
            Vec::new()
        }
    };
    let row = id
        .and_then(|id| s.agents.iter().find(|a| a.id == id))
        .map(|a| agent_row(lang, a, &s, &live));
    let statuses: Vec<Value> = [
        AgentStatus::Available,
        AgentStatus::AvailableOnDemand,
        AgentStatus::OnBreak,
        AgentStatus::LoggedOut,
    ]
    .iter()
    .map(|st| context! { value => st.as_str(), code => status_key(st.as_str()), label => status_label(lang, st.as_str()) })
    .collect();
    let form_error = errs.get("_form").cloned();
    ctx.render_status(
        status,
        "callcenter/agent_form.html",
        context! {
            editing => id.is_some(), id => id, seg => id.map(seg),
            action => id.map(|i| format!("/voice/queues/agents/{}", seg(i))).unwrap_or_else(|| "/voice/queues/agents".into()),
            groups => groups_view(lang, "cc.agent", &groups, &values, &errs),
            form_error => form_error, flash => flash, agent => row, statuses => statuses,
            extensions => extensions, status_error => errs.get("status").cloned(),
            can_edit => identity.allows(QUEUES_EDIT),
        },
    )
}

/// `GET /voice/queues/agents/new`.
async fn agent_new_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let values = agent_values(&AgentConfig::default());
    render_agent(
        &engine,
        &ctx,
        &identity,
        None,
        FormPage {
            values,
            errs: Errs::new(),
            flash: None,
        },
        StatusCode::OK,
    )
    .await
}

/// `GET /voice/queues/agents/{id}`.
async fn agent_edit_form(
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
    let s = SettingsAdmin::new(engine.ctx()).current();
    let Some(agent) = s.agents.iter().find(|a| a.id == id) else {
        return not_found(&ctx);
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("form.created")),
        "saved" => Some(ctx.t("cc.agent.saved_live")),
        "status" => Some(ctx.t("cc.agent.status_set")),
        _ => None,
    };
    let values = agent_values(agent);
    render_agent(
        &engine,
        &ctx,
        &identity,
        Some(&id),
        FormPage {
            values,
            errs: Errs::new(),
            flash,
        },
        StatusCode::OK,
    )
    .await
}

/// Checks and saves the agent form: `id` is the agent being edited (None:
/// a new agent, its id in `f`). A callback agent's contact must be an
/// existing extension; the engine checks the rest against the whole set of
/// settings. Returns the agent's id.
pub(crate) async fn put_agent_form(
    engine: &Engine,
    id: Option<&str>,
    f: &Fields,
    lang: Lang,
    by: &str,
) -> Result<String, Refused> {
    let admin = SettingsAdmin::new(engine.ctx());
    if let Some(id) = id {
        if !admin.current().agents.iter().any(|a| a.id == id) {
            return Err(Refused::NotFound);
        }
    }
    let (a, mut errs) = parse_agent(f, id, lang);
    if id.is_none() && errs.is_empty() && admin.current().agents.iter().any(|x| x.id == a.id) {
        errs.insert("id".into(), lang.t("cc.agent.id_taken", &[]));
    }
    if a.agent_type == AgentType::Callback && !a.contact.is_empty() && !errs.contains_key("contact")
    {
        let known = a.contact.len() <= 32
            && engine
                .ctx()
                .store
                .get_extension(&a.contact)
                .await
                .ok()
                .flatten()
                .is_some();
        if !known {
            errs.insert("contact".into(), lang.t("cc.agent.contact_unknown", &[]));
        }
    }
    if !errs.is_empty() {
        return Err(Refused::Input(errs));
    }
    let agent_id = a.id.clone();
    match admin.put_agent(a).await {
        Ok(()) => {
            tracing::info!(by, agent = agent_id, "agent saved");
            Ok(agent_id)
        }
        Err(e) if is_storage(&e) => Err(Refused::Storage(e)),
        Err(e) => {
            let names = names_of(&agent_fields(lang, id.is_some()));
            place_error(&mut errs, &names, lang, &e);
            Err(Refused::Input(errs))
        }
    }
}

async fn save_agent(
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
    let errs = match put_agent_form(&engine, id, f, lang, &identity.user.username).await {
        Ok(agent_id) => {
            let done = if id.is_some() { "saved" } else { "created" };
            return Redirect::to(&format!(
                "/voice/queues/agents/{}?done={done}",
                seg(&agent_id)
            ))
            .into_response();
        }
        Err(Refused::NotFound) => return not_found(ctx),
        Err(Refused::Storage(e)) => {
            return view::internal_error(false, lang, &anyhow::anyhow!("saving agent: {e}"))
        }
        Err(Refused::Input(errs)) => errs,
    };
    let names = names_of(&agent_fields(lang, id.is_some()));
    let mut values = sent_values(f, &names);
    if let Some(id) = id {
        values.insert("id".into(), id.to_string());
    }
    render_agent(
        &engine,
        ctx,
        identity,
        id,
        FormPage {
            values,
            errs,
            flash: None,
        },
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// `POST /voice/queues/agents`: adds an agent.
async fn agent_create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    save_agent(&state, &ctx, &identity, None, &f).await
}

/// `POST /voice/queues/agents/{id}`: saves an agent (its status is kept).
async fn agent_update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    save_agent(&state, &ctx, &identity, Some(&id), &f).await
}

/// `POST /voice/queues/agents/{id}/delete`: removes the agent and its tiers.
async fn agent_delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = SettingsAdmin::new(engine.ctx());
    if !admin.current().agents.iter().any(|a| a.id == id) {
        return not_found(&ctx);
    }
    match admin.remove_agent(&id).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, agent = id, "agent removed");
            Redirect::to("/voice/queues?done=agent_deleted").into_response()
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
            .await
        }
    }
}

/// `POST /voice/queues/agents/{id}/status`: available / on break / logged out.
async fn agent_status(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let s = SettingsAdmin::new(engine.ctx()).current();
    let Some(agent) = s.agents.iter().find(|a| a.id == id) else {
        return not_found(&ctx);
    };
    let lang = ctx.lang;
    let mut errs = Errs::new();
    match f.text("status").parse::<AgentStatus>() {
        Ok(status) => {
            let input = AcdInput::SetAgentStatus {
                agent: id.clone(),
                status,
            };
            match engine.queues().admin(input).await {
                Ok(()) => {
                    tracing::info!(by = identity.user.username, agent = id, status = %status, "agent status set");
                    return Redirect::to(&format!("/voice/queues/agents/{}?done=status", seg(&id)))
                        .into_response();
                }
                Err(why) => {
                    errs.insert("status".into(), lang.t("cc.refused", &[("why", &why)]));
                }
            }
        }
        Err(_) => {
            errs.insert("status".into(), lang.t("form.invalid_choice", &[]));
        }
    }
    let values = agent_values(agent);
    render_agent(
        &engine,
        &ctx,
        &identity,
        Some(&id),
        FormPage {
            values,
            errs,
            flash: None,
        },
        StatusCode::BAD_REQUEST,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Fields {
        Fields::parse(s.as_bytes())
    }

    /// The form of a queue with every default, as the page sends it.
    fn default_form() -> String {
        queue_values(&QueueConfig::named("support"))
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", crate::form::encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn a_queue_round_trips_through_the_form() {
        let (q, errs) = parse_queue(&fields(&default_form()), None, Lang::En);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(q, QueueConfig::named("support"));
        let mut custom = QueueConfig::named("sales");
        custom.strategy = Strategy::RingProgressively;
        custom.announce_sound = Some("queue_wait".into());
        custom.announce_frequency = Duration::from_secs(40);
        custom.exit_keys = "*0".into();
        custom.tier_rules_apply = true;
        custom.skip_agents_with_external_calls = false;
        let body = queue_values(&custom)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", crate::form::encode(&v)))
            .collect::<Vec<_>>()
            .join("&");
        let (back, errs) = parse_queue(&fields(&body), Some("sales"), Lang::En);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(back, custom);
    }

    #[test]
    fn bad_queue_input_is_reported_by_field() {
        let body = default_form()
            .replace("strategy=longest-idle-agent", "strategy=loudest")
            .replace("max-wait-time=0", "max-wait-time=soon")
            .replace("name=support", "name=bad%20name");
        let (_, errs) = parse_queue(&fields(&body), None, Lang::En);
        assert!(errs.contains_key("strategy"), "{errs:?}");
        assert!(errs.contains_key("max-wait-time"), "{errs:?}");
        assert!(errs.contains_key("name"), "{errs:?}");
        let (_, errs) = parse_queue(&fields("name=x"), None, Lang::Zh);
        assert!(errs.contains_key("ring-timeout"), "{errs:?}");
        assert_eq!(errs["ring-timeout"], Lang::Zh.t("form.required", &[]));
    }

    #[test]
    fn an_agent_round_trips_through_the_form() {
        let mut a = AgentConfig::callback("1001", "1001");
        a.wrap_up_time = Duration::from_secs(30);
        a.auto_answer = true;
        let body = agent_values(&a)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", crate::form::encode(&v)))
            .collect::<Vec<_>>()
            .join("&");
        let (back, errs) = parse_agent(&fields(&body), None, Lang::En);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(back, a);
        let (_, errs) = parse_agent(&fields("id=&type=robot"), None, Lang::En);
        assert!(
            errs.contains_key("id") && errs.contains_key("type"),
            "{errs:?}"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("support"), "support");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(seg("售后"), "%E5%94%AE%E5%90%8E");
    }

    #[test]
    fn every_field_has_a_label_in_both_languages() {
        for lang in Lang::ALL {
            let sets = [
                ("cc.queue", queue_groups(lang, &[], false)),
                ("cc.agent", agent_fields(lang, false)),
            ];
            for (prefix, groups) in sets {
                for (g, fields) in groups {
                    let key = format!("{prefix}.group.{g}");
                    assert_ne!(lang.t(&key, &[]), key);
                    for f in fields {
                        let key = format!("{prefix}.f.{}", f.name);
                        assert_ne!(lang.t(&key, &[]), key, "{}", lang.code());
                    }
                }
            }
            for s in Strategy::ALL {
                let key = format!("cc.strategy.{}", s.as_str());
                assert_ne!(lang.t(&key, &[]), key);
            }
            for s in AgentStatus::ALL {
                let key = format!("cc.status.{}", status_key(s.as_str()));
                assert_ne!(lang.t(&key, &[]), key);
            }
        }
    }
}
