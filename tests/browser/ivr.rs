//! IVR menus: a two-level IVR built in the pages (a main menu whose entry
//! leads to a sub-menu with its own entries) is shown as a tree.

use std::sync::Arc;

use crate::driver::{by_test, run_on, server_name, Browser, BrowserKind, BrowserOptions};
use crate::flows;
use crate::harness::Server;

/// One entry row of the menu form: keys, name, type (the select's value) and
/// its number or menu.
struct Entry<'a> {
    digits: &'a str,
    label: &'a str,
    kind: &'a str,
    value: &'a str,
}

/// Fills entry row `row` of the menu form.
async fn fill_entry(b: &Browser, row: usize, e: &Entry<'_>) {
    b.fill(&format!("f-entry-{row}-digits"), e.digits).await;
    b.fill(&format!("f-entry-{row}-label"), e.label).await;
    b.select_value(&format!("f-entry-{row}-type"), e.kind).await;
    b.fill(&format!("f-entry-{row}-value"), e.value).await;
}

/// Adds a menu through "Add menu": id, name, the built-in greeting
/// "welcome" and `entries`; waits for its page saying it was created.
async fn add_menu(b: &Browser, id: &str, name: &str, entries: &[Entry<'_>]) {
    b.click_nav("menu-voice-ivr").await;
    b.click_nav("btn-new-menu").await;
    b.wait_path("/voice/ivr/new").await;
    b.fill_field("id", id).await;
    b.fill_field("name", name).await;
    b.select_value("f-greet_long", "welcome").await;
    for (row, e) in entries.iter().enumerate() {
        fill_entry(b, row, e).await;
    }
    b.click_nav("btn-save").await;
    b.wait_path(&format!("/voice/ivr/{id}")).await;
    b.wait_text("#flash", "Created.").await;
}

/// The `data-test` values of the elements matching `css`, in page order.
async fn tests_of(b: &Browser, css: &str) -> serde_json::Value {
    b.eval(&format!(
        "return Array.from(document.querySelectorAll('{css}'))\
         .map(function (el) {{ return el.getAttribute('data-test'); }})"
    ))
    .await
}

browser_tests!(a_two_level_ivr_built_in_the_pages_shows_as_a_tree);
async fn a_two_level_ivr_built_in_the_pages_shows_as_a_tree(browser: BrowserKind) {
    // Extensions for the sub-menu's entries to lead to.
    let server = Arc::new(
        Server::builder(&server_name(browser, "ivr_tree"))
            .extensions("101-102", "ivr-ext-pass")
            .start(),
    );
    run_on(
        browser,
        server,
        "ivr_tree",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            b.click_nav("menu-voice-ivr").await;
            b.wait_path("/voice/ivr").await;
            b.wait_text("h1", "IVR menus").await;
            b.wait_visible("#menus-empty").await;

            // Top level first: the main menu, with a hang-up key for now.
            add_menu(
                b,
                "main",
                "Main menu",
                &[Entry {
                    digits: "9",
                    label: "Goodbye",
                    kind: "hangup",
                    value: "",
                }],
            )
            .await;

            // The second level: sales, whose keys ring extensions or go back.
            add_menu(
                b,
                "sales",
                "Sales",
                &[
                    Entry {
                        digits: "1",
                        label: "Alice",
                        kind: "extension",
                        value: "101",
                    },
                    Entry {
                        digits: "2",
                        label: "Bob",
                        kind: "extension",
                        value: "102",
                    },
                    Entry {
                        digits: "0",
                        label: "Back",
                        kind: "back",
                        value: "",
                    },
                ],
            )
            .await;

            // The main menu's key 1 leads to sales: added on the main menu's page
            // (its one entry, then blank rows).
            b.click_nav("menu-voice-ivr").await;
            b.click_nav_test("menu-link-main").await;
            b.wait_path("/voice/ivr/main").await;
            assert_eq!(
                b.eval("return document.getElementById('f-entry-0-digits').value")
                    .await,
                "9"
            );
            fill_entry(
                b,
                1,
                &Entry {
                    digits: "1",
                    label: "Sales",
                    kind: "submenu",
                    value: "sales",
                },
            )
            .await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "Saved and applied: calls from now on use it.")
                .await;

            // The tree: main at the top, sales under main's key 1.
            b.click_nav("menu-voice-ivr").await;
            b.wait_path("/voice/ivr").await;
            let main = by_test("menu-node-main");
            let sales = format!(
                "{main} {} {}",
                by_test("entry-node-main-1"),
                by_test("menu-node-sales")
            );
            b.wait_visible(&sales).await;
            assert_eq!(
                tests_of(b, "#ivr-tree > ul > li").await,
                serde_json::json!(["menu-node-main"]),
                "sales must not be a top-level menu"
            );
            // Each menu with its own entries, in order, with what they do.
            assert_eq!(
                tests_of(b, "#menu-node-main > ul > li").await,
                serde_json::json!(["entry-node-main-9", "entry-node-main-1"])
            );
            assert_eq!(
                tests_of(b, "#menu-node-sales > ul > li").await,
                serde_json::json!([
                    "entry-node-sales-1",
                    "entry-node-sales-2",
                    "entry-node-sales-0"
                ])
            );
            b.wait_text(&format!("{main} > a"), "Main menu").await;
            b.wait_text(&format!("{sales} > a"), "Sales").await;
            b.wait_text(&by_test("entry-node-main-9"), "Goodbye · Hang up")
                .await;
            b.wait_text(&by_test("entry-node-main-1"), "Sales · Submenu: sales")
                .await;
            b.wait_text(&by_test("entry-node-sales-1"), "Alice · To extension: 101")
                .await;
            b.wait_text(&by_test("entry-node-sales-2"), "Bob · To extension: 102")
                .await;
            b.wait_text(&by_test("entry-node-sales-0"), "Back · Back to parent menu")
                .await;

            // The sub-menu's link opens its own page.
            b.click_nav_css(&format!("{sales} > a")).await;
            b.wait_path("/voice/ivr/sales").await;
            b.wait_text("h1", "Edit IVR menu: sales").await;
        },
    )
    .await
}
