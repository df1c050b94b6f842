//! IVR menus (3.2.4 IVR配置) as a tree with entries.

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
