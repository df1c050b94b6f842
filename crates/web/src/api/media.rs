//! Media resources: `GET /api/media`, `POST /api/media?name=N` (the file as
//! the body; checked by decoding), `GET /api/media/{name}` (the file),
//! `PUT /api/media/{name}?to=M` (rename), `DELETE /api/media/{name}`. A
//! file in use is neither renamed nor removed, and the answer says what
//! uses it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::media_library::LibraryError;

use super::{engine, err, no_engine};
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::{api_error, json};

/// Bodies above this are cut off by the server (uploads above the
/// configured media limit are refused in the handler, with JSON).
pub const MAX_BODY: usize = 256 * 1024 * 1024;

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
#[utoipa::path(post, path = "/api/media", tag = "media", params(("name" = String, Query, description = "the file's name")), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the wav or mp3 file"), responses((status = 200, description = "the stored file", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn upload(
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
    let ctx = engine.ctx();
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return api_error(
                e.status(),
                &format!(
                    "the upload could not be read ({}); uploads are limited to {} bytes",
                    e.body_text(),
                    ctx.cfg.media.max_upload_bytes
                ),
                Some("file"),
            )
        }
    };
    let name = q.text("name");
    if name.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "give name", Some("name"));
    }
    if body.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "the file is empty", Some("file"));
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

/// `GET /api/media/{name}`: the file itself (to play it).
#[utoipa::path(get, path = "/api/media/{name}", tag = "media", params(("name" = String, Path, description = "file name")), responses((status = 200, description = "the audio file", content_type = "audio/*"), crate::api::doc::Errors))]
pub async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(engine) = engine(&state) else {
        return no_engine();
    };
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
    match ctx.media_library.rename(ctx, &name, &to).await {
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
    match ctx.media_library.remove(ctx, &name).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(e) => library_error(e),
    }
}
