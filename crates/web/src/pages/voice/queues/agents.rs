//! Call-center agents: add, edit every agent setting, remove, and set
//! the live status (available, on break, ...).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use engine::acd::{AcdInput, AgentConfig, AgentStatus, AgentType};
use engine::Engine;
use minijinja::{context, Value};

use super::*;
use crate::auth::permissions::QUEUES_EDIT;
use crate::auth::Identity;
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::pages::voice::cc_forms::*;
use crate::state::AppState;
use crate::view::{self, PageCtx};

pub(super) fn agent_fields(lang: Lang, editing: bool) -> Vec<(&'static str, Vec<FieldSpec>)> {
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

pub(super) async fn render_agent(
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
    let s = engine.settings().current();
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
pub(super) async fn agent_new_form(
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
pub(super) async fn agent_edit_form(
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
    let admin = engine.settings();
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

pub(super) async fn save_agent(
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
pub(super) async fn agent_create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    save_agent(&state, &ctx, &identity, None, &f).await
}

/// `POST /voice/queues/agents/{id}`: saves an agent (its status is kept).
pub(super) async fn agent_update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    save_agent(&state, &ctx, &identity, Some(&id), &f).await
}

/// `POST /voice/queues/agents/{id}/delete`: removes the agent and its tiers.
pub(super) async fn agent_delete(
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
pub(super) async fn agent_status(
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
    let s = engine.settings().current();
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
