//! Queues / skill groups (3.2.2 技能分组) with their agents and tiers.

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
