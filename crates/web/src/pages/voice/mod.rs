//! The voice-platform admin pages (manual 3.2).

pub mod cc_forms;
pub mod extensions;
pub mod gateway_status;
pub mod gateways;
pub mod ivr;
pub mod lists;
pub mod media;
pub mod queues;
pub mod registrations;
pub mod routes;
pub mod status;

use axum::Router;

use crate::state::AppState;

/// Every page of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(status::routes())
        .merge(extensions::routes())
        .merge(lists::routes())
        .merge(media::routes())
        .merge(gateways::routes())
        .merge(registrations::routes())
        .merge(gateway_status::routes())
        .merge(queues::routes())
        .merge(routes::routes())
        .merge(ivr::routes())
}
