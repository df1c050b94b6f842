//! The import pages (issue 16, 5) of contacts (`/crm/contacts/import`),
//! customers (`/crm/customers/import`) and knowledge-base articles
//! (`/kb/import`): upload an `.xlsx` or CSV file, see how its columns map,
//! its first rows and every bad row with its row number and reason, then
//! import all rows (or nothing if any is bad) or the good rows only. The
//! checks are the API's ([`crate::api::import::import_bytes`]); between
//! the preview and the import the file waits in the data dir's temporary
//! directory under a random name (an hour at most).
//!
//! One code path serves the three pages: a [`Kind`] holds what differs
//! (routes, permission, texts and field labels, which records).

use std::time::{Duration, SystemTime};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde_json::Value;

use crate::api::import::{import_bytes, Entity};
use crate::auth::permissions::{Permission, CRM_CONTACTS_EDIT, CRM_CUSTOMERS_EDIT, KB_EDIT};
use crate::auth::{require, Identity};
use crate::form::Form;
use crate::state::AppState;
use crate::upload::{self, SpoolError};
use crate::view::{self, PageCtx};

/// How long an uploaded file waits for its import.
const KEEP: Duration = Duration::from_secs(3600);
/// Largest file (as the API).
const MAX_BYTES: usize = 50 << 20;

/// What one import page imports.
struct Kind {
    /// Which records (and so which columns and checks).
    entity: Entity,
    /// The page; its confirmation posts to [`Kind::confirm`].
    path: &'static str,
    /// Where the confirmation posts.
    confirm: &'static str,
    /// The list the records are in (the link back).
    list: &'static str,
    /// The API's export of the same records.
    export: &'static str,
    /// Who may import.
    permission: Permission,
    /// Catalog keys: the page's title and introduction, the header of the
    /// mapping's field column, the message after an import (`{n}`), the
    /// export links and the link back.
    title: &'static str,
    intro: &'static str,
    field: &'static str,
    done: &'static str,
    export_xlsx: &'static str,
    export_csv: &'static str,
    back: &'static str,
    /// The catalog key of a field's label, as the record's form shows it.
    label: fn(&str) -> String,
}

fn contact_label(field: &str) -> String {
    format!("crm.contact.f.{field}")
}

fn customer_label(field: &str) -> String {
    format!("crm.customer.f.{field}")
}

fn article_label(field: &str) -> String {
    // The form's category field is the category's id.
    match field {
        "category" => "kb.f.category_id".into(),
        f => format!("kb.f.{f}"),
    }
}

/// The three import pages.
const KINDS: &[Kind] = &[
    Kind {
        entity: Entity::Contacts,
        path: "/crm/contacts/import",
        confirm: "/crm/contacts/import/confirm",
        list: "/crm/contacts",
        export: "/api/contacts/export",
        permission: CRM_CONTACTS_EDIT,
        title: "crm.import.title",
        intro: "crm.import.intro",
        field: "crm.import.field",
        done: "crm.import.done",
        export_xlsx: "crm.import.export",
        export_csv: "import.contacts.export_csv",
        back: "crm.contacts.back",
        label: contact_label,
    },
    Kind {
        entity: Entity::Customers,
        path: "/crm/customers/import",
        confirm: "/crm/customers/import/confirm",
        list: "/crm/customers",
        export: "/api/customers/export",
        permission: CRM_CUSTOMERS_EDIT,
        title: "import.customers.title",
        intro: "import.customers.intro",
        field: "import.customers.field",
        done: "import.customers.done",
        export_xlsx: "import.customers.export_xlsx",
        export_csv: "import.customers.export_csv",
        back: "crm.customers.back",
        label: customer_label,
    },
    Kind {
        entity: Entity::Articles,
        path: "/kb/import",
        confirm: "/kb/import/confirm",
        list: "/kb",
        export: "/api/kb/articles/export",
        permission: KB_EDIT,
        title: "import.kb.title",
        intro: "import.kb.intro",
        field: "import.kb.field",
        done: "import.kb.done",
        export_xlsx: "import.kb.export_xlsx",
        export_csv: "import.kb.export_csv",
        back: "kb.back",
        label: article_label,
    },
];

/// The import pages' routes, each behind its editing permission.
pub fn routes() -> Router<AppState> {
    KINDS.iter().fold(Router::new(), |router, kind| {
        let pages = Router::new()
            .route(
                kind.path,
                get(move |ctx: PageCtx| form(kind, ctx)).post(
                    move |state: State<AppState>, ctx: PageCtx, who: Identity, req: Request| {
                        upload(kind, state, ctx, who, req)
                    },
                ),
            )
            .route(
                kind.confirm,
                post(
                    move |state: State<AppState>, ctx: PageCtx, who: Identity, f: Form| {
                        confirm(kind, state, ctx, who, f)
                    },
                ),
            );
        router.merge(require(kind.permission, pages))
    })
}

