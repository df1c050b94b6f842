//! The UI language: a browser asking for Chinese (Accept-Language) gets
//! Chinese pages by default; the switch in the header changes between
//! English and Chinese, and the choice sticks across pages, new navigations
//! and signing out.

use crate::driver::{run, Browser, BrowserKind, BrowserOptions};
use crate::flows;

fn chinese_browser() -> BrowserOptions {
    BrowserOptions {
        lang: "zh-CN".into(),
        ..BrowserOptions::default()
    }
}

/// The `lang` attribute of the page.
async fn page_lang(b: &Browser) -> serde_json::Value {
    b.eval("return document.documentElement.lang").await
}

browser_tests!(a_browser_asking_for_chinese_gets_chinese_pages_by_default);
async fn a_browser_asking_for_chinese_gets_chinese_pages_by_default(browser: BrowserKind) {
    run(
        browser,
        "language_accept",
        chinese_browser(),
        |t| async move {
            let b = &t.browser;
            // Before signing in: chosen from the browser's Accept-Language.
            b.goto("/login").await;
            b.wait_text("h1", "登录").await;
            assert_eq!(b.text("#btn-login").await, "登录");
            assert_eq!(page_lang(b).await, "zh-CN");
            let current = b
                .eval("return document.getElementById('lang-zh-CN').getAttribute('aria-current')")
                .await;
            assert_eq!(current, "true", "the switch should show Chinese as current");

            // After signing in, every page: home, system and voice pages.
            flows::admin_first_sign_in(b).await;
            b.wait_text("h2", "节点状态").await;
            assert_eq!(b.text("#menu-users").await, "用户账号");
            assert_eq!(b.text("#btn-logout").await, "退出登录");
            b.click_nav("menu-voice-extensions").await;
            b.wait_text("h1", "分机配置").await;
            b.click_nav("menu-voice-ivr").await;
            b.wait_text("h1", "IVR 配置").await;
            assert_eq!(page_lang(b).await, "zh-CN");
        },
    )
    .await
}

browser_tests!(the_language_switch_changes_english_and_chinese_and_sticks_across_pages);
async fn the_language_switch_changes_english_and_chinese_and_sticks_across_pages(
    browser: BrowserKind,
) {
    // The browser asks for Chinese: English pages prove the switch wins.
    run(
        browser,
        "language_switch",
        chinese_browser(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            b.wait_text("h2", "节点状态").await;

            // To English: the same page, now in English.
            b.click_nav("lang-en").await;
            b.wait_path("/").await;
            b.wait_text("h2", "Node status").await;
            assert_eq!(page_lang(b).await, "en");
            assert_eq!(b.text("#menu-users").await, "Users");

            // It sticks on other pages, reached by the menu...
            b.click_nav("menu-users").await;
            b.wait_text("h1", "Users").await;
            b.click_nav("menu-voice-extensions").await;
            b.wait_text("h1", "Extensions").await;
            b.click_nav("menu-voice-media").await;
            b.wait_text("h1", "Media resources").await;
            // ...or typed in the address bar...
            b.goto("/roles").await;
            b.wait_text("h1", "Roles").await;
            assert!(!b.body_text().await.contains("系统角色"));
            b.goto("/voice/ivr").await;
            b.wait_text("h1", "IVR menus").await;
            // ...and after signing out.
            flows::sign_out(b).await;
            b.wait_text("h1", "Sign in").await;
            assert_eq!(page_lang(b).await, "en");

            // Back to Chinese, on the sign-in page: it sticks the same way.
            b.click_nav("lang-zh-CN").await;
            b.wait_path("/login").await;
            b.wait_text("h1", "登录").await;
            flows::submit_sign_in(b, "admin", flows::ADMIN_PASSWORD).await;
            b.wait_text("h2", "节点状态").await;
            b.click_nav("menu-voice-registrations").await;
            b.wait_text("h1", "已注册分机").await;
            b.goto("/voice/media").await;
            b.wait_text("h1", "媒体资源").await;
            assert_eq!(page_lang(b).await, "zh-CN");
        },
    )
    .await
}
