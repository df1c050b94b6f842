//! Queues / skill groups (3.2.2 技能分组) with their agents and tiers.
//!
//! Every change goes through the engine's settings admin
//! ([`SettingsAdmin`](engine::callcenter_settings::SettingsAdmin)): it is
//! checked against the whole set of call-center settings, stored and
//! applied live (callers waiting in a queue keep their place: "reload" is
//! implicit). A refusal changes nothing and is shown next to the field it
//! names.
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
//! Agents are in [`agents`], tiers in [`tiers`]; the helpers shared with
//! the routing-rule and IVR pages in [`super::cc_forms`].

pub(crate) mod agents;
pub(crate) mod tiers;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::acd::{AgentConfig, AgentStatus, QueueConfig, Strategy, TierConfig, TimeBaseScore};
use engine::callcenter_settings::CallcenterSettings;
use engine::Engine;
use minijinja::{context, Value};

use crate::auth::permissions::{QUEUES_EDIT, QUEUES_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::pages::voice::cc_forms::*;
use crate::state::AppState;
use crate::view::{self, PageCtx};
use agents::*;
use tiers::*;

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
                FieldSpec::new("service-level-s", "number"),
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
        ("service-level-s", secs(q.service_level_s)),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Whether `name` may name a new queue: 1-64 of `A-Z a-z 0-9 _ . -`, and
/// not `new` or `agents` (page paths). Names end up in URLs, logs, the
/// audit log and SIP headers, so nothing else is let in.
pub(crate) fn valid_queue_name(name: &str) -> bool {
    valid_key(name) && !matches!(name, "new" | "agents")
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
            } else if !valid_queue_name(&q.name) {
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
    // Optional (added after the form's other fields): empty keeps 20 s.
    if !f.text("service-level-s").is_empty() {
        dur("service-level-s", &mut q.service_level_s);
    }
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
    let s = engine.settings().current();
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
    let s = engine.settings().current();
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
    let s = engine.settings().current();
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
    let admin = engine.settings();
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
    let admin = engine.settings();
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
        custom.service_level_s = Duration::from_secs(15);
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
        // The service-level target is optional (older forms and scripts do
        // not send it) but must be seconds when given.
        let without: String = default_form()
            .split('&')
            .filter(|p| !p.starts_with("service-level-s="))
            .collect::<Vec<_>>()
            .join("&");
        let (q, errs) = parse_queue(&fields(&without), None, Lang::En);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(q.service_level_s, Duration::from_secs(20));
        let body = format!("{without}&service-level-s=soon");
        let (_, errs) = parse_queue(&fields(&body), None, Lang::En);
        assert!(errs.contains_key("service-level-s"), "{errs:?}");
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

    #[test]
    fn queue_names_with_paths_markup_or_sql_are_refused() {
        for ok in ["support", "sales-2", "vip.en", "A_b", &"q".repeat(64)] {
            assert!(valid_queue_name(ok), "{ok}");
        }
        for bad in [
            "",
            "new",
            "agents",
            "a b",
            "../etc",
            "a/b",
            "<script>",
            "x'; DROP TABLE queues;--",
            "队列",
            "q\r\nVia: x",
            "%2F",
            &"q".repeat(65),
        ] {
            assert!(!valid_queue_name(bad), "{bad:?}");
        }
    }
}
