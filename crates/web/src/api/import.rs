//! Spreadsheet import and export (issue 16, 5) of contacts, customers and
//! knowledge-base articles: Excel `.xlsx` or CSV, read by `crates/sheets`.
//!
//! `POST /api/contacts/import`, `/api/customers/import` and
//! `/api/kb/articles/import`, each `?mode=preview|all|valid`, take the file
//! as the request body. Every row is checked the way the record's form
//! checks it (plus the sheet's own problems: formulas, error cells), and
//! each bad row is reported by its row number in the user's file and the
//! reason. `preview` saves nothing and shows the column mapping and the
//! first rows; `all` saves every row or, if any row is bad, nothing;
//! `valid` saves the good rows and lists the bad ones it left out. Saving
//! is one transaction either way. Never a silent partial import: what was
//! saved and what was not is always in the answer.
//!
//! `GET /api/contacts/export`, `/api/customers/export` and
//! `/api/kb/articles/export`, each `?format=xlsx|csv`, write what the
//! matching list API shows the caller (its filters, within their data
//! scope) under the field names the import reads back. Each export gets an
//! audit log entry of its own: the audit middleware records changes only,
//! and an export is a GET (an import is a POST, which it records).
//!
//! One code path serves the three kinds of record ([`Entity`]): only the
//! columns, how a row becomes a record and which store call saves a batch
//! differ.

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use callcenter::crm::{CustomerKind, CustomerType, Gender, Sharing};
use chrono::{Datelike, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use serde_json::{json, Value};
use sheets::{Field, Limits, Sheet};
use store::{
    ContactFields, ContactQuery, CrmPage, CustomerFields, CustomerQuery, KbArticleFields,
    StoreError,
};

use super::crm::{refused, scope_of};
use crate::auth::Identity;
use crate::form::{Fields, QueryFields};
use crate::i18n::Lang;
use crate::richtext;
use crate::state::AppState;
use crate::view::{api_error, json};

/// What a spreadsheet holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// Contacts (the manual's chapter 4).
    Contacts,
    /// Customers (chapter 5).
    Customers,
    /// Knowledge-base articles (chapter 7).
    Articles,
}

impl Entity {
    /// The columns an import reads, with the header names Chinese and
    /// English users give them. An export writes them under their own
    /// names, in this order.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Entity::Contacts => CONTACT_FIELDS,
            Entity::Customers => CUSTOMER_FIELDS,
            Entity::Articles => ARTICLE_FIELDS,
        }
    }

    /// The records as a file or sheet name says it.
    pub fn noun(self) -> &'static str {
        match self {
            Entity::Contacts => "contacts",
            Entity::Customers => "customers",
            Entity::Articles => "articles",
        }
    }
}

/// A column of an import (shorter to write than the struct literal).
const fn field(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field {
        name,
        aliases,
        required: false,
    }
}

/// The required column of an import.
const fn required(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field {
        name,
        aliases,
        required: true,
    }
}

/// The columns of a contacts sheet.
const CONTACT_FIELDS: &[Field] = &[
    required("name", &["姓名", "联系人", "名称", "Name", "Contact"]),
    field("mobile", &["手机", "手机号", "手机号码", "Mobile", "Cell"]),
    field(
        "phone",
        &["电话", "座机", "座机电话", "固定电话", "Phone", "Telephone"],
    ),
    field("gender", &["性别", "Gender", "Sex"]),
    field("birthday", &["生日", "出生日期", "Birthday"]),
    field("email", &["邮箱", "电子邮件", "E-mail", "Email"]),
    field("wechat", &["微信", "WeChat"]),
    field("city", &["城市", "City"]),
    field("address", &["地址", "Address"]),
    field("business_status", &["业务状态", "状态", "Status"]),
    field("remarks", &["备注", "Remarks", "Notes"]),
];

/// The columns of a customers sheet: every field of the customer form,
/// under its label in the form (Chinese and English) and the usual other
/// names.
const CUSTOMER_FIELDS: &[Field] = &[
    required(
        "name",
        &[
            "客户姓名",
            "客户名称",
            "客户",
            "姓名",
            "名称",
            "公司名称",
            "Customer name",
            "Customer",
            "Name",
            "Company",
        ],
    ),
    field("kind", &["类型", "客户性质", "个人/企业", "Kind", "Type"]),
    field("customer_type", &["客户类型", "客户分类", "Customer type"]),
    field(
        "phone",
        &[
            "联系电话",
            "电话",
            "手机",
            "手机号",
            "Phone",
            "Telephone",
            "Mobile",
        ],
    ),
    field("email", &["电子邮件", "邮箱", "E-mail", "Email"]),
    field("province", &["省份", "省", "Province"]),
    field("city", &["城市", "City"]),
    field("address", &["客户地址", "地址", "Address"]),
    field("level", &["客户级别", "级别", "Level"]),
    field("source", &["客户来源", "来源", "Source"]),
    field("maturity", &["成熟度", "Maturity"]),
    field("industry", &["行业", "Industry"]),
    field("status", &["客户状态", "状态", "Customer status", "Status"]),
    field(
        "description",
        &[
            "客户说明",
            "说明",
            "描述",
            "备注",
            "Description",
            "Remarks",
            "Notes",
        ],
    ),
    field(
        "sharing",
        &["共享客户", "共享", "Shared with", "Shared", "Sharing"],
    ),
    field(
        "acquired_at",
        &[
            "获得时间",
            "获得时间（YYYY-MM-DD）",
            "获得日期",
            "Acquired on",
            "Acquired on (YYYY-MM-DD)",
            "Acquired",
        ],
    ),
];

