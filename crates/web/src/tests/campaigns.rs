//! Router tests of the outbound campaigns' first part (issue 18: the
//! manual's 8.1.1, 8.1.2, 8.2.1, 8.2.2): a template upload makes the
//! batch's fields, a field is marked the phone number and another made a
//! dictionary choice, data imports preview, refuse all-or-nothing with a
//! bad row and save the good rows, skipping and counting invalid,
//! duplicate and do-not-call numbers; the rows list; a filter with AND/OR
//! matches exactly the expected rows; permissions and bad inputs get a
//! clear 4xx.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use super::App;

/// A data dir of the test's own (uploads wait in it).
fn data_dir(app: &App, name: &str) {
    let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
    app.state.set_data_dir(dir);
}

/// `bytes` POSTed as the body to `path` with a bearer token.
async fn upload(app: &App, bearer: &str, path: &str, bytes: &str) -> super::Resp {
    let req = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes.as_bytes().to_vec()));
    app.send(req.unwrap()).await
}

/// A token of a new user holding `grants` (none: no role).
async fn token_with(app: &App, username: &str, grants: &[&str]) -> String {
    let id = app.user(username, false).await;
    if !grants.is_empty() {
        let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
        let role = app
            .store
            .create_role(&format!("{username}-role"), "", &grants)
            .await
            .unwrap();
        app.store.set_user_roles(id, &[role]).await.unwrap();
    }
    crate::create_api_token(&app.store, username, "t")
        .await
        .unwrap()
}

async fn admin_token(app: &App) -> String {
    app.user("lead", true).await;
    crate::create_api_token(&app.store, "lead", "t")
        .await
        .unwrap()
}

