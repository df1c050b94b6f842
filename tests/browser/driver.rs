//! The browser side of the harness: a WebDriver process on a free loopback
//! port (chromedriver for Chromium, geckodriver for Firefox), a headless
//! browser session through it (fantoccini), and helpers that wait for what the
//! user would see (polling with generous timeouts, never fixed sleeps). [`run`]
//! ties one server and one browser to one test and saves a screenshot and the
//! page HTML when the test fails. `browser_tests!` (main.rs) runs a test in
//! each browser.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::harness::{self, Server};
use crate::netns::Netns;

/// How long a condition may take to become true: a hang guard for slow or busy
/// machines (CI runs many servers and browsers at once), not an expectation.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long the WebDriver and its browser may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How often conditions are checked while waiting.
const POLL: Duration = Duration::from_millis(100);

/// Browser window size of a laptop screen.
pub const LAPTOP: (u32, u32) = (1280, 800);

/// Makes temp profile dirs and artifact names unique within this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Which browser a test runs in. Every test runs in each (`browser_tests!`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserKind {
    /// Headless Chromium through chromedriver (Debian packages `chromium`,
    /// `chromium-driver`).
    Chromium,
    /// Headless Firefox ESR (Debian package `firefox-esr`) through geckodriver
    /// (`cargo install geckodriver`).
    Firefox,
}

impl BrowserKind {
    /// "chromium" or "firefox": in test, server and artifact names.
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
        }
    }

    /// The WebDriver program's name.
    fn driver_name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromedriver",
            BrowserKind::Firefox => "geckodriver",
        }
    }
}

/// The geckodriver program: on PATH, else where `cargo install` puts it
/// ($CARGO_HOME/bin, ~/.cargo/bin), which need not be on PATH.
fn geckodriver_program() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_bins = [
        std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")),
    ];
    on_path
        .into_iter()
        .chain(cargo_bins.into_iter().flatten())
        .map(|dir| dir.join("geckodriver"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "geckodriver not found on PATH, in $CARGO_HOME/bin or ~/.cargo/bin: \
                 `cargo install geckodriver --locked` (tests/run does)"
            )
        })
}

/// The Firefox binary for geckodriver: Debian's firefox-esr if installed,
/// else whatever geckodriver finds (a `firefox` on PATH).
fn firefox_binary() -> Option<&'static str> {
    ["/usr/bin/firefox-esr", "/usr/bin/firefox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
}

/// A WebDriver process (chromedriver or geckodriver) in its own process group;
/// the group (the driver and the browser it started) is killed when this is
/// dropped.
struct WebDriver {
    kind: BrowserKind,
    child: Child,
    /// Where it listens: 127.0.0.1, or its network namespace's address.
    ip: std::net::IpAddr,
    port: u16,
    log_path: PathBuf,
}

