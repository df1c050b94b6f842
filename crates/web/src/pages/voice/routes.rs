//! Routing rules (3.2.3 路由规则) and the "which rule matches" tester.

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
