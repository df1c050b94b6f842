//! The contact import page (issue 16, 5): upload an `.xlsx` or CSV file,
//! see how its columns map, its first rows and every bad row with its row
//! number and reason, then import all rows (or nothing if any is bad) or
//! the good rows only. The checks are the API's
//! ([`crate::api::import::import_bytes`]); between the preview and the
//! import the file waits in the data dir's temporary directory under a
//! random name (an hour at most).

use std::time::{Duration, SystemTime};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde_json::Value;

use crate::api::import::import_bytes;
use crate::auth::permissions::CRM_CONTACTS_EDIT;
use crate::auth::{require, Identity};
use crate::form::Form;
use crate::state::AppState;
use crate::upload::{self, SpoolError};
use crate::view::{self, PageCtx};

/// How long an uploaded file waits for its import.
const KEEP: Duration = Duration::from_secs(3600);
/// Largest file (as the API).
const MAX_BYTES: usize = 50 << 20;

/// The import page's routes (contact editors only).
pub fn routes() -> Router<AppState> {
    require(
        CRM_CONTACTS_EDIT,
        Router::new()
            .route("/crm/contacts/import", get(form).post(upload))
            .route("/crm/contacts/import/confirm", post(confirm)),
    )
}

fn render(
    ctx: &PageCtx,
    status: StatusCode,
    mut result: Option<Value>,
    token: &str,
    error: Option<String>,
) -> Response {
    // The contact fields' names as the contact form shows them.
    if let Some(Value::Array(columns)) = result.as_mut().map(|r| &mut r["mapping"]) {
        for c in columns.iter_mut() {
            if let Some(field) = c["field"].as_str() {
                c["label"] = Value::String(ctx.t(&format!("crm.contact.f.{field}")));
            }
        }
    }
    ctx.render_status(
        status,
        "crm/import.html",
        context! { result => result.map(minijinja::Value::from_serialize), token => token, error => error },
    )
}

/// `GET /crm/contacts/import`.
async fn form(ctx: PageCtx) -> Response {
    render(&ctx, StatusCode::OK, None, "", None)
}

fn kept(dir: &std::path::Path, token: &str) -> Option<std::path::PathBuf> {
    let ok = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| dir.join(format!("import-{token}.bin")))
}

/// Removes files of imports never confirmed.
async fn forget_old(dir: &std::path::Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with("import-") {
            continue;
        }
        let old = e
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > KEEP);
        if old {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
    }
}

/// `POST /crm/contacts/import?csrf=` (multipart `file`): the preview.
async fn upload(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    req: Request,
) -> Response {
    let Some(data_dir) = state.data_dir() else {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("no data dir for imports"));
    };
    let dir = data_dir.join(upload::TEMP_DIR);
    forget_old(&dir).await;
    let bad = |why: String, status| render(&ctx, status, None, "", Some(why));
    let mut mp = match Multipart::from_request(req, &state).await {
        Ok(mp) => mp,
        Err(_) => return bad(ctx.t("crm.import.choose"), StatusCode::BAD_REQUEST),
    };
    let mut bytes = None;
    loop {
        match mp.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                match upload::spool(&dir, field, MAX_BYTES).await {
                    Ok(s) => match s.read().await {
                        Ok(b) => bytes = Some(b),
                        Err(e) => {
                            return view::internal_error(
                                false,
                                ctx.lang,
                                &anyhow::anyhow!("import: {e:?}"),
                            )
                        }
                    },
                    Err(SpoolError::TooLarge { .. }) => {
                        return bad(ctx.t("crm.import.too_large"), StatusCode::PAYLOAD_TOO_LARGE)
                    }
                    Err(SpoolError::Body(why)) => return bad(why, StatusCode::BAD_REQUEST),
                    Err(SpoolError::Storage(why)) => {
                        return view::internal_error(
                            false,
                            ctx.lang,
                            &anyhow::anyhow!("import: {why}"),
                        )
                    }
                }
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return bad(e.body_text(), StatusCode::BAD_REQUEST),
        }
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return bad(ctx.t("crm.import.choose"), StatusCode::BAD_REQUEST);
    };
    let mut raw = [0u8; 16];
    if getrandom::getrandom(&mut raw).is_err() {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("no random source"));
    }
    let token = hex::encode(raw);
    let Some(path) = kept(&dir, &token) else {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("import token"));
    };
    if let Err(e) = tokio::fs::write(&path, &bytes).await {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("keeping an import: {e}"));
    }
    let (status, answer) = import_bytes(&state, &who, bytes, "preview").await;
    if status != StatusCode::OK {
        let _ = tokio::fs::remove_file(&path).await;
        let why = answer["error"].as_str().unwrap_or_default().to_string();
        return bad(why, status);
    }
    render(&ctx, StatusCode::OK, Some(answer), &token, None)
}

/// `POST /crm/contacts/import/confirm` (`token`, `mode` all or valid).
async fn confirm(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    let Some(data_dir) = state.data_dir() else {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("no data dir for imports"));
    };
    let mode = match f.text("mode").as_str() {
        "all" => "all",
        "valid" => "valid",
        _ => {
            return render(
                &ctx,
                StatusCode::BAD_REQUEST,
                None,
                "",
                Some(ctx.t("crm.import.choose")),
            )
        }
    };
    let token = f.text("token");
    let path = kept(&data_dir.join(upload::TEMP_DIR), &token);
    let bytes = match &path {
        Some(p) => tokio::fs::read(p).await.ok(),
        None => None,
    };
    let Some(bytes) = bytes else {
        return render(
            &ctx,
            StatusCode::GONE,
            None,
            "",
            Some(ctx.t("crm.import.expired")),
        );
    };
    let (status, answer) = import_bytes(&state, &who, bytes, mode).await;
    if status == StatusCode::OK {
        if let Some(p) = path {
            let _ = tokio::fs::remove_file(p).await;
        }
        return render(&ctx, status, Some(answer), "", None);
    }
    // "all" with bad rows: nothing imported; the file stays for another choice.
    let why = answer["error"].as_str().unwrap_or_default().to_string();
    render(&ctx, status, Some(answer), &token, Some(why))
}
