//! Reports (manual 11.3) and the service-level tools. So far the Erlang C
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

use crate::api::reports::{alternatives, forecast_of};
use crate::auth::permissions::REPORTS_VIEW;
use crate::auth::require;
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::PageCtx;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    require(
        REPORTS_VIEW,
        Router::new().route("/reports/erlang-c", get(erlang_c)),
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
