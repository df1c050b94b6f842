//! Spreadsheet import and export of contacts (issue 16, 5): Excel `.xlsx`
//! or CSV, read by `crates/sheets`.
//!
//! `POST /api/contacts/import?mode=preview|all|valid` takes the file as the
//! request body. Every row is checked the way the contact form checks it
//! (plus the sheet's own problems: formulas, error cells), and each bad row
//! is reported by its row number in the user's file and the reason.
//! `preview` saves nothing and shows the column mapping and the first rows;
//! `all` saves every row or, if any row is bad, nothing; `valid` saves the
//! good rows and lists the bad ones it left out. Never a silent partial
//! import: what was saved and what was not is always in the answer.
//!
//! `GET /api/contacts/export?format=xlsx|csv&view=&q=` writes the contacts
//! of a tab within the caller's scope.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sheets::{Field, Limits};
use store::{ContactFields, ContactQuery, ContactView, StoreError};

use super::crm::{refused, scope_of};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::{api_error, json};

/// The columns of an import, with the header names Chinese and English
/// users give them.
const FIELDS: &[Field] = &[
    Field {
        name: "name",
        aliases: &["姓名", "联系人", "名称", "Name", "Contact"],
        required: true,
    },
    Field {
        name: "mobile",
        aliases: &["手机", "手机号", "手机号码", "Mobile", "Cell"],
        required: false,
    },
    Field {
        name: "phone",
        aliases: &["电话", "座机", "座机电话", "固定电话", "Phone", "Telephone"],
        required: false,
    },
    Field {
        name: "gender",
        aliases: &["性别", "Gender", "Sex"],
        required: false,
    },
    Field {
        name: "birthday",
        aliases: &["生日", "出生日期", "Birthday"],
        required: false,
    },
    Field {
        name: "email",
        aliases: &["邮箱", "电子邮件", "E-mail", "Email"],
        required: false,
    },
    Field {
        name: "wechat",
        aliases: &["微信", "WeChat"],
        required: false,
    },
    Field {
        name: "city",
        aliases: &["城市", "City"],
        required: false,
    },
    Field {
        name: "address",
        aliases: &["地址", "Address"],
        required: false,
    },
    Field {
        name: "business_status",
        aliases: &["业务状态", "状态", "Status"],
        required: false,
    },
    Field {
        name: "remarks",
        aliases: &["备注", "Remarks", "Notes"],
        required: false,
    },
];

/// The columns of an export, in order (the import reads them back).
const EXPORT: &[&str] = &[
    "name",
    "mobile",
    "phone",
    "gender",
    "birthday",
    "email",
    "wechat",
    "city",
    "address",
    "business_status",
    "remarks",
];

/// Most rows one export writes.
pub const MAX_EXPORT: usize = 200_000;

/// A cell's text as the contact's gender ("男"/"女" and English words too).
fn gender(text: &str) -> String {
    match text.trim().to_lowercase().as_str() {
        "男" | "m" | "male" => "male".into(),
        "女" | "f" | "female" => "female".into(),
        "" | "未知" | "unknown" => "unknown".into(),
        // Left as typed: the check names it.
        other => other.to_string(),
    }
}

