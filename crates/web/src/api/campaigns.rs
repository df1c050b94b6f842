//! Outbound campaigns over the API, first part (the manual's 8.1.1, 8.1.2,
//! 8.2.1, 8.2.2): batches and their fields, the template and data imports,
//! rows, import records, filter forms with their matches, and the filter
//! records.
//!
//! Batches are scoped: administrators see every batch, other users the
//! batches of their departments and those they created ([`batch_scope`]);
//! a batch outside the caller's scope answers 404, as do its rows, imports
//! and filters.
//!
//! A data import (`POST /api/campaigns/batches/{id}/import?mode=`) follows
//! the CRM's rules (see [`super::import`]): `preview` saves nothing and
//! shows the column mapping, the first rows and the bad rows; `all` saves
//! every good row or, if any row is bad, nothing; `valid` saves the good
//! rows and lists the bad ones. Bad rows are named by their row number in
//! the file: a required value missing, a number or date that does not
//! read, a choice not in the field's dictionary. Numbers that are invalid,
//! already in the batch (or earlier in the file) or on the do-not-call list
//! are not errors: in every mode they are skipped, listed and counted by
//! reason, and the import record keeps the counts.
//!
//! These functions are the pages' too (`pages::campaigns`): one set of
//! rules for both.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use callcenter::campaign::filter::{self, Condition, Join, Op, ValueType};
use serde_json::{json, Value};
use sheets::Limits;
use store::{
    Batch, BatchFields, BatchScope, CampaignField, CampaignRow, FilterFields, NewRow, RowQuery,
    SkipReason, StoreError,
};

use super::body_json;
use super::crm::{merged, not_found, refused};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::state::AppState;
use crate::view::{api_error, json};

/// Rows of one page of a list.
pub const PAGE_SIZE: i64 = 50;

/// Most records a records list shows.
const RECORDS_LIMIT: i64 = 500;

/// The batches `who` sees: every batch for an administrator, else those of
/// their departments and their own.
pub async fn batch_scope(state: &AppState, who: &Identity) -> Result<BatchScope, StoreError> {
    if who.user.is_admin {
        return Ok(BatchScope::All);
    }
    Ok(BatchScope::Of {
        departments: state.store().user_department_ids(who.user.id).await?,
        user: who.user.id,
    })
}

/// Batch `id` if the caller's scope covers it; else the 404 (or the
/// storage error's answer).
pub async fn visible_batch(state: &AppState, who: &Identity, id: i64) -> Result<Batch, Response> {
    let scope = batch_scope(state, who).await.map_err(refused)?;
    match state.store().get_batch(id).await {
        Ok(Some(b)) if scope.covers(&b) => Ok(b),
        Ok(_) => Err(not_found("batch", id)),
        Err(e) => Err(refused(e)),
    }
}

/// The values of the dictionaries of `fields`' choice fields, by
/// dictionary name: `(value, label)` pairs.
pub async fn dictionaries_of(
    state: &AppState,
    fields: &[CampaignField],
) -> Result<HashMap<String, Vec<(String, String)>>, StoreError> {
    let mut out = HashMap::new();
    for f in fields {
        if f.dictionary.is_empty() || out.contains_key(&f.dictionary) {
            continue;
        }
        let items = state.store().dictionary(&f.dictionary).await?;
        out.insert(
            f.dictionary.clone(),
            items.into_iter().map(|i| (i.value, i.label)).collect(),
        );
    }
    Ok(out)
}

/// A value of field `f` as stored, or why it cannot be: a required value
/// missing, a number or date that does not read, a choice that is neither
/// a value nor a label of the field's dictionary. Dates are kept as
/// `YYYY-MM-DD` (and ` HH:MM:SS` for date-times).
pub fn check_value(
    f: &CampaignField,
    raw: &str,
    dictionaries: &HashMap<String, Vec<(String, String)>>,
) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() {
        return if f.required {
            Err(format!("{}: a value is required", f.title))
        } else {
            Ok(String::new())
        };
    }
    if f.style == "choice" || !f.dictionary.is_empty() {
        let items = dictionaries
            .get(&f.dictionary)
            .map(Vec::as_slice)
            .unwrap_or_default();
        return items
            .iter()
            .find(|(value, label)| value == v || label == v)
            .map(|(value, _)| value.clone())
            .ok_or_else(|| {
                let values: Vec<&str> = items.iter().map(|(value, _)| value.as_str()).collect();
                format!(
                    "{}: '{v}' is not one of the dictionary's values ({})",
                    f.title,
                    values.join(", ")
                )
            });
    }
    match ValueType::parse(&f.data_type).unwrap_or_default() {
        ValueType::Text => {
            if v.chars().count() > 2000 {
                Err(format!("{}: at most 2000 characters", f.title))
            } else {
                Ok(v.to_string())
            }
        }
        ValueType::Number => filter::number(v)
            .map(|_| v.to_string())
            .ok_or_else(|| format!("{}: '{v}' is not a number", f.title)),
        ValueType::Date => filter::date(v)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .ok_or_else(|| format!("{}: '{v}' is not a date (YYYY-MM-DD)", f.title)),
        ValueType::DateTime => filter::date(v)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .ok_or_else(|| {
                format!(
                    "{}: '{v}' is not a date and time (YYYY-MM-DD HH:MM)",
                    f.title
                )
            }),
    }
}

