//! Media resources (3.2.5 媒体资源): upload, play, rename, remove.

use axum::Router;

use crate::state::AppState;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    Router::new()
}
