//! Media resources (3.2.5 媒体资源): list, upload (a multipart form: name
//! and file, checked by decoding), play in the browser, rename, remove.
//! Uploads, renames and removals go through the engine's media library,
//! which refuses a file that does not decode (with the decoder's reason),
//! one above `media.max_upload_bytes`, and renaming or removing a file in
//! use (naming what uses it). Every refusal is shown next to its field.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::media_library::{check_name, LibraryError};
use minijinja::context;
use serde::Serialize;

use super::status::{clock, engine_or_503};
use crate::auth::permissions::{MEDIA_EDIT, MEDIA_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Form, QueryFields};
use crate::i18n::Lang;
use crate::metrics::WebMetrics;
use crate::state::AppState;
use crate::upload::{self, SpoolError, Spooled};
use crate::view::{self, PageCtx};

/// Bytes of the upload form besides the file: the multipart framing and
/// the name field. A body declared larger than the media limit plus this
/// is refused before it is read.
const FORM_OVERHEAD: usize = 64 * 1024;

/// Longest value of the upload form's text fields (bytes).
const MAX_TEXT_FIELD: usize = 4096;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view = Router::new()
        .route("/voice/media", get(page))
        .route("/voice/media/file/{name}", get(file));
    let edit = Router::new()
        // The upload enforces the media limit itself as it streams the
        // file to disk.
        .route(
            "/voice/media",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/voice/media/rename", post(rename))
        .route("/voice/media/remove", post(remove));
    require(MEDIA_VIEW, view).merge(require(MEDIA_EDIT, edit))
}

/// A stable HTML id part for any text: ASCII letters, digits, `-` kept,
/// every other byte written `_XX` (hex), e.g. `hold music` → `hold_20music`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

/// Percent-encodes `text` as one URL path segment.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A size for people: `512 B`, `12.3 KB`, `4.5 MB`.
pub fn size_text(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    }
}

/// A play time: `m:ss.t`.
fn duration_text(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    format!("{}.{}", clock(ms / 1000), ms % 1000 / 100)
}

/// The upload form as shown again after an error.
#[derive(Clone, Debug, Default, Serialize)]
struct UploadForm {
    name: String,
    name_error: Option<String>,
    file_error: Option<String>,
}

/// Errors and typed values of one row's rename and remove forms.
#[derive(Clone, Debug, Default, Serialize)]
struct RowState {
    rename_to: Option<String>,
    rename_error: Option<String>,
    remove_error: Option<String>,
}

/// One media file as the table shows it.
#[derive(Clone, Debug, Serialize)]
struct Row {
    name: String,
    slug: String,
    url: String,
    duration: String,
    size: String,
    bytes: i64,
    uploaded_by: String,
    created_at: i64,
    rename_to: String,
    rename_error: Option<String>,
    remove_error: Option<String>,
}

