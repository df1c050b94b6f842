//! The call history (manual 11.1 通话记录) over the API: `GET /api/cdrs`
//! (filters as query parameters, paged, with `total`), one record, and its
//! recording, streamed with HTTP range requests so that a player can seek.
//!
//! Data scope: `records:all` sees every call; `records:view` alone the
//! calls of the user's own extension (made, received, or answered in a
//! queue): an agent's "my calls".

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;
use store::{CdrQuery, CdrRecord};
use tower::ServiceExt;

use crate::auth::permissions::RECORDS_ALL;
use crate::auth::Identity;
use crate::form::Fields;
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::{api_error, json};

/// Most rows one page of the API may ask for.
pub const MAX_PER_PAGE: i64 = 500;
/// The directions a search may ask for (`queue`: waited in a queue).
pub const DIRECTIONS: [&str; 4] = ["inbound", "outbound", "internal", "queue"];
/// The outcomes a search may ask for.
pub const OUTCOMES: [&str; 2] = ["answered", "missed"];

/// A filter the search refused: the field and why (English, for the API;
/// the page shows its own message for the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter {
    /// The query parameter.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
    /// The pages' message for it (`records.bad_date`, `records.bad_range`,
    /// `reports.too_long` or `records.bad_value`).
    pub key: &'static str,
}

impl BadFilter {
    /// A bad `field`: `message` for the API, `key` for the pages.
    pub fn new(field: &'static str, message: &str, key: &'static str) -> BadFilter {
        BadFilter {
            field,
            message: message.to_string(),
            key,
        }
    }
}

/// Unix ms of the start of `text` in the server's time zone: a date
/// (`YYYY-MM-DD`, local midnight) or a local date and time
/// (`YYYY-MM-DDTHH:MM[:SS]`). With `end_of_day`, a bare date means the
/// end of that day (a "to" date includes its whole day).
pub fn local_time(text: &str, end_of_day: bool) -> Option<i64> {
    use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone};
    let t = text.trim();
    let naive = if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0)?;
        if end_of_day {
            start + chrono::Duration::days(1)
        } else {
            start
        }
    } else {
        [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())?
    };
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The search a request asks for (`page` from 1, `per_page` rows), for
/// the user `who`; the first bad filter otherwise. Shared by the API and
/// the page, so both accept exactly the same filters.
pub fn query_of(q: &Fields, who: &Identity, per_page: i64) -> Result<(CdrQuery, i64), BadFilter> {
    let bad =
        |field: &'static str, message: &str| BadFilter::new(field, message, "records.bad_value");
    let time = |field: &'static str, end: bool| -> Result<Option<i64>, BadFilter> {
        let text = q.text(field);
        if text.is_empty() {
            return Ok(None);
        }
        local_time(&text, end).map(Some).ok_or_else(|| {
            BadFilter::new(
                field,
                "a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM",
                "records.bad_date",
            )
        })
    };
    let from = time("from", false)?;
    let to = time("to", true)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(BadFilter::new(
                "to",
                "the end is before the start",
                "records.bad_range",
            ));
        }
    }
    let direction = q.text("direction").to_ascii_lowercase();
    if !direction.is_empty() && !DIRECTIONS.contains(&direction.as_str()) {
        return Err(bad("direction", "inbound, outbound, internal or queue"));
    }
    let outcome = q.text("status").to_ascii_lowercase();
    if !outcome.is_empty() && !OUTCOMES.contains(&outcome.as_str()) {
        return Err(bad("status", "answered or missed"));
    }
    let recorded = match q.text("recorded").to_ascii_lowercase().as_str() {
        "" => None,
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => return Err(bad("recorded", "yes or no")),
    };
    let number = |field: &'static str| -> Result<i64, BadFilter> {
        let text = q.text(field);
        if text.is_empty() {
            return Ok(0);
        }
        text.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad(field, "a whole number, 0 or more"))
    };
    let min_talk_secs = number("min_talk")?;
    let page = match q.text("page").as_str() {
        "" => 1,
        p => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| bad("page", "a page number from 1"))?,
    };
    let per_page = match q.text("per_page").as_str() {
        "" => per_page,
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PER_PAGE).contains(n))
            .ok_or_else(|| bad("per_page", "1 to 500"))?,
    };
    let extension = if who.allows(RECORDS_ALL) {
        None
    } else {
        Some(who.user.extension.clone())
    };
    Ok((
        CdrQuery {
            from,
            to,
            number: q.text("number"),
            caller: q.text("caller"),
            callee: q.text("callee"),
            direction,
            outcome,
            recorded,
            agent: q.text("agent"),
            queue: q.text("queue"),
            cause: q.text("cause"),
            gateway: q.text("gateway"),
            min_talk_secs,
            extension,
            offset: (page - 1) * per_page,
            limit: per_page,
        },
        page,
    ))
}