/// Checks a row given by field key (`phone` the number, `values` the
/// others; keys the batch does not have are refused): the row to save, or
/// every problem as `(field key, message)`.
pub fn check_row(
    fields: &[CampaignField],
    dictionaries: &HashMap<String, Vec<(String, String)>>,
    phone: &str,
    values: &BTreeMap<String, String>,
) -> Result<NewRow, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = BTreeMap::new();
    for k in values.keys() {
        if !fields.iter().any(|f| &f.key == k && !f.is_phone) {
            errors.push((k.clone(), format!("the batch has no field '{k}'")));
        }
    }
    for f in fields.iter().filter(|f| !f.is_phone) {
        let raw = values.get(&f.key).map_or("", String::as_str);
        match check_value(f, raw, dictionaries) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                out.insert(f.key.clone(), v);
            }
            Err(e) => errors.push((f.key.clone(), e)),
        }
    }
    if errors.is_empty() {
        Ok(NewRow {
            phone: phone.trim().to_string(),
            values: out,
        })
    } else {
        Err(errors)
    }
}

/// An error answer of a spreadsheet route.
fn file_failure(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": message, "field": "file" }))
}

/// Reads an uploaded spreadsheet off the runtime.
async fn read_sheet(bytes: Vec<u8>) -> Result<sheets::Sheet, (StatusCode, Value)> {
    let limits = Limits::default();
    match tokio::task::spawn_blocking(move || sheets::read(&bytes, &limits)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(file_failure(StatusCode::BAD_REQUEST, &e.to_string())),
        Err(e) => {
            tracing::error!("reading a spreadsheet: {e}");
            Err(file_failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the spreadsheet failed, see the server log",
            ))
        }
    }
}

/// A storage error as `(status, answer)`.
fn store_failure(e: StoreError) -> (StatusCode, Value) {
    match e {
        StoreError::InvalidField(f) => (
            StatusCode::BAD_REQUEST,
            json!({ "error": f.to_string(), "field": f.field }),
        ),
        StoreError::CrmNotFound(what, id) => (
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no {what} {id}"), "field": null }),
        ),
        other => {
            tracing::error!("campaigns: {other}");
            file_failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "saving failed, see the server log",
            )
        }
    }
}

/// Makes batch `id`'s fields from a template's header row (see
/// [`store::Store::apply_campaign_template`]): the answer and its status.
pub async fn template_bytes(state: &AppState, id: i64, bytes: Vec<u8>) -> (StatusCode, Value) {
    let sheet = match read_sheet(bytes).await {
        Ok(s) => s,
        Err(f) => return f,
    };
    match state
        .store()
        .apply_campaign_template(id, &sheet.headers)
        .await
    {
        Ok(fields) => {
            let phone = fields.iter().find(|f| f.is_phone).map(|f| f.key.clone());
            let mut answer = json!({ "fields": fields, "phone_field": phone });
            if phone.is_none() {
                answer["warning"] = json!(
                    "no column looks like a phone number: edit the number's field and mark it \
                     as the phone number before importing data"
                );
            }
            (StatusCode::OK, answer)
        }
        Err(e) => store_failure(e),
    }
}

