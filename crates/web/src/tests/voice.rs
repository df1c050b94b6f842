//! Router tests of the voice pages (harness: the parent module). Without
//! an engine: the forms' validation and the store-backed pages; what needs
//! the engine (applying lists, uploads, live status) is in
//! tests/e2e/web_voice.rs.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::{App, Browser};

/// A non-admin user holding `grants` (through a role), signed in.
async fn user_with(app: &App, username: &str, grants: &[&str]) -> Browser {
    let id = app.user(username, false).await;
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let role = app
        .store
        .create_role(&format!("{username}-role"), "", &grants)
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    app.browser(username, super::PW).await
}

#[tokio::test]
async fn voice_pages_check_permissions() {
    let app = App::new().await;
    let nobody = user_with(&app, "nobody", &[]).await;
    for path in [
        "/voice/status",
        "/voice/extensions",
        "/voice/extensions/new",
        "/voice/lists/acl",
        "/voice/lists/blacklist",
        "/voice/lists/number_pool",
        "/voice/media",
        "/voice/registrations",
    ] {
        let r = app.get(path, Some(&nobody.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    for (path, body) in [
        (
            "/voice/extensions",
            "numbers=101&password=secret1&kind=direct&auto_answer=off",
        ),
        ("/voice/extensions/remove", "one=101"),
        ("/voice/lists/blacklist", "values=123"),
        ("/voice/lists/blacklist/remove", "one=123"),
        ("/voice/media/rename", "name=a&to=b"),
        ("/voice/media/remove", "name=a"),
    ] {
        let r = app.submit(&nobody, path, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(app.store.list_extensions().await.unwrap().is_empty());

    // View only: the list, no edit controls, edits refused.
    let viewer = user_with(
        &app,
        "viewer",
        &[
            "voice.extensions:view",
            "voice.lists:view",
            "voice.media:view",
        ],
    )
    .await;
    let r = app.get("/voice/extensions", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"ext-table\""));
    assert!(!r.body.contains("id=\"btn-new-extensions\""));
    assert!(r.body.contains("id=\"menu-voice-extensions\""));
    let r = app.get("/voice/extensions/new", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .submit(&viewer, "/voice/lists/blacklist", "values=123")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get("/voice/lists/blacklist", Some(&viewer.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"list-add-form\""));
    let r = app.get("/voice/media", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"media-upload-form\""));
}

#[tokio::test]
async fn live_pages_need_the_engine() {
    let app = App::new().await;
    let admin = app.admin().await;
    for path in [
        "/voice/status",
        "/voice/status?fragment=1",
        "/voice/registrations",
        "/voice/media/file/x",
    ] {
        let r = app.get(path, Some(&admin.cookie)).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.body.contains("id=\"error-message\""), "{path}");
        assert!(r.body.contains("not running"), "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn extensions_are_created_in_batches_edited_and_removed() {
    let app = App::new().await;
    let admin = app.admin().await;
    let form = app.get("/voice/extensions/new", Some(&admin.cookie)).await;
    assert_eq!(form.status, StatusCode::OK);
    for id in [
        "f-numbers",
        "f-password",
        "f-display_name",
        "f-kind",
        "f-target",
        "f-gateway",
        "f-announce_agent_id",
        "f-allow_outbound",
        "f-record",
        "f-after_call_work",
        "f-auto_answer-off",
        "f-auto_answer-all",
        "f-auto_answer-queue",
        "f-webrtc",
        "f-auth_algorithms",
        "pool-empty",
        "f-pickup_group",
        "btn-save",
    ] {
        assert!(form.body.contains(&format!("id=\"{id}\"")), "{id}");
    }

    let batch = "numbers=101-110&password=pw-1234&display_name=Sales&kind=direct\
                 &allow_outbound=1&record=1&auto_answer=queue&pickup_group=sales";
    let r = app.submit(&admin, "/voice/extensions", batch).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/voice/extensions?done=created&n=10");
    let all = app.store.list_extensions().await.unwrap();
    assert_eq!(all.len(), 10);
    let e = &all[4];
    assert_eq!(
        (
            e.number.as_str(),
            e.password.as_str(),
            e.display_name.as_str(),
            e.record,
            e.auto_answer.as_str()
        ),
        ("105", "pw-1234", "Sales", true, "queue")
    );
    assert!(!e.webrtc && !e.after_call_work && e.allow_outbound && e.enabled);
    assert_eq!(e.auth_algorithms, "", "the server's digest setting");
    let list = app
        .get("/voice/extensions?done=created&n=10", Some(&admin.cookie))
        .await;
    assert!(list.body.contains("10 extensions created."));
    assert!(list.body.contains("data-test=\"ext-row-110\""));
    assert!(list.body.contains("data-test=\"flag-record\""));
    assert!(list.body.contains("Page 1 of 1 (10 in all)"));

    // Duplicates: named, and nothing of the batch is created.
    let r = app
        .submit(
            &admin,
            "/voice/extensions",
            "numbers=109-112&password=pw-1234&kind=direct&auto_answer=off",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-numbers\""));
    assert!(r.body.contains("Already exist: 109, 110."), "{}", r.body);
    assert!(r.body.contains("value=\"109-112\""));
    assert!(app.store.get_extension("111").await.unwrap().is_none());

    // Every other mistake, each next to its field, nothing created.
    let r = app
        .submit(
            &admin,
            "/voice/extensions",
            "numbers=10-5&password=a%20b&kind=queue&target=&auto_answer=sometimes\
             &pickup_group=no%20spaces&caller_ids=62620668&gateway=gw%201&auth_algorithms=SHA-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for field in [
        "numbers",
        "password",
        "target",
        "auto_answer",
        "pickup_group",
        "caller_ids",
        "gateway",
        "auth_algorithms",
    ] {
        assert!(
            r.body.contains(&format!("data-test=\"error-{field}\"")),
            "{field}: {}",
            r.body
        );
    }
    assert!(r.body.contains("“10-5” is not a valid range"));
    assert!(r.body.contains("“62620668” is not in the number pool."));
    // A queue target cannot be checked without the engine: refused.
    let r = app
        .submit(
            &admin,
            "/voice/extensions",
            "numbers=200&password=pw-1234&kind=queue&target=support&auto_answer=off",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-target\""));
    assert_eq!(app.store.list_extensions().await.unwrap().len(), 10);

    // Caller IDs from the number pool are offered and accepted.
    app.store
        .add_list_entries(
            store::VoiceList::NumberPool,
            &[
                ("62620668".into(), String::new()),
                ("62620669".into(), String::new()),
            ],
        )
        .await
        .unwrap();
    let edit = app.get("/voice/extensions/105", Some(&admin.cookie)).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("data-test=\"caller-id-62620669\""));
    assert!(edit.body.contains("id=\"f-enabled\""));
    // Empty password: the old one stays.
    let r = app
        .submit(
            &admin,
            "/voice/extensions/105",
            "password=&display_name=Zhang+San&kind=direct&auto_answer=all&webrtc=1\
             &caller_ids=62620668&caller_ids=62620669&gateway=gw1&announce_agent_id=1\
             &auth_algorithms=SHA-256",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/voice/extensions/105?done=saved");
    let e = app.store.get_extension("105").await.unwrap().unwrap();
    assert_eq!(e.password, "pw-1234");
    assert_eq!(e.display_name, "Zhang San");
    assert_eq!(e.caller_ids, "62620668,62620669");
    assert_eq!(e.gateway, "gw1");
    assert!(e.webrtc && e.announce_agent_id && !e.record && !e.enabled);
    assert_eq!(e.auto_answer, "all");
    assert_eq!(e.auth_algorithms, "SHA-256");
    let list = app
        .get("/voice/extensions?q=zhang", Some(&admin.cookie))
        .await;
    assert!(list.body.contains("data-test=\"ext-row-105\""));
    assert!(!list.body.contains("data-test=\"ext-row-101\""));
    assert!(list.body.contains("Zhang San"));
    assert!(list.body.contains("data-test=\"flag-disabled\""));
    assert!(list.body.contains("data-test=\"flag-sha256\""));
    let edit = app.get("/voice/extensions/105", Some(&admin.cookie)).await;
    assert!(
        edit.body.contains("data-test=\"auth-SHA-256\" selected"),
        "the choice is shown: {}",
        edit.body
    );
    // A bad edit changes nothing.
    let r = app
        .submit(
            &admin,
            "/voice/extensions/105",
            "password=x&display_name=Other&kind=direct&auto_answer=off&enabled=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-password\""));
    let e = app.store.get_extension("105").await.unwrap().unwrap();
    assert_eq!(e.display_name, "Zhang San");
    let r = app.get("/voice/extensions/999", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Remove one, then the ticked ones.
    let r = app
        .submit(&admin, "/voice/extensions/remove", "number=101&one=110")
        .await;
    assert_eq!(r.location(), "/voice/extensions?done=removed&n=1");
    assert!(app.store.get_extension("110").await.unwrap().is_none());
    assert!(app.store.get_extension("101").await.unwrap().is_some());
    let r = app
        .submit(
            &admin,
            "/voice/extensions/remove",
            "number=101&number=102&number=103",
        )
        .await;
    assert_eq!(r.location(), "/voice/extensions?done=removed&n=3");
    assert_eq!(app.store.list_extensions().await.unwrap().len(), 6);
    let r = app.submit(&admin, "/voice/extensions/remove", "").await;
    assert_eq!(r.location(), "/voice/extensions?done=none");
}

#[tokio::test]
async fn list_pages_check_values_and_change_nothing_on_error() {
    let app = App::new().await;
    let admin = app.admin().await;
    app.store
        .add_list_entries(
            store::VoiceList::Blacklist,
            &[("13800000000".into(), "spam".into())],
        )
        .await
        .unwrap();
    let r = app.get("/voice/lists/blacklist", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"list-row-13800000000\""));
    assert!(r.body.contains("spam"));
    assert!(r.body.contains("id=\"list-add-form\""));
    let r = app.get("/voice/lists/nosuch", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = app
        .submit(
            &admin,
            "/voice/lists/acl",
            "values=10.0.0.0%2F8%0A10.0.0.0%2F33&note=office",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-values\""));
    // (Templates escape "/" as "&#x2f;".)
    assert!(
        r.body.contains("“10.0.0.0&#x2f;33” cannot be added"),
        "{}",
        r.body
    );
    // The form keeps what was typed.
    assert!(r
        .body
        .contains("10.0.0.0&#x2f;8\n10.0.0.0&#x2f;33</textarea>"));
    let r = app
        .submit(&admin, "/voice/lists/number_pool", "values=6262-0668")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("6262-0668"));
    let r = app
        .submit(&admin, "/voice/lists/blacklist", "values=+%2C+")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("This field is required."));
    let long_note = "n".repeat(201);
    let r = app
        .submit(
            &admin,
            "/voice/lists/blacklist",
            &format!("values=123&note={long_note}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-note\""));
    assert!(app
        .store
        .list_entries(store::VoiceList::Acl)
        .await
        .unwrap()
        .is_empty());
    // Good values need the engine to apply them.
    let r = app
        .submit(&admin, "/voice/lists/blacklist", "values=123")
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // Chinese page.
    let req = Request::get("/voice/lists/number_pool")
        .header(header::COOKIE, &admin.cookie)
        .header(header::ACCEPT_LANGUAGE, "zh-CN")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert!(r.body.contains("号码池"), "{}", r.body);
}

