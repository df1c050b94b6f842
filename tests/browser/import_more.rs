//! The customers' spreadsheet import in a real browser (issue 16, 5): an
//! admin uploads an Excel workbook with three bad rows, sees each reported
//! by its row number, finds that "all or nothing" imports nothing, imports
//! the good rows only and sees them in the customer list.

use crate::driver::{run, BrowserKind, BrowserOptions};
use crate::flows;

/// The row numbers listed as bad on the import page.
const BAD_ROW_NUMBERS: &str = "return Array.from(document.querySelectorAll('[data-test=bad-row]'))\
     .map(function (tr) { return Number(tr.getAttribute('data-row')); })";

browser_tests!(an_admin_imports_the_good_rows_of_a_customers_workbook);
async fn an_admin_imports_the_good_rows_of_a_customers_workbook(browser: BrowserKind) {
    run(
        browser,
        "import_customers",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            // Rows 3 (no name), 4 (a type there is none of) and 5 (no phone
            // number) are bad; rows 2 and 6 are good.
            let dir = crate::harness::artifacts()
                .join("uploads")
                .join(format!("import-customers-{}", browser.name()));
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join("customers.xlsx");
            let cells = |row: &[&str]| row.iter().map(|c| c.to_string()).collect::<Vec<_>>();
            let workbook = sheets::write_xlsx(
                "客户",
                &["客户姓名", "类型", "客户类型", "联系电话", "城市"],
                vec![
                    cells(&["Acme 上海", "企业客户", "VIP客户", "021-6262 0668", "上海"]),
                    cells(&["", "个人客户", "普通客户", "", ""]),
                    cells(&["Beta", "个人客户", "Gold", "", ""]),
                    cells(&["Gamma", "企业", "Partner", "call me", ""]),
                    cells(&[
                        "Delta 北京",
                        "Personal customer",
                        "Old customer",
                        "",
                        "北京",
                    ]),
                ],
            )
            .expect("write the workbook");
            std::fs::write(&file, workbook).expect("save the workbook");

            b.click_nav("menu-crm-customers").await;
            b.wait_visible("#customers-empty").await;
            b.click_nav("btn-import").await;
            b.wait_path("/crm/customers/import").await;
            b.wait_text("h1", "Import customers").await;
            b.choose_file("#f-file", &file).await;
            b.click_nav("btn-preview").await;
            b.wait_visible("#import-bad-rows").await;
            let bad: Vec<i64> =
                serde_json::from_value(b.eval(BAD_ROW_NUMBERS).await).expect("the bad rows");
            assert_eq!(bad, vec![3, 4, 5]);
            b.wait_text(
                "#import-summary",
                "5 rows: 2 can be imported, 3 have problems.",
            )
            .await;
            let reasons = b.text("#import-bad-rows").await;
            assert!(
                reasons.contains("name: is required")
                    && reasons.contains("'Gold'")
                    && reasons.contains("'call me'"),
                "{reasons}"
            );

            // All or nothing: nothing, and the choice is offered again.
            b.click_nav("btn-import-all").await;
            b.wait_visible("#import-error").await;
            assert!(b
                .text("#import-error")
                .await
                .contains("nothing was imported"));
            // The good rows only.
            b.click_nav("btn-import-valid").await;
            b.wait_text("#import-done", "2 customers were imported.")
                .await;
            b.click_nav("link-back").await;
            b.wait_path("/crm/customers").await;
            b.wait_page_text("Delta 北京").await;
            let list = b.body_text().await;
            assert!(list.contains("Acme 上海"), "{list}");
            assert!(!list.contains("Gamma") && !list.contains("Beta"), "{list}");
            // Under its type, as the form would have filed it.
            b.goto("/crm/customers?type=vip").await;
            b.wait_page_text("Acme 上海").await;
            assert!(!b.body_text().await.contains("Delta 北京"));
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await
}