/// Reads `bytes` as data for batch `id` and, by `mode` (preview, all,
/// valid), checks or saves its rows for `who`: the answer and its status
/// (the batch page shows the same).
pub async fn import_bytes(
    state: &AppState,
    who: &Identity,
    id: i64,
    bytes: Vec<u8>,
    mode: &str,
) -> (StatusCode, Value) {
    let sheet = match read_sheet(bytes).await {
        Ok(s) => s,
        Err(f) => return f,
    };
    let store = state.store();
    let fields = match store.campaign_fields(id).await {
        Ok(f) => f,
        Err(e) => return store_failure(e),
    };
    // A field left out of imports has no column: its "required" is for
    // the forms, not for the file.
    let fields: Vec<CampaignField> = fields
        .into_iter()
        .map(|mut f| {
            f.required &= !f.io_disabled;
            f
        })
        .collect();
    let Some(phone_field) = fields.iter().find(|f| f.is_phone) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({
                "error": "the batch has no phone field: upload a template and mark its number \
                          column as the phone number first",
                "field": "phone",
            }),
        );
    };
    let dictionaries = match dictionaries_of(state, &fields).await {
        Ok(d) => d,
        Err(e) => return store_failure(e),
    };
    // Columns by title (ignoring case and blanks); fields left out of
    // imports take no column.
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let columns: Vec<Option<&CampaignField>> = sheet
        .headers
        .iter()
        .map(|h| {
            fields
                .iter()
                .find(|f| !f.io_disabled && norm(&f.title) == norm(h))
        })
        .collect();
    let Some(phone_column) = columns
        .iter()
        .position(|c| c.is_some_and(|f| f.key == phone_field.key))
    else {
        return file_failure(
            StatusCode::BAD_REQUEST,
            &format!(
                "no column for the phone field: name a column in row 1 '{}'",
                phone_field.title
            ),
        );
    };
    let mut good: Vec<(usize, NewRow)> = Vec::new();
    let mut bad: Vec<Value> = Vec::new();
    for row in &sheet.rows {
        let mut values = BTreeMap::new();
        for (cell, column) in row.cells.iter().zip(&columns) {
            if let Some(f) = column {
                if !f.is_phone {
                    values.insert(f.key.clone(), cell.clone());
                }
            }
        }
        let phone = row.cells.get(phone_column).map_or("", String::as_str);
        let mut errors = row.problems.clone();
        match check_row(&fields, &dictionaries, phone, &values) {
            Ok(r) if errors.is_empty() => good.push((row.number, r)),
            Ok(_) => {}
            Err(e) => errors.extend(e.into_iter().map(|(_, m)| m)),
        }
        if !errors.is_empty() {
            bad.push(json!({ "row": row.number, "errors": errors }));
        }
    }
    let mapping: Vec<Value> = sheet
        .headers
        .iter()
        .zip(&columns)
        .map(|(h, f)| json!({ "header": h, "field": f.map(|f| f.key.clone()), "title": f.map(|f| f.title.clone()) }))
        .collect();
    let unknown: Vec<&String> = sheet
        .headers
        .iter()
        .zip(&columns)
        .filter(|(h, f)| f.is_none() && !h.is_empty())
        .map(|(h, _)| h)
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
        "mapping": mapping,
        "unknown": unknown,
        "sample": sample,
        "bad_rows": bad,
        "good_rows": good.len(),
        "imported": 0,
        "invalid": 0,
        "duplicate": 0,
        "dnc": 0,
        "skipped": [],
    });
    let skipped_json = |skipped: &[(usize, SkipReason)]| -> Value {
        Value::Array(
            skipped
                .iter()
                .filter_map(|(i, why)| {
                    good.get(*i).map(|(number, r)| {
                        json!({ "row": number, "phone": r.phone, "reason": why.as_str() })
                    })
                })
                .collect(),
        )
    };
    let save = match mode {
        "all" if !bad.is_empty() => {
            answer["error"] = json!(format!(
                "{} of {} rows are bad: nothing was imported (fix them, or import the good rows only)",
                bad.len(),
                sheet.rows.len()
            ));
            false
        }
        "all" | "valid" => true,
        _ => false,
    };
    if !save {
        // What an import would skip, nothing saved.
        let phones: Vec<String> = good.iter().map(|(_, r)| r.phone.clone()).collect();
        let verdicts = match store.check_campaign_phones(id, &phones).await {
            Ok(v) => v,
            Err(e) => return store_failure(e),
        };
        let skipped: Vec<(usize, SkipReason)> = verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().err().map(|why| (i, *why)))
            .collect();
        let count = |r: SkipReason| skipped.iter().filter(|(_, w)| *w == r).count();
        answer["invalid"] = json!(count(SkipReason::Invalid));
        answer["duplicate"] = json!(count(SkipReason::Duplicate));
        answer["dnc"] = json!(count(SkipReason::Dnc));
        answer["would_import"] = json!(good.len() - skipped.len());
        answer["skipped"] = skipped_json(&skipped);
        let status = if answer.get("error").is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        return (status, answer);
    }
    let rows: Vec<NewRow> = good.iter().map(|(_, r)| r.clone()).collect();
    match store
        .import_campaign_rows(id, &rows, Some(who.user.id))
        .await
    {
        Ok(counts) => {
            answer["imported"] = json!(counts.imported);
            answer["invalid"] = json!(counts.invalid);
            answer["duplicate"] = json!(counts.duplicate);
            answer["dnc"] = json!(counts.dnc);
            answer["import_id"] = json!(counts.import_id);
            answer["skipped"] = skipped_json(&counts.skipped);
            (StatusCode::OK, answer)
        }
        Err(e) => store_failure(e),
    }
}

/// Receives a spreadsheet body (50 MiB at most) into the data dir.
async fn receive_sheet(state: &AppState, req: Request) -> Result<Vec<u8>, Box<Response>> {
    let limits = Limits::default();
    let Some(data_dir) = state.data_dir() else {
        return Err(Box::new(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no data directory to receive the file in",
            None,
        )));
    };
    super::receive_body(
        &data_dir,
        req,
        limits.max_bytes,
        &format!("the file is larger than {} MiB", limits.max_bytes >> 20),
        "a campaign spreadsheet",
    )
    .await
}

/// `mode=preview|all|valid` (preview when not given).
pub fn import_mode(mode: &str) -> Option<&'static str> {
    match mode {
        "" | "preview" => Some("preview"),
        "all" => Some("all"),
        "valid" => Some("valid"),
        _ => None,
    }
}

/// The page number of `?page=` (from 1).
fn page_of(q: &crate::form::Fields) -> i64 {
    q.text("page").parse::<i64>().unwrap_or(1).max(1)
}

/// An optional id of the query, or the 400 naming it.
fn opt_id(q: &crate::form::Fields, name: &str) -> Result<Option<i64>, Box<Response>> {
    match q.text(name).as_str() {
        "" => Ok(None),
        v => v.parse::<i64>().map(Some).map_err(|_| {
            Box::new(api_error(
                StatusCode::BAD_REQUEST,
                &format!("{name}: an id"),
                Some(name),
            ))
        }),
    }
}

/// Conditions as JSON (`[{field, op, value, values, join}]`), each checked
/// for its shape: the conditions, or `(index, part, message)` of the first
/// that is malformed.
pub fn parse_conditions(v: &Value) -> Result<Vec<Condition>, (usize, &'static str, String)> {
    let Some(list) = v.as_array() else {
        return Err((0, "conditions", "conditions: a list".into()));
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let op_text = text("op");
        let Some(op) = Op::parse(&op_text) else {
            return Err((
                i,
                "op",
                format!(
                    "condition {}: '{op_text}' is not an operator (eq, ne, contains, gt, lt, ge, \
                     le, empty, not_empty, in)",
                    i + 1
                ),
            ));
        };
        let join_text = text("join");
        let join = if join_text.is_empty() {
            Join::And
        } else {
            match Join::parse(&join_text.to_lowercase()) {
                Some(j) => j,
                None => return Err((i, "join", format!("condition {}: join is and or or", i + 1))),
            }
        };
        let value = match c.get("value") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let values = c
            .get("values")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Condition {
            field: text("field"),
            op,
            value,
            values,
            join,
        });
    }
    Ok(out)
}

