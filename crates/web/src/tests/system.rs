//! Router tests of the system pages (harness: the parent module).

use super::{App, PW};
use axum::http::StatusCode;

/// Polls the audit log until `pred` holds for its rows (writes are
/// asynchronous); the rows.
async fn audit_until(
    app: &App,
    pred: impl Fn(&[store::AuditEntry]) -> bool,
) -> Vec<store::AuditEntry> {
    for _ in 0..200 {
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
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the audit log never matched");
}

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