impl WebDriver {
    /// Starts the WebDriver of `kind` on a free loopback port and waits until
    /// it is ready; tries other ports if another program took the one probed.
    /// geckodriver keeps Firefox's profile under `profile_root`. With
    /// `netns`, the driver (and so the browser) runs in that namespace and
    /// listens on its address.
    fn start(
        kind: BrowserKind,
        name: &str,
        profile_root: &std::path::Path,
        netns: Option<&Netns>,
    ) -> WebDriver {
        let ip = netns.map_or(std::net::IpAddr::from([127, 0, 0, 1]), |n| n.ns_ip);
        let log_path = harness::artifacts().join(format!("{name}.{}.log", kind.driver_name()));
        let mut last = String::new();
        for _ in 0..3 {
            let port = harness::free_tcp_port();
            let mut command = match kind {
                BrowserKind::Chromium => {
                    let mut c = match netns {
                        Some(n) => n.command("chromedriver"),
                        None => Command::new("chromedriver"),
                    };
                    c.arg(format!("--port={port}"))
                        .arg(format!("--log-path={}", log_path.display()))
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    c
                }
                BrowserKind::Firefox => {
                    // geckodriver logs (and passes Firefox's output) to stderr.
                    let log = std::fs::File::create(&log_path).expect("create the geckodriver log");
                    let mut c = match netns {
                        Some(n) => n.command(&geckodriver_program().to_string_lossy()),
                        None => Command::new(geckodriver_program()),
                    };
                    c.arg("--host")
                        .arg(ip.to_string())
                        .arg("--port")
                        .arg(port.to_string())
                        // Marionette (driver to Firefox) takes a port the
                        // system gives (the default). The WebDriver BiDi port
                        // is used only if a session asks for BiDi, but its
                        // default is 9222 for every geckodriver: give each
                        // its own, so that parallel tests cannot clash.
                        .arg("--websocket-port")
                        .arg(harness::free_tcp_port().to_string())
                        .arg("--profile-root")
                        .arg(profile_root)
                        .stdout(log.try_clone().expect("the geckodriver log"))
                        .stderr(log)
                        // Firefox's own temp files go to the profile dir too.
                        .env("TMPDIR", profile_root)
                        .env("MOZ_HEADLESS", "1");
                    c
                }
            };
            command
                .stdin(Stdio::null())
                // Its own group, so that drop can end the browser with it.
                .process_group(0);
            // SAFETY: prctl is async-signal-safe; it only sets a flag of the
            // child: killed if this test process dies without dropping it.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command.spawn().unwrap_or_else(|e| match kind {
                BrowserKind::Chromium => panic!(
                    "cannot run chromedriver ({e}): install Debian package chromium-driver (tests/run does)"
                ),
                BrowserKind::Firefox => panic!(
                    "cannot run geckodriver ({e}): `cargo install geckodriver --locked` (tests/run does)"
                ),
            });
            let mut driver = WebDriver {
                kind,
                child,
                ip,
                port,
                log_path: log_path.clone(),
            };
            match driver.wait_ready() {
                Ok(()) => return driver,
                Err(why) => last = why,
            }
        }
        panic!("{} did not start: {last}", kind.driver_name());
    }

    /// Polls `GET /status` until the driver says it is ready.
    fn wait_ready(&mut self) -> Result<(), String> {
        let what = self.kind.driver_name();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{what} exited ({status}):\n{}",
                    harness::log_tail(&self.log_path, 20)
                ));
            }
            if let Some(body) = http_get(self.ip, self.port, "/status") {
                if body.contains("\"ready\":true") || body.contains("\"ready\": true") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what} not ready after {START_TIMEOUT:?}:\n{}",
                    harness::log_tail(&self.log_path, 20)
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        // The group id is the driver's pid (process_group(0)); the browser and
        // its helpers are in that group unless they moved themselves out.
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group we created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// `GET path` on a WebDriver's port: the body, or None if nothing answered.
fn http_get(ip: std::net::IpAddr, port: u16, path: &str) -> Option<String> {
    let addr = SocketAddr::new(ip, port);
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // HTTP/1.1: chromedriver refuses HTTP/1.0 requests. The Host names the
    // port: geckodriver refuses requests whose Host is not its address.
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // chromedriver keeps the connection open despite "Connection: close":
    // read up to Content-Length rather than to the end.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// What the browser is like.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// The browser's language (Accept-Language and navigator.language:
    /// Chromium's `--lang`, Firefox's `intl.accept_languages`), e.g. "en-US",
    /// "zh-CN".
    pub lang: String,
    /// Window size (width, height) in CSS pixels.
    pub size: (u32, u32),
    /// A fake microphone (a tone) granted without asking, and WebRTC on
    /// loopback: for the desk's browser phone.
    pub fake_media: bool,
    /// With `fake_media`, Chromium's microphone plays this WAV file (in a
    /// loop) instead of its beeps.
    pub fake_audio: Option<std::path::PathBuf>,
    /// Run the WebDriver and browser in this network namespace; the server
    /// must bind to its `host_ip` (see [`Netns`]).
    pub netns: Option<Arc<Netns>>,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            lang: "en-US".into(),
            size: LAPTOP,
            fake_media: false,
            fake_audio: None,
            netns: None,
        }
    }
}

/// One headless browser, pointed at one server. Cheap to clone (a handle).
#[derive(Clone)]
pub struct Browser {
    client: Client,
    /// `http://127.0.0.1:PORT` of the server under test.
    pub base: String,
}

/// What [`run`] gives a test body.
#[derive(Clone)]
pub struct Ctx {
    /// The server under test (its CLI, HTTP helpers and log).
    pub server: Arc<Server>,
    /// The browser, on the server's sign-in page's origin.
    pub browser: Browser,
}