/// Checks `conditions` against batch `batch`'s fields: `None` when they
/// are good, else `(index, part, message)` of the first bad one.
pub async fn check_conditions(
    state: &AppState,
    batch: i64,
    conditions: &[Condition],
) -> Result<Option<(usize, &'static str, String)>, StoreError> {
    let specs = state.store().campaign_field_specs(batch).await?;
    Ok(filter::validate(conditions, &specs)
        .err()
        .map(|e| (e.index, e.part.as_str(), e.to_string())))
}

/// The 400 of a bad condition: `field` is `conditions[i].part`.
fn condition_error((index, part, message): (usize, &'static str, String)) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        &message,
        Some(&format!("conditions[{index}].{part}")),
    )
}

/// A row as the API shows it: its values under their keys, the number
/// under the phone field's key too.
fn row_json(r: &CampaignRow, fields: &[CampaignField]) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(p) = fields.iter().find(|f| f.is_phone) {
        v["values"][&p.key] = json!(r.phone);
    }
    v
}

/// `GET /api/campaigns/batches`: the batches the caller sees.
#[utoipa::path(get, path = "/api/campaigns/batches", tag = "campaigns", responses((status = 200, description = "{batches: [{id, name, kind, description, department_id, created_by, rows, created_at, updated_at}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_batches(who: Identity, State(state): State<AppState>) -> Response {
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match state.store().list_batches(&scope).await {
        Ok(b) => json(StatusCode::OK, &json!({ "batches": b })),
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/batches`: a new batch (`name`, `kind`: temporary,
/// planned or external, `description`, `department_id`; a non-admin's
/// batch belongs to their first department unless the body names one of
/// theirs).
#[utoipa::path(post, path = "/api/campaigns/batches", tag = "campaigns", request_body(content = serde_json::Value, description = "{name (required, unique), kind (temporary, planned, external), description, department_id}", content_type = "application/json"), responses((status = 200, description = "the batch", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_batch(who: Identity, State(state): State<AppState>, body: String) -> Response {
    let f: BatchFields = match merged(&BatchFields::default(), &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let f = match own_department(&state, &who, f).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state.store().create_batch(f, Some(who.user.id)).await {
        Ok(id) => match state.store().get_batch(id).await {
            Ok(Some(b)) => json(StatusCode::OK, &b),
            Ok(None) => not_found("batch", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// The batch's department: a non-admin may name only one of theirs, and
/// gets their first when they name none.
pub async fn own_department(
    state: &AppState,
    who: &Identity,
    mut f: BatchFields,
) -> Result<BatchFields, Box<Response>> {
    if who.user.is_admin {
        return Ok(f);
    }
    let mine = state
        .store()
        .user_department_ids(who.user.id)
        .await
        .map_err(|e| Box::new(refused(e)))?;
    match f.department_id {
        None => f.department_id = mine.first().copied(),
        Some(d) if !mine.contains(&d) => {
            return Err(Box::new(api_error(
                StatusCode::BAD_REQUEST,
                &format!("department {d} is not one of yours"),
                Some("department_id"),
            )))
        }
        Some(_) => {}
    }
    Ok(f)
}

/// `GET /api/campaigns/batches/{id}`: a batch with its fields.
#[utoipa::path(get, path = "/api/campaigns/batches/{id}", tag = "campaigns", params(("id" = i64, Path, description = "batch id")), responses((status = 200, description = "the batch and its fields: {batch, fields: [{key, title, data_type, is_phone, style, dictionary, required, positions, io_disabled, position}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_batch(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    let b = match visible_batch(&state, &who, id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match state.store().campaign_fields(id).await {
        Ok(fields) => json(StatusCode::OK, &json!({ "batch": b, "fields": fields })),
        Err(e) => refused(e),
    }
}

/// `PUT /api/campaigns/batches/{id}`: changes the fields the body gives.
#[utoipa::path(put, path = "/api/campaigns/batches/{id}", tag = "campaigns", params(("id" = i64, Path, description = "batch id")), request_body(content = serde_json::Value, description = "any of name, kind, description, department_id", content_type = "application/json"), responses((status = 200, description = "the batch as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_batch(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let b = match visible_batch(&state, &who, id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let f: BatchFields = match merged(&b.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let f = match own_department(&state, &who, f).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(e) = state.store().update_batch(id, f).await {
        return refused(e);
    }
    match state.store().get_batch(id).await {
        Ok(Some(b)) => json(StatusCode::OK, &b),
        Ok(None) => not_found("batch", id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/campaigns/batches/{id}`: the batch with its fields, rows,
/// import records and filters (refused while activities hold rows).
#[utoipa::path(delete, path = "/api/campaigns/batches/{id}", tag = "campaigns", params(("id" = i64, Path, description = "batch id")), responses((status = 200, description = "deleted", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_batch(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    match state.store().delete_batch(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(StoreError::InvalidField(f)) => {
            api_error(StatusCode::CONFLICT, &f.to_string(), Some(f.field))
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/batches/{id}/template`: the body is a spreadsheet
/// whose header row becomes the batch's fields.
#[utoipa::path(post, path = "/api/campaigns/batches/{id}/template", tag = "campaigns", params(("id" = i64, Path, description = "batch id")), request_body(content = Vec<u8>, description = "an Excel .xlsx or CSV file; row 1 names the columns. A column the batch has no field of becomes one; the phone field is guessed from a header such as 号码, 电话, 手机, phone, mobile, number. Fields are never dropped while the batch holds rows.", content_type = "application/octet-stream"), responses((status = 200, description = "{fields, phone_field (its key, or null with a warning)}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn upload_template(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    req: Request,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let bytes = match receive_sheet(&state, req).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (status, answer) = template_bytes(&state, id, bytes).await;
    json(status, &answer)
}

/// `PUT /api/campaigns/batches/{id}/fields/{key}`: changes a field (the
/// 编辑 form).
#[utoipa::path(put, path = "/api/campaigns/batches/{id}/fields/{key}", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("key" = String, Path, description = "field key (f1, f2, ...)")), request_body(content = serde_json::Value, description = "any of title, data_type (text, number, date, datetime), is_phone (one phone field: marking one unmarks the other; not while the batch holds rows), style (text, choice), dictionary (a system dictionary's name; a choice needs one), required, positions ([list, add, edit, detail]), io_disabled", content_type = "application/json"), responses((status = 200, description = "the field as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_field(
    who: Identity,
    State(state): State<AppState>,
    Path((id, key)): Path<(i64, String)>,
    body: String,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let fields = match state.store().campaign_fields(id).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let Some(current) = fields.into_iter().find(|f| f.key == key) else {
        return api_error(
            StatusCode::NOT_FOUND,
            &format!("batch {id} has no field '{key}'"),
            None,
        );
    };
    let change: CampaignField = match merged(&current, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state.store().update_campaign_field(id, &key, change).await {
        Ok(f) => json(StatusCode::OK, &f),
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/batches/{id}/import?mode=preview|all|valid`: the
/// body is the data spreadsheet.
#[utoipa::path(post, path = "/api/campaigns/batches/{id}/import", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("mode" = Option<String>, Query, description = "preview (default: check and show, save nothing), all (save every good row, or nothing if any row is bad), valid (save the good rows, list the bad ones)")), request_body(content = Vec<u8>, description = "an Excel .xlsx or CSV file whose row 1 names the batch's fields by title (the phone field's column is required)", content_type = "application/octet-stream"), responses((status = 200, description = "{mode, format, rows, headers, mapping: [{header, field, title}], unknown, sample, bad_rows: [{row, errors}], good_rows, imported, invalid, duplicate, dnc, skipped: [{row, phone, reason}], import_id}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn import_data(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    let Some(mode) = import_mode(&q.text("mode")) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "mode: preview, all or valid",
            Some("mode"),
        );
    };
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let bytes = match receive_sheet(&state, req).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (status, answer) = import_bytes(&state, &who, id, bytes, mode).await;
    json(status, &answer)
}

