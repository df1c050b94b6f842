//! Desk push latency (issue 15): "agent state change to the browser, p99
//! under 50 ms with 500 desks connected". Run by `benches/desk.sh`.
//!
//! ```text
//! cargo bench --bench desk_push -- --http 127.0.0.1:7088 --token TOKEN \
//!     --desks 500 --first-ext 1000 --sip-password bench \
//!     [--changes 5000] [--seconds 50] [--server-pid PID] [--concurrency 4] [--timeout-ms 5000] \
//!     [--floor-changes 20]
//! ```
//!
//! The server must have extensions `first-ext ..` (SIP password
//! `--sip-password`), each a call-center agent of the same id. The run:
//!
//! 1. Creates one web user per desk over the JSON API (`POST /api/users`
//!    with the bearer `--token`): `desk<ext>`, the agent flag, bound to its
//!    extension. An API-made user must change the password at first
//!    sign-in, so each desk then signs in like a browser: `GET /login` (the
//!    form's CSRF cookie and field), `POST /login` (the session cookie),
//!    `GET /password` (the session's CSRF token), `POST /password`, and
//!    logs the voice toolbar in: `POST /desk/login` with the extension and
//!    its SIP password (the agent starts On Break). Argon2 costs ~19 MiB
//!    and tens of ms per hash, so at most `--concurrency` desks sign in at
//!    once.
//! 2. Opens every desk's WebSocket (`GET /desk/ws` with the session cookie
//!    and a same-origin `Origin`) and checks its first message: the
//!    snapshot of that agent, On Break.
//! 3. Drives `--changes` status changes over `--seconds` at an even rate,
//!    round robin over the desks: Ready, then Not ready (reason "rest"),
//!    and so on, each `POST /desk/status` from a new connection with the
//!    desk's cookie and CSRF header, as the page's script sends it. For
//!    each change: the time from writing the request to the `agent`
//!    message with the new status arriving on that agent's socket (the
//!    latency), and to the HTTP response. A desk's next change waits for
//!    its previous one, so the messages cannot be confused. Ready and Not
//!    ready both count as online, so the floor's counters (pushed to every
//!    desk) do not change in this run: only the agent's own desk hears of
//!    it.
//! 4. Then `--floor-changes` changes of the floor's counters, one at a
//!    time: a desk's toolbar logs out (its agent Logged Out: one agent
//!    online fewer), then in again, and so on; each timed from the request
//!    written to the counters with the new count read on every desk (the
//!    hub compares the counters every 250 ms and pushes them to all desks
//!    when they changed, so these take up to 250 ms by design).
//!
//! Every socket is read all along (the server drops a desk that does not
//! read: `switchboard_desk_dropped_slow_total`); each message is stamped
//! the moment it is read, before it is parsed.
//!
//! Prints the latency p50/p90/p99/p99.9/max and mean, the HTTP response
//! time, messages received, the server's `switchboard_desk_*` counters, the
//! server's CPU over the drive and RSS with every desk open (`/proc/PID`,
//! with `--server-pid`), this process's CPU, and a last `key=value` line.
//! Exits 1 when a desk could not sign in or connect, a change got no
//! matching message within `--timeout-ms`, a request failed or a socket
//! closed during the run: figures are never judged here, but a missing
//! message is a failure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "usage: desk_push --http HOST:PORT --token TOKEN --desks N --first-ext EXT \
--sip-password PW [--changes N] [--seconds S] [--server-pid PID] [--concurrency N] [--timeout-ms MS] [--floor-changes N]";

/// The web users' passwords: the one they are made with, the one they
/// change it to at first sign-in (neither common nor like the username).
const FIRST_PW: &str = "Bench-desk-first-41";
const DESK_PW: &str = "Bench-desk-agent-73";

