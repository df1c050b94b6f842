//! Router tests of the callcenter pages (harness: the parent module).
//!
//! Without an engine (these tests run the router alone) every call-center
//! page answers 503 with a clear message; the permission checks and CSRF
//! come first. The pages' behaviour against a running engine is covered by
//! tests/e2e/web_callcenter.rs.

use axum::http::StatusCode;

use super::{App, PW};

/// Every page of the three groups: (method, path, needs edit permission).
const PAGES: &[(&str, &str, bool)] = &[
    ("GET", "/voice/queues", false),
    ("GET", "/voice/queues/support", false),
    ("GET", "/voice/queues/agents/1001", false),
    ("GET", "/voice/queues/new", true),
    ("POST", "/voice/queues", true),
    ("POST", "/voice/queues/support", true),
    ("POST", "/voice/queues/support/delete", true),
    ("POST", "/voice/queues/support/import", true),
    ("POST", "/voice/queues/support/tiers/1001", true),
    ("POST", "/voice/queues/support/tiers/1001/remove", true),
    ("GET", "/voice/queues/agents/new", true),
    ("POST", "/voice/queues/agents", true),
    ("POST", "/voice/queues/agents/1001", true),
    ("POST", "/voice/queues/agents/1001/delete", true),
    ("POST", "/voice/queues/agents/1001/status", true),
    ("GET", "/voice/routes", false),
    ("GET", "/voice/routes/1", false),
    ("GET", "/voice/routes/new", true),
    ("POST", "/voice/routes", true),
    ("POST", "/voice/routes/1", true),
    ("POST", "/voice/routes/1/delete", true),
    ("POST", "/voice/routes/1/move", true),
    ("GET", "/voice/ivr", false),
    ("GET", "/voice/ivr/main", false),
    ("GET", "/voice/ivr/new", true),
    ("POST", "/voice/ivr", true),
    ("POST", "/voice/ivr/main", true),
    ("POST", "/voice/ivr/main/delete", true),
];

#[tokio::test]
async fn without_an_engine_every_page_says_so_in_the_users_language() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.browser("root", PW).await;
    for (method, path, _) in PAGES {
        let r = if *method == "GET" {
            app.get(path, Some(&b.cookie)).await
        } else {
            app.submit(&b, path, "name=x").await
        };
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert!(
            r.body.contains("call engine is not running"),
            "{method} {path}: {}",
            r.body
        );
    }
    let zh = app
        .get("/voice/queues", Some(&format!("{}; lang=zh-CN", b.cookie)))
        .await;
    assert_eq!(zh.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(zh.body.contains("没有运行呼叫引擎"), "{}", zh.body);
}

