//! API tokens made in the page: shown once, accepted by the API, refused
//! after revoking.

use crate::driver::{by_test, run, BrowserKind, BrowserOptions};
use crate::flows;

browser_tests!(a_token_made_in_the_page_works_until_revoked);
async fn a_token_made_in_the_page_works_until_revoked(browser: BrowserKind) {
    run(
        browser,
        "api_token",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            b.click_nav("menu-tokens").await;
            b.wait_path("/account/tokens").await;
            b.fill_field("name", "ci-script").await;
            b.click_nav("btn-create-token").await;
            b.wait_text("#flash", "Token created.").await;
            let token = b.text("#new-token").await.trim().to_string();
            assert!(token.starts_with("sbt_"), "token shown: {token:?}");
            b.wait_visible(&by_test("token-row-ci-script")).await;

            // It works for the API, from outside the browser.
            let (status, body) = flows::get_with_token(&t.server, "/api/calls", &token);
            assert_eq!(status, 200, "{body}");
            assert!(body.trim_start().starts_with('['), "{body}");

            // Shown once: the list does not show it again.
            b.click_nav("menu-tokens").await;
            b.wait_visible(&by_test("token-row-ci-script")).await;
            assert!(!b.exists("#new-token").await);
            let html = b.eval("return document.documentElement.outerHTML").await;
            assert!(!html.as_str().unwrap_or_default().contains(&token));

            // Revoked (after the confirmation): refused.
            b.click_confirm_nav(&by_test("btn-revoke-ci-script")).await;
            b.wait_text("#flash", "Token revoked.").await;
            assert!(!b.exists(&by_test("token-row-ci-script")).await);
            let (status, body) = flows::get_with_token(&t.server, "/api/calls", &token);
            assert_eq!(status, 401, "{body}");
        },
    )
    .await
}