/// The columns of a knowledge-base sheet.
const ARTICLE_FIELDS: &[Field] = &[
    required("title", &["标题", "问题", "Title", "Question"]),
    field("category", &["分类", "知识分类", "类别", "Category"]),
    field(
        "body",
        &[
            "回复内容",
            "答案",
            "回答",
            "内容",
            "正文",
            "Answer",
            "Body",
            "Content",
        ],
    ),
    field(
        "questions",
        &["类似问题", "相似问题", "Similar questions", "Questions"],
    ),
    field("hot", &["热点问题", "热点", "Hot question", "Hot"]),
    field(
        "valid_from",
        &["有效期开始", "生效日期", "开始日期", "Valid from", "From"],
    ),
    field(
        "valid_to",
        &[
            "有效期结束",
            "失效日期",
            "截止日期",
            "结束日期",
            "Valid until",
            "Valid to",
            "Until",
        ],
    ),
];

/// Words users write for a choice besides its value and the form's labels
/// (which are matched from the catalogs).
const GENDER_WORDS: &[(&str, &str)] = &[("m", "male"), ("f", "female")];
const KIND_WORDS: &[(&str, &str)] = &[
    ("个人", "personal"),
    ("企业", "enterprise"),
    ("公司", "enterprise"),
    ("person", "personal"),
    ("company", "enterprise"),
];
const TYPE_WORDS: &[(&str, &str)] = &[
    ("普通", "normal"),
    ("老客户", "old"),
    ("供应商", "supplier"),
    ("代理", "agent"),
    ("其他", "other"),
];
const SHARING_WORDS: &[(&str, &str)] = &[
    ("不共享", "private"),
    ("共享", "everyone"),
    ("shared", "everyone"),
    ("not shared", "private"),
];

/// Most rows one export writes.
pub const MAX_EXPORT: usize = 200_000;
/// Rows an export reads from the store at a time (the lists' largest page).
const EXPORT_PAGE: i64 = 500;

/// A header, choice or category name as compared: blanks collapsed, lower
/// case.
fn key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One data row, its cells found by the field their column fills.
struct Cells<'a> {
    mapping: &'a [Option<&'static str>],
    cells: &'a [String],
}

impl Cells<'_> {
    /// The cell of `field`, trimmed ("" when no column fills it), without
    /// the `'` a CSV export puts before text Excel would run as a formula
    /// (`sheets::write_csv`): so an exported `+86 ...` reads back as it was.
    fn get(&self, field: &str) -> String {
        let Some(i) = self.mapping.iter().position(|f| *f == Some(field)) else {
            return String::new();
        };
        let v = self.cells.get(i).map_or("", |c| c.trim());
        match v.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
            _ => v.to_string(),
        }
    }
}

