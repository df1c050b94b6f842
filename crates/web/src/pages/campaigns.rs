//! The outbound campaigns' pages, first part (the manual's 8.1.1 批次管理,
//! 8.1.2 筛选表单, 8.2.1 导入记录, 8.2.2 筛选记录):
//!
//! - `/campaigns/batches`: the batches and the form of a new one;
//! - `/campaigns/batches/{id}`: a batch, its data structure (数据结构: the
//!   fields, the template upload, each field's 编辑 form) and its rows (名单
//!   数据: import with preview, export, search, add, edit, delete);
//! - `/campaigns/filters` and `/campaigns/filters/{id}`: filter forms, their
//!   condition rows (added and removed), save, and query (查询) showing the
//!   matches with their state, saved or not;
//! - `/campaigns/imports` and `/campaigns/filter-runs`: the records.
//!
//! The rules are the API's ([`crate::api::campaigns`]): the same checks,
//! scope and answers, shown as forms and tables.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use callcenter::campaign::filter::{Condition, Join, Op, PHONE, STATE};
use callcenter::campaign::ROW_STATES;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;
use store::{
    BatchFields, CampaignField, CampaignRow, FilterFields, RowQuery, StoreError, BATCH_KINDS,
    FIELD_POSITIONS, FILTER_KINDS,
};

use crate::api::campaigns::{
    batch_scope, check_conditions, check_row, dictionaries_of, import_bytes, import_mode,
    own_department, template_bytes, visible_batch, PAGE_SIZE,
};
use crate::auth::permissions::{
    OUTBOUND_BATCHES_EDIT, OUTBOUND_BATCHES_VIEW, OUTBOUND_FILTERS_EDIT, OUTBOUND_FILTERS_VIEW,
};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::state::AppState;
use crate::upload::{self, SpoolError};
use crate::view::{self, PageCtx};

/// Largest file uploaded (as the API).
const MAX_BYTES: usize = 50 << 20;

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let batches_view = Router::new()
        .route("/campaigns/batches", get(batches))
        .route("/campaigns/batches/{id}", get(batch_page))
        .route("/campaigns/imports", get(imports))
        .route("/campaigns/filter-runs", get(filter_runs));
    let batches_edit = Router::new()
        .route("/campaigns/batches", post(create_batch))
        .route("/campaigns/batches/{id}/delete", post(delete_batch))
        .route("/campaigns/batches/{id}/template", post(upload_template))
        .route("/campaigns/batches/{id}/import", post(import_data))
        .route(
            "/campaigns/batches/{id}/fields/{key}",
            get(field_form).post(save_field),
        )
        .route(
            "/campaigns/batches/{id}/rows/new",
            get(new_row).post(create_row),
        )
        .route("/campaigns/batches/{id}/rows/delete", post(delete_rows))
        .route(
            "/campaigns/batches/{id}/rows/{row}",
            get(edit_row).post(save_row),
        )
        .route("/campaigns/imports/{id}/delete", post(delete_import));
    // Querying a filter (saved or not) is a view; saving is checked apart.
    let filters_view = Router::new()
        .route("/campaigns/filters", get(filters))
        .route(
            "/campaigns/filters/{id}",
            get(filter_page).post(filter_action),
        );
    let filters_edit = Router::new()
        .route("/campaigns/filters", post(create_filter))
        .route("/campaigns/filters/{id}/delete", post(delete_filter));
    require(OUTBOUND_BATCHES_VIEW, batches_view)
        .merge(require(OUTBOUND_BATCHES_EDIT, batches_edit))
        .merge(require(OUTBOUND_FILTERS_VIEW, filters_view))
        .merge(require(OUTBOUND_FILTERS_EDIT, filters_edit))
}

/// A storage error as the error page.
fn failed(ctx: &PageCtx, e: StoreError) -> Response {
    view::internal_error(false, ctx.lang, &e.into())
}

fn not_found(ctx: &PageCtx) -> Response {
    view::error_page(
        StatusCode::NOT_FOUND,
        ctx.lang,
        ctx.identity.as_ref(),
        "error.not_found",
    )
}

/// The batch `id` if the user sees it, else the 404 page.
async fn batch_or_404(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
) -> Result<store::Batch, Response> {
    visible_batch(state, who, id)
        .await
        .map_err(|_| not_found(ctx))
}

/// A message of a `done=` redirect.
fn flash_of(ctx: &PageCtx, q: &Fields) -> Option<String> {
    let n = q.text("n");
    let n = if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
        n
    } else {
        "0".into()
    };
    let kept = q.text("kept");
    let kept = if !kept.is_empty() && kept.chars().all(|c| c.is_ascii_digit()) {
        kept
    } else {
        "0".into()
    };
    let key = match q.text("done").as_str() {
        "created" => "campaigns.done.created",
        "saved" => "campaigns.done.saved",
        "deleted" => "campaigns.done.deleted",
        "rows_deleted" => "campaigns.done.rows_deleted",
        "import_deleted" => "campaigns.done.import_deleted",
        _ => return None,
    };
    Some(ctx.lang.t(key, &[("n", &n), ("kept", &kept)]))
}

/// A batch as its list shows it.
#[derive(Serialize)]
struct BatchView {
    id: i64,
    name: String,
    kind: String,
    description: String,
    rows: i64,
    created_at: i64,
}

/// What the new-batch form shows again.
#[derive(Default, Serialize)]
struct BatchForm {
    name: String,
    kind: String,
    description: String,
    errors: BTreeMap<String, String>,
}

