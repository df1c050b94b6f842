//! Registered extensions (3.2.7 已注册分机), live: user, agent, status,
//! ping time, host, network address and the time left, from the engine's
//! registrar and keep-alive results, streamed to the page as they change.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::Serialize;

use super::status::{
    clock, engine_or_503, live_stream, render_live, wants_fragment, wants_stream, LIVE_EVERY_MS,
};
use crate::auth::permissions::REGISTRATIONS_VIEW;
use crate::auth::require;
use crate::form::QueryFields;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::PageCtx;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(
        REGISTRATIONS_VIEW,
        Router::new().route("/voice/registrations", get(page)),
    )
}

/// One registered contact as the table shows it.
#[derive(Clone, Debug, Serialize)]
struct Row {
    user: String,
    agent: String,
    /// `Reachable`, `Unreachable` or `Registered` (the manual's words).
    status: &'static str,
    status_label: String,
    ping: String,
    contact: String,
    host: String,
    network_ip: String,
    expires_in: String,
}

/// The label of a registration status.
fn status_label(lang: Lang, status: &str) -> String {
    let key = match status {
        "Reachable" => "voice.regs.reachable",
        "Unreachable" => "voice.regs.unreachable",
        "Registered" => "voice.regs.registered",
        other => return other.to_string(),
    };
    lang.t(key, &[])
}

/// Ping time in seconds with two decimals, as the manual shows it (`0.00`).
fn ping_text(ms: Option<u32>) -> String {
    match ms {
        Some(ms) => format!("{}.{:02}", ms / 1000, ms % 1000 / 10),
        None => "—".to_string(),
    }
}

/// `GET /voice/registrations` (`?fragment=1`: the live table only).
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    if wants_stream(&q) {
        let (engine, lang) = (std::sync::Arc::clone(engine), ctx.lang);
        return live_stream(ctx, "voice/registrations_live.html", move || {
            context! { rows => rows(&engine, lang), now => crate::auth::now_ms() }
        });
    }
    render_live(
        &ctx,
        wants_fragment(&q),
        "voice/registrations.html",
        "voice/registrations_live.html",
        context! {
            rows => rows(engine, ctx.lang),
            now => crate::auth::now_ms(),
            live_every => LIVE_EVERY_MS,
        },
    )
}

/// The registered contacts as the table shows them.
fn rows(engine: &engine::Engine, lang: Lang) -> Vec<Row> {
    engine
        .registered()
        .into_iter()
        .map(|r| Row {
            status_label: status_label(lang, r.status),
            status: r.status,
            ping: ping_text(r.ping_ms),
            expires_in: clock(r.expires_in),
            user: r.user,
            agent: r.agent,
            contact: r.contact,
            host: r.host,
            network_ip: r.network_ip,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_and_status_texts() {
        assert_eq!(ping_text(Some(0)), "0.00");
        assert_eq!(ping_text(Some(1234)), "1.23");
        assert_eq!(ping_text(None), "—");
        assert_eq!(status_label(Lang::En, "Reachable"), "Reachable");
        assert_eq!(status_label(Lang::Zh, "Unreachable"), "不可达");
    }
}
