//! Call records (manual 11.1 通话记录): the call history with every column
//! of the manual and a filter on each, the recording of a call played in
//! the page (seekable: served with range requests) or downloaded. The
//! filters and the data scope are the API's ([`crate::api::records`]), so
//! the page and `GET /api/cdrs` always agree.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use crate::api::records::{query_of, DIRECTIONS, OUTCOMES};
use crate::auth::permissions::{RECORDS_ALL, RECORDS_VIEW};
use crate::auth::{require, Identity};
use crate::form::{encode, QueryFields};
use crate::pages::voice::status::{clock, live_stream, render_live, wants_fragment, wants_stream};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(
        RECORDS_VIEW,
        Router::new()
            .route("/records/calls", get(calls))
            .route("/records/waiting", get(waiting)),
    )
}

/// The search form's fields, read back into the form and the pager links.
const FIELDS: [&str; 12] = [
    "from",
    "to",
    "number",
    "direction",
    "status",
    "recorded",
    "agent",
    "queue",
    "gateway",
    "cause",
    "min_talk",
    "per_page",
];

/// `GET /records/calls`.
async fn calls(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let mut errors = crate::form::Errors::default();
    let values: std::collections::BTreeMap<&str, String> =
        FIELDS.iter().map(|f| (*f, q.text(f))).collect();
    let query_string = FIELDS
        .iter()
        .filter(|f| !values[*f].is_empty())
        .map(|f| format!("{f}={}", encode(&values[*f])))
        .collect::<Vec<_>>()
        .join("&");
    let own_only = !who.allows(RECORDS_ALL);
    let base = context! {
        values => values.clone(), query => query_string.clone(), own_only => own_only,
        extension => who.user.extension.clone(), directions => DIRECTIONS, outcomes => OUTCOMES,
    };
    let (query, page) = match query_of(&q, &who, state.settings().page_size.max(1)) {
        Ok(v) => v,
        Err(bad) => {
            errors.add(bad.field, bad.key);
            return ctx.render_status(
                StatusCode::BAD_REQUEST,
                "records/calls.html",
                context! { errors => errors, calls => Vec::<()>::new(), total => 0, page => 1, pages => 1, ..base },
            );
        }
    };
    let found = match state.store().search_cdrs(&query).await {
        Ok(p) => p,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let size = query.limit.max(1);
    let pages = ((found.total + size - 1) / size).max(1);
    ctx.render(
        "records/calls.html",
        context! {
            errors => errors, calls => found.rows, total => found.total, page => page,
            pages => pages, prev_page => (page > 1).then_some(page - 1),
            next_page => (page < pages).then_some(page + 1), ..base
        },
    )
}

/// The live part of the waiting-callers page: every caller waiting, the
/// longest first, per-queue counts, and the floor's counters.
fn waiting_snapshot(state: &AppState) -> minijinja::Value {
    let hub = state.desk();
    let waiting = hub.waiting();
    let mut queues: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    for (queue, _, secs) in &waiting {
        let e = queues.entry(queue.clone()).or_default();
        e.0 += 1;
        e.1 = e.1.max(*secs);
    }
    let longest = waiting.first().map_or(0, |w| w.2);
    minijinja::Value::from_serialize(serde_json::json!({
        "callers": waiting.iter().map(|(queue, caller, secs)| serde_json::json!({
            "queue": queue, "caller": caller, "waited": clock(*secs),
        })).collect::<Vec<_>>(),
        "queues": queues.iter().map(|(queue, (count, longest))| serde_json::json!({
            "queue": queue, "count": count, "longest": clock(*longest),
        })).collect::<Vec<_>>(),
        "longest": clock(longest),
        "counters": hub.counters(),
        "live_every": crate::pages::voice::status::LIVE_EVERY_MS,
    }))
}

/// `GET /records/waiting` (`?fragment=1`: the live part; `&stream=1` as
/// server-sent events).
async fn waiting(
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    if wants_stream(&q) {
        return live_stream(ctx, "records/waiting_live.html", move || {
            waiting_snapshot(&state)
        });
    }
    let extra = waiting_snapshot(&state);
    render_live(
        &ctx,
        wants_fragment(&q),
        "records/waiting.html",
        "records/waiting_live.html",
        extra,
    )
}
