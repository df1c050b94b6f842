//! Router tests of the system pages (harness: the parent module).

use super::{audit_until, App, PW};
use axum::http::StatusCode;

#[tokio::test]
async fn changes_and_sign_ins_are_audited_with_secrets_redacted() {
    let app = App::new().await;
    app.user("root", true).await;
    // A failed sign-in names the attempted user and is a failure.
    let r = app.login("root", "wrong-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let b = app.browser("root", PW).await;
    let r = app
        .submit(
            &b,
            "/users",
            "username=carol&name=Carol&password=secret-pass-1&confirm=secret-pass-1&enabled=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let rows = audit_until(&app, |rows| {
        rows.iter()
            .any(|e| e.url == "/users" && e.username == "root")
            && rows.iter().filter(|e| e.action == "sign_in").count() >= 2
    })
    .await;
    let failed = rows
        .iter()
        .find(|e| e.action == "sign_in" && !e.ok)
        .expect("the failed sign-in");
    assert_eq!((failed.username.as_str(), failed.status), ("root", 401));
    assert!(failed.params.contains("password=***"), "{}", failed.params);
    assert!(rows.iter().any(|e| e.action == "sign_in" && e.ok));
    let created = rows.iter().find(|e| e.url == "/users").unwrap();
    assert!(created.ok && created.method == "POST");
    assert!(
        created.params.contains("username=carol"),
        "{}",
        created.params
    );
    assert!(
        !created.params.contains("secret-pass-1"),
        "{}",
        created.params
    );
    assert!(
        !created.params.contains(&b.csrf),
        "the CSRF token is redacted too"
    );

    // The page searches by user and result, and shows the rows.
    let page = app
        .get("/system/audit?username=root&result=ok", Some(&b.cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-test=\"audit-url\">&#x2f;users<"),
        "{}",
        page.body
    );
    let page = app
        .get("/system/audit?result=failed", Some(&b.cookie))
        .await;
    assert!(page.body.contains("401"), "{}", page.body);
    assert!(!page.body.contains("data-test=\"audit-url\">&#x2f;users<"));
    let bad = app
        .get("/system/audit?from=24.11.2026", Some(&b.cookie))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("error-from"), "{}", bad.body);

    // The summary draws its charts as SVG.
    let summary = app.get("/system/audit/summary", Some(&b.cookie)).await;
    assert_eq!(summary.status, StatusCode::OK);
    assert_eq!(summary.body.matches("<svg").count(), 3, "three charts");
    assert!(
        summary.body.contains("root"),
        "the per-user chart names root"
    );

    // Without the audit permission: 403.
    app.user("dave", false).await;
    let d = app.browser("dave", PW).await;
    assert_eq!(
        app.get("/system/audit", Some(&d.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// A free loopback TCP port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A real SMTP server (Debian's aiosmtpd, installed by tests/run) that
/// prints every message it receives; killed on drop.
pub(super) struct SmtpServer {
    child: std::process::Child,
    pub(super) port: u16,
    out: std::path::PathBuf,
}

impl SmtpServer {
    pub(super) fn start() -> SmtpServer {
        let port = free_port();
        let out = std::env::temp_dir().join(format!("aiosmtpd-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&out).unwrap();
        let mut child = std::process::Command::new("/usr/bin/aiosmtpd")
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .stdout(file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd (Debian package python3-aiosmtpd; tests/run installs it)");
        // Ready when it accepts connections.
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpServer { child, port, out };
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start");
    }

    pub(super) fn received(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.out);
    }
}

#[tokio::test]
async fn settings_are_checked_saved_and_test_messages_reach_real_servers() {
    // The test gateway is on loopback, which only this setting allows.
    let app = App::with_settings(crate::state::Settings {
        sms_allow_private_targets: true,
        ..Default::default()
    })
    .await;
    app.user("root", true).await;
    let b = app.browser("root", PW).await;
    // Bad values: every one named, nothing stored.
    let r = app
        .submit(
            &b,
            "/system/settings",
            "system_name=&audit_retention_days=x&smtp_host=a+b&smtp_port=70000&smtp_security=none\
             &smtp_from=&sms_url=ftp%3A%2F%2Fgw&sms_method=GET",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for id in [
        "error-system_name",
        "error-audit_retention_days",
        "error-smtp_host",
        "error-smtp_port",
        "error-sms_url",
    ] {
        assert!(r.body.contains(id), "{id} missing");
    }
    assert!(app.store.settings().await.unwrap().is_empty());

    // A real SMTP server and a real HTTP gateway.
    let smtp = SmtpServer::start();
    let (gateway_tx, mut gateway_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_port = gateway.local_addr().unwrap().port();
    let gw = axum::Router::new().route(
        "/send",
        axum::routing::get(move |uri: axum::http::Uri| {
            let tx = gateway_tx.clone();
            async move {
                let _ = tx.send(uri.to_string());
                "OK queued 1"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(gateway, gw).await });

    let form = format!(
        "system_name=Hotline+%E7%83%AD%E7%BA%BF&audit_retention_days=30&smtp_host=127.0.0.1&smtp_port={}\
         &smtp_security=none&smtp_username=&smtp_password=&smtp_from=Desk+%3Cdesk%40example.com%3E\
         &sms_url=http%3A%2F%2F127.0.0.1%3A{gateway_port}%2Fsend%3Fto%3D%7Bmobile%7D%26msg%3D%7Btext%7D\
         &sms_method=GET&sms_content_type=text%2Fplain&sms_body=",
        smtp.port
    );
    let r = app.submit(&b, "/system/settings", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app
        .get("/system/settings?done=saved", Some(&b.cookie))
        .await;
    assert!(
        page.body.contains("Hotline 热线"),
        "the name is shown in the header"
    );
    assert!(page.body.contains("Settings saved."));

    let r = app
        .submit(
            &b,
            "/system/settings/test-email",
            "test_to=agent%40example.com",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("The server accepted the message: 250"),
        "{}",
        r.body
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !smtp.received().contains("agent@example.com") {
        assert!(
            std::time::Instant::now() < deadline,
            "no mail: {}",
            smtp.received()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        smtp.received()
            .contains("This is a test e-mail from Hotline"),
        "{}",
        smtp.received()
    );
    let r = app
        .submit(&b, "/system/settings/test-email", "test_to=nobody")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("error-test_to"));

    let r = app
        .submit(
            &b,
            "/system/settings/test-sms",
            "test_mobile=%2B8613800000000",
        )
        .await;
    assert!(
        r.body.contains("The gateway answered HTTP 200."),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("OK queued 1"),
        "the answer's body is not shown"
    );
    let asked = gateway_rx.recv().await.unwrap();
    assert!(
        asked.starts_with("/send?to=%2B8613800000000&msg=Test"),
        "{asked}"
    );

    // With the server gone, the test says why.
    drop(smtp);
    let r = app
        .submit(
            &b,
            "/system/settings/test-email",
            "test_to=agent%40example.com",
        )
        .await;
    assert!(r.body.contains("The message was not sent:"), "{}", r.body);

    // The stored password is never shown, and a blank one keeps it.
    let with_pw = form.replace("smtp_password=", "smtp_password=s3cret");
    app.submit(&b, "/system/settings", &with_pw).await;
    app.submit(&b, "/system/settings", &form).await;
    assert_eq!(
        app.store
            .settings()
            .await
            .unwrap()
            .get("smtp.password")
            .map(String::as_str),
        Some("s3cret")
    );
    let page = app.get("/system/settings", Some(&b.cookie)).await;
    assert!(!page.body.contains("s3cret"));

    // Dictionaries.
    let r = app
        .submit(
            &b,
            "/system/dictionaries",
            "name=ticket_priority&items=high%3DHigh%0Alow%3DLow",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app
        .get("/system/dictionaries/ticket_priority", Some(&b.cookie))
        .await;
    assert!(page.body.contains("high=High\nlow=Low"), "{}", page.body);
    let r = app
        .submit(&b, "/system/dictionaries", "name=bad+name&items=a%0Aa")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("error-name") && r.body.contains("error-items"));
}

#[tokio::test]
async fn the_admin_api_edits_users_roles_and_departments_with_field_errors() {
    let app = App::new().await;
    app.user("root", true).await;
    app.user("nobody", false).await;
    let root = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();
    let nobody = crate::create_api_token(&app.store, "nobody", "t")
        .await
        .unwrap();

    // Roles: a bad grant names the field; a good role is created.
    let r = app
        .api_json(
            "POST",
            "/api/roles",
            &root,
            serde_json::json!({"name": "Ops", "grant": ["no.such:view"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "grant");
    let r = app
        .api_json(
            "POST",
            "/api/roles",
            &root,
            serde_json::json!({"name": "Ops", "description": "operators", "grant": ["system.users:view"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let role_id = r.json()["id"].as_i64().unwrap();
    let r = app
        .api_json(
            "POST",
            "/api/roles",
            &root,
            serde_json::json!({"name": "Ops"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "name");

    // Departments: a tree; a cycle is refused naming parent_id.
    let r = app
        .api_json(
            "POST",
            "/api/departments",
            &root,
            serde_json::json!({"name": "HQ"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let hq = r.json()["id"].as_i64().unwrap();
    let r = app
        .api_json(
            "POST",
            "/api/departments",
            &root,
            serde_json::json!({"name": "Sales", "parent_id": hq}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sales = r.json()["id"].as_i64().unwrap();
    let r = app
        .api_json(
            "PUT",
            &format!("/api/departments/{hq}"),
            &root,
            serde_json::json!({"name": "HQ", "parent_id": sales}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "parent_id");

    // Users: every field error comes back in the request's language;
    // nothing is created.
    let bad = app
        .api_json(
            "POST",
            "/api/users",
            &root,
            serde_json::json!({"username": "a b", "email": "nope", "password": "short", "roles": [role_id]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let errors = bad.json()["errors"].clone();
    for field in ["username", "email", "password"] {
        assert!(errors[field].is_string(), "{field} missing in {errors}");
    }
    assert!(app.store.user_credentials("a b").await.unwrap().is_none());
    let r = app
        .api_json(
            "POST",
            "/api/users",
            &root,
            serde_json::json!({"username": "amy", "name": "Amy", "email": "amy@example.com",
                "password": "long-enough-pass-1", "is_agent": true,
                "roles": [role_id], "departments": [sales]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let amy = r.json();
    assert_eq!(amy["username"], "amy");
    assert_eq!(amy["roles"], serde_json::json!([role_id]));
    assert_eq!(amy["departments"], serde_json::json!([sales]));
    assert!(amy.get("password_hash").is_none(), "{amy}");
    let id = amy["id"].as_i64().unwrap();
    let r = app
        .api_json(
            "PUT",
            &format!("/api/users/{id}"),
            &root,
            serde_json::json!({"username": "amy", "name": "Amy Li", "enabled": true, "roles": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["name"], "Amy Li");
    assert_eq!(r.json()["roles"], serde_json::json!([]));
    let list = app.api("GET", "/api/users?q=amy", Some(&root)).await;
    assert_eq!(list.json()["total"], 1);

    // A body that is not JSON, and a missing record.
    let r = app
        .send(
            axum::http::Request::post("/api/roles")
                .header(axum::http::header::AUTHORIZATION, format!("Bearer {root}"))
                .body(axum::body::Body::from("{nope"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("JSON"));
    let r = app.api("GET", "/api/users/999999", Some(&root)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Audit and settings are readable; the SMTP password never shows.
    app.store
        .put_settings(&[("smtp.password".to_string(), "s3cret".to_string())])
        .await
        .unwrap();
    let s = app.api("GET", "/api/settings", Some(&root)).await;
    assert_eq!(s.status, StatusCode::OK);
    assert!(!s.body.contains("s3cret"), "{}", s.body);
    audit_until(&app, |rows| {
        rows.iter().any(|e| e.url.starts_with("/api/users"))
    })
    .await;
    let a = app
        .api("GET", "/api/audit?url=/api/users", Some(&root))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.json()["total"].as_i64().unwrap() >= 1);
    assert!(!a.body.contains("long-enough-pass-1"), "{}", a.body);
    let r = app
        .api("GET", "/api/audit?from=yesterday", Some(&root))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "from");

    // A user without a role is refused every one of these routes.
    for (m, p) in [
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("GET", "/api/roles"),
        ("DELETE", "/api/roles/1"),
        ("GET", "/api/departments"),
        ("GET", "/api/audit"),
        ("GET", "/api/settings"),
        ("GET", "/api/dictionaries/x"),
    ] {
        let r = app.api(m, p, Some(&nobody)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {p}: {}", r.body);
        assert!(r.json()["error"].is_string());
    }

    let r = app
        .api("DELETE", &format!("/api/roles/{role_id}"), Some(&root))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .api("DELETE", &format!("/api/roles/{role_id}"), Some(&root))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn settings_dictionaries_and_status_over_the_api() {
    let app = App::new().await;
    app.user("root", true).await;
    let root = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();

    let s = app.api("GET", "/api/settings", Some(&root)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!(s.json()["system.name"], "Switchboard");
    assert_eq!(s.json()["smtp.password_set"], false);

    // Bad values are refused by key, in the request's language, and
    // change nothing; an unknown key is named.
    let r = app
        .api_json(
            "PUT",
            "/api/settings",
            &root,
            serde_json::json!({"system.name": "Hotline", "smtp.port": "99999"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "smtp.port");
    let r = app
        .api_json(
            "PUT",
            "/api/settings",
            &root,
            serde_json::json!({"smtp.nope": "1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "smtp.nope");
    assert_eq!(
        app.api("GET", "/api/settings", Some(&root)).await.json()["system.name"],
        "Switchboard"
    );
    // Good ones are kept; the others keep their values; the password is
    // stored but never shown.
    let r = app
        .api_json(
            "PUT",
            "/api/settings",
            &root,
            serde_json::json!({"system.name": "Hotline", "audit.retention_days": 30,
                "smtp.password": "pw-secret"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["system.name"], "Hotline");
    assert_eq!(v["audit.retention_days"], "30");
    assert_eq!(v["smtp.port"], "25");
    assert_eq!(v["smtp.password_set"], true);
    assert!(!r.body.contains("pw-secret"));
    // The pages show the new name.
    let b = app.browser("root", PW).await;
    let home = app.get("/", Some(&b.cookie)).await;
    assert!(home.body.contains("Hotline"), "{}", home.body);

    // Test messages: a bad address is refused; with no SMTP server set
    // the answer says so.
    let r = app
        .api_json(
            "POST",
            "/api/settings/test-email",
            &root,
            serde_json::json!({"to": "nope"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "to");
    let r = app
        .api_json(
            "POST",
            "/api/settings/test-email",
            &root,
            serde_json::json!({"to": "ops@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["ok"], false);
    assert_eq!(r.json()["answer"], "no SMTP server is set");
    let r = app
        .api_json(
            "POST",
            "/api/settings/test-sms",
            &root,
            serde_json::json!({"mobile": "12a"}),
        )
        .await;
    assert_eq!(r.json()["field"], "mobile");

    // Dictionaries: checked, saved in order, listed, removed.
    let r = app
        .api_json(
            "PUT",
            "/api/dictionaries/customer.level",
            &root,
            serde_json::json!({"items": [{"value": "vip", "label": "VIP"}, {"value": "vip"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "items");
    let r = app
        .api_json(
            "PUT",
            "/api/dictionaries/bad%20name",
            &root,
            serde_json::json!({"items": ["a"]}),
        )
        .await;
    assert_eq!(r.json()["field"], "name");
    let r = app
        .api_json(
            "PUT",
            "/api/dictionaries/customer.level",
            &root,
            serde_json::json!({"items": [{"value": "vip", "label": "VIP"}, "normal"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = r.json();
    assert_eq!(items[0]["value"], "vip");
    assert_eq!(items[0]["label"], "VIP");
    assert_eq!(items[1]["value"], "normal");
    let names = app.api("GET", "/api/dictionaries", Some(&root)).await;
    assert_eq!(names.json(), serde_json::json!(["customer.level"]));
    let r = app
        .api("DELETE", "/api/dictionaries/customer.level", Some(&root))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .api("GET", "/api/dictionaries/customer.level", Some(&root))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Status: no engine runs in this test.
    let r = app.api("GET", "/api/status", Some(&root)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["running"], false);
    assert!(r.json()["version"].is_string());
}