/// Runs one browser test: starts a server named `name`, the WebDriver of
/// `kind` and a headless browser with `options`, and runs `body`. If the body
/// fails, the page's screenshot and HTML are saved under tests/artifacts/ and
/// the server log tail is printed (by the server harness) before the test
/// fails.
pub async fn run<F, Fut>(kind: BrowserKind, name: &str, options: BrowserOptions, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = Arc::new(Server::builder(&server_name(kind, name)).start());
    run_on(kind, server, name, options, body).await
}

/// The name of the server of test `name` in `kind` ("ivr_tree-firefox"): logs
/// and data dirs say which browser's run they belong to.
pub fn server_name(kind: BrowserKind, name: &str) -> String {
    format!("{name}-{}", kind.name())
}

/// Like [`run`], on a server the test started itself (e.g. with extensions;
/// name it with [`server_name`]).
pub async fn run_on<F, Fut>(
    kind: BrowserKind,
    server: Arc<Server>,
    name: &str,
    options: BrowserOptions,
    body: F,
) where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let id = format!(
        "browser-{name}-{}-{}-{}",
        kind.name(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    // Declared before the driver: removed after the browser has ended, also
    // when the driver or the browser fails to start.
    let profile = ProfileDir::new(&id);
    let driver = WebDriver::start(kind, &id, &profile.0, options.netns.as_deref());
    let client = open_browser(kind, driver.ip, driver.port, &profile.0, &options).await;
    let browser = Browser {
        client: client.clone(),
        base: format!(
            "http://{}",
            std::net::SocketAddr::new(server.ip, server.http_port)
        ),
    };
    let ctx = Ctx {
        server: server.clone(),
        browser: browser.clone(),
    };
    // A failed assertion in the body comes back here as Err while the browser
    // still shows the page it failed on.
    let outcome = CatchUnwind(Box::pin(body(ctx))).await;
    if outcome.is_err() {
        browser.save_artifacts(&id).await;
        eprintln!("{} log: {}", kind.driver_name(), driver.log_path.display());
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
    drop(driver);
    drop(profile);
    if let Err(payload) = outcome {
        // The server (dropped while unwinding) prints its log tail.
        std::panic::resume_unwind(payload);
    }
}

/// The browser's profile dir (Chromium's user data dir, the dir geckodriver
/// makes Firefox profiles in) under tests/artifacts/profiles; removed on drop.
struct ProfileDir(PathBuf);

impl ProfileDir {
    fn new(id: &str) -> ProfileDir {
        let dir = harness::artifacts().join("profiles").join(id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create browser profile dir");
        ProfileDir(dir)
    }
}

impl Drop for ProfileDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A future that turns a panic while polling `0` into `Err(payload)`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Opens a WebDriver session: a headless browser of `kind` with a temporary
/// profile, the given language and window size, allowed to play audio
/// without a click.
async fn open_browser(
    kind: BrowserKind,
    ip: std::net::IpAddr,
    port: u16,
    profile: &std::path::Path,
    options: &BrowserOptions,
) -> Client {
    let (width, height) = options.size;
    let lang = &options.lang;
    // Accept-Language lists the base language too, as browsers send it.
    let base_lang = lang.split('-').next().unwrap_or(lang);
    let accept = if base_lang == lang {
        lang.clone()
    } else {
        format!("{lang},{base_lang}")
    };
    let mut caps = serde_json::Map::new();
    match kind {
        BrowserKind::Chromium => {
            caps.insert("browserName".into(), json!("chrome"));
            caps.insert(
                "goog:chromeOptions".into(),
                json!({
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--no-first-run",
                        "--no-default-browser-check",
                        "--disable-extensions",
                        "--disable-background-networking",
                        "--disable-sync",
                        // Media pages play audio from a script, without a click.
                        "--autoplay-policy=no-user-gesture-required",
                        format!("--user-data-dir={}", profile.display()),
                        format!("--window-size={width},{height}"),
                        format!("--lang={lang}"),
                    ],
                    "prefs": { "intl.accept_languages": accept },
                }),
            );
            if options.fake_media {
                if let Some(args) = caps["goog:chromeOptions"]["args"].as_array_mut() {
                    for a in [
                        "--use-fake-device-for-media-stream",
                        "--use-fake-ui-for-media-stream",
                        "--allow-loopback-in-peer-connection",
                    ] {
                        args.push(json!(a));
                    }
                    if let Some(wav) = &options.fake_audio {
                        args.push(json!(format!(
                            "--use-file-for-fake-audio-capture={}",
                            wav.display()
                        )));
                    }
                }
            }
        }
        BrowserKind::Firefox => {
            // geckodriver makes a fresh profile per session under the
            // profile dir (--profile-root) with these prefs on top of its own
            // (no updates, no first-run pages).
            let mut firefox = json!({
                // The window size is set through WebDriver below.
                "args": ["-headless"],
                "prefs": {
                    // Accept-Language and navigator.language(s).
                    "intl.accept_languages": accept,
                    // Media pages play audio from a script, without a click
                    // (0 = allow audible autoplay).
                    "media.autoplay.default": 0,
                },
            });
            if options.fake_media {
                let prefs = &mut firefox["prefs"];
                prefs["media.navigator.streams.fake"] = json!(true);
                prefs["media.navigator.permission.disabled"] = json!(true);
                prefs["media.peerconnection.ice.loopback"] = json!(true);
                prefs["media.peerconnection.ice.obfuscate_host_addresses"] = json!(false);
                if options.netns.is_some() {
                    // The page is on http://10.x.y.1, not a secure origin:
                    // let it have the microphone all the same.
                    prefs["media.devices.insecure.enabled"] = json!(true);
                    prefs["media.getusermedia.insecure.enabled"] = json!(true);
                }
            }
            if let Some(binary) = firefox_binary() {
                firefox["binary"] = json!(binary);
            }
            caps.insert("browserName".into(), json!("firefox"));
            caps.insert("moz:firefoxOptions".into(), firefox);
        }
    }
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(caps);
    let url = format!("http://{}", SocketAddr::new(ip, port));
    let deadline = Instant::now() + START_TIMEOUT;
    let client = loop {
        match builder.connect(&url).await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => {
                panic!("cannot open {}: {e}", kind.name())
            }
            Err(e) => {
                eprintln!("opening {} failed, retrying: {e}", kind.name());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    // Headless windows may start at another size than asked; make it exact.
    client
        .set_window_size(width, height)
        .await
        .expect("set the window size");
    client
}

/// A CSS selector for an element id.
fn by_id(id: &str) -> String {
    format!("#{id}")
}

/// A CSS selector for a `data-test` value.
pub fn by_test(value: &str) -> String {
    format!("[data-test=\"{value}\"]")
}

impl Browser {
    /// Polls `check` until it returns Some or [`TIMEOUT`] passes; then fails
    /// the test naming `what` and the page it was on.
    pub async fn until<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = self.body_text().await;
                panic!(
                    "timed out after {TIMEOUT:?} waiting for {what}\npage: {url:?}\nvisible text:\n{}",
                    text.chars().take(1500).collect::<String>()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Opens `path` (e.g. "/users") on the server and waits for the page to load.
    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        self.wait_loaded().await;
    }

    /// The path and query of the current page ("/login?next=%2Fusers").
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the current page's path (without the query) is `path`.
    pub async fn wait_path(&self, path: &str) {
        self.until(&format!("the page {path}"), async || {
            let url = self.client.current_url().await.ok()?;
            (url.path() == path && self.ready().await).then_some(())
        })
        .await
    }

    /// Waits until the current page's path and query are exactly `path_and_query`.
    pub async fn wait_url(&self, path_and_query: &str) {
        self.until(&format!("the page {path_and_query}"), async || {
            let url = self.client.current_url().await.ok()?;
            let here = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            (here == path_and_query && self.ready().await).then_some(())
        })
        .await
    }

    async fn ready(&self) -> bool {
        matches!(
            self.client.execute("return document.readyState", vec![]).await,
            Ok(serde_json::Value::String(s)) if s == "complete"
        )
    }

    async fn wait_loaded(&self) {
        self.until("the page to load", async || {
            self.ready().await.then_some(())
        })
        .await
    }

    /// The first element matching `css`, if there is one now (no waiting).
    pub async fn find_now(&self, css: &str) -> Option<Element> {
        self.client.find(Locator::Css(css)).await.ok()
    }

    /// Whether an element matching `css` is in the page now.
    pub async fn exists(&self, css: &str) -> bool {
        self.find_now(css).await.is_some()
    }

    /// Waits for an element matching `css` to be in the page and visible.
    pub async fn wait_visible(&self, css: &str) -> Element {
        self.until(&format!("{css} to be visible"), async || {
            let el = self.find_now(css).await?;
            el.is_displayed().await.ok()?.then_some(el)
        })
        .await
    }

    /// Waits until no visible element matches `css`.
    pub async fn wait_hidden(&self, css: &str) {
        self.until(&format!("{css} to be hidden"), async || {
            match self.find_now(css).await {
                None => Some(()),
                Some(el) => (!el.is_displayed().await.ok()?).then_some(()),
            }
        })
        .await
    }

    /// Waits for `css` and returns its visible text.
    pub async fn text(&self, css: &str) -> String {
        self.until(&format!("the text of {css}"), async || {
            self.find_now(css).await?.text().await.ok()
        })
        .await
    }

    /// Waits until the visible text of `css` contains `wanted`; returns the text.
    pub async fn wait_text(&self, css: &str, wanted: &str) -> String {
        self.until(&format!("{css} to show {wanted:?}"), async || {
            let text = self.find_now(css).await?.text().await.ok()?;
            text.contains(wanted).then_some(text)
        })
        .await
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn body_text(&self) -> String {
        match self
            .client
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
        {
            Ok(serde_json::Value::String(s)) => s,
            _ => String::new(),
        }
    }

    /// Waits until the page's visible text contains `wanted`.
    pub async fn wait_page_text(&self, wanted: &str) {
        self.until(&format!("the page to show {wanted:?}"), async || {
            self.body_text().await.contains(wanted).then_some(())
        })
        .await
    }

    /// Runs `script` in the page and returns its result.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Runs an asynchronous `script` (it calls its last argument with the
    /// result) and returns that result.
    pub async fn eval_async(&self, script: &str) -> serde_json::Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Types `value` into the input with id `id` (cleared first).
    pub async fn fill(&self, id: &str, value: &str) {
        let el = self.wait_visible(&by_id(id)).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear #{id}: {e}"));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into #{id}: {e}"));
    }

    /// Types `value` into the form field `name` (id `f-NAME`).
    pub async fn fill_field(&self, name: &str, value: &str) {
        self.fill(&format!("f-{name}"), value).await
    }

    /// Sets the checkbox matching `css` to `checked`.
    pub async fn set_checked(&self, css: &str, checked: bool) {
        let el = self.wait_visible(css).await;
        if el.is_selected().await.expect("checkbox state") != checked {
            el.click()
                .await
                .unwrap_or_else(|e| panic!("click {css}: {e}"));
        }
    }

    /// Picks the option whose visible label is exactly `label` in the select `id`.
    pub async fn select(&self, id: &str, label: &str) {
        let el = self.wait_visible(&by_id(id)).await;
        el.select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("choose {label:?} in #{id}: {e}"));
    }

    /// Picks the option whose value is `value` in the select `id`.
    pub async fn select_value(&self, id: &str, value: &str) {
        let el = self.wait_visible(&by_id(id)).await;
        el.select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose the value {value:?} in #{id}: {e}"));
    }

    /// Chooses the local file `path` in the file input matching `css`.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let el = self.wait_visible(css).await;
        let path = path.to_str().expect("a UTF-8 file path");
        el.send_keys(path)
            .await
            .unwrap_or_else(|e| panic!("choose the file {path} in {css}: {e}"));
    }

    /// Marks the current document; [`Browser::same_page`] tells whether it is
    /// still the one shown (no navigation or reload since).
    pub async fn mark_same_page(&self) {
        self.eval("window.__sbSamePage = true; return null").await;
    }

    /// Whether the document marked by [`Browser::mark_same_page`] is still shown.
    pub async fn same_page(&self) -> bool {
        self.eval("return window.__sbSamePage === true").await == serde_json::Value::Bool(true)
    }

    /// Clicks the element matching `css` once it is visible (no navigation wait).
    pub async fn click_css(&self, css: &str) {
        let el = self.wait_visible(css).await;
        // To the middle of the viewport first: scrolled to the top edge (the
        // driver's default) it can sit under the page's sticky top bar.
        let _ = self
            .client
            .execute(
                "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});",
                vec![serde_json::to_value(&el).unwrap_or_default()],
            )
            .await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the element with id `id` (no navigation wait: for in-page actions).
    pub async fn click(&self, id: &str) {
        self.click_css(&by_id(id)).await
    }

    /// Clicks the element matching `css`, which loads a new page (a link or a
    /// submit button), and waits until the new page has loaded.
    pub async fn click_nav_css(&self, css: &str) {
        self.mark_page().await;
        self.click_css(css).await;
        self.wait_new_page().await;
    }

    /// Like [`Browser::click_nav_css`] by element id.
    pub async fn click_nav(&self, id: &str) {
        self.click_nav_css(&by_id(id)).await
    }

    /// Like [`Browser::click_nav_css`] by `data-test` value.
    pub async fn click_nav_test(&self, value: &str) {
        self.click_nav_css(&by_test(value)).await
    }

    /// Clicks `css`, whose form asks for confirmation first; accepts the
    /// dialog and waits for the page the form leads to.
    pub async fn click_confirm_nav(&self, css: &str) {
        self.mark_page().await;
        self.click_css(css).await;
        self.until("the confirmation dialog", async || {
            self.client.get_alert_text().await.ok()
        })
        .await;
        self.client.accept_alert().await.expect("accept the dialog");
        self.wait_new_page().await;
    }

    /// Tags the current document so that [`Browser::wait_new_page`] can tell
    /// when another one has replaced it.
    async fn mark_page(&self) {
        self.eval("window.__sbOldPage = true; return null").await;
    }

    async fn wait_new_page(&self) {
        self.until("the next page to load", async || {
            // Errors while the navigation is under way count as "not yet".
            let v = self
                .client
                .execute(
                    "return window.__sbOldPage === undefined && document.readyState === 'complete'",
                    vec![],
                )
                .await
                .ok()?;
            (v == serde_json::Value::Bool(true)).then_some(())
        })
        .await
    }

    /// Opens a new tab and makes it current; its window handle.
    pub async fn new_tab(&self) -> fantoccini::wd::WindowHandle {
        let w = self.client.new_window(true).await.expect("open a new tab");
        self.client
            .switch_to_window(w.handle.clone())
            .await
            .expect("switch to the new tab");
        w.handle
    }

    /// The current tab's window handle.
    pub async fn tab(&self) -> fantoccini::wd::WindowHandle {
        self.client.window().await.expect("the current tab")
    }

    /// Makes tab `handle` current.
    pub async fn switch_tab(&self, handle: &fantoccini::wd::WindowHandle) {
        self.client
            .switch_to_window(handle.clone())
            .await
            .expect("switch tab");
    }

    /// Resizes the window (CSS pixels).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        self.until(&format!("a viewport {width} px wide"), async || {
            let w = self.eval("return window.innerWidth").await.as_u64()?;
            (w <= u64::from(width) && w + 40 > u64::from(width)).then_some(())
        })
        .await;
    }

    /// Saves a screenshot and the page HTML of the current page as
    /// tests/artifacts/ID.png and ID.html, and prints where they are.
    pub async fn save_artifacts(&self, id: &str) {
        let dir = harness::artifacts();
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        eprintln!("---- browser was on {url} ----");
        // An open dialog blocks the other commands.
        if self.client.get_alert_text().await.is_ok() {
            let _ = self.client.dismiss_alert().await;
        }
        match tokio::time::timeout(Duration::from_secs(20), self.client.screenshot()).await {
            Ok(Ok(png)) => {
                let path = dir.join(format!("{id}.png"));
                match std::fs::write(&path, png) {
                    Ok(()) => eprintln!("screenshot: {}", path.display()),
                    Err(e) => eprintln!("cannot save the screenshot: {e}"),
                }
            }
            Ok(Err(e)) => eprintln!("no screenshot: {e}"),
            Err(_) => eprintln!("no screenshot: the browser did not answer"),
        }
        match tokio::time::timeout(Duration::from_secs(20), self.client.source()).await {
            Ok(Ok(html)) => {
                let path = dir.join(format!("{id}.html"));
                match std::fs::write(&path, html) {
                    Ok(()) => eprintln!("page HTML: {}", path.display()),
                    Err(e) => eprintln!("cannot save the page HTML: {e}"),
                }
            }
            Ok(Err(e)) => eprintln!("no page HTML: {e}"),
            Err(_) => eprintln!("no page HTML: the browser did not answer"),
        }
    }
}
