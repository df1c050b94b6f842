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