/// Whether `who` may see the call of `r` (see the module's data scope).
pub fn visible(who: &Identity, r: &CdrRecord) -> bool {
    if who.allows(RECORDS_ALL) {
        return true;
    }
    let ext = who.user.extension.trim();
    !ext.is_empty()
        && (r.cdr.caller == ext || r.cdr.callee == ext || r.agent.as_deref() == Some(ext))
}

/// `GET /api/cdrs`: the call history.
#[utoipa::path(get, path = "/api/cdrs", tag = "records", params(
    ("from" = Option<String>, Query, description = "started at or after: YYYY-MM-DD (local midnight) or YYYY-MM-DDTHH:MM"),
    ("to" = Option<String>, Query, description = "started before: a date includes its whole day, or YYYY-MM-DDTHH:MM"),
    ("number" = Option<String>, Query, description = "the caller or the callee contains this"),
    ("caller" = Option<String>, Query, description = "the caller contains this"),
    ("callee" = Option<String>, Query, description = "the callee contains this"),
    ("direction" = Option<String>, Query, description = "inbound, outbound, internal, or queue (waited in a queue)"),
    ("status" = Option<String>, Query, description = "answered (a person took it) or missed"),
    ("recorded" = Option<String>, Query, description = "yes or no"),
    ("agent" = Option<String>, Query, description = "taken (a queue call's agent, the extension called) or placed (an outbound call) by this agent or extension"),
    ("queue" = Option<String>, Query, description = "waited in this queue"),
    ("cause" = Option<String>, Query, description = "exactly this hang-up cause, e.g. normal_clearing, no_answer"),
    ("gateway" = Option<String>, Query, description = "came in by or went out through exactly this gateway"),
    ("min_talk" = Option<i64>, Query, description = "at least this many seconds of conversation"),
    ("page" = Option<i64>, Query, description = "page number from 1"),
    ("per_page" = Option<i64>, Query, description = "rows per page, 1 to 500 (default: the site's page size)")),
    responses((status = 200, description = "{total, page, per_page, calls: [{id, call_id, caller, caller_name, callee, direction, start_at, answer_at, end_at, ring_secs, talk_secs, hangup_cause, hangup_by, sip_code, recorded_secs, queue, agent, gateway, wait_secs, agent_secs, satisfaction, missed, recorded, recording_url}]}; times in unix ms", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let (query, page) = match query_of(&q, &who, state.settings().page_size.max(1)) {
        Ok(v) => v,
        Err(b) => return api_error(StatusCode::BAD_REQUEST, &b.message, Some(b.field)),
    };
    match state.store().search_cdrs(&query).await {
        Ok(p) => {
            let calls: Vec<serde_json::Value> = p.rows.iter().map(call_json).collect();
            json(
                StatusCode::OK,
                &json!({ "total": p.total, "page": page, "per_page": query.limit, "calls": calls }),
            )
        }
        Err(e) => crate::view::internal_error(true, crate::i18n::Lang::En, &e.into()),
    }
}

/// A record as the API gives it: the stored path of the recording is
/// replaced by the URL that serves it.
fn call_json(r: &CdrRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("recording_path");
        o.remove("call_uid");
        o.remove("in_progress");
        o.remove("last_seen_at");
        let url = r
            .recorded
            .then(|| format!("/api/cdrs/{}/recording", r.cdr.id.unwrap_or_default()));
        o.insert("recording_url".into(), json!(url));
    }
    v
}