/// Any one HTTP exchange or WebSocket handshake longer than this fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    http: SocketAddr,
    token: String,
    desks: usize,
    first_ext: u64,
    sip_password: String,
    changes: usize,
    seconds: f64,
    server_pid: Option<u32>,
    concurrency: usize,
    timeout: Duration,
    floor_changes: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut http = None;
    let mut token = None;
    let mut desks = None;
    let mut first_ext = None;
    let mut sip_password = None;
    let mut a = Args {
        http: SocketAddr::from(([127, 0, 0, 1], 7088)),
        token: String::new(),
        desks: 0,
        first_ext: 0,
        sip_password: String::new(),
        changes: 5000,
        seconds: 50.0,
        server_pid: None,
        concurrency: 4,
        timeout: Duration::from_millis(5000),
        floor_changes: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // added by `cargo bench` itself
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("bad value for {flag}: {value}: {e}");
        match flag.as_str() {
            "--http" => http = Some(value.parse().map_err(|e| bad(&e))?),
            "--token" => token = Some(value.clone()),
            "--desks" => desks = Some(value.parse().map_err(|e| bad(&e))?),
            "--first-ext" => first_ext = Some(value.parse().map_err(|e| bad(&e))?),
            "--sip-password" => sip_password = Some(value.clone()),
            "--changes" => a.changes = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = value.parse().map_err(|e| bad(&e))?,
            "--server-pid" => a.server_pid = Some(value.parse().map_err(|e| bad(&e))?),
            "--concurrency" => a.concurrency = value.parse().map_err(|e| bad(&e))?,
            "--floor-changes" => a.floor_changes = value.parse().map_err(|e| bad(&e))?,
            "--timeout-ms" => {
                a.timeout = Duration::from_millis(value.parse().map_err(|e| bad(&e))?)
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    a.http = http.ok_or("--http is required")?;
    a.token = token.ok_or("--token is required")?;
    a.desks = desks.ok_or("--desks is required")?;
    a.first_ext = first_ext.ok_or("--first-ext is required")?;
    a.sip_password = sip_password.ok_or("--sip-password is required")?;
    if a.desks == 0
        || a.changes == 0
        || a.concurrency == 0
        || a.seconds.is_nan()
        || a.seconds <= 0.0
    {
        return Err("--desks, --changes, --seconds and --concurrency must be positive".into());
    }
    Ok(a)
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("desk_push: {msg}");
}

// --- HTTP/1.0 on a fresh connection (as benches/common.sh does) ----------

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    /// The value of cookie `name` set by this response.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the hidden `csrf` field of a form in the page.
    fn csrf_field(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\"")?;
        let rest = &self.body[at..];
        let v = &rest[rest.find("value=\"")? + 7..];
        Some(v[..v.find('"')?].to_string())
    }

    fn brief(&self) -> String {
        let b: String = self.body.chars().take(300).collect();
        format!("{} {}", self.status, b.replace('\n', " "))
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Result<Resp, String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let (ctype, text) = body.unwrap_or(("", ""));
        if !ctype.is_empty() {
            req.push_str(&format!("Content-Type: {ctype}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{text}", text.len()));
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad HTTP response: {:.200}", text))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Resp {
            status,
            headers,
            body: body.to_string(),
        })
    };
    tokio::time::timeout(IO_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{method} {path}: no answer in {IO_TIMEOUT:?}"))?
        .map_err(|e: String| format!("{method} {path}: {e}"))
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

const FORM: &str = "application/x-www-form-urlencoded";

// --- provisioning and sign-in ---------------------------------------------

/// A signed-in desk.
struct Session {
    ext: String,
    cookie: String,
    csrf: String,
}

async fn create_user(a: &Args, ext: &str) -> Result<(), String> {
    let body = serde_json::json!({
        "username": format!("desk{ext}"),
        "name": format!("Desk {ext}"),
        "password": FIRST_PW,
        "is_agent": true,
        "extension": ext,
    })
    .to_string();
    let auth = format!("Bearer {}", a.token);
    let r = http(
        a.http,
        "POST",
        "/api/users",
        &[("Authorization", &auth)],
        Some(("application/json", &body)),
    )
    .await?;
    if r.status != 200 {
        return Err(format!("POST /api/users for {ext}: {}", r.brief()));
    }
    Ok(())
}

/// Signs desk `ext` in as a browser would (see the module documentation).
async fn sign_in(a: &Args, ext: &str) -> Result<Session, String> {
    let user = format!("desk{ext}");
    let page = http(a.http, "GET", "/login", &[], None).await?;
    let login_cookie = page
        .set_cookie("sb_login")
        .ok_or_else(|| format!("GET /login: no sb_login cookie: {}", page.brief()))?;
    let csrf = page
        .csrf_field()
        .ok_or("GET /login: no csrf field in the form")?;
    let cookie = format!("sb_login={login_cookie}");
    let r = http(
        a.http,
        "POST",
        "/login",
        &[("Cookie", &cookie)],
        Some((
            FORM,
            &form(&[("csrf", &csrf), ("username", &user), ("password", FIRST_PW)]),
        )),
    )
    .await?;
    let session = r
        .set_cookie("sb_session")
        .ok_or_else(|| format!("POST /login as {user}: {}", r.brief()))?;
    let cookie = format!("sb_session={session}");
    let page = http(a.http, "GET", "/password", &[("Cookie", &cookie)], None).await?;
    let csrf = page
        .csrf_field()
        .ok_or_else(|| format!("GET /password as {user}: no csrf: {}", page.brief()))?;
    let r = http(
        a.http,
        "POST",
        "/password",
        &[("Cookie", &cookie)],
        Some((
            FORM,
            &form(&[
                ("csrf", &csrf),
                ("current", FIRST_PW),
                ("new", DESK_PW),
                ("confirm", DESK_PW),
            ]),
        )),
    )
    .await?;
    if r.status != 303 || !r.header("location").is_some_and(|l| l.contains("saved")) {
        return Err(format!("POST /password as {user}: {}", r.brief()));
    }
    let r = http(
        a.http,
        "POST",
        "/desk/login",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some((
            FORM,
            &form(&[
                ("extension", ext),
                ("password", &a.sip_password),
                ("phone", "desk"),
            ]),
        )),
    )
    .await?;
    if r.status != 200 {
        return Err(format!("POST /desk/login at {ext}: {}", r.brief()));
    }
    Ok(Session {
        ext: ext.to_string(),
        cookie,
        csrf,
    })
}

/// Runs `f` on every item, at most `n` at once; the first error ends it.
async fn bounded<T, R, F, Fut>(items: Vec<T>, n: usize, f: F) -> Result<Vec<R>, String>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, String>> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(n));
    let mut tasks = Vec::with_capacity(items.len());
    for item in items {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let fut = f(item);
        tasks.push(tokio::spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.map_err(|e| format!("task: {e}"))??);
    }
    Ok(out)
}

