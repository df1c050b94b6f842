//! The embedded web module: axum on the engine's tokio runtime, serving
//! the admin pages (server-rendered, zh-CN and English), the JSON API and
//! the Prometheus metrics.
//!
//! Modules:
//! - [`auth`]: sessions, API tokens, CSRF, sign-in throttling, the
//!   permission catalog and the middleware that enforces it;
//! - [`pages`]: the HTML pages and their route table;
//! - [`api`]: the JSON API under `/api`;
//! - [`view`]: templates and the common page context, error responses;
//! - [`i18n`]: message catalogs, language choice, locale formatting;
//! - [`form`]: form and query-string parsing, validation messages;
//! - [`assets`]: our embedded CSS and JavaScript;
//! - [`listener`]: the HTTP listener with its timeouts and connection caps;
//! - [`metrics`]: the web module's counters in `/metrics`;
//! - [`upload`]: uploads streamed to a temporary file under a limit;
//! - [`sipws`]: SIP over WebSocket on `/ws`, handed to the SIP transports;
//! - [`state`]: the shared state.
//!
//! Open without signing in: `/metrics`, `/assets/*`, `/login`, `/lang/*`,
//! `/ws` (SIP over WebSocket, which SIP digest authentication guards).
//! Everything else needs a session (pages, API) or an API token (API).

#![warn(missing_docs)]

pub mod api;
pub mod assets;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod charts;
pub mod desk;
pub mod form;
pub mod i18n;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod notify_crm;
pub mod pages;
pub mod richtext;
pub mod sipws;
pub mod state;
pub mod upload;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use engine::Engine;

pub use auth::token::create_api_token;
pub use state::{AppState, Settings};

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let (api_routes, openapi) = api::routes();
    let openapi = api::doc::Document(Arc::new(openapi.to_json().unwrap_or_else(|e| {
        tracing::error!("OpenAPI document: {e}");
        String::from("{}")
    })));
    let public = Router::new()
        .route(
            "/api/openapi.json",
            get(api::doc::serve).with_state(openapi),
        )
        .route("/metrics", get(api::metrics))
        .route("/assets/{name}", get(assets::serve))
        .route("/ws", get(sipws::upgrade))
        .merge(pages::public());
    let protected = Router::new()
        .merge(pages::protected())
        .merge(desk::routes())
        .merge(api_routes)
        // Layers run outermost-last: authenticate, then csrf, then the
        // per-group permission checks inside the routes.
        .layer(from_fn_with_state(state.clone(), auth::csrf))
        .layer(from_fn_with_state(state.clone(), auth::authenticate));
    public
        .merge(protected)
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), audit::record))
        .layer(from_fn_with_state(state.clone(), site_name))
        .layer(from_fn(security_headers))
        .with_state(state)
}

/// Serves the engine's web module on `addr` until `shutdown` resolves,
/// with the `[web]` limits on connections ([`listener`]).
pub async fn serve(
    engine: Arc<Engine>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("web on http://{}", listener.local_addr()?);
    let limits = crate::listener::Limits::from_config(&engine.ctx().cfg.web);
    upload::remove_leftovers(&engine.ctx().cfg.server.data_dir.join(upload::TEMP_DIR));
    let state = AppState::for_engine(engine.clone());
    state.load_settings().await;
    // Missed calls and new voicemail: e-mail to the extension's users.
    notify_crm::calls::start(&state, &engine);
    state.set_desk(desk::hub::DeskHub::start(engine).await);
    tokio::spawn(pages::system::settings::prune_audit_forever(state.clone()));
    // Overdue tickets and due appointments: e-mail and desk reminders.
    tokio::spawn(notify_crm::sweep_forever(state.clone()));
    let metrics = state.metrics().clone();
    let app = router(state);
    crate::listener::serve(listener, app, limits, metrics, shutdown).await;
    Ok(())
}

/// Puts the system's name in the request for the pages.
async fn site_name(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    req.extensions_mut()
        .insert(view::SiteName(state.site_name()));
    next.run(req).await
}

/// 404: JSON under `/api`, a page elsewhere.
async fn not_found(req: Request) -> Response {
    if auth::is_api(req.uri().path()) {
        return api::not_found().await;
    }
    let lang = i18n::Lang::from_headers(req.headers());
    view::error_page(StatusCode::NOT_FOUND, lang, None, "error.not_found")
}

/// Headers on every response: no framing, no MIME sniffing, only our own
/// scripts and styles, no referrer to other sites.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    resp
}

#[cfg(test)]
mod tests;
