//! Gateway status (3.2.8 网关状态), live: every gateway's registration state
//! and why, the carrier's last answer, when the next REGISTER goes, the
//! OPTIONS pings (UP/DOWN, round trip) and the calls it carries, from the
//! engine's trunk table, streamed to the page as they change.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use engine::base::trunks::TrunkReport;
use minijinja::context;
use serde::Serialize;

use super::status::{
    clock, engine_or_503, live_stream, render_live, wants_fragment, wants_stream, LIVE_EVERY_MS,
};
use crate::auth::permissions::GATEWAYS_VIEW;
use crate::auth::require;
use crate::form::QueryFields;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::PageCtx;

/// This page's route, behind the gateways' view permission.
pub fn routes() -> Router<AppState> {
    require(
        GATEWAYS_VIEW,
        Router::new().route("/voice/gateways/status", get(page)),
    )
}

/// One gateway as the table shows it.
#[derive(Clone, Debug, Serialize)]
struct Row {
    name: String,
    mode: String,
    /// The REFERENCE §3 state name, for styling and tests.
    state: String,
    /// The state with its reason.
    status: String,
    usable: bool,
    usable_label: String,
    why_not: String,
    last_response: String,
    next_attempt: String,
    expires_in: String,
    ping: &'static str,
    ping_rtt: String,
    calls: String,
    calls_total: u64,
    calls_failed: u64,
    registers_sent: u64,
    service_route: String,
}

/// `GET /voice/gateways/status` (`?fragment=1`: the live table only).
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
        return live_stream(ctx, "voice/gateway_status_live.html", move || {
            context! { rows => rows(engine.gateways(), lang), now => crate::auth::now_ms() }
        });
    }
    render_live(
        &ctx,
        wants_fragment(&q),
        "voice/gateway_status.html",
        "voice/gateway_status_live.html",
        context! {
            rows => rows(engine.gateways(), ctx.lang),
            now => crate::auth::now_ms(),
            live_every => LIVE_EVERY_MS,
        },
    )
}

/// The gateways as the table shows them.
fn rows(reports: Vec<TrunkReport>, lang: Lang) -> Vec<Row> {
    let dash = || "—".to_string();
    reports
        .into_iter()
        .map(|r| Row {
            usable_label: lang.t(
                if r.usable {
                    "voice.gws.usable"
                } else {
                    "voice.gws.unusable"
                },
                &[],
            ),
            mode: r.mode.to_ascii_uppercase(),
            last_response: r.last_response.unwrap_or_else(dash),
            next_attempt: r.next_attempt_secs.map(clock).unwrap_or_else(dash),
            expires_in: r.registered_secs_left.map(clock).unwrap_or_else(dash),
            ping_rtt: r
                .ping_rtt_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(dash),
            calls: if r.max_calls > 0 {
                format!("{}/{}", r.calls, r.max_calls)
            } else {
                r.calls.to_string()
            },
            service_route: r.service_route.join(", "),
            name: r.name,
            state: r.state,
            status: r.status,
            usable: r.usable,
            why_not: r.why_not,
            ping: r.ping,
            calls_total: r.calls_total,
            calls_failed: r.calls_failed,
            registers_sent: r.registers_sent,
        })
        .collect()
}