// --- the desks' sockets -------------------------------------------------------

/// A message as read from a desk's socket.
struct Pushed {
    at: Instant,
    kind: String,
    /// An `agent` message's status.
    status: Option<String>,
    /// A `counters` message's agents online.
    online: Option<u64>,
}

/// One open desk: its session, the messages its reader has stamped, and
/// the status its next change asks for.
struct Desk {
    session: Session,
    inbox: Mutex<DeskInbox>,
    closed: Arc<AtomicBool>,
}

struct DeskInbox {
    rx: mpsc::UnboundedReceiver<Pushed>,
    ready_next: bool,
}

/// Counts over every desk's reader.
#[derive(Default)]
struct Received {
    messages: AtomicU64,
    agent: AtomicU64,
    counters: AtomicU64,
    other: AtomicU64,
}

async fn open_desk(
    addr: SocketAddr,
    session: Session,
    received: Arc<Received>,
) -> Result<Desk, String> {
    let ext = session.ext.clone();
    let mut req = format!("ws://{addr}/desk/ws")
        .into_client_request()
        .map_err(|e| format!("desk {ext}: request: {e}"))?;
    let h = req.headers_mut();
    let value = |s: &str| s.parse().map_err(|e| format!("desk {ext}: header: {e}"));
    h.insert("Cookie", value(&session.cookie)?);
    h.insert("Origin", value(&format!("http://{addr}"))?);
    let handshake = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (mut ws, _) = tokio_tungstenite::client_async(req, stream)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let first = match ws.next().await {
            Some(Ok(Message::Text(t))) => t.to_string(),
            other => return Err(format!("no snapshot: {other:?}")),
        };
        Ok((ws, first))
    };
    let (mut ws, first) = tokio::time::timeout(IO_TIMEOUT, handshake)
        .await
        .map_err(|_| format!("desk {ext}: no snapshot in {IO_TIMEOUT:?}"))?
        .map_err(|e| format!("desk {ext}: {e}"))?;
    let snap: Value =
        serde_json::from_str(&first).map_err(|e| format!("desk {ext}: snapshot: {e}"))?;
    if snap["type"] != "snapshot"
        || snap["login"]["extension"] != ext.as_str()
        || snap["agent"]["id"] != ext.as_str()
        || snap["agent"]["status"] != "On Break"
    {
        return Err(format!(
            "desk {ext}: unexpected snapshot (want agent {ext} On Break): {first:.300}"
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let closed = Arc::new(AtomicBool::new(false));
    let gone = closed.clone();
    tokio::spawn(async move {
        while let Some(msg) = ws.next().await {
            let text = match msg {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            let at = Instant::now();
            received.messages.fetch_add(1, Relaxed);
            let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            let kind = v["type"].as_str().unwrap_or("").to_string();
            match kind.as_str() {
                "agent" => &received.agent,
                "counters" => &received.counters,
                _ => &received.other,
            }
            .fetch_add(1, Relaxed);
            let status = v["agent"]["status"].as_str().map(str::to_string);
            let online = v["counters"]["online"].as_u64();
            let _ = tx.send(Pushed {
                at,
                kind,
                status,
                online,
            });
        }
        gone.store(true, Relaxed);
    });
    Ok(Desk {
        session,
        inbox: Mutex::new(DeskInbox {
            rx,
            ready_next: true,
        }),
        closed,
    })
}

// --- the drive ------------------------------------------------------------

/// What one change measured.
enum Outcome {
    /// Push latency and HTTP response time.
    Pushed(Duration, Duration),
    /// The request failed or was refused.
    HttpFailed(String),
    /// No matching message within the timeout.
    Missing(String),
}

async fn change(addr: SocketAddr, desk: Arc<Desk>, timeout: Duration) -> Outcome {
    let mut inbox = desk.inbox.lock().await;
    // Whatever came before the request cannot be its answer.
    while inbox.rx.try_recv().is_ok() {}
    let (status, want) = if inbox.ready_next {
        ("ready", "Available")
    } else {
        ("not_ready", "On Break")
    };
    let mut fields = vec![("csrf", desk.session.csrf.as_str()), ("status", status)];
    if status == "not_ready" {
        fields.push(("reason", "rest"));
    }
    let body = form(&fields);
    let headers = [("Cookie", desk.session.cookie.as_str())];
    let t0 = Instant::now();
    let r = http(addr, "POST", "/desk/status", &headers, Some((FORM, &body))).await;
    let http_time = t0.elapsed();
    match r {
        Ok(r) if r.status == 200 => {}
        Ok(r) => return Outcome::HttpFailed(format!("desk {}: {}", desk.session.ext, r.brief())),
        Err(e) => return Outcome::HttpFailed(format!("desk {}: {e}", desk.session.ext)),
    }
    inbox.ready_next = !inbox.ready_next;
    let deadline = tokio::time::Instant::from_std(t0 + timeout);
    loop {
        match tokio::time::timeout_at(deadline, inbox.rx.recv()).await {
            Ok(Some(m)) if m.kind == "agent" && m.status.as_deref() == Some(want) => {
                return Outcome::Pushed(m.at.saturating_duration_since(t0), http_time);
            }
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Outcome::Missing(format!(
                    "desk {}: socket closed waiting for {want}",
                    desk.session.ext
                ))
            }
            Err(_) => {
                return Outcome::Missing(format!(
                    "desk {}: no {want} within {timeout:?}",
                    desk.session.ext
                ))
            }
        }
    }
}

/// What the floor's counters phase measured.
#[derive(Default)]
struct Floor {
    /// Request written -> counters read, one per desk per change.
    per_desk: Vec<Duration>,
    /// The same for the last desk to hear of each change.
    last_desk: Vec<Duration>,
    missing: Vec<String>,
    http_failed: Vec<String>,
}

/// `n` changes of the agents online, one at a time: a desk's toolbar logs
/// out (the agent is Logged Out), then in again (On Break), and so on.
/// The hub compares the floor's counters every 250 ms and pushes them to
/// every desk when they changed; each change is timed from the request
/// written to the counters with the new count read on each desk.
async fn floor_changes(a: &Args, desks: &[Arc<Desk>], n: usize) -> Floor {
    let mut f = Floor::default();
    let total = desks.len() as u64;
    for j in 0..n {
        let who = &desks[(j / 2) % desks.len()];
        let logout = j % 2 == 0;
        let want = if logout { total - 1 } else { total };
        // Each change waits for the previous one's counters, which come on
        // the hub's tick: starting at once would always land just after a
        // tick (the worst case, ~250 ms). A random pause spreads the
        // changes over the tick's phase, as the floor's own changes are.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..250))).await;
        let mut inboxes = Vec::with_capacity(desks.len());
        for d in desks {
            let mut inbox = d.inbox.lock().await;
            while inbox.rx.try_recv().is_ok() {}
            inboxes.push(inbox);
        }
        let s = &who.session;
        let cookie = [
            ("Cookie", s.cookie.as_str()),
            ("X-CSRF-Token", s.csrf.as_str()),
        ];
        let t0 = Instant::now();
        let r = if logout {
            http(a.http, "POST", "/desk/logout", &cookie, None).await
        } else {
            let body = form(&[
                ("extension", &s.ext),
                ("password", &a.sip_password),
                ("phone", "desk"),
            ]);
            http(a.http, "POST", "/desk/login", &cookie, Some((FORM, &body))).await
        };
        match r {
            Ok(r) if r.status == 200 => {}
            Ok(r) => {
                f.http_failed
                    .push(format!("floor change {j} by desk {}: {}", s.ext, r.brief()));
                continue;
            }
            Err(e) => {
                f.http_failed
                    .push(format!("floor change {j} by desk {}: {e}", s.ext));
                continue;
            }
        }
        if !logout {
            // Back On Break: its next status change is Ready.
            inboxes[(j / 2) % desks.len()].ready_next = true;
        }
        // The readers stamp each message as it is read, so the desks can be
        // looked at one after the other.
        let deadline = tokio::time::Instant::from_std(t0 + a.timeout);
        let mut last = Duration::ZERO;
        for (i, inbox) in inboxes.iter_mut().enumerate() {
            loop {
                match tokio::time::timeout_at(deadline, inbox.rx.recv()).await {
                    Ok(Some(m)) if m.kind == "counters" && m.online == Some(want) => {
                        let d = m.at.saturating_duration_since(t0);
                        f.per_desk.push(d);
                        last = last.max(d);
                        break;
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => {
                        f.missing.push(format!(
                            "floor change {j}: desk {} got no counters with {want} online within {:?}",
                            desks[i].session.ext, a.timeout
                        ));
                        break;
                    }
                }
            }
        }
        f.last_desk.push(last);
    }
    f
}

// --- figures -------------------------------------------------------------------

/// The q quantile (0..1) of sorted `v`, in ms (nearest rank).
fn quantile_ms(v: &[Duration], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1].as_secs_f64() * 1000.0
}

fn mean_ms(v: &[Duration]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().map(|d| d.as_secs_f64()).sum::<f64>() * 1000.0 / v.len() as f64
}

/// User+system CPU seconds of `pid` ("self" for this process).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field of the line, utime the 14th, stime the 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks / if hz > 0 { hz as f64 } else { 100.0 })
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The `switchboard_desk_*` samples of `/metrics`.
async fn desk_metrics(addr: SocketAddr) -> HashMap<String, f64> {
    let Ok(r) = http(addr, "GET", "/metrics", &[], None).await else {
        return HashMap::new();
    };
    r.body
        .lines()
        .filter(|l| l.starts_with("switchboard_desk_"))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

async fn run(a: Args) -> Result<bool, String> {
    let exts: Vec<String> = (0..a.desks as u64)
        .map(|i| (a.first_ext + i).to_string())
        .collect();
    let a = Arc::new(a);
    let rss_idle = a.server_pid.and_then(rss_kib);

    let t = Instant::now();
    log(format!(
        "creating {} web users (agents, bound to {}..{}), {} at a time",
        a.desks,
        exts[0],
        exts[exts.len() - 1],
        a.concurrency
    ));
    let args = a.clone();
    bounded(exts.clone(), a.concurrency, move |ext| {
        let a = args.clone();
        async move { create_user(&a, &ext).await }
    })
    .await?;
    log(format!("users made in {:.1}s", t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let args = a.clone();
    let sessions = bounded(exts.clone(), a.concurrency, move |ext| {
        let a = args.clone();
        async move { sign_in(&a, &ext).await }
    })
    .await?;
    let sign_in_s = t.elapsed().as_secs_f64();
    log(format!(
        "{} desks signed in (sign-in, password change, toolbar login) in {sign_in_s:.1}s",
        sessions.len()
    ));

    let rss_signed_in = a.server_pid.and_then(rss_kib);
    let t = Instant::now();
    let received = Arc::new(Received::default());
    let addr = a.http;
    let rcv = received.clone();
    let desks: Vec<Arc<Desk>> = bounded(sessions, 32, move |s| {
        let rcv = rcv.clone();
        async move { open_desk(addr, s, rcv).await.map(Arc::new) }
    })
    .await?;
    let connect_s = t.elapsed().as_secs_f64();
    log(format!(
        "{} desk sockets open, each with its snapshot, in {connect_s:.2}s",
        desks.len()
    ));
    // The desk logins changed the floor's counters (agents online): let
    // that push (every 250 ms) pass before measuring.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let server_pid = a.server_pid.map(|p| p.to_string());
    let m0 = desk_metrics(addr).await;
    let rss_connected = a.server_pid.and_then(rss_kib);
    let server_cpu0 = server_pid.as_deref().and_then(cpu_seconds);
    let self_cpu0 = cpu_seconds("self");
    let msgs0 = received.messages.load(Relaxed);

    let period = Duration::from_secs_f64(a.seconds / a.changes as f64);
    log(format!(
        "driving {} status changes over {:.1}s ({:.1}/s) round robin over {} desks",
        a.changes,
        a.seconds,
        a.changes as f64 / a.seconds,
        desks.len()
    ));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(a.changes);
    let mut max_lag = Duration::ZERO;
    for k in 0..a.changes {
        let due = start + period.mul_f64(k as f64);
        tokio::time::sleep_until(due).await;
        max_lag = max_lag.max(tokio::time::Instant::now().saturating_duration_since(due));
        let desk = desks[k % desks.len()].clone();
        let timeout = a.timeout;
        tasks.push(tokio::spawn(change(addr, desk, timeout)));
    }
    let mut pushed = Vec::with_capacity(a.changes);
    let mut http_times = Vec::with_capacity(a.changes);
    let mut http_failed = Vec::new();
    let mut missing = Vec::new();
    for t in tasks {
        match t.await.map_err(|e| format!("change task: {e}"))? {
            Outcome::Pushed(p, h) => {
                pushed.push(p);
                http_times.push(h);
            }
            Outcome::HttpFailed(e) => http_failed.push(e),
            Outcome::Missing(e) => missing.push(e),
        }
    }
    let drive_s = start.elapsed().as_secs_f64();
    let server_cpu = server_pid
        .as_deref()
        .and_then(cpu_seconds)
        .zip(server_cpu0)
        .map(|(b, a)| b - a);
    let self_cpu = cpu_seconds("self").zip(self_cpu0).map(|(b, a)| b - a);
    let rss_end = a.server_pid.and_then(rss_kib);
    // Let a late push show up in the counts before they are read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let msgs = received.messages.load(Relaxed) - msgs0;
    let m1 = desk_metrics(addr).await;

    let floor = if a.floor_changes > 0 {
        log(format!(
            "{} changes of the agents online (a toolbar logs out, then in), each to every desk",
            a.floor_changes
        ));
        floor_changes(&a, &desks, a.floor_changes).await
    } else {
        Floor::default()
    };
    let m2 = desk_metrics(addr).await;
    let closed = desks.iter().filter(|d| d.closed.load(Relaxed)).count();

    pushed.sort();
    http_times.sort();
    let metric = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let dropped_slow = metric(&m2, "switchboard_desk_dropped_slow_total");
    let lagged = metric(&m2, "switchboard_desk_events_lagged_total");
    let server_msgs = metric(&m1, "switchboard_desk_messages_total")
        - metric(&m0, "switchboard_desk_messages_total");
    let connections = metric(&m2, "switchboard_desk_connections");
    let (p50, p90, p99, p999) = (
        quantile_ms(&pushed, 0.50),
        quantile_ms(&pushed, 0.90),
        quantile_ms(&pushed, 0.99),
        quantile_ms(&pushed, 0.999),
    );
    let max = pushed.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    let within_50 = pushed
        .iter()
        .filter(|d| **d <= Duration::from_millis(50))
        .count();

    println!(
        "desk: {} desks, {} status changes over {drive_s:.1}s ({:.1}/s achieved, schedule lag max {:.1} ms); sign-in {sign_in_s:.1}s, sockets {connect_s:.2}s",
        desks.len(),
        a.changes,
        a.changes as f64 / drive_s,
        max_lag.as_secs_f64() * 1000.0
    );
    println!(
        "desk: push latency (POST /desk/status written -> the agent message read on its desk), {} changes: p50_ms={p50:.2} p90_ms={p90:.2} p99_ms={p99:.2} p99.9_ms={p999:.2} max_ms={max:.2} mean_ms={:.2}; {within_50} within 50 ms",
        pushed.len(),
        mean_ms(&pushed)
    );
    println!(
        "desk: HTTP response (request written -> response read, new connection each): p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        quantile_ms(&http_times, 0.50),
        quantile_ms(&http_times, 0.99),
        http_times.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    );
    println!(
        "desk: messages read during the drive {msgs} (server queued {server_msgs:.0}); since connecting: agent {}, counters {}, other {}; missing {}, http failures {}, sockets closed {closed}",
        received.agent.load(Relaxed),
        received.counters.load(Relaxed),
        received.other.load(Relaxed),
        missing.len(),
        http_failed.len()
    );
    println!(
        "desk: server: switchboard_desk_connections={connections:.0} dropped_slow_total={dropped_slow:.0} events_lagged_total={lagged:.0}"
    );
    let cores = server_cpu.map(|c| c / drive_s);
    let per_desk = rss_end
        .zip(rss_idle)
        .map(|(e, i)| (e as f64 - i as f64) / desks.len() as f64);
    let kib = |v: Option<u64>| v.map_or("n/a".into(), |v| v.to_string());
    println!(
        "desk: server CPU {} s over the drive ({} cores, {} ms per change); this process {} CPU-s",
        fmt_opt(server_cpu, 2),
        fmt_opt(cores, 3),
        fmt_opt(server_cpu.map(|c| c * 1000.0 / a.changes as f64), 3),
        fmt_opt(self_cpu, 2)
    );
    println!(
        "desk: server RSS {} KiB idle, {} KiB after the sign-ins (Argon2's buffers), {} KiB with the desks open, {} KiB at the end of the drive: {} KiB per desk over idle (user, session, socket; an upper bound, as heap the Argon2 hashes freed may still be resident)",
        kib(rss_idle),
        kib(rss_signed_in),
        kib(rss_connected),
        kib(rss_end),
        fmt_opt(per_desk, 1)
    );
    let mut floor_desk = floor.per_desk.clone();
    let mut floor_last = floor.last_desk.clone();
    floor_desk.sort();
    floor_last.sort();
    let (f50, f99, fmax, l99) = (
        quantile_ms(&floor_desk, 0.50),
        quantile_ms(&floor_desk, 0.99),
        floor_desk
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        quantile_ms(&floor_last, 0.99),
    );
    if a.floor_changes > 0 {
        println!(
            "desk: floor counters (toolbar logout/login -> the new agents-online count read on every desk; the hub pushes counters on a 250 ms tick), {} changes x {} desks = {} messages: p50_ms={f50:.2} p99_ms={f99:.2} max_ms={fmax:.2}; last desk of each change: p50_ms={:.2} p99_ms={l99:.2}; missing {}, http failures {}",
            floor.last_desk.len(),
            desks.len(),
            floor.per_desk.len(),
            quantile_ms(&floor_last, 0.50),
            floor.missing.len(),
            floor.http_failed.len()
        );
    }
    for e in missing
        .iter()
        .chain(http_failed.iter())
        .chain(floor.missing.iter())
        .chain(floor.http_failed.iter())
        .take(5)
    {
        println!("desk:   {e}");
    }
    let ok = missing.is_empty()
        && http_failed.is_empty()
        && floor.missing.is_empty()
        && floor.http_failed.is_empty()
        && closed == 0
        && dropped_slow == 0.0;
    println!(
        "desks={} changes={} seconds={drive_s:.1} push_p50_ms={p50:.2} push_p90_ms={p90:.2} push_p99_ms={p99:.2} push_max_ms={max:.2} http_p99_ms={:.2} measured={} missing={} http_failed={} floor_changes={} floor_p50_ms={f50:.2} floor_p99_ms={f99:.2} floor_missing={} closed={closed} messages={msgs} dropped_slow={dropped_slow:.0} server_cpu_s={} rss_kib={} rss_per_desk_kib={} ok={}",
        desks.len(),
        a.changes,
        quantile_ms(&http_times, 0.99),
        pushed.len(),
        missing.len(),
        http_failed.len() + floor.http_failed.len(),
        floor.last_desk.len(),
        floor.missing.len(),
        fmt_opt(server_cpu, 2),
        kib(rss_end),
        fmt_opt(per_desk, 1),
        if ok { "yes" } else { "no" }
    );
    Ok(ok)
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(a)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            log(format!("failed: {e}"));
            std::process::exit(1);
        }
    }
}
