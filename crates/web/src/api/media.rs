//! Media resources: `GET /api/media`, `POST /api/media?name=N` (the file as
//! the body; checked by decoding), `GET /api/media/{name}` (the file),
//! `PUT /api/media/{name}?to=M` (rename), `DELETE /api/media/{name}`. A
//! file in use is neither renamed nor removed, and the answer says what
//! uses it.

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::media_library::LibraryError;

use super::{engine, err, no_engine};
use crate::form::QueryFields;
use crate::metrics::WebMetrics;
use crate::state::AppState;
use crate::upload::{self, SpoolError};
use crate::view::{api_error, json};

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
    api_error(status, &e.to_string(), field)
}

/// `GET /api/media`: the uploaded files.
#[utoipa::path(get, path = "/api/media", tag = "media", responses((status = 200, description = "the uploaded files", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(State(state): State<AppState>) -> Response {
    match state.store().list_media_files().await {
        Ok(files) => json(StatusCode::OK, &files),
        Err(e) => {
            tracing::error!("listing media files: {e}");
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "listing media files failed, see the server log",
            )
        }
    }
}

/// `POST /api/media?name=N`: uploads a wav or mp3 file (the body).
///
/// The body is streamed to a temporary file in the data dir; a declared
/// `Content-Length` above `media.max_upload_bytes` is refused before
/// reading anything, and reading stops at the first byte past the limit
/// (413; the connection then closes), so memory stays bounded whatever
/// is sent.
#[utoipa::path(post, path = "/api/media", tag = "media", params(("name" = String, Query, description = "the file's name")), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the wav or mp3 file"), responses((status = 200, description = "the stored file", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn upload(
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let ctx = engine.ctx();
    let limit = ctx.cfg.media.max_upload_bytes;
    let too_large = || {
        WebMetrics::inc(&state.metrics().uploads_too_large);
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("uploads are limited to {limit} bytes"),
            Some("file"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let name = q.text("name");
    if name.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "give name", Some("name"));
    }
    let dir = ctx.cfg.server.data_dir.join(upload::TEMP_DIR);
    let spooled = match upload::spool(&dir, req.into_body().into_data_stream(), limit).await {
        Ok(s) => s,
        Err(SpoolError::TooLarge { .. }) => return too_large(),
        Err(SpoolError::Body(why)) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("the upload could not be read: {why}"),
                Some("file"),
            )
        }
        Err(SpoolError::Storage(why)) => {
            tracing::error!("receiving an upload: {why}");
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "receiving the upload failed, see the server log",
            );
        }
    };
    if spooled.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "the file is empty", Some("file"));
    }
    let bytes = match spooled.read().await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("reading an upload back: {e:?}");
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "receiving the upload failed, see the server log",
            );
        }
    };
    drop(spooled);
    match engine
        .media_library()
        .upload(ctx, &name, bytes, "api")
        .await
    {
        Ok(m) => json(StatusCode::OK, &m),
        Err(e) => library_error(e),
    }
}

/// `GET /api/media/{name}`: the file itself (to play it).
#[utoipa::path(get, path = "/api/media/{name}", tag = "media", params(("name" = String, Path, description = "file name")), responses((status = 200, description = "the audio file", content_type = "audio/*"), crate::api::doc::Errors))]
pub async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let Some(path) = engine.media_library().path(&name) else {
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
        Err(e) => {
            tracing::error!("reading {}: {e}", path.display());
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the file failed, see the server log",
            )
        }
    }
}

/// `PUT /api/media/{name}?to=M`: renames a file not in use.
#[utoipa::path(put, path = "/api/media/{name}", tag = "media", params(("name" = String, Path, description = "file name"), ("to" = String, Query, description = "the new name")), responses((status = 200, description = "renamed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn rename(
    State(state): State<AppState>,
    Path(name): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let to = q.text("to");
    if to.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "give to", Some("to"));
    }
    let ctx = engine.ctx();
    match engine.media_library().rename(ctx, &name, &to).await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "name": to }),
        ),
        Err(e) => library_error(e),
    }
}

/// `DELETE /api/media/{name}`: removes a file not in use.
#[utoipa::path(delete, path = "/api/media/{name}", tag = "media", params(("name" = String, Path, description = "file name")), responses((status = 200, description = "removed", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let ctx = engine.ctx();
    match engine.media_library().remove(ctx, &name).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(e) => library_error(e),
    }
}