/// Renders the media page.
async fn render(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    form: UploadForm,
    rows_state: BTreeMap<String, RowState>,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let files = match state.store().list_media_files().await {
        Ok(f) => f,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let rows: Vec<Row> = files
        .into_iter()
        .map(|m| {
            let st = rows_state.get(&m.name).cloned().unwrap_or_default();
            Row {
                slug: slug(&m.name),
                url: format!("/voice/media/file/{}", path_segment(&m.name)),
                duration: duration_text(m.duration_ms),
                size: size_text(m.bytes),
                bytes: m.bytes,
                uploaded_by: m.uploaded_by,
                created_at: m.created_at,
                rename_to: st.rename_to.unwrap_or_else(|| m.name.clone()),
                rename_error: st.rename_error,
                remove_error: st.remove_error,
                name: m.name,
            }
        })
        .collect();
    let limit = state
        .engine()
        .map(|e| e.ctx().cfg.media.max_upload_bytes)
        .unwrap_or(0);
    ctx.render_status(
        status,
        "voice/media.html",
        context! {
            rows => rows, form => form,
            flash => flash.as_ref().map(|(_, m)| m.clone()),
            flash_bad => flash.as_ref().is_some_and(|(bad, _)| *bad),
            can_edit => identity.allows(MEDIA_EDIT),
            running => state.engine().is_some(),
            max_bytes => limit,
            max_size => size_text(i64::try_from(limit).unwrap_or(i64::MAX)),
        },
    )
}

/// `GET /voice/media`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let name = q.text("name");
    let flash = match q.text("done").as_str() {
        "uploaded" => Some((
            false,
            ctx.lang.t("voice.media.uploaded", &[("name", &name)]),
        )),
        "renamed" => Some((false, ctx.lang.t("voice.media.renamed", &[("name", &name)]))),
        "removed" => Some((false, ctx.lang.t("voice.media.removed", &[("name", &name)]))),
        _ => None,
    };
    render(
        &state,
        &ctx,
        &identity,
        UploadForm::default(),
        BTreeMap::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

/// The message of a library refusal, in `lang`.
fn library_message(lang: Lang, e: &LibraryError) -> String {
    match e {
        LibraryError::BadName(why) => lang.t("voice.media.bad_name", &[("reason", why)]),
        LibraryError::TooLarge { limit, .. } => lang.t(
            "voice.media.too_large",
            &[("max", &size_text(i64::try_from(*limit).unwrap_or(i64::MAX)))],
        ),
        LibraryError::NotAudio(why) => lang.t("voice.media.not_audio", &[("reason", why)]),
        LibraryError::Exists(n) => lang.t("voice.media.exists", &[("name", n)]),
        LibraryError::NotFound(n) => lang.t("voice.media.not_found", &[("name", n)]),
        LibraryError::InUse { name, users } => lang.t(
            "voice.media.in_use",
            &[("name", name), ("users", &users.join(", "))],
        ),
        LibraryError::Storage(why) => lang.t("voice.media.storage", &[("reason", why)]),
    }
}

/// What the multipart body held.
#[derive(Default)]
struct Upload {
    name: String,
    /// The file, on disk (None when no file part came).
    file: Option<Spooled>,
    /// The file passed the limit: reading stopped there.
    too_large: bool,
    /// The body could not be read to its end; why.
    broken: Option<String>,
}

/// Reads the upload form: the `name` field and the `file` field, the
/// file streamed to a temporary file in `dir`. Reading stops as soon as
/// the file passes `limit`, or the other fields pass [`FORM_OVERHEAD`].
/// `Err` only when the temporary file cannot be written.
async fn read_upload(
    mut mp: Multipart,
    dir: &std::path::Path,
    limit: usize,
) -> Result<Upload, String> {
    let mut up = Upload::default();
    let mut other = 0usize;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                up.broken = Some(e.body_text());
                break;
            }
        };
        let which = field.name().unwrap_or_default().to_string();
        if which == "file" && up.file.is_none() {
            match upload::spool(dir, field, limit).await {
                Ok(f) => up.file = Some(f),
                Err(SpoolError::TooLarge { .. }) => {
                    up.too_large = true;
                    return Ok(up);
                }
                Err(SpoolError::Body(why)) => {
                    up.broken = Some(why);
                    return Ok(up);
                }
                Err(SpoolError::Storage(why)) => return Err(why),
            }
            continue;
        }
        let mut text = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    other = other.saturating_add(chunk.len());
                    if other > FORM_OVERHEAD {
                        up.broken = Some("the form's other fields are too long".into());
                        return Ok(up);
                    }
                    if which == "name" && text.len() + chunk.len() <= MAX_TEXT_FIELD {
                        text.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    up.broken = Some(e.body_text());
                    return Ok(up);
                }
            }
        }
        if which == "name" {
            up.name = String::from_utf8_lossy(&text).trim().to_string();
        }
    }
    Ok(up)
}

