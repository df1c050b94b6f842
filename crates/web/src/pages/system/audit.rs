//! The audit log (3.3 审计日志, FEATURES C2): search every change and
//! sign-in by user, address, method, URL, parameters, action, result and
//! time, newest first; and a summary with charts (changes per day, per
//! user, failures per day) over the last 30 days.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Local, NaiveDate, TimeZone};
use minijinja::context;

use crate::auth::permissions::AUDIT_VIEW;
use crate::auth::require;
use crate::charts::{bars, Bar};
use crate::form::{encode, QueryFields};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Days the summary covers.
const SUMMARY_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(
        AUDIT_VIEW,
        Router::new()
            .route("/system/audit", get(search))
            .route("/system/audit/summary", get(summary)),
    )
}

/// Unix ms of local midnight starting `date` (`YYYY-MM-DD`).
fn local_midnight(date: &str) -> Option<i64> {
    let d = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?;
    Local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The search form's fields, read back into the form.
const FIELDS: [&str; 10] = [
    "keyword", "username", "ip", "method", "url", "params", "action", "result", "from", "to",
];

/// `GET /system/audit`.
async fn search(
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let mut errors = crate::form::Errors::default();
    let date = |name: &str, errors: &mut crate::form::Errors| {
        let text = q.text(name);
        if text.is_empty() {
            return None;
        }
        let ms = local_midnight(&text);
        if ms.is_none() {
            errors.add(name, "audit.bad_date");
        }
        ms
    };
    let from = date("from", &mut errors);
    // "To" includes that whole day.
    let to = date("to", &mut errors).map(|ms| ms + DAY_MS);
    let size = state.settings().page_size.max(1);
    let page = q
        .text("page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let query = store::AuditQuery {
        keyword: q.text("keyword"),
        username: q.text("username"),
        ip: q.text("ip"),
        method: q.text("method").to_ascii_uppercase(),
        url: q.text("url"),
        params: q.text("params"),
        action: q.text("action"),
        ok: match q.text("result").as_str() {
            "ok" => Some(true),
            "failed" => Some(false),
            _ => None,
        },
        from,
        to,
        offset: (page - 1) * size,
        limit: size,
    };
    let found = match state.store().search_audit(&query).await {
        Ok(p) => p,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let users = match state.store().audit_usernames().await {
        Ok(users) => users,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let pages = ((found.total + size - 1) / size).max(1);
    let values: std::collections::BTreeMap<&str, String> =
        FIELDS.iter().map(|f| (*f, q.text(f))).collect();
    let query_string = FIELDS
        .iter()
        .filter(|f| !values[*f].is_empty())
        .map(|f| format!("{f}={}", encode(&values[*f])))
        .collect::<Vec<_>>()
        .join("&");
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::BAD_REQUEST
    };
    ctx.render_status(
        status,
        "system/audit.html",
        context! {
            entries => found.entries, total => found.total, values => values, users => users,
            errors => errors, page => page, pages => pages, query => query_string,
            prev_page => (page > 1).then_some(page - 1),
            next_page => (page < pages).then_some(page + 1),
        },
    )
}

/// `GET /system/audit/summary`.
async fn summary(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let now = Local::now();
    let offset_ms = i64::from(now.offset().local_minus_utc()) * 1000;
    let today = (now.timestamp_millis() + offset_ms).div_euclid(DAY_MS);
    let first_day = today - (SUMMARY_DAYS - 1);
    let from = first_day * DAY_MS - offset_ms;
    let store = state.store();
    let (per_day, per_user) = match (
        store.audit_per_day(from, offset_ms).await,
        store.audit_per_user(from, 10).await,
    ) {
        (Ok(d), Ok(u)) => (d, u),
        (Err(e), _) | (_, Err(e)) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    // Every day of the range, the quiet ones at zero.
    let mut days: Vec<Bar> = (first_day..=today)
        .map(|d| Bar {
            label: chrono::DateTime::from_timestamp_millis(d * DAY_MS)
                .map(|t| t.format("%m-%d").to_string())
                .unwrap_or_default(),
            value: 0,
            failed: 0,
        })
        .collect();
    for c in &per_day {
        let Ok(day) = c.key.parse::<i64>() else {
            continue;
        };
        if let Some(bar) = usize::try_from(day - first_day)
            .ok()
            .and_then(|i| days.get_mut(i))
        {
            bar.value = c.total;
            bar.failed = c.failed;
        }
    }
    let failures: Vec<Bar> = days
        .iter()
        .map(|b| Bar {
            label: b.label.clone(),
            value: b.failed,
            failed: b.failed,
        })
        .collect();
    let users: Vec<Bar> = per_user
        .iter()
        .map(|c| Bar {
            label: if c.key.is_empty() {
                ctx.t("audit.anonymous")
            } else {
                c.key.clone()
            },
            value: c.total,
            failed: c.failed,
        })
        .collect();
    let total: i64 = per_day.iter().map(|c| c.total).sum();
    let failed: i64 = per_day.iter().map(|c| c.failed).sum();
    let count = ctx.t("audit.requests");
    ctx.render(
        "system/audit_summary.html",
        context! {
            total => total, failed => failed, days => SUMMARY_DAYS,
            per_day_svg => bars(&ctx.t("audit.chart_per_day"), &count, &days, 900, 320),
            per_user_svg => bars(&ctx.t("audit.chart_per_user"), &count, &users, 900, 320),
            failures_svg => bars(&ctx.t("audit.chart_failures"), &count, &failures, 900, 320),
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_local_midnights() {
        let a = super::local_midnight("2026-11-24").expect("a date");
        let b = super::local_midnight(" 2026-11-25 ").expect("a date");
        assert_eq!(b - a, super::DAY_MS);
        assert!(super::local_midnight("24/11/2026").is_none());
        assert!(super::local_midnight("").is_none());
    }
}
