//! Users, roles and what a role grants: a form error for a bad e-mail creates
//! nothing; a role granting only "view users" shows the Users menu but not
//! Roles, and opening /roles directly answers 403.

use crate::driver::{by_test, run, BrowserKind, BrowserOptions};
use crate::flows;

browser_tests!(a_role_with_only_users_view_shows_users_and_refuses_roles);
async fn a_role_with_only_users_view_shows_users_and_refuses_roles(browser: BrowserKind) {
    run(
        browser,
        "users_roles",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            // A bad e-mail: the error is next to the field and nothing is created.
            b.click_nav("menu-users").await;
            b.click_nav("btn-new-user").await;
            b.wait_path("/users/new").await;
            b.fill_field("username", "alice").await;
            b.fill_field("name", "Alice Li").await;
            b.fill_field("email", "not-an-email").await;
            b.fill_field("password", "alice-first-pass").await;
            b.fill_field("confirm", "alice-first-pass").await;
            b.click_nav("btn-save").await;
            b.wait_text("#f-email-error", "This is not a valid e-mail address.")
                .await;
            let in_field = b
                .eval(
                    "return document.getElementById('field-email')\
                 .contains(document.getElementById('f-email-error'))",
                )
                .await;
            assert_eq!(in_field, serde_json::Value::Bool(true));
            // What was typed is kept (except passwords).
            assert_eq!(
                b.eval("return document.getElementById('f-username').value")
                    .await,
                "alice"
            );
            b.goto("/users").await;
            b.wait_visible(&by_test("user-row-admin")).await;
            assert!(
                !b.exists(&by_test("user-row-alice")).await,
                "alice was created"
            );

            // Corrected: created.
            b.click_nav("btn-new-user").await;
            b.fill_field("username", "alice").await;
            b.fill_field("name", "Alice Li").await;
            b.fill_field("email", "alice@example.com").await;
            b.fill_field("password", "alice-first-pass").await;
            b.fill_field("confirm", "alice-first-pass").await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "Created.").await;
            b.click_nav("menu-users").await;
            let row = b
                .wait_text(&by_test("user-row-alice"), "alice@example.com")
                .await;
            assert!(row.contains("Alice Li"), "{row}");

            // A role that may only view users.
            b.click_nav("menu-roles").await;
            b.click_nav("btn-new-role").await;
            b.fill_field("name", "user-viewers").await;
            b.fill_field("description", "sees the user list").await;
            b.set_checked("#grant-system-users-view", true).await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "Created.").await;
            let granted = b
                .eval(
                    "return Array.from(document.querySelectorAll('#grant-grid input:checked'))\
                 .map(function (c) { return c.value; })",
                )
                .await;
            assert_eq!(granted, serde_json::json!(["system.users:view"]));

            // Given to alice on her page.
            b.click_nav("menu-users").await;
            b.click_nav_test("user-link-alice").await;
            b.set_checked(&by_test("role-user-viewers"), true).await;
            b.click_nav("btn-save").await;
            b.wait_visible("#flash").await;
            assert!(
                b.find_now(&by_test("role-user-viewers"))
                    .await
                    .expect("role checkbox")
                    .is_selected()
                    .await
                    .unwrap(),
                "the role was not saved"
            );

            // Alice signs in (and must change her first password).
            flows::sign_out(b).await;
            flows::first_sign_in(b, "alice", "alice-first-pass", "alice-own-pass").await;
            b.wait_visible("#menu-users").await;
            for absent in ["#menu-roles", "#menu-departments", "#menu-voice-status"] {
                assert!(!b.exists(absent).await, "alice sees {absent}");
            }
            b.click_nav("menu-users").await;
            b.wait_visible(&by_test("user-row-alice")).await;
            b.wait_visible(&by_test("user-row-admin")).await;
            assert!(
                !b.exists("#btn-new-user").await,
                "alice may not create users"
            );

            // Typing the address of a page she may not see.
            b.goto("/roles").await;
            b.wait_text("#error-status", "403").await;
            b.wait_text(
                "#error-message",
                "You do not have permission to open this page or do this action.",
            )
            .await;
            assert!(!b.exists("#role-table").await);
        },
    )
    .await
}
