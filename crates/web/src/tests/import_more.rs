//! Router tests of the spreadsheet import and export of customers and
//! knowledge-base articles (issue 16, 5), as the contacts' are tested in
//! `tickets.rs`: three bad rows reported by row number and reason, all or
//! nothing imports nothing, the good rows only imports the rest, an export
//! reads back as an import, the data scope and permissions hold, bad files
//! get a clear message, exports and imports are audited, and the import
//! pages serve all three kinds of record from one flow.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::TimeZone;
use serde_json::{json, Value};

use super::crm::token_with;
use super::{audit_until, App, Browser, PW};

const CUSTOMERS: &[&str] = &["crm.customers:view", "crm.customers:edit"];
const KB: &[&str] = &["kb:view", "kb:edit"];

/// A data dir of the test's own (uploads wait in it).
fn data_dir(app: &App, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
    app.state.set_data_dir(dir.clone());
    dir
}

/// `bytes` POSTed as the body to `path` with a bearer token.
async fn upload(app: &App, bearer: &str, path: &str, bytes: Vec<u8>) -> super::Resp {
    let req = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes));
    app.send(req.unwrap()).await
}

/// A download's bytes (the body as bytes, not text).
async fn download(app: &App, bearer: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .body(Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    let status = resp.status();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, body.to_vec())
}

fn rows(data: &[&[&str]]) -> Vec<Vec<String>> {
    data.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// The row numbers of an answer's bad rows.
fn bad_rows(answer: &Value) -> Vec<i64> {
    answer["bad_rows"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["row"].as_i64()).collect())
        .unwrap_or_default()
}

/// The problems of bad row `row`, joined.
fn why(answer: &Value, row: i64) -> String {
    answer["bad_rows"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["row"] == row))
        .map(|b| b["errors"].to_string())
        .unwrap_or_default()
}