async fn render_batches(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    form: BatchForm,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let scope = match batch_scope(state, who).await {
        Ok(s) => s,
        Err(e) => return failed(ctx, e),
    };
    let list = match state.store().list_batches(&scope).await {
        Ok(l) => l,
        Err(e) => return failed(ctx, e),
    };
    let rows: Vec<BatchView> = list
        .into_iter()
        .map(|b| BatchView {
            id: b.id,
            kind: ctx.t(&format!("campaigns.kind.{}", b.fields.kind)),
            name: b.fields.name,
            description: b.fields.description,
            rows: b.rows,
            created_at: b.created_at,
        })
        .collect();
    let kinds: Vec<Value> = BATCH_KINDS
        .iter()
        .map(|k| {
            serde_json::json!({
                "id": k, "label": ctx.t(&format!("campaigns.kind.{k}")),
                "checked": if form.kind.is_empty() { *k == "temporary" } else { form.kind == *k },
            })
        })
        .collect();
    ctx.render_status(
        status,
        "campaigns/batches.html",
        context! {
            rows => rows, form => form, kinds => kinds, flash => flash,
            can_edit => who.allows(OUTBOUND_BATCHES_EDIT),
        },
    )
}

/// `GET /campaigns/batches`.
async fn batches(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let flash = flash_of(&ctx, &q);
    render_batches(
        &state,
        &ctx,
        &who,
        BatchForm::default(),
        flash,
        StatusCode::OK,
    )
    .await
}

/// The message of a store refusal of a form (the field it names).
fn form_error(ctx: &PageCtx, e: &StoreError) -> Option<(String, String)> {
    match e {
        StoreError::InvalidField(f) => Some((f.field.to_string(), f.why.clone())),
        StoreError::CrmNameTaken(_, name) => Some((
            "name".into(),
            ctx.lang.t("campaigns.name_taken", &[("name", name)]),
        )),
        _ => None,
    }
}

/// `POST /campaigns/batches`: a new batch.
async fn create_batch(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    let mut form = BatchForm {
        name: f.text("name"),
        kind: f.text("kind"),
        description: f.text("description"),
        ..BatchForm::default()
    };
    let fields = BatchFields {
        name: form.name.clone(),
        kind: form.kind.clone(),
        description: form.description.clone(),
        department_id: None,
    };
    let fields = match own_department(&state, &who, fields).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state.store().create_batch(fields, Some(who.user.id)).await {
        Ok(id) => Redirect::to(&format!("/campaigns/batches/{id}?done=created")).into_response(),
        Err(e) => match form_error(&ctx, &e) {
            Some((field, why)) => {
                form.errors.insert(field, why);
                render_batches(&state, &ctx, &who, form, None, StatusCode::BAD_REQUEST).await
            }
            None => failed(&ctx, e),
        },
    }
}

/// `POST /campaigns/batches/{id}/delete`.
async fn delete_batch(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = batch_or_404(&state, &ctx, &who, id).await {
        return r;
    }
    match state.store().delete_batch(id).await {
        Ok(()) => Redirect::to("/campaigns/batches?done=deleted").into_response(),
        Err(StoreError::InvalidField(f)) => {
            render_batch(
                &state,
                &ctx,
                &who,
                id,
                BatchPage {
                    error: Some(f.why),
                    status: StatusCode::CONFLICT,
                    ..BatchPage::default()
                },
            )
            .await
        }
        Err(e) => failed(&ctx, e),
    }
}

/// A field as the data-structure table shows it.
#[derive(Serialize)]
struct FieldView {
    key: String,
    title: String,
    data_type: String,
    is_phone: bool,
    style: String,
    dictionary: String,
    required: bool,
    positions: String,
    io_disabled: bool,
}

/// A row as the tables show it: the list fields' values in order.
#[derive(Serialize)]
struct RowView {
    id: i64,
    phone: String,
    cells: Vec<String>,
    state: String,
    state_key: String,
}

fn row_view(ctx: &PageCtx, r: &CampaignRow, columns: &[CampaignField]) -> RowView {
    RowView {
        id: r.id,
        phone: r.phone.clone(),
        cells: columns
            .iter()
            .map(|f| {
                if f.is_phone {
                    r.phone.clone()
                } else {
                    r.values.get(&f.key).cloned().unwrap_or_default()
                }
            })
            .collect(),
        state: ctx.t(&format!("campaigns.state.{}", r.state)),
        state_key: r.state.clone(),
    }
}

/// What a batch page shows besides the batch.
#[derive(Default)]
struct BatchPage {
    /// An import's or template's answer.
    result: Option<Value>,
    /// An error message.
    error: Option<String>,
    /// A message.
    flash: Option<String>,
    /// The tab: `fields` or `rows`.
    tab: String,
    /// Search, state and page of the rows.
    query: Fields,
    /// The status to answer with (200 when unset).
    status: StatusCode,
}

