//! The access list, blacklist and number pool (3.2 访问列表, 黑名单, 3.2.9 号码池).

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
