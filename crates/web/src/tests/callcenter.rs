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