fn render(
    kind: &Kind,
    ctx: &PageCtx,
    status: StatusCode,
    mut result: Option<Value>,
    token: &str,
    error: Option<String>,
) -> Response {
    // The fields' names as the record's form shows them.
    if let Some(Value::Array(columns)) = result.as_mut().map(|r| &mut r["mapping"]) {
        for c in columns.iter_mut() {
            if let Some(field) = c["field"].as_str() {
                c["label"] = Value::String(ctx.t(&(kind.label)(field)));
            }
        }
    }
    let done = result
        .as_ref()
        .and_then(|r| r["imported"].as_u64())
        .filter(|n| *n > 0)
        .map(|n| ctx.lang.t(kind.done, &[("n", &n.to_string())]));
    let page = context! {
        path => kind.path, confirm => kind.confirm, list => kind.list, export => kind.export,
        title => ctx.t(kind.title), intro => ctx.t(kind.intro), field => ctx.t(kind.field),
        export_xlsx => ctx.t(kind.export_xlsx), export_csv => ctx.t(kind.export_csv),
        back => ctx.t(kind.back),
    };
    ctx.render_status(
        status,
        "crm/import.html",
        context! {
            page => page, result => result.map(minijinja::Value::from_serialize),
            token => token, error => error, done => done,
        },
    )
}

/// `GET` of an import page.
async fn form(kind: &Kind, ctx: PageCtx) -> Response {
    render(kind, &ctx, StatusCode::OK, None, "", None)
}

/// Where a file waits for its import: named by the records it holds, so
/// that a token of one page imports nothing on another.
fn kept(kind: &Kind, dir: &std::path::Path, token: &str) -> Option<std::path::PathBuf> {
    let ok = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| dir.join(format!("import-{}-{token}.bin", kind.entity.noun())))
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

/// `POST` of an import page (`?csrf=`, multipart `file`): the preview.
async fn upload(
    kind: &Kind,
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
    let bad = |why: String, status| render(kind, &ctx, status, None, "", Some(why));
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
    let Some(path) = kept(kind, &dir, &token) else {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("import token"));
    };
    if let Err(e) = tokio::fs::write(&path, &bytes).await {
        return view::internal_error(false, ctx.lang, &anyhow::anyhow!("keeping an import: {e}"));
    }
    let (status, answer) = import_bytes(&state, &who, kind.entity, bytes, "preview").await;
    if status != StatusCode::OK {
        let _ = tokio::fs::remove_file(&path).await;
        let why = answer["error"].as_str().unwrap_or_default().to_string();
        return bad(why, status);
    }
    render(kind, &ctx, StatusCode::OK, Some(answer), &token, None)
}

/// `POST` of an import's confirmation (`token`, `mode` all or valid).
async fn confirm(
    kind: &Kind,
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
                kind,
                &ctx,
                StatusCode::BAD_REQUEST,
                None,
                "",
                Some(ctx.t("crm.import.choose")),
            )
        }
    };
    let token = f.text("token");
    let path = kept(kind, &data_dir.join(upload::TEMP_DIR), &token);
    let bytes = match &path {
        Some(p) => tokio::fs::read(p).await.ok(),
        None => None,
    };
    let Some(bytes) = bytes else {
        return render(
            kind,
            &ctx,
            StatusCode::GONE,
            None,
            "",
            Some(ctx.t("crm.import.expired")),
        );
    };
    let (status, answer) = import_bytes(&state, &who, kind.entity, bytes, mode).await;
    if status == StatusCode::OK {
        if let Some(p) = path {
            let _ = tokio::fs::remove_file(p).await;
        }
        return render(kind, &ctx, status, Some(answer), "", None);
    }
    // "all" with bad rows: nothing imported; the file stays for another choice.
    let why = answer["error"].as_str().unwrap_or_default().to_string();
    render(kind, &ctx, status, Some(answer), &token, Some(why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// The keys the pages look up at run time (the template test sees only
    /// the template's literal keys) are in both catalogs.
    #[test]
    fn every_import_page_text_and_field_label_is_in_both_catalogs() {
        let mut missing = Vec::new();
        for kind in KINDS {
            let labels = kind.entity.fields().iter().map(|f| (kind.label)(f.name));
            let texts = [
                kind.title,
                kind.intro,
                kind.field,
                kind.done,
                kind.export_xlsx,
                kind.export_csv,
                kind.back,
            ]
            .map(str::to_string);
            for key in labels.chain(texts) {
                for lang in Lang::ALL {
                    if lang.t(&key, &[]) == key {
                        missing.push(format!("{key} ({})", lang.code()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "unknown message keys: {missing:?}");
    }
}
