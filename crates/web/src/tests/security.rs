//! Attacks on the web admin, through the whole router: locking the admin
//! out with wrong passwords, weak passwords, and the SMS test used to
//! reach the server itself or its cloud's metadata service.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};

use super::{csrf_of, App, PW};

impl App {
    /// Signs in from `ip` (the connection's address, as the listener
    /// gives it).
    async fn login_from(&self, username: &str, password: &str, ip: &str) -> super::Resp {
        let form = self.get("/login", None).await;
        let login_cookie = form.cookie("sb_login").expect("sign-in CSRF cookie");
        let body = format!(
            "csrf={}&username={}&password={}",
            csrf_of(&form.body),
            crate::form::encode(username),
            crate::form::encode(password)
        );
        let mut req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, login_cookie)
            .body(Body::from(body))
            .unwrap();
        let addr: SocketAddr = SocketAddr::new(ip.parse().unwrap(), 40_000);
        req.extensions_mut().insert(ConnectInfo(addr));
        self.send(req).await
    }
}

#[tokio::test]
async fn wrong_passwords_from_a_stranger_do_not_lock_the_admin_out() {
    let app = App::new().await;
    app.user("root", true).await;
    let m = app.state.metrics().clone();
    for i in 0..4 {
        let r = app.login_from("root", "guess", "203.0.113.9").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = app.login_from("ROOT", "guess", "203.0.113.9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // The attacker's address is held off, even with the right password.
    let r = app.login_from("root", PW, "203.0.113.9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("id=\"login-throttled\""));
    assert!(r.cookie("sb_session").is_none());
    // The admin at their own address signs in as usual.
    let r = app.login_from("root", PW, "198.51.100.20").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.cookie("sb_session").is_some());
    // Counted for /metrics.
    assert_eq!(m.login_failures.load(Relaxed), 5);
    assert_eq!(m.login_throttled.load(Relaxed), 1);
    let text = m.render();
    assert!(
        text.contains("switchboard_web_login_failures_total 5"),
        "{text}"
    );
    assert!(
        text.contains("switchboard_web_login_throttled_total 1"),
        "{text}"
    );
}

#[tokio::test]
async fn one_address_guessing_many_usernames_is_locked_for_all() {
    let app = App::new().await;
    app.user("root", true).await;
    for i in 0..20 {
        let _ = app
            .login_from(&format!("user{i}"), "guess", "203.0.113.9")
            .await;
    }
    let r = app.login_from("root", PW, "203.0.113.9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = app.login_from("root", PW, "198.51.100.20").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

/// The error shown next to `field` on a page, if any.
fn field_error(body: &str, field: &str) -> Option<String> {
    let marker = format!("data-test=\"error-{field}\">");
    let start = body.find(&marker)? + marker.len();
    Some(
        body[start..]
            .split('<')
            .next()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn common_and_username_like_passwords_are_refused_wherever_a_password_is_set() {
    let app = App::new().await;
    // The forced change of the default admin.
    let r = app.login("admin", "123456").await;
    let cookie = r.cookie("sb_session").unwrap();
    let page = app.get("/password", Some(&cookie)).await;
    let b = super::Browser {
        csrf: csrf_of(&page.body),
        cookie,
    };
    for (new, expect) in [
        ("12345678", "10,000 most common"),
        ("PASSWORD1", "10,000 most common"),
        ("admin", "at least 8"),
        ("nimdanimda", "username"),
        ("admin2024!", "username"),
    ] {
        let r = app
            .submit(
                &b,
                "/password",
                &format!("current=123456&new={new}&confirm={new}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{new}");
        let err = field_error(&r.body, "new").unwrap_or_default();
        assert!(err.contains(expect), "{new}: {err}");
    }
    // In Chinese too.
    let r = app
        .send(
            Request::post("/password")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("{}; lang=zh", b.cookie))
                .body(Body::from(format!(
                    "csrf={}&current=123456&new=12345678&confirm=12345678",
                    b.csrf
                )))
                .unwrap(),
        )
        .await;
    let err = field_error(&r.body, "new").unwrap_or_default();
    assert!(err.contains("最常见"), "{err}");
    // Still the old password: nothing was changed.
    assert_eq!(
        app.login("admin", "12345678").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .submit(
            &b,
            "/password",
            "current=123456&new=violet-admin-pass&confirm=violet-admin-pass",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // An administrator creating a user (page and API) or resetting one.
    let r = app
        .submit(
            &b,
            "/users",
            "username=dora&password=qwertyuiop&confirm=qwertyuiop",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(field_error(&r.body, "password").is_some_and(|e| e.contains("common")));
    let r = app
        .submit(
            &b,
            "/users",
            "username=dorothea&password=dorothea1&confirm=dorothea1",
        )
        .await;
    assert!(field_error(&r.body, "password").is_some_and(|e| e.contains("username")));
    assert!(app
        .store
        .user_credentials("dorothea")
        .await
        .unwrap()
        .is_none());
    let token = crate::create_api_token(&app.store, "admin", "t")
        .await
        .unwrap();
    let r = app
        .api_json(
            "POST",
            "/api/users",
            &token,
            serde_json::json!({"username": "eve", "password": "iloveyou"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["errors"]["password"].is_string(), "{}", r.body);
    assert!(app.store.user_credentials("eve").await.unwrap().is_none());
    let id = app.user("frank", false).await;
    let r = app
        .submit(
            &b,
            &format!("/users/{id}/password"),
            "new_password=sunshine&new_confirm=sunshine",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(field_error(&r.body, "new_password").is_some_and(|e| e.contains("common")));
    // A strong one passes.
    let r = app
        .submit(
            &b,
            &format!("/users/{id}/password"),
            "new_password=violet-otter-kite&new_confirm=violet-otter-kite",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

/// A real HTTP server on 127.0.0.1 that counts the requests it gets.
async fn counting_gateway() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let gw = axum::Router::new().route(
        "/send",
        axum::routing::get(move || {
            seen.fetch_add(1, Relaxed);
            async { "internal secret" }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, gw).await });
    (port, hits)
}

#[tokio::test]
async fn the_sms_test_refuses_loopback_and_metadata_gateways() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.admin_like("root").await;
    let token = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();
    let (port, hits) = counting_gateway().await;
    for url in [
        format!("http://127.0.0.1:{port}/send?to={{mobile}}"),
        format!("http://localhost:{port}/send?to={{mobile}}"),
        "http://169.254.169.254/latest/meta-data/iam?to={mobile}".to_string(),
        "http://[::1]:9/send?to={mobile}".to_string(),
    ] {
        app.store
            .put_settings(&[("sms.url".to_string(), url.clone())])
            .await
            .unwrap();
        let r = app
            .submit(&b, "/system/settings/test-sms", "test_mobile=13800000000")
            .await;
        assert!(r.body.contains("refused"), "{url}: {}", r.body);
        assert!(!r.body.contains("internal secret"));
        let r = app
            .api_json(
                "POST",
                "/api/settings/test-sms",
                &token,
                serde_json::json!({"mobile": "13800000000"}),
            )
            .await;
        assert_eq!(r.json()["ok"], false, "{url}: {}", r.body);
        assert!(
            r.json()["answer"]
                .as_str()
                .unwrap_or_default()
                .contains("refused"),
            "{}",
            r.body
        );
    }
    assert_eq!(hits.load(Relaxed), 0, "the gateway was never called");
}
