//! The CRM pages in a real browser: an admin creates an enterprise
//! customer, adds two contacts from its page (a bad one refused next to its
//! field first), finds the customer under its type and a contact by number.

use crate::driver::{run, BrowserKind, BrowserOptions};
use crate::flows;

/// The names in the customer's contacts table.
const CONTACT_NAMES: &str =
    "return Array.from(document.querySelectorAll('[data-test=customer-contact-link]'))\
     .map(function (a) { return a.textContent; })";

browser_tests!(an_admin_creates_a_customer_with_two_contacts_and_finds_them);
async fn an_admin_creates_a_customer_with_two_contacts_and_finds_them(browser: BrowserKind) {
    run(
        browser,
        "crm_customer",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            b.click_nav("menu-crm-customers").await;
            b.wait_text("h1", "Customers").await;
            b.wait_visible("#customers-empty").await;

            b.click_nav("btn-new-customer").await;
            b.wait_path("/crm/customers/new").await;
            b.fill_field("name", "Acme 上海").await;
            b.select_value("f-kind", "enterprise").await;
            b.select_value("f-customer_type", "vip").await;
            b.fill_field("phone", "021-6262 0668").await;
            b.fill_field("industry", "Manufacturing").await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "The customer was added.").await;
            let customer = b.path().await;
            assert!(customer.starts_with("/crm/customers/"), "{customer}");
            b.wait_visible("#customer-contacts-empty").await;

            // A contact without a name is refused next to the field, then
            // two contacts are added from the customer's page.
            b.click_nav("btn-add-contact").await;
            b.fill_field("mobile", "186 1861 6001").await;
            b.click_nav("btn-save").await;
            b.wait_visible("#f-name-error").await;
            for (name, mobile) in [("张三", "186 1861 6001"), ("李四", "139 0000 0002")] {
                b.goto(&customer).await;
                b.click_nav("btn-add-contact").await;
                b.fill_field("name", name).await;
                b.fill_field("mobile", mobile).await;
                b.click_nav("btn-save").await;
                b.wait_text("#flash", "The contact was added.").await;
            }
            b.goto(&customer).await;
            let mut names: Vec<String> =
                serde_json::from_value(b.eval(CONTACT_NAMES).await).expect("the contacts' names");
            names.sort();
            assert_eq!(names, vec!["张三".to_string(), "李四".to_string()]);

            // The customer is under VIP, not under the old customers.
            b.goto("/crm/customers?type=vip").await;
            b.wait_page_text("Acme 上海").await;
            b.goto("/crm/customers?type=old").await;
            b.wait_visible("#customers-empty").await;
            // A contact is found by its number written another way.
            b.goto("/crm/contacts").await;
            b.fill_field("q", "+86 139-0000-0002").await;
            b.click_nav("btn-search").await;
            b.wait_page_text("李四").await;
            assert!(!b.body_text().await.contains("张三"));
        },
    )
    .await
}

/// The row numbers listed as bad on the import page.
const BAD_ROWS: &str = "return Array.from(document.querySelectorAll('[data-test=bad-row]'))\
     .map(function (r) { return Number(r.getAttribute('data-row')); })";

browser_tests!(an_agent_imports_contacts_works_a_ticket_and_searches_the_knowledge_base);
async fn an_agent_imports_contacts_works_a_ticket_and_searches_the_knowledge_base(
    browser: BrowserKind,
) {
    run(
        browser,
        "crm_tickets_kb",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;

            // A spreadsheet (CSV) with three bad rows: each reported with its
            // row number, then only the good rows imported.
            let dir = crate::harness::artifacts()
                .join("uploads")
                .join(format!("import-{}", browser.name()));
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join("contacts.csv");
            std::fs::write(
                &file,
                "姓名,手机,性别,生日\n张三,186 1861 6001,男,1990-05-04\n,13900000001,,\n\
                 李四,call me,,\n王五,13900000003,,1990-02-30\n赵六,13900000004,,\n",
            )
            .expect("write the spreadsheet");
            b.click_nav("menu-crm-contacts").await;
            b.click_nav("btn-import").await;
            b.wait_path("/crm/contacts/import").await;
            b.choose_file("#f-file", &file).await;
            b.click_nav("btn-preview").await;
            b.wait_visible("#import-bad-rows").await;
            let bad: Vec<i64> =
                serde_json::from_value(b.eval(BAD_ROWS).await).expect("the bad rows");
            assert_eq!(bad, vec![3, 4, 5]);
            b.wait_text(
                "#import-summary",
                "5 rows: 2 can be imported, 3 have problems.",
            )
            .await;
            b.click_nav("btn-import-valid").await;
            b.wait_text("#import-done", "2 contacts were imported.")
                .await;
            b.goto("/crm/contacts").await;
            b.wait_page_text("赵六").await;
            assert!(!b.body_text().await.contains("李四"));

            // A ticket: opened, answered privately, closed and reopened.
            b.click_nav("menu-tickets").await;
            b.wait_visible("#tickets-empty").await;
            b.click_nav("btn-new-ticket").await;
            b.wait_path("/tickets/new").await;
            b.fill_field("title", "发票没有收到").await;
            b.select_value("f-priority", "high").await;
            b.fill("f-body-editor", "客户说发票没有收到 <script>").await;
            b.click_nav("btn-save").await;
            b.wait_text("#flash", "The ticket was created.").await;
            b.wait_text("#ticket-status", "Not accepted").await;
            // Typed markup stays text.
            assert!(b.text("#ticket-body").await.contains("<script>"));
            b.fill("f-reply-editor", "先查物流单号").await;
            b.click_css("#f-private").await;
            b.click_nav("btn-reply").await;
            b.wait_text("#flash", "The reply was added.").await;
            b.wait_visible("[data-test=private-badge]").await;
            b.wait_text("#ticket-status", "Not accepted").await;
            b.click_nav("btn-close").await;
            b.wait_text("#ticket-status", "Closed").await;
            b.click_nav("btn-reopen").await;
            b.wait_text("#ticket-status", "Asked again").await;
            b.wait_page_text("Change history").await;

            // The knowledge base, searched in Chinese.
            b.click_nav("menu-kb").await;
            b.fill("f-category-name", "产品知识").await;
            b.click_nav("btn-add-category").await;
            b.click_nav("btn-new-article").await;
            b.fill_field("title", "如何申请退款").await;
            b.fill_field("questions", "怎么退钱").await;
            b.fill(
                "f-body-editor",
                "在订单页面点击申请退款，三个工作日内到账。",
            )
            .await;
            b.click_nav("btn-save").await;
            b.wait_text("#article-title", "如何申请退款").await;
            for q in ["退款", "退钱"] {
                b.goto("/kb").await;
                b.fill_field("q", q).await;
                b.click_nav("btn-search").await;
                b.wait_text("#kb-count", "1 articles found").await;
                b.wait_page_text("如何申请退款").await;
            }
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await
}