/// The key of the field titled `title`.
fn key_of(fields: &Value, title: &str) -> String {
    fields
        .as_array()
        .and_then(|a| a.iter().find(|f| f["title"] == title))
        .and_then(|f| f["key"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn numbers(answer: &Value, what: &str) -> Vec<i64> {
    answer[what]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["row"].as_i64()).collect())
        .unwrap_or_default()
}

fn phones(answer: &Value) -> Vec<String> {
    answer["rows"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["phone"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

const DATA: &str = "姓名,联系方式,客户意向,金额\n\
1,18618616001,有意向,100\n\
2,186-1861-6002,无意向,50\n\
3,18618616003,有意向,abc\n\
4,12,有意向,10\n\
5,18618616001,无意向,10\n\
6,18618616009,有意向,10\n\
7,18618616007,有意向,1000\n\
8,18618616008,也许,1\n";

#[tokio::test]
async fn a_batch_from_template_to_filter_matches() {
    let app = App::new().await;
    data_dir(&app, "campaigns-flow");
    let lead = admin_token(&app).await;
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            &lead,
            json!({"name": "回访批次", "kind": "temporary", "description": "回访"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let base = format!("/api/campaigns/batches/{id}");

    // A template whose number column is named nothing phone-like: the
    // fields are made, none is the phone field, and data is refused until
    // one is marked.
    let r = upload(
        &app,
        &lead,
        &format!("{base}/template"),
        "姓名,联系方式,客户意向,金额\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let answer = r.json();
    assert_eq!(answer["phone_field"], Value::Null);
    assert!(answer["warning"].as_str().unwrap().contains("phone"));
    let fields = answer["fields"].clone();
    assert_eq!(fields.as_array().unwrap().len(), 4);
    let r = upload(&app, &lead, &format!("{base}/import?mode=preview"), DATA).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "phone");
    assert!(r.json()["error"].as_str().unwrap().contains("phone field"));

    let (contact, intent, amount) = (
        key_of(&fields, "联系方式"),
        key_of(&fields, "客户意向"),
        key_of(&fields, "金额"),
    );
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/fields/{contact}"),
            &lead,
            json!({"is_phone": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["is_phone"], true);
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/fields/{amount}"),
            &lead,
            json!({"data_type": "number"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A choice needs a dictionary that exists.
    let choice = json!({"style": "choice", "dictionary": "intent"});
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/fields/{intent}"),
            &lead,
            choice.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "dictionary");
    let r = app
        .api_json(
            "PUT",
            "/api/dictionaries/intent",
            &lead,
            json!({"items": [{"value": "有意向", "label": "有意向"}, {"value": "无意向", "label": "无意向"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .api_json("PUT", &format!("{base}/fields/{intent}"), &lead, choice)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["style"], "choice");

    app.store
        .add_list_entries(
            store::VoiceList::Dnc,
            &[("+86 186 1861 6009".into(), "asked not to be called".into())],
        )
        .await
        .unwrap();

    // Preview: the bad rows by number (a number that is no number, a
    // choice not in the dictionary), the numbers that would be skipped,
    // nothing saved.
    let r = upload(&app, &lead, &format!("{base}/import?mode=preview"), DATA).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(numbers(&p, "bad_rows"), [4, 9]);
    assert!(p["bad_rows"][0]["errors"].to_string().contains("金额"));
    assert!(p["bad_rows"][1]["errors"].to_string().contains("也许"));
    assert_eq!(
        (
            p["invalid"].clone(),
            p["duplicate"].clone(),
            p["dnc"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(numbers(&p, "skipped"), [5, 6, 7]);
    assert_eq!(p["skipped"][2]["reason"], "dnc");
    assert_eq!(p["would_import"], 3);
    assert_eq!(p["imported"], 0);
    // All or nothing with two bad rows: nothing.
    let r = upload(&app, &lead, &format!("{base}/import?mode=all"), DATA).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("nothing was imported"));
    let rows = app.api("GET", &format!("{base}/rows"), Some(&lead)).await;
    assert_eq!(rows.json()["total"], 0);
    // The good rows: three saved, three skipped by reason.
    let r = upload(&app, &lead, &format!("{base}/import?mode=valid"), DATA).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (
            v["imported"].clone(),
            v["invalid"].clone(),
            v["duplicate"].clone(),
            v["dnc"].clone()
        ),
        (json!(3), json!(1), json!(1), json!(1))
    );
    assert_eq!(numbers(&v, "bad_rows"), [4, 9]);
    let rows = app.api("GET", &format!("{base}/rows"), Some(&lead)).await;
    let rows = rows.json();
    assert_eq!(rows["total"], 3);
    assert_eq!(phones(&rows), ["18618616001", "18618616002", "18618616007"]);
    assert_eq!(rows["rows"][1]["values"][&intent], "无意向");
    assert_eq!(rows["rows"][1]["state"], "unassigned");
    let records = app
        .api(
            "GET",
            &format!("/api/campaigns/imports?batch={id}"),
            Some(&lead),
        )
        .await
        .json();
    let records = records["imports"].as_array().unwrap().clone();
    assert_eq!(records.len(), 1);
    assert!(records[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("回访批次_20"));
    assert_eq!(
        (
            records[0]["imported"].clone(),
            records[0]["invalid"].clone()
        ),
        (json!(3), json!(1))
    );

    // 客户意向 in [有意向] AND 金额 > 200 OR 号码 = 18618616002: the AND
    // first; 金额 compares as a number (as text "1000" < "200").
    let conditions = json!([
        {"field": intent, "op": "in", "values": ["有意向"], "join": "and"},
        {"field": amount, "op": "gt", "value": "200", "join": "or"},
        {"field": "phone", "op": "eq", "value": "18618616002"}
    ]);
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/filters",
            &lead,
            json!({"name": "回访批次的筛选", "batch_id": id, "conditions": conditions}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let filter = r.json()["id"].as_i64().unwrap();
    let m = app
        .api(
            "GET",
            &format!("/api/campaigns/filters/{filter}/matches"),
            Some(&lead),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let m = m.json();
    assert_eq!(m["total"], 2);
    assert_eq!(phones(&m), ["18618616002", "18618616007"]);
    // Unsaved conditions, previewed: the first alone.
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/filters/preview",
            &lead,
            json!({"batch": id, "conditions": [{"field": intent, "op": "contains", "value": "有"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(phones(&r.json()), ["18618616001", "18618616007"]);

    // Export: the fields' titles and the rows, importable back.
    let r = app
        .api("GET", &format!("{base}/export?format=csv"), Some(&lead))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("姓名,联系方式,客户意向,金额"), "{}", r.body);
    assert!(r.body.contains("7,18618616007,有意向,1000"), "{}", r.body);

    // A row by hand: a duplicate or DNC number is refused; then edited and
    // deleted.
    let r = app
        .api_json(
            "POST",
            &format!("{base}/rows"),
            &lead,
            json!({"phone": "18618616009", "values": {intent.clone(): "有意向"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("do-not-call"));
    let r = app
        .api_json(
            "POST",
            &format!("{base}/rows"),
            &lead,
            json!({"phone": "13900000000", "values": {intent.clone(): "无意向", amount.clone(): "5"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let row = r.json()["id"].as_i64().unwrap();
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/rows/{row}"),
            &lead,
            json!({"phone": "13900000001", "values": {amount.clone(): "many"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], amount);
    let r = app
        .api("DELETE", &format!("{base}/rows/{row}"), Some(&lead))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The filter records are empty until activities run filters.
    let r = app
        .api("GET", "/api/campaigns/filter-runs", Some(&lead))
        .await;
    assert_eq!(r.json()["runs"], json!([]));
    // Deleting the import deletes its unassigned rows.
    let import = records[0]["id"].as_i64().unwrap();
    let r = app
        .api(
            "DELETE",
            &format!("/api/campaigns/imports/{import}"),
            Some(&lead),
        )
        .await;
    assert_eq!(r.json(), json!({"deleted": 3, "kept": 0}));
}

#[tokio::test]
async fn campaigns_need_their_permissions_and_the_batch_scope() {
    let app = App::new().await;
    let lead = admin_token(&app).await;
    let nobody = token_with(&app, "nobody", &[]).await;
    let viewer = token_with(&app, "viewer", &["outbound.batches:view"]).await;
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            &lead,
            json!({"name": "b"}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    for (token, method, path, want) in [
        (
            &nobody,
            "GET",
            "/api/campaigns/batches".to_string(),
            "outbound.batches:view",
        ),
        (
            &nobody,
            "GET",
            "/api/campaigns/imports".to_string(),
            "outbound.batches:view",
        ),
        (
            &nobody,
            "GET",
            "/api/campaigns/filters".to_string(),
            "outbound.filters:view",
        ),
        (
            &viewer,
            "POST",
            "/api/campaigns/batches".to_string(),
            "outbound.batches:edit",
        ),
        (
            &viewer,
            "DELETE",
            format!("/api/campaigns/batches/{id}"),
            "outbound.batches:edit",
        ),
        (
            &viewer,
            "POST",
            "/api/campaigns/filters".to_string(),
            "outbound.filters:edit",
        ),
    ] {
        let r = app
            .api_json(method, &path, token, json!({"name": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(r.json()["error"], format!("permission {want} required"));
    }
    // The viewer is in no department and made no batch: the admin's batch
    // is not theirs.
    let r = app
        .api("GET", "/api/campaigns/batches", Some(&viewer))
        .await;
    assert_eq!(r.json()["batches"], json!([]));
    let r = app
        .api(
            "GET",
            &format!("/api/campaigns/batches/{id}"),
            Some(&viewer),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_campaign_inputs_get_a_clear_4xx() {
    let app = App::new().await;
    data_dir(&app, "campaigns-bad");
    let lead = admin_token(&app).await;
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            &lead,
            json!({"name": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "name");
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            &lead,
            json!({"name": "b", "kind": "weekly"}),
        )
        .await;
    assert_eq!(r.json()["field"], "kind");
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            &lead,
            json!({"name": "b"}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    let base = format!("/api/campaigns/batches/{id}");
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            &lead,
            json!({"name": "b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // An empty file, as a template and as data.
    let r = upload(&app, &lead, &format!("{base}/template"), "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["error"], "the file is empty");
    assert_eq!(r.json()["field"], "file");
    let r = upload(&app, &lead, &format!("{base}/template"), "号码,姓名\n").await;
    assert_eq!(r.json()["phone_field"], "f1");
    let r = upload(&app, &lead, &format!("{base}/import?mode=all"), "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "the file is empty");
    let r = upload(
        &app,
        &lead,
        &format!("{base}/import?mode=some"),
        "号码\n1\n",
    )
    .await;
    assert_eq!(r.json()["field"], "mode");
    // Data without the phone field's column.
    let r = upload(
        &app,
        &lead,
        &format!("{base}/import?mode=all"),
        "姓名\n张三\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("'号码'"));
    // A required field left out of imports does not fail the file's rows.
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/fields/f2"),
            &lead,
            json!({"required": true, "io_disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = upload(
        &app,
        &lead,
        &format!("{base}/import?mode=all"),
        "号码,姓名\n13900000000,x\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["imported"], 1);
    // A field that does not exist, a type that does not.
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/fields/f9"),
            &lead,
            json!({"title": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api_json(
            "PUT",
            &format!("{base}/fields/f2"),
            &lead,
            json!({"data_type": "money"}),
        )
        .await;
    assert_eq!(r.json()["field"], "data_type");

    // Conditions: an unknown field, 'in' on a free field, a missing value,
    // an operator that does not exist; each names the condition.
    for (conditions, field) in [
        (
            json!([{"field": "f9", "op": "eq", "value": "1"}]),
            "conditions[0].field",
        ),
        (
            json!([{"field": "f2", "op": "empty"}, {"field": "f2", "op": "in", "values": ["a"]}]),
            "conditions[1].op",
        ),
        (
            json!([{"field": "phone", "op": "gt"}]),
            "conditions[0].value",
        ),
        (
            json!([{"field": "phone", "op": "like", "value": "1"}]),
            "conditions[0].op",
        ),
    ] {
        let r = app
            .api_json(
                "POST",
                "/api/campaigns/filters",
                &lead,
                json!({"name": "f", "batch_id": id, "conditions": conditions.clone()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{conditions}");
        assert_eq!(r.json()["field"], field, "{}", r.body);
        let r = app
            .api_json(
                "POST",
                "/api/campaigns/filters/preview",
                &lead,
                json!({"batch": id, "conditions": conditions}),
            )
            .await;
        assert_eq!(r.json()["field"], field, "{}", r.body);
    }
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/filters",
            &lead,
            json!({"name": "f", "batch_id": id, "conditions": [{"field": "f9", "op": "eq", "value": "1"}]}),
        )
        .await;
    assert_eq!(
        r.json()["error"],
        "condition 1: the batch has no field 'f9'"
    );
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/filters",
            &lead,
            json!({"name": "f", "batch_id": 999}),
        )
        .await;
    assert_eq!(r.json()["field"], "batch_id");
    let r = app
        .api("GET", &format!("{base}/rows?state=done"), Some(&lead))
        .await;
    assert_eq!(r.json()["field"], "state");
}

/// A multipart body of text fields and the file `file`.
fn multipart(texts: &[(&str, &str)], file: &str) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!(
                "--sbBoundary\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--sbBoundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n\
          Content-Type: text/csv\r\n\r\n",
    );
    body.extend_from_slice(file.as_bytes());
    body.extend_from_slice(b"\r\n--sbBoundary--\r\n");
    ("multipart/form-data; boundary=sbBoundary".into(), body)
}

async fn page_upload(
    app: &App,
    b: &super::Browser,
    path: &str,
    texts: &[(&str, &str)],
    file: &str,
) -> super::Resp {
    let (ctype, body) = multipart(texts, file);
    let req = Request::post(format!("{path}?csrf={}", b.csrf))
        .header(header::COOKIE, &b.cookie)
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn the_pages_create_a_batch_import_it_and_query_a_filter() {
    let app = App::new().await;
    data_dir(&app, "campaigns-pages");
    let b = app.admin().await;
    let r = app.get("/campaigns/batches", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"menu-outbound-batches\""), "the menu");
    let r = app
        .submit(&b, "/campaigns/batches", "name=&kind=temporary")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-name\""));
    let r = app
        .submit(
            &b,
            "/campaigns/batches",
            "name=%E5%9B%9E%E8%AE%BF&kind=temporary",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let batch = r.location().to_string();
    let base = batch.split('?').next().unwrap().to_string();
    let r = app.get(&batch, Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-test=\"fields-empty\""));

    let r = page_upload(
        &app,
        &b,
        &format!("{base}/template"),
        &[],
        "姓名,号码,客户意向\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-test=\"phone-badge\""), "{}", r.body);
    assert_eq!(r.body.matches("data-test=\"field-row\"").count(), 3);
    let data = "姓名,号码,客户意向\n1,18618616001,有意向\n2,18618616002,无意向\n3,1,有意向\n7,18618616007,很有意向\n";
    let r = page_upload(
        &app,
        &b,
        &format!("{base}/import"),
        &[("mode", "preview")],
        data,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-invalid=\"1\""), "{}", r.body);
    assert!(r.body.contains("data-test=\"rows-empty\""));
    let r = page_upload(
        &app,
        &b,
        &format!("{base}/import"),
        &[("mode", "valid")],
        data,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-imported=\"3\""), "{}", r.body);
    assert_eq!(r.body.matches("data-test=\"data-row\"").count(), 3);
    // The field form and the row form render.
    let r = app.get(&format!("{base}/fields/f3"), Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .submit(
            &b,
            &format!("{base}/fields/f3"),
            "title=%E6%84%8F%E5%90%91&data_type=text&style=choice&positions=list",
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a choice without a dictionary"
    );
    assert!(r.body.contains("data-field=\"dictionary\""), "{}", r.body);
    let r = app.get(&format!("{base}/rows/new"), Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .submit(&b, &format!("{base}/rows/new"), "phone=18618616001&v_f1=x")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-phone\""), "{}", r.body);

    // A filter form: two conditions, queried unsaved, then saved.
    let id = base.rsplit('/').next().unwrap();
    let r = app
        .submit(
            &b,
            "/campaigns/filters",
            &format!("name=f&kind=batch&batch_id={id}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let filter = r.location().split('?').next().unwrap().to_string();
    let r = app.get(&filter, Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let conditions = "c_field=f3&c_op=contains&c_value=%E6%84%8F%E5%90%91&c_join=and\
        &c_field=phone&c_op=gt&c_value=18618616001&c_join=and";
    let r = app
        .submit(&b, &filter, &format!("{conditions}&action=query"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-count=\"2\""), "{}", r.body);
    let r = app
        .submit(&b, &filter, &format!("{conditions}&action=add"))
        .await;
    assert_eq!(r.body.matches("data-test=\"condition-row\"").count(), 3);
    let r = app
        .submit(
            &b,
            &filter,
            "c_field=f9&c_op=eq&c_value=1&c_join=and&action=query",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"filter-error\""));
    let r = app
        .submit(&b, &filter, &format!("{conditions}&action=save"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app.get(r.location(), Some(&b.cookie)).await;
    assert!(r.body.contains("data-count=\"2\""), "{}", r.body);

    let r = app.get("/campaigns/imports", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-count=\"1\""));
    let r = app.get("/campaigns/filter-runs", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-test=\"runs-empty\""));
    let r = app.get("/campaigns/filters", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn the_do_not_call_list_is_a_voice_list() {
    let app = App::new().await;
    let b = app.admin().await;
    app.store
        .add_list_entries(
            store::VoiceList::Dnc,
            &[("13800000000".into(), "complained".into())],
        )
        .await
        .unwrap();
    let r = app.get("/voice/lists/dnc", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-test=\"list-row-13800000000\""));
    assert!(r.body.contains("id=\"menu-voice-dnc\""));
    let lead = admin_token(&app).await;
    let r = app.api("GET", "/api/lists/dnc", Some(&lead)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["value"], "13800000000");
    assert!(app.store.is_do_not_call("+86 138 0000 0000").await.unwrap());
}