#[tokio::test]
async fn a_user_without_the_permissions_is_refused_every_page() {
    let app = App::new().await;
    app.user("nobody", false).await;
    let b = app.browser("nobody", PW).await;
    for (method, path, _) in PAGES {
        let r = if *method == "GET" {
            app.get(path, Some(&b.cookie)).await
        } else {
            app.submit(&b, path, "").await
        };
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
}

#[tokio::test]
async fn view_permission_opens_the_pages_but_not_the_changes() {
    let app = App::new().await;
    let id = app.user("viewer", false).await;
    let grants: Vec<String> = ["voice.queues:view", "voice.routes:view", "voice.ivr:view"]
        .iter()
        .map(|g| g.to_string())
        .collect();
    let role = app
        .store
        .create_role("cc-viewers", "", &grants)
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    let b = app.browser("viewer", PW).await;
    for (method, path, edit) in PAGES {
        let r = if *method == "GET" {
            app.get(path, Some(&b.cookie)).await
        } else {
            app.submit(&b, path, "").await
        };
        let want = if *edit {
            StatusCode::FORBIDDEN
        } else {
            // Allowed: the engine is what is missing here.
            StatusCode::SERVICE_UNAVAILABLE
        };
        assert_eq!(r.status, want, "{method} {path}");
    }
}

#[tokio::test]
async fn changes_need_a_session_and_the_csrf_token() {
    let app = App::new().await;
    let r = app.get("/voice/queues", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login"), "{}", r.location());
    app.user("root", true).await;
    let b = app.browser("root", PW).await;
    let r = app.post("/voice/routes", Some(&b.cookie), "name=x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("id=\"error-message\""), "{}", r.body);
}

#[tokio::test]
async fn the_menu_links_to_the_three_pages() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.browser("root", PW).await;
    let home = app.get("/users", Some(&b.cookie)).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    for id in ["menu-voice-queues", "menu-voice-routes", "menu-voice-ivr"] {
        assert!(home.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
}

/// Every call-center settings API route: (method, path, permission).
const API: &[(&str, &str, &str)] = &[
    ("GET", "/api/callcenter/agents", "voice.queues:view"),
    ("GET", "/api/callcenter/agents/1001", "voice.queues:view"),
    ("PUT", "/api/callcenter/agents/1001", "voice.queues:edit"),
    ("DELETE", "/api/callcenter/agents/1001", "voice.queues:edit"),
    ("GET", "/api/callcenter/tiers", "voice.queues:view"),
    (
        "PUT",
        "/api/callcenter/tiers/support/1001",
        "voice.queues:edit",
    ),
    (
        "DELETE",
        "/api/callcenter/tiers/support/1001",
        "voice.queues:edit",
    ),
    ("GET", "/api/ivr", "voice.ivr:view"),
    ("GET", "/api/ivr/main", "voice.ivr:view"),
    ("PUT", "/api/ivr/main", "voice.ivr:edit"),
    ("DELETE", "/api/ivr/main", "voice.ivr:edit"),
    ("GET", "/api/routes", "voice.routes:view"),
    ("GET", "/api/routes/1", "voice.routes:view"),
    ("GET", "/api/routes/test?number=9400", "voice.routes:view"),
    ("POST", "/api/routes", "voice.routes:edit"),
    ("PUT", "/api/routes/1", "voice.routes:edit"),
    ("DELETE", "/api/routes/1", "voice.routes:edit"),
    ("POST", "/api/routes/1/move?dir=up", "voice.routes:edit"),
];

/// An API token of a user holding `grants` (through a role; none: no role).
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

#[tokio::test]
async fn the_settings_api_checks_the_pages_permissions_then_needs_the_engine() {
    let app = App::new().await;
    let nobody = token_with(&app, "nobody", &[]).await;
    let viewer = token_with(
        &app,
        "viewer",
        &["voice.queues:view", "voice.routes:view", "voice.ivr:view"],
    )
    .await;
    let editor = token_with(
        &app,
        "editor",
        &["voice.queues:edit", "voice.routes:edit", "voice.ivr:edit"],
    )
    .await;
    let body = serde_json::json!({});
    for (method, path, permission) in API {
        let r = app.api_json(method, path, &nobody, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            r.json()["error"],
            format!("permission {permission} required"),
            "{method} {path}"
        );
        // Allowed: the engine is what is missing here. Edit implies view.
        let view = permission.ends_with(":view");
        for (token, allowed) in [(&viewer, view), (&editor, true)] {
            let r = app.api_json(method, path, token, body.clone()).await;
            let want = if allowed {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(r.status, want, "{method} {path}: {}", r.body);
            if allowed {
                assert_eq!(r.json()["error"], "the engine is not running");
            }
        }
    }
}

#[tokio::test]
async fn malformed_settings_are_refused_by_field_before_the_engine_is_asked() {
    let app = App::new().await;
    app.user("root", true).await;
    let tok = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();
    use serde_json::json;
    let cases = [
        // The body names another record than the URL.
        (
            "PUT",
            "/api/callcenter/agents/1001",
            json!({"id": "1002"}),
            "id",
        ),
        ("PUT", "/api/ivr/main", json!({"id": "other"}), "id"),
        ("PUT", "/api/routes/1", json!({"id": 2, "name": "x"}), "id"),
        // Tier level and position are whole numbers.
        (
            "PUT",
            "/api/callcenter/tiers/support/1001",
            json!({"level": "first"}),
            "level",
        ),
        (
            "PUT",
            "/api/callcenter/tiers/support/1001",
            json!({"position": -1}),
            "position",
        ),
        // IVR entries are a list of {label, digits, type, value, arg}.
        (
            "PUT",
            "/api/ivr/main",
            json!({"entries": "1=1001"}),
            "entries",
        ),
        (
            "PUT",
            "/api/ivr/main",
            json!({"entries": [{"digits": "1"}, 7]}),
            "entries[1]",
        ),
        (
            "PUT",
            "/api/ivr/main",
            json!({"entries": [{"digits": "1", "type": "extension", "number": "1001"}]}),
            "entries[0].number",
        ),
        (
            "PUT",
            "/api/ivr/main",
            json!({"entries": [{"digits": ["1"]}]}),
            "entries[0].digits",
        ),
        (
            "PUT",
            "/api/ivr/main",
            json!({"greet_long": {"file": "x"}}),
            "greet_long",
        ),
        // The tester needs a number; a move a direction.
        ("GET", "/api/routes/test", json!({}), "number"),
        ("POST", "/api/routes/1/move?dir=sideways", json!({}), "dir"),
    ];
    for (method, path, body, field) in cases {
        let r = app.api_json(method, path, &tok, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body}: {}",
            r.body
        );
        assert_eq!(
            r.json()["field"],
            field,
            "{method} {path} {body}: {}",
            r.body
        );
        assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // Level named in the request's language.
    let r = app
        .send(
            axum::http::Request::put("/api/callcenter/tiers/support/1001")
                .header(axum::http::header::AUTHORIZATION, format!("Bearer {tok}"))
                .header(axum::http::header::ACCEPT_LANGUAGE, "zh-CN")
                .body(axum::body::Body::from(r#"{"level": "x"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"].as_str().unwrap().starts_with("等级"),
        "{}",
        r.body
    );
    // Not JSON, not an object.
    for (method, path) in [
        ("PUT", "/api/callcenter/agents/1001"),
        ("PUT", "/api/callcenter/tiers/support/1001"),
        ("PUT", "/api/ivr/main"),
        ("POST", "/api/routes"),
        ("PUT", "/api/routes/1"),
    ] {
        for body in ["{not json", "[1]"] {
            let r = app
                .send(
                    axum::http::Request::builder()
                        .method(method)
                        .uri(path)
                        .header(axum::http::header::AUTHORIZATION, format!("Bearer {tok}"))
                        .body(axum::body::Body::from(body))
                        .unwrap(),
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {path} {body}");
            assert!(r.json()["error"].is_string());
        }
    }
    // Well-formed: only the engine is missing. A tier's body may be empty.
    let r = app
        .api("PUT", "/api/callcenter/tiers/support/1001", Some(&tok))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let r = app
        .api("GET", "/api/routes/test?number=9400", Some(&tok))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn joining_a_call_needs_agents_manage_besides_calls_control() {
    // Joining hears the call: call control alone (hang up, transfer) is
    // not enough to listen in.
    let app = App::new().await;
    let control = token_with(&app, "ctl", &["calls:control"]).await;
    let supervisor = token_with(&app, "sup", &["calls:control", "agents:manage"]).await;
    for path in [
        "/api/calls/1/join?extension=1001&mode=listen",
        "/api/calls/1/mode?mode=barge",
    ] {
        let r = app.api("POST", path, Some(&control)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert_eq!(r.json()["error"], "permission agents:manage required");
        // Allowed: the engine is what is missing here.
        let r = app.api("POST", path, Some(&supervisor)).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            r.body
        );
    }
    // Hanging up is still call control's alone.
    let r = app.api("POST", "/api/calls/1/hangup", Some(&control)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}