/// The stored value a cell names: the value itself, its label as the form
/// shows it in English or Chinese (`{labels}.{value}` in the catalogs), or
/// one of `more`, compared ignoring case and blanks. "" stays "" (the
/// record's default applies); anything else is a problem of `field`.
fn choice(
    text: &str,
    field: &str,
    labels: &str,
    values: &[&'static str],
    more: &[(&str, &'static str)],
    errors: &mut Vec<String>,
) -> String {
    if text.is_empty() {
        return String::new();
    }
    let k = key(text);
    let found = values
        .iter()
        .copied()
        .find(|v| {
            key(v) == k
                || Lang::ALL
                    .iter()
                    .any(|l| key(&l.t(&format!("{labels}.{v}"), &[])) == k)
        })
        .or_else(|| more.iter().find(|(w, _)| key(w) == k).map(|(_, v)| *v));
    match found {
        Some(v) => v.to_string(),
        None => {
            errors.push(format!(
                "{field}: '{text}' is not one of {}",
                values.join(", ")
            ));
            String::new()
        }
    }
}

/// A yes/no cell: 是/否, yes/no, y/n, 1/0, true/false (an `.xlsx` boolean
/// reads as true/false); `None` for anything else, "" included.
fn flag(text: &str) -> Option<bool> {
    match key(text).as_str() {
        "是" | "yes" | "y" | "1" | "true" | "√" | "✓" => Some(true),
        "否" | "no" | "n" | "0" | "false" | "×" => Some(false),
        _ => None,
    }
}

/// A local time as unix ms (`None` in a gap a clock change leaves).
fn local_ms(t: NaiveDateTime) -> Option<i64> {
    Local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// A date (and time) cell in the server's local time, as the forms read
/// it: `YYYY-MM-DD` (`/` or `.` too, as Excel users type it; an `.xlsx`
/// date cell reads as `YYYY-MM-DD`) with an optional `HH:MM[:SS]`. `None`
/// for ""; anything else is a problem of `field`.
fn local_time(text: &str, field: &str, errors: &mut Vec<String>) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    let (day, time) = text
        .split_once([' ', 'T'])
        .map_or((text, ""), |(d, t)| (d, t.trim()));
    let day = NaiveDate::parse_from_str(&day.replace(['/', '.'], "-"), "%Y-%m-%d").ok();
    let time = if time.is_empty() {
        Some(NaiveTime::MIN)
    } else {
        NaiveTime::parse_from_str(time, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
            .ok()
    };
    let ms = day.zip(time).and_then(|(d, t)| local_ms(d.and_time(t)));
    if ms.is_none() {
        errors.push(format!("{field}: '{text}' is not a date (YYYY-MM-DD)"));
    }
    ms
}

/// Unix ms as local `YYYY-MM-DD` (or `YYYY-MM-DD HH:MM`), as the import
/// reads it back.
fn local_text(ms: i64, with_time: bool) -> String {
    let format = if with_time {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    };
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// A record as its `normalized()` checked it, after the row's own problems
/// (`errors`: a choice it does not know, a bad date): the record only if
/// there are none.
fn checked<T>(record: Result<T, StoreError>, mut errors: Vec<String>) -> Result<T, Vec<String>> {
    match record {
        Ok(r) if errors.is_empty() => Ok(r),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(match e {
                StoreError::InvalidField(f) => f.to_string(),
                other => other.to_string(),
            });
            Err(errors)
        }
    }
}

/// The closed values of a choice, as stored.
fn values<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

/// One row of a contacts sheet, owned (and not shared) by `owner`.
fn contact_row(c: &Cells, owner: i64) -> Result<ContactFields, Vec<String>> {
    let mut errors = Vec::new();
    let genders = values(Gender::ALL, Gender::as_str);
    let gender = choice(
        &c.get("gender"),
        "gender",
        "crm.gender",
        &genders,
        GENDER_WORDS,
        &mut errors,
    );
    let f = ContactFields {
        owner_id: Some(owner),
        sharing: Sharing::Private.as_str().into(),
        name: c.get("name"),
        mobile: c.get("mobile"),
        phone: c.get("phone"),
        gender,
        // A date typed with slashes or dots, as Excel users do; the
        // contact keeps it as text.
        birthday: c.get("birthday").replace(['/', '.'], "-"),
        email: c.get("email"),
        wechat: c.get("wechat"),
        city: c.get("city"),
        address: c.get("address"),
        business_status: c.get("business_status"),
        remarks: c.get("remarks"),
        ..ContactFields::default()
    };
    checked(f.normalized(), errors)
}

/// One row of a customers sheet, owned by `owner`.
fn customer_row(c: &Cells, owner: i64) -> Result<CustomerFields, Vec<String>> {
    let mut errors = Vec::new();
    let kinds = values(CustomerKind::ALL, CustomerKind::as_str);
    let types = values(CustomerType::ALL, CustomerType::as_str);
    let shares = values(Sharing::ALL, Sharing::as_str);
    let kind = choice(
        &c.get("kind"),
        "kind",
        "crm.kind",
        &kinds,
        KIND_WORDS,
        &mut errors,
    );
    let customer_type = choice(
        &c.get("customer_type"),
        "customer_type",
        "crm.customer_type",
        &types,
        TYPE_WORDS,
        &mut errors,
    );
    // "共享客户: 是" shares the customer with everyone.
    let sharing = match flag(&c.get("sharing")) {
        Some(true) => Sharing::Everyone.as_str().to_string(),
        Some(false) => Sharing::Private.as_str().to_string(),
        None => choice(
            &c.get("sharing"),
            "sharing",
            "crm.sharing",
            &shares,
            SHARING_WORDS,
            &mut errors,
        ),
    };
    let acquired_at = local_time(&c.get("acquired_at"), "acquired_at", &mut errors).unwrap_or(0);
    let f = CustomerFields {
        kind,
        name: c.get("name"),
        phone: c.get("phone"),
        email: c.get("email"),
        province: c.get("province"),
        city: c.get("city"),
        address: c.get("address"),
        customer_type,
        level: c.get("level"),
        source: c.get("source"),
        maturity: c.get("maturity"),
        industry: c.get("industry"),
        status: c.get("status"),
        description: c.get("description"),
        sharing,
        owner_id: Some(owner),
        acquired_at,
    };
    checked(f.normalized(), errors)
}

/// One row of a knowledge-base sheet; `categories` by [`key`] of their
/// names. A category that does not exist is the row's problem, not a new
/// category: a typo would otherwise make one.
fn article_row(
    c: &Cells,
    categories: &HashMap<String, i64>,
) -> Result<KbArticleFields, Vec<String>> {
    let mut errors = Vec::new();
    let category = c.get("category");
    let category_id = if category.is_empty() {
        None
    } else {
        let id = categories.get(&key(&category)).copied();
        if id.is_none() {
            errors.push(format!(
                "category: there is no category '{category}' (add it in the knowledge base first)"
            ));
        }
        id
    };
    let hot = c.get("hot");
    let hot = hot.is_empty().then_some(false).or_else(|| flag(&hot));
    if hot.is_none() {
        errors.push(format!(
            "hot: '{}' is not yes or no (是/否, 1/0)",
            c.get("hot")
        ));
    }
    let f = KbArticleFields {
        category_id,
        title: c.get("title"),
        // One cell: a question a line, or separated by '|'.
        questions: c
            .get("questions")
            .split(['\n', '|'])
            .map(str::to_string)
            .collect(),
        // As the article form does: HTML sanitised, plain text escaped.
        body: richtext::clean(&c.get("body")),
        valid_from: local_time(&c.get("valid_from"), "valid_from", &mut errors),
        valid_to: local_time(&c.get("valid_to"), "valid_to", &mut errors),
        hot: hot.unwrap_or(false),
    };
    checked(f.normalized(), errors)
}

/// An answer body as an export writes it, so that the import (which sends
/// the cell through [`richtext::clean`]) gives it back: the plain text it
/// came from when it was plain text (the `<br>` and entities `clean` made
/// undone), else the HTML, wrapped in a `<div>` when it does not start
/// with a tag (`clean` would take it for text).
fn body_cell(body: &str) -> String {
    let text = body
        .replace("<br>", "\n")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    if richtext::clean(&text) == body {
        text
    } else if body.trim_start().starts_with('<') {
        body.to_string()
    } else {
        format!("<div>{body}</div>")
    }
}

/// `mode=preview|all|valid` of an import (preview when not given).
fn import_mode(q: &Fields) -> Result<&'static str, Box<Response>> {
    match q.text("mode").as_str() {
        "" | "preview" => Ok("preview"),
        "all" => Ok("all"),
        "valid" => Ok("valid"),
        _ => Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "mode: preview, all or valid",
            Some("mode"),
        ))),
    }
}

