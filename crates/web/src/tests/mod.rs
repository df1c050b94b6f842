//! HTTP-level tests of the whole router (`tower::ServiceExt::oneshot`)
//! over an in-memory database, without an engine. With
//! `SWITCHBOARD_TEST_WEB_BACKEND=postgres` each test gets a fresh PostgreSQL
//! database of the test cluster instead (`tests/run` runs them both ways).

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::auth::{password, token};
use crate::state::{AppState, Settings};

// Tests of each area of pages, using the harness below.
mod callcenter;
mod campaign_activities;
mod campaigns;
mod crm;
mod desk;
mod gateways;
mod import_more;
mod members;
mod notifications;
mod records;
mod reports;
mod security;
mod system;
mod tickets;
mod voice;

/// A router over a fresh database.
struct App {
    router: Router,
    store: store::Store,
    state: AppState,
    /// The PostgreSQL database, dropped with the app.
    _database: Option<store::testing::TestDatabase>,
}

/// The database of one test: `sqlite::memory:`, or a fresh PostgreSQL
/// database when [`store::testing::WEB_BACKEND_ENV`] says `postgres`.
async fn test_store() -> (store::Store, Option<store::testing::TestDatabase>) {
    if std::env::var(store::testing::WEB_BACKEND_ENV).is_ok_and(|v| v == "postgres") {
        let database = store::testing::TestDatabase::create()
            .await
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "{}=postgres needs {}",
                    store::testing::WEB_BACKEND_ENV,
                    store::testing::POSTGRES_ENV
                )
            });
        let store = store::Store::open(&database.url()).await.unwrap();
        return (store, Some(database));
    }
    (store::Store::open("sqlite::memory:").await.unwrap(), None)
}

