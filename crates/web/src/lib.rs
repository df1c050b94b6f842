//! The embedded web module (axum, same runtime as the engine). For now:
//! `GET /metrics` (Prometheus text) and `GET /api/calls` (live calls as JSON).
//! The admin UI, CRM and REST API grow here.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;

/// Build the router.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/calls", get(calls))
        .fallback(not_found)
        .with_state(engine)
}

/// Serve on `addr` until `shutdown` resolves.
pub async fn serve(
    engine: Arc<Engine>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("web on http://{}", listener.local_addr()?);
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        engine.metrics_text(),
    )
        .into_response()
}

async fn calls(State(engine): State<Arc<Engine>>) -> Response {
    json(StatusCode::OK, &engine.calls())
}

async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": "not found" }),
    )
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{{\"error\":\"serialising response: {e}\"}}"),
        )
            .into_response(),
    }
}