/// `POST /voice/media?csrf=`: uploads a file (multipart: `name`, `file`).
/// The file is streamed to a temporary file in the data dir and reading
/// stops at the first byte past `media.max_upload_bytes` (413 with the
/// form error; browsers check the size before sending, see `app.js`).
pub async fn upload(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    req: Request,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let ectx = engine.ctx();
    let limit = ectx.cfg.media.max_upload_bytes;
    let mut form = UploadForm::default();
    let too_large = |form: &mut UploadForm| {
        WebMetrics::inc(&state.metrics().uploads_too_large);
        form.file_error = Some(library_message(
            ctx.lang,
            &LibraryError::TooLarge { bytes: 0, limit },
        ));
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(FORM_OVERHEAD) as u64) {
        too_large(&mut form);
        return render(
            &state,
            &ctx,
            &identity,
            form,
            BTreeMap::new(),
            None,
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
    }
    let dir = ectx.cfg.server.data_dir.join(upload::TEMP_DIR);
    let up = match Multipart::from_request(req, &state).await {
        Ok(mp) => match read_upload(mp, &dir, limit).await {
            Ok(up) => up,
            Err(why) => {
                return view::internal_error(
                    false,
                    ctx.lang,
                    &anyhow::anyhow!("media upload: {why}"),
                )
            }
        },
        Err(_) => {
            form.file_error = Some(ctx.lang.t("voice.media.not_a_form", &[]));
            return render(
                &state,
                &ctx,
                &identity,
                form,
                BTreeMap::new(),
                None,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    form.name = up.name.clone();
    let mut status = StatusCode::BAD_REQUEST;
    if up.name.is_empty() {
        form.name_error = Some(ctx.lang.t("voice.common.required", &[]));
    } else if let Err(e) = check_name(&up.name) {
        form.name_error = Some(library_message(ctx.lang, &e));
    }
    let file = up.file.filter(|f| !f.is_empty());
    if up.too_large {
        status = StatusCode::PAYLOAD_TOO_LARGE;
        too_large(&mut form);
    } else if let Some(why) = &up.broken {
        form.file_error = Some(ctx.lang.t("voice.media.unreadable", &[("reason", why)]));
    } else if file.is_none() {
        form.file_error = Some(ctx.lang.t("voice.media.file_required", &[]));
    }
    let file = match file {
        Some(f) if form.name_error.is_none() && form.file_error.is_none() => f,
        _ => return render(&state, &ctx, &identity, form, BTreeMap::new(), None, status).await,
    };
    let bytes = match file.read().await {
        Ok(b) => b,
        Err(e) => {
            return view::internal_error(false, ctx.lang, &anyhow::anyhow!("media upload: {e:?}"))
        }
    };
    drop(file);
    match engine
        .media_library()
        .upload(ectx, &up.name, bytes, &identity.user.username)
        .await
    {
        Ok(m) => {
            tracing::info!(by = identity.user.username, name = m.name, "media uploaded");
            Redirect::to(&format!(
                "/voice/media?done=uploaded&name={}",
                crate::form::encode(&m.name)
            ))
            .into_response()
        }
        Err(LibraryError::Storage(why)) => {
            view::internal_error(false, ctx.lang, &anyhow::anyhow!("media upload: {why}"))
        }
        Err(e) => {
            let status = match &e {
                LibraryError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                LibraryError::Exists(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            let msg = Some(library_message(ctx.lang, &e));
            match e {
                LibraryError::BadName(_) | LibraryError::Exists(_) => form.name_error = msg,
                _ => form.file_error = msg,
            }
            render(&state, &ctx, &identity, form, BTreeMap::new(), None, status).await
        }
    }
}

/// `POST /voice/media/rename`: `name` becomes `to`.
pub async fn rename(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let (name, to) = (f.text("name"), f.text("to"));
    let mut row = RowState {
        rename_to: Some(to.clone()),
        ..Default::default()
    };
    let checked = if to.is_empty() {
        Err(ctx.lang.t("voice.common.required", &[]))
    } else {
        check_name(&to)
            .map(str::to_string)
            .map_err(|e| library_message(ctx.lang, &e))
    };
    let result = match checked {
        Err(msg) => Err((StatusCode::BAD_REQUEST, msg)),
        Ok(to) if to == name => Ok(to),
        Ok(to) => {
            let engine = match engine_or_503(&state, &ctx) {
                Ok(e) => e,
                Err(r) => return *r,
            };
            let ectx = engine.ctx();
            match engine.media_library().rename(ectx, &name, &to).await {
                Ok(()) => Ok(to),
                Err(LibraryError::Storage(why)) => {
                    return view::internal_error(
                        false,
                        ctx.lang,
                        &anyhow::anyhow!("media rename: {why}"),
                    )
                }
                Err(e) => {
                    let status = match e {
                        LibraryError::NotFound(_) => StatusCode::NOT_FOUND,
                        LibraryError::InUse { .. } | LibraryError::Exists(_) => {
                            StatusCode::CONFLICT
                        }
                        _ => StatusCode::BAD_REQUEST,
                    };
                    Err((status, library_message(ctx.lang, &e)))
                }
            }
        }
    };
    match result {
        Ok(to) => {
            tracing::info!(
                by = identity.user.username,
                from = name,
                to = to,
                "media renamed"
            );
            Redirect::to(&format!(
                "/voice/media?done=renamed&name={}",
                crate::form::encode(&to)
            ))
            .into_response()
        }
        Err((status, msg)) => {
            let mut flash = None;
            if status == StatusCode::NOT_FOUND {
                flash = Some((true, msg));
            } else {
                row.rename_error = Some(msg);
            }
            let rows = BTreeMap::from([(name, row)]);
            render(
                &state,
                &ctx,
                &identity,
                UploadForm::default(),
                rows,
                flash,
                status,
            )
            .await
        }
    }
}

/// `POST /voice/media/remove`: removes `name` (refused while in use).
pub async fn remove(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let name = f.text("name");
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let ectx = engine.ctx();
    match engine.media_library().remove(ectx, &name).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, name = name, "media removed");
            Redirect::to(&format!(
                "/voice/media?done=removed&name={}",
                crate::form::encode(&name)
            ))
            .into_response()
        }
        Err(LibraryError::Storage(why)) => {
            view::internal_error(false, ctx.lang, &anyhow::anyhow!("media removal: {why}"))
        }
        Err(e) => {
            let msg = library_message(ctx.lang, &e);
            let (status, flash, rows) = match e {
                LibraryError::NotFound(_) => {
                    (StatusCode::NOT_FOUND, Some((true, msg)), BTreeMap::new())
                }
                _ => (
                    StatusCode::CONFLICT,
                    None,
                    BTreeMap::from([(
                        name,
                        RowState {
                            remove_error: Some(msg),
                            ..Default::default()
                        },
                    )]),
                ),
            };
            render(
                &state,
                &ctx,
                &identity,
                UploadForm::default(),
                rows,
                flash,
                status,
            )
            .await
        }
    }
}

/// The byte range a `Range: bytes=...` header asks of a `len`-byte file:
/// `Ok(None)` for the whole file (no or unsupported header), `Err(())` when
/// it cannot be satisfied.
fn byte_range(headers: &HeaderMap, len: usize) -> Result<Option<(usize, usize)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: the whole file is a valid answer.
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    if len == 0 {
        return Err(());
    }
    let (start, end) = if a.is_empty() {
        let n: usize = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: usize = a.parse().map_err(|_| ())?;
        let end: usize = if b.is_empty() {
            len - 1
        } else {
            b.parse::<usize>().map_err(|_| ())?.min(len - 1)
        };
        (start, end)
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// `GET /voice/media/file/{name}`: the file, to play in the page (with
/// single byte ranges, so the player can seek).
pub async fn file(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let Some(path) = engine.media_library().path(&name) else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        );
    };
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("mp3") => "audio/mpeg",
        _ => "audio/wav",
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            return view::internal_error(
                false,
                ctx.lang,
                &anyhow::anyhow!("reading {}: {e}", path.display()),
            )
        }
    };
    let len = bytes.len();
    let common = [
        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    match byte_range(&headers, len) {
        Ok(None) => (StatusCode::OK, common, Body::from(bytes)).into_response(),
        Ok(Some((start, end))) => {
            let range = format!("bytes {start}-{end}/{len}");
            let part = bytes[start..=end].to_vec();
            (
                StatusCode::PARTIAL_CONTENT,
                common,
                [(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&range).unwrap_or(HeaderValue::from_static("bytes */0")),
                )],
                Body::from(part),
            )
                .into_response()
        }
        Err(()) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            )],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_urls_and_sizes() {
        assert_eq!(slug("hold music"), "hold_20music");
        assert_eq!(slug("a.b_c-9"), "a_2eb_5fc-9");
        assert_eq!(slug("欢迎"), "_e6_ac_a2_e8_bf_8e");
        assert_eq!(path_segment("hold music/1"), "hold%20music%2F1");
        assert_eq!(path_segment("欢"), "%E6%AC%A2");
        assert_eq!(size_text(512), "512 B");
        assert_eq!(size_text(2048), "2.0 KB");
        assert_eq!(size_text(20 * 1024 * 1024), "20.0 MB");
        assert_eq!(duration_text(3000), "0:03.0");
        assert_eq!(duration_text(61_250), "1:01.2");
    }

    #[test]
    fn byte_ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(byte_range(&h, 100), Ok(None));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
        assert_eq!(byte_range(&h, 100), Ok(Some((0, 9))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=90-"));
        assert_eq!(byte_range(&h, 100), Ok(Some((90, 99))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=-10"));
        assert_eq!(byte_range(&h, 100), Ok(Some((90, 99))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=50-500"));
        assert_eq!(byte_range(&h, 100), Ok(Some((50, 99))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=100-"));
        assert_eq!(byte_range(&h, 100), Err(()));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=x-"));
        assert_eq!(byte_range(&h, 100), Err(()));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-1,5-6"));
        assert_eq!(byte_range(&h, 100), Ok(None));
    }
}
