//! Tiers: which agents serve a queue, at which level and position
//! (import agents with a multi-select, change or remove one).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use engine::acd::{AgentConfig, TierConfig};
use engine::Engine;

use super::*;
use crate::auth::Identity;
use crate::form::{Fields, Form};
use crate::i18n::Lang;
use crate::pages::voice::cc_forms::*;
use crate::state::AppState;
use crate::view::PageCtx;

/// Shows the queue page again with a message about its agents.
pub(super) async fn tier_refused(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    name: &str,
    msg: String,
) -> Response {
    let s = engine.settings().current();
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
pub(super) async fn import_agents(
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
    let admin = engine.settings();
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
pub(super) async fn update_tier(
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
    let admin = engine.settings();
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
pub(super) async fn remove_tier(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path((name, agent)): Path<(String, String)>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = engine.settings();
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