async fn render_batch(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
    page: BatchPage,
) -> Response {
    let batch = match batch_or_404(state, ctx, who, id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let store = state.store();
    let fields = match store.campaign_fields(id).await {
        Ok(f) => f,
        Err(e) => return failed(ctx, e),
    };
    let tab = if page.tab == "rows" || (page.tab.is_empty() && page.query.text("tab") == "rows") {
        "rows"
    } else {
        "fields"
    };
    let q = &page.query;
    let search = q.text("q");
    let row_state = q.text("state");
    let row_state = ROW_STATES
        .contains(&row_state.as_str())
        .then_some(row_state);
    let number = q.text("page").parse::<i64>().unwrap_or(1).max(1);
    let rows = match store
        .list_campaign_rows(&RowQuery {
            batch_id: id,
            search: search.clone(),
            state: row_state.clone(),
            limit: PAGE_SIZE,
            offset: (number - 1) * PAGE_SIZE,
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(ctx, e),
    };
    let columns: Vec<CampaignField> = fields.iter().filter(|f| f.shows("list")).cloned().collect();
    let views: Vec<FieldView> = fields
        .iter()
        .map(|f| FieldView {
            key: f.key.clone(),
            title: f.title.clone(),
            data_type: ctx.t(&format!("campaigns.type.{}", f.data_type)),
            is_phone: f.is_phone,
            style: ctx.t(&format!("campaigns.style.{}", f.style)),
            dictionary: f.dictionary.clone(),
            required: f.required,
            positions: f.positions.join(","),
            io_disabled: f.io_disabled,
        })
        .collect();
    let states: Vec<Value> = ROW_STATES
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s, "label": ctx.t(&format!("campaigns.state.{s}")),
                "selected": row_state.as_deref() == Some(*s),
            })
        })
        .collect();
    let pages = (rows.total + PAGE_SIZE - 1) / PAGE_SIZE;
    ctx.render_status(
        if page.status == StatusCode::default() {
            StatusCode::OK
        } else {
            page.status
        },
        "campaigns/batch.html",
        context! {
            batch => context! {
                id => batch.id, name => batch.fields.name, description => batch.fields.description,
                kind => ctx.t(&format!("campaigns.kind.{}", batch.fields.kind)),
                created_at => batch.created_at, rows => batch.rows,
            },
            tab => tab, fields => views,
            has_phone => fields.iter().any(|f| f.is_phone),
            columns => columns.iter().map(|f| f.title.clone()).collect::<Vec<_>>(),
            rows => rows.rows.iter().map(|r| row_view(ctx, r, &columns)).collect::<Vec<_>>(),
            total => rows.total, page => number, pages => pages,
            search => search, states => states, state => row_state.unwrap_or_default(),
            result => page.result.map(minijinja::Value::from_serialize),
            error => page.error, flash => page.flash,
            can_edit => who.allows(OUTBOUND_BATCHES_EDIT),
        },
    )
}

/// `GET /campaigns/batches/{id}?tab=fields|rows&q=&state=&page=`.
async fn batch_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    let flash = flash_of(&ctx, &q);
    render_batch(
        &state,
        &ctx,
        &who,
        id,
        BatchPage {
            flash,
            query: q,
            ..BatchPage::default()
        },
    )
    .await
}

/// The file and the text fields of a multipart form (`?csrf=` carries
/// the token), or the message that says what is wrong.
async fn multipart_file(
    state: &AppState,
    ctx: &PageCtx,
    req: Request,
) -> Result<(Vec<u8>, BTreeMap<String, String>), (StatusCode, String)> {
    let Some(data_dir) = state.data_dir() else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "no data directory to receive the file in".into(),
        ));
    };
    let dir = data_dir.join(upload::TEMP_DIR);
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|_| (StatusCode::BAD_REQUEST, ctx.t("campaigns.choose_file")))?;
    let mut bytes = None;
    let mut texts = BTreeMap::new();
    loop {
        match mp.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                match upload::spool(&dir, field, MAX_BYTES).await {
                    Ok(s) => match s.read().await {
                        Ok(b) => bytes = Some(b),
                        Err(e) => {
                            tracing::error!("campaign upload: {e:?}");
                            return Err((
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "receiving the upload failed, see the server log".into(),
                            ));
                        }
                    },
                    Err(SpoolError::TooLarge { .. }) => {
                        return Err((StatusCode::PAYLOAD_TOO_LARGE, ctx.t("campaigns.too_large")))
                    }
                    Err(SpoolError::Body(why)) => return Err((StatusCode::BAD_REQUEST, why)),
                    Err(SpoolError::Storage(why)) => {
                        tracing::error!("campaign upload: {why}");
                        return Err((
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "receiving the upload failed, see the server log".into(),
                        ));
                    }
                }
            }
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let text = field.text().await.unwrap_or_default();
                texts.insert(name, text);
            }
            Ok(None) => break,
            Err(e) => return Err((StatusCode::BAD_REQUEST, e.body_text())),
        }
    }
    match bytes {
        Some(b) if !b.is_empty() => Ok((b, texts)),
        _ => Err((StatusCode::BAD_REQUEST, ctx.t("campaigns.choose_file"))),
    }
}

/// `POST /campaigns/batches/{id}/template` (multipart `file`).
async fn upload_template(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    req: Request,
) -> Response {
    if let Err(r) = batch_or_404(&state, &ctx, &who, id).await {
        return r;
    }
    let page = match multipart_file(&state, &ctx, req).await {
        Ok((bytes, _)) => {
            let (status, answer) = template_bytes(&state, id, bytes).await;
            if status == StatusCode::OK {
                let flash = if answer["phone_field"].is_null() {
                    None
                } else {
                    Some(ctx.t("campaigns.template_done"))
                };
                let error = answer["phone_field"]
                    .is_null()
                    .then(|| ctx.t("campaigns.no_phone_field"));
                BatchPage {
                    flash,
                    error,
                    ..BatchPage::default()
                }
            } else {
                BatchPage {
                    error: answer["error"].as_str().map(str::to_string),
                    status,
                    ..BatchPage::default()
                }
            }
        }
        Err((status, why)) => BatchPage {
            error: Some(why),
            status,
            ..BatchPage::default()
        },
    };
    render_batch(&state, &ctx, &who, id, page).await
}

