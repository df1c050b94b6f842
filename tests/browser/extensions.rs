//! Extensions: the batch form creates a range (101-110) in one go, and a
//! number that exists already is refused next to the numbers field.

use crate::driver::{by_test, run, BrowserKind, BrowserOptions};
use crate::flows;

/// The numbers of the rows the extensions table shows, in order.
const ROW_NUMBERS: &str =
    "return Array.from(document.querySelectorAll('#ext-table tbody tr[data-number]'))\
     .map(function (tr) { return tr.getAttribute('data-number'); })";

browser_tests!(the_batch_form_creates_extensions_101_to_110_and_lists_them);
async fn the_batch_form_creates_extensions_101_to_110_and_lists_them(browser: BrowserKind) {
    run(
        browser,
        "extensions_batch",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            b.click_nav("menu-voice-extensions").await;
            b.wait_text("h1", "Extensions").await;
            b.wait_visible("#ext-empty").await;

            // One range, one password for the batch.
            b.click_nav("btn-new-extensions").await;
            b.wait_path("/voice/extensions/new").await;
            b.fill_field("numbers", "101-110").await;
            b.fill_field("password", "batch-pass-1").await;
            b.fill_field("display_name", "Front desk").await;
            b.click_nav("btn-save").await;

            // Back on the list: all ten, in order, and nothing else.
            b.wait_path("/voice/extensions").await;
            b.wait_text("#flash", "10 extensions created.").await;
            let wanted: Vec<String> = (101..=110).map(|n| n.to_string()).collect();
            assert_eq!(b.eval(ROW_NUMBERS).await, serde_json::json!(wanted));
            for n in &wanted {
                let row = b.text(&by_test(&format!("ext-row-{n}"))).await;
                assert!(row.contains("Front desk"), "row {n}: {row:?}");
            }
            b.wait_text("#page-info", "(10 in all)").await;
            assert!(!b.exists("#ext-empty").await);

            // The list is what is stored: a fresh visit shows the same, and the
            // search finds one of them.
            b.goto("/voice/extensions").await;
            assert_eq!(b.eval(ROW_NUMBERS).await, serde_json::json!(wanted));
            b.fill_field("q", "107").await;
            b.click_nav("btn-search").await;
            assert_eq!(b.eval(ROW_NUMBERS).await, serde_json::json!(["107"]));
        },
    )
    .await
}

browser_tests!(a_duplicate_extension_is_refused_next_to_the_numbers_field);
async fn a_duplicate_extension_is_refused_next_to_the_numbers_field(browser: BrowserKind) {
    run(
        browser,
        "extensions_duplicate",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            flows::create_extensions(b, "101-105", "batch-pass-1", 5).await;

            // 105 exists: the whole batch 105-106 is refused.
            b.click_nav("btn-new-extensions").await;
            b.fill_field("numbers", "105-106").await;
            b.fill_field("password", "batch-pass-2").await;
            b.click_nav("btn-save").await;
            b.wait_path("/voice/extensions").await;
            b.wait_text(
                "#f-numbers-error",
                "Already exist: 105. Nothing was created.",
            )
            .await;
            // Next to its field, which is marked invalid and keeps what was typed
            // (but not the password).
            let placed = b
                .eval(
                    "var f = document.getElementById('f-numbers');\
                 return [document.getElementById('field-numbers')\
                 .contains(document.getElementById('f-numbers-error')),\
                 f.getAttribute('aria-invalid'), f.value,\
                 document.getElementById('f-password').value]",
                )
                .await;
            assert_eq!(placed, serde_json::json!([true, "true", "105-106", ""]));
            assert!(b.exists("#ext-form").await, "the form is shown again");
            assert!(!b.exists("#flash").await, "nothing may be reported created");

            // Nothing was created: 106 is not in the list.
            b.click_nav("btn-cancel").await;
            b.wait_path("/voice/extensions").await;
            assert_eq!(
                b.eval(ROW_NUMBERS).await,
                serde_json::json!(["101", "102", "103", "104", "105"])
            );
        },
    )
    .await
}
