//! Extensions (3.2.1 分机配置): list, batch create (`101-110`), edit every field, remove.

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