/// `POST /campaigns/batches/{id}/import` (multipart `file` and `mode`:
/// preview, all or valid).
async fn import_data(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    req: Request,
) -> Response {
    if let Err(r) = batch_or_404(&state, &ctx, &who, id).await {
        return r;
    }
    let page = match multipart_file(&state, &ctx, req).await {
        Ok((bytes, texts)) => {
            let mode =
                import_mode(texts.get("mode").map_or("", String::as_str)).unwrap_or("preview");
            let (status, answer) = import_bytes(&state, &who, id, bytes, mode).await;
            let error = answer["error"].as_str().map(str::to_string);
            let flash = (status == StatusCode::OK && mode != "preview").then(|| {
                ctx.lang.t(
                    "campaigns.import.done",
                    &[("n", &answer["imported"].to_string())],
                )
            });
            BatchPage {
                result: answer.get("mode").is_some().then_some(answer),
                error,
                flash,
                status,
                tab: "rows".into(),
                ..BatchPage::default()
            }
        }
        Err((status, why)) => BatchPage {
            error: Some(why),
            status,
            tab: "rows".into(),
            ..BatchPage::default()
        },
    };
    render_batch(&state, &ctx, &who, id, page).await
}

/// The field edit form (the manual's 编辑).
async fn render_field(
    state: &AppState,
    ctx: &PageCtx,
    batch: &store::Batch,
    field: &CampaignField,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let dictionaries = match state.store().dictionaries().await {
        Ok(d) => d,
        Err(e) => return failed(ctx, e),
    };
    let types: Vec<Value> = callcenter::campaign::filter::ValueType::ALL
        .iter()
        .map(|t| serde_json::json!({"id": t.as_str(), "label": ctx.t(&format!("campaigns.type.{}", t.as_str()))}))
        .collect();
    let positions: Vec<Value> = FIELD_POSITIONS
        .iter()
        .map(|p| serde_json::json!({"id": p, "label": ctx.t(&format!("campaigns.position.{p}")), "checked": field.shows(p)}))
        .collect();
    ctx.render_status(
        status,
        "campaigns/field.html",
        context! {
            batch => context! { id => batch.id, name => batch.fields.name.clone() },
            field => field, types => types, positions => positions,
            dictionaries => dictionaries,
            error_field => error.as_ref().map(|e| e.0.clone()),
            error => error.map(|e| e.1),
        },
    )
}

async fn field_of(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
    key: &str,
) -> Result<(store::Batch, CampaignField), Response> {
    let batch = batch_or_404(state, ctx, who, id).await?;
    let fields = state
        .store()
        .campaign_fields(id)
        .await
        .map_err(|e| failed(ctx, e))?;
    fields
        .into_iter()
        .find(|f| f.key == key)
        .map(|f| (batch, f))
        .ok_or_else(|| not_found(ctx))
}

/// `GET /campaigns/batches/{id}/fields/{key}`.
async fn field_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path((id, key)): Path<(i64, String)>,
) -> Response {
    match field_of(&state, &ctx, &who, id, &key).await {
        Ok((batch, field)) => {
            render_field(&state, &ctx, &batch, &field, None, StatusCode::OK).await
        }
        Err(r) => r,
    }
}

/// `POST /campaigns/batches/{id}/fields/{key}`.
async fn save_field(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path((id, key)): Path<(i64, String)>,
    Form(f): Form,
) -> Response {
    let (batch, current) = match field_of(&state, &ctx, &who, id, &key).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let on = |name: &str| matches!(f.text(name).as_str(), "on" | "true" | "1");
    let change = CampaignField {
        key: key.clone(),
        title: f.text("title"),
        data_type: f.text("data_type"),
        is_phone: on("is_phone"),
        style: f.text("style"),
        dictionary: f.text("dictionary"),
        required: on("required"),
        positions: f.all("positions"),
        io_disabled: on("io_disabled"),
        position: current.position,
    };
    match state
        .store()
        .update_campaign_field(id, &key, change.clone())
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/campaigns/batches/{id}?tab=fields&done=saved")).into_response()
        }
        Err(e) => match form_error(&ctx, &e) {
            Some(err) => {
                render_field(
                    &state,
                    &ctx,
                    &batch,
                    &change,
                    Some(err),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed(&ctx, e),
        },
    }
}

/// One input of the row form.
#[derive(Serialize)]
struct RowInput {
    key: String,
    title: String,
    value: String,
    required: bool,
    /// The dictionary's `(value, label)` for a choice field.
    choices: Option<Vec<(String, String)>>,
    error: Option<String>,
}

/// The add/edit row form: the fields shown at `place` (add or edit).
#[allow(clippy::too_many_arguments)]
async fn render_row_form(
    state: &AppState,
    ctx: &PageCtx,
    batch: &store::Batch,
    row: Option<i64>,
    phone: &str,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let fields = match state.store().campaign_fields(batch.id).await {
        Ok(f) => f,
        Err(e) => return failed(ctx, e),
    };
    let dictionaries = match dictionaries_of(state, &fields).await {
        Ok(d) => d,
        Err(e) => return failed(ctx, e),
    };
    let place = if row.is_some() { "edit" } else { "add" };
    let phone_title = fields
        .iter()
        .find(|f| f.is_phone)
        .map(|f| f.title.clone())
        .unwrap_or_default();
    let inputs: Vec<RowInput> = fields
        .iter()
        .filter(|f| !f.is_phone && f.shows(place))
        .map(|f| RowInput {
            key: f.key.clone(),
            title: f.title.clone(),
            value: values.get(&f.key).cloned().unwrap_or_default(),
            required: f.required,
            choices: (!f.dictionary.is_empty())
                .then(|| dictionaries.get(&f.dictionary).cloned().unwrap_or_default()),
            error: errors.get(&f.key).cloned(),
        })
        .collect();
    ctx.render_status(
        status,
        "campaigns/row.html",
        context! {
            batch => context! { id => batch.id, name => batch.fields.name.clone() },
            row => row, phone => phone, phone_title => phone_title,
            phone_error => errors.get("phone").cloned(), inputs => inputs,
            form_error => errors.get("_form").cloned(),
        },
    )
}