#[tokio::test]
async fn media_page_lists_files_and_uploads_need_the_token_in_the_url() {
    let app = App::new().await;
    let admin = app.admin().await;
    app.store
        .add_media_file(&store::MediaFile {
            name: "hold music".into(),
            file: "x.wav".into(),
            bytes: 48_044,
            duration_ms: 3000,
            uploaded_by: "admin".into(),
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap();
    let r = app.get("/voice/media", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"media-row-hold_20music\""));
    assert!(r.body.contains("data-test=\"media-row-hold music\""));
    assert!(r.body.contains("0:03.0"));
    assert!(r.body.contains("46.9 KB"));
    // No engine: no upload form, and the page says why.
    assert!(r.body.contains("id=\"engine-down\""));

    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--XyZ--\r\n";
    let upload = |uri: String| {
        Request::post(uri)
            .header(header::COOKIE, &admin.cookie)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(body))
            .unwrap()
    };
    let r = app.send(upload("/voice/media".into())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token");
    let r = app.send(upload("/voice/media?csrf=wrong".into())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "wrong token");
    let r = app
        .send(upload(format!("/voice/media?csrf={}", admin.csrf)))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}

/// An API token of a user holding `grants` (through a role).
async fn token_with(app: &App, username: &str, grants: &[&str]) -> String {
    let id = app.user(username, false).await;
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let role = app
        .store
        .create_role(&format!("{username}-role"), "", &grants)
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    crate::create_api_token(&app.store, username, "t")
        .await
        .unwrap()
}

#[tokio::test]
async fn the_extensions_api_checks_permissions() {
    let app = App::new().await;
    let nobody = token_with(&app, "nobody", &[]).await;
    let viewer = token_with(&app, "viewer", &["voice.extensions:view"]).await;
    let body = serde_json::json!({"numbers": "101", "password": "pw-1234"});
    for (method, path) in [
        ("GET", "/api/extensions"),
        ("GET", "/api/extensions/101"),
        ("POST", "/api/extensions"),
        ("PUT", "/api/extensions/101"),
        ("DELETE", "/api/extensions/101"),
    ] {
        let r = app.api_json(method, path, &nobody, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        let want = if method == "GET" {
            "voice.extensions:view"
        } else {
            "voice.extensions:edit"
        };
        assert_eq!(r.json()["error"], format!("permission {want} required"));
    }
    let r = app.api("GET", "/api/extensions", Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["total"], 0);
    for method in ["POST", "PUT", "DELETE"] {
        let path = if method == "POST" {
            "/api/extensions"
        } else {
            "/api/extensions/101"
        };
        let r = app.api_json(method, path, &viewer, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
    }
    assert!(app.store.list_extensions().await.unwrap().is_empty());
}

#[tokio::test]
async fn extensions_are_created_in_batches_changed_and_removed_over_the_api() {
    let app = App::new().await;
    app.user("root", true).await;
    let tok = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();

    // A batch like the page's: every number with the same settings; what
    // the body leaves out is as on the new form (enabled, outbound allowed).
    let r = app
        .api_json(
            "POST",
            "/api/extensions",
            &tok,
            serde_json::json!({
                "numbers": "101-110", "password": "pw-1234", "display_name": "Sales",
                "record": true, "auto_answer": "queue", "pickup_group": "sales",
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let created = r.json()["created"].as_array().unwrap().len();
    assert_eq!(created, 10);
    let e = app.store.get_extension("105").await.unwrap().unwrap();
    assert_eq!(
        (
            e.password.as_str(),
            e.display_name.as_str(),
            e.kind.as_str()
        ),
        ("pw-1234", "Sales", "direct")
    );
    assert!(e.record && e.enabled && e.allow_outbound && !e.webrtc);
    assert_eq!(e.auto_answer, "queue");

    // One number, or a list of specifications.
    let r = app
        .api_json(
            "POST",
            "/api/extensions",
            &tok,
            serde_json::json!({"number": 120, "password": "pw-1234", "auth_algorithms": "SHA-256"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["created"], serde_json::json!(["120"]));
    let r = app.api("GET", "/api/extensions/120", Some(&tok)).await;
    assert_eq!(r.json()["auth_algorithms"], "SHA-256", "{}", r.body);
    let r = app
        .api_json(
            "POST",
            "/api/extensions",
            &tok,
            serde_json::json!({"numbers": ["130-131", "140"], "password": "pw-1234"}),
        )
        .await;
    assert_eq!(
        r.json()["created"],
        serde_json::json!(["130", "131", "140"])
    );

    // The list and one extension: as on the page, never a password.
    let r = app.api("GET", "/api/extensions?q=sales", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.json();
    assert_eq!(list["total"], 10);
    assert_eq!(list["extensions"][0]["number"], "101");
    assert_eq!(list["extensions"][0]["pickup_group"], "sales");
    assert!(list["extensions"][0]["registered"].is_null(), "no engine");
    assert!(!r.body.contains("password") && !r.body.contains("pw-1234"));
    let r = app.api("GET", "/api/extensions?page=2", Some(&tok)).await;
    assert_eq!(r.json()["page"], 1, "one page of 14 (page size 20)");
    let r = app.api("GET", "/api/extensions/105", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["display_name"], "Sales");
    assert!(!r.body.contains("pw-1234"), "{}", r.body);
    let r = app.api("GET", "/api/extensions/999", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A batch with existing numbers: refused naming them, nothing created.
    let r = app
        .api_json(
            "POST",
            "/api/extensions",
            &tok,
            serde_json::json!({"numbers": "109-112", "password": "pw-1234"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let err = r.json();
    assert_eq!(err["field"], "numbers");
    assert_eq!(
        err["error"],
        "Already exist: 109, 110. Nothing was created."
    );
    assert!(app.store.get_extension("111").await.unwrap().is_none());

    // Every other mistake, each by field, in the request's language.
    let r = app
        .send(
            Request::post("/api/extensions")
                .header(header::AUTHORIZATION, format!("Bearer {tok}"))
                .header(header::ACCEPT_LANGUAGE, "zh-CN")
                .body(Body::from(
                    serde_json::json!({
                        "numbers": "10-5", "password": "a b", "kind": "queue", "target": "",
                        "auto_answer": "sometimes", "pickup_group": "no spaces",
                        "caller_ids": ["62620668"], "gateway": "gw 1", "auth_algorithms": "SHA-1",
                    })
                    .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let err = r.json();
    for field in [
        "numbers",
        "password",
        "target",
        "auto_answer",
        "pickup_group",
        "caller_ids",
        "gateway",
        "auth_algorithms",
    ] {
        assert!(err["errors"][field].is_string(), "{field}: {err}");
    }
    assert_eq!(err["field"], "auth_algorithms", "the first field at fault");
    assert!(
        err["errors"]["target"].as_str().unwrap().contains("目标"),
        "{err}"
    );
    // A queue target cannot be checked without the engine: refused.
    let r = app
        .api_json(
            "POST",
            "/api/extensions",
            &tok,
            serde_json::json!({"numbers": "200", "password": "pw-1234", "kind": "queue", "target": "support"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "target");
    // Not JSON, not an object, a nested object.
    for body in ["{not json", "[1]", r#"{"numbers": {"a": 1}}"#] {
        let r = app
            .send(
                Request::post("/api/extensions")
                    .header(header::AUTHORIZATION, format!("Bearer {tok}"))
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.json()["error"].is_string(), "{body}");
    }
    assert_eq!(app.store.list_extensions().await.unwrap().len(), 14);

    // Change one: the password left out stays; what GET shows goes back.
    let mut ext = app
        .api("GET", "/api/extensions/105", Some(&tok))
        .await
        .json();
    ext["display_name"] = "Zhang San".into();
    ext["webrtc"] = true.into();
    ext["enabled"] = false.into();
    let r = app.api_json("PUT", "/api/extensions/105", &tok, ext).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["display_name"], "Zhang San");
    let e = app.store.get_extension("105").await.unwrap().unwrap();
    assert_eq!(e.password, "pw-1234");
    assert!(e.webrtc && !e.enabled && e.record);
    // A bad change changes nothing; a body naming another number is refused.
    let r = app
        .api_json(
            "PUT",
            "/api/extensions/105",
            &tok,
            serde_json::json!({"password": "x", "display_name": "Other"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "password");
    let r = app
        .api_json(
            "PUT",
            "/api/extensions/105",
            &tok,
            serde_json::json!({"number": "106", "display_name": "Other"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "number");
    let e = app.store.get_extension("105").await.unwrap().unwrap();
    assert_eq!(e.display_name, "Zhang San");
    let r = app
        .api_json(
            "PUT",
            "/api/extensions/999",
            &tok,
            serde_json::json!({"display_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Remove one.
    let r = app.api("DELETE", "/api/extensions/110", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(app.store.get_extension("110").await.unwrap().is_none());
    let r = app.api("DELETE", "/api/extensions/110", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.store.list_extensions().await.unwrap().len(), 13);
}
