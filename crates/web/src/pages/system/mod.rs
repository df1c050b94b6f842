//! System pages: audit log and settings (manual 3.3, C2, C3).

pub mod audit;
pub mod settings;

use axum::Router;

use crate::state::AppState;

/// Every page of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(audit::routes())
        .merge(settings::routes())
}