/// An import over the API: the body received into the data dir (50 MiB
/// at most), then [`import_bytes`].
async fn import_request(
    entity: Entity,
    who: &Identity,
    state: &AppState,
    q: &Fields,
    req: Request,
) -> Response {
    let mode = match import_mode(q) {
        Ok(m) => m,
        Err(r) => return *r,
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
    let (status, answer) = import_bytes(state, who, entity, bytes, mode).await;
    json(status, &answer)
}

/// `POST /api/contacts/import?mode=preview|all|valid`: the body is the
/// spreadsheet (.xlsx or CSV, at most 50 MiB and 200,000 rows).
#[utoipa::path(post, path = "/api/contacts/import", tag = "crm", params(("mode" = Option<String>, Query, description = "preview (default: check and show, save nothing), all (save every row, or nothing if any row is bad), valid (save the good rows, list the bad ones)")), request_body(content = Vec<u8>, description = "the spreadsheet: Excel .xlsx or CSV (UTF-8 or GB18030), header in row 1: name (姓名, required), mobile, phone, gender, birthday, email, wechat, city, address, business_status, remarks", content_type = "application/octet-stream"), responses((status = 200, description = "{format, rows, mapping: [{header, field}], unknown, sample, bad_rows: [{row, errors}], imported, ids}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn import_contacts(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    import_request(Entity::Contacts, &who, &state, &q, req).await
}

/// `POST /api/customers/import?mode=preview|all|valid`: the body is the
/// spreadsheet; the customers are the caller's.
#[utoipa::path(post, path = "/api/customers/import", tag = "crm", params(("mode" = Option<String>, Query, description = "preview (default: check and show, save nothing), all (save every row, or nothing if any row is bad), valid (save the good rows, list the bad ones)")), request_body(content = Vec<u8>, description = "the spreadsheet: Excel .xlsx or CSV (UTF-8 or GB18030), header in row 1: name (客户姓名, required), kind (personal/enterprise, 个人客户/企业客户), customer_type (normal, vip, old, agent, supplier, partner, other, or the form's labels), phone, email, province, city, address, level, source, maturity, industry, status, description, sharing (private/everyone, 是/否), acquired_at (YYYY-MM-DD)", content_type = "application/octet-stream"), responses((status = 200, description = "{format, rows, mapping: [{header, field}], unknown, sample, bad_rows: [{row, errors}], imported, ids}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn import_customers(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    import_request(Entity::Customers, &who, &state, &q, req).await
}

