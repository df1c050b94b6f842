//! Signing in: the default admin's forced password change, and a session that
//! expires or is signed out sends the user to sign-in and back to the page they
//! asked for.

use crate::driver::{run, BrowserKind, BrowserOptions};
use crate::flows::{self, ADMIN_PASSWORD};

browser_tests!(default_admin_must_change_the_password_then_sees_the_node_status);
async fn default_admin_must_change_the_password_then_sees_the_node_status(browser: BrowserKind) {
    run(
        browser,
        "admin_first_sign_in",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            // Any page sends a stranger to the sign-in form.
            b.goto("/").await;
            b.wait_path("/login").await;
            b.wait_text("h1", "Sign in").await;

            // A wrong password is refused on the form.
            flows::submit_sign_in(b, "admin", "wrong-password").await;
            b.wait_visible("#login-error").await;
            b.wait_path("/login").await;

            // The manual's default password works, but only to change it.
            flows::submit_sign_in(b, "admin", "123456").await;
            b.wait_path("/password").await;
            b.wait_visible("#must-change-notice").await;
            // Other pages are out of reach until then.
            b.goto("/users").await;
            b.wait_path("/password").await;
            b.wait_visible("#must-change-notice").await;

            // Two different new passwords: the error is next to the confirmation.
            b.fill_field("current", "123456").await;
            b.fill_field("new", "first-new-pass").await;
            b.fill_field("confirm", "other-new-pass").await;
            b.click_nav("btn-change-password").await;
            b.wait_text("#f-confirm-error", "The two passwords do not match.")
                .await;
            let in_field = b
                .eval(
                    "return document.getElementById('field-confirm')\
                 .contains(document.getElementById('f-confirm-error'))",
                )
                .await;
            assert_eq!(in_field, serde_json::Value::Bool(true));
            b.wait_visible("#must-change-notice").await;
            assert!(!b.exists("#flash").await, "a mismatch must not save");

            // Matching passwords: saved, and home shows the node's live status.
            flows::pass_forced_change(b, "123456", ADMIN_PASSWORD).await;
            b.wait_text("#flash", "Your password has been changed.")
                .await;
            b.click_nav("menu-home").await;
            b.wait_path("/").await;
            b.wait_text("h1", "Welcome").await;
            b.wait_visible("#node-status").await;
            let version = b.text("#status-version").await;
            assert!(
                version.chars().any(|c| c.is_ascii_digit()),
                "version shown: {version:?}"
            );
            b.wait_visible("#status-uptime").await;
            assert_eq!(b.text("#status-calls").await, "0");
            assert_eq!(b.text("#status-registrations").await, "0");
            b.wait_page_text("Node status").await;

            // Signed out, the old password no longer works and the new one goes
            // straight to home.
            flows::sign_out(b).await;
            flows::submit_sign_in(b, "admin", "123456").await;
            b.wait_visible("#login-error").await;
            flows::submit_sign_in(b, "admin", ADMIN_PASSWORD).await;
            b.wait_path("/").await;
            b.wait_visible("#node-status").await;
            assert!(!b.exists("#must-change-notice").await);
        },
    )
    .await
}

browser_tests!(an_expired_or_ended_session_signs_in_again_and_returns_to_the_page);
async fn an_expired_or_ended_session_signs_in_again_and_returns_to_the_page(browser: BrowserKind) {
    run(
        browser,
        "session_return",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            b.goto("/users?q=adm").await;
            b.wait_visible("[data-test=\"user-row-admin\"]").await;

            // The session expires on the server (its absolute expiry passes) while
            // the browser still holds the cookie.
            let pool = sqlx::SqlitePool::connect(&t.server.database_url())
                .await
                .expect("open the server's database");
            let expired = sqlx::query("UPDATE sessions SET expires_at = 1")
                .execute(&pool)
                .await
                .expect("expire the sessions")
                .rows_affected();
            pool.close().await;
            assert!(expired >= 1, "no session to expire");

            // The next click lands on sign-in, which remembers the page.
            b.click_nav("menu-departments").await;
            b.wait_url("/login?next=%2Fdepartments").await;
            b.wait_visible("#login-form").await;
            flows::submit_sign_in(b, "admin", ADMIN_PASSWORD).await;
            b.wait_url("/departments").await;
            b.wait_visible("#btn-new-department").await;

            // The same after signing out, with a query string.
            flows::sign_out(b).await;
            b.goto("/users?q=adm").await;
            b.wait_path("/login").await;
            assert_eq!(
                b.path().await,
                "/login?next=%2Fusers%3Fq%3Dadm",
                "sign-in should remember the page asked for"
            );
            flows::submit_sign_in(b, "admin", ADMIN_PASSWORD).await;
            b.wait_url("/users?q=adm").await;
            b.wait_visible("[data-test=\"user-row-admin\"]").await;
        },
    )
    .await
}
