//! Service status of this node (manual 3.2 服务配置): version, ports, RTP
//! range, advertised address, uptime, active calls, registrations, calls by
//! outcome and the live list of calls, refreshed in the page.
//!
//! Also the helpers the voice pages of this group share: the 503 page when
//! no engine runs in the process, and live parts: a page's changing part
//! is streamed as server-sent events (`?fragment=1&stream=1`, see
//! [`live_stream`]), or fetched once with `?fragment=1`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use engine::Engine;
use minijinja::{context, Value};
use serde::Serialize;

use crate::auth::permissions::STATUS_VIEW;
use crate::auth::require;
use crate::form::{Fields, QueryFields};
use crate::i18n::Lang;
use crate::pages::home::node_status;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Header marking a live fragment; the page script reloads the whole page
/// when an answer lacks it (e.g. the session ended and sign-in answered).
pub const LIVE_HEADER: &str = "x-live-fragment";

/// Live parts are re-rendered this often (milliseconds); a change is sent
/// to the page at the next tick.
pub const LIVE_EVERY_MS: u32 = 1000;

/// A live stream ends after this long and the browser opens a new one at
/// once; the new request is signed in again, so a session that ended (or
/// lost the permission) stops getting updates within this time.
const LIVE_STREAM_SECS: u64 = 120;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(STATUS_VIEW, Router::new().route("/voice/status", get(page)))
}

/// The engine of this process, or the 503 page saying it is not running.
pub fn engine_or_503<'a>(
    state: &'a AppState,
    ctx: &PageCtx,
) -> Result<&'a Arc<Engine>, Box<Response>> {
    state.engine().ok_or_else(|| {
        Box::new(view::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.lang,
            ctx.identity.as_ref(),
            "voice.common.no_engine",
        ))
    })
}

/// Whether the query asks for the live fragment only (`fragment=1`).
pub fn wants_fragment(q: &Fields) -> bool {
    q.text("fragment") == "1"
}

/// Whether the query asks for the live part as a stream (`stream=1`).
pub fn wants_stream(q: &Fields) -> bool {
    wants_fragment(q) && q.text("stream") == "1"
}

