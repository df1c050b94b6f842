//! The UI language: a Chinese browser gets Chinese pages; the switch in the
//! header changes to English, and the choice sticks across pages, new
//! navigations and signing out.

use crate::driver::{run, BrowserOptions};
use crate::flows;

#[tokio::test]
async fn a_chinese_browser_gets_chinese_and_the_switch_sticks() {
    let zh = BrowserOptions {
        lang: "zh-CN".into(),
        ..BrowserOptions::default()
    };
    run("language_switch", zh, |t| async move {
        let b = &t.browser;
        // Before signing in: chosen from the browser's Accept-Language.
        b.goto("/login").await;
        b.wait_text("h1", "登录").await;
        assert_eq!(b.text("#btn-login").await, "登录");
        assert_eq!(b.eval("return document.documentElement.lang").await, "zh-CN");

        flows::admin_first_sign_in(b).await;
        b.wait_text("h2", "节点状态").await;
        assert_eq!(b.text("#menu-users").await, "用户账号");
        assert_eq!(b.text("#btn-logout").await, "退出登录");

        // The switch: the same page, now in English.
        b.click_nav("lang-en").await;
        b.wait_path("/").await;
        b.wait_text("h2", "Node status").await;
        assert_eq!(b.eval("return document.documentElement.lang").await, "en");
        assert_eq!(b.text("#menu-users").await, "Users");

        // It sticks on other pages...
        b.click_nav("menu-users").await;
        b.wait_path("/users").await;
        b.wait_text("h1", "Users").await;
        b.click_nav("menu-departments").await;
        b.wait_text("h1", "Departments").await;
        // ...on a new navigation typed in the address bar...
        b.goto("/roles").await;
        b.wait_text("h1", "Roles").await;
        assert!(!b.body_text().await.contains("系统角色"));
        // ...and after signing out, although the browser still asks for Chinese.
        flows::sign_out(b).await;
        b.wait_text("h1", "Sign in").await;
        assert_eq!(b.eval("return document.documentElement.lang").await, "en");

        // Switching back works the same way.
        b.click_nav("lang-zh-CN").await;
        b.wait_path("/login").await;
        b.wait_text("h1", "登录").await;
        flows::submit_sign_in(b, "admin", flows::ADMIN_PASSWORD).await;
        b.wait_text("h2", "节点状态").await;
    })
    .await
}