/// One row of the sheet as contact fields owned by `owner`.
fn contact_of(mapping: &[Option<&'static str>], cells: &[String], owner: i64) -> ContactFields {
    let mut c = ContactFields {
        owner_id: Some(owner),
        gender: "unknown".into(),
        sharing: "private".into(),
        ..ContactFields::default()
    };
    for (field, cell) in mapping.iter().zip(cells) {
        let v = cell.trim().to_string();
        match field {
            Some("name") => c.name = v,
            Some("mobile") => c.mobile = v,
            Some("phone") => c.phone = v,
            Some("gender") => c.gender = gender(&v),
            // A date typed as text with slashes or dots, as Excel users do.
            Some("birthday") => c.birthday = v.replace(['/', '.'], "-"),
            Some("email") => c.email = v,
            Some("wechat") => c.wechat = v,
            Some("city") => c.city = v,
            Some("address") => c.address = v,
            Some("business_status") => c.business_status = v,
            Some("remarks") => c.remarks = v,
            _ => {}
        }
    }
    c
}

/// `POST /api/contacts/import?mode=preview|all|valid`: the body is the
/// spreadsheet (.xlsx or CSV, at most 50 MiB and 200,000 rows).
#[utoipa::path(post, path = "/api/contacts/import", tag = "crm", params(("mode" = Option<String>, Query, description = "preview (default: check and show, save nothing), all (save every row, or nothing if any row is bad), valid (save the good rows, list the bad ones)")), request_body(content = Vec<u8>, description = "the spreadsheet: Excel .xlsx or CSV (UTF-8 or GB18030), header in row 1", content_type = "application/octet-stream"), responses((status = 200, description = "{format, rows, mapping: [{header, field}], unknown, sample, bad_rows: [{row, errors}], imported, ids}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn import_contacts(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    let mode = match q.text("mode").as_str() {
        "" | "preview" => "preview",
        "all" => "all",
        "valid" => "valid",
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "mode: preview, all or valid",
                Some("mode"),
            )
        }
    };
    let limits = Limits::default();
    let Some(data_dir) = state.data_dir() else {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no data directory to receive the file in",
            None,
        );
    };
    let bytes = match super::receive_body(
        &data_dir,
        req,
        limits.max_bytes,
        &format!("the file is larger than {} MiB", limits.max_bytes >> 20),
        "an import",
    )
    .await
    {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (status, answer) = import_bytes(&state, &who, bytes, mode).await;
    json(status, &answer)
}

/// An error answer as [`import_bytes`] gives it.
fn failure(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": message, "field": "file" }))
}

/// Reads `bytes` as a spreadsheet of contacts and, by `mode` (preview, all,
/// valid), checks or saves them for `who`: the API's answer and its status
/// (the import page shows the same).
pub async fn import_bytes(
    state: &AppState,
    who: &Identity,
    bytes: Vec<u8>,
    mode: &str,
) -> (StatusCode, Value) {
    let limits = Limits::default();
    // Reading a big workbook takes a second or two of CPU: off the runtime.
    let read = tokio::task::spawn_blocking(move || sheets::read(&bytes, &limits)).await;
    let sheet = match read {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failure(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => {
            tracing::error!("reading a spreadsheet: {e}");
            return failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the spreadsheet failed, see the server log",
            );
        }
    };
    let mapping = sheets::map_columns(&sheet.headers, FIELDS);
    if !mapping.missing.is_empty() {
        return failure(
            StatusCode::BAD_REQUEST,
            &format!(
                "no column for {}: name a column in row 1 '{}' (or 姓名)",
                mapping.missing.join(", "),
                mapping.missing.join("', '")
            ),
        );
    }
    // Check every row as the form would; keep the good ones.
    let mut good: Vec<ContactFields> = Vec::new();
    let mut bad: Vec<Value> = Vec::new();
    for row in &sheet.rows {
        let mut errors = row.problems.clone();
        let c = contact_of(&mapping.columns, &row.cells, who.user.id);
        match c.normalized() {
            Ok(c) => {
                if errors.is_empty() {
                    good.push(c);
                }
            }
            Err(StoreError::InvalidField(e)) => errors.push(e.to_string()),
            Err(e) => {
                tracing::error!("checking an imported row: {e}");
                return failure(StatusCode::INTERNAL_SERVER_ERROR, "see the server log");
            }
        }
        if !errors.is_empty() {
            bad.push(json!({ "row": row.number, "errors": errors }));
        }
    }
    let columns: Vec<Value> = sheet
        .headers
        .iter()
        .zip(&mapping.columns)
        .map(|(h, f)| json!({ "header": h, "field": f }))
        .collect();
    let sample: Vec<Value> = sheet
        .rows
        .iter()
        .take(10)
        .map(|r| json!({ "row": r.number, "cells": r.cells }))
        .collect();
    let mut answer = json!({
        "mode": mode,
        "format": match sheet.format { sheets::Format::Xlsx => "xlsx", sheets::Format::Csv => "csv" },
        "rows": sheet.rows.len(),
        "headers": sheet.headers,
        "mapping": columns,
        "unknown": mapping.unknown,
        "repeated": mapping.repeated,
        "sample": sample,
        "bad_rows": bad,
        "good_rows": good.len(),
        "imported": 0,
    });
    let save = match mode {
        "all" if !bad.is_empty() => {
            answer["error"] = json!(format!(
                "{} of {} rows are bad: nothing was imported (fix them, or import the good rows only)",
                bad.len(),
                sheet.rows.len()
            ));
            return (StatusCode::BAD_REQUEST, answer);
        }
        "all" | "valid" => true,
        _ => false,
    };
    if save && !good.is_empty() {
        match state.store().create_contacts(good, Some(who.user.id)).await {
            Ok(ids) => {
                answer["imported"] = json!(ids.len());
                answer["ids"] = json!(ids);
            }
            Err(StoreError::InvalidRows(rows)) => {
                // Checked above; a row the store still refuses is named.
                answer["error"] = json!(format!(
                    "{} rows cannot be saved; nothing was imported",
                    rows.len()
                ));
                return (StatusCode::BAD_REQUEST, answer);
            }
            Err(e) => {
                tracing::error!("importing contacts: {e}");
                return failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "saving failed, see the server log",
                );
            }
        }
    }
    (StatusCode::OK, answer)
}

