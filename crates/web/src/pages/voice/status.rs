//! Service status of this node (manual 3.2 服务配置): version, ports, uptime, active calls, registrations.

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
