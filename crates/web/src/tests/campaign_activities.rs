//! Router tests of outbound activities (issue 18; the manual's 8.1.3):
//! an activity extracts rows from a filter and allocates them to agents
//! on start, its runs are its dial tasks, recall takes rows back, the
//! kind decides the targets, targets must exist, and permissions and the
//! batch scope hold.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use super::App;

async fn token(app: &App, username: &str, admin: bool, grants: &[&str]) -> String {
    let id = app.user(username, admin).await;
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

async fn upload(app: &App, bearer: &str, path: &str, text: &str) -> super::Resp {
    let req = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(text.as_bytes().to_vec()))
        .unwrap();
    app.send(req).await
}

/// A batch of ten numbers (one with intent 有意向 every other row), a
/// filter matching all and one matching the interested: (all, interested).
async fn batch_and_filters(app: &App, lead: &str) -> (i64, i64) {
    let dir = std::env::temp_dir().join(format!("sb-activities-{}", std::process::id()));
    app.state.set_data_dir(dir);
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/batches",
            lead,
            json!({"name": "回访批次"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let batch = r.json()["id"].as_i64().unwrap();
    let base = format!("/api/campaigns/batches/{batch}");
    let r = upload(
        app,
        lead,
        &format!("{base}/template"),
        "姓名,号码,客户意向\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let intent = r.json()["fields"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["title"] == "客户意向"))
        .and_then(|f| f["key"].as_str())
        .unwrap()
        .to_string();
    let mut data = String::from("姓名,号码,客户意向\n");
    for i in 0..10 {
        let intent = if i % 2 == 0 { "有意向" } else { "无" };
        data.push_str(&format!("客户{i},186186160{i:02},{intent}\n"));
    }
    let r = upload(app, lead, &format!("{base}/import?mode=all"), &data).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["imported"], 10, "{}", r.body);
    let mut ids = Vec::new();
    for (name, conditions) in [
        ("全部", json!([])),
        (
            "有意向",
            json!([{"field": intent, "op": "contains", "value": "有意向"}]),
        ),
    ] {
        let r = app
            .api_json(
                "POST",
                "/api/campaigns/filters",
                lead,
                json!({"name": name, "batch_id": batch, "conditions": conditions}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    (ids[0], ids[1])
}

async fn extensions(app: &App, numbers: &[&str]) {
    for n in numbers {
        app.store
            .add_extension(&store::Extension {
                number: (*n).into(),
                password: "x".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_activity_allocates_to_agents_on_start_and_recalls() {
    let app = App::new().await;
    let lead = token(&app, "lead", true, &[]).await;
    let (_, interested) = batch_and_filters(&app, &lead).await;
    extensions(&app, &["1001", "1002"]).await;
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/activities",
            &lead,
            json!({
                "name": "回访", "kind": "preview", "filter_id": interested,
                "business_type": "回访", "extract_count": 4, "default_count": 1,
                "targets": [{"kind": "agent", "id": "1001", "count": 3}, {"kind": "agent", "id": "1002"}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let a = r.json();
    assert_eq!(
        (a["state"].as_str(), a["kind"].as_str()),
        (Some("draft"), Some("preview"))
    );
    let id = a["id"].as_i64().unwrap();
    let base = format!("/api/campaigns/activities/{id}");

    // 5 interested rows, 4 extracted: 3 to 1001, 1 (the default) to 1002.
    let r = app
        .api_json("POST", &format!("{base}/start"), &lead, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = r.json();
    assert_eq!(s["extracted"], 4);
    assert_eq!(s["allocated"], json!([3, 1]));
    assert_eq!(s["unassigned"], 0);
    assert_eq!(s["activity"]["state"], "running");
    let r = app.api("GET", &format!("{base}/runs"), Some(&lead)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let runs = r.json()["runs"].clone();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(
        (runs[0]["matched"].as_i64(), runs[0]["to_agents"].as_i64()),
        (Some(4), Some(4))
    );
    assert!(
        runs[0]["task"].as_str().unwrap().starts_with("回访_20"),
        "{runs}"
    );
    assert!(
        runs[0]["name"].as_str().unwrap().starts_with("有意向_20"),
        "{runs}"
    );

    // The second start takes the last interested row: 1001 asks 3 and
    // 1002 1 of 1, in proportion 0.75 / 0.25, so 1001.
    let r = app
        .api_json("POST", &format!("{base}/start"), &lead, json!({}))
        .await;
    assert_eq!(r.json()["allocated"], json!([1, 0]), "{}", r.body);

    // Recall 1002's row, then everyone's.
    let r = app
        .api_json(
            "POST",
            &format!("{base}/recall"),
            &lead,
            json!({"kind": "agent", "assignee": "1002"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["recalled"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{}",
        r.body
    );
    let r = app
        .api_json("POST", &format!("{base}/recall"), &lead, json!({}))
        .await;
    assert_eq!(r.json()["recalled"], 4, "{}", r.body);
    let r = app
        .api_json(
            "POST",
            &format!("{base}/recall"),
            &lead,
            json!({"kind": "agent"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "assignee");

    // Paused, changed, stopped, deleted; running it is not deleted.
    let r = app.api("DELETE", &base, Some(&lead)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("stop the activity"));
    let r = app
        .api_json("POST", &format!("{base}/pause"), &lead, json!({}))
        .await;
    assert_eq!(r.json()["state"], "paused", "{}", r.body);
    let r = app
        .api_json(
            "PUT",
            &base,
            &lead,
            json!({"extract_count": 40, "description": "第二轮"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.json()["extract_count"].as_i64(),
            r.json()["name"].as_str()
        ),
        (Some(40), Some("回访"))
    );
    let r = app
        .api_json("PUT", &base, &lead, json!({"kind": "robot"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app
        .api_json("POST", &format!("{base}/stop"), &lead, json!({}))
        .await;
    assert_eq!(r.json()["state"], "stopped", "{}", r.body);
    let r = app.api("DELETE", &base, Some(&lead)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json()["freed"],
        5,
        "the recalled rows go back to the pool"
    );
    let r = app.api("GET", &base, Some(&lead)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_activities_are_refused_naming_the_field() {
    let app = App::new().await;
    let lead = token(&app, "lead", true, &[]).await;
    let (all, _) = batch_and_filters(&app, &lead).await;
    extensions(&app, &["1001"]).await;
    let post = |body: Value| {
        let (app, lead) = (&app, &lead);
        async move {
            app.api_json("POST", "/api/campaigns/activities", lead, body)
                .await
        }
    };
    let base = json!({"name": "预测", "kind": "predictive", "filter_id": all, "extract_count": 5});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // A predictive activity allocates to queues, not agents.
    let r = post(with(json!({"targets": [{"kind": "agent", "id": "1001"}]}))).await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("targets")),
        "{}",
        r.body
    );
    assert!(r.body.contains("allocates to queue"), "{}", r.body);
    // A queue that does not exist.
    let r = post(with(
        json!({"targets": [{"kind": "queue", "id": "nosuch"}]}),
    ))
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("no queue 'nosuch'"), "{}", r.body);
    // No targets, an unknown filter, a bad kind, a bad share, not JSON.
    let r = post(base.clone()).await;
    assert_eq!(r.json()["field"], "targets", "{}", r.body);
    let r = post(with(
        json!({"filter_id": 999, "targets": [{"kind": "queue", "id": "x"}]}),
    ))
    .await;
    assert_eq!(r.json()["field"], "filter_id", "{}", r.body);
    let r = post(with(
        json!({"kind": "dialer", "targets": [{"kind": "agent", "id": "1001"}]}),
    ))
    .await;
    assert_eq!(r.json()["field"], "kind", "{}", r.body);
    let r = post(json!({"name": "x", "filter_id": all, "share_pct": 0, "targets": [{"kind": "agent", "id": "1001"}]})).await;
    assert_eq!(r.json()["field"], "share_pct", "{}", r.body);
    let r = app
        .send(
            Request::post("/api/campaigns/activities")
                .header(header::AUTHORIZATION, format!("Bearer {lead}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A name taken.
    let ok =
        json!({"name": "回访", "filter_id": all, "targets": [{"kind": "agent", "id": "1001"}]});
    assert_eq!(post(ok.clone()).await.status, StatusCode::OK);
    let r = post(ok).await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (StatusCode::CONFLICT, Some("name")),
        "{}",
        r.body
    );
    // Not found.
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/activities/4242/start",
            &lead,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test]
async fn activities_need_their_permission_and_the_batch_scope() {
    let app = App::new().await;
    let lead = token(&app, "lead", true, &[]).await;
    let (all, _) = batch_and_filters(&app, &lead).await;
    extensions(&app, &["1001"]).await;
    let r = app
        .api_json(
            "POST",
            "/api/campaigns/activities",
            &lead,
            json!({"name": "回访", "filter_id": all, "targets": [{"kind": "agent", "id": "1001"}]}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    // Batches but not activities: 403.
    let clerk = token(
        &app,
        "clerk",
        false,
        &["outbound.batches:edit", "outbound.filters:edit"],
    )
    .await;
    let r = app
        .api("GET", "/api/campaigns/activities", Some(&clerk))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Activities to view only: listing yes, starting no.
    let viewer = token(&app, "viewer", false, &["outbound.activities:view"]).await;
    let r = app
        .api_json(
            "POST",
            &format!("/api/campaigns/activities/{id}/start"),
            &viewer,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The batch belongs to nobody's department: a non-admin sees nothing.
    let r = app
        .api("GET", "/api/campaigns/activities", Some(&viewer))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["activities"], json!([]));
    let r = app
        .api(
            "GET",
            &format!("/api/campaigns/activities/{id}"),
            Some(&viewer),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .api("GET", "/api/campaigns/activities", Some(&lead))
        .await;
    assert_eq!(r.json()["activities"][0]["id"], id, "{}", r.body);
}