/// `GET /api/campaigns/batches/{id}/rows?q=&state=&page=`: a page of the
/// batch's rows, oldest first.
#[utoipa::path(get, path = "/api/campaigns/batches/{id}/rows", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("q" = Option<String>, Query, description = "text in the number or any value"), ("state" = Option<String>, Query, description = "unassigned, assigned, dialing, succeeded, failed, abnormal, voided, recalled"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{rows: [{id, phone, values, state, ...}], total, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_rows(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let fields = match state.store().campaign_fields(id).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let page = page_of(&q);
    let row_state = match q.text("state") {
        s if s.is_empty() => None,
        s if callcenter::campaign::ROW_STATES.contains(&s.as_str()) => Some(s),
        s => {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "state '{s}' is not one of {}",
                    callcenter::campaign::ROW_STATES.join(", ")
                ),
                Some("state"),
            )
        }
    };
    let query = RowQuery {
        batch_id: id,
        search: q.text("q"),
        state: row_state,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    match state.store().list_campaign_rows(&query).await {
        Ok(p) => {
            let rows: Vec<Value> = p.rows.iter().map(|r| row_json(r, &fields)).collect();
            json(
                StatusCode::OK,
                &json!({ "rows": rows, "total": p.total, "page": page, "page_size": PAGE_SIZE }),
            )
        }
        Err(e) => refused(e),
    }
}

/// A row body: `{phone, values: {key: value}}` (the phone field's value in
/// `values` is taken as the number when `phone` is not given).
fn row_body(
    body: &str,
    fields: &[CampaignField],
) -> Result<(String, BTreeMap<String, String>), Box<Response>> {
    let v = body_json(body)?;
    let bad = |m: &str, f: &str| Box::new(api_error(StatusCode::BAD_REQUEST, m, Some(f)));
    let Some(o) = v.as_object() else {
        return Err(bad("the body must be a JSON object", "body"));
    };
    if let Some(k) = o.keys().find(|k| *k != "phone" && *k != "values") {
        return Err(bad(&format!("unknown field '{k}'"), k));
    }
    let mut values = BTreeMap::new();
    if let Some(vals) = o.get("values") {
        let Some(vals) = vals.as_object() else {
            return Err(bad("values: an object of field key to value", "values"));
        };
        for (k, v) in vals {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Null => String::new(),
                _ => return Err(bad(&format!("values.{k}: text or a number"), k)),
            };
            values.insert(k.clone(), text);
        }
    }
    let phone_key = fields.iter().find(|f| f.is_phone).map(|f| f.key.clone());
    let from_values = phone_key.and_then(|k| values.remove(&k));
    let phone = match o.get("phone") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => from_values.unwrap_or_default(),
    };
    Ok((phone, values))
}

