//! The layout at a laptop width and a narrow one: the side menu is always
//! there on a laptop; on a narrow window it hides behind the menu button.

use crate::driver::{run, Browser, BrowserKind, BrowserOptions};
use crate::flows;

/// Fails if the page scrolls sideways (content wider than the window).
async fn assert_no_sideways_scroll(b: &Browser, what: &str) {
    let widths = b
        .eval(
            "return [document.documentElement.scrollWidth, \
             document.documentElement.clientWidth]",
        )
        .await;
    let (scroll, client) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        scroll <= client,
        "{what}: the page is {scroll} px wide in a {client} px window"
    );
}

browser_tests!(the_menu_works_at_laptop_and_narrow_widths);
async fn the_menu_works_at_laptop_and_narrow_widths(browser: BrowserKind) {
    run(
        browser,
        "layout_widths",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            // Laptop: the menu is shown, the menu button is not.
            b.click_nav("menu-users").await;
            b.wait_visible("#menu").await;
            b.wait_hidden("#menu-toggle").await;
            b.wait_visible("#user-table").await;
            assert_no_sideways_scroll(b, "users at 1280 px").await;
            b.click_nav("btn-new-user").await;
            assert_no_sideways_scroll(b, "new user at 1280 px").await;

            // Narrow: the menu hides behind the button, which shows it.
            b.resize(700, 800).await;
            b.wait_hidden("#menu").await;
            b.wait_visible("#menu-toggle").await;
            assert_no_sideways_scroll(b, "new user at 700 px").await;
            let right = b
                .eval("return document.getElementById('f-username').getBoundingClientRect().right")
                .await;
            assert!(
                right.as_f64().unwrap() <= 700.0,
                "the username field ends at {right} px"
            );
            b.click("menu-toggle").await;
            b.wait_visible("#menu").await;
            b.wait_visible("#menu-departments").await;
            b.click_nav("menu-departments").await;
            b.wait_path("/departments").await;
            // A new page starts with the menu closed; the button opens and closes it.
            b.wait_hidden("#menu").await;
            b.click("menu-toggle").await;
            b.wait_visible("#menu").await;
            b.click("menu-toggle").await;
            b.wait_hidden("#menu").await;
            // A wide table scrolls inside its box, not the page.
            b.goto("/users").await;
            b.wait_visible("#user-table").await;
            assert_no_sideways_scroll(b, "users at 700 px").await;
        },
    )
    .await
}