/// A response, read whole.
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `name=value` part of the Set-Cookie for `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap_or_default().to_string())
    }

    fn set_cookie_line(&self, name: &str) -> String {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).map(|i| i + marker.len()).unwrap_or(0);
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

impl App {
    async fn new() -> App {
        App::with_settings(Settings::default()).await
    }

    async fn with_settings(settings: Settings) -> App {
        let (store, database) = test_store().await;
        let state = AppState::new(store.clone(), None, settings);
        App {
            router: crate::router(state.clone()),
            store,
            state,
            _database: database,
        }
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, body: &str) -> Resp {
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// A form POST by a signed-in browser, with its CSRF token.
    async fn submit(&self, b: &Browser, path: &str, body: &str) -> Resp {
        let body = if body.is_empty() {
            format!("csrf={}", b.csrf)
        } else {
            format!("csrf={}&{body}", b.csrf)
        };
        self.post(path, Some(&b.cookie), &body).await
    }

    async fn api(&self, method: &str, path: &str, bearer: Option<&str>) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// An API call with a JSON body and a bearer token.
    async fn api_json(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: serde_json::Value,
    ) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    async fn login(&self, username: &str, password: &str) -> Resp {
        let body = format!(
            "username={}&password={}",
            crate::form::encode(username),
            crate::form::encode(password)
        );
        self.post_login(&body, None).await
    }

    /// Opens the sign-in form (for its CSRF cookie and field), then posts
    /// `body` to it with `cookie` (e.g. a language) besides.
    async fn post_login(&self, body: &str, cookie: Option<&str>) -> Resp {
        let form = self.get("/login", cookie).await;
        let login_cookie = form.cookie("sb_login").expect("sign-in CSRF cookie");
        let cookies = match cookie {
            Some(c) => format!("{login_cookie}; {c}"),
            None => login_cookie,
        };
        let body = format!("csrf={}&{body}", csrf_of(&form.body));
        self.post("/login", Some(&cookies), &body).await
    }

    /// Signs in (the password must be right) and picks up the CSRF token.
    async fn browser(&self, username: &str, password: &str) -> Browser {
        let r = self.login(username, password).await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "sign-in of {username}: {}",
            r.body
        );
        let cookie = r.cookie("sb_session").expect("session cookie");
        let page = self.get("/password", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        Browser {
            cookie,
            csrf: csrf_of(&page.body),
        }
    }

    /// A user with a known password that need not change it.
    async fn user(&self, username: &str, is_admin: bool) -> i64 {
        let fields = store::UserFields {
            username: username.into(),
            name: format!("{username} name"),
            is_admin,
            enabled: true,
            ..Default::default()
        };
        let hash = password::hash("password-of-test").unwrap();
        self.store.create_user(&fields, &hash, false).await.unwrap()
    }

    /// The default admin after the forced password change.
    async fn admin(&self) -> Browser {
        let b = self.browser("admin", "123456").await;
        let r = self
            .submit(
                &b,
                "/password",
                "current=123456&new=violet-admin-pass&confirm=violet-admin-pass",
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        b
    }
}

const PW: &str = "password-of-test";

#[tokio::test]
async fn sign_in_ok_and_bad_password() {
    let app = App::new().await;
    app.user("alice", false).await;
    let bad = app.login("alice", "wrong").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("id=\"login-error\""));
    assert!(bad.cookie("sb_session").is_none());
    let unknown = app.login("nobody", "whatever").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("id=\"login-error\""));
    let empty = app.post_login("username=&password=", None).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("data-test=\"error-username\""));

    let ok = app.login("alice", PW).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), "/");
    let line = ok.set_cookie_line("sb_session");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    let home = app.get("/", ok.cookie("sb_session").as_deref()).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("alice name"));
    // The session is in the database (it survives a restart), stored hashed.
    let secret = ok
        .cookie("sb_session")
        .unwrap()
        .trim_start_matches("sb_session=")
        .to_string();
    assert!(app
        .store
        .get_session(&token::digest(&secret))
        .await
        .unwrap()
        .is_some());
    assert!(app.store.get_session(&secret).await.unwrap().is_none());
}

#[tokio::test]
async fn the_sign_in_form_has_its_own_csrf_token() {
    let app = App::new().await;
    app.user("alice", false).await;
    let form = app.get("/login", None).await;
    let line = form.set_cookie_line("sb_login");
    assert!(
        line.contains("HttpOnly") && line.contains("Path=/login"),
        "{line}"
    );
    let token = csrf_of(&form.body);
    assert_eq!(token.len(), 64);
    // No cookie, no field, or a field that does not match: refused, no session.
    let body = format!("username=alice&password={PW}");
    let r = app
        .post("/login", None, &format!("csrf={token}&{body}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("id=\"form-error\""));
    assert!(r.cookie("sb_session").is_none());
    let cookie = form.cookie("sb_login").unwrap();
    let r = app.post("/login", Some(&cookie), &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post("/login", Some(&cookie), &format!("csrf=abc&{body}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post("/login", Some(&cookie), &format!("csrf={token}&{body}"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.cookie("sb_session").is_some());
}

#[tokio::test]
async fn default_admin_must_change_password_first() {
    let app = App::new().await;
    let r = app.login("admin", "123456").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/password");
    let cookie = r.cookie("sb_session").unwrap();
    // Every other page sends them back to the password page.
    for path in ["/", "/users", "/roles", "/account/tokens"] {
        let r = app.get(path, Some(&cookie)).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/password"),
            "{path}"
        );
    }
    let page = app.get("/password", Some(&cookie)).await;
    assert!(page.body.contains("id=\"must-change-notice\""));
    let b = Browser {
        csrf: csrf_of(&page.body),
        cookie,
    };
    // Wrong current password, mismatch, the old password again: refused.
    let r = app
        .submit(
            &b,
            "/password",
            "current=nope&new=brand-new-1&confirm=brand-new-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-current\""));
    let r = app
        .submit(
            &b,
            "/password",
            "current=123456&new=brand-new-1&confirm=brand-new-2",
        )
        .await;
    assert!(r.body.contains("data-test=\"error-confirm\""));
    let r = app
        .submit(&b, "/password", "current=123456&new=short&confirm=short")
        .await;
    assert!(r.body.contains("data-test=\"error-new\""));
    let r = app
        .submit(&b, "/password", "current=123456&new=123456&confirm=123456")
        .await;
    assert!(r.body.contains("data-test=\"error-new\""));
    // A good one: the same session goes on, the old password is dead.
    let r = app
        .submit(
            &b,
            "/password",
            "current=123456&new=brand-new-1&confirm=brand-new-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let home = app.get("/", Some(&b.cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("id=\"status-version\""));
    assert!(home.body.contains("id=\"menu-users\""));
    assert_eq!(
        app.login("admin", "123456").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login("admin", "brand-new-1").await.location(), "/");
}

#[tokio::test]
async fn sign_in_is_throttled_per_username() {
    let app = App::new().await;
    app.user("bob", false).await;
    for i in 0..4 {
        let r = app.login("bob", "wrong").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = app.login("bob", "wrong").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("id=\"login-throttled\""));
    assert!(r.body.contains("15 minutes"), "{}", r.body);
    // Even the right password is refused while locked, and no session starts.
    let r = app.login("bob", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.cookie("sb_session").is_none());
    // Another user is not affected.
    app.user("carol", false).await;
    assert_eq!(app.login("carol", PW).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.browser("root", PW).await;
    assert_eq!(b.csrf.len(), 64);
    let missing = app.post("/roles", Some(&b.cookie), "name=Ops").await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("id=\"error-message\""));
    let wrong = app
        .post("/roles", Some(&b.cookie), "csrf=0000&name=Ops")
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(app.store.list_roles().await.unwrap().is_empty());
    // Sign-out is a form too.
    assert_eq!(
        app.post("/logout", Some(&b.cookie), "").await.status,
        StatusCode::FORBIDDEN
    );
    // A session calling the API must send the header.
    let api = app
        .send(
            Request::post("/api/agents/1/wrapup_done")
                .header(header::COOKIE, &b.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    assert!(api.json()["error"].as_str().unwrap_or("").contains("CSRF"));
    let api = app
        .send(
            Request::post("/api/agents/1/wrapup_done")
                .header(header::COOKIE, &b.cookie)
                .header("x-csrf-token", &b.csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    // Past the CSRF and permission checks: no engine in this test.
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);

    let ok = app.submit(&b, "/roles", "name=Ops").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.list_roles().await.unwrap().len(), 1);
}

#[tokio::test]
async fn permissions_are_checked_on_every_page_and_api_call() {
    let app = App::new().await;
    let id = app.user("plain", false).await;
    let b = app.browser("plain", PW).await;
    let home = app.get("/", Some(&b.cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains("id=\"menu-users\""));
    assert!(!home.body.contains("id=\"status-version\""));
    assert!(home.body.contains("id=\"menu-tokens\""));
    for path in [
        "/users",
        "/users/1",
        "/users/new",
        "/roles",
        "/roles/new",
        "/departments",
        "/departments/new",
    ] {
        let r = app.get(path, Some(&b.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("id=\"error-status\""));
    }
    for path in [
        "/users",
        "/users/1",
        "/users/1/password",
        "/roles",
        "/departments",
    ] {
        let r = app.submit(&b, path, "username=x&name=x").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {path}");
    }
    let tok = crate::create_api_token(&app.store, "plain", "t")
        .await
        .unwrap();
    for (method, path) in [
        ("GET", "/api/calls"),
        ("POST", "/api/calls/1/hangup"),
        ("GET", "/api/queues"),
        ("PUT", "/api/queues/q"),
        ("GET", "/api/voicemail/1000"),
        ("POST", "/api/agents/1000/status?status=available"),
        ("POST", "/api/agents/1000/login"),
        ("POST", "/api/agents/1000/dial?number=1"),
        ("GET", "/api/queues/q"),
        ("DELETE", "/api/queues/q"),
        ("GET", "/api/lists/blacklist"),
        ("POST", "/api/lists/blacklist"),
        ("DELETE", "/api/lists/blacklist/123"),
        ("GET", "/api/registrations"),
        ("GET", "/api/media"),
        ("POST", "/api/media?name=x"),
        ("GET", "/api/media/x"),
        ("PUT", "/api/media/x?to=y"),
        ("DELETE", "/api/media/x"),
    ] {
        let r = app.api(method, path, Some(&tok)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(r.json()["error"].as_str().is_some(), "{}", r.body);
    }

    // A role granting users:view opens the list but not the editing.
    let role = app
        .store
        .create_role("viewers", "", &["system.users:view".to_string()])
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    let r = app.get("/users", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"menu-users\""));
    assert!(!r.body.contains("id=\"btn-new-user\""));
    let page = app.get(&format!("/users/{id}"), Some(&b.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("id=\"btn-save\""),
        "no save button without edit"
    );
    assert!(!page.body.contains("id=\"reset-password-form\""));
    assert_eq!(
        app.get("/users/new", Some(&b.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    // A department's grant (here through its parent) counts too.
    let top = app
        .store
        .create_department(&store::DepartmentFields {
            name: "HQ".into(),
            parent_id: None,
            grants: vec!["calls:view".into(), "system.roles:edit".into()],
        })
        .await
        .unwrap();
    let sub = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Desk".into(),
            parent_id: Some(top),
            grants: vec![],
        })
        .await
        .unwrap();
    app.store.set_user_departments(id, &[sub]).await.unwrap();
    assert_eq!(
        app.get("/roles/new", Some(&b.cookie)).await.status,
        StatusCode::OK
    );
    // calls:view passes the permission check; without an engine: 503.
    assert_eq!(
        app.api("GET", "/api/calls", Some(&tok)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        app.api("POST", "/api/calls/1/hangup", Some(&tok))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn api_tokens_authenticate_api_calls_only() {
    let app = App::new().await;
    app.user("svc", true).await;
    let none = app.api("GET", "/api/me", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.json()["error"].is_string());
    let bad = app.api("GET", "/api/me", Some("sbt_nope")).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let basic = app
        .send(
            Request::get("/api/me")
                .header(header::AUTHORIZATION, "Basic YTpi")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    let garbage = app
        .send(
            Request::get("/api/me")
                .header(header::AUTHORIZATION, &[0xffu8, 0xfe][..])
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);

    let tok = crate::create_api_token(&app.store, "svc", "ci")
        .await
        .unwrap();
    let me = app.api("GET", "/api/me", Some(&tok)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["username"], "svc");
    // Token requests need no CSRF token (no cookie involved).
    let r = app
        .api("POST", "/api/agents/1/wrapup_done", Some(&tok))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // Tokens do not open pages.
    let page = app
        .send(
            Request::get("/users")
                .header(header::AUTHORIZATION, format!("Bearer {tok}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/login"));
    // Unknown API paths are JSON 404s.
    let r = app.api("GET", "/api/nothing-here", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "not found");

    // Created and revoked from the UI; shown once.
    let b = app.browser("svc", PW).await;
    let created = app.submit(&b, "/account/tokens", "name=from-ui").await;
    assert_eq!(created.status, StatusCode::OK);
    let marker = "id=\"new-token\" data-test=\"new-token\">";
    let start = created.body.find(marker).unwrap() + marker.len();
    let ui_token = created.body[start..]
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(ui_token.starts_with("sbt_"));
    assert_eq!(
        app.api("GET", "/api/me", Some(&ui_token)).await.status,
        StatusCode::OK
    );
    let list = app.get("/account/tokens", Some(&b.cookie)).await;
    assert!(
        !list.body.contains(&ui_token),
        "the token is shown once only"
    );
    let tokens = app
        .store
        .list_api_tokens(me.json()["id"].as_i64().unwrap())
        .await
        .unwrap();
    let from_ui = tokens.iter().find(|t| t.name == "from-ui").unwrap();
    let r = app
        .submit(&b, &format!("/account/tokens/{}/revoke", from_ui.id), "")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.api("GET", "/api/me", Some(&ui_token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Someone else's token cannot be revoked by guessing its id.
    app.user("other", false).await;
    let o = app.browser("other", PW).await;
    let ci = tokens.iter().find(|t| t.name == "ci").unwrap();
    let r = app
        .submit(&o, &format!("/account/tokens/{}/revoke", ci.id), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api("GET", "/api/me", Some(&tok)).await.status,
        StatusCode::OK
    );
    // A disabled user's tokens stop working.
    let svc = me.json()["id"].as_i64().unwrap();
    app.store.set_user_enabled(svc, false).await.unwrap();
    assert_eq!(
        app.api("GET", "/api/me", Some(&tok)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn language_from_accept_language_and_the_sticky_switch() {
    let app = App::new().await;
    let zh = app
        .send(
            Request::get("/login")
                .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9,en;q=0.5")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(zh.body.contains("<html lang=\"zh-CN\">"));
    assert!(zh.body.contains("登录"));
    let en = app
        .send(
            Request::get("/login")
                .header(header::ACCEPT_LANGUAGE, "en-GB")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains("Sign in"));
    // The switch sets a cookie and goes back (local paths only).
    let sw = app.get("/lang/zh-CN?next=%2Fusers%3Fq%3Da", None).await;
    assert_eq!(sw.status, StatusCode::SEE_OTHER);
    assert_eq!(sw.location(), "/users?q=a");
    let cookie = sw.cookie("lang").unwrap();
    assert_eq!(cookie, "lang=zh-CN");
    assert!(sw.set_cookie_line("lang").contains("Max-Age="));
    let evil = app.get("/lang/en?next=%2F%2Fevil.example", None).await;
    assert_eq!(evil.location(), "/");
    let r = app
        .send(
            Request::get("/login")
                .header(header::ACCEPT_LANGUAGE, "en")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.body.contains("<html lang=\"zh-CN\">"), "the cookie wins");
    // Error messages follow the language too.
    app.user("li", false).await;
    let r = app
        .post_login("username=li&password=bad", Some(&cookie))
        .await;
    assert!(r.body.contains("用户名或密码错误"), "{}", r.body);
}

#[tokio::test]
async fn an_expired_session_goes_to_sign_in_and_back() {
    let app = App::new().await;
    app.user("dora", true).await;
    let b = app.browser("dora", PW).await;
    assert_eq!(
        app.get("/users?q=x", Some(&b.cookie)).await.status,
        StatusCode::OK
    );
    // Idle for three hours (the limit is two).
    let secret = b.cookie.trim_start_matches("sb_session=");
    let id = token::digest(secret);
    let three_hours_ago = crate::auth::now_ms() - 3 * 3600 * 1000;
    app.store.touch_session(&id, three_hours_ago).await.unwrap();
    let r = app.get("/users?q=x", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fusers%3Fq%3Dx");
    assert!(
        app.store.get_session(&id).await.unwrap().is_none(),
        "expired sessions are deleted"
    );
    let form = app.get(r.location(), None).await;
    // (minijinja's HTML escaping writes "/" as "&#x2f;"; browsers decode it.)
    assert!(
        form.body
            .contains("name=\"next\" value=\"&#x2f;users?q=x\""),
        "{}",
        form.body
    );
    let back = app
        .post_login(
            &format!("username=dora&password={PW}&next=%2Fusers%3Fq%3Dx"),
            None,
        )
        .await;
    assert_eq!(back.location(), "/users?q=x");
    // Only local paths are followed.
    let evil = app
        .post_login(
            &format!("username=dora&password={PW}&next=https%3A%2F%2Fevil.example"),
            None,
        )
        .await;
    assert_eq!(evil.location(), "/");
    // Garbage cookies are just "not signed in".
    for c in [
        "sb_session=",
        "sb_session=zzz",
        "sb_session=%%%; lang=xx",
        "nonsense",
    ] {
        let r = app.get("/", Some(c)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{c}");
    }
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = App::new().await;
    app.user("eve", false).await;
    let b = app.browser("eve", PW).await;
    let r = app.submit(&b, "/logout", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.set_cookie_line("sb_session").contains("Max-Age=0"));
    assert_eq!(
        app.get("/", Some(&b.cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn user_forms_validate_and_change_nothing_on_error() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.admin_like("root").await;
    let before = app.store.all_users().await.unwrap().len();
    let cases = [
        (
            "username=admin&password=long-enough-1&confirm=long-enough-1",
            "error-username",
            "already taken",
        ),
        (
            "username=&password=long-enough-1&confirm=long-enough-1",
            "error-username",
            "required",
        ),
        (
            "username=bad%20name&password=long-enough-1&confirm=long-enough-1",
            "error-username",
            "letters",
        ),
        (
            "username=ok1&email=not-an-email&password=long-enough-1&confirm=long-enough-1",
            "error-email",
            "e-mail",
        ),
        (
            "username=ok1&mobile=call-me&password=long-enough-1&confirm=long-enough-1",
            "error-mobile",
            "digits",
        ),
        (
            "username=ok1&extension=1234&password=long-enough-1&confirm=long-enough-1",
            "error-extension",
            "no such extension",
        ),
        (
            "username=ok1&password=long-enough-1&confirm=other-one-11",
            "error-confirm",
            "do not match",
        ),
        (
            "username=ok1&password=short&confirm=short",
            "error-password",
            "at least 8",
        ),
        (
            "username=ok1&password=long-enough-1&confirm=long-enough-1&roles=999",
            "error-roles",
            "Choose",
        ),
        (
            "username=ok1&password=long-enough-1&confirm=long-enough-1&departments=x",
            "error-departments",
            "Choose",
        ),
    ];
    for (body, id, text) in cases {
        let r = app.submit(&b, "/users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            r.body.contains(&format!("data-test=\"{id}\"")),
            "{body}: no {id}"
        );
        assert!(r.body.contains(text), "{body}: no '{text}'");
    }
    assert_eq!(app.store.all_users().await.unwrap().len(), before);

    // A valid one, with a role and a department; the new user must change
    // the password an administrator chose.
    let role = app.store.create_role("agents", "", &[]).await.unwrap();
    let dept = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Sales".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.store
        .add_extension(&store::Extension {
            number: "1001".into(),
            password: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = format!(
        "username=zhang.san1&name=%E5%BC%A0%E4%B8%89&email=zhang.san1%40itibia.com&mobile=12345678910\
         &extension=1001&is_agent=1&password=long-enough-1&confirm=long-enough-1&roles={role}&departments={dept}"
    );
    let r = app.submit(&b, "/users", &body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let creds = app
        .store
        .user_credentials("zhang.san1")
        .await
        .unwrap()
        .unwrap();
    let u = creds.user;
    assert_eq!(
        (
            u.name.as_str(),
            u.extension.as_str(),
            u.is_agent,
            u.is_admin
        ),
        ("张三", "1001", true, false)
    );
    assert!(u.must_change_password);
    assert_eq!(app.store.user_role_ids(u.id).await.unwrap(), vec![role]);
    assert_eq!(
        app.store.user_department_ids(u.id).await.unwrap(),
        vec![dept]
    );

    // Edit: rename onto an existing username is refused, nothing changes.
    let r = app
        .submit(&b, &format!("/users/{}", u.id), "username=root&enabled=1")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-username\""));
    assert_eq!(
        app.store.get_user(u.id).await.unwrap().unwrap().username,
        "zhang.san1"
    );
    // Disable and drop the role.
    let r = app
        .submit(
            &b,
            &format!("/users/{}", u.id),
            "username=zhang.san1&name=Zhang",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let u2 = app.store.get_user(u.id).await.unwrap().unwrap();
    assert!(!u2.enabled);
    assert!(app.store.user_role_ids(u.id).await.unwrap().is_empty());
    // Administrators cannot lock themselves out.
    let me = app
        .store
        .user_credentials("root")
        .await
        .unwrap()
        .unwrap()
        .user;
    let r = app
        .submit(&b, &format!("/users/{}", me.id), "username=root")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-is_admin\""));
    assert!(r.body.contains("data-test=\"error-enabled\""));
    // Reset password: validated, then the user must change it.
    let r = app
        .submit(
            &b,
            &format!("/users/{}/password", u.id),
            "new_password=abc&new_confirm=abc",
        )
        .await;
    assert!(r.body.contains("data-test=\"error-new_password\""));
    let r = app
        .submit(
            &b,
            &format!("/users/{}/password", u.id),
            "new_password=reset-pass-1&new_confirm=reset-pass-1",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Unknown or malformed ids.
    assert_eq!(
        app.get("/users/abc", Some(&b.cookie)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/users/99999", Some(&b.cookie)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.submit(&b, "/users/99999", "username=x").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn user_list_searches_and_pages() {
    let app = App::new().await;
    app.user("root", true).await;
    for i in 0..45 {
        app.user(&format!("agent{i:02}"), false).await;
    }
    let b = app.admin_like("root").await;
    let r = app.get("/users?q=agent&page=3", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"user-row-agent40\""));
    assert!(r.body.contains("data-test=\"user-row-agent44\""));
    assert!(!r.body.contains("data-test=\"user-row-agent39\""));
    assert!(r.body.contains("Page 3 of 3 (45 in all)"), "{}", r.body);
    assert!(r.body.contains("id=\"page-prev\""));
    assert!(!r.body.contains("id=\"page-next\""));
    let r = app.get("/users?q=nobody-matches", Some(&b.cookie)).await;
    assert!(r.body.contains("id=\"users-empty\""));
    // Nonsense paging is clamped, not an error.
    let r = app.get("/users?page=-5", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/users?page=abc&q=%FF", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn roles_and_the_permission_grid() {
    let app = App::new().await;
    let b = app.admin().await;
    let r = app
        .submit(
            &b,
            "/roles",
            "name=Ops&grant=calls%3Acontrol&grant=bogus%3Aview",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-grant\""));
    let r = app
        .submit(&b, "/roles", "name=&grant=calls%3Acontrol")
        .await;
    assert!(r.body.contains("data-test=\"error-name\""));
    assert!(app.store.list_roles().await.unwrap().is_empty());
    let r = app
        .submit(
            &b,
            "/roles",
            "name=Ops&description=phones&grant=calls%3Acontrol&grant=voice.extensions%3Aedit",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let role = &app.store.list_roles().await.unwrap()[0];
    assert_eq!(role.grants, ["calls:control", "voice.extensions:edit"]);
    let page = app
        .get(&format!("/roles/{}", role.id), Some(&b.cookie))
        .await;
    assert!(page.body.contains("id=\"grant-calls-control\""));
    assert!(page.body.contains("data-grant=\"calls:control\" checked"));
    assert!(!page.body.contains("data-grant=\"calls:view\" checked"));
    let r = app.submit(&b, "/roles", "name=Ops").await;
    assert!(
        r.body.contains("data-test=\"error-name\""),
        "duplicate name"
    );
    let r = app
        .submit(&b, &format!("/roles/{}/delete", role.id), "")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.store.list_roles().await.unwrap().is_empty());
}

#[tokio::test]
async fn department_moves_that_make_a_cycle_are_refused() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.admin_like("root").await;
    assert_eq!(
        app.submit(&b, "/departments", "name=HQ").await.status,
        StatusCode::SEE_OTHER
    );
    let hq = app.store.list_departments().await.unwrap()[0].id;
    let r = app
        .submit(&b, "/departments", &format!("name=Sales&parent_id={hq}"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let sales = app
        .store
        .list_departments()
        .await
        .unwrap()
        .iter()
        .find(|d| d.name == "Sales")
        .unwrap()
        .id;
    let r = app
        .submit(
            &b,
            &format!("/departments/{hq}"),
            &format!("name=HQ&parent_id={sales}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("data-test=\"error-parent_id\""));
    assert!(r.body.contains("cannot be moved under itself"));
    assert_eq!(
        app.store
            .get_department(hq)
            .await
            .unwrap()
            .unwrap()
            .parent_id,
        None
    );
    let r = app
        .submit(&b, "/departments", "name=X&parent_id=424242")
        .await;
    assert!(r.body.contains("data-test=\"error-parent_id\""));
    let r = app.submit(&b, "/departments", "name=X&parent_id=abc").await;
    assert!(r.body.contains("data-test=\"error-parent_id\""));
    // The tree page nests Sales under HQ.
    let tree = app.get("/departments", Some(&b.cookie)).await;
    let (hq_at, sales_at) = (
        tree.body.find("dept-HQ").unwrap(),
        tree.body.find("dept-Sales").unwrap(),
    );
    assert!(hq_at < sales_at);
    // HQ has a child: deleting it is refused with a message.
    let r = app
        .submit(&b, &format!("/departments/{hq}/delete"), "")
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"form-error\""));
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let app = App::new().await;
    app.user("root", true).await;
    let b = app.admin_like("root").await;
    // Not a form.
    let r = app
        .send(
            Request::post("/roles")
                .header(header::COOKIE, &b.cookie)
                .header("x-csrf-token", &b.csrf)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Too large.
    let big = format!("csrf={}&name={}", b.csrf, "x".repeat(300 * 1024));
    let r = app.post("/roles", Some(&b.cookie), &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Broken percent-encoding and invalid UTF-8 are validation errors, not crashes.
    let r = app.submit(&b, "/roles", "name=%FF%FE%&grant=%ZZ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unknown pages: HTML 404 with the page's id.
    let r = app.get("/no/such/page", Some(&b.cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("id=\"error-status\""));
    // Bad JSON to the API.
    let tok = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();
    let r = app
        .send(
            Request::put("/api/queues/support")
                .header(header::AUTHORIZATION, format!("Bearer {tok}"))
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    // No engine here: the request passes authentication and permission.
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn metrics_and_assets_are_open() {
    let app = App::new().await;
    // /metrics needs no sign-in (no engine here, hence 503, not 401).
    assert_eq!(
        app.get("/metrics", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let css = app.get("/assets/app.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = css.headers[header::ETAG].to_str().unwrap().to_string();
    let again = app
        .send(
            Request::get("/assets/app.js")
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        app.get("/assets/nope.js", None).await.status,
        StatusCode::NOT_FOUND
    );
    // Pages carry the security headers and are not cached.
    let login = app.get("/login", None).await;
    assert_eq!(login.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(login.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn disabled_users_cannot_sign_in_and_lose_their_sessions() {
    let app = App::new().await;
    let id = app.user("fred", false).await;
    let b = app.browser("fred", PW).await;
    app.store.set_user_enabled(id, false).await.unwrap();
    assert_eq!(
        app.get("/", Some(&b.cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.login("fred", PW).await.status, StatusCode::UNAUTHORIZED);
}

impl App {
    /// A browser of an administrator created with [`App::user`].
    async fn admin_like(&self, username: &str) -> Browser {
        self.browser(username, PW).await
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_permission() {
    let app = App::new().await;
    app.user("nobody", false).await;
    let nobody = crate::create_api_token(&app.store, "nobody", "t")
        .await
        .unwrap();
    // Open like /metrics: no token needed.
    let r = app.api("GET", "/api/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let doc = r.json();
    assert_eq!(
        doc["openapi"].as_str().unwrap().split('.').next(),
        Some("3")
    );
    assert_eq!(doc["info"]["title"], "Switchboard API");
    assert_eq!(
        doc["components"]["securitySchemes"]["api_token"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/me",
        "/api/users",
        "/api/users/{id}",
        "/api/roles/{id}",
        "/api/roles/{id}/members",
        "/api/roles/{id}/members/{user}",
        "/api/departments/{id}",
        "/api/departments/{id}/members",
        "/api/departments/{id}/members/{user}",
        "/api/audit",
        "/api/settings",
        "/api/queues/{name}",
        "/api/lists/{list}/{value}",
        "/api/media/{name}",
        "/api/registrations",
        "/api/agents/{id}/dial",
        "/api/calls/{id}/{action}",
        "/api/extensions",
        "/api/extensions/{ext}",
        "/api/gateways",
        "/api/gateways/{name}",
        "/api/callcenter/agents/{id}",
        "/api/callcenter/tiers/{queue}/{agent}",
        "/api/ivr/{name}",
        "/api/routes",
        "/api/routes/{id}/move",
        "/api/routes/test",
    ] {
        assert!(paths.contains_key(expected), "{expected} not documented");
    }
    // Every documented operation exists on the server and checks the
    // permission its description names: a user without any role is
    // refused with 403 naming that permission (never 404).
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "1")
            .replace("{list}", "blacklist")
            .replace("{value}", "123")
            .replace("{action}", "hold")
            .replace("{name}", "x")
            .replace("{ext}", "1001")
            .replace("{queue}", "support")
            .replace("{agent}", "1001")
            .replace("{user}", "1");
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{method} {path} has no summary");
            assert!(op["responses"]["200"].is_object(), "{method} {path}");
            assert!(op["responses"]["403"].is_object(), "{method} {path}");
            let r = app
                .api(&method.to_ascii_uppercase(), &concrete, Some(&nobody))
                .await;
            if path == "/api/me" {
                assert_eq!(r.status, StatusCode::OK);
                continue;
            }
            // The caller's own settings: signed in is enough (the PUT has
            // no body here, so it is refused as bad input, not forbidden).
            if path == "/api/me/notifications" {
                let want = if method == "get" {
                    StatusCode::OK
                } else {
                    StatusCode::BAD_REQUEST
                };
                assert_eq!(r.status, want, "{method} {path}: {}", r.body);
                continue;
            }
            let description = op["description"].as_str().unwrap_or_default();
            let perm = description
                .split("Requires permission `")
                .nth(1)
                .and_then(|s| s.split('`').next())
                .unwrap_or_else(|| panic!("{method} {path}: no permission in {description:?}"));
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {concrete}: {}",
                r.body
            );
            assert_eq!(r.json()["error"], format!("permission {perm} required"));
            checked += 1;
        }
    }
    assert!(checked >= 71, "only {checked} operations checked");
}

