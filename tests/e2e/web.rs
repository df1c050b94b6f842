//! The web module on the real binary: the API refuses requests without a
//! token, accepts the one `switchboard token create` printed, and a browser
//! session signs in, is forced to change the default password and sees the
//! node's live status.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::harness::Server;

/// One raw HTTP/1.0 request: (status, headers and body as text).
fn raw(server: &Server, request: &str) -> (u16, String) {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.http_port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
}

/// The value of the page's hidden `csrf` field.
fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn post_form(server: &Server, path: &str, cookie: &str, body: &str) -> (u16, String) {
    raw(
        server,
        &format!(
            "POST {path} HTTP/1.0\r\nHost: x\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn the_api_needs_a_token_and_the_cli_makes_one() {
    let server = Server::start("web_api_token");
    let (status, text) = raw(&server, "GET /api/calls HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("\"error\""));
    let (status, _) = raw(
        &server,
        "GET /api/calls HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer sbt_wrong\r\n\r\n",
    );
    assert_eq!(status, 401);
    // The harness's token was printed by `switchboard token create`.
    assert!(server.api_token.starts_with("sbt_"), "{}", server.api_token);
    let (status, body) = server.http_get("/api/calls").expect("GET /api/calls");
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.http_get("/api/me").expect("GET /api/me");
    assert_eq!(status, 200);
    assert!(body.contains("\"username\":\"admin\""), "{body}");
    // /metrics stays open for scrapers.
    let (status, _) = raw(&server, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
}

#[test]
fn the_default_admin_signs_in_changes_the_password_and_sees_the_node() {
    let server = Server::start("web_sign_in");
    // The sign-in form carries its own CSRF token (cookie + hidden field).
    let (status, form) = raw(&server, "GET /login HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
    let login_cookie = header(&form, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("sign-in CSRF cookie")
        .to_string();
    let (status, text) = post_form(
        &server,
        "/login",
        &login_cookie,
        &format!("csrf={}&username=admin&password=123456", csrf_of(&form)),
    );
    assert_eq!(status, 303, "{text}");
    assert_eq!(header(&text, "location"), Some("/password"));
    let cookie = header(&text, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let (status, text) = raw(
        &server,
        &format!("GET / HTTP/1.0\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert_eq!(
        (status, header(&text, "location")),
        (303, Some("/password"))
    );
    let (_, page) = raw(
        &server,
        &format!("GET /password HTTP/1.0\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"),
    );
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    let csrf = page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string();
    let (status, text) = post_form(
        &server,
        "/password",
        &cookie,
        &format!("csrf={csrf}&current=123456&new=e2e-admin-pass&confirm=e2e-admin-pass"),
    );
    assert_eq!(status, 303, "{text}");
    let (status, home) = raw(
        &server,
        &format!("GET / HTTP/1.0\r\nHost: x\r\nCookie: {cookie}\r\nAccept-Language: zh-CN\r\n\r\n"),
    );
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("id=\"status-uptime\""));
    assert!(home.contains("id=\"status-registrations\""));
    assert!(home.contains("节点状态"));
}