/// The live part `part` as server-sent events: `snapshot` is rendered
/// every [`LIVE_EVERY_MS`] and an event `part` (the HTML) is sent when it
/// changed since the last one sent, the first at once.
pub fn live_stream<F>(ctx: PageCtx, part: &'static str, snapshot: F) -> Response
where
    F: FnMut() -> Value + Send + 'static,
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::IntoResponse;
    use std::time::Duration;
    use tokio::time::Instant;

    let every = Duration::from_millis(u64::from(LIVE_EVERY_MS));
    let end = Instant::now() + Duration::from_secs(LIVE_STREAM_SECS);
    let start = (ctx, snapshot, String::new(), Instant::now());
    let events = futures_util::stream::unfold(
        start,
        move |(ctx, mut snapshot, last, mut tick)| async move {
            loop {
                tokio::time::sleep_until(tick).await;
                if Instant::now() >= end {
                    return None;
                }
                tick += every;
                match ctx.render_text(part, snapshot()) {
                    Ok(html) if html == last => continue,
                    Ok(html) => {
                        let event = Event::default().event("part").data(html.clone());
                        return Some((
                            Ok::<_, std::convert::Infallible>(event),
                            (ctx, snapshot, html, tick),
                        ));
                    }
                    Err(e) => {
                        tracing::error!("rendering {part}: {e:#}");
                        return None;
                    }
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Renders the whole `page`, or only its live part `part` (marked with
/// [`LIVE_HEADER`]) when `fragment`.
pub fn render_live(
    ctx: &PageCtx,
    fragment: bool,
    page: &str,
    part: &str,
    extra: Value,
) -> Response {
    if !fragment {
        return ctx.render(page, extra);
    }
    let mut resp = ctx.render(part, extra);
    if resp.status() == StatusCode::OK {
        resp.headers_mut()
            .insert(LIVE_HEADER, HeaderValue::from_static("1"));
    }
    resp
}

/// `h:mm:ss` or `m:ss`.
pub fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// One live call as the table shows it.
#[derive(Clone, Debug, Serialize)]
struct CallRow {
    id: u64,
    caller: String,
    callee: String,
    direction: String,
    state: &'static str,
    state_label: String,
    party: String,
    app: String,
    started_ms: i64,
    duration: String,
}

/// The label of a call state (`routing`, `ringing`, `answered`, `ending`).
fn state_label(lang: Lang, state: &str) -> String {
    let key = match state {
        "routing" => "voice.status.state_routing",
        "ringing" => "voice.status.state_ringing",
        "answered" => "voice.status.state_answered",
        "ending" => "voice.status.state_ending",
        other => return other.to_string(),
    };
    lang.t(key, &[])
}

/// The label of a call direction (`internal`, `inbound`, `outbound`).
fn direction_label(lang: Lang, direction: &str) -> String {
    let key = match direction {
        "internal" => "voice.status.dir_internal",
        "inbound" => "voice.status.dir_inbound",
        "outbound" => "voice.status.dir_outbound",
        other => return other.to_string(),
    };
    lang.t(key, &[])
}

/// The label of a call outcome of the metrics.
fn outcome_label(lang: Lang, outcome: engine::metrics::Outcome) -> String {
    use engine::metrics::Outcome as O;
    let key = match outcome {
        O::Answered => "voice.status.outcome_answered",
        O::Busy => "voice.status.outcome_busy",
        O::NoAnswer => "voice.status.outcome_no_answer",
        O::Unavailable => "voice.status.outcome_unavailable",
        O::NotFound => "voice.status.outcome_not_found",
        O::Cancelled => "voice.status.outcome_cancelled",
        O::Rejected => "voice.status.outcome_rejected",
        O::Failed => "voice.status.outcome_failed",
    };
    lang.t(key, &[])
}

/// Everything the page shows, read from the engine now.
fn snapshot(engine: &Engine, state: &AppState, lang: Lang) -> Value {
    let ctx = engine.ctx();
    let cfg = &ctx.cfg;
    let node = node_status(state);
    let now = crate::auth::now_ms();
    let calls: Vec<CallRow> = engine
        .calls()
        .into_iter()
        .map(|c| {
            let started = i64::try_from(c.start_at).unwrap_or(i64::MAX);
            CallRow {
                id: c.id,
                direction: direction_label(lang, c.direction),
                state_label: state_label(lang, c.state),
                state: c.state,
                party: c.b_party.clone().unwrap_or_default(),
                app: c.app.unwrap_or_default().to_string(),
                started_ms: started,
                duration: clock(u64::try_from(now.saturating_sub(started) / 1000).unwrap_or(0)),
                caller: c.caller,
                callee: c.callee,
            }
        })
        .collect();
    let outcomes: Vec<Value> = engine::metrics::Outcome::ALL
        .iter()
        .map(|o| {
            context! {
                key => o.label(),
                label => outcome_label(lang, *o),
                count => i64::try_from(ctx.metrics.calls(*o)).unwrap_or(i64::MAX),
            }
        })
        .collect();
    let m = &ctx.metrics;
    context! {
        s => context! {
            version => node.version,
            uptime_secs => node.uptime_secs,
            active_calls => i64::try_from(calls.len()).unwrap_or(i64::MAX),
            registrations => i64::try_from(node.registrations).unwrap_or(i64::MAX),
            sip_port => cfg.server.sip_port,
            trunk_port => cfg.server.trunk_port,
            http_port => cfg.server.http_port,
            rtp_ports => cfg.server.rtp_ports.clone(),
            advertise => ctx.advertise.to_string(),
            bind => cfg.server.bind.to_string(),
            blacklist_rejects => i64::try_from(m.blacklist_rejects.load(Relaxed)).unwrap_or(i64::MAX),
            acl_rejects => i64::try_from(m.acl_rejects.load(Relaxed)).unwrap_or(i64::MAX),
        },
        outcomes => outcomes,
        calls => calls,
        now => now,
        live_every => LIVE_EVERY_MS,
    }
}

/// `GET /voice/status` (`?fragment=1`: the live part only).
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
        let (engine, lang) = (Arc::clone(engine), ctx.lang);
        return live_stream(ctx, "voice/status_live.html", move || {
            snapshot(&engine, &state, lang)
        });
    }
    let extra = snapshot(engine, &state, ctx.lang);
    render_live(
        &ctx,
        wants_fragment(&q),
        "voice/status.html",
        "voice/status_live.html",
        extra,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_labels() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(75), "1:15");
        assert_eq!(clock(3 * 3600 + 5), "3:00:05");
        assert_eq!(state_label(Lang::En, "answered"), "Answered");
        assert_eq!(state_label(Lang::Zh, "ringing"), "振铃中");
        assert_eq!(state_label(Lang::En, "odd"), "odd");
        assert_eq!(direction_label(Lang::Zh, "inbound"), "呼入");
    }
}
