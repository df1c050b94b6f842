//! The home page: a welcome and, for users who may see it, the node's
//! status read live from the engine.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use crate::auth::permissions::STATUS_VIEW;
use crate::auth::Identity;
use crate::state::AppState;
use crate::view::PageCtx;

/// What the status cards show.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeStatus {
    /// This build's version.
    pub version: &'static str,
    /// Whether an engine runs in this process.
    pub running: bool,
    /// Seconds since the engine started.
    pub uptime_secs: u64,
    /// Calls in progress.
    pub active_calls: u64,
    /// Registered contacts.
    pub registrations: u64,
}

/// Reads the node's status from the engine (all zero without one).
pub fn node_status(state: &AppState) -> NodeStatus {
    let mut status = NodeStatus {
        version: env!("CARGO_PKG_VERSION"),
        ..Default::default()
    };
    if let Some(engine) = state.engine() {
        status.running = true;
        status.uptime_secs = uptime_from_metrics(&engine.metrics_text()).unwrap_or(0);
        status.active_calls = engine.calls().len() as u64;
        status.registrations = engine.ctx().registrar.binding_count() as u64;
    }
    status
}

/// The engine exposes its uptime in its Prometheus text only.
fn uptime_from_metrics(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("switchboard_uptime_seconds "))
        .and_then(|v| v.trim().parse().ok())
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    let status = identity.allows(STATUS_VIEW).then(|| node_status(&state));
    ctx.render(
        "home.html",
        context! { status => status, now => crate::auth::now_ms() },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_is_read_from_the_metrics_text() {
        let text =
            "# HELP switchboard_uptime_seconds x\nswitchboard_uptime_seconds 4711\nother 1\n";
        assert_eq!(super::uptime_from_metrics(text), Some(4711));
        assert_eq!(super::uptime_from_metrics("nothing"), None);
    }
}