/// `GET /api/contacts/export?format=xlsx|csv&view=all&q=`: the contacts of
/// a tab within the caller's scope (at most 200,000), as a download.
#[utoipa::path(get, path = "/api/contacts/export", tag = "crm", params(("format" = Option<String>, Query, description = "xlsx (default) or csv"), ("view" = Option<String>, Query, description = "all (default), mine, unassigned, voided, appointments, failed"), ("q" = Option<String>, Query, description = "the start of the name or of a number")), responses((status = 200, description = "the spreadsheet", content_type = "application/octet-stream"), crate::api::doc::Errors))]
pub async fn export_contacts(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let format = match q.text("format").as_str() {
        "" | "xlsx" => "xlsx",
        "csv" => "csv",
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "format: xlsx or csv",
                Some("format"),
            )
        }
    };
    let view = match q.text("view").as_str() {
        "" | "all" => ContactView::All,
        "mine" => ContactView::OwnedBy(who.user.id),
        "unassigned" => ContactView::Unassigned,
        "voided" => ContactView::Voided,
        "appointments" => ContactView::Appointments,
        "failed" => ContactView::CallFailed,
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "view: all, mine, unassigned, voided, appointments or failed",
                Some("view"),
            )
        }
    };
    let scope = match scope_of(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut offset = 0;
    loop {
        let page = match state
            .store()
            .list_contacts(&ContactQuery {
                view,
                scope: scope.clone(),
                search: q.text("q"),
                category_id: None,
                limit: 500,
                offset,
            })
            .await
        {
            Ok(p) => p,
            Err(e) => return refused(e),
        };
        let n = page.rows.len();
        for c in page.rows {
            let f = c.fields;
            rows.push(vec![
                f.name,
                f.mobile,
                f.phone,
                f.gender,
                f.birthday,
                f.email,
                f.wechat,
                f.city,
                f.address,
                f.business_status,
                f.remarks,
            ]);
        }
        offset += n as i64;
        if n < 500 || rows.len() >= MAX_EXPORT {
            break;
        }
    }
    rows.truncate(MAX_EXPORT);
    let written = tokio::task::spawn_blocking(move || {
        if format == "csv" {
            sheets::write_csv(EXPORT, rows)
        } else {
            sheets::write_xlsx("contacts", EXPORT, rows)
        }
    })
    .await;
    let bytes = match written {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::error!("writing an export: {e}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "writing the export failed, see the server log",
                None,
            );
        }
        Err(e) => {
            tracing::error!("writing an export: {e}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "writing the export failed, see the server log",
                None,
            );
        }
    };
    let (ctype, name) = if format == "csv" {
        ("text/csv; charset=utf-8", "contacts.csv")
    } else {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "contacts.xlsx",
        )
    };
    (
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