/// Checks a row body against the batch's fields: the row, or the 400.
async fn checked_body(
    state: &AppState,
    id: i64,
    body: &str,
) -> Result<(Vec<CampaignField>, NewRow), Box<Response>> {
    let fields = state
        .store()
        .campaign_fields(id)
        .await
        .map_err(|e| Box::new(refused(e)))?;
    let (phone, values) = row_body(body, &fields)?;
    let dictionaries = dictionaries_of(state, &fields)
        .await
        .map_err(|e| Box::new(refused(e)))?;
    match check_row(&fields, &dictionaries, &phone, &values) {
        Ok(r) => Ok((fields, r)),
        Err(errors) => {
            let (field, message) = errors.first().cloned().unwrap_or_default();
            Err(Box::new(api_error(
                StatusCode::BAD_REQUEST,
                &message,
                Some(&field),
            )))
        }
    }
}

/// `POST /api/campaigns/batches/{id}/rows`: adds a row by hand.
#[utoipa::path(post, path = "/api/campaigns/batches/{id}/rows", tag = "campaigns", params(("id" = i64, Path, description = "batch id")), request_body(content = serde_json::Value, description = "{phone, values: {field key: value}}; the number must be valid, new to the batch and not on the do-not-call list", content_type = "application/json"), responses((status = 200, description = "the row", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_row(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let (fields, row) = match checked_body(&state, id, &body).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match state.store().create_campaign_row(id, row).await {
        Ok(new) => match state.store().get_campaign_row(id, new).await {
            Ok(Some(r)) => json(StatusCode::OK, &row_json(&r, &fields)),
            Ok(None) => not_found("row", new),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// `GET /api/campaigns/batches/{id}/rows/{row}`: one row.
#[utoipa::path(get, path = "/api/campaigns/batches/{id}/rows/{row}", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("row" = i64, Path, description = "row id")), responses((status = 200, description = "the row", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_row(
    who: Identity,
    State(state): State<AppState>,
    Path((id, row)): Path<(i64, i64)>,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let fields = match state.store().campaign_fields(id).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    match state.store().get_campaign_row(id, row).await {
        Ok(Some(r)) => json(StatusCode::OK, &row_json(&r, &fields)),
        Ok(None) => not_found("row", row),
        Err(e) => refused(e),
    }
}

/// `PUT /api/campaigns/batches/{id}/rows/{row}`: changes a row's number
/// and values (the whole row: values not given are cleared).
#[utoipa::path(put, path = "/api/campaigns/batches/{id}/rows/{row}", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("row" = i64, Path, description = "row id")), request_body(content = serde_json::Value, description = "{phone, values: {field key: value}}", content_type = "application/json"), responses((status = 200, description = "the row as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_row(
    who: Identity,
    State(state): State<AppState>,
    Path((id, row)): Path<(i64, i64)>,
    body: String,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    let (fields, change) = match checked_body(&state, id, &body).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match state.store().update_campaign_row(id, row, change).await {
        Ok(()) => match state.store().get_campaign_row(id, row).await {
            Ok(Some(r)) => json(StatusCode::OK, &row_json(&r, &fields)),
            Ok(None) => not_found("row", row),
            Err(e) => refused(e),
        },
        Err(StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/campaigns/batches/{id}/rows/{row}`.
#[utoipa::path(delete, path = "/api/campaigns/batches/{id}/rows/{row}", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("row" = i64, Path, description = "row id")), responses((status = 200, description = "deleted", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_row(
    who: Identity,
    State(state): State<AppState>,
    Path((id, row)): Path<(i64, i64)>,
) -> Response {
    if let Err(r) = visible_batch(&state, &who, id).await {
        return r;
    }
    match state.store().delete_campaign_rows(id, &[row]).await {
        Ok(0) => not_found("row", row),
        Ok(_) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => refused(e),
    }
}

/// The header and rows of a batch's export: the fields that are not left
/// out of imports and exports, under their titles (so the file imports
/// back), the number in the phone field's column.
pub async fn export_rows(
    state: &AppState,
    id: i64,
) -> Result<(Vec<String>, Vec<Vec<String>>), StoreError> {
    let fields: Vec<CampaignField> = state
        .store()
        .campaign_fields(id)
        .await?
        .into_iter()
        .filter(|f| !f.io_disabled)
        .collect();
    let headers = fields.iter().map(|f| f.title.clone()).collect();
    let mut rows = Vec::new();
    let mut offset = 0;
    loop {
        let page = state
            .store()
            .list_campaign_rows(&RowQuery {
                batch_id: id,
                limit: 500,
                offset,
                ..RowQuery::default()
            })
            .await?;
        let n = page.rows.len();
        for r in page.rows {
            rows.push(
                fields
                    .iter()
                    .map(|f| {
                        if f.is_phone {
                            r.phone.clone()
                        } else {
                            r.values.get(&f.key).cloned().unwrap_or_default()
                        }
                    })
                    .collect(),
            );
        }
        offset += 500;
        if n < 500 || rows.len() >= super::import::MAX_EXPORT {
            break;
        }
    }
    Ok((headers, rows))
}

/// `GET /api/campaigns/batches/{id}/export?format=xlsx|csv`: the batch's
/// rows as a spreadsheet (audited).
#[utoipa::path(get, path = "/api/campaigns/batches/{id}/export", tag = "campaigns", params(("id" = i64, Path, description = "batch id"), ("format" = Option<String>, Query, description = "xlsx (default) or csv")), responses((status = 200, description = "the spreadsheet", content_type = "application/octet-stream"), crate::api::doc::Errors))]
pub async fn export(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
    parts: Parts,
) -> Response {
    let at = crate::auth::now_ms();
    let started = Instant::now();
    let (response, params) = export_response(&state, &who, id, &q.text("format")).await;
    super::import::audit_export(&state, &who, &parts, params, response.status(), at, started).await;
    response
}

/// The export's answer and what the audit entry says of it.
pub async fn export_response(
    state: &AppState,
    who: &Identity,
    id: i64,
    format: &str,
) -> (Response, String) {
    let format = match format {
        "" | "xlsx" => "xlsx",
        "csv" => "csv",
        _ => {
            return (
                api_error(
                    StatusCode::BAD_REQUEST,
                    "format: xlsx or csv",
                    Some("format"),
                ),
                String::new(),
            )
        }
    };
    if let Err(r) = visible_batch(state, who, id).await {
        return (r, String::new());
    }
    match export_rows(state, id).await {
        Ok((headers, rows)) => {
            let params = format!("({} rows of batch {id} as {format})", rows.len());
            (
                super::import::sheet_download("batch", format, headers, rows).await,
                params,
            )
        }
        Err(e) => (refused(e), String::new()),
    }
}

/// `GET /api/campaigns/imports?batch=`: the import records (8.2.1).
#[utoipa::path(get, path = "/api/campaigns/imports", tag = "campaigns", params(("batch" = Option<i64>, Query, description = "only this batch's")), responses((status = 200, description = "{imports: [{id, batch_id, title, imported, invalid, duplicate, dnc, created_by, created_at}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_imports(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let batch = match opt_id(&q, "batch") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match state
        .store()
        .list_campaign_imports(batch, &scope, RECORDS_LIMIT)
        .await
    {
        Ok(i) => json(StatusCode::OK, &json!({ "imports": i })),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/campaigns/imports/{id}`: the record and its rows that are
/// still unassigned; rows activities hold are kept.
#[utoipa::path(delete, path = "/api/campaigns/imports/{id}", tag = "campaigns", params(("id" = i64, Path, description = "import record id")), responses((status = 200, description = "{deleted (rows), kept (rows in use)}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_import(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    let record = match state.store().get_campaign_import(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found("import", id),
        Err(e) => return refused(e),
    };
    if visible_batch(&state, &who, record.batch_id).await.is_err() {
        return not_found("import", id);
    }
    match state.store().delete_campaign_import(id).await {
        Ok((deleted, kept)) => json(StatusCode::OK, &json!({ "deleted": deleted, "kept": kept })),
        Err(StoreError::CrmNotFound(what, id)) => not_found(what, id),
        Err(e) => refused(e),
    }
}