/// The record `id` if `who` may see it; the error response otherwise (404
/// for a call out of scope too: its existence is not disclosed).
async fn record_for(state: &AppState, who: &Identity, id: i64) -> Result<CdrRecord, Response> {
    match state.store().cdr_record(id).await {
        Ok(Some(r)) if visible(who, &r) => Ok(r),
        Ok(_) => Err(api_error(
            StatusCode::NOT_FOUND,
            &format!("no call record {id}"),
            None,
        )),
        Err(e) => Err(crate::view::internal_error(
            true,
            crate::i18n::Lang::En,
            &e.into(),
        )),
    }
}

/// `GET /api/cdrs/{id}`: one call's record.
#[utoipa::path(get, path = "/api/cdrs/{id}", tag = "records", params(("id" = i64, Path, description = "record id")), responses((status = 200, description = "the record, as in GET /api/cdrs", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get(who: Identity, State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match record_for(&state, &who, id).await {
        Ok(r) => json(StatusCode::OK, &call_json(&r)),
        Err(resp) => resp,
    }
}

/// `GET /api/cdrs/{id}/recording`: the call's recording (WAV), with range
/// requests (206 Partial Content) so that a player can seek; `?download=1`
/// asks the browser to save it.
#[utoipa::path(get, path = "/api/cdrs/{id}/recording", tag = "records", params(("id" = i64, Path, description = "record id"), ("download" = Option<String>, Query, description = "1: as an attachment")), responses((status = 200, description = "audio/wav"), (status = 206, description = "the range asked for"), crate::api::doc::Errors))]
pub async fn recording(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    let r = match record_for(&state, &who, id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(stored) = r.cdr.recording_path.clone() else {
        return api_error(
            StatusCode::NOT_FOUND,
            &format!("call record {id} has no recording"),
            None,
        );
    };
    let path = match file_under(state.recordings_dir(), &stored).await {
        Ok(p) => p,
        Err(why) => {
            tracing::warn!("recording of call record {id} ({stored}): {why}");
            crate::metrics::WebMetrics::inc(&state.metrics().recordings_missing);
            return api_error(
                StatusCode::NOT_FOUND,
                &format!("the recording of call record {id} is no longer on disk"),
                None,
            );
        }
    };
    let mut resp = serve_wav(&path, req).await;
    if q.flag("download") {
        let name = path
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .replace(|c: char| !c.is_ascii() || c == '"', "_")
            })
            .unwrap_or_else(|| format!("call-{id}.wav"));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    resp
}

/// The file of a stored recording or voicemail path, which must lie under
/// `root` (the path comes from the database: a row changed by hand must
/// not make the server read any other file).
pub async fn file_under(
    root: Option<std::path::PathBuf>,
    stored: &str,
) -> Result<std::path::PathBuf, String> {
    let file = tokio::fs::canonicalize(stored)
        .await
        .map_err(|e| format!("not readable: {e}"))?;
    let Some(root) = root else {
        return Err("no directory is configured for it".into());
    };
    let root = tokio::fs::canonicalize(&root)
        .await
        .map_err(|e| format!("directory {}: {e}", root.display()))?;
    if !file.starts_with(&root) {
        return Err(format!("outside {}", root.display()));
    }
    let meta = tokio::fs::metadata(&file)
        .await
        .map_err(|e| format!("not readable: {e}"))?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    Ok(file)
}

/// `file` (a WAV) as the answer to `req`: whole, or the range it asks for.
pub async fn serve_wav(file: &std::path::Path, req: Request) -> Response {
    let wav = "audio/wav"
        .parse::<mime::Mime>()
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let serve = tower_http::services::ServeFile::new_with_mime(file, &wav);
    match serve.oneshot(req).await {
        Ok(resp) => {
            let mut resp = resp.map(Body::new);
            resp.headers_mut().insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            resp
        }
        Err(e) => crate::view::internal_error(
            true,
            crate::i18n::Lang::En,
            &anyhow::anyhow!("serving {}: {e}", file.display()),
        ),
    }
}