/// The bit-by-bit CRC-32 of ZIP (fast enough for a test's few bytes).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A minimal `.xlsx` (a stored ZIP written by hand: the web crate has no
/// ZIP writer) whose one sheet holds `sheet_data` then `after`: for what
/// the export never writes, merged cells and formulas.
fn raw_xlsx(sheet_data: &str, after: &str) -> Vec<u8> {
    const NS: &str = "http://schemas.openxmlformats.org";
    let sheet = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"{NS}/spreadsheetml/2006/main\">\
         <sheetData>{sheet_data}</sheetData>{after}</worksheet>"
    );
    let parts = [
        ("[Content_Types].xml".to_string(), format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"{NS}/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>"
        )),
        ("_rels/.rels".to_string(), format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"{NS}/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"{NS}/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
        )),
        ("xl/workbook.xml".to_string(), format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"{NS}/spreadsheetml/2006/main\" \
             xmlns:r=\"{NS}/officeDocument/2006/relationships\"><sheets><sheet name=\"Data\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
        )),
        ("xl/_rels/workbook.xml.rels".to_string(), format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"{NS}/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"{NS}/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"
        )),
        ("xl/worksheets/sheet1.xml".to_string(), sheet),
    ];
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for (name, text) in &parts {
        let (name, data) = (name.as_bytes(), text.as_bytes());
        let offset = zip.len() as u32;
        // Version 2.0, no flags, stored, 1980-01-01 00:00.
        let common = [
            &20u16.to_le_bytes()[..],
            &0u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &0x21u16.to_le_bytes(),
            &crc32(data).to_le_bytes(),
            &(data.len() as u32).to_le_bytes(),
            &(data.len() as u32).to_le_bytes(),
            &(name.len() as u16).to_le_bytes(),
            &0u16.to_le_bytes(),
        ]
        .concat();
        zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        zip.extend_from_slice(&common);
        zip.extend_from_slice(name);
        zip.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&common);
        // Comment length, disk, internal and external attributes, offset.
        central.extend_from_slice(&[0u8; 10]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let start = zip.len() as u32;
    zip.extend_from_slice(&central);
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0u8; 4]);
    zip.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    zip.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    zip.extend_from_slice(&(central.len() as u32).to_le_bytes());
    zip.extend_from_slice(&start.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

/// A cell of text in sheet XML.
fn text_cell(at: &str, text: &str) -> String {
    format!("<c r=\"{at}\" t=\"inlineStr\"><is><t>{text}</t></is></c>")
}

/// Local midnight of a day, unix ms (how a date cell is kept).
fn local_day(y: i32, m: u32, d: u32) -> i64 {
    chrono::Local
        .with_ymd_and_hms(y, m, d, 0, 0, 0)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// A customer's fields as the API shows them, without what an import
/// does not carry over (id, times of the record, creator).
fn customer_fields(c: &Value) -> Value {
    let mut c = c.clone();
    if let Some(o) = c.as_object_mut() {
        for k in ["id", "created_at", "updated_at", "creator_id"] {
            o.remove(k);
        }
    }
    c
}

#[tokio::test]
async fn customers_sheet_with_three_bad_rows_imports_all_or_nothing_or_the_good_rows_and_round_trips(
) {
    let app = App::new().await;
    let dir = data_dir(&app, "import-customers");
    // Alice may look numbers up too (the screen pop).
    let (alice_id, alice) = token_with(
        &app,
        "alice",
        &[
            "crm.customers:view",
            "crm.customers:edit",
            "crm.contacts:view",
        ],
    )
    .await;
    let (_, bob) = token_with(&app, "bob", CUSTOMERS).await;
    let (_, viewer) = token_with(&app, "viewer", &["crm.customers:view"]).await;
    let (_, nobody) = token_with(&app, "nobody", &["crm.contacts:view"]).await;
    let xlsx = sheets::write_xlsx(
        "客户",
        &[
            "客户姓名",
            "类型",
            "客户类型",
            "联系电话",
            "电子邮件",
            "省份",
            "城市",
            "客户级别",
            "共享客户",
            "获得时间",
            "客户说明",
            "微信群",
        ],
        rows(&[
            &[
                "Acme 上海",
                "企业客户",
                "VIP客户",
                "021-6262 0668",
                "it@acme.example",
                "上海",
                "上海",
                "A",
                "是",
                "2024-03-05",
                "大客户",
                "ignored",
            ],
            &[
                "",
                "个人客户",
                "普通客户",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "no name",
                "",
            ],
            &[
                "Beta",
                "个人客户",
                "Gold",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            &[
                "Gamma", "企业", "Partner", "call me", "", "", "", "", "", "", "", "",
            ],
            &[
                "Delta",
                "Enterprise customer",
                "Other",
                "+86 186 1861 6001",
                "",
                "",
                "Beijing",
                "",
                "no",
                "2024/1/2",
                "",
                "",
            ],
        ]),
    )
    .unwrap();

    // Preview: the mapping, the rows, the three bad rows by number and
    // reason; nothing saved.
    let r = upload(&app, &alice, "/api/customers/import", xlsx.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(
        (p["format"].as_str(), p["rows"].as_i64()),
        (Some("xlsx"), Some(5))
    );
    assert_eq!(
        p["mapping"][0],
        json!({"header": "客户姓名", "field": "name"})
    );
    assert_eq!(
        p["mapping"][2],
        json!({"header": "客户类型", "field": "customer_type"})
    );
    assert_eq!(p["unknown"], json!(["微信群"]));
    assert_eq!(bad_rows(&p), vec![3, 4, 5], "{}", r.body);
    assert!(why(&p, 3).contains("name: is required"), "{}", r.body);
    assert!(why(&p, 4).contains("customer_type: 'Gold'"), "{}", r.body);
    assert!(why(&p, 5).contains("phone: 'call me'"), "{}", r.body);
    assert_eq!(
        (p["good_rows"].as_i64(), p["imported"].as_i64()),
        (Some(2), Some(0))
    );
    let count = |token: &str| {
        let token = token.to_string();
        let app = &app;
        async move { app.api("GET", "/api/customers", Some(&token)).await.json()["total"].clone() }
    };
    assert_eq!(count(&alice).await, 0);

    // All or nothing: nothing.
    let r = upload(&app, &alice, "/api/customers/import?mode=all", xlsx.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("3 of 5 rows are bad: nothing was imported"));
    assert_eq!(count(&alice).await, 0);

    // The good rows only: two, owned by the importer, every field read
    // from the form's labels; the three left out are listed.
    let r = upload(
        &app,
        &alice,
        "/api/customers/import?mode=valid",
        xlsx.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["imported"], 2);
    assert_eq!(bad_rows(&r.json()), vec![3, 4, 5]);
    let list = app.api("GET", "/api/customers", Some(&alice)).await.json();
    assert_eq!(list["total"], 2);
    let by_name = |list: &Value, name: &str| {
        list["customers"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let acme = by_name(&list, "Acme 上海");
    assert_eq!(
        customer_fields(&acme),
        json!({
            "kind": "enterprise", "name": "Acme 上海", "phone": "021-6262 0668",
            "email": "it@acme.example", "province": "上海", "city": "上海", "address": "",
            "customer_type": "vip", "level": "A", "source": "", "maturity": "", "industry": "",
            "status": "", "description": "大客户", "sharing": "everyone", "owner_id": alice_id,
            "acquired_at": local_day(2024, 3, 5),
        })
    );
    let delta = by_name(&list, "Delta");
    assert_eq!(
        (
            delta["kind"].as_str(),
            delta["customer_type"].as_str(),
            delta["sharing"].as_str(),
            delta["acquired_at"].as_i64()
        ),
        (
            Some("enterprise"),
            Some("other"),
            Some("private"),
            Some(local_day(2024, 1, 2))
        )
    );
    // The screen pop finds an imported customer by its number.
    let r = app
        .api("GET", "/api/lookup?number=02162620668", Some(&alice))
        .await;
    assert_eq!(r.json()["customers"][0]["name"], "Acme 上海", "{}", r.body);

    // Export: what the list shows the caller. Bob sees the shared customer
    // only; a type filter applies.
    let (status, csv) = download(&app, &alice, "/api/customers/export?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&csv).to_string();
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(
        text.contains("Acme 上海") && text.contains("Delta"),
        "{text}"
    );
    let (_, bobs) = download(&app, &bob, "/api/customers/export?format=csv").await;
    let bobs = String::from_utf8_lossy(&bobs).to_string();
    assert!(
        bobs.contains("Acme 上海") && !bobs.contains("Delta"),
        "{bobs}"
    );
    let (_, vip) = download(&app, &alice, "/api/customers/export?format=csv&type=vip").await;
    let vip = String::from_utf8_lossy(&vip).to_string();
    assert!(vip.contains("Acme 上海") && !vip.contains("Delta"), "{vip}");
    let r = app
        .api("GET", "/api/customers/export?type=gold", Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .api("GET", "/api/customers/export?format=pdf", Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Both formats read back as an import, every field the same (Bob
    // imports them, so they are his, with their sharing kept).
    let (status, xlsx_export) = download(&app, &alice, "/api/customers/export").await;
    assert_eq!(status, StatusCode::OK);
    for file in [csv, xlsx_export] {
        let r = upload(&app, &bob, "/api/customers/import?mode=all", file).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            (r.json()["imported"].as_i64(), bad_rows(&r.json())),
            (Some(2), vec![])
        );
        for id in r.json()["ids"].as_array().unwrap() {
            let again = app
                .api("GET", &format!("/api/customers/{id}"), Some(&bob))
                .await
                .json();
            let name = again["name"].as_str().unwrap_or_default().to_string();
            let mut want = customer_fields(&by_name(&list, &name));
            want["owner_id"] = again["owner_id"].clone();
            let mut got = customer_fields(&again);
            if let Some(o) = got.as_object_mut() {
                o.remove("contacts");
            }
            assert_eq!(got, want, "{name}");
        }
    }

    // Not a spreadsheet, wrong columns, too many rows, merged cells, a
    // formula: clear messages, nothing saved.
    let before = count(&alice).await;
    let r = upload(
        &app,
        &alice,
        "/api/customers/import",
        b"\x00\x01garbage\xff".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        "the file is not an Excel .xlsx or CSV file"
    );
    let r = upload(
        &app,
        &alice,
        "/api/customers/import",
        b"Revenue,Year\n1,2\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        "no column for name: name a column in row 1 'name' (or 客户姓名)"
    );
    let mut big = "客户姓名\n".to_string();
    big.push_str(&"x\n".repeat(200_001));
    let r = upload(
        &app,
        &alice,
        "/api/customers/import?mode=valid",
        big.into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        "the sheet has more than 200000 rows; split it into smaller files"
    );
    let header = format!(
        "<row r=\"1\">{}{}</row>",
        text_cell("A1", "客户姓名"),
        text_cell("B1", "城市")
    );
    let merged = raw_xlsx(
        &format!(
            "{header}<row r=\"2\">{}</row>",
            text_cell("A2", "Merged Co")
        ),
        "<mergeCells count=\"1\"><mergeCell ref=\"B2:C2\"/></mergeCells>",
    );
    let r = upload(&app, &alice, "/api/customers/import?mode=valid", merged).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.json()["error"],
        "cells B2:C2 are merged; unmerge them before importing"
    );
    let formula = raw_xlsx(
        &format!(
            "{header}<row r=\"2\">{}<c r=\"B2\"><f>A2&amp;\"!\"</f><v>F!</v></c></row>",
            text_cell("A2", "Formula Co")
        ),
        "",
    );
    let r = upload(&app, &alice, "/api/customers/import?mode=all", formula).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(bad_rows(&r.json()), vec![2]);
    assert!(
        why(&r.json(), 2).contains("B2 holds a formula"),
        "{}",
        r.body
    );
    assert_eq!(count(&alice).await, before);

    // Importing is editing; exporting is viewing.
    let r = upload(&app, &viewer, "/api/customers/import", xlsx.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.api("GET", "/api/customers/export", Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.api("GET", "/api/customers/export", Some(&nobody)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = upload(&app, &alice, "/api/customers/import?mode=sometimes", xlsx).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Every export and import is in the audit log.
    let entries = audit_until(&app, |e| {
        e.iter()
            .any(|e| e.url == "/api/customers/import?mode=valid" && e.ok)
    })
    .await;
    let export = entries
        .iter()
        .find(|e| e.action == "export" && e.url == "/api/customers/export?format=csv&type=vip")
        .expect("the export's audit entry");
    assert_eq!(
        (export.username.as_str(), export.params.as_str(), export.ok),
        ("alice", "(1 customers as csv)", true)
    );
    assert!(entries
        .iter()
        .any(|e| e.action == "export" && e.url == "/api/customers/export?format=pdf" && !e.ok));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn articles_sheet_with_three_bad_rows_imports_searchable_articles_and_round_trips() {
    let app = App::new().await;
    let dir = data_dir(&app, "import-kb");
    let (_, editor) = token_with(&app, "editor", KB).await;
    let (_, agent) = token_with(&app, "agent", &["kb:view"]).await;
    let product = app.store.create_kb_category("产品知识", "").await.unwrap();
    let xlsx = sheets::write_xlsx(
        "知识",
        &[
            "标题",
            "分类",
            "回复内容",
            "类似问题",
            "热点问题",
            "有效期开始",
            "有效期结束",
        ],
        rows(&[
            &[
                "如何申请退款",
                "产品知识",
                "<p>在订单页面点击<b>申请退款</b><script>alert(1)</script></p>",
                "怎么退钱|退款多久到账",
                "是",
                "2024-01-01",
                "",
            ],
            &["", "产品知识", "no title", "", "", "", ""],
            &["发票怎么开", "财务知识", "联系财务", "", "否", "", ""],
            &["运费", "", "包邮", "", "maybe", "", "2024-13-01"],
            &[
                "Shipping time",
                "",
                "Two days & <free>\nmore in winter",
                "How long does shipping take?\nDelivery time",
                "no",
                "",
                "2099-12-31 18:00",
            ],
        ]),
    )
    .unwrap();

    let r = upload(&app, &editor, "/api/kb/articles/import", xlsx.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(bad_rows(&p), vec![3, 4, 5], "{}", r.body);
    assert!(why(&p, 3).contains("title: is required"), "{}", r.body);
    assert!(why(&p, 4).contains("no category '财务知识'"), "{}", r.body);
    assert!(why(&p, 5).contains("hot: 'maybe'"), "{}", r.body);
    assert!(why(&p, 5).contains("valid_to: '2024-13-01'"), "{}", r.body);
    assert_eq!(
        p["mapping"][3],
        json!({"header": "类似问题", "field": "questions"})
    );
    let listed = |token: &str| {
        let token = token.to_string();
        let app = &app;
        async move {
            app.api("GET", "/api/kb/articles", Some(&token))
                .await
                .json()["total"]
                .clone()
        }
    };
    assert_eq!(listed(&editor).await, 0);
    let r = upload(
        &app,
        &editor,
        "/api/kb/articles/import?mode=all",
        xlsx.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(listed(&editor).await, 0);
    let r = upload(
        &app,
        &editor,
        "/api/kb/articles/import?mode=valid",
        xlsx.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["imported"], 2);
    let ids: Vec<i64> = r.json()["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();

    // Saved as the form saves them: the body sanitised, the questions one
    // by one, the dates in local time; and found by the search at once.
    let refund = app
        .api("GET", &format!("/api/kb/articles/{}", ids[0]), Some(&agent))
        .await
        .json();
    assert_eq!(refund["title"], "如何申请退款");
    assert_eq!(refund["category_id"], product);
    assert_eq!(refund["body"], "<p>在订单页面点击<b>申请退款</b></p>");
    assert_eq!(refund["questions"], json!(["怎么退钱", "退款多久到账"]));
    assert_eq!(refund["hot"], true);
    assert_eq!(refund["valid_from"], local_day(2024, 1, 1));
    let shipping = app
        .api("GET", &format!("/api/kb/articles/{}", ids[1]), Some(&agent))
        .await
        .json();
    assert_eq!(
        shipping["body"],
        "Two days &amp; &lt;free&gt;<br>more in winter"
    );
    assert_eq!(shipping["hot"], false);
    for (q, title) in [
        ("退钱", "如何申请退款"),
        ("申请退款", "如何申请退款"),
        ("delivery", "Shipping time"),
        ("winter", "Shipping time"),
    ] {
        let r = app
            .api(
                "GET",
                &format!("/api/kb/search?q={}", crate::form::encode(q)),
                Some(&agent),
            )
            .await;
        assert_eq!(r.json()["articles"][0]["title"], title, "{q}: {}", r.body);
    }

    // Both formats read back as the same articles.
    let (status, csv) = download(&app, &agent, "/api/kb/articles/export?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&csv).to_string();
    assert!(
        text.contains("产品知识") && text.contains("Shipping time"),
        "{text}"
    );
    let (_, xlsx_export) = download(
        &app,
        &agent,
        &format!("/api/kb/articles/export?category={product}"),
    )
    .await;
    let one = sheets::read(&xlsx_export, &sheets::Limits::default()).unwrap();
    assert_eq!(one.rows.len(), 1, "the category's articles only");
    let (_, xlsx_export) = download(&app, &agent, "/api/kb/articles/export").await;
    let fields_of = |a: &Value| {
        json!([
            a["title"],
            a["category_id"],
            a["body"],
            a["questions"],
            a["hot"],
            a["valid_from"],
            a["valid_to"]
        ])
    };
    for file in [csv, xlsx_export] {
        let r = upload(&app, &editor, "/api/kb/articles/import?mode=all", file).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["imported"], 2);
        for id in r.json()["ids"].as_array().unwrap() {
            let again = app
                .api("GET", &format!("/api/kb/articles/{id}"), Some(&agent))
                .await
                .json();
            let first = if again["title"] == "如何申请退款" {
                &refund
            } else {
                &shipping
            };
            assert_eq!(fields_of(&again), fields_of(first));
        }
    }

    // Importing is editing; a bad file imports nothing.
    let r = upload(&app, &agent, "/api/kb/articles/import", xlsx).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = upload(
        &app,
        &editor,
        "/api/kb/articles/import",
        b"Answer,Hot\nx,1\n".to_vec(),
    )
    .await;
    assert_eq!(
        r.json()["error"],
        "no column for title: name a column in row 1 'title' (or 标题)"
    );
    let r = upload(
        &app,
        &editor,
        "/api/kb/articles/import",
        b"PK\x03\x04broken".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"].as_str().unwrap().contains("damaged"),
        "{}",
        r.body
    );
    assert_eq!(listed(&editor).await, 6);

    let entries = audit_until(&app, |e| {
        e.iter()
            .any(|e| e.url == "/api/kb/articles/import?mode=valid" && e.ok)
    })
    .await;
    assert!(entries.iter().any(|e| e.action == "export"
        && e.username == "agent"
        && e.url == "/api/kb/articles/export?format=csv"
        && e.params == "(2 articles as csv)"));
    // The audit page names exports as such and filters by them.
    let admin = app.admin().await;
    let page = app
        .get("/system/audit?action=export", Some(&admin.cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<td data-test=\"audit-action\">Export</td>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/api/kb/articles/import?mode=valid"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A multipart body with `file` as the field `file`.
fn multipart(name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!(
        "--sbBoundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--sbBoundary--\r\n");
    ("multipart/form-data; boundary=sbBoundary".into(), body)
}

/// Uploads `file` on an import page: the preview page.
async fn preview(app: &App, b: &Browser, page: &str, name: &str, file: &[u8]) -> super::Resp {
    let (ctype, body) = multipart(name, file);
    let req = Request::post(format!("{page}?csrf={}", b.csrf))
        .header(header::COOKIE, &b.cookie)
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

/// The import token of a preview page.
fn token_of(html: &str) -> String {
    let marker = "name=\"token\" value=\"";
    html.split(marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_import_pages_of_customers_and_articles_preview_then_import_the_good_rows() {
    let app = App::new().await;
    let dir = data_dir(&app, "import-pages");
    let admin = app.admin().await;
    app.store.create_kb_category("FAQ", "").await.unwrap();

    // The list pages offer the import to editors, the exports to viewers.
    let page = app.get("/crm/customers", Some(&admin.cookie)).await;
    for id in ["btn-import", "btn-export", "btn-export-csv"] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(page.body.contains("href=\"/crm/customers/import\""));
    let kb = app.get("/kb", Some(&admin.cookie)).await;
    assert!(kb.body.contains("href=\"/kb/import\"") && kb.body.contains("id=\"btn-export-csv\""));
    token_with(&app, "viewer", &["crm.customers:view", "kb:view"]).await;
    let viewer = app.browser("viewer", PW).await;
    for list in ["/crm/customers", "/kb"] {
        let page = app.get(list, Some(&viewer.cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains("id=\"btn-import\"") && page.body.contains("id=\"btn-export\"")
        );
    }
    for p in ["/crm/customers/import", "/kb/import"] {
        let r = app.get(p, Some(&viewer.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{p}");
    }

    for (page, list, file, done, shown) in [
        (
            "/crm/customers/import",
            "/crm/customers",
            "客户姓名,客户类型,联系电话\nAcme,VIP客户,021-62620668\n,普通客户,\nBeta,Gold,\n\
             Gamma,,call me\nDelta,其它,\n",
            "2 customers were imported.",
            "Delta",
        ),
        (
            "/kb/import",
            "/kb",
            "标题,分类,热点问题\n退款,FAQ,是\n,FAQ,\n发票,Finance,\n运费,,maybe\n物流,,否\n",
            "2 articles were imported.",
            "物流",
        ),
    ] {
        let form = app.get(page, Some(&admin.cookie)).await;
        assert_eq!(form.status, StatusCode::OK, "{page}");
        assert!(
            // Autoescaped: '/' is "&#x2f;", which the browser reads as '/'.
            form.body
                .contains(&format!("action=\"{}?csrf=", page.replace('/', "&#x2f;"))),
            "{page}"
        );
        let r = preview(&app, &admin, page, "sheet.csv", file.as_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{page}: {}", r.body);
        for row in [3, 4, 5] {
            assert!(
                r.body.contains(&format!("data-row=\"{row}\"")),
                "{page} row {row}"
            );
        }
        assert!(!r.body.contains("data-row=\"2\"") && !r.body.contains("data-row=\"6\""));
        assert!(r
            .body
            .contains("5 rows: 2 can be imported, 3 have problems."));
        let token = token_of(&r.body);
        assert_eq!(token.len(), 32, "{}", r.body);
        // A token is good on its own page only.
        let other = if page == "/kb/import" {
            "/crm/customers/import"
        } else {
            "/kb/import"
        };
        let r = app
            .submit(
                &admin,
                &format!("{other}/confirm"),
                &format!("token={token}&mode=valid"),
            )
            .await;
        assert_eq!(r.status, StatusCode::GONE, "{other}");
        // All or nothing: nothing, and the file waits for another choice.
        let r = app
            .submit(
                &admin,
                &format!("{page}/confirm"),
                &format!("token={token}&mode=all"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("nothing was imported"), "{}", r.body);
        let r = app
            .submit(
                &admin,
                &format!("{page}/confirm"),
                &format!("token={token}&mode=valid"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains(done), "{}", r.body);
        let r = app.get(list, Some(&admin.cookie)).await;
        assert!(r.body.contains(shown) && !r.body.contains("Gamma") && !r.body.contains("运费"));
        // Imported once: the file is gone.
        let r = app
            .submit(
                &admin,
                &format!("{page}/confirm"),
                &format!("token={token}&mode=valid"),
            )
            .await;
        assert_eq!(r.status, StatusCode::GONE);
        // Not a spreadsheet: the reason, on the page.
        let r = preview(&app, &admin, page, "x.xls", b"\x00\x01\x02").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("id=\"import-error\""), "{}", r.body);
    }
    // In Chinese too; and the contacts' page is the same flow.
    let r = app
        .send(
            Request::get("/crm/customers/import")
                .header(header::COOKIE, format!("{}; lang=zh-CN", admin.cookie))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        r.body.contains("<h1>导入客户</h1>") && r.body.contains("导出客户（CSV）"),
        "{}",
        r.body
    );
    let r = app.get("/crm/contacts/import", Some(&admin.cookie)).await;
    assert!(
        r.body.contains("Import contacts")
            && r.body
                .contains("action=\"&#x2f;crm&#x2f;contacts&#x2f;import?csrf=")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