/// `POST /api/kb/articles/import?mode=preview|all|valid`: the body is the
/// spreadsheet; imported articles are indexed for the search at once.
#[utoipa::path(post, path = "/api/kb/articles/import", tag = "kb", params(("mode" = Option<String>, Query, description = "preview (default: check and show, save nothing), all (save every row, or nothing if any row is bad), valid (save the good rows, list the bad ones)")), request_body(content = Vec<u8>, description = "the spreadsheet: Excel .xlsx or CSV (UTF-8 or GB18030), header in row 1: title (标题, required), category (an existing category's name), body (plain text or HTML, sanitised), questions (one cell: lines or separated by |), hot (是/否, yes/no, 1/0), valid_from and valid_to (YYYY-MM-DD[ HH:MM], local time)", content_type = "application/octet-stream"), responses((status = 200, description = "{format, rows, mapping: [{header, field}], unknown, sample, bad_rows: [{row, errors}], imported, ids}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn import_articles(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: Request,
) -> Response {
    import_request(Entity::Articles, &who, &state, &q, req).await
}

/// An error answer as [`import_bytes`] gives it.
fn failure(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": message, "field": "file" }))
}

/// Reads `bytes` as a spreadsheet of `entity` and, by `mode` (preview,
/// all, valid), checks or saves its rows for `who`: the API's answer and
/// its status (the import pages show the same).
pub async fn import_bytes(
    state: &AppState,
    who: &Identity,
    entity: Entity,
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
    let store = state.store();
    let owner = who.user.id;
    let fields = entity.fields();
    match entity {
        Entity::Contacts => {
            run(
                &sheet,
                fields,
                mode,
                |c| contact_row(c, owner),
                |rows| store.create_contacts(rows, Some(owner)),
            )
            .await
        }
        Entity::Customers => {
            run(
                &sheet,
                fields,
                mode,
                |c| customer_row(c, owner),
                |rows| store.create_customers(rows, Some(owner)),
            )
            .await
        }
        Entity::Articles => {
            let categories: HashMap<String, i64> = match store.list_kb_categories().await {
                Ok(l) => l.into_iter().map(|c| (key(&c.name), c.id)).collect(),
                Err(e) => {
                    tracing::error!("importing articles: {e}");
                    return failure(StatusCode::INTERNAL_SERVER_ERROR, "see the server log");
                }
            };
            run(
                &sheet,
                fields,
                mode,
                |c| article_row(c, &categories),
                |rows| store.create_kb_articles(rows, Some(owner)),
            )
            .await
        }
    }
}