#[tokio::test]
async fn without_a_role_every_admin_page_is_refused_and_an_agent_sees_only_its_pages() {
    use crate::auth::permissions::MENU;
    let app = App::new().await;
    app.user("plain", false).await;
    let b = app.browser("plain", PW).await;
    // Every page of the menu that needs a permission, and a sub-page of
    // each, is refused (the 403 page, not a redirect or a 404).
    let guarded: Vec<&str> = MENU
        .iter()
        .filter(|m| m.needs.is_some())
        .map(|m| m.href)
        .collect();
    assert!(guarded.len() >= 15, "{guarded:?}");
    for href in &guarded {
        let r = app.get(href, Some(&b.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "GET {href}");
        assert!(r.body.contains("id=\"error-status\""), "GET {href}");
        let r = app.submit(&b, href, "name=x").await;
        assert!(
            r.status == StatusCode::FORBIDDEN || r.status == StatusCode::METHOD_NOT_ALLOWED,
            "POST {href}: {}",
            r.status
        );
    }
    for sub in [
        "/voice/extensions/new",
        "/voice/queues/new",
        "/voice/routes/new",
        "/voice/ivr/new",
        "/system/audit/summary",
        "/system/dictionaries",
    ] {
        let r = app.get(sub, Some(&b.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "GET {sub}");
    }
    // The menu shows only what every user has.
    let home = app.get("/", Some(&b.cookie)).await;
    for m in MENU {
        assert_eq!(
            home.body.contains(&format!("id=\"{}\"", m.id)),
            m.needs.is_none(),
            "{} in the menu of a user without roles",
            m.id
        );
    }

    // An agent: a role with the agent's permissions only (call control,
    // own status, voicemail). The agent's menu has no admin entry, and the
    // admin pages stay refused.
    let agent = app.user("agent1", false).await;
    let role = app
        .store
        .create_role(
            "agents",
            "",
            &[
                "agents:manage".to_string(),
                "calls:control".to_string(),
                "voicemail:view".to_string(),
            ],
        )
        .await
        .unwrap();
    app.store.set_user_roles(agent, &[role]).await.unwrap();
    let a = app.browser("agent1", PW).await;
    let home = app.get("/", Some(&a.cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    // Of the guarded pages, the agent has its voicemail only.
    let own = |m: &&crate::auth::permissions::MenuItem| m.id == "menu-records-voicemail";
    for m in MENU.iter().filter(|m| m.needs.is_some()) {
        assert_eq!(
            home.body.contains(&format!("id=\"{}\"", m.id)),
            own(&m),
            "{} in an agent's menu",
            m.id
        );
    }
    for m in MENU.iter().filter(|m| m.needs.is_some() && !own(m)) {
        let r = app.get(m.href, Some(&a.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "agent GET {}", m.href);
    }
    let r = app.get("/records/voicemail", Some(&a.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    let tok = crate::create_api_token(&app.store, "agent1", "t")
        .await
        .unwrap();
    // The agent's own operations pass the permission check (503: no
    // engine in this test); admin API routes are refused.
    let r = app
        .api(
            "POST",
            "/api/agents/1000/status?status=available",
            Some(&tok),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    for (m, p) in [
        ("GET", "/api/users"),
        ("GET", "/api/queues"),
        ("GET", "/api/audit"),
    ] {
        let r = app.api(m, p, Some(&tok)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "agent {m} {p}");
    }
}

/// The newest audit entries once `pred` holds for them: the audit log is
/// written behind, so a test waits for what it checks (20 s at most, a
/// loaded machine included).
async fn audit_until(
    app: &App,
    pred: impl Fn(&[store::AuditEntry]) -> bool,
) -> Vec<store::AuditEntry> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = app
            .store
            .search_audit(&store::AuditQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        if pred(&page.entries) {
            return page.entries;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the audit log never matched: {:?}",
            page.entries
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
