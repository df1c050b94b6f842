//! Registered extensions, live: a phone (SIPp) registering with digest auth
//! shows up on the open page by itself, without reloading it.

use crate::driver::{by_test, run, BrowserKind, BrowserOptions};
use crate::flows;
use crate::sipp::Sipp;

browser_tests!(an_extension_registered_with_sipp_appears_live_on_the_registrations_page);
async fn an_extension_registered_with_sipp_appears_live_on_the_registrations_page(
    browser: BrowserKind,
) {
    run(
        browser,
        "registrations_live",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            flows::create_extensions(b, "101-110", "reg-pass-105", 10).await;

            // The engine loads new extensions by itself (within a second); the
            // REGISTER below needs 105 known.
            b.until("the engine to load the 10 extensions", async || {
                (t.server.metric("switchboard_extensions", "") >= 10.0).then_some(())
            })
            .await;

            // The page, before any phone registered.
            b.click_nav("menu-voice-registrations").await;
            b.wait_path("/voice/registrations").await;
            b.wait_text("h1", "Registered extensions").await;
            b.wait_visible("#regs-empty").await;
            assert_eq!(b.text("#regs-count").await, "Registered extensions (0)");
            b.mark_same_page().await;

            // A phone registers as 105 with its password (401 challenge, then 200).
            Sipp::new("browser-register-105", "register")
                .remote(t.server.sip_addr())
                .users(&[("105", "reg-pass-105")])
                .key("expires", "3600")
                .run()
                .await
                .assert_success(1);

            // The open page shows it by itself.
            let row = by_test("reg-row-105");
            b.wait_visible(&row).await;
            assert!(b.same_page().await, "the page was reloaded or left");
            let refreshed = b
                .eval("return document.getElementById('regs-live').hasAttribute('data-updated')")
                .await;
            assert_eq!(refreshed, true, "the live part was not refreshed in place");
            b.wait_text("#regs-count", "Registered extensions (1)")
                .await;
            assert!(!b.exists("#regs-empty").await);
            assert_eq!(
                b.text(&format!("{row} [data-test=\"reg-user\"]")).await,
                "105"
            );
            assert_eq!(
                b.text(&format!("{row} [data-test=\"reg-agent\"]")).await,
                "SIPp register"
            );
            let ip = b
                .text(&format!("{row} [data-test=\"reg-network-ip\"]"))
                .await;
            assert!(ip.contains("127.0.0.1"), "network IP shown: {ip:?}");
            let status = b
                .eval(&format!(
                    "return document.querySelector('{}').getAttribute('data-status')",
                    row.replace('\'', "\\'")
                ))
                .await;
            assert!(
                ["Registered", "Reachable"].contains(&status.as_str().unwrap_or_default()),
                "status: {status}"
            );
            // Only 105 registered.
            let users = b
                .eval(
                    "return Array.from(document.querySelectorAll('#regs-table tr[data-user]'))\
                 .map(function (tr) { return tr.getAttribute('data-user'); })",
                )
                .await;
            assert_eq!(users, serde_json::json!(["105"]));
        },
    )
    .await
}