/// What every import shares: maps the columns to `fields`, checks every
/// row with `check`, answers with the mapping, the first rows and the bad
/// rows, and (mode all or valid) saves the good records with `save`, one
/// transaction.
async fn run<R, Fut>(
    sheet: &Sheet,
    fields: &'static [Field],
    mode: &str,
    check: impl Fn(&Cells) -> Result<R, Vec<String>>,
    save: impl FnOnce(Vec<R>) -> Fut,
) -> (StatusCode, Value)
where
    Fut: Future<Output = Result<Vec<i64>, StoreError>>,
{
    let mapping = sheets::map_columns(&sheet.headers, fields);
    if !mapping.missing.is_empty() {
        let alias = |name: &&str| {
            fields
                .iter()
                .find(|f| f.name == *name)
                .and_then(|f| f.aliases.first().copied())
                .unwrap_or_default()
        };
        return failure(
            StatusCode::BAD_REQUEST,
            &format!(
                "no column for {}: name a column in row 1 '{}' (or {})",
                mapping.missing.join(", "),
                mapping.missing.join("', '"),
                mapping
                    .missing
                    .iter()
                    .map(alias)
                    .collect::<Vec<_>>()
                    .join("', '")
            ),
        );
    }
    // Check every row as the form would; keep the good ones.
    let mut good: Vec<R> = Vec::new();
    let mut bad: Vec<Value> = Vec::new();
    for row in &sheet.rows {
        let cells = Cells {
            mapping: &mapping.columns,
            cells: &row.cells,
        };
        let mut errors = row.problems.clone();
        match check(&cells) {
            Ok(r) if errors.is_empty() => good.push(r),
            Ok(_) => {}
            Err(e) => errors.extend(e),
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
    let save_now = match mode {
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
    if save_now && !good.is_empty() {
        match save(good).await {
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
            Err(StoreError::CrmNotFound(what, id)) => {
                // Deleted between the check and the save (a category).
                answer["error"] = json!(format!(
                    "{what} {id} no longer exists; nothing was imported"
                ));
                return (StatusCode::BAD_REQUEST, answer);
            }
            Err(e) => {
                tracing::error!("importing a spreadsheet: {e}");
                return failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "saving failed, see the server log",
                );
            }
        }
    }
    (StatusCode::OK, answer)
}

/// Every row a list gives, a page at a time, [`MAX_EXPORT`] at most;
/// `page` reads the page at an offset.
async fn every_page<T, F, Fut>(mut page: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<CrmPage<T>, StoreError>>,
{
    let mut out = Vec::new();
    loop {
        let offset = i64::try_from(out.len()).unwrap_or(i64::MAX);
        let rows = page(offset).await?.rows;
        let n = rows.len();
        out.extend(rows);
        if (n as i64) < EXPORT_PAGE || out.len() >= MAX_EXPORT {
            break;
        }
    }
    out.truncate(MAX_EXPORT);
    Ok(out)
}

/// The rows of a contacts export: `view=` and `q=` as the contact list.
async fn contact_rows(
    state: &AppState,
    who: &Identity,
    q: &Fields,
) -> Result<Vec<Vec<String>>, Box<Response>> {
    let (view, team) = match super::crm::contact_tab(state, who, &q.text("view")).await {
        Ok(Some(tab)) => tab,
        Ok(None) => return Err(Box::new(super::crm::bad_view(&q.text("view")))),
        Err(e) => return Err(boxed(e)),
    };
    let scope = scope_of(state, who).await.map_err(boxed)?;
    let search = q.text("q");
    let contacts = every_page(|offset| {
        let query = ContactQuery {
            view,
            scope: scope.clone(),
            search: search.clone(),
            category_id: None,
            limit: EXPORT_PAGE,
            offset,
            team: team.clone(),
        };
        async move { state.store().list_contacts(&query).await }
    })
    .await
    .map_err(boxed)?;
    Ok(contacts
        .into_iter()
        .map(|c| {
            let f = c.fields;
            vec![
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
            ]
        })
        .collect())
}

/// The rows of a customers export: `view=all|today|week|enterprise`,
/// `type=`, `enterprise=` and `q=` as the customer list (the page's tabs
/// included), within the caller's scope.
async fn customer_rows(
    state: &AppState,
    who: &Identity,
    q: &Fields,
) -> Result<Vec<Vec<String>>, Box<Response>> {
    let today = Local::now().date_naive();
    let midnight = |d: NaiveDate| Some(local_ms(d.and_time(NaiveTime::MIN)).unwrap_or(0));
    let view = q.text("view");
    let since = match view.as_str() {
        "" | "all" | "enterprise" => None,
        "today" => midnight(today),
        "week" => {
            midnight(today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday())))
        }
        other => {
            return Err(Box::new(api_error(
                StatusCode::BAD_REQUEST,
                &format!("view '{other}': all, today, week or enterprise"),
                Some("view"),
            )))
        }
    };
    let customer_type = match q.text("type") {
        t if t.is_empty() => None,
        t => match CustomerType::parse(&t) {
            Some(known) => Some(known.as_str().to_string()),
            None => {
                let types = values(CustomerType::ALL, CustomerType::as_str).join(", ");
                let why = format!("type '{t}' is not one of {types}");
                return Err(Box::new(api_error(
                    StatusCode::BAD_REQUEST,
                    &why,
                    Some("type"),
                )));
            }
        },
    };
    let enterprise_only =
        view == "enterprise" || matches!(q.text("enterprise").as_str(), "true" | "1" | "on");
    let scope = scope_of(state, who).await.map_err(boxed)?;
    let search = q.text("q");
    let customers = every_page(|offset| {
        let query = CustomerQuery {
            scope: scope.clone(),
            customer_type: customer_type.clone(),
            enterprise_only,
            created_since: since,
            search: search.clone(),
            limit: EXPORT_PAGE,
            offset,
        };
        async move { state.store().list_customers(&query).await }
    })
    .await
    .map_err(boxed)?;
    Ok(customers
        .into_iter()
        .map(|c| {
            let f = c.fields;
            vec![
                f.name,
                f.kind,
                f.customer_type,
                f.phone,
                f.email,
                f.province,
                f.city,
                f.address,
                f.level,
                f.source,
                f.maturity,
                f.industry,
                f.status,
                f.description,
                f.sharing,
                local_text(f.acquired_at, false),
            ]
        })
        .collect())
}

/// The rows of a knowledge-base export: `category=` (an id) as the
/// article list, valid or not; the category by name.
async fn article_rows(state: &AppState, q: &Fields) -> Result<Vec<Vec<String>>, Box<Response>> {
    let category = match q.text("category").as_str() {
        "" => None,
        c => Some(c.parse::<i64>().map_err(|_| {
            Box::new(api_error(
                StatusCode::BAD_REQUEST,
                "category: an id",
                Some("category"),
            ))
        })?),
    };
    let store = state.store();
    let names: HashMap<i64, String> = store
        .list_kb_categories()
        .await
        .map_err(boxed)?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let articles = every_page(|offset| store.list_kb_articles(category, EXPORT_PAGE, offset))
        .await
        .map_err(boxed)?;
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let time = |t: Option<i64>| t.map(|t| local_text(t, true)).unwrap_or_default();
    Ok(articles
        .into_iter()
        .map(|a| {
            let f = a.fields;
            vec![
                f.title,
                f.category_id
                    .and_then(|c| names.get(&c).cloned())
                    .unwrap_or_default(),
                body_cell(&f.body),
                f.questions.join("\n"),
                yes_no(f.hot),
                time(f.valid_from),
                time(f.valid_to),
            ]
        })
        .collect())
}

/// A store error as the API answers it, boxed (a response is large).
fn boxed(e: StoreError) -> Box<Response> {
    Box::new(refused(e))
}

/// `format=xlsx|csv` of an export (xlsx when not given).
fn export_format(q: &Fields) -> Result<&'static str, Box<Response>> {
    match q.text("format").as_str() {
        "" | "xlsx" => Ok("xlsx"),
        "csv" => Ok("csv"),
        _ => Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "format: xlsx or csv",
            Some("format"),
        ))),
    }
}

