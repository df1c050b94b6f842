//! JSON API of the voice platform's lists (access list, blacklist, number
//! pool): `GET /api/lists/{list}`, `POST /api/lists/{list}` with
//! `{"values": ["..."], "note": "..."}` (one bad value refuses all, naming
//! it), `DELETE /api/lists/{list}/{value}`. Changes apply to calls at once.
//! Also the live registrations: `GET /api/registrations`, and media
//! resources: `GET /api/media`, `POST /api/media?name=N` (the file as the
//! body; checked by decoding), `GET /api/media/{name}` (the file),
//! `PUT /api/media/{name}?to=M` (rename), `DELETE /api/media/{name}`;
//! a file in use is neither renamed nor removed, and the answer says what
//! uses it.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use engine::voice_lists::AddError;
use engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;
use store::VoiceList;

use crate::json;
use axum::extract::Query;
use engine::media_library::LibraryError;

/// Bodies above this are cut off by the server (uploads above the
/// configured media limit are refused in the handler, with JSON).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// The routes of this module.
pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/api/lists/{list}", get(list).post(add))
        .route("/api/lists/{list}/{value}", delete(remove))
        .route("/api/registrations", get(registrations))
        .route("/api/media", get(media_list).post(media_upload))
        .route(
            "/api/media/{name}",
            get(media_file).put(media_rename).delete(media_remove),
        )
        // The media limit is checked in the handler, with a JSON answer;
        // this only keeps a runaway body from being read whole.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// Changes are taken from this machine only until sign-in guards them.
fn local_only(peer: SocketAddr) -> Option<Response> {
    (!peer.ip().is_loopback()).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "changes are only accepted from this machine until sign-in exists".into(),
            None,
        )
    })
}

fn error(status: StatusCode, message: String, field: Option<&str>) -> Response {
    json(
        status,
        &serde_json::json!({ "error": message, "field": field }),
    )
}

/// The list named in the URL, or the 404 that says which lists exist.
fn which(name: &str) -> Result<VoiceList, Box<Response>> {
    name.parse::<VoiceList>()
        .map_err(|e| Box::new(error(StatusCode::NOT_FOUND, e, None)))
}

async fn list(State(engine): State<Arc<Engine>>, Path(name): Path<String>) -> Response {
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    match engine.ctx().store.list_entries(list).await {
        Ok(entries) => json(StatusCode::OK, &entries),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

/// The registered phones (manual 3.2.7): user, agent, status, ping time,
/// contact host, network address.
async fn registrations(State(engine): State<Arc<Engine>>) -> Response {
    json(StatusCode::OK, &engine::keepalive::registered(engine.ctx()))
}

/// Body of `POST /api/lists/{list}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    values: Vec<String>,
    #[serde(default)]
    note: String,
}

async fn add(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    if let Some(refused) = local_only(peer) {
        return refused;
    }
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let body: AddBody = match serde_json::from_str(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body: {e} (expected {{\"values\": [...], \"note\": \"...\"}})"),
                None,
            )
        }
    };
    if body.values.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "give at least one value".into(),
            Some("values"),
        );
    }
    let entries: Vec<(String, String)> = body
        .values
        .into_iter()
        .map(|v| (v, body.note.clone()))
        .collect();
    let ctx = engine.ctx();
    match ctx.voice.add(&ctx.store, list, &entries).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(AddError::Invalid(e)) => error(StatusCode::BAD_REQUEST, e.to_string(), Some("values")),
        Err(AddError::Store(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

async fn remove(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((name, value)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = local_only(peer) {
        return refused;
    }
    let list = match which(&name) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let ctx = engine.ctx();
    match ctx.voice.remove(&ctx.store, list, &value).await {
        Ok(true) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("'{value}' is not in the {name} list"),
            None,
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

fn library_error(e: LibraryError) -> Response {
    let (status, field) = match &e {
        LibraryError::BadName(_) => (StatusCode::BAD_REQUEST, Some("name")),
        LibraryError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Some("file")),
        LibraryError::NotAudio(_) => (StatusCode::BAD_REQUEST, Some("file")),
        LibraryError::Exists(_) => (StatusCode::CONFLICT, Some("name")),
        LibraryError::NotFound(_) => (StatusCode::NOT_FOUND, None),
        LibraryError::InUse { .. } => (StatusCode::CONFLICT, None),
        LibraryError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
    };
    error(status, e.to_string(), field)
}

async fn media_list(State(engine): State<Arc<Engine>>) -> Response {
    match engine.ctx().store.list_media_files().await {
        Ok(files) => json(StatusCode::OK, &files),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

/// Query of the media endpoints.
#[derive(serde::Deserialize)]
struct MediaQuery {
    name: Option<String>,
    to: Option<String>,
}

async fn media_upload(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<MediaQuery>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if let Some(refused) = local_only(peer) {
        return refused;
    }
    let ctx = engine.ctx();
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                e.status(),
                format!(
                    "the upload could not be read ({}); uploads are limited to {} bytes",
                    e.body_text(),
                    ctx.cfg.media.max_upload_bytes
                ),
                Some("file"),
            )
        }
    };
    let Some(name) = q.name else {
        return error(StatusCode::BAD_REQUEST, "give name".into(), Some("name"));
    };
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "the file is empty".into(),
            Some("file"),
        );
    }
    match ctx
        .media_library
        .upload(ctx, &name, body.to_vec(), "api")
        .await
    {
        Ok(m) => json(StatusCode::OK, &m),
        Err(e) => library_error(e),
    }
}

async fn media_file(State(engine): State<Arc<Engine>>, Path(name): Path<String>) -> Response {
    use axum::response::IntoResponse;
    let Some(path) = engine.ctx().media_library.path(&name) else {
        return library_error(LibraryError::NotFound(name));
    };
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("mp3") => "audio/mpeg",
        _ => "audio/wav",
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, kind)],
            bytes,
        )
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", path.display()),
            None,
        ),
    }
}

async fn media_rename(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    Query(q): Query<MediaQuery>,
) -> Response {
    if let Some(refused) = local_only(peer) {
        return refused;
    }
    let Some(to) = q.to else {
        return error(StatusCode::BAD_REQUEST, "give to".into(), Some("to"));
    };
    let ctx = engine.ctx();
    match ctx.media_library.rename(ctx, &name, &to).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "name": to }),
        ),
        Err(e) => library_error(e),
    }
}

async fn media_remove(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
) -> Response {
    if let Some(refused) = local_only(peer) {
        return refused;
    }
    let ctx = engine.ctx();
    match ctx.media_library.remove(ctx, &name).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(e) => library_error(e),
    }
}
