//! Departments form a tree: a child is created under its parent, and moving
//! the parent under its own child is refused next to the parent field.

use crate::driver::{by_test, run, BrowserKind, BrowserOptions};
use crate::flows;

browser_tests!(moving_a_department_under_its_child_is_refused);
async fn moving_a_department_under_its_child_is_refused(browser: BrowserKind) {
    run(
        browser,
        "departments_cycle",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            b.click_nav("menu-departments").await;
            b.wait_visible("#departments-empty").await;
            b.click_nav("btn-new-department").await;
            b.fill_field("name", "Sales").await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "Created.").await;

            // The child, from the tree's "add sub-department" link: the parent is
            // chosen already.
            b.click_nav("menu-departments").await;
            b.click_nav_test("dept-add-child-Sales").await;
            let parent = b
                .eval(
                    "var s = document.getElementById('f-parent_id');\
                 return s.options[s.selectedIndex].text",
                )
                .await;
            assert_eq!(parent, "Sales");
            b.fill_field("name", "East").await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "Created.").await;

            b.click_nav("menu-departments").await;
            let tree = "#department-tree";
            b.wait_visible(&format!(
                "{tree} {} {}",
                by_test("dept-Sales"),
                by_test("dept-East")
            ))
            .await;

            // Sales under East (its own child): refused, the message next to the field.
            b.click_nav_test("dept-link-Sales").await;
            b.select("f-parent_id", "Sales / East").await;
            b.click_nav("btn-save").await;
            b.wait_text(
                "#f-parent_id-error",
                "A department cannot be moved under itself or one of its sub-departments.",
            )
            .await;
            let in_field = b
                .eval(
                    "return document.getElementById('field-parent_id')\
                 .contains(document.getElementById('f-parent_id-error'))",
                )
                .await;
            assert_eq!(in_field, serde_json::Value::Bool(true));
            assert!(!b.exists("#flash").await, "the move must not be saved");

            // Nothing changed: East is still under Sales, Sales still at the top.
            b.click_nav("menu-departments").await;
            b.wait_visible(&format!(
                "{tree} {} {}",
                by_test("dept-Sales"),
                by_test("dept-East")
            ))
            .await;
            let top = b
                .eval(
                    "return Array.from(document.querySelectorAll('#department-tree > li'))\
                 .map(function (li) { return li.getAttribute('data-test'); })",
                )
                .await;
            assert_eq!(top, serde_json::json!(["dept-Sales"]));
        },
    )
    .await
}