/// A filter body over `base`: the fields, or the 400 (a malformed
/// condition names its index).
fn filter_body(base: &FilterFields, body: &str) -> Result<FilterFields, Box<Response>> {
    let v = body_json(body)?;
    let Value::Object(mut o) = v else {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
            None,
        )));
    };
    let conditions = match o.remove("conditions") {
        Some(c) => Some(parse_conditions(&c).map_err(|e| Box::new(condition_error(e)))?),
        None => None,
    };
    let mut f: FilterFields = merged(base, &Value::Object(o).to_string())?;
    if let Some(c) = conditions {
        f.conditions = c;
    }
    Ok(f)
}

/// Checks a filter's batch is the caller's and its conditions are good:
/// the answer that says otherwise.
async fn check_filter(state: &AppState, who: &Identity, f: &FilterFields) -> Result<(), Response> {
    if visible_batch(state, who, f.batch_id).await.is_err() {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            &format!("batch {} does not exist", f.batch_id),
            Some("batch_id"),
        ));
    }
    match check_conditions(state, f.batch_id, &f.conditions).await {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(condition_error(e)),
        Err(e) => Err(refused(e)),
    }
}

/// The filter `id` if its batch is the caller's.
pub(super) async fn visible_filter(
    state: &AppState,
    who: &Identity,
    id: i64,
) -> Result<store::CampaignFilter, Response> {
    match state.store().get_campaign_filter(id).await {
        Ok(Some(f)) => match visible_batch(state, who, f.fields.batch_id).await {
            Ok(_) => Ok(f),
            Err(_) => Err(not_found("filter", id)),
        },
        Ok(None) => Err(not_found("filter", id)),
        Err(e) => Err(refused(e)),
    }
}