/// `GET /campaigns/batches/{id}/rows/new`.
async fn new_row(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    match batch_or_404(&state, &ctx, &who, id).await {
        Ok(b) => {
            render_row_form(
                &state,
                &ctx,
                &b,
                None,
                "",
                &BTreeMap::new(),
                &BTreeMap::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(r) => r,
    }
}

/// `GET /campaigns/batches/{id}/rows/{row}`.
async fn edit_row(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path((id, row)): Path<(i64, i64)>,
) -> Response {
    let batch = match batch_or_404(&state, &ctx, &who, id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match state.store().get_campaign_row(id, row).await {
        Ok(Some(r)) => {
            render_row_form(
                &state,
                &ctx,
                &batch,
                Some(row),
                &r.phone,
                &r.values,
                &BTreeMap::new(),
                StatusCode::OK,
            )
            .await
        }
        Ok(None) => not_found(&ctx),
        Err(e) => failed(&ctx, e),
    }
}

/// Saves the row form (`row`: the row edited, none for a new one).
async fn save_row_form(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
    row: Option<i64>,
    f: &Fields,
) -> Response {
    let batch = match batch_or_404(state, ctx, who, id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let fields = match state.store().campaign_fields(id).await {
        Ok(f) => f,
        Err(e) => return failed(ctx, e),
    };
    let dictionaries = match dictionaries_of(state, &fields).await {
        Ok(d) => d,
        Err(e) => return failed(ctx, e),
    };
    let phone = f.text("phone");
    // The values the form does not show stay as they are.
    let mut values = match row {
        Some(r) => match state.store().get_campaign_row(id, r).await {
            Ok(Some(r)) => r.values,
            Ok(None) => return not_found(ctx),
            Err(e) => return failed(ctx, e),
        },
        None => BTreeMap::new(),
    };
    for field in fields.iter().filter(|f| !f.is_phone) {
        let name = format!("v_{}", field.key);
        if f.all(&name).is_empty() {
            continue;
        }
        values.insert(field.key.clone(), f.text(&name));
    }
    let mut errors = BTreeMap::new();
    let checked = match check_row(&fields, &dictionaries, &phone, &values) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some(new) = checked {
        let saved = match row {
            Some(r) => state.store().update_campaign_row(id, r, new).await,
            None => state.store().create_campaign_row(id, new).await.map(|_| ()),
        };
        match saved {
            Ok(()) => {
                return Redirect::to(&format!("/campaigns/batches/{id}?tab=rows&done=saved"))
                    .into_response()
            }
            Err(e) => match form_error(ctx, &e) {
                Some((field, why)) => {
                    let field = if field == "phone" {
                        field
                    } else {
                        "_form".into()
                    };
                    errors.insert(field, why);
                }
                None => return failed(ctx, e),
            },
        }
    }
    render_row_form(
        state,
        ctx,
        &batch,
        row,
        &phone,
        &values,
        &errors,
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// `POST /campaigns/batches/{id}/rows/new`.
async fn create_row(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    save_row_form(&state, &ctx, &who, id, None, &f).await
}

/// `POST /campaigns/batches/{id}/rows/{row}`.
async fn save_row(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path((id, row)): Path<(i64, i64)>,
    Form(f): Form,
) -> Response {
    save_row_form(&state, &ctx, &who, id, Some(row), &f).await
}

/// `POST /campaigns/batches/{id}/rows/delete` (`row` ids; `one` a single
/// row's delete button).
async fn delete_rows(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    if let Err(r) = batch_or_404(&state, &ctx, &who, id).await {
        return r;
    }
    let one = f.text("one");
    let picked = if one.is_empty() {
        f.all("row")
    } else {
        vec![one]
    };
    let ids: Vec<i64> = picked
        .iter()
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    match state.store().delete_campaign_rows(id, &ids).await {
        Ok(n) => Redirect::to(&format!(
            "/campaigns/batches/{id}?tab=rows&done=rows_deleted&n={n}"
        ))
        .into_response(),
        Err(e) => failed(&ctx, e),
    }
}

/// `GET /campaigns/imports?batch=`: the import records (8.2.1).
async fn imports(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let batch = q.text("batch").parse::<i64>().ok();
    let records = match state
        .store()
        .list_campaign_imports(batch, &scope, 500)
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(&ctx, e),
    };
    ctx.render(
        "campaigns/imports.html",
        context! {
            records => records, flash => flash_of(&ctx, &q),
            can_edit => who.allows(OUTBOUND_BATCHES_EDIT),
        },
    )
}

/// `POST /campaigns/imports/{id}/delete`: the record and its rows still
/// unassigned.
async fn delete_import(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    let record = match state.store().get_campaign_import(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(&ctx),
        Err(e) => return failed(&ctx, e),
    };
    if let Err(r) = batch_or_404(&state, &ctx, &who, record.batch_id).await {
        return r;
    }
    match state.store().delete_campaign_import(id).await {
        Ok((deleted, kept)) => Redirect::to(&format!(
            "/campaigns/imports?done=import_deleted&n={deleted}&kept={kept}"
        ))
        .into_response(),
        Err(StoreError::CrmNotFound(..)) => not_found(&ctx),
        Err(e) => failed(&ctx, e),
    }
}

/// `GET /campaigns/filter-runs?batch=&filter=`: the filter records (8.2.2).
async fn filter_runs(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return failed(&ctx, e),
    };
    let batch = q.text("batch").parse::<i64>().ok();
    let filter = q.text("filter").parse::<i64>().ok();
    let store = state.store();
    let (runs, batches, filters) = match (
        store.list_filter_runs(filter, batch, &scope, 500).await,
        store.list_batches(&scope).await,
        store.list_campaign_filters(&scope).await,
    ) {
        (Ok(r), Ok(b), Ok(f)) => (r, b, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return failed(&ctx, e),
    };
    let batches: Vec<Value> = batches
        .iter()
        .map(|b| serde_json::json!({"id": b.id, "name": b.fields.name, "selected": Some(b.id) == batch}))
        .collect();
    let filters: Vec<Value> = filters
        .iter()
        .map(|f| serde_json::json!({"id": f.id, "name": f.fields.name, "selected": Some(f.id) == filter}))
        .collect();
    ctx.render(
        "campaigns/filter_runs.html",
        context! { runs => runs, batches => batches, filters => filters },
    )
}

/// What the new-filter form shows again.
#[derive(Default, Serialize)]
struct FilterForm {
    name: String,
    kind: String,
    batch_id: String,
    description: String,
    errors: BTreeMap<String, String>,
}

async fn render_filters(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    form: FilterForm,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let scope = match batch_scope(state, who).await {
        Ok(s) => s,
        Err(e) => return failed(ctx, e),
    };
    let (list, batches) = match (
        state.store().list_campaign_filters(&scope).await,
        state.store().list_batches(&scope).await,
    ) {
        (Ok(l), Ok(b)) => (l, b),
        (Err(e), _) | (_, Err(e)) => return failed(ctx, e),
    };
    let names: BTreeMap<i64, String> = batches
        .iter()
        .map(|b| (b.id, b.fields.name.clone()))
        .collect();
    let rows: Vec<Value> = list
        .iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id, "name": f.fields.name,
                "kind": ctx.t(&format!("campaigns.filter_kind.{}", f.fields.kind)),
                "batch": names.get(&f.fields.batch_id).cloned().unwrap_or_default(),
                "description": f.fields.description,
                "conditions": f.fields.conditions.len(),
            })
        })
        .collect();
    let kinds: Vec<Value> = FILTER_KINDS
        .iter()
        .map(|k| {
            serde_json::json!({"id": k, "label": ctx.t(&format!("campaigns.filter_kind.{k}")),
            "checked": if form.kind.is_empty() { *k == "batch" } else { form.kind == *k }})
        })
        .collect();
    let batches: Vec<Value> = batches
        .iter()
        .map(|b| serde_json::json!({"id": b.id, "name": b.fields.name, "selected": b.id.to_string() == form.batch_id}))
        .collect();
    ctx.render_status(
        status,
        "campaigns/filters.html",
        context! {
            rows => rows, kinds => kinds, batches => batches, form => form, flash => flash,
            can_edit => who.allows(OUTBOUND_FILTERS_EDIT),
        },
    )
}

/// `GET /campaigns/filters`.
async fn filters(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let flash = flash_of(&ctx, &q);
    render_filters(
        &state,
        &ctx,
        &who,
        FilterForm::default(),
        flash,
        StatusCode::OK,
    )
    .await
}

/// `POST /campaigns/filters`: a new filter form (no conditions yet).
async fn create_filter(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    let mut form = FilterForm {
        name: f.text("name"),
        kind: f.text("kind"),
        batch_id: f.text("batch_id"),
        description: f.text("description"),
        ..FilterForm::default()
    };
    let batch = form.batch_id.parse::<i64>().ok();
    let visible = match batch {
        Some(b) => visible_batch(&state, &who, b).await.is_ok(),
        None => false,
    };
    if !visible {
        form.errors
            .insert("batch_id".into(), ctx.t("campaigns.choose_batch"));
        return render_filters(&state, &ctx, &who, form, None, StatusCode::BAD_REQUEST).await;
    }
    let fields = FilterFields {
        name: form.name.clone(),
        kind: form.kind.clone(),
        batch_id: batch.unwrap_or_default(),
        description: form.description.clone(),
        conditions: Vec::new(),
    };
    match state
        .store()
        .create_campaign_filter(fields, Some(who.user.id))
        .await
    {
        Ok(id) => Redirect::to(&format!("/campaigns/filters/{id}?done=created")).into_response(),
        Err(e) => match form_error(&ctx, &e) {
            Some((field, why)) => {
                form.errors.insert(field, why);
                render_filters(&state, &ctx, &who, form, None, StatusCode::BAD_REQUEST).await
            }
            None => failed(&ctx, e),
        },
    }
}

/// `POST /campaigns/filters/{id}/delete`.
async fn delete_filter(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
) -> Response {
    match filter_or_404(&state, &ctx, &who, id).await {
        Ok(_) => {}
        Err(r) => return r,
    }
    match state.store().delete_campaign_filter(id).await {
        Ok(()) => Redirect::to("/campaigns/filters?done=deleted").into_response(),
        Err(e) => failed(&ctx, e),
    }
}

async fn filter_or_404(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
) -> Result<(store::CampaignFilter, store::Batch), Response> {
    let f = match state.store().get_campaign_filter(id).await {
        Ok(Some(f)) => f,
        Ok(None) => return Err(not_found(ctx)),
        Err(e) => return Err(failed(ctx, e)),
    };
    let b = batch_or_404(state, ctx, who, f.fields.batch_id).await?;
    Ok((f, b))
}

/// One condition row of the form, as typed.
#[derive(Clone, Default, Serialize)]
struct ConditionRow {
    field: String,
    op: String,
    value: String,
    join: String,
    error: bool,
}

/// The condition rows of a posted form (`c_field`, `c_op`, `c_value`,
/// `c_join`, repeated in order).
fn posted_rows(f: &Fields) -> Vec<ConditionRow> {
    let (fields, ops, values, joins) = (
        f.all("c_field"),
        f.all("c_op"),
        f.all("c_value"),
        f.all("c_join"),
    );
    let at = |v: &[String], i: usize| v.get(i).map_or(String::new(), |s| s.trim().to_string());
    (0..fields.len().max(ops.len()))
        .map(|i| ConditionRow {
            field: at(&fields, i),
            op: at(&ops, i),
            value: at(&values, i),
            join: at(&joins, i),
            error: false,
        })
        .collect()
}

fn rows_of(conditions: &[Condition]) -> Vec<ConditionRow> {
    conditions
        .iter()
        .map(|c| ConditionRow {
            field: c.field.clone(),
            op: c.op.as_str().into(),
            value: if c.op == Op::In {
                c.values.join(",")
            } else {
                c.value.clone()
            },
            join: c.join.as_str().into(),
            error: false,
        })
        .collect()
}

/// The conditions of the rows (rows with no field and no value left out:
/// the form's blank rows), or `(index, message)` of the first that is
/// malformed. `in` takes its values comma-separated.
fn conditions_of(ctx: &PageCtx, rows: &[ConditionRow]) -> Result<Vec<Condition>, (usize, String)> {
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if r.field.is_empty() && r.value.is_empty() {
            continue;
        }
        let Some(op) = Op::parse(&r.op) else {
            return Err((
                i,
                ctx.lang
                    .t("campaigns.filter.choose_op", &[("n", &(i + 1).to_string())]),
            ));
        };
        let values = if op == Op::In {
            r.value
                .split([',', '，'])
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        out.push(Condition {
            field: r.field.clone(),
            op,
            value: if op == Op::In {
                String::new()
            } else {
                r.value.clone()
            },
            values,
            join: Join::parse(&r.join).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// What the filter page shows besides the filter.
#[derive(Default)]
struct FilterPage {
    rows: Option<Vec<ConditionRow>>,
    results: Option<(Vec<Condition>, i64)>,
    error: Option<String>,
    flash: Option<String>,
    status: StatusCode,
}

async fn render_filter(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    id: i64,
    page: FilterPage,
) -> Response {
    let (filter, batch) = match filter_or_404(state, ctx, who, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = match state.store().campaign_fields(batch.id).await {
        Ok(f) => f,
        Err(e) => return failed(ctx, e),
    };
    let dictionaries = match dictionaries_of(state, &fields).await {
        Ok(d) => d,
        Err(e) => return failed(ctx, e),
    };
    let mut rows = page
        .rows
        .unwrap_or_else(|| rows_of(&filter.fields.conditions));
    if rows.is_empty() {
        rows.push(ConditionRow::default());
    }
    let mut choices: Vec<Value> = fields
        .iter()
        .filter(|f| !f.is_phone)
        .map(|f| {
            let values: Vec<String> = dictionaries
                .get(&f.dictionary)
                .map(|d| d.iter().map(|(v, _)| v.clone()).collect())
                .unwrap_or_default();
            serde_json::json!({"key": f.key, "title": f.title, "values": values.join(",")})
        })
        .collect();
    let phone_title = fields
        .iter()
        .find(|f| f.is_phone)
        .map_or_else(|| ctx.t("campaigns.phone"), |f| f.title.clone());
    choices.insert(
        0,
        serde_json::json!({"key": PHONE, "title": phone_title, "values": ""}),
    );
    choices.push(serde_json::json!({"key": STATE, "title": ctx.t("campaigns.state_column"), "values": ROW_STATES.join(",")}));
    let ops: Vec<Value> = Op::ALL
        .iter()
        .map(|o| serde_json::json!({"id": o.as_str(), "label": ctx.t(&format!("campaigns.op.{}", o.as_str()))}))
        .collect();
    let columns: Vec<CampaignField> = fields.iter().filter(|f| f.shows("list")).cloned().collect();
    let results = match page.results {
        Some((conditions, number)) => {
            match state
                .store()
                .match_campaign_rows(
                    batch.id,
                    &conditions,
                    None,
                    PAGE_SIZE,
                    (number - 1) * PAGE_SIZE,
                )
                .await
            {
                Ok(p) => Some(context! {
                    total => p.total, page => number,
                    pages => (p.total + PAGE_SIZE - 1) / PAGE_SIZE,
                    rows => p.rows.iter().map(|r| row_view(ctx, r, &columns)).collect::<Vec<_>>(),
                }),
                Err(e) => return failed(ctx, e),
            }
        }
        None => None,
    };
    ctx.render_status(
        if page.status == StatusCode::default() { StatusCode::OK } else { page.status },
        "campaigns/filter.html",
        context! {
            filter => context! {
                id => filter.id, name => filter.fields.name, description => filter.fields.description,
                kind => ctx.t(&format!("campaigns.filter_kind.{}", filter.fields.kind)),
            },
            batch => context! { id => batch.id, name => batch.fields.name },
            rows => rows, choices => choices, ops => ops,
            columns => columns.iter().map(|f| f.title.clone()).collect::<Vec<_>>(),
            results => results, error => page.error, flash => page.flash,
            can_edit => who.allows(OUTBOUND_FILTERS_EDIT),
        },
    )
}

/// `GET /campaigns/filters/{id}?query=1&page=`: the form, and with
/// `query` the saved conditions' matches.
async fn filter_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    QueryFields(q): QueryFields,
) -> Response {
    let flash = flash_of(&ctx, &q);
    let results = if q.text("query").is_empty() {
        None
    } else {
        match state.store().get_campaign_filter(id).await {
            Ok(Some(f)) => Some((
                f.fields.conditions,
                q.text("page").parse::<i64>().unwrap_or(1).max(1),
            )),
            _ => None,
        }
    };
    render_filter(
        &state,
        &ctx,
        &who,
        id,
        FilterPage {
            results,
            flash,
            ..FilterPage::default()
        },
    )
    .await
}

/// `POST /campaigns/filters/{id}` (`action`: `add` a condition row,
/// `remove-N` one, `save`, or `query` the conditions as typed).
async fn filter_action(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Path(id): Path<i64>,
    Form(f): Form,
) -> Response {
    let (filter, batch) = match filter_or_404(&state, &ctx, &who, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut rows = posted_rows(&f);
    let action = f.text("action");
    if action == "add" {
        rows.push(ConditionRow::default());
        return render_filter(
            &state,
            &ctx,
            &who,
            id,
            FilterPage {
                rows: Some(rows),
                ..FilterPage::default()
            },
        )
        .await;
    }
    if let Some(n) = action
        .strip_prefix("remove-")
        .and_then(|n| n.parse::<usize>().ok())
    {
        if n < rows.len() {
            rows.remove(n);
        }
        return render_filter(
            &state,
            &ctx,
            &who,
            id,
            FilterPage {
                rows: Some(rows),
                ..FilterPage::default()
            },
        )
        .await;
    }
    let refuse = |mut rows: Vec<ConditionRow>, index: usize, message: String| {
        if let Some(r) = rows.get_mut(index) {
            r.error = true;
        }
        FilterPage {
            rows: Some(rows),
            error: Some(message),
            status: StatusCode::BAD_REQUEST,
            ..FilterPage::default()
        }
    };
    // Conditions are numbered as the form shows them: blank rows count.
    let kept: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !(r.field.is_empty() && r.value.is_empty()))
        .map(|(i, _)| i)
        .collect();
    let conditions = match conditions_of(&ctx, &rows) {
        Ok(c) => c,
        Err((i, why)) => {
            let page = refuse(rows, i, why);
            return render_filter(&state, &ctx, &who, id, page).await;
        }
    };
    match check_conditions(&state, batch.id, &conditions).await {
        Ok(None) => {}
        Ok(Some((i, _, why))) => {
            let at = kept.get(i).copied().unwrap_or(i);
            let page = refuse(rows, at, why);
            return render_filter(&state, &ctx, &who, id, page).await;
        }
        Err(e) => return failed(&ctx, e),
    }
    match action.as_str() {
        "save" => {
            if !who.allows(OUTBOUND_FILTERS_EDIT) {
                return view::error_page(
                    StatusCode::FORBIDDEN,
                    ctx.lang,
                    ctx.identity.as_ref(),
                    "error.forbidden",
                );
            }
            let fields = FilterFields {
                conditions,
                ..filter.fields
            };
            match state.store().update_campaign_filter(id, fields).await {
                Ok(()) => Redirect::to(&format!("/campaigns/filters/{id}?done=saved&query=1"))
                    .into_response(),
                Err(e) => failed(&ctx, e),
            }
        }
        _ => {
            let number = f.text("page").parse::<i64>().unwrap_or(1).max(1);
            render_filter(
                &state,
                &ctx,
                &who,
                id,
                FilterPage {
                    rows: Some(rows),
                    results: Some((conditions, number)),
                    ..FilterPage::default()
                },
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// The keys the pages make at run time (the template test sees only
    /// the templates' literal keys) are in both catalogs.
    #[test]
    fn every_campaign_page_text_is_in_both_catalogs() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(BATCH_KINDS.iter().map(|k| format!("campaigns.kind.{k}")));
        keys.extend(
            FILTER_KINDS
                .iter()
                .map(|k| format!("campaigns.filter_kind.{k}")),
        );
        keys.extend(ROW_STATES.iter().map(|s| format!("campaigns.state.{s}")));
        keys.extend(
            FIELD_POSITIONS
                .iter()
                .map(|p| format!("campaigns.position.{p}")),
        );
        keys.extend(
            store::FIELD_STYLES
                .iter()
                .map(|s| format!("campaigns.style.{s}")),
        );
        keys.extend(
            callcenter::campaign::filter::ValueType::ALL
                .iter()
                .map(|t| format!("campaigns.type.{}", t.as_str())),
        );
        keys.extend(
            Op::ALL
                .iter()
                .map(|o| format!("campaigns.op.{}", o.as_str())),
        );
        for k in [
            "created",
            "saved",
            "deleted",
            "rows_deleted",
            "import_deleted",
        ] {
            keys.push(format!("campaigns.done.{k}"));
        }
        for k in [
            "campaigns.name_taken",
            "campaigns.choose_file",
            "campaigns.too_large",
            "campaigns.template_done",
            "campaigns.no_phone_field",
            "campaigns.import.done",
            "campaigns.choose_batch",
            "campaigns.filter.choose_op",
            "campaigns.phone",
            "campaigns.state_column",
            "perm.outbound.batches",
            "perm.outbound.filters",
            "nav.voice_dnc",
            "voice.lists.dnc_title",
            "voice.lists.dnc_intro",
        ] {
            keys.push(k.into());
        }
        let mut missing = Vec::new();
        for key in keys {
            for lang in Lang::ALL {
                if lang.t(&key, &[]) == key {
                    missing.push(format!("{key} ({})", lang.code()));
                }
            }
        }
        assert!(missing.is_empty(), "unknown message keys: {missing:?}");
    }
}
