//! Reports (manual 11.3) and the service-level tools: the eight reports of
//! 11.3 (`/reports/NAME`, see [`crate::api::report_views`]: a form of the
//! window, grouping and filters, a chart, the table and the export
//! links), the service level, and the Erlang C
//! staffing calculator (`/reports/erlang-c`): from a forecast of calls per
//! interval and the average handle time, the agents needed for a
//! service-level target, a table of what a few more or fewer give, and the
//! agents logged in now beside it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use crate::api::reports::{alternatives, forecast_of, sl_query_of, sl_rows};
use crate::auth::permissions::REPORTS_VIEW;
use crate::auth::require;
use crate::charts::{bars, Bar};
use crate::form::encode;
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::PageCtx;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(
        REPORTS_VIEW,
        Router::new()
            .route("/reports/erlang-c", get(erlang_c))
            .route("/reports/service-level", get(service_level))
            .route("/reports/{name}", get(report_page)),
    )
}

const FIELDS: [&str; 5] = [
    "calls_per_interval",
    "interval_s",
    "aht_s",
    "target_sl",
    "target_s",
];

/// `GET /reports/erlang-c`: the form, and the answer once it is filled.
async fn erlang_c(
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let mut values: std::collections::BTreeMap<&str, String> =
        FIELDS.iter().map(|f| (*f, q.text(f))).collect();
    for (f, default) in [
        ("interval_s", "1800"),
        ("target_sl", "80"),
        ("target_s", "20"),
    ] {
        if values[f].is_empty() {
            values.insert(f, default.to_string());
        }
    }
    let logged_in = state.desk().counters().online;
    let mut errors = crate::form::Errors::default();
    if q.text("calls_per_interval").is_empty() && q.text("aht_s").is_empty() {
        return ctx.render(
            "records/erlang_c.html",
            context! { values => values, errors => errors, logged_in => logged_in },
        );
    }
    let result = forecast_of(&q).and_then(|f| f.needed().map(|n| (f, n)));
    match result {
        Ok((f, needed)) => {
            let rows: Vec<_> = alternatives(&f, needed.agents)
                .into_iter()
                .map(|s| {
                    context! {
                        agents => s.agents, needed => s.agents == needed.agents,
                        service_level => format!("{:.1}", s.service_level * 100.0),
                        asa => if s.asa_s.is_finite() { format!("{:.1}", s.asa_s) } else { "∞".into() },
                        occupancy => format!("{:.1}", s.occupancy * 100.0),
                        wait => format!("{:.1}", s.probability_wait * 100.0),
                    }
                })
                .collect();
            ctx.render(
                "records/erlang_c.html",
                context! {
                    values => values, errors => errors, logged_in => logged_in,
                    needed => needed.agents, traffic => format!("{:.2}", needed.traffic_erlangs),
                    service_level => format!("{:.1}", needed.service_level * 100.0),
                    asa => format!("{:.1}", needed.asa_s), rows => rows,
                    short => logged_in < needed.agents as usize,
                },
            )
        }
        Err(bad) => {
            errors.add(bad.field, "reports.bad_number");
            ctx.render_status(
                StatusCode::BAD_REQUEST,
                "records/erlang_c.html",
                context! { values => values, errors => errors, logged_in => logged_in },
            )
        }
    }
}

/// The service-level report's form fields (read back into the form and
/// the export links).
const SL_FIELDS: [&str; 4] = ["from", "to", "target_s", "group"];

/// `GET /reports/service-level`: per queue (or queue and day) over a
/// window: service level, ASA, average talk time, abandon rate with short
/// abandons apart, a chart of the service level, and the export links.
async fn service_level(
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let mut values: std::collections::BTreeMap<&str, String> =
        SL_FIELDS.iter().map(|f| (*f, q.text(f))).collect();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    for (f, default) in [("from", today.as_str()), ("to", today.as_str())] {
        if values[f].is_empty() {
            values.insert(f, default.to_string());
        }
    }
    let query_string = SL_FIELDS
        .iter()
        .map(|f| format!("{f}={}", encode(&values[*f])))
        .collect::<Vec<_>>()
        .join("&");
    let mut errors = crate::form::Errors::default();
    let sq = match sl_query_of(&q) {
        Ok(v) => v,
        Err(bad) => {
            errors.add(bad.field, bad.key);
            return ctx.render_status(
                StatusCode::BAD_REQUEST,
                "records/service_level.html",
                context! { values => values, errors => errors, query => query_string },
            );
        }
    };
    let rows = match sl_rows(&state, &sq).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let pct = |v: Option<f64>| v.map(|v| format!("{:.1}", v * 100.0));
    let secs = |v: Option<f64>| v.map(|v| format!("{v:.1}"));
    let chart: Vec<Bar> = rows
        .iter()
        .map(|r| Bar {
            label: match &r.day {
                Some(d) => format!("{} {}", r.queue, d.get(5..).unwrap_or(d)),
                None => r.queue.clone(),
            },
            value: r.service_level.map_or(0, |v| (v * 100.0).round() as i64),
            failed: 0,
        })
        .collect();
    let table: Vec<_> = rows
        .iter()
        .map(|r| {
            context! {
                queue => r.queue, day => r.day, offered => r.offered, answered => r.answered,
                in_target => r.answered_in_target, abandoned => r.abandoned,
                short => r.short_abandoned, sl => pct(r.service_level), asa => secs(r.asa_s),
                aht => secs(r.aht_s), abandon_rate => pct(r.abandon_rate),
                longest => r.longest_wait_s, target => r.target_s,
                occupancy => pct(r.occupancy),
            }
        })
        .collect();
    let chart_svg =
        (!chart.is_empty()).then(|| bars(&ctx.t("reports.sl_chart"), "%", &chart, 900, 320));
    ctx.render(
        "records/service_level.html",
        context! {
            values => values, errors => errors, query => query_string, rows => table,
            chart => chart_svg, target_s => sq.target_s, short_s => sq.short_s,
            per_queue => sq.per_queue,
        },
    )
}

