//! A browser-like HTTP client for the e2e tests of the pages: raw HTTP/1.0
//! over loopback, the session cookie, the CSRF field, form posts, and
//! reading the escaped page text back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::Server;

/// One raw HTTP/1.0 exchange: (status, whole response as text).
pub fn raw(server: &Server, request: &str) -> (u16, String) {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.http_port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
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

/// The value of header `name` in a raw response.
pub fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
}

pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Un-escapes what minijinja escapes, to read page text.
pub fn text(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A signed-in admin browser.
pub struct Browser<'a> {
    server: &'a Server,
    cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    /// Signs in as the default admin and makes the forced password change.
    pub fn admin(server: &'a Server) -> Browser<'a> {
        let (_, form) = raw(server, "GET /login HTTP/1.0\r\nHost: x\r\n\r\n");
        let login_cookie = header(&form, "set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("sign-in CSRF cookie")
            .to_string();
        let body = format!("csrf={}&username=admin&password=123456", csrf_of(&form));
        let (status, resp) = post_raw(server, "/login", &login_cookie, &body);
        assert_eq!(status, 303, "{resp}");
        let cookie = header(&resp, "set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_string();
        let mut b = Browser {
            server,
            cookie,
            csrf: String::new(),
        };
        let (_, page) = b.get("/password");
        b.csrf = csrf_of(&page);
        let (status, resp) = b.post(
            "/password",
            "current=123456&new=e2e-admin-pass&confirm=e2e-admin-pass",
        );
        assert_eq!(status, 303, "{resp}");
        b
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        raw(
            self.server,
            &format!(
                "GET {path} HTTP/1.0\r\nHost: x\r\nCookie: {}\r\n\r\n",
                self.cookie
            ),
        )
    }

    /// Opens the server-sent event stream at `path` (a page's live part).
    pub fn events(&self, path: &str) -> Events {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.server.http_port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.write_all(
            format!(
                "GET {path} HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\nCookie: {}\r\n\r\n",
                self.cookie
            )
            .as_bytes(),
        )
        .expect("send");
        let mut events = Events {
            reader: BufReader::new(s),
            head: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(line) = events.line(deadline) {
            if line.is_empty() {
                break;
            }
            events.head.push_str(&line);
            events.head.push('\n');
        }
        events
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        let body = format!("csrf={}&{body}", self.csrf);
        post_raw(self.server, path, &self.cookie, &body)
    }
}

pub fn post_raw(server: &Server, path: &str, cookie: &str, body: &str) -> (u16, String) {
    raw(
        server,
        &format!(
            "POST {path} HTTP/1.0\r\nHost: x\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// The `data-test="NAME"` element's text up to the next tag.
pub fn element_text(page: &str, data_test: &str) -> Option<String> {
    let marker = format!("data-test=\"{data_test}\"");
    let at = page.find(&marker)?;
    let rest = &page[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(text(&rest[start..end]))
}

/// A stream of server-sent events, read line by line.
pub struct Events {
    reader: BufReader<TcpStream>,
    /// The response's status line and headers.
    pub head: String,
}

impl Events {
    /// The next line (without its end), waiting until `deadline`; `None`
    /// when the stream ended or the deadline passed.
    fn line(&mut self, deadline: Instant) -> Option<String> {
        let mut line = String::new();
        loop {
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) if line.ends_with('\n') => {
                    return Some(line.trim_end_matches(['\r', '\n']).to_string());
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// The data of the next event named `name` (lines joined with `\n`),
    /// or `None` when none came by `deadline`.
    pub fn next(&mut self, name: &str, deadline: Instant) -> Option<String> {
        let (mut event, mut data) = (String::new(), Vec::new());
        loop {
            let line = self.line(deadline)?;
            if line.is_empty() {
                if event == name && !data.is_empty() {
                    return Some(data.join("\n"));
                }
                event.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
            }
        }
    }
}
