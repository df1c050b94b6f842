//! Outbound campaigns in a real browser (issue 18, first part): a team
//! lead creates a batch, uploads its template and then its data from the
//! batch page (an invalid number skipped and counted), builds a filter
//! form with two conditions (the manual's 客户意向 模糊搜索 and 号码 大于),
//! queries it and sees the expected count, then saves it and queries again.

use crate::driver::{run, BrowserKind, BrowserOptions};
use crate::flows;

browser_tests!(a_lead_imports_a_batch_and_filters_it);
async fn a_lead_imports_a_batch_and_filters_it(browser: BrowserKind) {
    run(
        browser,
        "campaigns",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            let dir = crate::harness::artifacts()
                .join("uploads")
                .join(format!("campaigns-{}", browser.name()));
            let _ = std::fs::create_dir_all(&dir);
            let cells = |row: &[&str]| row.iter().map(|c| c.to_string()).collect::<Vec<_>>();
            let template = dir.join("template.xlsx");
            let workbook = sheets::write_xlsx(
                "模板",
                &["姓名", "号码", "客户意向"],
                vec![cells(&["1", "18618616001", ""])],
            )
            .expect("write the template");
            std::fs::write(&template, workbook).expect("save the template");
            // Row 5's number is invalid: skipped and counted.
            let data = dir.join("data.xlsx");
            let workbook = sheets::write_xlsx(
                "名单",
                &["姓名", "号码", "客户意向"],
                vec![
                    cells(&["1", "18618616001", "有意向"]),
                    cells(&["2", "18618616002", ""]),
                    cells(&["3", "18618616003", "没兴趣"]),
                    cells(&["4", "12", "有意向"]),
                    cells(&["5", "18618616005", "有意向"]),
                    cells(&["7", "18618616007", "很有意向"]),
                ],
            )
            .expect("write the data");
            std::fs::write(&data, workbook).expect("save the data");

            // The batch.
            b.click_nav("menu-outbound-batches").await;
            b.wait_path("/campaigns/batches").await;
            b.wait_visible("#batches-empty").await;
            b.fill_field("name", "回访批次").await;
            b.click_nav("btn-create-batch").await;
            b.wait_text("#batch-name", "回访批次").await;
            // The template: three fields, 号码 the phone number.
            b.choose_file("#f-template", &template).await;
            b.click_nav("btn-upload-template").await;
            b.wait_visible("[data-test=phone-badge]").await;
            let fields = b
                .eval("return document.querySelectorAll('[data-test=field-row]').length")
                .await;
            assert_eq!(fields, serde_json::json!(3));
            // The data, good rows only: five saved, one invalid number.
            b.click_nav("tab-rows").await;
            b.choose_file("#f-data", &data).await;
            b.click_nav("btn-import-valid").await;
            b.wait_visible("#import-summary").await;
            let counts = b
                .eval(
                    "var s = document.getElementById('import-summary'); \
                     return [s.getAttribute('data-imported'), s.getAttribute('data-invalid')]",
                )
                .await;
            assert_eq!(counts, serde_json::json!(["5", "1"]));
            let rows = b
                .eval("return document.querySelectorAll('[data-test=data-row]').length")
                .await;
            assert_eq!(rows, serde_json::json!(5));

            // The filter form: 客户意向 contains 有 AND 号码 > 18618616001.
            b.click_nav("menu-outbound-filters").await;
            b.wait_path("/campaigns/filters").await;
            b.fill_field("name", "回访批次的筛选").await;
            b.select("f-batch", "回访批次").await;
            b.click_nav("btn-create-filter").await;
            b.wait_visible("#conditions-form").await;
            b.select_value("c-field-0", "f3").await;
            b.select_value("c-op-0", "contains").await;
            b.fill("c-value-0", "有").await;
            b.click_nav("btn-add-condition").await;
            b.wait_visible("#c-field-1").await;
            b.select_value("c-field-1", "phone").await;
            b.select_value("c-op-1", "gt").await;
            b.fill("c-value-1", "18618616001").await;
            b.click_nav("btn-query").await;
            b.wait_visible("#results-count").await;
            let found = b
                .eval(
                    "return [document.getElementById('results-count').getAttribute('data-count'), \
                     Array.from(document.querySelectorAll('[data-test=result-row]'))\
                     .map(function (tr) { return tr.getAttribute('data-phone'); })]",
                )
                .await;
            assert_eq!(
                found,
                serde_json::json!(["2", ["18618616005", "18618616007"]])
            );
            assert!(b.text("#results-count").await.contains("(2)"));
            // Saved, the query shows the same.
            b.click_nav("btn-save-filter").await;
            b.wait_visible("#flash").await;
            b.wait_visible("#results-count").await;
            assert_eq!(
                b.eval(
                    "return document.getElementById('results-count').getAttribute('data-count')"
                )
                .await,
                serde_json::json!("2")
            );
            // The import record.
            b.click_nav("menu-outbound-imports").await;
            b.wait_visible("[data-test=import-row]").await;
            assert_eq!(b.text("[data-test=import-imported]").await, "5");
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await
}
