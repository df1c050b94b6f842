//! Steps many tests share: signing in, the forced password change of a first
//! sign-in, signing out, and a plain HTTP request outside the browser.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::driver::Browser;
use crate::harness::Server;

/// The password tests give the default admin after the forced change.
pub const ADMIN_PASSWORD: &str = "browser-admin-pass";

/// Fills and submits the sign-in form (the browser must be on /login) and
/// waits for the next page.
pub async fn submit_sign_in(b: &Browser, username: &str, password: &str) {
    b.wait_visible("#login-form").await;
    b.fill_field("username", username).await;
    b.fill_field("password", password).await;
    b.click_nav("btn-login").await;
}

/// Opens /login and signs in; waits for the page after sign-in.
pub async fn sign_in(b: &Browser, username: &str, password: &str) {
    b.goto("/login").await;
    submit_sign_in(b, username, password).await;
    assert!(
        !b.exists("#login-error").await,
        "sign-in of {username} refused"
    );
}

/// On the forced password change page (/password with the notice): changes
/// `current` to `new` and waits for the confirmation.
pub async fn pass_forced_change(b: &Browser, current: &str, new: &str) {
    b.wait_path("/password").await;
    b.wait_visible("#must-change-notice").await;
    b.fill_field("current", current).await;
    b.fill_field("new", new).await;
    b.fill_field("confirm", new).await;
    b.click_nav("btn-change-password").await;
    b.wait_visible("#flash").await;
    assert!(
        !b.exists("#must-change-notice").await,
        "still asked to change the password"
    );
}

/// A first sign-in of `username` (created with `initial` as password, which
/// must be changed): signs in, changes it to `new`, ends on the home page.
pub async fn first_sign_in(b: &Browser, username: &str, initial: &str, new: &str) {
    sign_in(b, username, initial).await;
    pass_forced_change(b, initial, new).await;
    b.goto("/").await;
    b.wait_path("/").await;
}

/// The default admin's first sign-in (admin / 123456, then [`ADMIN_PASSWORD`]).
pub async fn admin_first_sign_in(b: &Browser) {
    first_sign_in(b, "admin", "123456", ADMIN_PASSWORD).await;
    b.wait_visible("#menu-users").await;
}

/// Clicks "sign out" and waits for the sign-in page.
pub async fn sign_out(b: &Browser) {
    b.click_nav("btn-logout").await;
    b.wait_path("/login").await;
    b.wait_visible("#login-signed-out").await;
}

/// `GET path` on the server with `Authorization: Bearer token`, outside the
/// browser: (status, body).
pub fn get_with_token(server: &Server, path: &str, token: &str) -> (u16, String) {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.http_port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    crate::harness::split_response(&buf).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Creates extensions `spec` (e.g. "101-110") with `password` through the
/// batch form of the extensions page; waits for the list saying how many
/// were created.
pub async fn create_extensions(b: &Browser, spec: &str, password: &str, created: usize) {
    b.click_nav("menu-voice-extensions").await;
    b.wait_path("/voice/extensions").await;
    b.click_nav("btn-new-extensions").await;
    b.wait_path("/voice/extensions/new").await;
    b.fill_field("numbers", spec).await;
    b.fill_field("password", password).await;
    b.click_nav("btn-save").await;
    b.wait_path("/voice/extensions").await;
    b.wait_text("#flash", &format!("{created} extensions created."))
        .await;
}

/// Changes extension `ext` in the server's store with `edit` (e.g. turns
/// WebRTC on); the registrar reads the change within a second.
pub async fn edit_extension(server: &Server, ext: &str, edit: impl FnOnce(&mut store::Extension)) {
    let store = server.store().await;
    let mut e = store
        .get_extension(ext)
        .await
        .expect("read the extension")
        .expect("provisioned");
    edit(&mut e);
    store
        .update_extension(&e)
        .await
        .expect("update the extension");
}

/// Logs the desk's toolbar in at `ext` with the browser phone and waits for
/// the page's phone to register (after the server has read the extension's
/// WebRTC flag, within a second of the change).
pub async fn desk_login_with_browser_phone(b: &Browser, ext: &str, password: &str) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.goto("/desk").await;
    b.wait_text("#desk-link", "Live").await;
    b.fill("desk-extension", ext).await;
    b.fill("desk-password", password).await;
    b.click("desk-phone-browser").await;
    b.click("desk-login-btn").await;
    b.wait_visible("#desk-toolbar").await;
    b.until("the browser phone registered", async || {
        let v = b
            .eval("return document.getElementById('desk').getAttribute('data-phone');")
            .await;
        (v.as_str() == Some("registered")).then_some(())
    })
    .await;
}