/// The form fields of the eight reports (each shows its own).
const REPORT_FIELDS: [&str; 8] = [
    "from",
    "to",
    "group",
    "status",
    "agent",
    "queue",
    "department",
    "type",
];

/// `GET /reports/NAME`: one of the manual's eight reports; a bad window,
/// grouping or filter is a form error (400).
async fn report_page(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    axum::extract::Path(name): axum::extract::Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    use crate::api::report_views::{self as views, Cell, Report};
    let Some(report) = Report::of(&name) else {
        return crate::view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        );
    };
    let mut values: std::collections::BTreeMap<&str, String> =
        REPORT_FIELDS.iter().map(|f| (*f, q.text(f))).collect();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    for f in ["from", "to"] {
        if values[f].is_empty() {
            values.insert(f, today.clone());
        }
    }
    if values["group"].is_empty() {
        values.insert("group", report.groups()[0].name().to_string());
    }
    let query_string = REPORT_FIELDS
        .iter()
        .filter(|f| !values[**f].is_empty())
        .map(|f| format!("{f}={}", encode(&values[*f])))
        .collect::<Vec<_>>()
        .join("&");
    let groups: Vec<_> = report
        .groups()
        .iter()
        .map(|g| context! { value => g.name(), label => ctx.t(&format!("reports.group_by_{}", g.name())) })
        .collect();
    let statuses: Vec<&str> = if report == Report::Tickets {
        ["all"].into_iter().chain(views::TICKET_STATUSES).collect()
    } else {
        vec!["all", "answered", "lost"]
    };
    let statuses: Vec<_> = statuses
        .into_iter()
        .map(|s| {
            let key = if report == Report::Tickets && s != "all" {
                format!("tickets.status.{s}")
            } else {
                format!("reports.status_{s}")
            };
            context! { value => s, label => ctx.t(&key) }
        })
        .collect();
    let (departments, types) = if report == Report::Tickets {
        let departments = match state.store().list_departments().await {
            Ok(d) => d
                .into_iter()
                .map(|d| context! { id => d.id.to_string(), name => d.name })
                .collect(),
            Err(e) => return crate::view::internal_error(false, ctx.lang, &e.into()),
        };
        let types = match state.store().list_ticket_categories().await {
            Ok(c) => c
                .into_iter()
                .map(|c| context! { id => c.id.to_string(), name => c.name })
                .collect(),
            Err(e) => return crate::view::internal_error(false, ctx.lang, &e.into()),
        };
        (departments, types)
    } else {
        (Vec::new(), Vec::new())
    };
    let base = context! {
        report => report.name(), key => report.key(), filters => report.filters(),
        groups => groups, statuses => statuses, departments => departments, types => types,
        values => values, query => query_string,
        title => ctx.t(&format!("reports.{}_title", report.key())),
        intro => ctx.t(&format!("reports.{}_intro", report.key())),
        reports => Report::ALL
            .iter()
            .map(|r| context! { name => r.name(), label => ctx.t(&format!("reports.{}_title", r.key())) })
            .collect::<Vec<_>>(),
    };
    let mut errors = crate::form::Errors::default();
    let rq = match views::report_query_of(report, &q) {
        Ok(v) => views::scoped(v, &who),
        Err(bad) => {
            errors.add(bad.field, bad.key);
            return ctx.render_status(
                StatusCode::BAD_REQUEST,
                "reports/report.html",
                context! { errors => errors, ..base },
            );
        }
    };
    let table = match views::run(state.store(), &rq).await {
        Ok(t) => t,
        Err(e) => return crate::view::internal_error(false, ctx.lang, &e.into()),
    };
    let none = ctx.t("reports.nobody");
    let rows: Vec<Vec<_>> = table
        .rows
        .iter()
        .map(|r| {
            table
                .columns
                .iter()
                .zip(r)
                .enumerate()
                .map(|(i, (col, cell))| {
                    let text = match cell {
                        Cell::Text(s) if s.is_empty() && i == 0 => none.clone(),
                        Cell::Code(prefix, code) => ctx.t(&format!("reports.{prefix}{code}")),
                        Cell::Secs(s) => views::hms(*s),
                        Cell::Avg(v) => v.map(|v| format!("{v:.1}")).unwrap_or_default(),
                        Cell::Pct(v) => v.map(|v| format!("{v:.2} %")).unwrap_or_default(),
                        c => c.text(),
                    };
                    context! { col => col, text => text, raw => cell.text(), number => !matches!(cell, Cell::Text(_) | Cell::Code(..)) }
                })
                .collect()
        })
        .collect();
    let headers: Vec<_> = table
        .columns
        .iter()
        .map(|c| context! { col => c, label => ctx.t(&format!("reports.col_{c}")) })
        .collect();
    let chart = (!table.chart.is_empty()).then(|| {
        bars(
            &ctx.t(&format!("reports.{}_title", report.key())),
            &ctx.t(table.chart_unit),
            &table.chart,
            900,
            320,
        )
    });
    ctx.render(
        "reports/report.html",
        context! { errors => errors, headers => headers, rows => rows, chart => chart, ..base },
    )
}