/// `rows` of `entity` as a download in `format`.
async fn download(entity: Entity, format: &'static str, rows: Vec<Vec<String>>) -> Response {
    let headers: Vec<String> = entity.fields().iter().map(|f| f.name.to_string()).collect();
    sheet_download(entity.noun(), format, headers, rows).await
}

/// `rows` under `headers` as a spreadsheet download named `name.format`
/// (`format` is `csv` or `xlsx`; the sheet is named `name`).
pub(crate) async fn sheet_download(
    name: &'static str,
    format: &'static str,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
) -> Response {
    let written = tokio::task::spawn_blocking(move || {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        if format == "csv" {
            sheets::write_csv(&headers, rows)
        } else {
            sheets::write_xlsx(name, &headers, rows)
        }
    })
    .await;
    let bytes = match written
        .map_err(|e| e.to_string())
        .and_then(|w| w.map_err(|e| e.to_string()))
    {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("writing an export: {e}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "writing the export failed, see the server log",
                None,
            );
        }
    };
    let ctype = if format == "csv" {
        "text/csv; charset=utf-8"
    } else {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    };
    (
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{format}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// What every export shares: the format, the rows (`rows`, the
/// entity's own query), the file, and the audit entry.
async fn export<Fut>(
    state: &AppState,
    who: &Identity,
    parts: &Parts,
    entity: Entity,
    q: &Fields,
    rows: impl FnOnce() -> Fut,
) -> Response
where
    Fut: Future<Output = Result<Vec<Vec<String>>, Box<Response>>>,
{
    let at = crate::auth::now_ms();
    let started = Instant::now();
    let (response, written) = match export_format(q) {
        Err(r) => (*r, None),
        Ok(format) => match rows().await {
            Err(r) => (*r, None),
            Ok(rows) => {
                let n = rows.len();
                (download(entity, format, rows).await, Some((n, format)))
            }
        },
    };
    let params = written.map_or_else(String::new, |(n, format)| {
        format!("({n} {} as {format})", entity.noun())
    });
    audit_export(state, who, parts, params, response.status(), at, started).await;
    response
}

/// Writes the audit entry of an export (action `export`), whatever its
/// outcome: `params` says what was written (empty when nothing was).
pub(crate) async fn audit_export(
    state: &AppState,
    who: &Identity,
    parts: &Parts,
    params: String,
    status: StatusCode,
    at: i64,
    started: Instant,
) {
    // The API's routes are not nested: the URI is the whole path.
    let uri = &parts.uri;
    let entry = store::AuditEntry {
        id: 0,
        at,
        action: "export".into(),
        username: who.user.username.clone(),
        ip: crate::auth::client_ip(&parts.extensions),
        method: parts.method.to_string(),
        url: match uri.query() {
            Some(query) => format!("{}?{}", uri.path(), crate::audit::redact_form(query)),
            None => uri.path().to_string(),
        },
        params,
        status: i32::from(status.as_u16()),
        ok: status.is_success(),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    // As the audit middleware: a failed write is logged, not the export's
    // failure.
    if let Err(e) = state.store().add_audit(&entry).await {
        tracing::warn!("audit entry not written: {e}");
    }
}

/// `GET /api/contacts/export?format=xlsx|csv&view=all&q=`: the contacts of
/// a tab within the caller's scope (at most 200,000), as a download.
#[utoipa::path(get, path = "/api/contacts/export", tag = "crm", params(("format" = Option<String>, Query, description = "xlsx (default) or csv"), ("view" = Option<String>, Query, description = "all (default), mine, unassigned, voided, appointments, failed"), ("q" = Option<String>, Query, description = "the start of the name or of a number")), responses((status = 200, description = "the spreadsheet", content_type = "application/octet-stream"), crate::api::doc::Errors))]
pub async fn export_contacts(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    parts: Parts,
) -> Response {
    let rows = || contact_rows(&state, &who, &q);
    export(&state, &who, &parts, Entity::Contacts, &q, rows).await
}

/// `GET /api/customers/export?format=xlsx|csv&view=&type=&enterprise=&q=`:
/// the customers of a list within the caller's scope (at most 200,000), as
/// a download.
#[utoipa::path(get, path = "/api/customers/export", tag = "crm", params(("format" = Option<String>, Query, description = "xlsx (default) or csv"), ("view" = Option<String>, Query, description = "all (default), today, week, enterprise"), ("type" = Option<String>, Query, description = "normal, vip, old, agent, supplier, partner, other"), ("enterprise" = Option<bool>, Query, description = "enterprise customers only"), ("q" = Option<String>, Query, description = "the start of the name, or of the phone")), responses((status = 200, description = "the spreadsheet", content_type = "application/octet-stream"), crate::api::doc::Errors))]
pub async fn export_customers(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    parts: Parts,
) -> Response {
    let rows = || customer_rows(&state, &who, &q);
    export(&state, &who, &parts, Entity::Customers, &q, rows).await
}

/// `GET /api/kb/articles/export?format=xlsx|csv&category=`: the articles
/// (of a category, or all; valid or not, at most 200,000) as a download.
#[utoipa::path(get, path = "/api/kb/articles/export", tag = "kb", params(("format" = Option<String>, Query, description = "xlsx (default) or csv"), ("category" = Option<i64>, Query, description = "only this category")), responses((status = 200, description = "the spreadsheet: title, category (by name), body, questions (a line each), hot (yes/no), valid_from, valid_to (YYYY-MM-DD HH:MM, local time)", content_type = "application/octet-stream"), crate::api::doc::Errors))]
pub async fn export_articles(
    who: Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    parts: Parts,
) -> Response {
    let rows = || article_rows(&state, &q);
    export(&state, &who, &parts, Entity::Articles, &q, rows).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells_of(pairs: &[(&'static str, &str)]) -> (Vec<Option<&'static str>>, Vec<String>) {
        (
            pairs.iter().map(|(f, _)| Some(*f)).collect(),
            pairs.iter().map(|(_, v)| v.to_string()).collect(),
        )
    }

    #[test]
    fn choices_are_read_as_values_english_or_chinese_labels() {
        let mut errors = Vec::new();
        let types = values(CustomerType::ALL, CustomerType::as_str);
        for (text, want) in [
            ("VIP客户", "vip"),
            ("vip customer", "vip"),
            ("Agent (reseller)", "agent"),
            ("代理商", "agent"),
            ("其它", "other"),
            ("其他", "other"),
            ("partner", "partner"),
            ("", ""),
        ] {
            let got = choice(
                text,
                "customer_type",
                "crm.customer_type",
                &types,
                TYPE_WORDS,
                &mut errors,
            );
            assert_eq!(got, want, "{text}");
        }
        assert!(errors.is_empty(), "{errors:?}");
        choice(
            "gold",
            "customer_type",
            "crm.customer_type",
            &types,
            TYPE_WORDS,
            &mut errors,
        );
        assert_eq!(
            errors,
            vec!["customer_type: 'gold' is not one of normal, vip, old, agent, supplier, partner, other"]
        );
    }

    #[test]
    fn dates_and_flags_are_read_as_users_write_them() {
        let mut errors = Vec::new();
        let day = local_time("2024-03-05", "d", &mut errors);
        assert_eq!(day, local_time("2024/3/5", "d", &mut errors));
        assert_eq!(local_text(day.unwrap_or_default(), false), "2024-03-05");
        let t = local_time("2024-03-05 08:30:00", "d", &mut errors);
        assert_eq!(local_text(t.unwrap_or_default(), true), "2024-03-05 08:30");
        assert_eq!(t, local_time("2024-03-05 08:30", "d", &mut errors));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(local_time("2024-02-30", "valid_to", &mut errors), None);
        assert_eq!(local_time("next week", "valid_to", &mut errors), None);
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].starts_with("valid_to: '2024-02-30'"),
            "{errors:?}"
        );
        assert_eq!(
            ["是", "YES", "1", "true", "否", "no", "0", "FALSE", "maybe", ""].map(flag),
            [
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(false),
                Some(false),
                Some(false),
                Some(false),
                None,
                None
            ]
        );
    }

    #[test]
    fn a_csv_exports_defused_cell_reads_back_as_it_was() {
        let (mapping, cells) = cells_of(&[("phone", " '+86 186 1861 6001 "), ("name", "'ok")]);
        let c = Cells {
            mapping: &mapping,
            cells: &cells,
        };
        assert_eq!(c.get("phone"), "+86 186 1861 6001");
        // An apostrophe before anything else is the user's own.
        assert_eq!(c.get("name"), "'ok");
        assert_eq!(c.get("email"), "");
    }

    #[test]
    fn an_exported_body_is_imported_as_the_same_body() {
        for stored in [
            richtext::clean("plain text & <b> kept\nsecond line"),
            richtext::clean("<p>Rich <b>text</b></p>"),
            "text first <b>then bold</b>".to_string(),
            String::new(),
        ] {
            let again = richtext::clean(&body_cell(&stored));
            if stored.starts_with("text first") {
                // Wrapped so that it stays HTML.
                assert_eq!(again, format!("<div>{stored}</div>"));
            } else {
                assert_eq!(again, stored);
            }
        }
    }

    #[test]
    fn every_field_of_every_entity_is_exported() {
        // The export writes one column per field in this order: the field
        // names must be unique, and each import reads its own headers.
        for e in [Entity::Contacts, Entity::Customers, Entity::Articles] {
            let names: Vec<String> = e.fields().iter().map(|f| f.name.to_string()).collect();
            let m = sheets::map_columns(&names, e.fields());
            assert!(m.columns.iter().all(Option::is_some), "{e:?}: {m:?}");
            assert!(m.repeated.is_empty() && m.missing.is_empty(), "{e:?}");
        }
        assert_eq!(CUSTOMER_FIELDS.len(), 16);
    }
}