/// `GET /api/campaigns/filters`: the filter forms of the caller's batches.
#[utoipa::path(get, path = "/api/campaigns/filters", tag = "campaigns", responses((status = 200, description = "{filters: [{id, name, kind, batch_id, description, conditions, ...}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_filters(who: Identity, State(state): State<AppState>) -> Response {
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match state.store().list_campaign_filters(&scope).await {
        Ok(f) => json(StatusCode::OK, &json!({ "filters": f })),
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/filters`: a new filter form.
#[utoipa::path(post, path = "/api/campaigns/filters", tag = "campaigns", request_body(content = serde_json::Value, description = "{name, kind (batch, business), batch_id, description, conditions: [{field (a field key, phone or state), op (eq, ne, contains, gt, lt, ge, le, empty, not_empty, in), value, values (for in), join (and, or: links to the next condition; AND binds tighter than OR)}]}", content_type = "application/json"), responses((status = 200, description = "the filter", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_filter(who: Identity, State(state): State<AppState>, body: String) -> Response {
    let f = match filter_body(&FilterFields::default(), &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(r) = check_filter(&state, &who, &f).await {
        return r;
    }
    match state
        .store()
        .create_campaign_filter(f, Some(who.user.id))
        .await
    {
        Ok(id) => match state.store().get_campaign_filter(id).await {
            Ok(Some(f)) => json(StatusCode::OK, &f),
            Ok(None) => not_found("filter", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// `GET /api/campaigns/filters/{id}`: one filter form.
#[utoipa::path(get, path = "/api/campaigns/filters/{id}", tag = "campaigns", params(("id" = i64, Path, description = "filter id")), responses((status = 200, description = "the filter", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_filter(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    match visible_filter(&state, &who, id).await {
        Ok(f) => json(StatusCode::OK, &f),
        Err(r) => r,
    }
}

/// `PUT /api/campaigns/filters/{id}`: changes what the body gives.
#[utoipa::path(put, path = "/api/campaigns/filters/{id}", tag = "campaigns", params(("id" = i64, Path, description = "filter id")), request_body(content = serde_json::Value, description = "any of name, kind, batch_id, description, conditions", content_type = "application/json"), responses((status = 200, description = "the filter as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_filter(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let current = match visible_filter(&state, &who, id).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let f = match filter_body(&current.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(r) = check_filter(&state, &who, &f).await {
        return r;
    }
    if let Err(e) = state.store().update_campaign_filter(id, f).await {
        return refused(e);
    }
    match state.store().get_campaign_filter(id).await {
        Ok(Some(f)) => json(StatusCode::OK, &f),
        Ok(None) => not_found("filter", id),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/campaigns/filters/{id}`.
#[utoipa::path(delete, path = "/api/campaigns/filters/{id}", tag = "campaigns", params(("id" = i64, Path, description = "filter id")), responses((status = 200, description = "deleted", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_filter(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_filter(&state, &who, id).await {
        return r;
    }
    match state.store().delete_campaign_filter(id).await {
        Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => refused(e),
    }
}

/// A page of the rows of `batch` that match `conditions`, as JSON.
async fn matches_answer(
    state: &AppState,
    batch: i64,
    conditions: &[Condition],
    page: i64,
) -> Response {
    let fields = match state.store().campaign_fields(batch).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    match state
        .store()
        .match_campaign_rows(batch, conditions, None, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await
    {
        Ok(p) => {
            let rows: Vec<Value> = p.rows.iter().map(|r| row_json(r, &fields)).collect();
            json(
                StatusCode::OK,
                &json!({ "rows": rows, "total": p.total, "page": page, "page_size": PAGE_SIZE }),
            )
        }
        Err(e) => refused(e),
    }
}

/// `GET /api/campaigns/filters/{id}/matches?page=`: the rows the saved
/// filter matches (查询), with their state.
#[utoipa::path(get, path = "/api/campaigns/filters/{id}/matches", tag = "campaigns", params(("id" = i64, Path, description = "filter id"), ("page" = Option<i64>, Query, description = "page number from 1")), responses((status = 200, description = "{rows, total, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn filter_matches(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    let f = match visible_filter(&state, &who, id).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    matches_answer(&state, f.fields.batch_id, &f.fields.conditions, page_of(&q)).await
}

/// `POST /api/campaigns/filters/preview`: the rows unsaved conditions
/// match.
#[utoipa::path(post, path = "/api/campaigns/filters/preview", tag = "campaigns", request_body(content = serde_json::Value, description = "{batch, conditions: [...], page}", content_type = "application/json"), responses((status = 200, description = "{rows, total, page, page_size}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn preview_filter(
    who: Identity,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(batch) = v.get("batch").and_then(Value::as_i64) else {
        return api_error(StatusCode::BAD_REQUEST, "batch: an id", Some("batch"));
    };
    let conditions = match parse_conditions(v.get("conditions").unwrap_or(&json!([]))) {
        Ok(c) => c,
        Err(e) => return condition_error(e),
    };
    let page = v.get("page").and_then(Value::as_i64).unwrap_or(1).max(1);
    if let Err(r) = visible_batch(&state, &who, batch).await {
        return r;
    }
    match check_conditions(&state, batch, &conditions).await {
        Ok(None) => {}
        Ok(Some(e)) => return condition_error(e),
        Err(e) => return refused(e),
    }
    matches_answer(&state, batch, &conditions, page).await
}

/// `GET /api/campaigns/filter-runs?filter=&batch=`: the filter records
/// (8.2.2), newest first.
#[utoipa::path(get, path = "/api/campaigns/filter-runs", tag = "campaigns", params(("filter" = Option<i64>, Query, description = "only this filter's"), ("batch" = Option<i64>, Query, description = "only this batch's")), responses((status = 200, description = "{runs: [{id, filter_id, batch_id, activity_id, name, matched, to_agents, to_departments, to_robots, to_queues, unassigned, recalled, recalled_to_departments, created_at}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_filter_runs(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let (filter, batch) = match (opt_id(&q, "filter"), opt_id(&q, "batch")) {
        (Ok(f), Ok(b)) => (f, b),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match state
        .store()
        .list_filter_runs(filter, batch, &scope, RECORDS_LIMIT)
        .await
    {
        Ok(r) => json(StatusCode::OK, &json!({ "runs": r })),
        Err(e) => refused(e),
    }
}
