//! The audit log's recorder (FEATURES C2): middleware around every route
//! that writes one entry per change (any method but GET/HEAD/OPTIONS) and
//! per sign-in or sign-out: who, from where, the method, URL and
//! parameters (secrets replaced by `***`), how long it took and how it
//! ended. The entry is written after the answer is sent on its way, so the
//! log never slows a request down; a failed write is logged, not fatal.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Bodies up to this size are recorded; larger ones as their size only.
const MAX_RECORDED_BODY: usize = 64 * 1024;
/// Recorded parameters are cut to this many characters.
const MAX_PARAMS: usize = 4000;

/// Who made a request, set on the response by the authentication layer so
/// this recorder (outside it) can name the user.
#[derive(Clone, Debug)]
pub struct AuditUser(pub String);

/// Whether a parameter named `key` holds a secret: any name about
/// passwords, secrets, tokens or keys, and the password forms' own fields
/// (`current`, `new`, `confirm`).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    matches!(k.as_str(), "current" | "new")
        || [
            "pass",
            "secret",
            "token",
            "csrf",
            "pwd",
            "key",
            "authorization",
            "confirm",
        ]
        .iter()
        .any(|s| k.contains(s))
}

/// `a=1&password=x` with every secret's value replaced by `***`.
pub fn redact_form(text: &str) -> String {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret(&decode(k)) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A JSON document with every secret-named member's value replaced.
pub fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret(k) {
                    *val = serde_json::Value::String("***".into());
                } else {
                    redact_json(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// A percent-encoded form component, decoded.
fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What a request's body says, redacted, for the log.
fn describe_body(content_type: &str, bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(bytes);
    if content_type.starts_with("application/x-www-form-urlencoded") {
        redact_form(&text)
    } else if content_type.starts_with("application/json") {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(mut v) => {
                redact_json(&mut v);
                v.to_string()
            }
            Err(_) => format!("({} bytes, not JSON)", bytes.len()),
        }
    } else {
        format!("({} bytes, {content_type})", bytes.len())
    }
}

fn cut(mut s: String) -> String {
    if s.chars().count() > MAX_PARAMS {
        s = s.chars().take(MAX_PARAMS).collect::<String>() + "…";
    }
    s
}

/// The middleware.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let at = crate::auth::now_ms();
    let path = req.uri().path().to_string();
    let url = match req.uri().query() {
        Some(q) => format!("{path}?{}", redact_form(q)),
        None => path.clone(),
    };
    let ip = crate::auth::client_ip(req.extensions());
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // The declared length, or the exact size the body knows (a body built
    // in-process has no header).
    let declared: Option<usize> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            axum::body::HttpBody::size_hint(req.body())
                .exact()
                .and_then(|n| usize::try_from(n).ok())
        });
    // Small bodies are read here (and handed on unchanged); uploads and
    // bodies of unknown size pass through unread.
    let recordable =
        declared.is_some_and(|n| n <= MAX_RECORDED_BODY) && !content_type.starts_with("multipart/");
    let (req, params) = if recordable {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, MAX_RECORDED_BODY).await {
            Ok(bytes) => {
                let params = describe_body(&content_type, &bytes);
                (Request::from_parts(parts, Body::from(bytes)), params)
            }
            // The body broke off: the handler would fail the same way.
            Err(_) => (
                Request::from_parts(parts, Body::from(Bytes::new())),
                "(body could not be read)".into(),
            ),
        }
    } else {
        let size = declared.map_or("unknown size".to_string(), |n| format!("{n} bytes"));
        (req, format!("({size}, {content_type})"))
    };
    let resp = next.run(req).await;
    let status = resp.status();
    let to_sign_in = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l.starts_with("/login"));
    let action = match path.as_str() {
        "/login" => "sign_in",
        "/logout" => "sign_out",
        _ => "change",
    };
    let username = match resp.extensions().get::<AuditUser>() {
        Some(u) => u.0.clone(),
        // A sign-in names its user in the form.
        None if action == "sign_in" => params
            .split('&')
            .find_map(|p| p.strip_prefix("username="))
            .map(decode)
            .unwrap_or_default(),
        None => String::new(),
    };
    let entry = store::AuditEntry {
        id: 0,
        at,
        action: action.into(),
        username,
        ip,
        method: method.to_string(),
        url: cut(url),
        params: cut(params),
        status: i32::from(status.as_u16()),
        // A change refused for want of a session is sent to sign in.
        ok: status.as_u16() < 400 && !(to_sign_in && action != "sign_out"),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    let store = state.store().clone();
    tokio::spawn(async move {
        if let Err(e) = store.add_audit(&entry).await {
            tracing::warn!("audit entry not written: {e}");
        }
    });
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_forms_queries_and_json() {
        assert_eq!(
            redact_form("username=bob&password=hunter2&csrf=abc&name=Bob"),
            "username=bob&password=***&csrf=***&name=Bob"
        );
        assert_eq!(
            redact_form("current=a&new=b&confirm=c&new_confirm=d&note=e"),
            "current=***&new=***&confirm=***&new_confirm=***&note=e"
        );
        assert_eq!(redact_form("smtp.password=x"), "smtp.password=***");
        let mut v =
            serde_json::json!({"name": "q", "nested": {"api_key": "k", "list": [{"token": 1}]}});
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"name": "q", "nested": {"api_key": "***", "list": [{"token": "***"}]}})
        );
        assert_eq!(
            describe_body("application/json", b"{\"password\":\"x\"}"),
            "{\"password\":\"***\"}"
        );
        assert_eq!(
            describe_body("audio/wav", &[0; 10]),
            "(10 bytes, audio/wav)"
        );
        assert_eq!(
            describe_body("application/json", b"nope"),
            "(4 bytes, not JSON)"
        );
    }
}
